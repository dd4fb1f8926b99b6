"""A driver and a monitor for ``amaranth.lib.stream`` interfaces in cocotb benches.

Both sample the handshake in the ReadOnly phase of each cycle (values the next rising edge
will see) and change their outputs right after the edge. With no stalls asked for, they skip
idle stretches by waiting on the handshake signal's edge instead of every clock cycle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from cocotb.handle import LogicObject
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["StreamDriver", "StreamMonitor", "pack_array"]


def pack_array(values: Sequence[int], width: int) -> int:
    """Pack signed integers into an ``ArrayLayout`` bus: element k in bits [k·w, (k+1)·w)."""
    word = 0
    for index, value in enumerate(values):
        word |= (value & ((1 << width) - 1)) << (index * width)
    return word


class _Clocked:
    def __init__(self, clock: LogicObject, period: int):  # period in ns
        self.clock = clock
        self.period = period

    def cycle(self) -> int:
        return round(get_sim_time("ns")) // self.period


class StreamDriver(_Clocked):
    """Sends words on a stream; with ``idle_probability`` it drops ``valid`` at random."""

    def __init__(self, bus_prefix: str, dut: Any, clock: LogicObject, period: int,
                 idle_probability: float = 0.0, rng: random.Random | None = None):
        super().__init__(clock, period)
        self.valid = getattr(dut, f"{bus_prefix}__valid")
        self.ready = getattr(dut, f"{bus_prefix}__ready")
        self.payload = getattr(dut, f"{bus_prefix}__payload")
        self.idle_probability = idle_probability
        self.rng = rng or random.Random(0)
        self.accepted_cycles: list[int] = []

    async def send(self, words: Sequence[int]) -> None:
        index = 0
        self.valid.value = 0
        while index < len(words):
            offer = self.idle_probability == 0 or self.rng.random() >= self.idle_probability
            self.valid.value = int(offer)
            if offer:
                self.payload.value = words[index]
            await ReadOnly()
            if offer and not int(self.ready.value) and self.idle_probability == 0:
                await RisingEdge(self.ready)   # skip the cycles of a long initiation interval
                await ReadOnly()
            fire = offer and bool(int(self.ready.value))
            await RisingEdge(self.clock)
            if fire:
                self.accepted_cycles.append(self.cycle())
                index += 1
        self.valid.value = 0


class StreamMonitor(_Clocked):
    """Receives words from a stream; with ``stall_probability`` it drops ``ready`` at random.

    Every received word goes to ``sink(word, cycle)``.
    """

    def __init__(self, bus_prefix: str, dut: Any, clock: LogicObject, period: int,
                 sink: Callable[[int, int], None], stall_probability: float = 0.0,
                 rng: random.Random | None = None, signed: bool = True):
        super().__init__(clock, period)
        self.valid = getattr(dut, f"{bus_prefix}__valid")
        self.ready = getattr(dut, f"{bus_prefix}__ready")
        self.payload = getattr(dut, f"{bus_prefix}__payload")
        self.sink = sink
        self.stall_probability = stall_probability
        self.rng = rng or random.Random(1)
        self.signed = signed

    async def receive(self, count: int) -> None:
        received = 0
        while received < count:
            take = self.stall_probability == 0 or self.rng.random() >= self.stall_probability
            self.ready.value = int(take)
            await ReadOnly()
            if take and not int(self.valid.value) and self.stall_probability == 0:
                await RisingEdge(self.valid)
                await ReadOnly()
            fire = take and bool(int(self.valid.value))
            word = None
            if fire:
                value = self.payload.value
                word = value.to_signed() if self.signed else value.to_unsigned()
            await RisingEdge(self.clock)
            if word is not None:
                self.sink(word, self.cycle())
                received += 1
        self.ready.value = 0
