"""Helpers shared by the tests: running the CLI as a user does."""

import subprocess
import sys
from pathlib import Path

from sim.networks import random_model, random_threshold_model

__all__ = ["EmulatedBoard", "assert_one_line_error", "random_model", "random_threshold_model",
           "run_cli"]


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


class EmulatedBoard:
    """A board stand-in on a pseudo-terminal that speaks qnnhw.protocol (version 2): answers
    HELLO with the design's description, INFER frames with the reference model's outputs,
    SELFTEST with the reference's signature. ``faults`` lists what to do with the first INFER
    frames: "nak" answers with a NAK, "drop" does not answer. ``scores``: as built with (or
    without) --no-scores. ``silent``: a board of protocol version 1, which answers nothing
    a version-2 host sends; ``design_id``: the design it claims (default: the spec's)."""

    def __init__(self, model, spec, faults=(), scores=True, silent=False, design_id=None):
        import os
        import pty
        import threading

        from qnnhw import flow, protocol

        self.reference = flow.reference(model, spec)
        self.model, self.spec = model, spec
        self.scores = scores
        self.silent = silent
        self.faults = list(faults)
        self.format = protocol.ResponseFormat.for_spec(spec, scores)
        self.hello = protocol.Hello(
            protocol.PROTOCOL_VERSION, spec.features, spec.input_bits, spec.outputs,
            spec.output_width, scores, protocol.MAX_VECTORS, 12_000_000,
            protocol.design_id(spec.to_json()) if design_id is None else design_id, 2, 10)
        self.master, slave = pty.openpty()
        self.port = os.ttyname(slave)
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, frame):
        from qnnhw import flow, protocol

        if frame.code == protocol.Command.HELLO:
            return protocol.response(protocol.Status.HELLO, frame.seq, self.hello.encode())
        if frame.code == protocol.Command.SELFTEST:
            count = int.from_bytes(frame.payload, "little")
            result = protocol.SelfTestResult(
                flow.selftest_signature(self.model, self.spec, self.scores, count),
                2 * count + 10)
            return protocol.response(protocol.Status.SELFTEST, frame.seq, result.encode())
        self.requests += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":
            return b""
        if fault == "nak":
            return protocol.response(protocol.Status.NAK, frame.seq)
        vectors = protocol.unpack_vectors(frame.payload, self.spec.features,
                                          self.spec.input_bits)
        answers = b""
        for y in self.reference.outputs(vectors):
            if self.spec.outputs == 1:
                answers += self.format.encode(int(y))
            else:
                answers += self.format.encode(int(y.argmax()), y.tolist() if self.scores else ())
        return protocol.response(protocol.Status.OK, frame.seq, answers)

    def _serve(self):
        import os
        import select
        import tty

        from qnnhw import protocol

        tty.setraw(self.master)
        size = protocol.vector_bytes(self.spec.features, self.spec.input_bits)
        decoder = protocol.FrameDecoder(protocol.REQUEST_SYNC, {
            protocol.Command.INFER: frozenset(k * size
                                              for k in range(1, protocol.MAX_VECTORS + 1)),
            protocol.Command.HELLO: frozenset({0}),
            protocol.Command.SELFTEST: frozenset({protocol.COUNT_BYTES})})
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            data = os.read(self.master, 4096)
            if self.silent:
                continue
            for frame in decoder.feed(data):
                answer = self._answer(frame)
                if answer:
                    os.write(self.master, answer)

    def close(self):
        self._stop.set()
        self._thread.join()
