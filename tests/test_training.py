"""The SDP lower bound, Algorithm 1 and Theorem 1, checked numerically."""

import json
import math

import numpy as np
import pytest

from qnnhw import (
    BinaryBilinearClassifier,
    BinaryBilinearRegressor,
    ThresholdClassifier,
    dataset,
)
from qnnhw.errors import QnnhwError
from qnnhw.families.bilinear import sdp
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.train import (
    SDPTrainer,
    allocate_neurons,
    best_alpha,
    objective,
)
from qnnhw.losses import loss_value
from qnnhw.model import Lifting

from .helpers import run_cli

SOLVER_TOLERANCE = 1e-3  # relative; SCS's default accuracy


@pytest.mark.parametrize("m", [1, 5, 50, 500])
@pytest.mark.parametrize("seed", [0, 1])
def test_lower_bound_never_exceeds_a_sampled_network(planted_trainer, ionosphere_trainer, m,
                                                     seed):
    for trainer in (planted_trainer, ionosphere_trainer):
        model = trainer.sample(m, seed=seed)
        lower = model.training["lower_bound"]
        assert lower <= model.training["objective"] * (1 + SOLVER_TOLERANCE) + 1e-6


def test_lower_bound_holds_for_any_alpha_and_any_pm1_network(ionosphere_trainer):
    """(21) ≥ (22) for every ±1 network, not only sampled ones: try random ones and
    the best α for each."""
    rng = np.random.default_rng(5)
    X, y = ionosphere_trainer.lifted_train, ionosphere_trainer.dataset.y_train
    lower = ionosphere_trainer.solution.lower_bound
    d = X.shape[1]
    for m in (1, 3, 30):
        U = rng.choice([-1.0, 1.0], (m, d))
        V = rng.choice([-1.0, 1.0], (m, d))
        sums = np.sum((X @ U.T) * (X @ V.T), axis=1)
        best = min(objective("hinge", 10.0, d, m, alpha, alpha * sums, y)
                   for alpha in np.linspace(-1e-3, 1e-3, 2001))
        assert lower <= best * (1 + SOLVER_TOLERANCE)


def test_objective_falls_toward_the_bound_as_m_grows(planted_trainer):
    """The paper's Fig. 1: on planted data the sampled network approaches the bound."""
    zero_loss = 0.5 * np.sum(planted_trainer.dataset.y_train ** 2)
    means = []
    for m in (10, 100, 1000):
        values = [planted_trainer.sample(m, seed=s).training["objective"] for s in range(4)]
        means.append(np.mean(values) / zero_loss)
    assert means[0] > means[1] > means[2]
    assert means[2] < 0.03
    assert planted_trainer.solution.lower_bound / zero_loss < 1e-3


def test_covariance_shaping_meets_theorem_2(planted_trainer):
    Q, residual = planted_trainer.Q, planted_trainer.residual
    assert np.allclose(np.diag(Q), 1.0)
    assert np.linalg.eigvalsh(Q).min() > -1e-9
    assert residual < 1e-2
    Q_sdp, residual_sdp = sdp.shape_covariance(planted_trainer.solution, "sdp")
    assert residual_sdp < 1e-2
    d = planted_trainer.d
    assert np.abs(Q[:d, d:] - Q_sdp[:d, d:]).max() < 2e-2


def test_sampling_matches_grothendieck_identity(planted_trainer):
    """E[uvᵀ] = (2/π) arcsin(Q₁₂) = (2γ/π) Z*/ρ*: the mean of many samples."""
    trainer = planted_trainer
    U, V = sdp.sample_neurons(trainer.Q, 200_000, np.random.default_rng(1))
    empirical = U.T.astype(float) @ V.astype(float) / len(U)
    expected = 2 * sdp.GAMMA / math.pi * trainer.solution.Z / trainer.solution.rho
    assert np.abs(empirical - expected).max() < 0.02


