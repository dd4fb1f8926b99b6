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
