"""Threshold networks: the Lasso and its certificate, the model file, fixed point, reference."""

import json

import numpy as np
import pytest

from qnnhw import dataset
from qnnhw.errors import QnnhwError
from qnnhw.families import spec_from_dict
from qnnhw.families.threshold.config import ThresholdConfig
from qnnhw.families.threshold.fixedpoint import ThresholdSpec
from qnnhw.families.threshold.hyperplanes import (
    distinct_patterns,
    integer_directions,
    sample_hyperplanes,
)
from qnnhw.families.threshold.model import ThresholdModel
from qnnhw.families.threshold.reference import ThresholdReference
from qnnhw.lasso import duality_gap, solve_lasso
from qnnhw.model import load_model
from qnnhw.training import train

from .helpers import assert_one_line_error, random_threshold_model, run_cli


def lasso_problem(seed=0, n=60, columns=40):
    rng = np.random.default_rng(seed)
    D = (rng.random((n, columns)) < 0.5).astype(float)
    y = np.sign(D[:, :3] @ np.array([1.0, -2.0, 1.5]) - 0.5 + 0.3 * rng.normal(size=n))
    return D, y


@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_fista_and_a_conic_solver_agree_within_their_certificates(beta):
    D, y = lasso_problem()
    fista = solve_lasso(D, y, beta, solver="FISTA")
    conic = solve_lasso(D, y, beta, solver="CLARABEL")
    for solution in (fista, conic):
        assert 0 <= solution.gap <= 1e-4 * solution.objective
        # Each certificate bounds the other solver's objective from below.
        assert solution.lower_bound <= min(fista.objective, conic.objective) + 1e-9
    assert fista.objective == pytest.approx(conic.objective, rel=1e-4)
    assert np.array_equal(np.flatnonzero(np.abs(fista.w) > 1e-6),
                          np.flatnonzero(np.abs(conic.w) > 1e-6))


def test_the_duality_gap_is_a_certificate_not_a_formality():
    """A poor w (all zeros) has a large gap, and the gap really bounds the optimum."""
    D, y = lasso_problem(1)
    beta = 1.0
    optimum = solve_lasso(D, y, beta).objective
    primal, dual, bias = duality_gap(D, y, beta, np.zeros(D.shape[1]))
    assert bias == pytest.approx(y.mean())
    assert dual <= optimum + 1e-9 <= primal
    assert primal - dual > 0.1 * primal


def test_a_huge_beta_keeps_no_neuron_and_says_so(tmp_path):
    """The library names the parameter, the command line its flag."""
    data = dataset.load("ionosphere")
    with pytest.raises(QnnhwError, match="keeps no neuron; use a smaller beta$"):
        train(data, ThresholdConfig(beta=1e6))
    assert_one_line_error(run_cli("train", "--family", "threshold", "--beta", "1e6", "-o",
                                  str(tmp_path / "m.json")),
                          "keeps no neuron; use a smaller --beta")


def test_distinct_patterns_drop_repeats_and_constants():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    H = np.array([[1, 0], [2, 0], [0, 1], [1, 1], [-1, -1], [0, 0]])
    D, rows = distinct_patterns(X, H)
    # [2, 0] repeats [1, 0]; [0, 0] puts every row on the active side (constant)
    assert rows.tolist() == [0, 2, 3, 4]
    assert D[:, 0].tolist() == [1, 0, 1, 1] and D[:, 3].tolist() == [0, 1, 0, 1]


def test_integer_directions_keep_the_largest_entry_at_full_scale():
    H = integer_directions(np.array([[0.5, -2.0, 1.0], [3.0, 0.1, -0.2]]), 4)
    assert H.tolist() == [[2, -7, 4], [7, 0, 0]]
    binary = sample_hyperplanes(np.random.default_rng(0), 50, 6, "binary", 1)
    assert set(np.unique(binary)) == {-1, 1}


def test_ionosphere_lasso_network_is_accurate_and_certified():
    data = dataset.load("ionosphere")
    model, report = train(data, ThresholdConfig())
    assert isinstance(model, ThresholdModel) and set(np.unique(model.H)) == {-1, 1}
    assert report["test_accuracy"] >= 0.85
    assert report["lasso_gap"] <= 1e-5 * report["lasso_objective"]
    assert report["objective"] == pytest.approx(report["lasso_objective"], rel=1e-9)
    assert model.m == np.count_nonzero(model.w) and 10 <= model.m <= 200


@pytest.mark.parametrize("method", ["ste", "ste-relu", "ste-lrelu", "ste-crelu"])
def test_ste_baselines_train_integer_networks(method):
    data = dataset.load("ionosphere")
    model, report = train(data, ThresholdConfig(method=method, neurons=16,
                                            epochs=30))
    assert model.hidden_bits == 8 and np.abs(model.H).max() == 127
    assert report["train_accuracy"] >= 0.7 and report["lasso_gap"] is None


