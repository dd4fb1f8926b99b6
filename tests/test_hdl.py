"""Quick checks of the gateware with Amaranth's own simulator (async testbenches)."""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, Signal, signed
from amaranth.sim import Simulator

from hdl.arith import constant_multiply, pipelined_sum
from hdl.bilinear import BilinearDatapath
from hdl.threshold import ThresholdDatapath
from qnnhw.families.bilinear.fixedpoint import BilinearSpec
from qnnhw.families.bilinear.reference import BilinearReference
from qnnhw.families.threshold.fixedpoint import ThresholdSpec
from qnnhw.families.threshold.reference import ThresholdReference

from .helpers import random_model, random_threshold_model


def run_datapath(dut, vectors, *, ready_pattern=None, max_cycles=20000):
    """Drive ``vectors`` into ``dut``; return outputs and handshake cycles."""
    outputs, accepted, emitted = [], [], []

    async def testbench(ctx):
        sent = 0
        for cycle in range(max_cycles):
            if len(outputs) == len(vectors):
                return
            ready = 1 if ready_pattern is None else ready_pattern(cycle)
            ctx.set(dut.o.ready, ready)
            ctx.set(dut.i.valid, int(sent < len(vectors)))
            if sent < len(vectors):
                ctx.set(dut.i.payload, [int(v) for v in vectors[sent]])
            _, _, i_valid, i_ready, o_valid, o_ready, payload = await ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload)
            if i_valid and i_ready:
                accepted.append(cycle)
                sent += 1
            if o_valid and o_ready:
                outputs.append(payload)
                emitted.append(cycle)
        raise AssertionError("the datapath stopped producing outputs")

    simulator = Simulator(dut)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    return outputs, accepted, emitted


@pytest.mark.parametrize("features, m, parallel, bias, replicas", [
    (1, 1, 1, False, 1),     # d = 1, m = 1
    (5, 7, 3, True, 1),      # odd d, P does not divide m
    (4, 6, 6, True, 1),      # P = m: constant weights, no ROM
    (3, 5, 1, True, 2),      # P = 1, replicated features (3-level weights)
])
def test_datapath_is_bit_exact_with_exact_timing(features, m, parallel, bias, replicas):
    model = random_model(features, m, bias=bias, replicas=replicas, seed=m)
    spec = BilinearSpec.for_model(model, input_bits=6)
    rng = np.random.default_rng(1)
    vectors = rng.integers(spec.input_min, spec.input_max + 1, (12, features))
    vectors[0] = spec.input_min
    vectors[1] = spec.input_max
    dut = BilinearDatapath(spec, model.U, model.V, parallel)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    assert outputs == BilinearReference(model, spec).outputs(vectors).tolist()
    assert set(np.diff(accepted)) == {dut.initiation_interval}
    assert {out - into for into, out in zip(accepted, emitted)} == {dut.latency}


def test_backpressure_loses_nothing():
    model = random_model(4, 5, seed=3)
    spec = BilinearSpec.for_model(model, input_bits=8)
    dut = BilinearDatapath(spec, model.U, model.V, 5)
    vectors = np.random.default_rng(2).integers(-128, 128, (40, 4))
    # The consumer sleeps for 60 cycles, then takes one word every third cycle.
    outputs, accepted, _ = run_datapath(
        dut, vectors, ready_pattern=lambda cycle: int(cycle >= 60 and cycle % 3 == 0))
    assert outputs == BilinearReference(model, spec).outputs(vectors).tolist()
    # While the consumer sleeps, no more vectors enter than the FIFO can hold.
    assert sum(1 for cycle in accepted if cycle < 60) == dut.fifo_depth


