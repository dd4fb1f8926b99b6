"""cocotb bench of the board design: requests in on ``rx``, responses out on ``tx``.

It speaks the frame format through :mod:`qnnhw.protocol`, the code the host client uses, and
checks every prediction against the integer reference. Stimulus and reference come from the
JSON file named by ``QNNHW_BENCH``.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout

from qnnhw import protocol
from sim.benchfiles import load_bench, record
from sim.uart import UARTSink, UARTSource

PERIOD = 10  # ns


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


def inject(frame: bytes, fault: str, rng: random.Random) -> bytes:
    """``frame`` with one fault: a flipped bit, a dropped or duplicated byte, or garbage
    (sync bytes included) before it."""
    data = bytearray(frame)
    index = rng.randrange(len(data))
    if fault == "flip":
        data[index] ^= 1 << rng.randrange(8)
    elif fault == "drop":
        del data[index]
    elif fault == "duplicate":
        data.insert(index, data[index])
    elif fault == "garbage":
        noise = bytes(rng.choice((protocol.REQUEST_SYNC, rng.randrange(256)))
                      for _ in range(rng.randint(1, 6)))
        data[:0] = noise
    return bytes(data)


@cocotb.test()
async def survives_injected_faults(dut: Any) -> None:
    """``faults`` requests (from the bench file) each go out with one injected fault, then
    as the host's client does: on a NAK or silence, wait out the board's frame timeout and
    send the request again. No answer may differ from the reference, and every request
    must be answered."""
    host = await start(dut)
    bench = host.bench
    rng = random.Random(bench.get("seed", 0))
    kinds = ("flip", "drop", "duplicate", "garbage")
    counts = {kind: 0 for kind in kinds}
    answered = wrong = 0
    for number in range(bench.get("faults", 0)):
        index = number % len(bench["inputs"])
        vector, expected = bench["inputs"][index], bench["expected"][index]
        fault = kinds[number % len(kinds)]
        counts[fault] += 1
        frame = host.request(vector)
        await host.source.write(inject(frame, fault, rng))
        for _ in range(3):
            try:
                response = await host.response()
            except SimTimeoutError:
                response = None
            if response is not None and response.value is not None:
                scores = None if response.scores is None else list(response.scores)
                wrong += (response.value, scores) != (expected["value"], expected["scores"])
                answered += 1
                break
            # A NAK or silence: let the board drop what it holds, then resend cleanly.
            await host.source.idle(protocol.FRAME_TIMEOUT_BYTES + 1)
            _drain(host)
            await host.source.write(frame)
        # Let any late bytes of this exchange pass before the next request.
        await host.source.idle(protocol.FRAME_TIMEOUT_BYTES + 1)
        responses = host.decoder.feed(bytes(_drain(host)))
        wrong += sum(1 for late in responses if late.value is not None)
    result = {"faults": counts, "answered": answered, "wrong": wrong}
    record("survives_injected_faults", result)
    assert wrong == 0, result
    assert answered == bench.get("faults", 0), result


def _drain(host: Host) -> list[int]:
    drained = []
    while not host.sink.queue.empty():
        drained.append(host.sink.queue.get_nowait())
    return drained
