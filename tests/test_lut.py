"""The LUT family: thermometer bits, the dictionary, the certified Lasso, integer weights, the
model file, the reference and the unrolled datapath (Amaranth's simulator)."""

import json

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl.arith import compressor_plan, weighted_bit_sum
from hdl.lut import FoldedLutDatapath, LutDatapath
from qnnhw.dataset import load
from qnnhw.families.lut.config import DEFAULT_REFIT_DECAY, LutConfig
from qnnhw.families.lut.dictionary import (
    activations,
    sample_dictionary,
    thermometer_bits,
    thermometer_thresholds,
)
from qnnhw.families.lut.fixedpoint import LutSpec, truth_table
from qnnhw.families.lut.model import LutModel
from qnnhw.families.lut.reference import LutReference
from qnnhw.families.lut.train import LutTrainer
from qnnhw.model import load_model
from sim.networks import random_lut_model

from .helpers import assert_one_line_error, run_cli
from .test_hdl import output_words, reference_words, run_datapath


def test_thresholds_fall_between_distinct_training_values():
    X = np.array([[0.0, 5.0], [1.0, 5.0], [1.0, 5.0], [3.0, 5.0], [4.0, 5.0]])
    thresholds = thermometer_thresholds(X, 3)
    assert thresholds.shape == (2, 3) and np.all(np.diff(thresholds, axis=1) >= 0)
    assert not np.isin(thresholds[0], X[:, 0]).any()   # never on a training value
    assert thermometer_bits(X, thresholds)[:, 3:].sum() == 0   # a constant column: no bit
    bits = thermometer_bits(X, thresholds)
    assert bits.shape == (5, 6) and set(np.unique(bits)) <= {0, 1}


def test_the_dictionary_keeps_distinct_patterns_that_depend_on_the_data():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, (40, 12)).astype(np.uint8)
    dictionary = sample_dictionary(bits, neurons=500, fan_in=3, thresholds=3, positions=None,
                                   seed=1)
    patterns = dictionary.patterns
    assert patterns.shape == (40, len(dictionary.theta)) and dictionary.sampled == 500
    assert len({patterns[:, k].tobytes() for k in range(patterns.shape[1])}) == \
        patterns.shape[1]
    assert (patterns.min(axis=0) == 0).all() and (patterns.max(axis=0) == 1).all()
    assert np.array_equal(patterns, activations(bits, dictionary.inputs, dictionary.weights,
                                                dictionary.theta))