def test_weight_rom_layout():
    model = random_model(2, 5, bias=True, seed=4)
    spec = BilinearSpec.for_model(model)
    dut = BilinearDatapath(spec, model.U, model.V, 2)
    rows = dut.weight_words()
    assert len(rows) == 3
    d = spec.d
    for neuron in range(5):
        word = rows[neuron // 2][neuron % 2]
        u = [1 if (word.u >> i) & 1 else -1 for i in range(d)]
        v = [1 if (word.v >> i) & 1 else -1 for i in range(d)]
        assert u == model.U[neuron].tolist() and v == model.V[neuron].tolist()
    assert rows[2][1].u == rows[2][1].v == 0  # the padding unit of the last group


def test_parallel_out_of_range_is_refused():
    model = random_model(2, 4)
    spec = BilinearSpec.for_model(model)
    with pytest.raises(ValueError, match=r"Parallel units must be between 1 and m=4, not 5"):
        BilinearDatapath(spec, model.U, model.V, 5)
    with pytest.raises(TypeError, match=r"Parallel units must be an integer, not 2.0"):
        BilinearDatapath(spec, model.U, model.V, 2.0)
    with pytest.raises(ValueError, match=r"Weights must be ±1"):
        BilinearDatapath(spec, model.U * 0, model.V, 2)


@pytest.mark.parametrize("constant", [0, 1, -1, 5, -77282, 131071])
def test_constant_multiply(constant):
    m = Module()
    value = Signal(signed(12))
    m.domains.sync = ClockDomain()
    product, depth = constant_multiply(m, value, constant, name="k")
    out = Signal(signed(32))
    m.d.comb += out.eq(product)
    samples = [-2048, -1, 0, 1, 2047, 1234]

    async def testbench(ctx):
        for sample in samples:
            ctx.set(value, sample)
            await ctx.tick().repeat(depth + 1)
            assert ctx.get(out) == sample * constant

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()


def test_pipelined_sum_depth_and_value():
    m = Module()
    values = [Signal(signed(8), name=f"v{i}") for i in range(7)]
    total, depth = pipelined_sum(m, values, name="t")
    assert depth == 3

    async def testbench(ctx):
        for index, signal in enumerate(values):
            ctx.set(signal, -128 + 37 * index)
        await ctx.tick().repeat(depth)
        assert ctx.get(total) == sum(-128 + 37 * i for i in range(7))

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()


@pytest.mark.parametrize("features, neurons, parallel, hidden_bits, layer_widths", [
    (4, 7, 3, 1, ()),       # ±1 weights from the ROM, P does not divide K
    (3, 5, 5, 1, ()),       # constants
    (3, 6, 4, 4, ()),       # 4-bit integer weights by bit planes
    (4, 6, 4, 1, (5,)),     # deep: one earlier layer, folded last layer
    (3, 4, 4, 1, (6, 3)),   # deep: two earlier layers, constants
])
def test_threshold_datapath_is_bit_exact_with_exact_timing(features, neurons, parallel,
                                                           hidden_bits, layer_widths):
    model = random_threshold_model(features, neurons, hidden_bits=hidden_bits, seed=neurons,
                                   layer_widths=layer_widths)
    spec = ThresholdSpec.for_model(model, input_bits=6)
    vectors = np.random.default_rng(2).integers(spec.input_min, spec.input_max + 1,
                                                (16, features))
    dut = ThresholdDatapath(spec, model.H, parallel, model.layers)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    expected = ThresholdReference(model, spec).outputs(vectors)
    assert outputs == expected.tolist() and len(set(outputs)) >= 2
    assert [out - into for into, out in zip(accepted, emitted)] == [dut.latency] * 16
    assert set(np.diff(accepted)) == {dut.initiation_interval}


def test_threshold_rom_layout_and_refusals():
    model = random_threshold_model(2, 3, hidden_bits=3, seed=1)
    spec = ThresholdSpec.for_model(model)
    dut = ThresholdDatapath(spec, model.H, 2)
    rows, d = dut.hidden_words(), spec.d
    for neuron in range(3):
        word = rows[neuron // 2][neuron % 2]
        weights = [word[i] for i in range(d)]
        assert weights == model.H[neuron].tolist()
    weight_rows = dut.output_weight_words(spec)
    assert weight_rows[1][1] == [0]   # the padding unit adds nothing (to its one output)
    with pytest.raises(ValueError, match=r"Hidden weights must lie in \[−3, 3\]"):
        ThresholdDatapath(spec, model.H * 2, 1)
    with pytest.raises(ValueError, match="Parallel units must be between 1 and m=3, not 4"):
        ThresholdDatapath(spec, model.H, 4)


def output_words(spec, outputs):
    """Datapath output words as the reference gives them: y, or (label, scores)."""
    if spec.outputs == 1:
        return outputs
    return [(int(word.label), [int(score) for score in word.scores]) for word in outputs]


def reference_words(reference, vectors):
    y = reference.outputs(vectors)
    if y.ndim == 1:
        return y.tolist()
    return [(int(np.argmax(row)), row.tolist()) for row in y]


@pytest.mark.parametrize("classes, m, parallel", [
    (3, 7, 2),     # the outputs' last groups padded
    (4, 9, 3),     # P = 3, uneven outputs
    (3, 5, 5),     # P = m: T = C groups, each output padded
    (5, 5, 1),     # one neuron per output, P = 1
])
def test_multiclass_bilinear_datapath_is_bit_exact(classes, m, parallel):
    model = random_model(4, m, classes=classes, seed=m + classes)
    spec = BilinearSpec.for_model(model, input_bits=5)
    rng = np.random.default_rng(3)
    vectors = rng.integers(spec.input_min, spec.input_max + 1, (20, 4))
    vectors[:4] = 0   # all-zero inputs: ties in every output, the lowest index must win
    vectors[4] = spec.input_max
    dut = BilinearDatapath(spec, model.U, model.V, parallel)
    assert dut.groups == BilinearDatapath.group_count(spec, parallel) >= classes
    outputs, accepted, emitted = run_datapath(dut, vectors)
    reference = BilinearReference(model, spec)
    assert output_words(spec, outputs) == reference_words(reference, vectors)
    assert len({label for label, _ in output_words(spec, outputs)}) >= 2
    assert {out - into for into, out in zip(accepted, emitted)} == {dut.latency}
    assert set(np.diff(accepted)) == {dut.initiation_interval}


@pytest.mark.parametrize("classes, neurons, parallel", [(3, 7, 3), (10, 6, 6), (4, 5, 1)])
def test_multiclass_threshold_datapath_is_bit_exact(classes, neurons, parallel):
    model = random_threshold_model(5, neurons, classes=classes, seed=classes)
    spec = ThresholdSpec.for_model(model, input_bits=6)
    vectors = np.random.default_rng(4).integers(spec.input_min, spec.input_max + 1, (24, 5))
    dut = ThresholdDatapath(spec, model.H, parallel)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    reference = ThresholdReference(model, spec)
    assert output_words(spec, outputs) == reference_words(reference, vectors)
    assert len({label for label, _ in output_words(spec, outputs)}) >= 2
    assert [out - into for into, out in zip(accepted, emitted)] == [dut.latency] * 24


def test_argmax_ties_go_to_the_lowest_index():
    from hdl.arith import pipelined_argmax

    m = Module()
    values = [Signal(signed(4), name=f"v{k}") for k in range(5)]
    label, delayed, depth = pipelined_argmax(m, values, name="argmax")
    assert depth == 3

    async def testbench(ctx):
        for case in ([1, 3, 3, -2, 3], [-1, -1, -1, -1, -1], [0, 1, 2, 3, 7], [5, 4, 3, 2, 1]):
            for signal, value in zip(values, case):
                ctx.set(signal, value)
            await ctx.tick().repeat(depth)
            assert ctx.get(label) == int(np.argmax(case))
            assert [ctx.get(value) for value in delayed] == case

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()


def test_quadratic_forms_equal_the_neuron_sums():
    """x̂ᵀW꜀x̂ = Σⱼ (uⱼ·x̃)(vⱼ·x̃) exactly, replicated lifting and C outputs included."""
    for model in (random_model(5, 9, bias=True, replicas=3, seed=1),
                  random_model(4, 8, classes=3, seed=2)):
        spec = BilinearSpec.for_model(model, input_bits=7)
        vectors = np.random.default_rng(5).integers(spec.input_min, spec.input_max + 1,
                                                    (30, spec.features))
        reference = BilinearReference(model, spec)
        x_hat = reference.lift(vectors)[:, ::model.lifting.replicas]
        forms = model.quadratic_forms()
        assert np.abs(forms).max() <= spec.coefficient_bound
        s = np.einsum("na,cab,nb->nc", x_hat, forms, x_hat)
        assert (s.squeeze(1) if model.outputs == 1 else s).tolist() == \
            reference.run(vectors).s.tolist()


@pytest.mark.parametrize("features, m, parallel, bias, replicas, input_bits", [
    (5, 7, 3, True, 1, 6),      # P does not divide d̂ = 6
    (3, 40, 1, True, 2, 8),     # P = 1, replicated (d̂ = 4 < B + 1: padded rounds)
    (6, 30, 7, True, 1, 5),     # P = d̂: one round
    (8, 25, 4, False, 1, 8),    # no bias
])
def test_quadratic_datapath_equals_the_neuron_datapath(features, m, parallel, bias, replicas,
                                                       input_bits):
    from hdl.quadratic import QuadraticDatapath

    model = random_model(features, m, bias=bias, replicas=replicas, seed=m + parallel)
    spec = BilinearSpec.for_model(model, input_bits=input_bits)
    rng = np.random.default_rng(6)
    vectors = rng.integers(spec.input_min, spec.input_max + 1, (14, features))
    vectors[0], vectors[1] = spec.input_min, spec.input_max   # full-scale corners
    dut = QuadraticDatapath(spec, model.quadratic_forms(), parallel)
    assert dut.initiation_interval == QuadraticDatapath.cycles_for(spec, parallel)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    assert outputs == BilinearReference(model, spec).outputs(vectors).tolist()
    assert set(np.diff(accepted)) == {dut.initiation_interval}
    assert {out - into for into, out in zip(accepted, emitted)} == {dut.latency}


@pytest.mark.parametrize("classes, m, parallel", [(3, 9, 2), (4, 8, 5)])
def test_multiclass_quadratic_datapath_is_bit_exact(classes, m, parallel):
    from hdl.quadratic import QuadraticDatapath

    model = random_model(4, m, classes=classes, seed=m + classes)
    spec = BilinearSpec.for_model(model, input_bits=5)
    vectors = np.random.default_rng(7).integers(spec.input_min, spec.input_max + 1, (16, 4))
    vectors[:3] = 0   # ties in every output: the lowest index must win
    dut = QuadraticDatapath(spec, model.quadratic_forms(), parallel, scores=True)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    reference = BilinearReference(model, spec)
    assert output_words(spec, outputs) == reference_words(reference, vectors)
    assert {out - into for into, out in zip(accepted, emitted)} == {dut.latency}


def test_quadratic_datapath_refusals():
    from hdl.quadratic import QuadraticDatapath

    model = random_model(3, 5)
    spec = BilinearSpec.for_model(model)
    forms = model.quadratic_forms()
    with pytest.raises(ValueError, match=r"row units must be between 1 and d̂=4, not 5"):
        QuadraticDatapath(spec, forms, 5)
    with pytest.raises(ValueError, match=r"must have shape \(1, 4, 4\)"):
        QuadraticDatapath(spec, forms[:, :3, :3], 2)
    with pytest.raises(ValueError, match=r"within ±5"):
        QuadraticDatapath(spec, forms * 7, 2)
