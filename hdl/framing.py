"""Gateware side of the serial frame format of :mod:`qnnhw.protocol` (version 2).

:class:`FrameReceiver` turns request bytes into input vectors, forwarded as soon as each
vector's bytes are in, and one *record* per frame that says, once the frame's check has been
read, what its answer is: the outputs of its vectors, a NAK, the board's description, a
self-test. :class:`FrameTransmitter` takes the records in order and sends the answers,
consuming one datapath output per forwarded vector — and discarding the outputs of a frame
that failed its check, so that no answer ever comes from a corrupted request. Both check
and make the frame's CRC with :mod:`amaranth.lib.crc` (:func:`qnnhw.protocol.frame_check`).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, ShapeLike, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import (
    COUNT_BYTES,
    CRC_BYTES,
    CYCLE_BYTES,
    HEADER_BYTES,
    LENGTH_BYTES,
    PROTOCOL_VERSION,
    REQUEST_SYNC,
    RESPONSE_SYNC,
    SIGNATURE_BYTES,
    Command,
    ResponseFormat,
    Status,
    frame_check,
    vector_bytes,
)

__all__ = ["DROP", "RECORD_DEPTH", "FrameReceiver", "FrameTransmitter", "SelfTestLayout",
           "record_layout"]

#: A record's status besides :class:`~qnnhw.protocol.Status`: discard the outputs of a frame
#: cut short by silence, answer nothing.
DROP = 15
#: Records the receiver can queue ahead of the transmitter: a window of frames (a frame that
#: finds the queue full is ignored, and sent again by the host).
RECORD_DEPTH = 4


def record_layout(max_vectors: int) -> data.StructLayout:
    """One frame's record: what to answer, to which seq, for how many forwarded vectors."""
    return data.StructLayout({"status": unsigned(4), "seq": unsigned(8),
                              "count": unsigned(max(1, max_vectors.bit_length()))})


#: A self-test's result: the outputs' signature and the cycles it took.
SelfTestLayout = data.StructLayout({"signature": unsigned(8 * SIGNATURE_BYTES),
                                    "cycles": unsigned(8 * CYCLE_BYTES)})