def test_local_neurons_read_neighbouring_pixels():
    positions = np.array([(row, column) for row in range(6) for column in range(6)])
    bits = np.random.default_rng(1).integers(0, 2, (60, 36 * 2)).astype(np.uint8)
    dictionary = sample_dictionary(bits, neurons=300, fan_in=4, thresholds=2,
                                   positions=positions, seed=2)
    for inputs in dictionary.inputs:
        pixels = positions[inputs // 2]
        assert (pixels.max(axis=0) - pixels.min(axis=0)).max() <= 2


@pytest.mark.parametrize("weights, theta", [([1, 1, -1, 1], 2), ([-1, -1], -1), ([1], 1)])
def test_truth_tables_are_the_neurons(weights, theta):
    table = truth_table(np.array(weights), theta)
    for entry in range(1 << len(weights)):
        inputs = [(entry >> i) & 1 for i in range(len(weights))]
        assert (table >> entry) & 1 == int(np.dot(weights, inputs) >= theta)


@pytest.mark.parametrize("terms, largest", [(1, 1), (2, 3), (9, 15), (30, 7), (60, 1)])
def test_weighted_bit_sums_are_exact(terms, largest):
    """Σ weight·bit by the compressor tree equals the integer sum, at the planned depth."""
    rng = np.random.default_rng(terms)
    weights = [int(w) for w in rng.integers(1, largest + 1, terms)]
    m = Module()
    bits = [Signal(name=f"b{k}") for k in range(len(weights))]
    total, depth = weighted_bit_sum(m, list(zip(bits, weights)), name="s")
    plan = compressor_plan([sum(w >> c & 1 for w in weights) for c in range(4)])
    assert plan.width == max(1, sum(weights).bit_length())
    assert depth == plan.depth
    samples = [rng.integers(0, 2, len(weights)) for _ in range(20)]
    seen = []

    async def testbench(ctx):
        for sample in samples + [sample * 0 for sample in samples[:depth]]:
            for bit, value in zip(bits, sample):
                ctx.set(bit, int(value))
            await ctx.tick()
            seen.append(ctx.get(total))

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    expected = [int(np.dot(sample, weights)) for sample in samples]
    assert seen[depth - 1:depth - 1 + len(samples)] == expected


def assert_bit_exact(model, make_datapath, interval):
    """24 random vectors through the datapath at full rate: every output is the reference's,
    a vector is accepted every ``interval`` cycles, each answered after the latency."""
    spec = LutSpec.for_model(model, input_bits=6)
    vectors = np.random.default_rng(3).integers(spec.input_min, spec.input_max + 1,
                                                (24, len(model.feature_names)))
    dut = make_datapath(spec)
    outputs, accepted, emitted = run_datapath(dut, vectors)
    reference = LutReference(model, spec)
    if spec.outputs > 1:
        assert output_words(spec, outputs) == reference_words(reference, vectors)
    else:
        assert outputs == reference.outputs(vectors).tolist()
    assert dut.initiation_interval == interval and set(np.diff(accepted)) == {interval}
    assert [out - into for into, out in zip(accepted, emitted)] == [dut.latency] * 24


@pytest.mark.parametrize("features, neurons, classes, fan_in", [
    (3, 5, 2, 4), (4, 9, 3, 2), (5, 12, 10, 6), (2, 1, 2, 1)])
def test_lut_datapath_is_bit_exact_one_vector_per_clock(features, neurons, classes, fan_in):
    model = random_lut_model(features, neurons, fan_in=fan_in, classes=classes, seed=neurons)
    assert_bit_exact(model, LutDatapath, 1)


@pytest.mark.parametrize("features, neurons, classes, parallel", [
    (3, 5, 2, 2), (4, 9, 3, 4), (5, 12, 10, 5), (2, 1, 2, 1), (4, 7, 3, 7), (4, 8, 3, 1)])
def test_folded_lut_datapath_is_bit_exact_one_vector_per_group_walk(features, neurons, classes,
                                                                    parallel):
    model = random_lut_model(features, neurons, classes=classes, seed=neurons)
    assert_bit_exact(model, lambda spec: FoldedLutDatapath(spec, parallel),
                     -(-neurons // parallel))


@pytest.mark.parametrize("make", [lambda spec: LutDatapath(spec),
                                  lambda spec: FoldedLutDatapath(spec, 3)],
                         ids=["unrolled", "folded"])
def test_lut_datapath_loses_nothing_under_backpressure(make):
    model = random_lut_model(4, 8, classes=3, seed=4)
    spec = LutSpec.for_model(model, input_bits=5)
    vectors = np.random.default_rng(5).integers(spec.input_min, spec.input_max + 1, (40, 4))
    outputs, _, _ = run_datapath(make(spec), vectors,
                                 ready_pattern=lambda cycle: int(cycle % 5 < 2))
    assert output_words(spec, outputs) == reference_words(LutReference(model, spec), vectors)


def test_integer_thresholds_give_the_bits_of_the_quantised_inputs():
    model = random_lut_model(5, 6, seed=7)
    spec = LutSpec.for_model(model, input_bits=7)
    q = np.arange(spec.input_min, spec.input_max + 1)
    x = np.tile(q[:, None], (1, 5))
    bits = LutReference(model, spec).bits(x)
    real = thermometer_bits(x / 2.0 ** spec.input_frac, model.thresholds)
    assert np.array_equal(bits, real)


@pytest.fixture(scope="module")
def digits_model():
    data = load("digits", seed=0)
    config = LutConfig(neurons=3000)
    return data, LutTrainer(data, config).train()


def test_digits_network_is_accurate_certified_and_exact_in_integers(digits_model):
    data, model = digits_model
    training = model.training
    assert training["lasso_gap"] <= 1e-3 * training["lasso_objective"]
    # The rounded network is one of the refit's networks (same neurons, same λ): no better
    # than the refit's certified bound.
    assert training["refit"] == "logistic" and training["refit_beta"] == DEFAULT_REFIT_DECAY
    assert training["refit_gap"] <= 1e-6 * training["refit_objective"]
    assert training["rounded_objective"] >= training["refit_objective"] - training["refit_gap"]
    spec = LutSpec.for_model(model)
    reference = LutReference(model, spec)
    truth = data.y_test.astype(int)
    hardware = (reference.predict_classes(reference.quantize(data.X_test)) == truth).mean()
    assert hardware >= 0.93
    # Every neuron has an integer weight: none is logic for nothing.
    assert (np.abs(spec.weight_matrix).sum(axis=1) > 0).all()
    # Training saw the bits the hardware computes.
    features = reference.quantize(data.X_train)
    assert np.array_equal(reference.neurons(features),
                          model.activations(features / 2.0 ** spec.input_frac))


def test_lut_model_file_round_trip(tmp_path, digits_model):
    _, model = digits_model
    model.save(tmp_path / "model.json")
    again = load_model(tmp_path / "model.json")
    assert isinstance(again, LutModel) and again.m == model.m
    assert np.array_equal(again.inputs, model.inputs) and again.output_scale == \
        model.output_scale
    assert LutSpec.for_model(again) == LutSpec.for_model(model)


@pytest.mark.parametrize("edit, needle", [
    (lambda n: n["weights"][0].__setitem__(0, 2), "weights[0][0]"),
    (lambda n: n["inputs"][0].__setitem__(0, 10 ** 6), "inputs[0][0]"),
    (lambda n: n.__setitem__("fan_in", 7), "fan_in"),
    (lambda n: n["thresholds"][0].reverse(), "must not decrease"),
    (lambda n: n.__setitem__("output_scale", -1.0), "output_scale"),
    (lambda n: n.__setitem__("theta", n["theta"][1:]), "theta"),
])
def test_corrupt_lut_model_files_are_refused(tmp_path, edit, needle):
    model = random_lut_model(4, 5, seed=1)
    model.thresholds[0] = [-1.0, 0.0, 1.0]
    data = model.to_dict()
    edit(data["network"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert_one_line_error(run_cli("verilog", str(path), "-o", str(tmp_path / "x.v")), needle)
    assert not (tmp_path / "x.v").exists()


@pytest.mark.parametrize("args, needle", [
    (["--fan-in", "7"], "--fan-in"),
    (["--fan-in", "0"], "--fan-in"),
    (["--thresholds", "0"], "--thresholds"),
    (["--neurons", "0"], "--neurons"),
    (["--output-bits", "1"], "--output-bits"),
    (["--image", "5", "5"], "--image"),
    (["--beta", "1e9", "--neurons", "200"], "keeps no neuron"),
    (["--bias"], "--bias"),
    (["--m", "5"], "--m"),
    (["--refit-beta", "0"], "--refit none"),
    (["--refit", "none", "--refit-beta", "2"], "--refit-beta"),
    (["--task", "regression", "--refit", "logistic"], "--refit squared"),
])
def test_cli_train_lut_refuses_bad_options(tmp_path, args, needle):
    result = run_cli("train", "--family", "lut", "--data", "digits", *args, "-o",
                     str(tmp_path / "m.json"))
    assert_one_line_error(result, needle)
    assert not (tmp_path / "m.json").exists()


def test_lut_options_are_refused_for_other_families(tmp_path):
    result = run_cli("train", "--family", "threshold", "--fan-in", "3", "-o",
                     str(tmp_path / "m.json"))
    assert_one_line_error(result, "--fan-in", "lut")


def test_cli_train_lut_json(tmp_path):
    result = run_cli("train", "--family", "lut", "--data", "ionosphere", "--neurons",
                     "2000", "--json", "-o", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["family"] == "lut" and report["sampling"] == "random"
    assert report["test_accuracy"] >= 0.85 and 0 <= report["lasso_gap"]
    assert report["refit"] == "logistic" and report["input_bits"] <= 8
    assert report["refit_beta"] == DEFAULT_REFIT_DECAY


def test_the_squared_refit_is_the_relaxed_lasso(tmp_path):
    result = run_cli("train", "--family", "lut", "--data", "ionosphere", "--neurons",
                     "2000", "--refit", "squared", "--json", "-o", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["refit"] == "squared" and report["refit_beta"] == report["beta"] / 10
    assert report["rounded_objective"] >= report["refit_objective"] - report["refit_gap"]


@pytest.mark.parametrize("width", [2, 4, 5, 6, 8, 9])
def test_comparisons_with_constants_are_exact(width):
    """at_least over every input and every constant, edges included (Amaranth's simulator)."""
    from amaranth.hdl import signed

    from hdl.arith import at_least

    low, high = -(1 << (width - 1)), 1 << (width - 1)
    constants = sorted({low - 1, low, low + 1, -1, 0, 1, high - 1, high,
                        *np.random.default_rng(width).integers(low, high, 6).tolist()})
    m = Module()
    value = Signal(signed(width))
    results = [Signal(name=f"ge{index}") for index in range(len(constants))]
    m.d.comb += [result.eq(at_least(value, constant))
                 for result, constant in zip(results, constants)]
    seen = []

    async def testbench(ctx):
        for x in range(low, high):
            ctx.set(value, x)
            seen.append([ctx.get(result) for result in results])

    simulator = Simulator(m)
    simulator.add_testbench(testbench)
    simulator.run()
    expected = [[int(x >= constant) for constant in constants] for x in range(low, high)]
    assert seen == expected


def test_a_dictionary_larger_than_memory_is_refused_before_sampling():
    from qnnhw.errors import QnnhwError

    with pytest.raises(QnnhwError, match="needs about .* GiB, this machine has") as refusal:
        LutTrainer._check_memory(1_000_000, 1_000_000)   # 16 TB of patterns
    assert refusal.value.parameters == ("neurons", "subsample")
    LutTrainer._check_memory(1_437, 20_000)   # digits with the default dictionary: fine


def test_a_lut_network_too_large_for_the_board_is_refused_before_synthesis(tmp_path):
    model = random_lut_model(30, 3000, classes=10, seed=9)
    model.save(tmp_path / "model.json")
    out = tmp_path / "out"
    result = run_cli("build", "--board", "icestick", "--model", str(tmp_path / "model.json"),
                     "-o", str(out))
    # Both architectures were tried; the refusal is the one that came closer (folded).
    assert "unrolled: the design does not fit" in result.stderr
    assert_one_line_error(result, "does not fit icestick",
                          "folded design with one of its output units (folded sums) (P=1)",
                          "a larger --beta", "ulx3s")
    assert "synthesis" not in result.stderr and not out.exists()
