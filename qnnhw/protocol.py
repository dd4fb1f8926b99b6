"""The serial frame format between host and board, version 2 (sans-IO: bytes in, bytes out).

Both directions use the same frame::

    sync | kind | seq | n (2 bytes) | payload (n bytes) | crc (2 bytes)

* request sync ``0xA5``, response sync ``0x5A``;
* ``kind``: the protocol version (:data:`PROTOCOL_VERSION`) in the high nibble, the command
  (requests, :class:`Command`) or the status (responses, :class:`Status`) in the low one;
* ``seq``: the request's sequence number, which its response carries back, so that a host
  with several requests in flight matches every answer to its request;
* ``n``: the payload length in bytes, little-endian;
* ``crc``: CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final XOR)
  over ``kind``, ``seq``, ``n`` and the payload, little-endian: Amaranth's catalogue entry,
  which the gateware uses too.

Requests:

* ``INFER``: 1 … ``max_vectors`` input vectors (:class:`Hello`), each packed as a bit string:
  feature k's B-bit two's complement value at bits k·B … k·B + B − 1, padded to whole bytes
  (:func:`vector_bytes`); a 34-feature vector of 4-bit inputs is 17 bytes;
* ``HELLO``: no payload; the board describes itself (:class:`Hello`);
* ``SELFTEST``: a 4-byte count N; the board runs N vectors of its on-chip generator through the
  datapath at full rate and answers with their outputs' signature and the cycles it took
  (:class:`SelfTestResult`, :func:`selftest_vectors`, :func:`signature`).

Responses, in the order of the requests the board accepted:

* ``OK``: the outputs of an ``INFER``'s vectors, in order, each as :class:`ResponseFormat` says;
* ``NAK``: no payload: the board received a request it could not use (bad CRC, a line error,
  more vectors than it could take in); the host sends it again;
* ``HELLO``, ``SELFTEST``: the answers to those commands;
* ``VERSION``: the answer to a well-formed HELLO of another protocol version (the payload is
  the board's version, one byte), which is how a newer host learns it speaks to an older
  board. A host that gets no HELLO answer at all speaks to a board of version 1 or none
  (:class:`BoardClient <qnnhw.client.BoardClient>` says so in one line).

The board drops a partial frame when no byte arrives for the time of ``FRAME_TIMEOUT_BYTES``
bytes and re-synchronises on the next sync byte, so a lost or corrupted byte costs at most one
frame. The same code serves :mod:`qnnhw.client` (pyserial) and the cocotb bench of the UART
top level (:mod:`sim.bench_serial`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import Any

import numpy as np

__all__ = ["ANSWER_BUFFER", "COUNT_BYTES", "CRC_BYTES", "DEFAULT_BAUD", "DEFAULT_WINDOW",
           "FRAME_TIMEOUT_BYTES", "HEADER_BYTES", "LENGTH_BYTES", "MAX_CLASSES", "MAX_VECTORS",
           "OVERHEAD_BYTES", "PROTOCOL_VERSION", "REQUEST_SYNC", "RESPONSE_SYNC", "SELFTEST_SEED",
           "Command", "Frame", "FrameDecoder", "Hello", "LinkFailure", "Pipeline", "Reply",
           "ReplyDecoder", "Response", "ResponseFormat", "SelfTestResult", "Status", "crc16",
           "design_id", "frame_check", "pack_vectors", "request", "response", "selftest_vectors",
           "signature", "unpack_vectors", "vector_bytes", "xorshift32"]

PROTOCOL_VERSION = 2
#: The baud rate of a board whose serial bridge is not known (an external adapter).
DEFAULT_BAUD = 115200
REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A
#: Silence, in byte times, after which a partial frame is dropped.
FRAME_TIMEOUT_BYTES = 4
#: Bytes of the length field, of the frame check, and of everything but the payload.
LENGTH_BYTES = 2
CRC_BYTES = 2
HEADER_BYTES = 3 + LENGTH_BYTES            # sync, kind, seq, n
OVERHEAD_BYTES = HEADER_BYTES + CRC_BYTES
#: Vectors one INFER request may carry (the board's response buffer holds as many outputs).
MAX_VECTORS = 4
#: Outputs a board holds for its answers: two frames' (one being answered, one arriving).
ANSWER_BUFFER = 2 * MAX_VECTORS
#: Request frames a host keeps in flight unless told otherwise.
DEFAULT_WINDOW = 4
#: Classes a one-byte class index can name.
MAX_CLASSES = 256
#: Bytes of a SELFTEST request's count, and of its answer's signature and cycle count.
COUNT_BYTES, SIGNATURE_BYTES, CYCLE_BYTES = 4, 4, 6
#: The on-chip generator's first state (any nonzero 32-bit value).
SELFTEST_SEED = 0x2545F491


class Command(IntEnum):
    """A request's command (the low nibble of its ``kind``)."""

    INFER = 0
    HELLO = 1
    SELFTEST = 2


