"""cocotb bench of the board design: requests in on ``rx``, responses out on ``tx``.

It speaks the frame format through :mod:`qnnhw.protocol`, the code the host client uses, and
checks every prediction against the integer reference. Stimulus and reference come from the
JSON file named by ``QNNHW_BENCH``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, with_timeout
from qnnhw.sim.uart import UARTSink, UARTSource

from qnnhw import protocol

PERIOD = 10  # ns


def load_bench() -> dict:
    with open(os.environ["QNNHW_BENCH"], encoding="utf-8") as file:
        return json.load(file)


class Host:
    """The host side of the link, built on qnnhw.protocol like qnnhw.client."""

    def __init__(self, dut: Any, bench: dict):
        self.bench = bench
        self.source = UARTSource(dut.rx, dut.clk, bench["divisor"])
        self.sink = UARTSink(dut.tx, dut.clk, bench["divisor"])
        self.decoder = protocol.ResponseDecoder(protocol.ResponseFormat(
            bench["output_bits"], bench["outputs"], bench["scores"]))
        self.frame_cycles = 10 * bench["divisor"] * 16
        cocotb.start_soon(self.sink.run())

    def request(self, vector: list[int]) -> bytes:
        return protocol.encode_request(vector, self.bench["input_bits"])

    async def response(self) -> protocol.Response:
        while True:
            byte = await with_timeout(self.sink.queue.get(),
                                      self.frame_cycles * 4 * PERIOD, "ns")
            responses = self.decoder.feed(bytes([byte]))
            if responses:
                return responses[0]

    async def no_response(self) -> None:
        await ClockCycles(self.source.clock, self.frame_cycles)
        assert self.sink.queue.empty(), "the board answered a frame it should have dropped"


async def start(dut: Any) -> Host:
    Clock(dut.clk, PERIOD, unit="ns").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    return Host(dut, load_bench())


@cocotb.test()
async def answers_every_request(dut: Any) -> None:
    """Each request frame gets the reference output (or class and scores), bit for bit."""
    host = await start(dut)
    for vector, expected in zip(host.bench["inputs"], host.bench["expected"]):
        await host.source.write(host.request(vector))
        response = await host.response()
        scores = None if response.scores is None else list(response.scores)
        assert (response.value, scores) == (expected["value"], expected["scores"]), (
            vector, response, expected)


@cocotb.test()
async def recovers_from_line_errors(dut: Any) -> None:
    """A corrupted byte gets a NAK, a lost byte costs one frame, noise before a frame
    (a false sync byte included) is skipped; every good frame after them is answered."""
    host = await start(dut)
    vector, expected = host.bench["inputs"][0], host.bench["expected"][0]["value"]
    good = host.request(vector)

    corrupted = bytearray(good)
    corrupted[1 + protocol.LENGTH_BYTES] ^= 0x10            # the first payload byte
    await host.source.write(bytes(corrupted))
    assert (await host.response()).value is None           # NAK

    payload = 1 + protocol.LENGTH_BYTES
    await host.source.write(good[:payload] + good[payload + 1:])   # one payload byte lost
    await host.source.idle(protocol.FRAME_TIMEOUT_BYTES + 1)
    await host.no_response()

    await host.source.write(bytes([0x00, protocol.REQUEST_SYNC, 0x7F, 0x13]) + good)
    assert (await host.response()).value == expected

    await host.source.write(good)
    assert (await host.response()).value == expected