class FrameReceiver(wiring.Component):
    """Parses request frames into input vectors and one record per frame.

    Parameters
    ----------
    features : int
        Features per vector.
    input_bits : int
        Bits per feature; a vector is packed into ``vector_bytes(features, input_bits)``.
    timeout : int
        Clock cycles of silence after which a partial frame is dropped.
    max_vectors : int
        Vectors one INFER frame may carry.
    record_depth : int
        Records the queue holds ahead of the transmitter.

    Attributes
    ----------
    i : In(stream.Signature(8, always_ready=True))
        Received bytes, as the UART receiver delivers them.
    line_error : In(1)
        A framing error from the UART: the frame under way is refused.
    vectors : Out(stream.Signature(data.ArrayLayout(signed(input_bits), features)))
        Each vector as soon as its bytes are in (before the frame's check: a frame that fails
        it has its outputs discarded by the transmitter). A byte that finds the previous
        vector still waiting is lost, and its frame refused.
    records : Out(stream.Signature(record_layout(max_vectors)))
        One record per frame that forwarded a vector or reached its check; a frame that
        starts while no record could be queued is ignored.
    hold : Out(1)
        High from a SELFTEST record until ``selftest_done``: no vector is forwarded and no
        other SELFTEST taken meanwhile (the datapath belongs to the self-test).
    selftest_count : Out(32)
        The count N of the last SELFTEST frame.
    selftest_done : In(1)
        Pulsed when the self-test's answer has been sent.
    push, pushed : Signal, Signal(record_layout(max_vectors))
        A record entering the queue, and which (for the formal proofs of :mod:`sim.formal`;
        no logic reads them).
    """

    def __init__(self, features: int, input_bits: int, timeout: int, max_vectors: int,
                 record_depth: int = RECORD_DEPTH):
        self.features = features
        self.input_bits = input_bits
        self.vector_bytes = vector_bytes(features, input_bits)
        if max_vectors * self.vector_bytes >= 1 << (8 * LENGTH_BYTES):
            raise ValueError(f"{max_vectors} vectors of {self.vector_bytes} bytes do not fit "
                             f"in one frame")
        self.timeout = timeout
        self.max_vectors = max_vectors
        self.record_depth = record_depth
        self.push = Signal()
        self.pushed = Signal(record_layout(max_vectors))
        super().__init__({
            "i": In(stream.Signature(8, always_ready=True)),
            "line_error": In(1),
            "vectors": Out(stream.Signature(data.ArrayLayout(signed(input_bits), features))),
            "records": Out(stream.Signature(record_layout(max_vectors))),
            "hold": Out(1),
            "selftest_done": In(1),
            "selftest_count": Out(8 * COUNT_BYTES),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.crc = crc = frame_check().create()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(
            width=record_layout(self.max_vectors).size, depth=self.record_depth)
        m.d.comb += [self.records.payload.eq(queue.r_data), self.records.valid.eq(queue.r_rdy),
                     queue.r_en.eq(self.records.ready)]
        record = self.pushed
        m.d.comb += [queue.w_data.eq(record), self.push.eq(queue.w_en)]

        byte, width = self.i.payload, 8 * self.vector_bytes
        kind, seq = Signal(8), Signal(8)
        length = Signal(8 * LENGTH_BYTES)
        remaining = Signal(8 * LENGTH_BYTES)
        length_byte = Signal(range(LENGTH_BYTES))
        vector_byte = Signal(range(self.vector_bytes))
        count = Signal(range(self.max_vectors + 1))
        crc_low = Signal(8)          # the check's first byte, as received
        bad = Signal()               # a line error, or a vector lost, in this frame
        silence = Signal(range(self.timeout + 1))
        version_ok = kind[4:] == PROTOCOL_VERSION
        command = kind[:4]

        # One register assembles each vector from its bytes and offers it: the datapath must
        # take it before the next vector's first byte (a byte time), or the frame is refused.
        held = Signal(width)
        for index in range(self.features):
            start = index * self.input_bits
            m.d.comb += self.vectors.payload[index].eq(held[start:start + self.input_bits])
        with m.If(self.vectors.valid & self.vectors.ready):
            m.d.sync += self.vectors.valid.eq(0)
        with m.If(self.selftest_done):
            m.d.sync += self.hold.eq(0)

        with m.If(self.i.valid):
            m.d.sync += silence.eq(0)
        with m.Elif(silence != self.timeout):
            m.d.sync += silence.eq(silence + 1)
        timed_out = ~self.i.valid & (silence == self.timeout)

        def push(status: int | Value, frame_count: Value | int) -> None:
            m.d.comb += [record.status.eq(status), record.seq.eq(seq),
                         record.count.eq(frame_count), queue.w_en.eq(1)]

        def give_up() -> None:
            """Silence in mid-frame: drop it; the vectors it forwarded are discarded."""
            with m.If(count != 0):
                push(DROP, count)
            m.next = "hunt"

        m.d.comb += crc.data.eq(byte)
        with m.FSM() as fsm:
            with m.State("hunt"):
                m.d.sync += [bad.eq(0), count.eq(0), length_byte.eq(0), vector_byte.eq(0)]
                # A frame is taken only while its record is sure of a place in the queue.
                with m.If(self.i.valid & (byte == REQUEST_SYNC) & queue.w_rdy):
                    m.next = "kind"
            with m.State("kind"):
                m.d.comb += [crc.start.eq(1), crc.valid.eq(self.i.valid)]
                # A kind no frame has is a false sync, refused at once so that it swallows
                # no byte of the frame behind it: version 2's commands, or another
                # version's HELLO (answered VERSION).
                known = ((byte[4:] == PROTOCOL_VERSION) & (byte[:4] <= Command.SELFTEST)) | (
                    (byte[4:] != PROTOCOL_VERSION) & (byte[:4] == Command.HELLO))
                with m.If(self.i.valid):
                    m.d.sync += kind.eq(byte)
                    m.next = "seq"
                    with m.If(~known & (byte != REQUEST_SYNC)):
                        m.next = "hunt"
                    with m.Elif(~known):
                        m.next = "kind"      # a sync byte: the frame may start here
                with m.Elif(timed_out):
                    give_up()
            with m.State("seq"):
                m.d.comb += crc.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += seq.eq(byte)
                    m.next = "length"
                with m.Elif(timed_out):
                    give_up()
            with m.State("length"):
                m.d.comb += crc.valid.eq(self.i.valid)
                value = Cat(length[8:], byte)     # little-endian: the last byte is the top
                with m.If(self.i.valid):
                    m.d.sync += [length.eq(value), remaining.eq(value),
                                 length_byte.eq(length_byte + 1)]
                    with m.If(length_byte == LENGTH_BYTES - 1):
                        # A length the command cannot have is a false sync: hunt again.
                        m.next = "hunt"
                        with m.If(command == Command.HELLO):
                            with m.If(value == 0):
                                m.next = "check"
                        with m.Elif(command == Command.SELFTEST):
                            with m.If(value == COUNT_BYTES):
                                m.next = "payload"
                        with m.Elif(command == Command.INFER):
                            for vectors in range(1, self.max_vectors + 1):
                                with m.If(value == vectors * self.vector_bytes):
                                    m.next = "payload"
                with m.Elif(timed_out):
                    give_up()
            with m.State("payload"):
                m.d.comb += crc.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(version_ok & (command == Command.SELFTEST) & ~self.hold):
                        m.d.sync += self.selftest_count.eq(Cat(self.selftest_count[8:], byte))
                    with m.If(version_ok & (command == Command.INFER)):
                        m.d.sync += vector_byte.eq(vector_byte + 1)
                        with m.If(self.vectors.valid & ~self.vectors.ready):
                            m.d.sync += bad.eq(1)          # the last vector still waits
                        with m.Else():
                            m.d.sync += held.eq(Cat(held[8:], byte))
                        with m.If(vector_byte == self.vector_bytes - 1):
                            m.d.sync += vector_byte.eq(0)
                            with m.If(self.hold):
                                m.d.sync += bad.eq(1)
                            with m.Elif(~self.vectors.valid | self.vectors.ready):
                                m.d.sync += [self.vectors.valid.eq(1), count.eq(count + 1)]
                    with m.If(remaining == 1):
                        m.next = "check"
                with m.Elif(timed_out):
                    give_up()
            with m.State("check"):
                with m.If(self.i.valid):
                    m.d.sync += crc_low.eq(byte)
                    m.next = "check high"
                with m.Elif(timed_out):
                    give_up()
            with m.State("check high"):
                with m.If(self.i.valid):
                    good = (Cat(crc_low, byte) == crc.crc) & ~bad
                    with m.If(good & ~version_ok):
                        push(Status.VERSION, count)
                    with m.Elif(good & (command == Command.HELLO)):
                        push(Status.HELLO, 0)
                    with m.Elif(good & (command == Command.SELFTEST) & ~self.hold):
                        push(Status.SELFTEST, 0)
                        m.d.sync += self.hold.eq(1)
                    with m.Elif(good & (command == Command.SELFTEST)):
                        push(Status.NAK, 0)
                    with m.Elif(good):
                        push(Status.OK, count)
                    with m.Else():
                        push(Status.NAK, count)
                    m.next = "hunt"
                with m.Elif(timed_out):
                    give_up()
        with m.If(self.line_error & ~fsm.ongoing("hunt")):
            m.d.sync += bad.eq(1)
        return m


class FrameTransmitter(wiring.Component):
    """Answers each record in turn (:mod:`qnnhw.protocol`, version 2).

    OK: a response frame with the record's outputs, taken from ``outputs`` one per vector;
    NAK and VERSION: the record's outputs discarded, then the frame; DROP: the outputs
    discarded, nothing sent; HELLO: the board's description; SELFTEST: the count to
    ``selftest``, then its result.

    Parameters
    ----------
    response : ResponseFormat
        What one vector's answer carries.
    shape : shape-like
        The datapath's output word (:func:`hdl.folding.output_shape`).
    hello : bytes
        The HELLO answer's payload (:class:`qnnhw.protocol.Hello`).
    max_vectors : int
        Vectors one frame may carry.

    Attributes
    ----------
    records : In(stream.Signature(record_layout(max_vectors)))
    outputs : In(stream.Signature(shape))
        The datapath's outputs, in the order of the vectors forwarded.
    selftest_count : In(32)
        The count N of the SELFTEST frame being answered (the receiver holds it).
    selftest_start : Out(stream.Signature(unsigned(32)))
        A self-test's count N.
    selftest_result : In(stream.Signature(SelfTestLayout))
    selftest_done : Out(1)
        Pulses when a self-test's answer has been sent.
    o : Out(stream.Signature(8))
        Bytes for the UART transmitter.
    """

    def __init__(self, response: ResponseFormat, shape: ShapeLike, hello: bytes,
                 max_vectors: int):
        self.response = response
        self.word_bytes = response.payload_bytes
        self.hello = hello
        self.max_vectors = max_vectors
        super().__init__({
            "records": In(stream.Signature(record_layout(max_vectors))),
            "outputs": In(stream.Signature(shape)),
            "selftest_count": In(8 * COUNT_BYTES),
            "selftest_start": Out(stream.Signature(unsigned(8 * COUNT_BYTES))),
            "selftest_result": In(stream.Signature(SelfTestLayout)),
            "selftest_done": Out(1),
            "o": Out(stream.Signature(8)),
        })

    def _answer(self, m: Module) -> Value:
        """One vector's answer for the output word on ``outputs``, first byte lowest: y
        sign-extended to whole bytes, or the class (one byte) and the scores likewise."""
        response, word = self.response, self.outputs.payload
        bits = 8 * response.value_size
        if response.outputs == 1:
            fields = [(word, signed(bits))]
        else:
            fields = [(word.label, unsigned(8))]
            if response.scores:
                fields += [(score, signed(bits)) for score in word.scores]
        parts = []
        for index, (value, shape) in enumerate(fields):
            part = Signal(shape, name=f"field{index}")
            m.d.comb += part.eq(value)   # extends as the value's signedness says
            parts.append(part)
        return Cat(*parts)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.crc = crc = frame_check().create()
        record = Signal.like(self.records.payload)
        shift = Signal(8 * self.word_bytes)               # the answer being sent
        offset = Signal(range(max(len(self.hello), SIGNATURE_BYTES + CYCLE_BYTES) + 1))
        length = Signal(8 * LENGTH_BYTES)
        left = Signal(8 * LENGTH_BYTES)             # payload bytes still to send
        word_left = Signal(range(self.word_bytes + 1))   # of the output word in ``shift``
        discard = Signal.like(record.count)
        header = Signal(range(HEADER_BYTES))
        answer = self._answer(m)
        status = record.status

        def start_header() -> None:
            m.d.sync += header.eq(0)
            m.next = "header"

        sent = self.o.valid & self.o.ready
        m.d.comb += crc.data.eq(self.o.payload)
        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.records.ready.eq(1)
                with m.If(self.records.valid):
                    incoming = self.records.payload
                    m.d.sync += [record.eq(incoming), discard.eq(incoming.count),
                                 word_left.eq(0), left.eq(0), length.eq(0)]
                    with m.If(incoming.status == Status.OK):
                        m.d.sync += [length.eq(incoming.count * self.word_bytes),
                                     left.eq(incoming.count * self.word_bytes),
                                     discard.eq(0)]
                        m.next = "header"
                    with m.Elif(incoming.status == Status.HELLO):
                        m.d.sync += [length.eq(len(self.hello)), left.eq(len(self.hello))]
                        m.next = "header"
                    with m.Elif(incoming.status == Status.SELFTEST):
                        m.next = "selftest"
                    with m.Elif(incoming.status == Status.VERSION):
                        m.d.sync += [length.eq(1), left.eq(1)]
                        m.next = "discard"
                    with m.Else():                    # NAK and DROP
                        m.next = "discard"
                    m.d.sync += [header.eq(0), offset.eq(0)]
            with m.State("discard"):
                m.d.comb += self.outputs.ready.eq(discard != 0)
                with m.If(discard == 0):
                    m.next = "after discard"
                with m.Elif(self.outputs.valid):
                    m.d.sync += discard.eq(discard - 1)
            with m.State("after discard"):
                with m.If(status == DROP):
                    m.next = "idle"
                with m.Else():
                    start_header()
            with m.State("selftest"):
                m.d.comb += [self.selftest_start.valid.eq(1),
                             self.selftest_start.payload.eq(self.selftest_count)]
                with m.If(self.selftest_start.ready):
                    m.next = "selftest wait"
            with m.State("selftest wait"):
                # The result stays offered until its frame is sent: its bytes are read there.
                with m.If(self.selftest_result.valid):
                    size = SIGNATURE_BYTES + CYCLE_BYTES
                    m.d.sync += [length.eq(size), left.eq(size)]
                    start_header()
            with m.State("header"):
                m.d.comb += self.o.valid.eq(1)
                values = [Const(RESPONSE_SYNC, 8), Cat(status, Const(PROTOCOL_VERSION, 4)),
                          record.seq, *(length.word_select(k, 8) for k in range(LENGTH_BYTES))]
                for index, value in enumerate(values):
                    with m.If(header == index):
                        m.d.comb += self.o.payload.eq(value)
                # The check covers everything after the sync; the kind byte starts it.
                m.d.comb += [crc.start.eq(header == 1), crc.valid.eq(sent & (header != 0))]
                with m.If(sent):
                    m.d.sync += header.eq(header + 1)
                    with m.If(header == HEADER_BYTES - 1):
                        m.d.sync += header.eq(0)
                        m.next = "payload"
                        with m.If(left == 0):
                            m.next = "check"
            with m.State("payload"):
                from_outputs = status == Status.OK
                with m.If(from_outputs & (word_left == 0)):
                    m.d.comb += self.outputs.ready.eq(1)
                    with m.If(self.outputs.valid):
                        m.d.sync += [shift.eq(answer), word_left.eq(self.word_bytes)]
                with m.Else():
                    m.d.comb += [self.o.valid.eq(1), crc.valid.eq(sent)]
                    hello = Array(Const(value, 8) for value in self.hello)
                    result = Value.cast(self.selftest_result.payload)
                    with m.If(status == Status.OK):
                        m.d.comb += self.o.payload.eq(shift[:8])
                    with m.Elif(status == Status.HELLO):
                        m.d.comb += self.o.payload.eq(hello[offset])
                    with m.Elif(status == Status.SELFTEST):
                        m.d.comb += self.o.payload.eq(result.word_select(offset, 8))
                    with m.Else():                    # VERSION
                        m.d.comb += self.o.payload.eq(PROTOCOL_VERSION)
                    with m.If(sent):
                        m.d.sync += [shift.eq(shift >> 8), left.eq(left - 1),
                                     offset.eq(offset + 1)]
                        with m.If(from_outputs):
                            m.d.sync += word_left.eq(word_left - 1)
                        with m.If(left == 1):
                            m.next = "check"
            with m.State("check"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(crc.crc.word_select(
                    header[:1], 8))]
                with m.If(sent):
                    m.d.sync += header.eq(header + 1)
                    with m.If(header == CRC_BYTES - 1):
                        m.d.comb += [self.selftest_done.eq(status == Status.SELFTEST),
                                     self.selftest_result.ready.eq(status == Status.SELFTEST)]
                        m.next = "idle"
        return m
