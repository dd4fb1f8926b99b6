"""Helpers shared by the tests: running the CLI as a user does."""

import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m qnnhw ARGS`` the way a user does, capturing its output."""
    return subprocess.run([sys.executable, "-m", "qnnhw", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)

def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A user error: non-zero exit, one ``error:`` line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def _labels(task: str, classes: int):
    if task != "classification":
        return None
    return ("neg", "pos") if classes <= 2 else tuple(f"c{k}" for k in range(classes))


def random_model(features: int, m: int, *, bias: bool = True, replicas: int = 1,
                 alpha: float = 0.01, seed: int = 0, task: str = "classification",
                 classes: int = 2):
    """A model with random ±1 weights (no training): for hardware tests of any shape; with
    ``classes`` ≥ 3, its m neurons split at random between the outputs."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.families.bilinear.model import BilinearModel
    from qnnhw.model import Lifting, Standardizer

    rng = np.random.default_rng(seed)
    lifting = Lifting(bias, replicas)
    d = lifting.lifted_dimension(features)
    U = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    V = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    counts = ()
    if classes > 2:
        cuts = np.sort(rng.choice(np.arange(1, m), classes - 1, replace=False))
        counts = tuple(int(c) for c in np.diff(np.concatenate([[0], cuts, [m]])))
    return BilinearModel(U=U, V=V, alpha=alpha, class_neurons=counts, encoder=encoder,
                         standardizer=standardizer, label_names=_labels(task, classes),
                         lifting=lifting, task=task, target="y",
                         training={"method": "random", "loss": "hinge",
                                   "feature_max_abs": 3.0})


def random_threshold_model(features: int, neurons: int, *, bias: bool = True,
                           hidden_bits: int = 1, seed: int = 0,
                           task: str = "classification", layer_widths: tuple = (),
                           classes: int = 2):
    """A threshold network with random hidden and output weights (no training); with
    ``layer_widths``, a deep one with earlier ±1 layers of those widths; with ``classes``
    ≥ 3, C outputs."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.families.threshold.model import ThresholdModel
    from qnnhw.model import Lifting, Standardizer

    rng = np.random.default_rng(seed)
    d = features + int(bias)
    layers = []
    for width in layer_widths:
        layers.append(rng.choice(np.array([-1, 1], dtype=np.int8), (width, d)))
        d = width + 1
    if hidden_bits == 1:
        H = rng.choice(np.array([-1, 1], dtype=np.int32), (neurons, d))
    else:
        top = (1 << (hidden_bits - 1)) - 1
        H = rng.integers(-top, top + 1, (neurons, d)).astype(np.int32)
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    labels = _labels(task, classes)
    outputs = (classes,) if classes > 2 else ()
    w = rng.normal(size=(neurons, *outputs))
    output_bias = rng.normal(size=outputs) if outputs else float(rng.normal())
    return ThresholdModel(H=H, w=w, bias=output_bias,
                          hidden_bits=hidden_bits, layers=tuple(layers), encoder=encoder,
                          standardizer=standardizer, lifting=Lifting(bias, 1), task=task,
                          target="y", label_names=labels,
                          training={"method": "random", "loss": "squared",
                                    "feature_max_abs": 3.0})


class EmulatedBoard:
    """A board stand-in on a pseudo-terminal: answers request frames with the reference
    model's outputs, through qnnhw.protocol. ``faults`` lists what to do with the first
    requests: "nak" answers with a NAK, "drop" does not answer. ``scores``: as built with
    (or without) --no-scores."""

    def __init__(self, model, spec, faults=(), scores=True):
        import os
        import pty
        import threading

        from qnnhw import flow

        self.reference = flow.reference(model, spec)
        self.spec = spec
        self.scores = scores
        self.faults = list(faults)
        self.master, slave = pty.openpty()
        self.port = os.ttyname(slave)
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        import os
        import select
        import tty

        from qnnhw import protocol

        tty.setraw(self.master)
        size = protocol.request_frame_bytes(self.spec.features, self.spec.input_bits)
        response = protocol.ResponseFormat.for_spec(self.spec, self.scores)
        buffer = bytearray()
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            buffer += os.read(self.master, 4096)
            while True:
                start = buffer.find(protocol.REQUEST_SYNC)
                if start < 0 or len(buffer) - start < size:
                    break
                frame, buffer = bytes(buffer[start:start + size]), buffer[start + size:]
                vector = protocol.decode_request(frame, self.spec.features,
                                                 self.spec.input_bits)
                self.requests += 1
                fault = self.faults.pop(0) if self.faults else None
                if fault == "drop":
                    continue
                if vector is None or fault == "nak":
                    os.write(self.master, protocol.encode_response(None, response))
                    continue
                y = self.reference.outputs([vector])[0]
                if self.spec.outputs == 1:
                    frame = protocol.encode_response(int(y), response)
                else:
                    frame = protocol.encode_response(int(y.argmax()), response,
                                                     y.tolist() if self.scores else ())
                os.write(self.master, frame)

    def close(self):
        self._stop.set()
        self._thread.join()
