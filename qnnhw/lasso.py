"""The Lasso that trains threshold networks (Ergen, Gulluk, Lacotte, Pilanci 2023), shared by
the families whose neurons are fixed 0/1 patterns: ``threshold`` and ``lut``.

Weight-decay training of f(x) = c + Σₖ wₖ·1[hₖᵀx ≥ 0] over the hyperplane arrangement patterns
D = [1[X hₖ ≥ 0]]ₖ is the Lasso (their Lemma 2.1 and Theorem 2.2)::

    min_{w, c}  ½‖D w + c·1 − y‖² + β‖w‖₁

with the output bias c unpenalised. With C outputs (a class each) every neuron has a row
wₖ ∈ ℝ^C of output weights and weight decay on the network becomes the group Lasso, whose
penalty β Σₖ ‖wₖ‖₂ keeps or drops a neuron for all classes at once::

    min_{W, c}  ½‖D W + 1cᵀ − Y‖²_F + β Σₖ ‖Wₖ‖₂

(for C = 1 it is the Lasso above). Two solvers, both ending with a certificate:

* ``"FISTA"``: accelerated proximal gradient in NumPy (with adaptive restart), on the
  centred problem (centring D and y eliminates c exactly), over a working set of columns
  that grows until no other column violates the optimality conditions. Each step is two
  products with the working set, so it scales to many thousands of patterns.
* ``"CLARABEL"`` / ``"SCS"``: the same problem stated in CVXPY for a conic solver.

Whichever solver ran, :func:`duality_gap` bounds how far its w is from the optimum: the
residual, scaled into the dual feasible set {Θ : ‖DₖᵀΘ‖₂ ≤ β for every k, 1ᵀΘ = 0}, gives
a dual value ⟨Y, Θ⟩ − ½‖Θ‖² and the gap between the two is ≥ the distance to the optimal
objective.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qnnhw.errors import QnnhwError

__all__ = ["LASSO_CERTIFIED", "LASSO_SOLVERS", "LassoSolution", "duality_gap", "lasso_verdict",
           "solve_lasso"]

LASSO_SOLVERS = ("FISTA", "CLARABEL", "SCS")

#: Stop when the duality gap is below this fraction of the objective.
DEFAULT_TOLERANCE = 1e-6
#: A Lasso whose duality gap is at most this fraction of its objective is called optimal.
LASSO_CERTIFIED = 1e-4
#: FISTA iterations on one working set before the interior point takes over.
SUBPROBLEM_ITERATIONS = 20_000


@dataclass
class LassoSolution:
    """A solution of the Lasso and its certificate.

    Attributes
    ----------
    w : ndarray, shape (P,) or (P, C)
        Output weights (a row per neuron for C outputs); the neurons with wₖ ≠ 0 are the
        network.
    bias : float or ndarray of shape (C,)
        The unpenalised output bias c.
    objective : float
        ½‖Dw + c − y‖² + β Σₖ ‖wₖ‖₂ at (w, c).
    gap : float
        Duality gap: the optimal objective lies in [objective − gap, objective].
    """

    w: np.ndarray
    bias: float | np.ndarray
    objective: float
    gap: float
    iterations: int
    seconds: float
    solver: str

    @property
    def lower_bound(self) -> float:
        return self.objective - self.gap


# Internally targets and weights are always matrices: Y is n × C and W is P × C (C = 1 for
# one output), so that the Lasso is the group Lasso with groups of one.


def _centred(D: np.ndarray, Y: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mean_columns = D.mean(axis=0)
    return D - mean_columns, Y - Y.mean(axis=0), mean_columns, Y.mean(axis=0)


def _group_norms(W: np.ndarray) -> np.ndarray:
    """‖Wₖ‖₂ of each row (each neuron's output weights)."""
    return np.sqrt(np.einsum("kc,kc->k", W, W))


def _gap(D_c: np.ndarray, Y_c: np.ndarray, beta: float, W: np.ndarray) -> tuple[float, float]:
    """Objective and dual value of the centred problem at W."""
    residual = Y_c - D_c @ W
    primal = 0.5 * float(np.vdot(residual, residual)) + beta * float(_group_norms(W).sum())
    correlation = float(_group_norms(D_c.T @ residual).max()) if D_c.shape[1] else 0.0
    scale = min(1.0, beta / correlation) if correlation > 0 else 1.0
    theta = scale * residual
    return primal, float(np.vdot(Y_c, theta)) - 0.5 * float(np.vdot(theta, theta))


def duality_gap(D: np.ndarray, y: np.ndarray, beta: float, w: np.ndarray
                ) -> tuple[float, float, float | np.ndarray]:
    """Objective, dual value and optimal bias at w (the bias is the exact minimiser over c).

    ``y`` is a vector (one output) or an n × C matrix, ``w`` likewise of P or P × C."""
    Y, W = _as_matrix(y), _as_matrix(w)
    D_c, Y_c, mean_columns, mean_y = _centred(D, Y)
    primal, dual = _gap(D_c, Y_c, beta, W)
    bias = mean_y - mean_columns @ W
    return primal, dual, float(bias[0]) if np.ndim(y) == 1 else bias


def _as_matrix(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[:, None] if values.ndim == 1 else values


def _shrink(W: np.ndarray, threshold: float) -> np.ndarray:
    """The group soft threshold: the proximal map of threshold·Σₖ ‖Wₖ‖₂."""
    norms = _group_norms(W)
    return W * (np.maximum(norms - threshold, 0.0) / np.where(norms > 0, norms, 1.0))[:, None]


def _fista_subproblem(D_c: np.ndarray, y_c: np.ndarray, beta: float, w: np.ndarray,
                      tolerance: float, max_iterations: int) -> tuple[np.ndarray, int, bool]:
    """FISTA with adaptive restart on the columns D_c, from w, to a relative duality gap.
    Returns the weights, the iterations and whether the gap was reached."""
    lipschitz = float(np.linalg.norm(D_c, 2)) ** 2
    if lipschitz == 0.0:
        return np.zeros_like(w), 0, True
    correlation = D_c.T @ y_c
    momentum_point = w.copy()
    t = 1.0
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        gradient = D_c.T @ (D_c @ momentum_point) - correlation
        step = momentum_point - gradient / lipschitz
        new_w = _shrink(step, beta / lipschitz)
        if np.vdot(momentum_point - new_w, new_w - w) > 0:   # adaptive restart (O'Donoghue–Candès)
            t = 1.0
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum_point = new_w + ((t - 1.0) / t_next) * (new_w - w)
        w, t = new_w, t_next
        if iteration % 25 == 0:
            primal, dual = _gap(D_c, y_c, beta, w)
            if primal - dual <= tolerance * max(abs(primal), 1e-12):
                return w, iteration, True
    return w, iteration, False


def _fista(D: np.ndarray, y: np.ndarray, beta: float, tolerance: float, max_iterations: int,
           progress: Callable[[str], None]) -> tuple[np.ndarray, int, str]:
    """FISTA on a growing working set of columns.

    Most patterns end with wₖ = 0. Solving on the columns most correlated with the residual,
    then adding every column that violates the optimality condition |Dₖᵀr| ≤ β, costs
    products with the working set instead of all of D; the stopping test is always the
    duality gap of the whole problem. On an ill-conditioned working set (FISTA converges as
    1/k² only) CLARABEL's interior point finishes the subproblem instead. Returns the weights,
    the FISTA iterations and the solvers used.
    """
    D_c, y_c, _, _ = _centred(D, y)
    columns = D.shape[1]
    w = np.zeros((columns, y.shape[1]))
    working = np.argsort(-_group_norms(D_c.T @ y_c), kind="stable")[:min(columns, 64)]
    sub_tolerance = tolerance / 2
    total = 0
    interior_point = False
    started = time.perf_counter()
    while True:
        if not interior_point:
            w_working, iterations, converged = _fista_subproblem(
                D_c[:, working], y_c, beta, w[working], sub_tolerance, SUBPROBLEM_ITERATIONS)
            total += iterations
            if not converged:
                progress(f"  … FISTA is slow on this problem; CLARABEL takes over the "
                         f"{len(working)}-column working set")
                interior_point = True
        if interior_point:
            w_working = _conic(D_c[:, working], y_c, beta, "CLARABEL")
        w[:] = 0.0
        w[working] = w_working
        solvers = "FISTA+CLARABEL" if interior_point else "FISTA"
        primal, dual = _gap(D_c, y_c, beta, w)
        if (primal - dual <= tolerance * max(abs(primal), 1e-12) or total >= max_iterations
                or len(working) == columns):
            return w, total, solvers
        score = _group_norms(D_c.T @ (y_c - D_c @ w))
        score[working] = -np.inf
        violators = np.flatnonzero(score > beta)
        if len(violators):
            worst = violators[np.argsort(-score[violators], kind="stable")]
            working = np.concatenate([working, worst[:max(len(working), 64)]])
        elif interior_point:
            return w, total, solvers   # the interior point's own accuracy is the limit
        else:
            sub_tolerance /= 10   # the working set is right; solve it more precisely
        if time.perf_counter() - started > 2.0:   # quiet when it is quick
            progress(f"  … Lasso working set {len(working)} of {columns} patterns, "
                     f"objective {primal:.6g}, gap {primal - dual:.2e}")


def _conic(D: np.ndarray, y: np.ndarray, beta: float, solver: str) -> np.ndarray:
    import cvxpy as cp

    w = cp.Variable((D.shape[1], y.shape[1]))
    c = cp.Variable((1, y.shape[1]))
    fit = D @ w + np.ones((len(D), 1)) @ c - y
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit)
                                     + beta * cp.sum(cp.norm(w, 2, axis=1))))
    try:
        problem.solve(solver=solver)
    except cp.error.SolverError as error:
        raise QnnhwError(f"the Lasso solver {solver} failed ({error}); try @solver FISTA",
                         "solver") from None
    if w.value is None:
        raise QnnhwError(f"the Lasso solver {solver} returned no solution (status "
                         f"{problem.status}); try @solver FISTA", "solver")
    weights = np.asarray(w.value, dtype=float)
    # An interior point leaves zeros as tiny non-zeros; the certificate is computed after.
    norms = _group_norms(weights)
    weights[norms <= 1e-8 * max(float(norms.max(initial=0.0)), 1e-300)] = 0
    return weights


