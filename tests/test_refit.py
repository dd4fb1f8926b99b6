"""The bilinear family's training beyond Algorithm 1: column generation, the Lasso refit,
best of K draws and the local search — each only ever lowers the objective (21), and the
network stays an ordinary ±1 network of exactly the width asked for."""

from __future__ import annotations

import numpy as np
import pytest

from qnnhw import dataset
from qnnhw.families.bilinear import colgen, flips, refit
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.train import SDPTrainer, objective
from qnnhw.losses import loss_value

from .helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def ionosphere():
    return dataset.load("ionosphere", seed=0)


@pytest.fixture
def colgen_trainer(ionosphere):
    # A new trainer each test: the column generation it caches is stopped by the first m.
    return SDPTrainer(ionosphere, BilinearConfig(loss="hinge", beta=10.0, colgen_rounds=20))


def assert_pm1_network(model, m):
    assert model.m == m
    assert set(np.unique(model.U)) | set(np.unique(model.V)) <= {-1, 1}


def recomputed_objective(trainer, model):
    sums = model.neuron_sums(trainer.lifted_train)
    return objective(trainer.loss, trainer.beta, trainer.d, model.m, model.alpha,
                     model.alpha * sums, trainer.targets)


@pytest.mark.parametrize("m", [10, 300, 2500])
def test_column_generation_lowers_the_objective_toward_the_bound(colgen_trainer, m):
    model = colgen_trainer.sample(m)
    training = model.training
    assert_pm1_network(model, m)
    assert training["objective"] == pytest.approx(recomputed_objective(colgen_trainer, model))
    assert training["lower_bound"] <= training["objective"] <= training["objective_algorithm1"]
    # The refit before rounding lies between the SDP's bound and its rounded network.
    continuous = training["refit_objective_continuous"]
    assert training["lower_bound"] <= continuous * (1 + 1e-6)
    if m >= 300:
        assert training["refit_kept"]
        # Far closer to the certificate than Algorithm 1's draw (gap 40 at m = 2,500).
        algorithm1_gap = training["objective_algorithm1"] - training["lower_bound"]
        assert training["gap"] < 0.6 * algorithm1_gap


def test_one_column_generation_serves_every_width(colgen_trainer):
    colgen_trainer.sample(100, seed=3)
    columns = colgen_trainer._columns(3, 100)
    colgen_trainer.sample(200, seed=3)
    assert colgen_trainer._columns(3, 100) is columns


def test_column_generation_stops_when_the_rounded_network_stops_improving(ionosphere):
    trainer = SDPTrainer(ionosphere, BilinearConfig(loss="hinge", beta=10.0))
    y = trainer.targets
    scores = []

    def rounded(part):
        scores.append(trainer._rounded_objective(part, y, 5))
        return scores[-1]

    best = colgen.generate_columns(trainer.lifted_train, y, "hinge", trainer.beta * trainer.d,
                                   trainer.covariances[0][0], np.random.default_rng(0), 60,
                                   rounded=rounded)
    # Evaluated every CHECK_EVERY rounds; stopped PATIENCE rounds after the best, which is
    # what comes back, among the snapshots.
    assert [snapshot.rounds for snapshot in best.snapshots] == [
        colgen.CHECK_EVERY * k for k in range(len(scores))]
    assert scores[best.snapshots.index(best)] == min(scores)
    last = best.snapshots[-1].rounds
    assert last == 60 or best.snapshots[-1].converged or \
        last - best.rounds >= colgen.PATIENCE


def test_squared_loss_and_several_outputs_are_refitted(planted_trainer):
    data = planted_trainer.dataset
    trainer = SDPTrainer(data, BilinearConfig(loss="squared", beta=1e-4, colgen_rounds=5))
    model = trainer.sample(100)
    assert model.training["objective"] <= model.training["objective_algorithm1"]
    assert model.training["lower_bound"] <= model.training["objective"]
    digits = dataset.load("digits", seed=0, subsample=300)
    trainer = SDPTrainer(digits, BilinearConfig(m=40, colgen_rounds=2))
    model = trainer.sample(40)
    assert_pm1_network(model, 40)
    assert sum(model.class_neurons) == 40 and min(model.class_neurons) >= 1
    assert model.training["objective"] <= model.training["objective_algorithm1"]
    assert model.training["objective"] == pytest.approx(recomputed_objective(trainer, model))


def test_best_of_k_draws_is_never_worse_than_the_first(ionosphere):
    one = SDPTrainer(ionosphere, BilinearConfig(beta=10.0, output_refit="none")).sample(50)
    eight = SDPTrainer(ionosphere, BilinearConfig(beta=10.0, output_refit="none",
                                                  draws=8)).sample(50)
    assert eight.training["objective"] <= one.training["objective"]
    assert eight.training["draws"] == 8


def test_flip_search_updates_the_objective_exactly_and_only_lowers_it(ionosphere_trainer):
    trainer = ionosphere_trainer
    model = trainer.sample(40, seed=1)
    X, y = trainer.lifted_train, trainer.targets
    before = loss_value("hinge", model.alpha * model.neuron_sums(X), y)
    U, V, count = flips.flip_search(X, y, "hinge", model.U, model.V, model.alpha, (), 2)
    sums = np.sum((X @ U.T.astype(float)) * (X @ V.T.astype(float)), axis=1)
    after = loss_value("hinge", model.alpha * sums, y)
    assert count > 0 and after < before
    assert set(np.unique(U)) | set(np.unique(V)) <= {-1, 1}
    searched = SDPTrainer(trainer.dataset, BilinearConfig(
        beta=10.0, output_refit="none", local_search=2, seed=1)).sample(40)
    assert searched.training["flips"] > 0
    assert searched.training["objective"] < searched.training["objective_before_search"]
    assert searched.training["objective"] == pytest.approx(
        recomputed_objective(trainer, searched))


def test_integer_network_has_exactly_the_width_and_a_neuron_per_output():
    rng = np.random.default_rng(0)
    parts = [(rng.choice([-1, 1], (k, 5)).astype(np.int8),
              rng.choice([-1, 1], (k, 5)).astype(np.int8), weights)
             for k, weights in ((3, np.array([0.5, -0.25, 0.0])), (1, np.zeros(1)),
                                (2, np.array([1e-9, 2.0])))]
    for width in (3, 7, 100):
        U, V, per_output = refit.integer_network(parts, width)
        assert len(U) == len(V) == width == sum(per_output)
        assert min(per_output) >= 1
    U, V, per_output = refit.integer_network(parts[:1], 3)
    # Weights 0.5 and −0.25: two copies of the first, one of the second with u negated.
    assert per_output == (3,)
    assert (U[0] == parts[0][0][0]).all() and (U[2] == -parts[0][0][1]).all()


@pytest.mark.parametrize("args, needle", [
    (["--draws", "0"], "draws must be an integer ≥ 1"),
    (["--local-search", "-1"], "local_search must be an integer ≥ 0"),
    (["--colgen-rounds", "-2"], "colgen_rounds must be an integer ≥ 0"),
])
def test_bad_training_budgets_are_one_line_errors(tmp_path, args, needle):
    out = tmp_path / "m.json"
    result = run_cli("train", "--data", "ionosphere", "--m", "20", "-o", str(out), *args)
    assert_one_line_error(result, needle.replace("_", "-"))
    assert not out.exists()