class Status(IntEnum):
    """A response's status (the low nibble of its ``kind``)."""

    OK = 0
    NAK = 1
    HELLO = 2
    SELFTEST = 3
    VERSION = 4


@cache
def frame_check() -> Any:
    """The frame check, for host and gateware alike: :mod:`amaranth.lib.crc`'s CRC-16/XMODEM
    over bytes (imported when first needed, so that commands without a link start fast)."""
    from amaranth.lib.crc.catalog import CRC16_XMODEM

    return CRC16_XMODEM(data_width=8)


def crc16(data: Iterable[int]) -> int:
    """CRC-16/XMODEM of ``data`` (bytes)."""
    crc: int = frame_check().compute(data)
    return crc


def kind(code: int, version: int = PROTOCOL_VERSION) -> int:
    return (version << 4) | code


def _frame(sync: int, code: int, seq: int, payload: bytes, version: int) -> bytes:
    if len(payload) >= 1 << (8 * LENGTH_BYTES):
        raise ValueError(f"A frame holds at most {(1 << 8 * LENGTH_BYTES) - 1} payload bytes, "
                         f"not {len(payload)}")
    body = bytes([kind(code, version), seq & 0xFF]) + len(payload).to_bytes(
        LENGTH_BYTES, "little") + payload
    return bytes([sync]) + body + crc16(body).to_bytes(CRC_BYTES, "little")


def request(command: Command, seq: int, payload: bytes = b"",
            version: int = PROTOCOL_VERSION) -> bytes:
    """A request frame."""
    return _frame(REQUEST_SYNC, command, seq, payload, version)


def response(status: Status, seq: int, payload: bytes = b"") -> bytes:
    """A response frame (what the board sends; for tests and the reference)."""
    return _frame(RESPONSE_SYNC, status, seq, payload, PROTOCOL_VERSION)


def vector_bytes(features: int, input_bits: int) -> int:
    """Bytes of one packed vector: features × input bits, padded to whole bytes."""
    return (features * input_bits + 7) // 8


def pack_vectors(vectors: Sequence[Sequence[int]], input_bits: int) -> bytes:
    """Integer vectors as an INFER payload (bit strings, feature 0 lowest)."""
    low, high = -(1 << (input_bits - 1)), (1 << (input_bits - 1)) - 1
    mask = (1 << input_bits) - 1
    out = bytearray()
    for vector in vectors:
        bits = 0
        for index, value in enumerate(vector):
            if not low <= value <= high:
                raise ValueError(f"Feature value {value} does not fit in {input_bits} bits")
            bits |= (int(value) & mask) << (index * input_bits)
        out += bits.to_bytes(vector_bytes(len(vector), input_bits), "little")
    return bytes(out)


