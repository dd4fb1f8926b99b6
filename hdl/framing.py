"""Gateware side of the serial frame format of :mod:`qnnhw.protocol`.

:class:`FrameReceiver` turns request bytes into input vectors (and NAKs), and
:class:`FrameTransmitter` turns outputs (and NAKs) into response bytes. Both check and make
the frame's CRC with :mod:`amaranth.lib.crc` (:data:`qnnhw.protocol.CRC`).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import CRC, REQUEST_SYNC, RESPONSE_SYNC, value_bytes

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
        if self.length > 255:
            raise ValueError(f"A frame holds at most 255 payload bytes, not {self.length}")
        self.timeout = timeout
        super().__init__({
            "i": In(stream.Signature(8, always_ready=True)),
            "line_error": In(1),
            "o": Out(stream.Signature(data.ArrayLayout(signed(input_bits), features))),
            "nak": Out(1),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.crc = crc = CRC.create()
        payload = Signal(8 * self.length)
        remaining = Signal(range(self.length + 1))
        silence = Signal(range(self.timeout + 1))
        byte = self.i.payload
        bad = Signal()   # a line error happened inside this frame

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
                m.d.sync += bad.eq(0)
                with m.If(self.i.valid & (byte == REQUEST_SYNC)):
                    m.next = "length"
            with m.State("length"):
                # The length byte starts the CRC.
                m.d.comb += [crc.start.eq(1), crc.valid.eq(self.i.valid)]
                with m.If(self.i.valid):
                    m.d.sync += remaining.eq(self.length)
                    # A length that does not fit is taken as a false sync: hunt again.
                    m.next = "payload" if self.length else "check"
                    with m.If(byte != self.length):
                        m.next = "hunt"
                with m.Elif(timed_out):
                    m.next = "hunt"
            with m.State("payload"):
                m.d.comb += crc.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += [payload.eq(Cat(payload[8:], byte)),
                                 remaining.eq(remaining - 1)]
                    with m.If(remaining == 1):
                        m.next = "check"
                with m.Elif(timed_out):
                    m.next = "hunt"
            with m.State("check"):
                with m.If(self.i.valid):
                    with m.If((byte == crc.crc) & ~bad & ~self.o.valid):
                        m.d.sync += self.o.valid.eq(1)
                        for index in range(self.features):
                            start = 8 * self.width * index
                            m.d.sync += self.o.payload[index].eq(
                                payload[start:start + self.input_bits])
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
    output_bits : int
        Width of the output; carried in ceil(output_bits/8) little-endian bytes.

    Attributes
    ----------
    i : In(stream.Signature(signed(output_bits)))
        Outputs to send.
    nak : In(1)
        Pulse to send a NAK frame (sent before the next output).
    o : Out(stream.Signature(8))
        Bytes for the UART transmitter.
    """

    def __init__(self, output_bits: int):
        self.output_bits = output_bits
        self.width = value_bytes(output_bits)
        super().__init__({
            "i": In(stream.Signature(signed(output_bits))),
            "nak": In(1),
            "o": Out(stream.Signature(8)),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.crc = crc = CRC.create()
        value = Signal(8 * self.width)
        length = Signal(8)
        index = Signal(range(self.width + 3))   # byte of the frame being offered
        nak_pending = Signal()
        sending = Signal()

        with m.If(self.nak):
            m.d.sync += nak_pending.eq(1)

        m.d.comb += self.i.ready.eq(~sending & ~nak_pending)
        with m.If(~sending):
            with m.If(nak_pending):
                m.d.sync += [sending.eq(1), length.eq(0), index.eq(0),
                             nak_pending.eq(self.nak)]
            with m.Elif(self.i.valid):
                m.d.sync += [sending.eq(1), length.eq(self.width), index.eq(0),
                             value.eq(self.i.payload.as_signed())]

        last = Signal()
        m.d.comb += [
            self.o.valid.eq(sending),
            last.eq(index == length + 2),
        ]
        with m.If(index == 0):
            m.d.comb += self.o.payload.eq(RESPONSE_SYNC)
        with m.Elif(index == 1):
            m.d.comb += self.o.payload.eq(length)
        with m.Elif(last):
            m.d.comb += self.o.payload.eq(crc.crc)
        with m.Else():
            m.d.comb += self.o.payload.eq(value.word_select((index - 2).as_unsigned(), 8))
        sent = self.o.valid & self.o.ready
        # The CRC covers the length byte (which starts it) and the payload.
        m.d.comb += [crc.data.eq(self.o.payload), crc.start.eq(index == 1),
                     crc.valid.eq(sent & (index != 0) & ~last)]
        with m.If(sent):
            m.d.sync += index.eq(index + 1)
            with m.If(last):
                m.d.sync += sending.eq(0)
        return m
