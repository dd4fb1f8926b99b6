"""Cycle-accurate verification: cocotb 2 + Verilator, every output against the reference."""

import csv
import json

import numpy as np
import pytest

from qnnhw.families import get_family
from qnnhw.families.bilinear.fixedpoint import BilinearSpec
from qnnhw.families.threshold.fixedpoint import ThresholdSpec
from sim import runner
from sim.runner import random_vectors, simulate_datapath

from .helpers import assert_one_line_error, random_model, random_threshold_model, run_cli

#: Each Verilator run compiles a design (about 40 s): make test keeps the smallest one, so
#: that the harness is exercised in the edit loop; make test-all runs them all.
slow = pytest.mark.slow


@pytest.mark.parametrize("features, m, parallel, bias, replicas, bits", [
    (1, 1, 1, False, 1, 8),   # d = 1, m = 1
    pytest.param(6, 9, 4, True, 1, 7, marks=slow),    # odd d = 7, P does not divide m
    pytest.param(4, 6, 6, True, 1, 8, marks=slow),    # P = m
    pytest.param(5, 11, 1, True, 2, 5, marks=slow),   # P = 1, replicated features (3 levels)
])
def test_every_output_matches_the_reference(verilator_dir, features, m, parallel, bias, replicas,
                                             bits):
    model = random_model(features, m, bias=bias, replicas=replicas, seed=features + m)
    spec = BilinearSpec.for_model(model, input_bits=bits)
    inputs = random_vectors(spec, 60, seed=m)
    result = simulate_datapath(model, spec, parallel, inputs, verilator_dir, seed=m,
                               idle_probability=0.4, stall_probability=0.5)
    assert result.mismatches == 0
    assert result.outputs == result.reference  # the full-rate run, in order
    assert result.tests["random_stalls"]["outputs"] == result.reference
    assert not result.tests["_failures"]
    assert result.latency_cycles == result.expected_latency
    assert result.cycles_per_vector == result.initiation_interval == -(-m // parallel)


@slow
@pytest.mark.parametrize("features, m, parallel, classes, bits", [
    (33, 2500, 8, 2, 8),   # ionosphere's shape at the paper's m: P = 8 row units
    (5, 9, 1, 2, 5),       # P = 1, d̂ = 6 < B + 1: padded rounds
    (4, 12, 3, 3, 6),      # three outputs, class and scores
])
def test_quadratic_architecture_matches_the_reference_in_verilator(
        verilator_dir, features, m, parallel, classes, bits):
    model = random_model(features, m, seed=features + m, classes=classes)
    spec = BilinearSpec.for_model(model, input_bits=bits)
    inputs = random_vectors(spec, 60, seed=m)
    result = simulate_datapath(model, spec, parallel, inputs, verilator_dir, seed=m,
                               arch="quadratic", idle_probability=0.4, stall_probability=0.5)
    assert result.mismatches == 0 and not result.tests["_failures"]
    assert result.outputs == result.reference
    assert result.tests["random_stalls"]["outputs"] == result.reference
    assert result.latency_cycles == result.expected_latency


@slow
@pytest.mark.parametrize("features, neurons, parallel, hidden_bits, bits, layers", [
    (1, 1, 1, 1, 8, ()),      # d = 2, one neuron
    (6, 11, 4, 1, 6, ()),     # ±1 weights, P does not divide K
    (5, 7, 7, 1, 8, ()),      # P = K: constant weights, no ROM
    (4, 9, 2, 3, 7, ()),      # 3-bit integer weights by bit planes
    (3, 5, 5, 5, 8, ()),      # 5-bit integer weights, constants
    (5, 9, 3, 1, 8, (7, 4)),  # deep: two earlier layers before the folded one
])
def test_every_threshold_output_matches_the_reference(verilator_dir, features, neurons, parallel,
                                                       hidden_bits, bits, layers):
    model = random_threshold_model(features, neurons, hidden_bits=hidden_bits,
                                   seed=features + neurons, layer_widths=layers)
    spec = ThresholdSpec.for_model(model, input_bits=bits)
    inputs = random_vectors(spec, 80, seed=neurons)
    result = simulate_datapath(model, spec, parallel, inputs, verilator_dir, seed=neurons,
                               idle_probability=0.4, stall_probability=0.5)
    assert result.mismatches == 0 and not result.tests["_failures"]
    assert result.outputs == result.reference
    assert result.tests["random_stalls"]["outputs"] == result.reference
    assert len(set(result.reference)) >= min(3, neurons)   # neurons really switch
    assert result.latency_cycles == result.expected_latency
    assert result.cycles_per_vector == result.initiation_interval == -(-neurons // parallel)


@slow
@pytest.mark.parametrize("family, classes, m, parallel", [
    ("bilinear", 3, 8, 3),     # output groups padded, T = 4
    ("bilinear", 10, 12, 2),   # ten outputs, one or two neurons each
    ("threshold", 4, 9, 4),    # C gated sums and a comparator tree
    ("threshold", 10, 7, 7),   # constant weights, ten outputs
])
def test_every_class_and_score_matches_the_reference(verilator_dir, family, classes, m,
                                                     parallel):
    if family == "bilinear":
        model = random_model(5, m, classes=classes, seed=m)
        spec = BilinearSpec.for_model(model, input_bits=6)
    else:
        model = random_threshold_model(5, m, classes=classes, seed=m)
        spec = ThresholdSpec.for_model(model, input_bits=6)
    inputs = random_vectors(spec, 60, seed=m)
    result = simulate_datapath(model, spec, parallel, inputs, verilator_dir, seed=m,
                               idle_probability=0.4, stall_probability=0.5)
    assert result.mismatches == 0 and not result.tests["_failures"]
    assert result.outputs == result.reference
    assert result.tests["random_stalls"]["outputs"] == result.reference
    decoded = runner.decode_words(spec, result.outputs)
    expected = runner.flow.reference(model, spec).outputs(inputs)
    assert [label for label, _ in decoded] == np.argmax(expected, axis=1).tolist()
    assert [list(scores) for _, scores in decoded] == expected.tolist()
    assert len({label for label, _ in decoded}) >= 2   # the class really changes
    assert result.latency_cycles == result.expected_latency


@slow
@pytest.mark.parametrize("arch, parallel", [("unrolled", 1), ("folded", 4)])
def test_lut_architectures_match_the_reference_in_verilator(verilator_dir, arch, parallel):
    model = get_family("lut").example(6, 14, seed=5, classes=10)
    spec = runner.flow.fixed_point(model, 6)
    inputs = random_vectors(spec, 60, seed=5)
    result = simulate_datapath(model, spec, parallel, inputs, verilator_dir, arch=arch,
                               seed=5, idle_probability=0.4, stall_probability=0.5)
    assert result.mismatches == 0 and not result.tests["_failures"]
    assert result.outputs == result.reference
    assert result.tests["random_stalls"]["outputs"] == result.reference
    assert len({label for label, _ in runner.decode_words(spec, result.outputs)}) >= 2
    assert result.latency_cycles == result.expected_latency
    assert result.cycles_per_vector == (-(-spec.m // parallel) if arch == "folded" else 1)


@slow
def test_a_wrong_output_is_caught(verilator_dir, monkeypatch):
    """The bench is not vacuous: perturb one reference value and it must report it."""
    model = random_model(3, 4, seed=9)
    spec = BilinearSpec.for_model(model)
    real_reference = runner.flow.reference

    class OffByOne:
        def __init__(self, model, spec):
            self.reference = real_reference(model, spec)

        def outputs(self, x):
            y = self.reference.outputs(x).copy()
            y[5] += 1
            return y

    monkeypatch.setattr(runner.flow, "reference", OffByOne)
    result = simulate_datapath(model, spec, 2, random_vectors(spec, 10), verilator_dir)
    assert result.mismatches == 2  # vector 5, in the full-rate and in the stalled run
    assert result.tests["full_rate"]["mismatches"][0]["vector"] == 5


@slow
def test_cli_simulate_json_and_dump(tmp_path):
    model = random_model(4, 10, seed=2)
    model.save(tmp_path / "model.json")
    dump = tmp_path / "vectors.csv"
    result = run_cli("simulate", str(tmp_path / "model.json"), "--vectors", "20",
                     "--parallel", "3", "--dump", str(dump), "--json", "--work-dir",
                     str(tmp_path / "work"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["vectors"] == 20 and report["mismatches"] == 0
    assert report["parallel"] == 3 and report["cycles_per_vector"] == 4
    assert report["latency_cycles"] > 4
    rows = list(csv.DictReader(dump.open()))
    assert len(rows) == 20
    assert all(row["y_hardware"] == row["y_reference"] for row in rows)
    assert rows[0]["x0"] == "-128"


def test_cli_verilog_is_lint_clean(tmp_path):
    import subprocess

    from sim.toolchain import verilator_environment

    model = random_model(5, 7, seed=1)
    model.save(tmp_path / "model.json")
    out = tmp_path / "out.v"
    result = run_cli("verilog", str(tmp_path / "model.json"), "-o", str(out), "--parallel", "3")
    assert result.returncode == 0, result.stderr
    spec = json.loads(out.with_suffix(".fixedpoint.json").read_text())
    assert spec["m"] == 7 and spec["d"] == 6
    verilator_environment()
    # WIDTH warnings only flag Yosys's Verilog writer leaning on Verilog's context-determined
    # sign extension, which is Amaranth's arithmetic exactly; every other warning counts.
    lint = subprocess.run(["verilator", "--lint-only", "-Wno-WIDTH", str(out)],
                          capture_output=True, text=True)
    assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr


@pytest.mark.parametrize("args, needle", [
    (["--parallel", "11"], "--parallel must be between 1 and m=10, not 11"),
])
def test_cli_refuses_bad_parallel(tmp_path, args, needle):
    random_model(4, 10).save(tmp_path / "model.json")
    assert_one_line_error(run_cli("simulate", str(tmp_path / "model.json"), *args), needle)
    assert_one_line_error(run_cli("verilog", str(tmp_path / "model.json"), "-o",
                                  str(tmp_path / "x.v"), *args), needle)
    assert not (tmp_path / "x.v").exists()


def test_cli_refuses_corrupt_model(tmp_path):
    path = tmp_path / "model.json"
    path.write_text("{not json")
    assert_one_line_error(run_cli("simulate", str(path)), "corrupt model file")
    data = random_model(2, 3).to_dict()
    data["network"]["U"][0][0] = 3
    path.write_text(json.dumps(data))
    assert_one_line_error(run_cli("verilog", str(path), "-o", str(tmp_path / "x.v")),
                          "is not ±1")


def test_random_vectors_start_with_full_scale_corners():
    spec = BilinearSpec.for_model(random_model(3, 2), input_bits=4)
    vectors = random_vectors(spec, 6)
    assert vectors[0].tolist() == [-8, -8, -8] and vectors[1].tolist() == [7, 7, 7]
    assert np.all((vectors >= -8) & (vectors <= 7))


@slow
def test_the_verilator_harness_checks_every_output(verilator_dir, monkeypatch):
    """bench/verify.py's engine: thousands of vectors under random gaps and stalls, all equal
    to the reference; a reference off by one in one output is caught."""
    from sim import verify

    model = random_threshold_model(4, 6, classes=3, seed=9)
    spec = ThresholdSpec.for_model(model, input_bits=5)
    inputs = np.concatenate([verify.corner_vectors(spec), random_vectors(spec, 3000, seed=2)])
    result = verify.verify_datapath(model, spec, 2, inputs, verilator_dir, idle_percent=30,
                                    stall_percent=40, seed=3)
    assert result.mismatches == 0 and result.vectors == len(inputs)
    assert result.cycles > len(inputs) * 3   # T = 3 cycles per vector, and the stalls
    exact = verify.output_words

    def off_by_one(*args, **kwargs):
        words = exact(*args, **kwargs)
        words[1234] += 1
        return words

    monkeypatch.setattr(verify, "output_words", off_by_one)
    broken = verify.verify_datapath(model, spec, 2, inputs, verilator_dir, seed=3)
    assert broken.mismatches == 1 and broken.first_mismatch.startswith("vector 1234:")
