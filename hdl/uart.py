"""8N1 UART transmitter and receiver with stream interfaces.

One start bit (0), eight data bits LSB first, one stop bit (1); ``divisor`` clock cycles per
bit. The receiver synchronises ``rx`` through two flip-flops, confirms the start bit at its
middle and samples every bit at its middle.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter"]


def _check_divisor(divisor: int) -> None:
    if not isinstance(divisor, int) or isinstance(divisor, bool):
        raise TypeError(f"Divisor must be an integer, not {divisor!r}")
    if divisor < 4:
        raise ValueError(f"Divisor must be at least 4 clock cycles per bit, not {divisor}")


class UARTTransmitter(wiring.Component):
    """Sends each byte of its input stream on ``tx``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency ÷ baud rate), at least 4.

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes to send; a byte is taken when the line is idle.
    tx : Out(1)
        The serial line, idle high.
    """

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        shift = Signal(10)   # stop bit, 8 data bits, start bit: sent LSB first
        bits_left = Signal(range(11))
        timer = Signal(range(self.divisor))

        m.d.comb += self.i.ready.eq(bits_left == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(0, self.i.payload, 1)), bits_left.eq(10),
                         timer.eq(self.divisor - 1), self.tx.eq(0)]
        with m.Elif(bits_left != 0):
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self.divisor - 1), bits_left.eq(bits_left - 1)]
                m.d.sync += shift.eq(shift >> 1)
                # After the last bit (the stop bit) the line stays high.
                m.d.sync += self.tx.eq(Cat(shift[1], bits_left == 1).any())
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UARTReceiver(wiring.Component):
    """Receives bytes from ``rx`` into its output stream.

    The line cannot be stalled, so the output stream is ``always_ready``: its consumer must
    take each byte on the cycle it is valid. A byte whose stop bit is 0 is dropped and pulses
    ``error``.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency ÷ baud rate), at least 4.

    Attributes
    ----------
    rx : In(1)
        The serial line (asynchronous; synchronised inside).
    o : Out(stream.Signature(8, always_ready=True))
        Received bytes, each valid for one cycle.
    error : Out(1)
        Pulses on a framing error (stop bit 0).
    """

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1),
                          "o": Out(stream.Signature(8, always_ready=True)),
                          "error": Out(1)})

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(10))
        shift = Signal(9)   # data bits then the stop bit, shifted in from the top

        m.d.sync += [self.o.valid.eq(0), self.error.eq(0)]
        with m.FSM():
            with m.State("idle"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "start"
            with m.State("start"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.next = "idle"   # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bits.eq(9)]
                        m.next = "data"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("data"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits - 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bits == 1):
                        m.next = "stop"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("stop"):
                # shift holds 8 data bits and the stop bit; wait out the stop bit's second
                # half only when the line is still low (a break), otherwise rearm at once.
                with m.If(shift[8]):
                    m.d.sync += [self.o.payload.eq(shift[:8]), self.o.valid.eq(1)]
                    m.next = "idle"
                with m.Else():
                    m.d.sync += self.error.eq(1)
                    m.next = "break"
            with m.State("break"):
                with m.If(rx):
                    m.next = "idle"
        return m
