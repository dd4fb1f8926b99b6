"""cocotb test bench of the bilinear datapath (run by :mod:`sim.runner`).

The host writes the stimulus and the reference output words (y, or for C outputs the class
and the scores packed as the datapath's output layout) to the JSON file named by
``QNNHW_BENCH``; each test appends what it measured to the JSON file named by
``QNNHW_RESULTS``. Every output is compared bit for bit with the integer reference.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sim.benchfiles import load_bench, record
from sim.stream import StreamDriver, StreamMonitor, pack_array

PERIOD = 10  # ns per clock cycle


class Scoreboard:
    """Checks outputs in order against the reference; keeps every mismatch."""

    def __init__(self, expected: list[int]):
        self.expected = deque(enumerate(expected))
        self.outputs: list[int] = []
        self.cycles: list[int] = []
        self.mismatches: list[dict] = []

    def __call__(self, word: int, cycle: int) -> None:
        index, expected = self.expected.popleft()
        self.outputs.append(word)
        self.cycles.append(cycle)
        if word != expected:
            self.mismatches.append({"vector": index, "hardware": word, "reference": expected})


async def reset(dut: Any) -> None:
    Clock(dut.clk, PERIOD, unit="ns").start()
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def run(dut: Any, name: str, idle: float, stall: float, count: int) -> None:
    bench = load_bench()
    await reset(dut)
    words = [pack_array(vector, bench["input_bits"]) for vector in bench["inputs"][:count]]
    scoreboard = Scoreboard(bench["expected"][:count])
    rng = random.Random(bench["seed"])
    driver = StreamDriver("i", dut, dut.clk, PERIOD, idle_probability=idle,
                          rng=random.Random(rng.random()))
    monitor = StreamMonitor("o", dut, dut.clk, PERIOD, scoreboard, stall_probability=stall,
                            rng=random.Random(rng.random()), signed=bench["signed"])
    start = time.perf_counter()
    receiving = cocotb.start_soon(monitor.receive(len(words)))
    await driver.send(words)
    await receiving
    accepted = driver.accepted_cycles
    record(name, {
        "seconds": time.perf_counter() - start,
        "outputs": scoreboard.outputs,
        "mismatches": scoreboard.mismatches,
        "latencies": [out - into for into, out in zip(accepted, scoreboard.cycles)],
        "intervals": [b - a for a, b in zip(accepted, accepted[1:])],
        "cycles": scoreboard.cycles[-1] - accepted[0] if accepted else 0,
    })
    assert not scoreboard.mismatches, (
        f"{len(scoreboard.mismatches)} outputs differ from the reference, first: "
        f"{scoreboard.mismatches[0]}")


@cocotb.test()
async def full_rate(dut: Any) -> None:
    """Back-to-back vectors, consumer always ready: exact outputs, latency and interval."""
    bench = load_bench()
    await run(dut, "full_rate", 0.0, 0.0, len(bench["inputs"]))
    with open(os.environ["QNNHW_RESULTS"], encoding="utf-8") as file:
        measured = json.load(file)["full_rate"]
    assert set(measured["latencies"]) == {bench["latency"]}, measured["latencies"][:10]
    assert set(measured["intervals"]) <= {bench["initiation_interval"]}, \
        measured["intervals"][:10]


@cocotb.test()
async def random_stalls(dut: Any) -> None:
    """Random gaps on the input and random backpressure on the output."""
    bench = load_bench()
    await run(dut, "random_stalls", bench["idle_probability"], bench["stall_probability"],
              bench["stall_vectors"])
