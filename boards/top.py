"""Top level for a board: the serial inference engine on the board's UART pins."""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io
from qnnhw.hdl.serial import SerialInference

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """Puts a :class:`~qnnhw.hdl.serial.SerialInference` on the platform's ``uart`` 0.

    The design runs in the platform's default clock domain.
    """

    def __init__(self, engine: SerialInference):
        self.engine = engine

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.engine = engine = self.engine
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [engine.rx.eq(rx.i), tx.o.eq(engine.tx)]
        return m