def unpack_vectors(payload: bytes, features: int, input_bits: int) -> list[list[int]]:
    """The vectors of an INFER payload (what the board does)."""
    size = vector_bytes(features, input_bits)
    if len(payload) % size:
        raise ValueError(f"An INFER payload is a whole number of {size}-byte vectors, not "
                         f"{len(payload)} bytes")
    mask, sign = (1 << input_bits) - 1, 1 << (input_bits - 1)
    vectors = []
    for start in range(0, len(payload), size):
        bits = int.from_bytes(payload[start:start + size], "little")
        vectors.append([(((bits >> (k * input_bits)) & mask) ^ sign) - sign
                        for k in range(features)])
    return vectors


@dataclass(frozen=True)
class Response:
    """One vector's answer: ``value`` is the output y (one output) or the class index (C
    outputs); ``scores`` the C outputs y꜀ when the design sends them."""

    value: int
    scores: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ResponseFormat:
    """What a design's answer to one vector carries.

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
        return (self.output_bits + 7) // 8

    @property
    def payload_bytes(self) -> int:
        """Bytes of one vector's answer."""
        if self.outputs == 1:
            return self.value_size
        return 1 + (self.outputs * self.value_size if self.scores else 0)

    def encode(self, value: int, scores: Sequence[int] = ()) -> bytes:
        """One vector's answer: y, or the class and (if sent) the scores."""
        if self.outputs == 1:
            return int(value).to_bytes(self.value_size, "little", signed=True)
        payload = bytes([value])
        if self.scores:
            if len(scores) != self.outputs:
                raise ValueError(f"A response carries {self.outputs} scores, not {len(scores)}")
            payload += b"".join(int(score).to_bytes(self.value_size, "little", signed=True)
                                for score in scores)
        return payload

    def decode(self, payload: bytes) -> list[Response]:
        """The answers in an OK payload."""
        size, step = self.value_size, self.payload_bytes
        answers = []
        for start in range(0, len(payload), step):
            part = payload[start:start + step]
            if self.outputs == 1:
                answers.append(Response(int.from_bytes(part, "little", signed=True)))
                continue
            scores = tuple(int.from_bytes(part[1 + k * size:1 + (k + 1) * size], "little",
                                          signed=True)
                           for k in range(self.outputs)) if self.scores else None
            answers.append(Response(part[0], scores))
        return answers


@dataclass(frozen=True)
class Hello:
    """A board's description of itself: the answer to ``HELLO``.

    ``design_id`` is :func:`design_id` of the fixed-point spec the bitstream was built from,
    so a host can tell whether its model file belongs to the board.
    """

    version: int
    features: int
    input_bits: int
    outputs: int
    output_bits: int
    scores: bool
    max_vectors: int
    clock_hz: int
    design_id: int
    cycles_per_vector: int
    buffered: int

    #: version, features, input bits, outputs, output bits, scores, max vectors, clock, id,
    #: the datapath's cycles per vector, the vectors whose answers the board can hold
    FIELDS = (1, 2, 1, 2, 1, 1, 1, 4, 4, 4, 1)

    @classmethod
    def size(cls) -> int:
        return sum(cls.FIELDS)

    def encode(self) -> bytes:
        values = (self.version, self.features, self.input_bits, self.outputs,
                  self.output_bits, int(self.scores), self.max_vectors, self.clock_hz,
                  self.design_id, self.cycles_per_vector, self.buffered)
        return b"".join(int(value).to_bytes(size, "little")
                        for value, size in zip(values, self.FIELDS))

    @classmethod
    def decode(cls, payload: bytes) -> Hello:
        values, start = [], 0
        for size in cls.FIELDS:
            values.append(int.from_bytes(payload[start:start + size], "little"))
            start += size
        (version, features, input_bits, outputs, output_bits, scores, max_vectors, clock_hz,
         identity, cycles, buffered) = values
        return cls(version, features, input_bits, outputs, output_bits, bool(scores),
                   max_vectors, clock_hz, identity, cycles, buffered)

    @property
    def response_format(self) -> ResponseFormat:
        return ResponseFormat(self.output_bits, self.outputs, self.scores)

    def pacing(self, baud: float) -> tuple[int, float]:
        """Vectors per frame and seconds per vector for a host at ``baud``: the board
        assembles each vector in one register, which the datapath must empty before the
        next vector's first byte; when a vector's bytes take less time than the datapath
        needs, frames carry one vector and are spaced by the datapath's time."""
        datapath = self.cycles_per_vector / self.clock_hz
        if vector_bytes(self.features, self.input_bits) * 10 / baud >= datapath:
            return self.max_vectors, 0.0
        return 1, datapath


