"""cocotb bench of the board design: requests in on ``rx``, responses out on ``tx``.

It speaks the frame format through :mod:`qnnhw.protocol` — the pipelined client's own code,
:class:`~qnnhw.protocol.Pipeline` — at the board's clock and baud rate, and checks every
answer against the integer reference. Stimulus and reference come from the JSON file named
by ``QNNHW_BENCH``.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, with_timeout
from cocotb.utils import get_sim_time

from qnnhw import protocol
from sim.benchfiles import load_bench, record
from sim.uart import UARTSink, UARTSource


class Host:
    """The host side of the link, built on qnnhw.protocol like qnnhw.client."""

    def __init__(self, dut: Any, bench: dict):
        self.bench = bench
        self.dut = dut
        self.source = UARTSource(dut.rx, dut.clk, bench["divisor"])
        self.sink = UARTSink(dut.tx, dut.clk, bench["divisor"])
        self.format = protocol.ResponseFormat(bench["output_bits"], bench["outputs"],
                                              bench["scores"])
        self.decoder = protocol.ReplyDecoder(self.format)
        self.byte_cycles = 10 * bench["divisor"]
        cocotb.start_soon(self.sink.run())

    def now(self) -> float:
        """Simulated seconds."""
        return get_sim_time("ps") * 1e-12

    def drain(self) -> bytes:
        drained = bytearray()
        while not self.sink.queue.empty():
            drained.append(self.sink.queue.get_nowait())
        return bytes(drained)

    async def reply(self, frames: int = 16) -> protocol.Reply:
        """The next response frame (within the time of ``frames`` frames of 64 bytes)."""
        while True:
            byte = await with_timeout(self.sink.queue.get(),
                                      frames * 64 * self.byte_cycles * self.bench["period_ps"],
                                      "ps")
            replies = self.decoder.feed(bytes([byte]))
            if replies:
                return replies[0]

    async def no_reply(self) -> None:
        await ClockCycles(self.source.clock, 64 * self.byte_cycles)
        assert self.sink.queue.empty(), "the board answered a frame it should have dropped"

    async def pipelined(self, vectors: list[list[int]], *, faults: int = 0,
                        rng: random.Random | None = None) -> tuple[protocol.Pipeline, float]:
        """Send ``vectors`` as the client does (the window and frames of the bench file);
        the first ``faults`` new frames get one injected fault each (their resends go out
        clean). Returns the pipeline and the simulated seconds from the first byte to the
        last answer."""
        bench = self.bench
        frame_bytes = (protocol.OVERHEAD_BYTES + bench["per_frame"] * protocol.vector_bytes(
            bench["features"], bench["input_bits"]))
        frame_seconds = frame_bytes * self.byte_cycles * bench["period_ps"] * 1e-12
        hello = protocol.Hello.decode(bytes.fromhex(bench["hello"]))
        per_frame, pace = hello.pacing(1e12 / (bench["period_ps"] * bench["divisor"]))
        per_frame = min(per_frame, bench["per_frame"])
        pipeline = protocol.Pipeline(vectors, bench["input_bits"], self.format,
                                     per_frame=per_frame, window=bench["window"],
                                     capacity=hello.buffered, pace=pace,
                                     timeout=(bench["window"] + 4) * frame_seconds
                                     + per_frame * pace, retries=8)
        started, faulted = self.now(), 0
        while not pipeline.done:
            frames = pipeline.to_send(self.now())
            for index, frame in enumerate(frames):
                if index >= pipeline.resending and faulted < faults:
                    assert rng is not None
                    frame = inject(frame, FAULTS[faulted % len(FAULTS)], rng)
                    faulted += 1
                await self.source.write(frame)
                pipeline.feed(self.drain(), self.now())
            if not frames:
                await ClockCycles(self.source.clock, self.byte_cycles)
                pipeline.feed(self.drain(), self.now())
        return pipeline, self.now() - started


async def start(dut: Any) -> Host:
    bench = load_bench()
    Clock(dut.clk, bench["period_ps"], unit="ps").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    return Host(dut, bench)


def _matches(answer: protocol.Response | None, expected: dict) -> bool:
    if answer is None:
        return False
    scores = None if answer.scores is None else list(answer.scores)
    return (answer.value, scores) == (expected["value"], expected["scores"])


@cocotb.test()
async def answers_every_request(dut: Any) -> None:
    """Every vector, sent as the pipelined client sends them, gets the reference output
    (or class and scores), bit for bit; the link's measured rate is recorded."""
    host = await start(dut)
    bench = host.bench
    pipeline, seconds = await host.pipelined(bench["inputs"])
    mismatches = sum(not _matches(answer, expected)
                     for answer, expected in zip(pipeline.answers, bench["expected"]))
    record("answers_every_request", {
        "vectors": len(bench["inputs"]), "mismatches": mismatches, "seconds": seconds,
        "inferences_per_second": len(bench["inputs"]) / seconds, "resent": pipeline.resent})
    assert mismatches == 0 and pipeline.resent == 0


