"""The baselines: backprop + post-training quantisation, and STE / BinaryConnect."""

import json

import numpy as np
import pytest

from qnnhw.families.bilinear.baselines import backprop_ptq
from qnnhw.families.bilinear.fixedpoint import BilinearSpec
from qnnhw.families.bilinear.model import BilinearModel
from qnnhw.optim import SGDConfig
from sim.runner import random_vectors, simulate_datapath

from .helpers import run_cli


@pytest.mark.parametrize("method", ["backprop", "ste", "askewsgd"])
def test_baseline_learns_and_respects_the_bound(planted_trainer, method):
    model, trace = planted_trainer.baseline(method, 200)
    assert model.training["method"] == method
    assert set(np.unique(model.U)) == {-1, 1} and set(np.unique(model.V)) == {-1, 1}
    X, y = planted_trainer.dataset.X_train, planted_trainer.dataset.y_train
    relative = np.sum((model.decision_function(X) - y) ** 2) / np.sum(y ** 2)
    assert relative < 0.3, relative            # the zero predictor scores 1
    assert model.training["lower_bound"] <= model.training["objective"]
    assert trace.step_size > 0


def test_ptq_scale_is_the_least_squares_fit(planted_trainer):
    X, y = planted_trainer.lifted_train, planted_trainer.dataset.y_train
    U, V, scale, _, Z = backprop_ptq(X, y, 50, "squared", 1e-4, SGDConfig(epochs=20))
    Z_hat = U.T.astype(float) @ V.astype(float)
    error = [np.linalg.norm(c * Z_hat - Z) for c in (scale * 0.98, scale, scale * 1.02)]
    assert error[1] < error[0] and error[1] < error[2]


@pytest.mark.parametrize("method", ["backprop", "ste", "askewsgd"])
def test_cli_trains_each_method_into_a_valid_model_file(tmp_path, method):
    out = tmp_path / "model.json"
    result = run_cli("train", "--data", "ionosphere", "--method", method, "--m", "60",
                     "--epochs", "40", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == method
    assert report["lower_bound"] <= report["objective"]
    assert report["test_accuracy"] > 0.75
    assert BilinearModel.load(out).training["method"] == method


@pytest.mark.slow
@pytest.mark.parametrize("method", ["backprop", "ste", "askewsgd"])
def test_baseline_flows_through_simulation_bit_exactly(planted_trainer, tmp_path, method):
    model, _ = planted_trainer.baseline(method, 12)
    spec = BilinearSpec.for_model(model)
    result = simulate_datapath(model, spec, 5, random_vectors(spec, 30), tmp_path)
    assert result.mismatches == 0 and result.outputs == result.reference