def design_id(spec_json: str) -> int:
    """The 32-bit identity of a design: CRC-32 of its fixed-point spec's JSON."""
    import zlib

    return zlib.crc32(spec_json.encode())


@dataclass(frozen=True)
class SelfTestResult:
    """The answer to ``SELFTEST``: the outputs' :func:`signature` and the clock cycles from
    the first vector issued to the last output folded."""

    signature: int
    cycles: int

    def encode(self) -> bytes:
        return (self.signature.to_bytes(SIGNATURE_BYTES, "little")
                + self.cycles.to_bytes(CYCLE_BYTES, "little"))

    @classmethod
    def decode(cls, payload: bytes) -> SelfTestResult:
        return cls(int.from_bytes(payload[:SIGNATURE_BYTES], "little"),
                   int.from_bytes(payload[SIGNATURE_BYTES:], "little"))


def xorshift32(state: int) -> int:
    """The on-chip generator's step (Marsaglia's xorshift32: 13, 17, 5)."""
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def selftest_vectors(count: int, features: int, input_bits: int) -> np.ndarray:
    """The ``count`` vectors the on-chip generator issues, (count, features) int64.

    Vector i is read from the generator's state sᵢ (s₀ = :data:`SELFTEST_SEED`,
    sᵢ₊₁ = xorshift32(sᵢ)) by wiring alone: bit j of feature k is bit (k·B + j) mod 32 of sᵢ,
    the B bits a two's complement value.
    """
    states = np.empty(count, dtype=np.uint64)
    state = SELFTEST_SEED
    for index in range(count):
        states[index] = state
        state = xorshift32(state)
    positions = (np.arange(features)[:, None] * input_bits + np.arange(input_bits)) % 32
    bits = (states[:, None, None] >> positions.astype(np.uint64)) & 1       # (n, F, B)
    values = (bits.astype(np.int64) << np.arange(input_bits)).sum(axis=2)
    return np.where(values >= 1 << (input_bits - 1), values - (1 << input_bits), values)


def signature(words: Iterable[int], word_bits: int) -> int:
    """The self-test's signature of output words (each ``word_bits`` wide, as the datapath
    emits them): s ← rotl₁(s) ⊕ (the word's 32-bit chunks XORed together), from s = 0."""
    value = 0
    chunks, mask = math.ceil(word_bits / 32), (1 << word_bits) - 1
    for word in words:
        word &= mask
        folded = 0
        for chunk in range(chunks):
            folded ^= (word >> (32 * chunk)) & 0xFFFFFFFF
        value = (((value << 1) | (value >> 31)) & 0xFFFFFFFF) ^ folded
    return value


@dataclass(frozen=True)
class Frame:
    """A frame with a good check: its version, code (command or status), seq and payload."""

    version: int
    code: int
    seq: int
    payload: bytes


class FrameDecoder:
    """Incremental decoder of the frames that begin with ``sync``; skips bytes until a frame
    with a good check appears. ``lengths`` (a version-2 code → the payload lengths it may
    have) makes a false sync cost one byte instead of a long wait for a length never sent;
    frames of another version are kept (up to ``longest`` payload bytes)."""

    def __init__(self, sync: int, lengths: dict[int, frozenset[int]], longest: int = 64):
        self.sync = sync
        self.lengths = lengths
        self.longest = longest
        self.buffer = bytearray()

    def _plausible(self, version: int, code: int, length: int) -> bool:
        if version != PROTOCOL_VERSION:
            return length <= self.longest
        return length in self.lengths.get(code, frozenset())

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            start = self.buffer.find(self.sync)
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            if len(self.buffer) < HEADER_BYTES:
                return frames
            version, code = self.buffer[1] >> 4, self.buffer[1] & 0xF
            length = int.from_bytes(self.buffer[3:HEADER_BYTES], "little")
            if not self._plausible(version, code, length):
                del self.buffer[:1]   # not a frame start after all
                continue
            end = HEADER_BYTES + length + CRC_BYTES
            if len(self.buffer) < end:
                return frames
            body = bytes(self.buffer[1:end - CRC_BYTES])
            if crc16(body) != int.from_bytes(self.buffer[end - CRC_BYTES:end], "little"):
                del self.buffer[:1]
                continue
            frames.append(Frame(version, code, self.buffer[2],
                                bytes(self.buffer[HEADER_BYTES:end - CRC_BYTES])))
            del self.buffer[:end]


