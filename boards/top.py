"""Top level for a board: the serial inference engine on the board's UART pins."""

from __future__ import annotations

from typing import Any

from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib import io

from hdl.serial import SerialInference

from .clocking import PLLClock

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """Puts a :class:`~hdl.serial.SerialInference` on the platform's ``uart`` 0.

    The design runs from ``clock`` (a :class:`~boards.clocking.PLLClock`), or without
    it in the platform's default clock domain (the board's oscillator).
    """

    def __init__(self, engine: SerialInference, clock: PLLClock | None = None):
        self.engine = engine
        self.clock = clock

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        if self.clock is not None:
            m.domains.sync = sync = ClockDomain("sync")
            platform.add_clock_constraint(sync.clk, self.clock.settings.f_out)
            m.submodules.pll = self.clock
        m.submodules.engine = engine = self.engine
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [engine.rx.eq(rx.i), tx.o.eq(engine.tx)]
        return m
