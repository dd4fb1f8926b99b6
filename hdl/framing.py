"""Gateware side of the serial frame format of :mod:`qnnhw.protocol`.

:class:`FrameReceiver` turns request bytes into input vectors (and NAKs), and
:class:`FrameTransmitter` turns outputs (and NAKs) into response bytes. Both check and make
the frame's CRC with :mod:`amaranth.lib.crc` (:func:`qnnhw.protocol.frame_check`).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, ShapeLike, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import (
    LENGTH_BYTES,
    MAX_PAYLOAD,
    REQUEST_SYNC,
    RESPONSE_SYNC,
    ResponseFormat,
    frame_check,
    value_bytes,
)

__all__ = ["FrameReceiver", "FrameTransmitter"]


class FrameReceiver(wiring.Component):
    """Parses request frames into input vectors.

    Parameters
    ----------
    features : int
        Features per vector.
    input_bits : int
        Bits per feature; each is carried in ceil(input_bits/8) little-endian bytes.
    timeout : int
        Clock cycles of silence after which a partial frame is dropped.

    Attributes
    ----------
    i : In(stream.Signature(8, always_ready=True))
        Received bytes, as the UART receiver delivers them.
    line_error : In(1)
        A framing error from the UART: the frame under way is rejected.
    o : Out(stream.Signature(data.ArrayLayout(signed(input_bits), features)))
        One vector per good frame.
    nak : Out(1)
        Pulses when a complete frame is rejected (bad CRC, a line error, or a vector still
        waiting in ``o``).
    """

    def __init__(self, features: int, input_bits: int, timeout: int):
        self.features = features
        self.input_bits = input_bits
        self.width = value_bytes(input_bits)
        self.length = features * self.width
        if self.length > MAX_PAYLOAD:
            raise ValueError(f"A frame holds at most {MAX_PAYLOAD} payload bytes, not "
                             f"{self.length}")
        self.timeout = timeout
        super().__init__({
            "i": In(stream.Signature(8, always_ready=True)),
            "line_error": In(1),
            "o": Out(stream.Signature(data.ArrayLayout(signed(input_bits), features))),
            "nak": Out(1),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.crc = crc = frame_check().create()
        payload = Signal(8 * self.length)
        remaining = Signal(range(self.length + 1))
        length_byte = Signal(range(LENGTH_BYTES))
        silence = Signal(range(self.timeout + 1))
        byte = self.i.payload
        bad = Signal()   # a line error happened inside this frame
        # The vector is read straight from the byte buffer, which holds still while it
        # waits in ``o``; a frame whose bytes came meanwhile was not kept and is refused.
        missed = Signal()
        for index in range(self.features):
            start = 8 * self.width * index
            m.d.comb += self.o.payload[index].eq(payload[start:start + self.input_bits])

        m.d.comb += crc.data.eq(byte)
        m.d.sync += self.nak.eq(0)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid):
            m.d.sync += silence.eq(0)
        with m.Elif(silence != self.timeout):
            m.d.sync += silence.eq(silence + 1)

        timed_out = ~self.i.valid & (silence == self.timeout)
        with m.FSM() as fsm:
            with m.State("hunt"):
                m.d.sync += [bad.eq(0), missed.eq(0), length_byte.eq(0)]
                with m.If(self.i.valid & (byte == REQUEST_SYNC)):
                    m.next = "length"
            with m.State("length"):
                # The first length byte starts the CRC; the length is little-endian.
                m.d.comb += [crc.start.eq(length_byte == 0), crc.valid.eq(self.i.valid)]
                expected = self.length.to_bytes(LENGTH_BYTES, "little")
                with m.If(self.i.valid):
                    m.d.sync += [remaining.eq(self.length), length_byte.eq(length_byte + 1)]
                    with m.If(length_byte == LENGTH_BYTES - 1):
                        m.next = "payload" if self.length else "check"
                    # A length that does not fit is taken as a false sync: hunt again.
                    for index, value in enumerate(expected):
                        with m.If((length_byte == index) & (byte != value)):
                            m.next = "hunt"
                with m.Elif(timed_out):
                    m.next = "hunt"
            with m.State("payload"):
                m.d.comb += crc.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += remaining.eq(remaining - 1)
                    with m.If(self.o.valid):
                        m.d.sync += missed.eq(1)
                    with m.Else():
                        m.d.sync += payload.eq(Cat(payload[8:], byte))
                    with m.If(remaining == 1):
                        m.next = "check"
                with m.Elif(timed_out):
                    m.next = "hunt"
            with m.State("check"):
                with m.If(self.i.valid):
                    with m.If((byte == crc.crc) & ~bad & ~missed & ~self.o.valid):
                        m.d.sync += self.o.valid.eq(1)
                    with m.Else():
                        m.d.sync += self.nak.eq(1)
                    m.next = "hunt"
                with m.Elif(timed_out):
                    m.next = "hunt"
        with m.If(self.line_error & ~fsm.ongoing("hunt")):
            m.d.sync += bad.eq(1)
        return m


class FrameTransmitter(wiring.Component):
    """Sends each output as a response frame, and a NAK frame for each ``nak`` pulse.

    Parameters
    ----------
    response : ResponseFormat
        What a response carries (:mod:`qnnhw.protocol`).
    shape : shape-like
        The datapath's output word (:func:`hdl.folding.output_shape`).

    Attributes
    ----------
    i : In(stream.Signature(shape))
        Outputs to send.
    nak : In(1)
        Pulse to send a NAK frame (sent before the next output).
    o : Out(stream.Signature(8))
        Bytes for the UART transmitter.
    """

    def __init__(self, response: ResponseFormat, shape: ShapeLike):
        self.response = response
        self.length = response.payload_bytes
        super().__init__({
            "i": In(stream.Signature(shape)),
            "nak": In(1),
            "o": Out(stream.Signature(8)),
        })

    def _payload(self, m: Module) -> Value:
        """The response payload for the output word on ``i``, first byte lowest: y
        sign-extended to whole bytes, or the class (one byte) and the scores likewise."""
        response, word = self.response, self.i.payload
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
        header = 1 + LENGTH_BYTES
        value = Signal(8 * self.length)
        length = Signal(8 * LENGTH_BYTES)
        index = Signal(range(header + self.length + 1))   # byte of the frame being offered
        nak_pending = Signal()
        sending = Signal()
        payload = self._payload(m)

        with m.If(self.nak):
            m.d.sync += nak_pending.eq(1)

        m.d.comb += self.i.ready.eq(~sending & ~nak_pending)
        with m.If(~sending):
            with m.If(nak_pending):
                m.d.sync += [sending.eq(1), length.eq(0), index.eq(0),
                             nak_pending.eq(self.nak)]
            with m.Elif(self.i.valid):
                m.d.sync += [sending.eq(1), length.eq(self.length), index.eq(0),
                             value.eq(payload)]

        last = Signal()
        m.d.comb += [
            self.o.valid.eq(sending),
            last.eq(index == length + header),
        ]
        with m.If(index == 0):
            m.d.comb += self.o.payload.eq(RESPONSE_SYNC)
        for byte in range(LENGTH_BYTES):
            with m.Elif(index == 1 + byte):
                m.d.comb += self.o.payload.eq(length.word_select(byte, 8))
        with m.Elif(last):
            m.d.comb += self.o.payload.eq(crc.crc)
        with m.Else():
            m.d.comb += self.o.payload.eq(value.word_select((index - header).as_unsigned(), 8))
        sent = self.o.valid & self.o.ready
        # The CRC covers the length bytes (the first starts it) and the payload.
        m.d.comb += [crc.data.eq(self.o.payload), crc.start.eq(index == 1),
                     crc.valid.eq(sent & (index != 0) & ~last)]
        with m.If(sent):
            m.d.sync += index.eq(index + 1)
            with m.If(last):
                m.d.sync += sending.eq(0)
        return m
