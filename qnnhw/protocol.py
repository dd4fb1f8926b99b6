"""The serial frame format between host and board (sans-IO: bytes in, bytes out).

Both directions use the same frame::

    sync | n (2 bytes) | payload (n bytes) | crc

* request sync ``0xA5``, response sync ``0x5A``;
* ``n`` is the payload length in bytes, little-endian (a 28 × 28 image of 8-bit pixels is
  784 bytes);
* ``crc`` is CRC-8/SMBUS (polynomial x⁸ + x² + x + 1, i.e. 0x07, initial value 0, no
  reflection, no final XOR) over ``n`` and the payload: Amaranth's catalogue entry, which
  the gateware uses too.

A request carries one input vector: every feature as a ceil(B/8)-byte little-endian two's
complement integer, features in model order. A response (:class:`ResponseFormat`) carries
the output y as a ceil(W/8)-byte little-endian two's complement integer; a network with C
outputs answers with the class index (one byte) followed, unless the design was built
without them, by the C scores y꜀ in that format. A response with n = 0 is a NAK: the board
received a request it could not use (bad CRC, wrong length, framing error); the host sends
it again. One request is in flight at a time: the host waits for the response.

The board drops a partial frame when no byte arrives for the time of ``FRAME_TIMEOUT_BYTES``
bytes, and it re-synchronises on the next sync byte, so a lost or corrupted byte costs at most
one frame. The same code serves :mod:`qnnhw.client` (pyserial) and the cocotb bench of the
UART top level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["DEFAULT_BAUD", "FRAME_TIMEOUT_BYTES", "LENGTH_BYTES", "MAX_CLASSES",
           "MAX_PAYLOAD", "REQUEST_SYNC", "RESPONSE_SYNC", "Response", "ResponseDecoder",
           "ResponseFormat", "crc8", "decode_request", "encode_request", "encode_response",
           "frame_check", "request_frame_bytes", "value_bytes"]

#: The baud rate every board design is built for.
DEFAULT_BAUD = 115200
REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A
#: Silence, in byte times, after which a partial frame is dropped.
FRAME_TIMEOUT_BYTES = 4
#: Bytes of the length field, and the longest payload it can say.
LENGTH_BYTES = 2
MAX_PAYLOAD = (1 << (8 * LENGTH_BYTES)) - 1
#: Classes a one-byte class index can name.
MAX_CLASSES = 256


@cache
def frame_check() -> Any:
    """The frame check, for host and gateware alike: :mod:`amaranth.lib.crc`'s CRC-8/SMBUS
    over bytes (imported when first needed, so that commands without a link start fast)."""
    from amaranth.lib.crc.catalog import CRC8_SMBUS

    return CRC8_SMBUS(data_width=8)


def crc8(data: Iterable[int]) -> int:
    """CRC-8/SMBUS of ``data`` (bytes)."""
    crc: int = frame_check().compute(data)
    return crc


def value_bytes(bits: int) -> int:
    """Bytes that carry one ``bits``-bit integer."""
    return (bits + 7) // 8


def request_frame_bytes(features: int, input_bits: int) -> int:
    """Bytes of a request frame for ``features`` values of ``input_bits`` bits."""
    return 1 + LENGTH_BYTES + features * value_bytes(input_bits) + 1


def _frame(sync: int, payload: bytes) -> bytes:
    body = len(payload).to_bytes(LENGTH_BYTES, "little") + payload
    return bytes([sync]) + body + bytes([crc8(body)])


@dataclass(frozen=True)
class Response:
    """One decoded response; ``value`` is None for a NAK.

    ``value`` is the output y (one output) or the class index (C outputs); ``scores`` the
    C outputs y꜀ when the design sends them."""

    value: int | None
    scores: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ResponseFormat:
    """What a design's responses carry.

    Parameters
    ----------
    output_bits : int
        Width W of each output.
    outputs : int
        C: 1, or the number of classes (at most :data:`MAX_CLASSES`).
    scores : bool
        With C outputs, whether the C scores follow the class index.
    """

    output_bits: int
    outputs: int = 1
    scores: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.outputs <= MAX_CLASSES:
            raise ValueError(f"A response names one of at most {MAX_CLASSES} classes, not "
                             f"{self.outputs}")

    @classmethod
    def for_spec(cls, spec: Any, scores: bool = True) -> ResponseFormat:
        """The responses of a design built from fixed-point ``spec``."""
        return cls(spec.output_width, spec.outputs, scores)

    @property
    def value_size(self) -> int:
        return value_bytes(self.output_bits)

    @property
    def payload_bytes(self) -> int:
        if self.outputs == 1:
            return self.value_size
        return 1 + (self.outputs * self.value_size if self.scores else 0)

    def encode(self, value: int, scores: Sequence[int] = ()) -> bytes:
        """The payload of a response: y, or the class and (if sent) the scores."""
        if self.outputs == 1:
            return int(value).to_bytes(self.value_size, "little", signed=True)
        payload = bytes([value])
        if self.scores:
            if len(scores) != self.outputs:
                raise ValueError(f"A response carries {self.outputs} scores, not {len(scores)}")
            payload += b"".join(int(score).to_bytes(self.value_size, "little", signed=True)
                                for score in scores)
        return payload

    def decode(self, payload: bytes) -> Response:
        size = self.value_size
        if self.outputs == 1:
            return Response(int.from_bytes(payload, "little", signed=True))
        scores = tuple(int.from_bytes(payload[1 + k * size:1 + (k + 1) * size], "little",
                                      signed=True)
                       for k in range(self.outputs)) if self.scores else None
        return Response(payload[0], scores)


def encode_request(vector: Sequence[int], input_bits: int) -> bytes:
    """One request frame for an integer input vector."""
    size = value_bytes(input_bits)
    low, high = -(1 << (input_bits - 1)), (1 << (input_bits - 1)) - 1
    payload = bytearray()
    for value in vector:
        if not low <= value <= high:
            raise ValueError(f"Feature value {value} does not fit in {input_bits} bits")
        payload += int(value).to_bytes(size, "little", signed=True)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"A request holds at most {MAX_PAYLOAD} bytes, not {len(payload)}")
    return _frame(REQUEST_SYNC, bytes(payload))


def encode_response(value: int | None, response: ResponseFormat,
                    scores: Sequence[int] = ()) -> bytes:
    """A response frame: the output ``value`` (and ``scores``), or a NAK when ``value`` is
    None."""
    if value is None:
        return _frame(RESPONSE_SYNC, b"")
    return _frame(RESPONSE_SYNC, response.encode(value, scores))


def decode_request(frame: bytes, features: int, input_bits: int) -> list[int] | None:
    """The vector in a well-formed request frame, or None (what the board does)."""
    size = value_bytes(input_bits)
    header = 1 + LENGTH_BYTES
    if (len(frame) != request_frame_bytes(features, input_bits) or frame[0] != REQUEST_SYNC
            or int.from_bytes(frame[1:header], "little") != features * size
            or crc8(frame[1:-1]) != frame[-1]):
        return None
    payload = frame[header:-1]
    return [int.from_bytes(payload[k * size:(k + 1) * size], "little", signed=True)
            for k in range(features)]


class ResponseDecoder:
    """Incremental decoder of response frames; skips bytes until a valid frame appears."""

    def __init__(self, response: ResponseFormat):
        self.format = response
        self.size = response.payload_bytes
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
            header = 1 + LENGTH_BYTES
            if len(self.buffer) < header:
                return responses
            length = int.from_bytes(self.buffer[1:header], "little")
            if length not in (0, self.size):
                del self.buffer[:1]   # not a frame start after all
                continue
            if len(self.buffer) < header + length + 1:
                return responses
            frame = bytes(self.buffer[:header + length + 1])
            if crc8(frame[1:-1]) != frame[-1]:
                del self.buffer[:1]
                continue
            del self.buffer[:len(frame)]
            responses.append(self.format.decode(frame[header:-1]) if length
                             else Response(None))