def test_the_three_output_scales(planted_trainer):
    model = planted_trainer.sample(300, seed=2)
    training, rho = model.training, planted_trainer.solution.rho
    assert training["alpha_paper"] == pytest.approx(
        rho * math.pi / (math.log(1 + math.sqrt(2)) * 300))
    X, y = planted_trainer.lifted_train, planted_trainer.dataset.y_train
    sums = model.neuron_sums(X)
    refit = training["alpha_least_squares"]
    for other in (refit * 0.99, refit * 1.01, training["alpha_paper"]):
        assert np.sum((refit * sums - y) ** 2) <= np.sum((other * sums - y) ** 2) + 1e-9
    # The default is the best scale for the objective (21): no other does better.
    assert model.alpha == training["alpha_best"] and training["alpha_used"] == "best"
    trainer = planted_trainer
    for other in (0.0, training["alpha_paper"], refit, model.alpha * 1.01, model.alpha * 0.99):
        assert training["objective"] <= objective(trainer.loss, trainer.beta, trainer.d, 300,
                                                  other, other * sums, y) + 1e-9


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_the_best_scale_is_exact_and_never_worse_than_zero(loss):
    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        s, y = rng.normal(size=n), rng.choice([-1.0, 1.0], n)
        penalty = float(rng.choice([0.0, 0.5, 5.0, 50.0]))
        values = [loss_value(loss, a * s, y) + penalty * abs(a) for a in np.concatenate(
            [[best_alpha(loss, s, y, penalty), 0.0], 1 / s, -1 / s, np.linspace(-20, 20, 4001)])]
        assert values[0] <= min(values) + 1e-9 and values[0] <= values[1]


def test_a_network_worse_than_zero_becomes_the_zero_network(tmp_path):
    """A shifted line with m = 50: Algorithm 1's α made the network 1.6–10× worse than
    predicting 0 (issue #24); the best scale never is, and says when it is 0."""
    csv = tmp_path / "line.csv"
    rows = "".join(f"{x / 10},{5 + x / 100}\n" for x in range(40))
    csv.write_text("x,y\n" + rows)
    result = run_cli("train", "--data", str(csv), "--task", "regression", "--m", "50",
                     "--json", "-o", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["objective"] <= report["trivial_objective"]
    paper = run_cli("train", "--data", str(csv), "--task", "regression", "--m", "50",
                    "--alpha", "paper", "--json", "-o", str(tmp_path / "p.json"))
    assert json.loads(paper.stdout)["objective"] >= report["objective"]


def test_one_sdp_serves_every_m(planted_trainer):
    small, large = planted_trainer.sample(10), planted_trainer.sample(2000)
    assert small.training["lower_bound"] == large.training["lower_bound"]
    assert small.m == 10 and large.m == 2000


def test_sampling_is_reproducible(planted_trainer):
    a, b = planted_trainer.sample(50, seed=7), planted_trainer.sample(50, seed=7)
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V)


# -- Theorem 1 ----------------------------------------------------------------------------

def test_symmetrisation_identity_7():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    A = A + A.T
    u, v = rng.choice([-1, 1], 6), rng.choice([-1, 1], 6)
    assert 2 * u @ A @ v == pytest.approx((u + v) @ A @ (u + v) - u @ A @ u - v @ A @ v)


