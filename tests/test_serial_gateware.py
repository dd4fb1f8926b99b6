"""The UART and the frame codec in Amaranth's simulator: fast, bit by bit, against the host's
protocol code (qnnhw.protocol)."""

import pytest
from amaranth.hdl import Module, signed
from amaranth.sim import Simulator

from hdl.framing import FrameReceiver, FrameTransmitter
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

FEATURES, INPUT_BITS, TIMEOUT = 3, 12, 40


def run_receiver(stream: list[int | None], *, line_error_at=(), ready=True):
    """Feed ``stream`` to a FrameReceiver one entry per cycle (None: no byte); return the
    vectors it emits and the cycles of its NAK pulses."""
    dut = FrameReceiver(FEATURES, INPUT_BITS, TIMEOUT)
    vectors, naks = [], []

    async def testbench(ctx):
        ctx.set(dut.o.ready, ready)
        for cycle, byte in enumerate(stream + [None] * 5):
            ctx.set(dut.i.valid, byte is not None)
            ctx.set(dut.i.payload, byte or 0)
            ctx.set(dut.line_error, cycle in line_error_at)
            await ctx.tick()
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                vectors.append([ctx.get(dut.o.payload[k]) for k in range(FEATURES)])
            if ctx.get(dut.nak):
                naks.append(cycle)

    simulate(dut, testbench)
    return vectors, naks


def spaced(frame: bytes, gap: int = 2) -> list[int | None]:
    """Bytes of ``frame`` with ``gap`` idle cycles after each, as a UART delivers them."""
    out: list[int | None] = []
    for byte in frame:
        out += [byte] + [None] * gap
    return out


def test_frame_receiver_decodes_a_request():
    vector = [-2048, 2047, -1]
    vectors, naks = run_receiver(spaced(protocol.encode_request(vector, INPUT_BITS)))
    assert vectors == [vector] and naks == []


def test_frame_receiver_naks_a_bad_crc_and_a_line_error():
    good = protocol.encode_request([5, 6, 7], INPUT_BITS)
    bad = bytearray(good)
    bad[3] ^= 0x40
    stream = spaced(bytes(bad)) + [None] * 3 + spaced(good)
    vectors, naks = run_receiver(stream)
    assert vectors == [[5, 6, 7]] and len(naks) == 1
    vectors, naks = run_receiver(spaced(good), line_error_at={6})
    assert vectors == [] and len(naks) == 1


def test_frame_receiver_resynchronises_after_noise_and_silence():
    good = protocol.encode_request([1, -1, 100], INPUT_BITS)
    noise = [0x00, protocol.REQUEST_SYNC, 0x7F, 0x13]   # a false sync with a wrong length
    truncated = spaced(good[:5]) + [None] * (TIMEOUT + 2)   # dropped after the timeout
    vectors, naks = run_receiver(spaced(bytes(noise)) + truncated + spaced(good))
    assert vectors == [[1, -1, 100]] and naks == []


def test_frame_receiver_naks_a_frame_while_its_output_is_full():
    good = protocol.encode_request([3, 2, 1], INPUT_BITS)
    vectors, naks = run_receiver(spaced(good) + spaced(good), ready=False)
    assert vectors == [] and len(naks) == 1   # the first waits in o, the second is refused


def transmit(dut, words):
    """Offer ``words`` (None: a NAK pulse) to a FrameTransmitter under backpressure; return
    the bytes it sends."""
    sent = bytearray()

    async def testbench(ctx):
        queue = list(words)
        for cycle in range(600):
            if queue and queue[0] is None:
                ctx.set(dut.nak, 1)
                queue.pop(0)
            else:
                ctx.set(dut.nak, 0)
            ctx.set(dut.i.valid, bool(queue))
            if queue:
                ctx.set(dut.i.payload, queue[0])
            ctx.set(dut.o.ready, cycle % 3 != 0)   # backpressure from the UART
            i_fire = ctx.get(dut.i.valid) and ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                sent.append(ctx.get(dut.o.payload))
            if i_fire:
                queue.pop(0)
            await ctx.tick()

    simulate(dut, testbench)
    return bytes(sent)


@pytest.mark.parametrize("output_bits", [1, 8, 20])
def test_frame_transmitter_matches_the_protocol(output_bits):
    response = protocol.ResponseFormat(output_bits)
    dut = FrameTransmitter(response, signed(output_bits))
    low, high = -(1 << (output_bits - 1)), (1 << (output_bits - 1)) - 1
    values = [low, high, 0, -1 if output_bits > 1 else 0]
    sent = transmit(dut, [values[0], None, *values[1:]])
    expected = protocol.encode_response(values[0], response)
    expected += protocol.encode_response(None, response)
    for value in values[1:]:
        expected += protocol.encode_response(value, response)
    assert sent == expected
    decoded = protocol.ResponseDecoder(response).feed(sent)
    assert [response.value for response in decoded] == [values[0], None, *values[1:]]


@pytest.mark.parametrize("scores", [True, False])
def test_frame_transmitter_sends_the_class_and_the_scores(scores):
    from hdl.folding import output_shape

    class Spec:   # what output_shape reads of a fixed-point spec
        outputs, output_width = 5, 11

    response = protocol.ResponseFormat(11, 5, scores)
    shape = output_shape(Spec, scores)
    dut = FrameTransmitter(response, shape)
    answers = [(4, [-1024, 1023, 0, -1, 1023]), (0, [7, 7, 7, 7, 7])]
    sent = transmit(dut, [shape.const({"label": label, "scores": values} if scores
                                      else {"label": label}) for label, values in answers])
    decoded = protocol.ResponseDecoder(response).feed(sent)
    assert [(r.value, r.scores) for r in decoded] == [
        (label, tuple(values) if scores else None) for label, values in answers]
    assert len(sent) == 2 * (4 + (1 + 5 * 2 if scores else 1))


def test_frame_receiver_refuses_a_frame_that_came_while_the_vector_waited():
    """The vector waits in the byte buffer: a frame arriving meanwhile is not kept, and if the
    consumer takes the vector halfway through it, the rest must not make a vector either."""
    first = protocol.encode_request([7, 8, 9], INPUT_BITS)
    second = protocol.encode_request([-5, -6, -7], INPUT_BITS)
    dut = FrameReceiver(FEATURES, INPUT_BITS, TIMEOUT)
    stream = spaced(first) + spaced(second) + [None] * 4 + spaced(second)
    taken_at = len(spaced(first)) + 15   # the consumer wakes up inside the second payload
    vectors, naks = [], []

    async def testbench(ctx):
        for cycle, byte in enumerate(stream + [None] * 5):
            ctx.set(dut.o.ready, cycle >= taken_at)
            ctx.set(dut.i.valid, byte is not None)
            ctx.set(dut.i.payload, byte or 0)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):   # taken at this edge
                vectors.append([ctx.get(dut.o.payload[k]) for k in range(FEATURES)])
            await ctx.tick()
            if ctx.get(dut.nak):
                naks.append(cycle)

    simulate(dut, testbench)
    assert vectors == [[7, 8, 9], [-5, -6, -7]] and len(naks) == 1