@dataclass(frozen=True)
class Reply:
    """A decoded response frame: its status and seq, and what it carries."""

    status: Status | None          # None: a frame of another protocol version
    seq: int
    answers: tuple[Response, ...] = ()
    hello: Hello | None = None
    selftest: SelfTestResult | None = None
    version: int = PROTOCOL_VERSION


class ReplyDecoder:
    """Incremental decoder of a board's responses. ``response`` (what one vector's answer
    carries) may be None before the board's :class:`Hello` says it; then only HELLO, NAK,
    SELFTEST and VERSION frames are recognised."""

    def __init__(self, response: ResponseFormat | None = None, max_vectors: int = MAX_VECTORS):
        lengths: dict[int, frozenset[int]] = {
                   Status.NAK: frozenset({0}), Status.HELLO: frozenset({Hello.size()}),
                   Status.SELFTEST: frozenset({SIGNATURE_BYTES + CYCLE_BYTES}),
                   Status.VERSION: frozenset({1})}
        if response is not None:
            lengths[Status.OK] = frozenset(k * response.payload_bytes
                                           for k in range(1, max_vectors + 1))
        self.response = response
        self.frames = FrameDecoder(RESPONSE_SYNC, lengths)

    def feed(self, data: bytes) -> list[Reply]:
        replies = []
        for frame in self.frames.feed(data):
            if frame.version != PROTOCOL_VERSION:
                replies.append(Reply(None, frame.seq, version=frame.version))
                continue
            status = Status(frame.code)
            if status is Status.OK:
                assert self.response is not None
                replies.append(Reply(status, frame.seq, tuple(self.response.decode(
                    frame.payload))))
            elif status is Status.HELLO:
                replies.append(Reply(status, frame.seq, hello=Hello.decode(frame.payload)))
            elif status is Status.SELFTEST:
                replies.append(Reply(status, frame.seq,
                                     selftest=SelfTestResult.decode(frame.payload)))
            elif status is Status.VERSION:
                replies.append(Reply(status, frame.seq, version=frame.payload[0]))
            else:
                replies.append(Reply(status, frame.seq))
        return replies


class LinkFailure(Exception):
    """A request that stayed unanswered through every attempt."""


@dataclass
class _InFlight:
    seq: int
    first: int        # index of its first vector
    count: int
    frame: bytes
    due: float        # when it is sent again unless answered
    attempts: int
    order: int        # when it was (last) sent, in sending order


