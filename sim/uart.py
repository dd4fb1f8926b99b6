"""A UART line driver and monitor for cocotb benches (8N1, ``divisor`` cycles per bit)."""

from __future__ import annotations

from cocotb.handle import LogicObject
from cocotb.queue import Queue
from cocotb.triggers import ClockCycles, FallingEdge

__all__ = ["UARTSink", "UARTSource"]


class UARTSource:
    """Drives bytes onto a serial input pin."""

    def __init__(self, pin: LogicObject, clock: LogicObject, divisor: int):
        self.pin = pin
        self.clock = clock
        self.divisor = divisor
        pin.value = 1

    async def write(self, data: bytes) -> None:
        for byte in data:
            for bit in [0, *((byte >> index) & 1 for index in range(8)), 1]:
                self.pin.value = bit
                await ClockCycles(self.clock, self.divisor)

    async def idle(self, bytes_: float) -> None:
        """Keep the line idle for the time of ``bytes_`` bytes."""
        self.pin.value = 1
        await ClockCycles(self.clock, int(bytes_ * 10 * self.divisor))


class UARTSink:
    """Collects bytes from a serial output pin into ``queue``; start with ``run()``."""

    def __init__(self, pin: LogicObject, clock: LogicObject, divisor: int):
        self.pin = pin
        self.clock = clock
        self.divisor = divisor
        self.queue: Queue[int] = Queue()

    async def run(self) -> None:
        while True:
            await FallingEdge(self.pin)
            await ClockCycles(self.clock, self.divisor // 2)   # middle of the start bit
            byte = 0
            for index in range(8):
                await ClockCycles(self.clock, self.divisor)
                byte |= int(self.pin.value) << index
            await ClockCycles(self.clock, self.divisor)        # stop bit
            assert int(self.pin.value) == 1, "framing error: stop bit is 0"
            self.queue.put_nowait(byte)