@cocotb.test()
async def describes_itself_and_runs_the_self_test(dut: Any) -> None:
    """HELLO is answered with the design's description; SELFTEST N with the signature of
    the reference's outputs for the generator's N vectors, and the cycles it took."""
    host = await start(dut)
    bench = host.bench
    await host.source.write(protocol.request(protocol.Command.HELLO, 3))
    reply = await host.reply()
    assert (reply.status, reply.seq) == (protocol.Status.HELLO, 3)
    assert reply.hello == protocol.Hello.decode(bytes.fromhex(bench["hello"])), reply
    count = bench["selftest_count"]
    await host.source.write(protocol.request(protocol.Command.SELFTEST, 4,
                                             count.to_bytes(protocol.COUNT_BYTES, "little")))
    reply = await host.reply(frames=16 + count * bench["initiation_interval"]
                             // (64 * host.byte_cycles))
    assert reply.status is protocol.Status.SELFTEST and reply.selftest is not None, reply
    record("selftest", {"vectors": count, "signature": reply.selftest.signature,
                        "cycles": reply.selftest.cycles})
    assert reply.selftest.signature == bench["selftest_signature"], reply


@cocotb.test()
async def recovers_from_line_errors(dut: Any) -> None:
    """A corrupted byte gets a NAK, a lost byte costs one frame, noise before a frame
    (a false sync byte included) is skipped, another protocol version's HELLO is answered
    VERSION; every good frame after them is answered."""
    host = await start(dut)
    bench = host.bench
    vector, expected = bench["inputs"][0], bench["expected"][0]
    payload = protocol.pack_vectors([vector], bench["input_bits"])
    good = protocol.request(protocol.Command.INFER, 9, payload)

    corrupted = bytearray(good)
    corrupted[protocol.HEADER_BYTES] ^= 0x10            # the first payload byte
    await host.source.write(bytes(corrupted))
    assert (await host.reply()) == protocol.Reply(protocol.Status.NAK, 9)

    await host.source.write(good[:protocol.HEADER_BYTES] + good[protocol.HEADER_BYTES + 1:])
    await host.source.idle(protocol.FRAME_TIMEOUT_BYTES + 1)
    await host.no_reply()

    await host.source.write(bytes([0x00, protocol.REQUEST_SYNC, 0x7F, 0x13]) + good)
    reply = await host.reply()
    assert reply.seq == 9 and _matches(reply.answers[0], expected), reply

    await host.source.write(protocol.request(protocol.Command.HELLO, 10, version=3))
    assert (await host.reply()) == protocol.Reply(protocol.Status.VERSION, 10)

    await host.source.write(good)
    reply = await host.reply()
    assert reply.seq == 9 and _matches(reply.answers[0], expected), reply


FAULTS = ("flip", "drop", "duplicate", "garbage")


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
    """The first ``faults`` frames the pipelined client writes (from the bench file) each go
    out with one injected fault; the client resends what the board refused or lost. No
    answer may differ from the reference, and every vector must be answered."""
    host = await start(dut)
    bench = host.bench
    faults = bench.get("faults", 0)
    if not faults:
        return
    rng = random.Random(bench.get("seed", 0))
    # Enough frames that every fault lands on a frame of its own.
    vectors = [bench["inputs"][k % len(bench["inputs"])]
               for k in range(faults * bench["per_frame"])]
    expected = [bench["expected"][k % len(bench["expected"])] for k in range(len(vectors))]
    answers: list[protocol.Response | None] = [None] * len(vectors)
    resent, failed = 0, False
    try:
        pipeline, _ = await host.pipelined(vectors, faults=faults, rng=rng)
        answers, resent = pipeline.answers, pipeline.resent
    except protocol.LinkFailure:
        failed = True
    answered = sum(answer is not None for answer in answers)
    wrong = sum(answer is not None and not _matches(answer, reference)
                for answer, reference in zip(answers, expected))
    result = {"faults": {kind: (faults + len(FAULTS) - 1 - k) // len(FAULTS)
                         for k, kind in enumerate(FAULTS)},
              "vectors": len(vectors), "answered": answered, "wrong": wrong,
              "failed": failed, "resent": resent}
    record("survives_injected_faults", result)
    assert wrong == 0 and not failed and answered == len(vectors), result