def test_polynomial_activation_network_equals_lifted_quadratic_network():
    """(5): Σ σ(xᵀq)α with σ(t) = at² + bt + c and (M+1)-level q equals the ±1 network on the
    lifted matrix [[a x̃x̃ᵀ, b/2 x̃], [b/2 x̃ᵀ, c]], x̃ = x ⊗ 1_M, weights [u; 1]."""
    rng = np.random.default_rng(1)
    d, M, m, a, b, c = 4, 3, 5, 0.7, -1.3, 0.4
    x = rng.standard_normal(d)
    U = rng.choice([-1, 1], (m, d * M))           # binary weights on replicated features
    Q = U.reshape(m, d, M).sum(axis=2)            # the (M+1)-level weights they represent
    assert set(np.unique(Q)) <= set(range(-M, M + 1, 2))
    alphas = rng.standard_normal(m)
    direct = sum(alpha * (a * (x @ q) ** 2 + b * (x @ q) + c) for q, alpha in zip(Q, alphas))
    xt = np.kron(x, np.ones(M))
    lifted = np.block([[a * np.outer(xt, xt), b / 2 * xt[:, None]], [b / 2 * xt[None, :], c]])
    via_lifting = sum(alpha * np.append(u, 1) @ lifted @ np.append(u, 1)
                      for u, alpha in zip(U, alphas))
    assert via_lifting == pytest.approx(direct)


def test_model_lifting_is_an_affine_multilevel_network():
    """qnnhw's Lifting ([x, 1] ⊗ 1_M) makes each ±1 neuron (qᵀx + q₀)(pᵀx + p₀) with integer
    q, p ∈ {−M, …, M}: a bilinear net with bias and (M+1)-level weights."""
    rng = np.random.default_rng(2)
    d, M, m = 3, 4, 7
    lifting = Lifting(bias=True, replicas=M)
    X = rng.standard_normal((10, d))
    U = rng.choice([-1, 1], (m, lifting.lifted_dimension(d)))
    V = rng.choice([-1, 1], (m, lifting.lifted_dimension(d)))
    lifted = lifting.apply(X)
    bilinear = np.sum((lifted @ U.T) * (lifted @ V.T), axis=1)
    q, p = U.reshape(m, d + 1, M).sum(axis=2), V.reshape(m, d + 1, M).sum(axis=2)
    affine = np.sum((X @ q[:, :d].T + q[:, d]) * (X @ p[:, :d].T + p[:, d]), axis=1)
    assert np.allclose(bilinear, affine)


def test_weight_levels_train_end_to_end():
    data = dataset.load("ionosphere", seed=0)
    trainer = SDPTrainer(data, BilinearConfig(loss="hinge", beta=10.0, weight_levels=3))
    model = trainer.sample(200)
    assert model.d == 2 * (33 + 1)
    assert model.training["lower_bound"] <= model.training["objective"]


# -- the estimator ---------------------------------------------------------------------------

def test_estimator_classifies_and_keeps_labels():
    data = dataset.load("ionosphere", seed=0)
    labels = np.where(data.y_train > 0, "good", "bad")
    net = BinaryBilinearClassifier(m=500).fit(data.X_train, labels)
    assert set(net.predict(data.X_test)) <= {"good", "bad"}
    assert net.score(data.X_test, np.where(data.y_test > 0, "good", "bad")) > 0.8
    assert net.lower_bound_ <= net.objective_


def test_estimator_regresses():
    data = dataset.planted(seed=1)
    net = BinaryBilinearRegressor(m=1000, bias=False, standardize=False).fit(data.X_train,
                                                                             data.y_train)
    assert net.score(data.X_train, data.y_train) > 0.9


# -- C outputs ---------------------------------------------------------------------------------

def test_allocation_is_proportional_with_one_neuron_each():
    assert allocate_neurons(10, [1.0, 1.0]) == [5, 5]
    counts = allocate_neurons(103, [3.0, 1.0, 0.0, 6.0])
    assert sum(counts) == 103 and min(counts) == 1 and counts[3] > counts[0] > counts[1]
    assert allocate_neurons(4, [0.0] * 4) == [1, 1, 1, 1]


