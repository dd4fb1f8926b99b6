"""The SDP solvers and the certificate: bounds that are bounds, whichever solver ran."""

import numpy as np
import pytest

from qnnhw import dataset
from qnnhw.errors import QnnhwError
from qnnhw.families.bilinear import sdp
from qnnhw.families.bilinear.bm import solve_bm
from qnnhw.families.bilinear.certificate import certify
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.train import SDPTrainer
from qnnhw.losses import Elementwise

from .helpers import run_cli


def problem(seed, n=80, d=6, loss="squared"):
    """A planted bilinear teacher with noise: targets, or their signs for the hinge."""
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    U, V = rng.choice([-1, 1], (3, d + 1)), rng.choice([-1, 1], (3, d + 1))
    y = ((X @ U.T) * (X @ V.T)).sum(axis=1) / d + 0.3 * rng.standard_normal(n)
    return X, (y if loss == "squared" else np.where(y > np.median(y), 1.0, -1.0))


@pytest.fixture(scope="module")
def solved():
    """Each case solved by every solver (CLARABEL's point made feasible and certified)."""
    cases = {}
    for seed, loss, beta in [(0, "squared", 1e-2), (1, "squared", 1.0), (2, "hinge", 0.1),
                             (3, "hinge", 2.0)]:
        X, y = problem(seed, loss=loss)
        cases[seed, loss, beta] = (X, y, {solver: sdp.solve_sdp(X, y, loss=loss, beta=beta,
                                                              solver=solver)
                                          for solver in ("IPM", "BM", "SCS", "CLARABEL")})
    return cases


def test_the_certificate_is_never_above_the_optimum(solved):
    """The optimum lies between CLARABEL's certificate and its point made feasible: every
    solver's certified bound stays below that feasible objective."""
    for case, (_, _, solutions) in solved.items():
        ceiling = solutions["CLARABEL"].objective
        for solver, solution in solutions.items():
            assert solution.lower_bound <= ceiling, (case, solver)
            assert solution.lower_bound <= solution.objective
            # and tight: each solver's dual point is oriented and scaled right
            assert solution.relative_gap <= 1e-2, (case, solver)


@pytest.mark.parametrize("solver", ["IPM", "BM"])
def test_qnnhws_solvers_match_clarabel_to_their_tolerance(solved, solver):
    for key, (_, _, solutions) in solved.items():
        own, clarabel = solutions[solver], solutions["CLARABEL"]
        assert own.gap <= sdp.DEFAULT_TOLERANCE * (1 + abs(own.objective)), key
        assert abs(own.objective - clarabel.objective) <= 1e-3 * (1 + abs(clarabel.objective))
        assert own.status == "certified"
        assert np.allclose(np.linalg.norm(own.R, axis=1), 1.0)   # unit rows: diag(Q) = ρ


@pytest.mark.parametrize("loss, beta", [("squared", 1e-4), ("squared", 1e3), ("hinge", 1e-3),
                                        ("hinge", 1e3)])
def test_the_interior_point_method_at_extreme_regularisation(loss, beta):
    """β so small that the SDP interpolates, or so large that the zero network is optimal:
    the optimum sits on a face of the cone, which an interior point only approaches."""
    X, y = problem(11, loss=loss)
    own = sdp.solve_sdp(X, y, loss=loss, beta=beta, solver="IPM", tolerance=1e-6)
    clarabel = sdp.solve_sdp(X, y, loss=loss, beta=beta, solver="CLARABEL")
    assert own.status == "certified"
    assert own.lower_bound <= clarabel.objective
    assert abs(own.objective - clarabel.objective) <= 1e-5 * (1 + abs(clarabel.objective))


def test_auto_takes_the_interior_point_method_while_its_system_fits():
    X, y = problem(12)
    assert sdp.solve_sdp(X, y, loss="squared", beta=0.1).solver == "IPM"
    n, d = X.shape
    assert (n + 2 * d) ** 2 <= sdp.IPM_SIZE_LIMIT < (60_000 + 2 * 785) ** 2   # not all of MNIST
    # At β = 0 the dual has no interior: auto takes BM, and IPM says why it cannot.
    assert sdp.solve_sdp(X, y, loss="squared", beta=0.0).solver == "BM"
    with pytest.raises(QnnhwError, match="needs @beta > 0"):
        sdp.solve_sdp(X, y, loss="squared", beta=0.0, solver="IPM")


def test_a_solvers_own_value_is_not_a_certificate():
    """SCS stops at its default accuracy: its reported value may lie below the optimum
    that BM brackets; the certificate made from its point never does."""
    import cvxpy as cp

    X, y = problem(5, n=120, d=8)
    n, d = X.shape
    Q, rho = cp.Variable((2 * d, 2 * d), symmetric=True), cp.Variable()
    fit = 0.5 * cp.sum_squares(2 * cp.sum(cp.multiply(X @ Q[:d, d:], X), axis=1) - y)
    scs = cp.Problem(cp.Minimize(fit + 1e-3 * d * rho), [Q >> 0, cp.diag(Q) == rho])
    scs.solve(solver="SCS")
    bm = sdp.solve_sdp(X, y, loss="squared", beta=1e-3, solver="BM", tolerance=1e-7)
    assert scs.value < bm.lower_bound   # not a bound
    certified = sdp.solve_sdp(X, y, loss="squared", beta=1e-3, solver="SCS")
    assert certified.lower_bound <= bm.objective


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_any_dual_candidate_gives_a_valid_bound(solved, loss):
    """The bound does not rely on a good point: random candidates give weaker, valid ones."""
    rng = np.random.default_rng(7)
    for (_, case_loss, beta), (X, y, solutions) in solved.items():
        if case_loss != loss:
            continue
        target = Elementwise(loss, y[None])
        for _ in range(5):
            W = rng.standard_normal((1, len(y)))
            if loss == "hinge":
                W = -y[None] * rng.uniform(0, 1, (1, len(y)))
            R = np.linalg.qr(rng.standard_normal((2 * X.shape[1], 3)))[0]
            bound = certify(X, target, beta, W, [R]).lower_bound
            assert bound <= solutions["CLARABEL"].objective


def test_vector_outputs_are_blocks_of_their_own():
    """Two target columns with a separable loss: the joint solve is the two solves."""
    X, y1 = problem(8)
    _, y2 = problem(9)
    joint = solve_bm(X, np.vstack([y1, y2]), "squared", 0.1, tolerance=1e-6)
    apart = [solve_bm(X, y, "squared", 0.1, tolerance=1e-6) for y in (y1, y2)]
    assert joint.objective == pytest.approx(sum(r.objective for r in apart), rel=1e-5)
    assert joint.lower_bound == pytest.approx(sum(r.lower_bound for r in apart), rel=1e-5)


def test_progress_and_summary_from_the_command_line(tmp_path):
    result = run_cli("train", "--m", "200", "-o", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    assert "SDP solved by IPM" in result.stderr and "certified lower bound" in result.stderr
    assert "of the zero network's" in result.stdout


def test_lasso_refit_only_lowers_the_objective():
    data = dataset.load("ionosphere", seed=0)
    trainer = SDPTrainer(data, BilinearConfig(output_refit="lasso", m=300))
    model = trainer.sample(300)
    training = model.training
    assert training["output_refit"] == "lasso" and training["refit_kept"]
    assert training["objective"] < training["objective_algorithm1"]
    assert training["lower_bound"] <= training["objective"]
    assert set(np.unique(model.U)) | set(np.unique(model.V)) <= {-1, 1}
    assert model.m == 300     # the integer weights are repeated neurons, exactly m of them