class Pipeline:
    """The host's side of a stream of INFER requests, with a window of frames in flight.

    Vectors go out ``per_frame`` to a frame, up to ``window`` frames and ``capacity``
    vectors unanswered at a time (the board's :attr:`Hello.buffered`: more would find no room
    when the answers are longer than the requests), and no faster than one per ``pace``
    seconds (:meth:`Hello.pacing`).
    The board answers in the order it accepted requests, so an answer to a frame proves that
    every frame sent before it and still unanswered was lost: those are sent again at once,
    as are frames the board refused (NAK) and frames unanswered after ``timeout`` seconds;
    each resend takes a fresh sequence number, so a late answer to the old one is ignored.
    A frame unanswered after ``retries`` attempts raises :class:`LinkFailure`.

    Sans-IO: :meth:`to_send` says what to write, :meth:`feed` takes what was read; ``now``
    is the caller's clock (seconds).
    """

    def __init__(self, vectors: Sequence[Sequence[int]], input_bits: int,
                 response: ResponseFormat, *, per_frame: int = MAX_VECTORS,
                 window: int = DEFAULT_WINDOW, capacity: int | None = None,
                 pace: float = 0.0, timeout: float = 0.5, retries: int = 5):
        if window < 1:
            raise ValueError(f"The window must hold at least one frame, not {window}")
        if not 1 <= per_frame <= MAX_VECTORS:
            raise ValueError(f"A frame carries 1 to {MAX_VECTORS} vectors, not {per_frame}")
        self.vectors = [list(map(int, vector)) for vector in vectors]
        self.input_bits = input_bits
        self.per_frame, self.window = per_frame, window
        self.capacity = max(capacity or len(self.vectors), per_frame)
        self.timeout, self.retries, self.pace = timeout, retries, pace
        self.next_free = 0.0
        self.decoder = ReplyDecoder(response, MAX_VECTORS)
        self.answers: list[Response | None] = [None] * len(self.vectors)
        self.in_flight: dict[int, _InFlight] = {}
        self.next_vector = 0
        self.sent_frames = self.resent = self.answered = self.resending = 0
        self._seq = 0

    @property
    def done(self) -> bool:
        return self.next_vector == len(self.vectors) and not self.in_flight

    def _fresh_seq(self) -> int:
        while self._seq in self.in_flight:
            self._seq = (self._seq + 1) % 256
        seq, self._seq = self._seq, (self._seq + 1) % 256
        return seq

    def _send(self, first: int, count: int, attempts: int, now: float) -> bytes:
        seq = self._fresh_seq()
        frame = request(Command.INFER, seq,
                        pack_vectors(self.vectors[first:first + count], self.input_bits))
        self.in_flight[seq] = _InFlight(seq, first, count, frame, now + self.timeout,
                                        attempts, self.sent_frames)
        self.sent_frames += 1
        if self.pace:
            self.next_free = max(now, self.next_free) + count * self.pace
        return frame

    def to_send(self, now: float) -> list[bytes]:
        """The frames to write now: those due again (the first :attr:`resending`), then new
        ones while the window has room."""
        out: list[bytes] = []
        for item in sorted(self.in_flight.values(), key=lambda item: item.order):
            if item.due <= now and self.next_free <= now:
                if item.attempts >= self.retries:
                    raise LinkFailure(f"a request stayed unanswered after {self.retries} "
                                      f"attempts")
                del self.in_flight[item.seq]
                self.resent += 1
                out.append(self._send(item.first, item.count, item.attempts + 1, now))
        self.resending = len(out)
        while (len(self.in_flight) < self.window and self.next_vector < len(self.vectors)
               and self.next_free <= now):
            count = min(self.per_frame, len(self.vectors) - self.next_vector)
            if sum(item.count for item in self.in_flight.values()) + count > self.capacity:
                break
            out.append(self._send(self.next_vector, count, 1, now))
            self.next_vector += count
        return out

    def next_due(self) -> float | None:
        """When the oldest frame in flight times out (None: nothing in flight)."""
        return min((item.due for item in self.in_flight.values()), default=None)

    def feed(self, data: bytes, now: float) -> None:
        """Take bytes read from the board."""
        for reply in self.decoder.feed(data):
            # (A VERSION answer can only come from noise here: the version is HELLO's matter.)
            item = self.in_flight.get(reply.seq)
            if item is None:
                continue                       # late, or a seq the line corrupted
            if reply.status is Status.NAK:
                item.due = now
            elif reply.status is Status.OK and len(reply.answers) == item.count:
                del self.in_flight[item.seq]
                self.answers[item.first:item.first + item.count] = reply.answers
                self.answered += item.count
                for earlier in self.in_flight.values():
                    if earlier.order < item.order:
                        earlier.due = now      # the board answered a later one: lost