@pytest.mark.parametrize("rule", ["constant", "decreasing"])
def test_askewsgd_trains_binary_hyperplanes_with_a_lasso_output_layer(rule):
    data = dataset.load("ionosphere")
    model, report = train(data, ThresholdConfig(method="askewsgd", neurons=16, epochs=30,
                                                step_rule=rule))
    assert model.hidden_bits == 1 and set(np.unique(model.H)) <= {-1, 1}
    assert report["hidden_weights"] == "binary" and report["step_rule"] == rule
    # The output layer is the Lasso's over these neurons: certified, and the objective's.
    assert report["lasso_gap"] <= 1e-5 * report["lasso_objective"]
    assert report["objective"] == pytest.approx(report["lasso_objective"], rel=1e-6)
    assert report["train_accuracy"] >= 0.8


def test_model_file_round_trip(tmp_path):
    model = random_threshold_model(5, 7, hidden_bits=3)
    model.save(tmp_path / "t.json")
    loaded = load_model(tmp_path / "t.json")
    assert isinstance(loaded, ThresholdModel)
    assert np.array_equal(loaded.H, model.H) and np.array_equal(loaded.w, model.w)
    X = np.random.default_rng(0).normal(size=(20, 5))
    assert np.array_equal(loaded.decision_function(X), model.decision_function(X))


