"""Host driver for a board running a qnnhw bitstream (the frame format is
:mod:`qnnhw.protocol`).

:class:`BoardClient` sends one request at a time and waits for its response. A NAK or a
silent board (a frame lost on the line) makes it flush the input and send the request again,
so a response can never be paired with the wrong request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from . import protocol
from .errors import QnnhwError

__all__ = ["BoardClient", "Transport"]


class Transport(Protocol):
    """What the client needs of a serial port (pyserial's ``Serial`` has it)."""

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...


class BoardClient:
    """Queries the board over ``transport``.

    Parameters
    ----------
    transport : Transport
        An open serial port with a read timeout.
    input_bits : int
        The design's input width (from its fixed-point spec).
    response : protocol.ResponseFormat
        What the design's responses carry.
    timeout : float
        Seconds to wait for a response before sending the request again.
    retries : int
        Attempts per request before giving up.
    """

    def __init__(self, transport: Transport, input_bits: int,
                 response: protocol.ResponseFormat, *, timeout: float = 0.5, retries: int = 5):
        self.transport = transport
        self.input_bits = input_bits
        self.decoder = protocol.ResponseDecoder(response)
        self.timeout = timeout
        self.retries = retries
        self.resent = 0

    @classmethod
    def open(cls, port: str, baud: int, input_bits: int, response: protocol.ResponseFormat
             ) -> BoardClient:
        import serial

        try:
            transport = serial.serial_for_url(port, baudrate=baud, timeout=0.05)
        except (serial.SerialException, ValueError) as error:
            raise QnnhwError(f"cannot open serial port {port!r} ({error}); check the cable "
                             f"and the port name (Linux: /dev/ttyUSB1 for the iCEBreaker)"
                             ) from None
        return cls(transport, input_bits, response)

    def infer(self, vector: Sequence[int]) -> protocol.Response:
        """Send one integer input vector; return the board's answer: its integer output y,
        or its class and scores."""
        frame = protocol.encode_request(vector, self.input_bits)
        for attempt in range(self.retries):
            if attempt:
                self.resent += 1
                self.transport.reset_input_buffer()
                self.decoder.buffer.clear()
            self.transport.write(frame)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                responses = self.decoder.feed(self.transport.read(64))
                if responses:
                    if responses[0].value is not None:
                        return responses[0]
                    break   # NAK: send again
        raise QnnhwError(f"the board did not answer after {self.retries} attempts; check "
                         f"the port, the baud rate and that the bitstream is loaded")
