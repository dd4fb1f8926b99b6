"""The UART and the frame codec in Amaranth's simulator: fast, bit by bit, against the host's
protocol code (qnnhw.protocol)."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.sim import Simulator

from hdl.framing import DROP, FrameReceiver, FrameTransmitter
from hdl.uart import UARTReceiver, UARTTransmitter
from qnnhw import protocol

DIVISOR = 5   # clock cycles per bit: odd, so "the middle of a bit" is not a tie


def line_bits(data: bytes) -> list[int]:
    """The 8N1 line levels of ``data``, one entry per bit time."""
    bits = []
    for byte in data:
        bits += [0, *((byte >> index) & 1 for index in range(8)), 1]
    return bits


def simulate(dut, testbench, *processes):
    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    for process in processes:
        simulator.add_process(process)
    simulator.run()


def test_transmitter_sends_8n1_lsb_first():
    dut = UARTTransmitter(DIVISOR)
    data = bytes([0x00, 0xFF, 0xA5, 0x3C])
    levels = []

    async def testbench(ctx):
        assert ctx.get(dut.tx) == 1   # idle high
        for byte in data:
            while not ctx.get(dut.i.ready):
                levels.append(ctx.get(dut.tx))
                await ctx.tick()
            ctx.set(dut.i.payload, byte)
            ctx.set(dut.i.valid, 1)
            await ctx.tick()
            ctx.set(dut.i.valid, 0)
        for _ in range(10 * DIVISOR + 3):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    simulate(dut, testbench)
    start = levels.index(0)
    # Every bit lasts DIVISOR cycles; sample each in its middle.
    sampled = [levels[start + DIVISOR // 2 + DIVISOR * k] for k in range(10 * len(data))]
    assert sampled == line_bits(data)
    assert levels[start + 10 * DIVISOR * len(data):] == [1] * (len(levels) - start
                                                               - 10 * DIVISOR * len(data))


def drive_line(dut_rx, bits, *, cycles_per_bit=DIVISOR, idle_before=3):
    async def process(ctx):
        ctx.set(dut_rx, 1)
        await ctx.tick().repeat(idle_before * cycles_per_bit)
        for bit in bits:
            ctx.set(dut_rx, bit)
            await ctx.tick().repeat(cycles_per_bit)
        ctx.set(dut_rx, 1)
    return process


@pytest.mark.parametrize("stop_bit_error", [False, True])
def test_receiver_takes_bytes_and_drops_a_bad_stop_bit(stop_bit_error):
    dut = UARTReceiver(DIVISOR)
    data = bytes([0x5A, 0x00, 0xFF, 0x81])
    bits = line_bits(data)
    if stop_bit_error:
        bits[10 * 2 + 9] = 0      # the third byte's stop bit
    received, errors = [], []

    async def testbench(ctx):
        for _ in range(len(bits) * DIVISOR + 20 * DIVISOR):
            if ctx.get(dut.o.valid):
                received.append(ctx.get(dut.o.payload))
            if ctx.get(dut.error):
                errors.append(len(received))
            await ctx.tick()

    simulate(dut, testbench, drive_line(dut.rx, bits))
    if stop_bit_error:
        # The broken byte is lost (the line stays low into the next start bit, so the byte
        # after it may be lost too), and the error is reported once.
        assert received[:2] == [0x5A, 0x00] and 0xFF not in received[2:3]
        assert errors == [2]
    else:
        assert received == list(data) and errors == []
    assert dut.o.signature.always_ready


def test_receiver_ignores_a_glitch_shorter_than_half_a_bit():
    dut = UARTReceiver(DIVISOR)
    received = []

    async def testbench(ctx):
        for _ in range(40 * DIVISOR):
            if ctx.get(dut.o.valid):
                received.append(ctx.get(dut.o.payload))
            await ctx.tick()

    async def glitch_then_byte(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * DIVISOR)
        ctx.set(dut.rx, 0)
        await ctx.tick().repeat(DIVISOR // 2 - 1)   # gone before the middle of a bit
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * DIVISOR)
        for bit in line_bits(b"\x42"):
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(DIVISOR)
        ctx.set(dut.rx, 1)

    simulate(dut, testbench, glitch_then_byte)
    assert received == [0x42]


def test_transmitter_to_receiver_round_trip():
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(DIVISOR)
    m.submodules.rx = rx = UARTReceiver(DIVISOR)
    m.d.comb += rx.rx.eq(tx.tx)
    data = bytes(range(0, 256, 17))
    received = []

    async def testbench(ctx):
        queue = list(data)
        for _ in range(12 * DIVISOR * len(data) + 50):
            if ctx.get(rx.o.valid):
                received.append(ctx.get(rx.o.payload))
            ctx.set(tx.i.valid, bool(queue))
            if queue:
                ctx.set(tx.i.payload, queue[0])
            if queue and ctx.get(tx.i.ready):
                queue.pop(0)
            await ctx.tick()

    simulate(m, testbench)
    assert bytes(received) == data


@pytest.mark.parametrize("divisor", [3, 0, 2.5])
def test_uart_refuses_a_bad_divisor(divisor):
    with pytest.raises((ValueError, TypeError), match="Divisor must be"):
        UARTTransmitter(divisor)
    with pytest.raises((ValueError, TypeError), match="Divisor must be"):
        UARTReceiver(divisor)


# -- frames --------------------------------------------------------------------------------

FEATURES, INPUT_BITS, TIMEOUT, MAX_VECTORS = 3, 12, 40, 4
OK, NAK, HELLO, SELFTEST, VERSION = (protocol.Status.OK, protocol.Status.NAK,
                                     protocol.Status.HELLO, protocol.Status.SELFTEST,
                                     protocol.Status.VERSION)


def infer(seq, *vectors):
    return protocol.request(protocol.Command.INFER, seq,
                            protocol.pack_vectors(vectors, INPUT_BITS))


def run_receiver(stream, *, line_error_at=(), ready=lambda cycle: True, done_at=()):
    """Feed ``stream`` to a FrameReceiver one entry per cycle (None: no byte); return the
    vectors it forwards and its records as (status, seq, count, selftest count), and
    whether it held the datapath at the end."""
    dut = FrameReceiver(FEATURES, INPUT_BITS, TIMEOUT, MAX_VECTORS)
    vectors, records, hold = [], [], []

    async def testbench(ctx):
        ctx.set(dut.records.ready, 1)
        for cycle, byte in enumerate(stream + [None] * 8):
            ctx.set(dut.vectors.ready, ready(cycle))
            ctx.set(dut.i.valid, byte is not None)
            ctx.set(dut.i.payload, byte or 0)
            ctx.set(dut.line_error, cycle in line_error_at)
            ctx.set(dut.selftest_done, cycle in done_at)
            if ctx.get(dut.vectors.valid) and ctx.get(dut.vectors.ready):
                vectors.append([ctx.get(dut.vectors.payload[k]) for k in range(FEATURES)])
            if ctx.get(dut.records.valid):
                record = ctx.get(dut.records.payload)
                records.append((record.status, record.seq, record.count,
                                ctx.get(dut.selftest_count) if record.status == SELFTEST
                                else 0))
            await ctx.tick()
        hold.append(ctx.get(dut.hold))

    simulate(dut, testbench)
    return vectors, records, hold[0]


def spaced(frame: bytes, gap: int = 2) -> list[int | None]:
    """Bytes of ``frame`` with ``gap`` idle cycles after each, as a UART delivers them."""
    out: list[int | None] = []
    for byte in frame:
        out += [byte] + [None] * gap
    return out


def test_frame_receiver_forwards_the_vectors_of_a_request():
    vectors = [[-2048, 2047, -1], [5, 0, -6], [1, 2, 3]]
    forwarded, records, _ = run_receiver(spaced(infer(200, *vectors)))
    assert forwarded == vectors and records == [(OK, 200, 3, 0)]


def test_frame_receiver_naks_a_bad_check_and_a_line_error():
    good = infer(1, [5, 6, 7])
    bad = bytearray(infer(2, [5, 6, 7], [1, 1, 1]))
    bad[-3] ^= 0x40                                     # the last payload byte
    forwarded, records, _ = run_receiver(spaced(bytes(bad)) + [None] * 3 + spaced(good))
    # The bad frame's vectors went ahead: its record tells the transmitter to drop them.
    assert len(forwarded) == 3 and forwarded[0] == forwarded[2] == [5, 6, 7]
    assert records == [(NAK, 2, 2, 0), (OK, 1, 1, 0)]
    forwarded, records, _ = run_receiver(spaced(good), line_error_at={9})
    assert records == [(NAK, 1, 1, 0)]


def test_frame_receiver_resynchronises_after_noise_and_silence():
    good = infer(3, [1, -1, 100])
    noise = [0x00, protocol.REQUEST_SYNC, 0x7F, 0x13]   # a false sync with no frame's kind
    two = infer(4, [9, 9, 9], [8, 8, 8])
    truncated = spaced(two[:-6]) + [None] * (TIMEOUT + 2)   # cut in its second vector
    forwarded, records, _ = run_receiver(spaced(bytes(noise)) + truncated + spaced(good))
    assert forwarded == [[9, 9, 9], [1, -1, 100]]
    assert records == [(DROP, 4, 1, 0), (OK, 3, 1, 0)]


def test_frame_receiver_refuses_a_frame_whose_vector_found_no_room():
    frame = infer(5, [3, 2, 1], [4, 5, 6])
    forwarded, records, _ = run_receiver(spaced(frame), ready=lambda cycle: False)
    assert forwarded == [] and records == [(NAK, 5, 1, 0)]   # the second found the first


def test_frame_receiver_answers_hello_and_holds_the_datapath_for_a_self_test():
    hello = protocol.request(protocol.Command.HELLO, 6)
    selftest = protocol.request(protocol.Command.SELFTEST, 7, (70000).to_bytes(4, "little"))
    stream = spaced(hello) + spaced(selftest) + spaced(infer(8, [1, 2, 3]))
    forwarded, records, hold = run_receiver(stream)
    assert records == [(HELLO, 6, 0, 0), (SELFTEST, 7, 0, 70000), (NAK, 8, 0, 0)]
    assert forwarded == [] and hold
    done = len(spaced(hello) + spaced(selftest)) + 4
    forwarded, records, hold = run_receiver(stream, done_at={done})
    assert forwarded == [[1, 2, 3]] and records[-1][:3] == (OK, 8, 1) and not hold


def test_frame_receiver_answers_another_versions_hello_with_its_version():
    stream = spaced(protocol.request(protocol.Command.HELLO, 9, version=3))
    assert run_receiver(stream)[1] == [(VERSION, 9, 0, 0)]


def transmit(dut, records, words, result=None, count=0):
    """Offer ``records`` and output ``words`` to a FrameTransmitter under backpressure (and
    a self-test's ``result`` when asked for one); return the bytes it sends."""
    sent = bytearray()

    async def testbench(ctx):
        records_left, words_left = list(records), list(words)
        for cycle in range(3000):
            ctx.set(dut.records.valid, bool(records_left))
            if records_left:
                ctx.set(dut.records.payload, records_left[0])
            ctx.set(dut.outputs.valid, bool(words_left) and cycle % 5 != 0)
            if words_left:
                ctx.set(dut.outputs.payload, words_left[0])
            ctx.set(dut.selftest_start.ready, 1)
            ctx.set(dut.selftest_count, count)
            ctx.set(dut.selftest_result.valid, result is not None)
            if result is not None:
                ctx.set(dut.selftest_result.payload, result)
            ctx.set(dut.o.ready, cycle % 3 != 0)   # backpressure from the UART
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                sent.append(ctx.get(dut.o.payload))
            if ctx.get(dut.records.valid) and ctx.get(dut.records.ready):
                records_left.pop(0)
            if ctx.get(dut.outputs.valid) and ctx.get(dut.outputs.ready):
                words_left.pop(0)
            await ctx.tick()

    simulate(dut, testbench)
    return bytes(sent)


def record(status, seq, count=0):
    return {"status": status, "seq": seq, "count": count}


@pytest.mark.parametrize("output_bits", [1, 8, 20])
def test_frame_transmitter_answers_and_discards_as_its_records_say(output_bits):
    response = protocol.ResponseFormat(output_bits)
    hello = protocol.Hello(2, 3, 12, 1, output_bits, True, MAX_VECTORS, 1000, 77, 9, 10).encode()
    dut = FrameTransmitter(response, signed(output_bits), hello, MAX_VECTORS)
    low, high = -(1 << (output_bits - 1)), (1 << (output_bits - 1)) - 1
    words = [low, high, 0, -1 if output_bits > 1 else 0, high, low]
    records = [record(OK, 1, 2), record(NAK, 2, 1), record(DROP, 3, 1), record(HELLO, 4),
               record(OK, 5, 1), record(VERSION, 6), record(OK, 7, 1)]
    sent = transmit(dut, records, words)
    replies = protocol.ReplyDecoder(response).feed(sent)
    answer = [protocol.Response(value) for value in words]
    assert replies == [
        protocol.Reply(OK, 1, tuple(answer[:2])), protocol.Reply(NAK, 2),
        protocol.Reply(HELLO, 4, hello=protocol.Hello.decode(hello)),
        protocol.Reply(OK, 5, (answer[4],)), protocol.Reply(VERSION, 6),
        protocol.Reply(OK, 7, (answer[5],))]      # words 2 and 3 were discarded


def test_frame_transmitter_runs_the_self_test_and_sends_its_result():
    response = protocol.ResponseFormat(8)
    dut = FrameTransmitter(response, signed(8), b"\x00", MAX_VECTORS)
    sent = transmit(dut, [record(SELFTEST, 9)], [],
                    {"signature": 0xCAFEF00D, "cycles": 3 << 40}, count=12345)
    assert protocol.ReplyDecoder(response).feed(sent) == [protocol.Reply(
        SELFTEST, 9, selftest=protocol.SelfTestResult(0xCAFEF00D, 3 << 40))]


@pytest.mark.parametrize("scores", [True, False])
def test_frame_transmitter_sends_the_class_and_the_scores(scores):
    from hdl.folding import output_shape

    class Spec:   # what output_shape reads of a fixed-point spec
        outputs, output_width = 5, 11

    response = protocol.ResponseFormat(11, 5, scores)
    shape = output_shape(Spec, scores)
    dut = FrameTransmitter(response, shape, b"\x00", MAX_VECTORS)
    answers = [(4, [-1024, 1023, 0, -1, 1023]), (0, [7, 7, 7, 7, 7])]
    words = [shape.const({"label": label, "scores": values} if scores else {"label": label})
             for label, values in answers]
    sent = transmit(dut, [record(OK, 1, 2)], words)
    replies = protocol.ReplyDecoder(response).feed(sent)
    assert [(r.value, r.scores) for r in replies[0].answers] == [
        (label, tuple(values) if scores else None) for label, values in answers]
    assert len(sent) == protocol.OVERHEAD_BYTES + 2 * (1 + 5 * 2 if scores else 1)


def test_output_words_pack_as_the_datapath_does():
    from amaranth.hdl import Const

    from hdl.folding import output_shape, output_words

    class Spec:
        outputs, output_width = 3, 7

    outputs = np.array([[-64, 63, 0], [5, 5, -1], [0, 0, 0]])
    shape = output_shape(Spec, True)
    assert output_words(Spec, outputs) == [
        Const.cast(shape.const({"label": int(np.argmax(row)), "scores": row.tolist()})).value
        for row in outputs]


def test_the_board_design_answers_describes_itself_and_runs_its_self_test():
    """The whole serial engine (UART, frames, self-test, datapath), bit by bit on rx/tx:
    HELLO, two INFER frames in flight, SELFTEST against the reference's signature, and
    another version's HELLO."""
    from hdl.folding import output_word_width, output_words
    from hdl.serial import SerialInference
    from qnnhw import flow
    from sim.networks import random_threshold_model

    model = random_threshold_model(5, 12, classes=3, seed=1)
    spec = flow.fixed_point(model, 4)
    top = SerialInference(flow.datapath(model, spec, 4, True), 4, 12_000_000, 1234)
    vectors = np.random.default_rng(0).integers(-8, 8, (6, spec.features))
    frames = (protocol.request(protocol.Command.HELLO, 7)
              + protocol.request(protocol.Command.INFER, 8, protocol.pack_vectors(vectors[:2], 4))
              + protocol.request(protocol.Command.INFER, 9, protocol.pack_vectors(vectors[2:], 4))
              + protocol.request(protocol.Command.SELFTEST, 10, (50).to_bytes(4, "little"))
              + protocol.request(protocol.Command.HELLO, 11, version=3))
    decoder = protocol.ReplyDecoder(protocol.ResponseFormat.for_spec(spec))
    replies = []

    async def host(ctx):
        for bit in line_bits(frames):
            ctx.set(top.rx, bit)
            await ctx.tick().repeat(4)
        ctx.set(top.rx, 1)
        await ctx.tick().repeat(4 * 10 * 80)

    async def listen(ctx):
        while True:
            await ctx.negedge(top.tx)
            await ctx.tick().repeat(2)
            byte = 0
            for index in range(8):
                await ctx.tick().repeat(4)
                byte |= ctx.get(top.tx) << index
            await ctx.tick().repeat(4)
            replies.extend(decoder.feed(bytes([byte])))

    simulator = Simulator(top)
    simulator.add_clock(1e-8)
    simulator.add_testbench(host)
    simulator.add_testbench(listen, background=True)
    simulator.run()
    reference = flow.reference(model, spec)
    expected = [protocol.Response(int(np.argmax(row)), tuple(int(v) for v in row))
                for row in reference.outputs(vectors)]
    generated = reference.outputs(protocol.selftest_vectors(50, spec.features, 4))
    signature = protocol.signature(output_words(spec, generated),
                                   output_word_width(spec, True))
    assert [(reply.status, reply.seq) for reply in replies] == [
        (HELLO, 7), (OK, 8), (OK, 9), (SELFTEST, 10), (VERSION, 11)]
    assert replies[0].hello == top.hello
    assert replies[1].answers + replies[2].answers == tuple(expected)
    assert replies[3].selftest.signature == signature
    assert replies[3].selftest.cycles >= 50 * top.datapath.initiation_interval
