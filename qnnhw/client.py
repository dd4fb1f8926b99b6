"""Host driver for a board running a qnnhw bitstream (the frame format is
:mod:`qnnhw.protocol`, version 2).

:class:`BoardClient` first asks the board to describe itself (HELLO): a board that does not
answer runs an older protocol, another design or nothing, and one that answers is checked
against the design the host expects. Inference keeps a window of request frames in flight
(:class:`qnnhw.protocol.Pipeline`): every answer carries its request's sequence number, and
a lost or refused frame is sent again under a new one, so an answer can never be paired
with the wrong request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from . import protocol
from .errors import QnnhwError

__all__ = ["BoardClient", "Transport"]


class Transport(Protocol):
    """What the client needs of a serial port (pyserial's ``Serial`` has it)."""

    @property
    def in_waiting(self) -> int: ...
    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...


class BoardClient:
    """Queries the board over ``transport``.

    Parameters
    ----------
    transport : Transport
        An open serial port with a short read timeout.
    name : str
        What to call the port in messages.
    timeout : float
        Seconds to wait for an answer before sending a request again.
    retries : int
        Attempts per request before giving up.
    """

    def __init__(self, transport: Transport, name: str = "the board", *,
                 timeout: float = 0.5, retries: int = 5):
        self.transport = transport
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.resent = 0

    @classmethod
    def open(cls, port: str, baud: int) -> BoardClient:
        import serial

        try:
            transport = serial.serial_for_url(port, baudrate=baud, timeout=0.01)
        except (serial.SerialException, ValueError) as error:
            raise QnnhwError(f"cannot open serial port {port!r} ({error}); check the cable "
                             f"and the port name (Linux: /dev/ttyUSB1 for the iCEBreaker)"
                             ) from None
        return cls(transport, f"{port} at {baud} baud")

    def _read(self) -> bytes:
        return self.transport.read(max(1, self.transport.in_waiting))

    def _command(self, command: protocol.Command, payload: bytes, status: protocol.Status,
                 wait: float) -> protocol.Reply | None:
        """Send a command until its answer comes (each attempt waits ``wait`` seconds)."""
        decoder = protocol.ReplyDecoder()
        for attempt in range(self.retries):
            self.transport.reset_input_buffer()
            self.transport.write(protocol.request(command, attempt, payload))
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                for reply in decoder.feed(self._read()):
                    if reply.status is None or reply.status is protocol.Status.VERSION:
                        raise QnnhwError(
                            f"{self.name} speaks serial protocol version {reply.version}, this "
                            f"qnnhw {protocol.PROTOCOL_VERSION}; rebuild the bitstream with "
                            f"this qnnhw ('python -m qnnhw build') and load it")
                    if reply.status is status and reply.seq == attempt:
                        return reply
        return None

    def hello(self) -> protocol.Hello:
        """The board's description of itself."""
        reply = self._command(protocol.Command.HELLO, b"", protocol.Status.HELLO, self.timeout)
        if reply is None or reply.hello is None:
            raise QnnhwError(f"no answer from {self.name} to the protocol-"
                             f"{protocol.PROTOCOL_VERSION} HELLO: the board runs an older "
                             f"qnnhw bitstream, another design or none, or the baud rate "
                             f"differs; rebuild with 'python -m qnnhw build' and load the "
                             f"bitstream")
        return reply.hello

    def infer(self, vectors: Sequence[Sequence[int]], hello: protocol.Hello, baud: int, *,
              window: int = protocol.DEFAULT_WINDOW,
              progress: Callable[[int], None] = lambda done: None
              ) -> list[protocol.Response]:
        """Send every integer input vector, ``window`` frames in flight, paced for the
        board's datapath at ``baud``; return the board's answers in order (its integer
        output y, or its class and scores)."""
        per_frame, pace = hello.pacing(baud)
        pipeline = protocol.Pipeline(
            vectors, hello.input_bits, hello.response_format, per_frame=per_frame,
            window=window, capacity=hello.buffered, pace=pace, timeout=self.timeout,
            retries=self.retries)
        self.transport.reset_input_buffer()
        try:
            while not pipeline.done:
                now = time.monotonic()
                outgoing = b"".join(pipeline.to_send(now))
                if outgoing:
                    self.transport.write(outgoing)
                pipeline.feed(self._read(), time.monotonic())
                progress(pipeline.answered)
        except protocol.LinkFailure as error:
            raise QnnhwError(f"{self.name}: {error}; check the cable, the port and the baud "
                             f"rate") from None
        finally:
            self.resent += pipeline.resent
        return [answer for answer in pipeline.answers if answer is not None]

    def selftest(self, count: int, hello: protocol.Hello, cycles_per_vector: float
                 ) -> protocol.SelfTestResult:
        """Run the on-chip self-test of ``count`` vectors; ``cycles_per_vector`` bounds how
        long it may take."""
        wait = self.timeout + 2 * count * cycles_per_vector / max(hello.clock_hz, 1)
        reply = self._command(protocol.Command.SELFTEST,
                              count.to_bytes(protocol.COUNT_BYTES, "little"),
                              protocol.Status.SELFTEST, wait)
        if reply is None or reply.selftest is None:
            raise QnnhwError(f"{self.name} did not answer the self-test of {count} vectors; "
                             f"check the cable, the port and the baud rate")
        return reply.selftest
