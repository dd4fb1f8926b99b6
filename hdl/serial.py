"""The datapath behind a UART: what a board runs (see :mod:`qnnhw.protocol`)."""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import FRAME_TIMEOUT_BYTES, ResponseFormat

from .folding import FoldedDatapath, output_shape
from .framing import FrameReceiver, FrameTransmitter
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["SerialInference"]


class SerialInference(wiring.Component):
    """A datapath (bilinear or threshold) that takes request frames on ``rx`` and answers on ``tx``.

    rx → UART receiver → frame receiver → datapath → frame transmitter → UART transmitter → tx.
    Frames that fail their check are answered with a NAK.

    Parameters
    ----------
    datapath : FoldedDatapath
    divisor : int
        Clock cycles per UART bit (clock frequency ÷ baud rate).

    With C outputs, responses carry the C scores after the class when the datapath's output
    words do (its ``scores``).

    Attributes
    ----------
    rx : In(1)
    tx : Out(1)
    """

    def __init__(self, datapath: FoldedDatapath, divisor: int):
        self.datapath = datapath
        self.divisor = divisor
        self.response = ResponseFormat.for_spec(datapath.spec, datapath.scores)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec = self.datapath.spec
        m.submodules.uart_rx = uart_rx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTransmitter(self.divisor)
        m.submodules.frames_in = frames_in = FrameReceiver(
            spec.features, spec.input_bits, timeout=FRAME_TIMEOUT_BYTES * 10 * self.divisor)
        m.submodules.frames_out = frames_out = FrameTransmitter(
            self.response, output_shape(spec, self.datapath.scores))
        m.submodules.datapath = datapath = self.datapath

        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     frames_in.line_error.eq(uart_rx.error),
                     frames_out.nak.eq(frames_in.nak)]
        wiring.connect(m, uart_rx.o, frames_in.i)
        wiring.connect(m, frames_in.o, datapath.i)
        wiring.connect(m, datapath.o, frames_out.i)
        wiring.connect(m, frames_out.o, uart_tx.i)
        return m
