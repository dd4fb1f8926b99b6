"""The datapath behind a UART: what a board runs (see :mod:`qnnhw.protocol`)."""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import (
    ANSWER_BUFFER,
    FRAME_TIMEOUT_BYTES,
    MAX_VECTORS,
    PROTOCOL_VERSION,
    Hello,
    ResponseFormat,
)

from .folding import FoldedDatapath, output_shape, output_word_width
from .framing import FrameReceiver, FrameTransmitter
from .selftest import SelfTest
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["SerialInference"]


class SerialInference(wiring.Component):
    """A datapath that takes request frames on ``rx`` and answers on ``tx``.

    rx → UART receiver → frame receiver → datapath → response FIFO → frame transmitter →
    UART transmitter → tx, with the self-test's generator and signature switched in front of
    and behind the datapath while it runs. Frames that fail their check are answered with a
    NAK; several frames may be in flight (each answer carries its request's seq).

    Parameters
    ----------
    datapath : FoldedDatapath
    divisor : int
        Clock cycles per UART bit (clock frequency ÷ baud rate).
    clock_hz : int
        The clock, as the HELLO answer reports it.
    design_id : int
        The design's identity (:func:`qnnhw.protocol.design_id`), in the HELLO answer.

    With C outputs, answers carry the C scores after the class when the datapath's output
    words do (its ``scores``).

    Attributes
    ----------
    rx : In(1)
    tx : Out(1)
    """

    def __init__(self, datapath: FoldedDatapath, divisor: int, clock_hz: int = 0,
                 design_id: int = 0):
        self.datapath = datapath
        self.divisor = divisor
        spec = datapath.spec
        self.response = ResponseFormat.for_spec(spec, datapath.scores)
        self.hello = Hello(PROTOCOL_VERSION, spec.features, spec.input_bits, spec.outputs,
                           spec.output_width, datapath.scores, MAX_VECTORS, int(clock_hz),
                           design_id, datapath.initiation_interval,
                           ANSWER_BUFFER + datapath.fifo_depth)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec = self.datapath.spec
        shape = output_shape(spec, self.datapath.scores)
        m.submodules.uart_rx = uart_rx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTransmitter(self.divisor)
        m.submodules.frames_in = frames_in = FrameReceiver(
            spec.features, spec.input_bits, FRAME_TIMEOUT_BYTES * 10 * self.divisor,
            MAX_VECTORS)
        m.submodules.frames_out = frames_out = FrameTransmitter(
            self.response, shape, self.hello.encode(), MAX_VECTORS)
        m.submodules.selftest = selftest = SelfTest(spec.features, spec.input_bits, shape)
        m.submodules.datapath = datapath = self.datapath
        # A frame's outputs wait here until its check has been read and its record reaches
        # the transmitter, and while the answers of the frame before are sent.
        m.submodules.answers = answers = fifo.SyncFIFOBuffered(
            width=output_word_width(spec, self.datapath.scores), depth=ANSWER_BUFFER)

        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     frames_in.line_error.eq(uart_rx.error),
                     frames_in.selftest_done.eq(frames_out.selftest_done),
                     frames_out.selftest_count.eq(frames_in.selftest_count)]
        wiring.connect(m, uart_rx.o, frames_in.i)
        wiring.connect(m, frames_in.records, frames_out.records)
        wiring.connect(m, frames_out.selftest_start, selftest.start)
        wiring.connect(m, selftest.result, frames_out.selftest_result)
        wiring.connect(m, frames_out.o, uart_tx.i)

        # The datapath's input and output belong to the self-test while it runs (no frame
        # forwards a vector then: the receiver holds them off from the SELFTEST record on).
        with m.If(selftest.active):
            m.d.comb += [datapath.i.payload.eq(selftest.vectors.payload),
                         datapath.i.valid.eq(selftest.vectors.valid),
                         selftest.vectors.ready.eq(datapath.i.ready),
                         selftest.outputs.payload.eq(datapath.o.payload),
                         selftest.outputs.valid.eq(datapath.o.valid),
                         datapath.o.ready.eq(selftest.outputs.ready)]
        with m.Else():
            m.d.comb += [datapath.i.payload.eq(frames_in.vectors.payload),
                         datapath.i.valid.eq(frames_in.vectors.valid),
                         frames_in.vectors.ready.eq(datapath.i.ready),
                         answers.w_data.eq(datapath.o.payload),
                         answers.w_en.eq(datapath.o.valid),
                         datapath.o.ready.eq(answers.w_rdy)]
        m.d.comb += [frames_out.outputs.payload.eq(answers.r_data),
                     frames_out.outputs.valid.eq(answers.r_rdy),
                     answers.r_en.eq(frames_out.outputs.ready)]
        return m