def solve_lasso(D: np.ndarray, y: np.ndarray, beta: float, *, solver: str = "FISTA",
                tolerance: float = DEFAULT_TOLERANCE, max_iterations: int = 100_000,
                progress: Callable[[str], None] = lambda message: None) -> LassoSolution:
    """Minimise ½‖Dw + c − y‖² + β Σₖ ‖wₖ‖₂ over w and an unpenalised bias c.

    ``y`` is a vector (one output: the Lasso) or an n × C matrix (the group Lasso); ``w``
    and c come back in the same form. Neurons the conic solvers return as tiny non-zeros
    (‖wₖ‖ ≤ 10⁻⁸·maxₖ‖wₖ‖) are set to zero
    before the certificate is computed, so the gap covers the network actually kept. The
    gap is reported whether or not it reached ``tolerance``.
    """
    if solver not in LASSO_SOLVERS:
        raise QnnhwError(f"unknown Lasso @solver {solver!r}; choose one of "
                         f"{', '.join(LASSO_SOLVERS)}", "solver")
    D = np.asarray(D, dtype=float)
    Y = _as_matrix(y)
    start = time.perf_counter()
    iterations = 0
    if solver == "FISTA":
        W, iterations, solver = _fista(D, Y, beta, tolerance, max_iterations, progress)
    else:
        W = _conic(D, Y, beta, solver)
    seconds = time.perf_counter() - start
    w = W[:, 0] if np.ndim(y) == 1 else W
    primal, dual, bias = duality_gap(D, y, beta, w)
    return LassoSolution(w=w, bias=bias, objective=primal, gap=max(primal - dual, 0.0),
                         iterations=iterations, seconds=seconds, solver=solver)


def lasso_verdict(objective: float, gap: float) -> str:
    """What the duality gap certifies, in words."""
    relative = gap / max(abs(objective), 1e-300)
    if relative <= LASSO_CERTIFIED:
        return f"duality gap {gap:.2e}: optimal over these neurons"
    return (f"duality gap {gap:.2e}, {100 * relative:.2g}% of it: the solver stopped early; "
            f"the optimum over these neurons is at least {objective - gap:.6g}")