@pytest.mark.parametrize("edit, needle", [
    (lambda n: n["H"][0].__setitem__(0, 2), "is not ±1"),
    (lambda n: n.update(hidden="integer", hidden_bits=3, H=[[4] * 5] + n["H"][1:]),
     "is not an integer in [−3, 3]"),
    (lambda n: n["w"].pop(), "one output weight for each of the 4 neurons"),
    (lambda n: n.update(bias=float("nan")), "network.bias must be a finite number"),
    (lambda n: n.update(hidden="real"), "network.hidden must be one of binary, integer"),
])
def test_corrupt_threshold_model_files_are_refused(tmp_path, edit, needle):
    data = random_threshold_model(4, 4).to_dict()
    edit(data["network"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(QnnhwError, match=None) as error:
        load_model(path)
    assert needle in str(error.value)
    assert_one_line_error(run_cli("verilog", str(path), "-o", str(tmp_path / "x.v")), needle)
    assert not (tmp_path / "x.v").exists()


def test_unknown_family_is_refused(tmp_path):
    data = random_threshold_model(2, 2).to_dict()
    data["family"] = "spiking"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    assert_one_line_error(run_cli("simulate", str(path)), "unknown model family 'spiking'")


@pytest.mark.parametrize("hidden_bits", [1, 4])
def test_widths_hold_the_worst_case_and_the_reference_is_exact(hidden_bits):
    model = random_threshold_model(6, 9, hidden_bits=hidden_bits, seed=hidden_bits)
    spec = ThresholdSpec.for_model(model, input_bits=5)
    reference = ThresholdReference(model, spec)
    rng = np.random.default_rng(1)
    x = rng.integers(spec.input_min, spec.input_max + 1, (500, 6))
    x = np.vstack([x, np.full((1, 6), spec.input_min), np.full((1, 6), spec.input_max)])
    z = reference.hidden(x)
    assert np.abs(z).max() < 1 << (spec.hidden_width - 1)
    y = reference.outputs(x)
    assert spec.output_low <= y.min() and y.max() <= spec.output_high
    assert spec.output_high < 1 << (spec.output_width - 1)
    # The literal formula, neuron by neuron.
    lifted = np.hstack([x, np.full((len(x), 1), spec.bias_value)])
    expected = [spec.output_bias + sum(w for h, w in zip(model.H, spec.output_weights)
                                       if int(h @ row) >= 0) for row in lifted]
    assert y.tolist() == expected


def test_output_weights_are_rounded_once_and_saturated():
    model = random_threshold_model(3, 4)
    model.w = np.array([0.5, -1.25, 3.999, 0.0])
    model.bias = -0.75
    spec = ThresholdSpec.for_model(model, weight_bits=8)
    assert spec.output_frac == 5      # max |w| < 4: 2 integer bits + sign
    assert spec.output_weights == (16, -40, 127, 0) and spec.output_bias == -24
    assert spec_from_dict(json.loads(spec.to_json())) == spec
    tampered = dict(spec.to_dict(), output_width=spec.output_width + 1)
    with pytest.raises(QnnhwError, match="'output_width'"):
        spec_from_dict(tampered)


def test_hardware_integers_agree_with_the_float_network_on_ionosphere():
    data = dataset.load("ionosphere")
    model, _ = train(data, ThresholdConfig())
    spec = ThresholdSpec.for_model(model)
    reference = ThresholdReference(model, spec)
    X = np.vstack([data.X_train, data.X_test])
    hardware = reference.predict_classes(reference.quantize(X))
    assert np.mean(hardware == model.predict_classes(X)) >= 0.97


@pytest.mark.parametrize("args, needle", [
    (["--loss", "hinge"], "drop --loss hinge"),
    (["--weight-levels", "3"], "--weight-levels is for bilinear networks"),
    (["--hidden-bits", "4"], "--hidden-bits is for --hyperplanes gaussian"),
    (["--hyperplanes", "gaussian", "--hidden-bits", "1"], "--hidden-bits must be from 2"),
    (["--method", "sdp"], "method 'sdp' does not train a threshold network"),
    (["--solver", "SCS", "--method", "backprop"], "method 'backprop' does not train"),
    (["--m", "100"], "--m is for bilinear networks"),
    (["--alpha", "paper"], "--alpha is for bilinear networks"),
    (["--beta", "nan"], "--beta must be a finite number"),
])
def test_cli_train_threshold_refuses_bad_options(tmp_path, args, needle):
    out = tmp_path / "t.json"
    assert_one_line_error(run_cli("train", "--family", "threshold", "-o", str(out), *args),
                          needle)
    assert not out.exists()


def test_cli_train_threshold_json_and_summary(tmp_path):
    out = tmp_path / "t.json"
    result = run_cli("train", "--family", "threshold", "--hyperplanes", "gaussian",
                     "--neurons", "500", "--beta", "8", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["family"] == "threshold" and report["hyperplanes"] == 500
    assert report["hidden_weights"] == "gaussian" and report["hidden_bits"] == 4
    assert report["neurons"] == report["m"] == load_model(out).m
    assert "Lasso solved" in result.stderr
    text = run_cli("train", "--family", "threshold", "-o", str(out))
    assert "duality gap" in text.stdout and "±1 hidden weights" in text.stdout


def test_threshold_estimator_classifies_with_a_certificate():
    from qnnhw import ThresholdClassifier

    data = dataset.load("ionosphere", seed=0)
    labels = np.where(data.y_train > 0, "good", "bad")
    net = ThresholdClassifier(beta=5, hyperplanes=1000).fit(data.X_train, labels)
    assert set(net.predict(data.X_test)) <= {"good", "bad"}
    assert net.score(data.X_test, np.where(data.y_test > 0, "good", "bad")) > 0.8
    assert 0 <= net.gap_ <= 1e-5 * net.objective_
    assert net.set_params(kind="gaussian").get_params()["kind"] == "gaussian"
    with pytest.raises(QnnhwError, match="unknown parameter 'm'"):
        net.set_params(m=3)


@pytest.mark.parametrize("args", [["--neurons", "50"], ["--hyperplanes", "gaussian"],
                                  ["--hidden-bits", "3"]])
def test_cli_train_bilinear_refuses_threshold_options(tmp_path, args):
    out = tmp_path / "m.json"
    assert_one_line_error(run_cli("train", "-o", str(out), *args),
                          "are for threshold networks; add --family threshold")
    assert not out.exists()


def test_an_interior_point_finishes_what_fista_cannot(monkeypatch):
    from qnnhw import lasso

    D, y = lasso_problem(2)
    reference = solve_lasso(D, y, 0.5, solver="CLARABEL")
    monkeypatch.setattr(lasso, "SUBPROBLEM_ITERATIONS", 1)
    messages = []
    solution = solve_lasso(D, y, 0.5, progress=messages.append)
    assert solution.solver == "FISTA+CLARABEL"
    assert any("CLARABEL takes over" in message for message in messages)
    assert solution.objective == pytest.approx(reference.objective, rel=1e-6)
    assert solution.gap <= 1e-4 * solution.objective


def test_the_summary_says_when_the_lasso_is_not_certified():
    from qnnhw.lasso import lasso_verdict

    assert "optimal over these neurons" in lasso_verdict(40.0, 1e-5)
    verdict = lasso_verdict(40.0, 8.0)
    assert "stopped early" in verdict and "at least 32" in verdict


def test_deep_lasso_network_chains_its_layers():
    data = dataset.load("ionosphere")
    model, report = train(data, ThresholdConfig(layers=4, layer_width=12))
    assert [layer.shape for layer in model.layers] == [(12, 34), (12, 13)]
    assert model.d == 13 and report["layers"] == 4
    assert report["lasso_gap"] <= 1e-5 * report["lasso_objective"]
    assert report["train_accuracy"] >= 0.8
    spec = ThresholdSpec.for_model(model)
    assert spec.layer_widths == (12, 12) and spec.d == 13
    reference = ThresholdReference(model, spec)
    X = data.X_train
    hardware = reference.predict_classes(reference.quantize(X))
    agreement = np.mean(hardware == model.predict_classes(X))
    assert agreement >= 0.97


def test_deep_model_file_round_trip_and_refusals(tmp_path):
    model = random_threshold_model(4, 5, layer_widths=(6, 3))
    model.save(tmp_path / "deep.json")
    loaded = load_model(tmp_path / "deep.json")
    assert [layer.tolist() for layer in loaded.layers] == [layer.tolist()
                                                            for layer in model.layers]
    X = np.random.default_rng(3).normal(size=(30, 4))
    assert np.array_equal(loaded.decision_function(X), model.decision_function(X))
    data = model.to_dict()
    data["network"]["layers"][1][0] = [1, -1]     # the second layer sees 6 + 1 inputs
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(QnnhwError, match=r"layers\[1\]\[0\] has 2 weights, expected 7"):
        load_model(tmp_path / "bad.json")
    data = model.to_dict()
    data["network"]["H"] = [row + [1] for row in data["network"]["H"]]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(QnnhwError, match=r"network.H\[0\] has 5 weights, expected 4"):
        load_model(tmp_path / "bad.json")


@pytest.mark.parametrize("args, needle", [
    (["--family", "threshold", "--layers", "1"], "--layers counts the weight layers"),
    (["--family", "threshold", "--layers", "3", "--method", "ste"], "is for --method lasso"),
    (["--layers", "3"], "add --family threshold"),
    (["--family", "threshold", "--layers", "3", "--layer-width", "8", "--data", "TINY"],
     "distinct neurons on this data; use --layer-width"),
])
def test_cli_refuses_bad_depth(tmp_path, args, needle):
    # One feature: ±1 hyperplanes on (x, 1) cut 12 rows in few distinct ways.
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("x,y\n" + "".join(f"{k},{'a' if k % 3 else 'b'}\n" for k in range(12)))
    args = [str(tiny) if arg == "TINY" else arg for arg in args]
    out = tmp_path / "m.json"
    assert_one_line_error(run_cli("train", "-o", str(out), *args), needle)
    assert not out.exists()


def test_estimators_are_scikit_learn_estimators():
    """clone, Pipeline and GridSearchCV over β, on ten classes (digits) and on two."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from qnnhw import ThresholdClassifier

    data = dataset.load("digits", seed=0)
    labels = np.array([f"d{int(k)}" for k in data.y_train])   # strings: classes, not values
    net = ThresholdClassifier(beta=20, hyperplanes=600)
    assert clone(net).get_params() == net.get_params()
    pipeline = make_pipeline(MinMaxScaler(), net).fit(data.X_train, labels)
    assert list(pipeline.classes_) == [f"d{k}" for k in range(10)]
    test_labels = np.array([f"d{int(k)}" for k in data.y_test])
    assert pipeline.score(data.X_test, test_labels) > 0.85
    assert pipeline[-1].model_.outputs == 10
    search = GridSearchCV(ThresholdClassifier(hyperplanes=300), param_grid={"beta": [5, 50]}, cv=2)
    search.fit(data.X_train[:600], data.y_train[:600].astype(int))
    assert search.best_params_["beta"] in (5, 50)
    assert set(search.predict(data.X_test[:20])) <= set(range(10))


def test_group_lasso_certifies_ten_outputs_from_the_cli(tmp_path):
    out = tmp_path / "m.json"
    result = run_cli("train", "--family", "threshold", "--data", "digits", "--beta", "20",
                     "--neurons", "800", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "group Lasso (10 outputs)" in result.stderr
    assert report["lasso_gap"] <= 1e-4 * report["lasso_objective"]
    assert report["test_accuracy"] >= 0.93
    model = load_model(out)
    assert model.outputs == 10 and model.w.shape == (model.m, 10) and model.bias.shape == (10,)
    assert len(report["output_bias"]) == 10


def test_group_lasso_gap_is_a_valid_bound():
    """The dual value lower-bounds the objective at any W, and the solver's W is optimal
    against random perturbations."""
    rng = np.random.default_rng(3)
    D = (rng.random((60, 25)) > 0.5).astype(float)
    Y = np.where(rng.integers(0, 4, 60)[:, None] == np.arange(4), 1.0, -1.0)
    solution = solve_lasso(D, Y, 2.0)
    assert solution.w.shape == (25, 4) and solution.bias.shape == (4,)
    optimum = solution.objective
    assert solution.gap <= 1e-5 * optimum
    for _ in range(20):
        W = solution.w + rng.normal(size=solution.w.shape) * 0.05
        primal, dual, _ = duality_gap(D, Y, 2.0, W)
        assert dual <= optimum + 1e-9 <= primal + 1e-9 + solution.gap
    single = solve_lasso(D, Y[:, 0], 2.0)
    assert single.w.shape == (25,) and isinstance(single.bias, float)
