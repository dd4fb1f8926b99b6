"""The serial frame format between host and board (sans-IO: bytes in, bytes out).

Both directions use the same frame::

    sync | n | payload (n bytes) | crc

* request sync ``0xA5``, response sync ``0x5A``;
* ``n`` is the payload length in bytes;
* ``crc`` is CRC-8/SMBUS (polynomial x⁸ + x² + x + 1, i.e. 0x07, initial value 0, no
  reflection, no final XOR) over ``n`` and the payload: Amaranth's catalogue entry, which
  the gateware uses too.

A request carries one input vector: every feature as a ceil(B/8)-byte little-endian two's
complement integer, features in model order. A response carries the output y as a
ceil(W/8)-byte little-endian two's complement integer. A response with n = 0 is a NAK: the
board received a request it could not use (bad CRC, wrong length, framing error); the host
sends it again. One request is in flight at a time: the host waits for the response.

The board drops a partial frame when no byte arrives for the time of ``FRAME_TIMEOUT_BYTES``
bytes, and it re-synchronises on the next sync byte, so a lost or corrupted byte costs at most
one frame. The same code serves :mod:`qnnhw.client` (pyserial) and the cocotb bench of the
UART top level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from amaranth.lib.crc.catalog import CRC8_SMBUS

__all__ = ["CRC", "DEFAULT_BAUD", "FRAME_TIMEOUT_BYTES", "REQUEST_SYNC", "RESPONSE_SYNC",
           "Response", "ResponseDecoder", "crc8", "decode_request", "encode_request",
           "encode_response", "value_bytes"]

#: The baud rate every board design is built for.
DEFAULT_BAUD = 115200
REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A
#: The frame check, for host and gateware alike.
CRC = CRC8_SMBUS(data_width=8)
#: Silence, in byte times, after which a partial frame is dropped.
FRAME_TIMEOUT_BYTES = 4


def crc8(data: Iterable[int]) -> int:
    """CRC-8/SMBUS of ``data`` (bytes)."""
    crc: int = CRC.compute(data)
    return crc


def value_bytes(bits: int) -> int:
    """Bytes that carry one ``bits``-bit integer."""
    return (bits + 7) // 8


def _frame(sync: int, payload: bytes) -> bytes:
    body = bytes([len(payload)]) + payload
    return bytes([sync]) + body + bytes([crc8(body)])


def encode_request(vector: Sequence[int], input_bits: int) -> bytes:
    """One request frame for an integer input vector."""
    size = value_bytes(input_bits)
    low, high = -(1 << (input_bits - 1)), (1 << (input_bits - 1)) - 1
    payload = bytearray()
    for value in vector:
        if not low <= value <= high:
            raise ValueError(f"Feature value {value} does not fit in {input_bits} bits")
        payload += int(value).to_bytes(size, "little", signed=True)
    if len(payload) > 255:
        raise ValueError(f"A request holds at most 255 bytes, not {len(payload)}")
    return _frame(REQUEST_SYNC, bytes(payload))


def encode_response(value: int | None, output_bits: int) -> bytes:
    """A response frame: the output ``value``, or a NAK when ``value`` is None."""
    if value is None:
        return _frame(RESPONSE_SYNC, b"")
    return _frame(RESPONSE_SYNC, int(value).to_bytes(value_bytes(output_bits), "little",
                                                     signed=True))


def decode_request(frame: bytes, features: int, input_bits: int) -> list[int] | None:
    """The vector in a well-formed request frame, or None (what the board does)."""
    size = value_bytes(input_bits)
    if (len(frame) != features * size + 3 or frame[0] != REQUEST_SYNC
            or frame[1] != features * size or crc8(frame[1:-1]) != frame[-1]):
        return None
    payload = frame[2:-1]
    return [int.from_bytes(payload[k * size:(k + 1) * size], "little", signed=True)
            for k in range(features)]


@dataclass(frozen=True)
class Response:
    """One decoded response: ``value`` is the output y, or None for a NAK."""

    value: int | None


class ResponseDecoder:
    """Incremental decoder of response frames; skips bytes until a valid frame appears."""

    def __init__(self, output_bits: int):
        self.size = value_bytes(output_bits)
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Response]:
        self.buffer += data
        responses: list[Response] = []
        while True:
            start = self.buffer.find(RESPONSE_SYNC)
            if start < 0:
                self.buffer.clear()
                return responses
            del self.buffer[:start]
            if len(self.buffer) < 2:
                return responses
            length = self.buffer[1]
            if length not in (0, self.size):
                del self.buffer[:1]   # not a frame start after all
                continue
            if len(self.buffer) < length + 3:
                return responses
            frame = bytes(self.buffer[:length + 3])
            if crc8(frame[1:-1]) != frame[-1]:
                del self.buffer[:1]
                continue
            del self.buffer[:length + 3]
            responses.append(Response(
                int.from_bytes(frame[2:-1], "little", signed=True) if length else None))