@pytest.fixture(scope="module")
def three_class_trainer():
    """Wine-like data: three Gaussian classes in 4 dimensions, 90 rows."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, 4)) * 2
    labels = np.repeat(np.arange(3), 30)
    X = centres[labels] + rng.normal(size=(90, 4))
    data = dataset.split(X, [f"k{k}" for k in labels],
                         dataset.InputEncoder(tuple(dataset.ColumnEncoder(f"x{k}")
                                                    for k in range(4))),
                         "label", "three-classes", seed=1)
    return SDPTrainer(data, BilinearConfig(loss="squared", beta=1e-2))


def test_multiclass_bound_is_the_sum_of_certified_blocks(three_class_trainer):
    trainer = three_class_trainer
    assert len(trainer.solutions) == 3
    model = trainer.sample(60, seed=2)
    assert model.outputs == 3 and sum(model.class_neurons) == 60
    assert min(model.class_neurons) >= 1
    if not model.training["refit_kept"]:    # Algorithm 1's allocation m_c ∝ ρ_c
        rhos = [solution.rho for solution in trainer.solutions]
        assert model.class_neurons == tuple(allocate_neurons(60, rhos))
    training = model.training
    assert training["lower_bound"] == pytest.approx(
        sum(solution.lower_bound for solution in trainer.solutions))
    # The bound holds against any ±1 network with outputs assigned, at any α.
    targets = trainer.targets
    assert targets.shape == (len(trainer.dataset.y_train), 3)
    sums = model.sum_by_output(
        (trainer.lifted_train @ model.U.T) * (trainer.lifted_train @ model.V.T),
        model.class_neurons)
    for alpha in (0.0, model.alpha, -model.alpha, 3 * model.alpha):
        value = objective("squared", trainer.beta, trainer.d, model.m, alpha,
                          alpha * sums, targets)
        assert training["lower_bound"] <= value + 1e-9
    assert training["objective"] >= training["lower_bound"]
    assert sums.shape == (len(targets), 3)
    from qnnhw.training import evaluate

    # One draw of 20 neurons a class is noisy (±0.12 over seeds); five of 100 a class are not.
    accuracies = [evaluate(trainer.sample(300, seed=seed), trainer.dataset)["test_accuracy"]
                  for seed in range(5)]
    assert np.mean(accuracies) >= 0.75


def test_multiclass_model_file_round_trip_and_refusals(tmp_path, three_class_trainer):
    from qnnhw.errors import QnnhwError
    from qnnhw.model import load_model

    model = three_class_trainer.sample(9)
    model.save(tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.class_neurons == model.class_neurons
    X = three_class_trainer.dataset.X_test
    assert (loaded.predict_classes(X) == model.predict_classes(X)).all()
    import json

    data = json.loads((tmp_path / "m.json").read_text())
    data["network"]["class_neurons"] = [3, 3, 2]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(QnnhwError, match="class_neurons must list the neurons of each of the 3"):
        load_model(tmp_path / "bad.json")


@pytest.mark.parametrize("options, needle", [
    (["--method", "backprop"], "trains networks of one output"),
    (["--m", "2"], "needs a neuron per class"),
    (["--output-refit", "lasso"], "refits one output"),
])
def test_multiclass_bilinear_refusals(tmp_path, options, needle):
    from .helpers import assert_one_line_error, run_cli

    result = run_cli("train", "--data", "digits", "--subsample", "50", "-o",
                     str(tmp_path / "m.json"), *options)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("estimator, needle", [
    (ThresholdClassifier(hyperplanes=0), "hyperplanes must be a positive integer"),
    (ThresholdClassifier(seed=-1), "seed must be an integer"),
    (ThresholdClassifier(kind="gaussian", hidden_bits=0), "hidden_bits must be from 2"),
    (BinaryBilinearClassifier(seed=-1), "seed must be an integer"),
    (BinaryBilinearClassifier(seed=2 ** 32), "seed must be an integer"),
])
def test_estimators_refuse_what_the_command_line_refuses(estimator, needle):
    """A value the command line refuses is refused by the estimator too, in its own
    parameter's name, never replaced by the default."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    with pytest.raises(QnnhwError, match=needle):
        estimator.fit(X, np.where(X[:, 0] > 0, 1, -1))
