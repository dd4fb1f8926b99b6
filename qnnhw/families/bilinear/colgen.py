"""Column generation: the convex refit of the output layer over every ±1 neuron.

With one weight wⱼ per neuron, the objective (21) of a bilinear network,

    ℓ(Σⱼ wⱼ sⱼ, y) + βd Σⱼ |wⱼ|,    sⱼ = (Xuⱼ)∘(Xvⱼ),

is convex in w. Over *all* 4ᵈ neurons it is the problem the SDP (22) relaxes, so its value
lies between the SDP's bound and any ±1 network's objective; a network that reaches it is as
close to the certificate as ±1 neurons allow. It is solved by column generation, the simplex
method's answer to a problem with more columns than can be written down:

1. the *restricted problem* over a working set of neurons (first: neurons drawn from
   Algorithm 1's Q*) is solved — exactly, a linear program, for the hinge (HiGHS); for the
   squared loss a Lasso by FISTA on the working set's Gram matrix, warm-started from the
   previous round's weights;
2. its optimality conditions give the loss's (sub)gradient g at the restricted optimum
   (the hinge's from the LP's duals), and a neuron outside the set lowers the objective
   exactly when its *price* |sᵀg| = |uᵀ Xᵀdiag(g)X v| exceeds βd;
3. the price is a bilinear form in ±1 vectors: the best-priced neurons of a pool drawn from
   Q* are improved by alternating maximisation (v = sign(Mᵀu), u = sign(Mv), which never
   lowers uᵀMv) and those that price out join the set; neurons of zero weight leave it.

The search of step 3 is a heuristic (the exact pricing problem is a MaxCut), so when no
neuron prices out the result is optimal over every neuron the search can reach, not
certified; the certificate stays the SDP's. The weights are then rounded to a network of
integer copies of one scale (:func:`.refit.integer_network`), an ordinary ±1 network.

What the network is judged by is the rounded objective, not the continuous one: with a small
β the continuous optimum spreads its weight over thousands of neurons that m copies cannot
follow. Given a way to evaluate the rounded network (``rounded``), the rounds stop when it
has not improved for :data:`PATIENCE` rounds, and the best working set is returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.families.base import Progress, silent

from .config import REFIT_ROUNDS
from .refit import soft_threshold
from .sdp import sample_neurons

__all__ = ["Columns", "generate_columns"]

#: Neurons drawn from Q* that start the working set.
START_COLUMNS = 200
#: Neurons drawn from Q* once, priced every round.
POOL = 4096
#: The best-priced pool neurons improved by alternating maximisation each round.
IMPROVED = 50
#: FISTA steps of the squared loss's restricted problem at most (each one product with the
#: working set's Gram matrix); every LASSO_CHECK_EVERY steps they stop when the objective
#: fell by less than LASSO_PROGRESS of itself plus LASSO_FLOOR of the zero network's ½‖y‖²
#: (once the working set nearly interpolates, gains below that are lost in the rounding).
LASSO_STEPS, LASSO_CHECK_EVERY, LASSO_PROGRESS, LASSO_FLOOR = 2000, 50, 1e-3, 1e-5
#: Power-iteration steps at most for the Lasso's step size.
POWER_STEPS = 100
#: A neuron prices out when its price exceeds the penalty by this relative margin; below it
#: the LP solver's own tolerance decides.
PRICE_MARGIN = 1e-6
#: Rounds between evaluations of the rounded network, and rounds without improvement of it
#: after which column generation stops.
CHECK_EVERY, PATIENCE = 5, 10


@dataclass(eq=False)
class Columns:
    """The restricted problem's solution: neurons with nonzero weights.

    Attributes
    ----------
    U, V : ndarray
        (k, d) ±1 (int8); k ≥ 1 (one neuron of weight 0 when the zero network is optimal).
    weights : ndarray
        (k,) the neurons' output weights wⱼ.
    objective : float
        ℓ(Σ wⱼ sⱼ, y) + penalty·‖w‖₁ at the restricted optimum: the continuous refit's value.
    rounds : int
        Pricing rounds run.
    converged : bool
        True if the last round found no neuron that prices out.
    snapshots : list of Columns
        The working sets at which the rounded network was evaluated.
    """

    U: np.ndarray
    V: np.ndarray
    weights: np.ndarray
    objective: float
    rounds: int
    converged: bool
    #: The working sets at every evaluation of the rounded network (with ``rounded``), this
    #: one among them: a network of another width may round best from an earlier one.
    snapshots: list[Columns] = field(default_factory=list)


def generate_columns(X: np.ndarray, y: np.ndarray, loss: str, penalty: float, Q: np.ndarray,
                     rng: np.random.Generator, rounds: int = REFIT_ROUNDS,
                     progress: Progress = silent,
                     rounded: Callable[[Columns], float] | None = None) -> Columns:
    """Minimise ℓ(Σⱼ wⱼ (Xuⱼ)∘(Xvⱼ), y) + penalty·‖w‖₁ over ±1 neurons by column generation.

    Parameters
    ----------
    X : ndarray
        (n, d) lifted training inputs.
    y : ndarray
        (n,) targets (±1 for the hinge).
    loss : {"squared", "hinge"}
    penalty : float
        βd, the price of a unit of output weight.
    Q : ndarray
        (2d, 2d) Algorithm 1's covariance: the start and the pricing pool are drawn from it.
    rng : numpy.random.Generator
    rounds : int
        Pricing rounds at most.
    rounded : callable, optional
        The objective of the network a set of columns rounds to; with it, the rounds stop
        when that has not improved for :data:`PATIENCE` rounds and the best set is returned.
    """
    if rounds < 0:
        raise QnnhwError(f"@colgen_rounds must be ≥ 0, not {rounds}", "colgen_rounds")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    pool_U, pool_V = (part.astype(float) for part in sample_neurons(Q, POOL, rng))
    U, V = _unique(pool_U[:START_COLUMNS], pool_V[:START_COLUMNS])
    restricted = _Restricted(X, y, loss, penalty)
    weights, gradient, value = restricted.solve(U, V, np.zeros(len(U)))
    started = time.perf_counter()
    converged = False
    best: tuple[float, Columns] | None = None
    snapshots: list[Columns] = []
    done = 0
    for done in range(0, rounds + 1):
        if done:
            # The price of neuron (u, v) is uᵀMv: what a unit of its weight lowers the loss by.
            M = X.T @ (X * -gradient[:, None])
            prices = np.abs(np.sum((pool_U @ M) * pool_V, axis=1))
            best_priced = np.argsort(-prices)[:IMPROVED]
            new_U, new_V = _improve(pool_U[best_priced], pool_V[best_priced], M)
            entering = np.abs(np.sum((new_U @ M) * new_V, axis=1)) > penalty * (1 + PRICE_MARGIN)
            if not entering.any():
                converged = True
                break
            keep = weights != 0.0
            U, V = _unique(np.vstack([U[keep], new_U[entering]]),
                           np.vstack([V[keep], new_V[entering]]))
            # _unique keeps first copies in order: the kept neurons lead, with their weights.
            start = np.zeros(len(U))
            start[:np.count_nonzero(keep)] = weights[keep]
            weights, gradient, value = restricted.solve(U, V, start)
            if done % 10 == 0:
                progress(f"column generation round {done}: {len(U)} neurons in the working "
                         f"set, objective {value:.6g} ({time.perf_counter() - started:.1f} s)")
        if rounded is not None and done % CHECK_EVERY == 0:
            snapshots.append(_nonzero(U, V, weights, value, done, converged))
            score = rounded(snapshots[-1])
            if best is None or score < best[0]:
                best = (score, snapshots[-1])
            elif done - best[1].rounds >= PATIENCE:
                progress(f"column generation stops at round {done}: the rounded network has "
                         f"not improved since round {best[1].rounds}")
                break
    if rounded is None:
        return _nonzero(U, V, weights, value, done, converged)
    if snapshots[-1].rounds != done:     # the last round, if not evaluated yet
        snapshots.append(_nonzero(U, V, weights, value, done, converged))
        score = rounded(snapshots[-1])
        if best is None or score < best[0]:
            best = (score, snapshots[-1])
    assert best is not None
    best[1].snapshots = snapshots
    return best[1]


def _nonzero(U: np.ndarray, V: np.ndarray, weights: np.ndarray, value: float, rounds: int,
             converged: bool) -> Columns:
    """The working set's neurons of nonzero weight as :class:`Columns`."""
    keep = weights != 0.0
    if not keep.any():   # the zero network is optimal: one neuron of weight 0 stands for it
        keep[0] = True
    return Columns(U=U[keep].astype(np.int8), V=V[keep].astype(np.int8),
                   weights=weights[keep], objective=value, rounds=rounds, converged=converged)


class _Restricted:
    """The refit over a fixed set of neurons, with the loss's gradient at its weights."""

    def __init__(self, X: np.ndarray, y: np.ndarray, loss: str, penalty: float):
        self.X, self.y, self.loss, self.penalty = X, y, loss, penalty
        self.half_y_norm = 0.5 * float(y @ y)

    def solve(self, U: np.ndarray, V: np.ndarray, start: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, float]:
        """The weights (from ``start``, for the squared loss), the loss's (sub)gradient g at
        them and the objective."""
        S = (self.X @ U.T) * (self.X @ V.T)
        if self.loss == "hinge":
            return self._hinge(S)
        return self._squared(S, start)

    def _hinge(self, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        # SciPy's LP solver takes a fifth of a second to import: the squared loss never does.
        import scipy.sparse
        from scipy.optimize import linprog

        # min penalty·1ᵀ(w⁺ + w⁻) + 1ᵀξ  s.t.  ξᵢ ≥ 1 − yᵢ(S(w⁺ − w⁻))ᵢ,  w⁺, w⁻, ξ ≥ 0.
        n, k = S.shape
        YS = self.y[:, None] * S
        A = scipy.sparse.hstack([scipy.sparse.csr_array(-YS), scipy.sparse.csr_array(YS),
                                 -scipy.sparse.eye_array(n)], format="csr")
        cost = np.concatenate([np.full(2 * k, self.penalty), np.ones(n)])
        result = linprog(cost, A_ub=A, b_ub=-np.ones(n), bounds=(0, None), method="highs")
        if result.status != 0:
            raise QnnhwError(f"the refit's linear program failed ({result.message}); train "
                             f"without it: @output_refit none", "output_refit")
        weights = result.x[:k] - result.x[k:2 * k]
        # The duals λᵢ ∈ [0, 1] of the margins: −λᵢyᵢ is the hinge's subgradient at the optimum.
        multipliers = -result.ineqlin.marginals
        return weights, -multipliers * self.y, float(result.fun)

    def _squared(self, S: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        # ½‖Sw − y‖² + penalty·‖w‖₁ by FISTA with adaptive restart on the k × k Gram matrix
        # (a step costs k², whatever n). With the squared loss's small β the columns are
        # nearly collinear and no first-order method converges in a few steps, but the
        # pricing needs only the gradient at the weights returned (exact at any w), and the
        # warm start carries the progress from round to round.
        gram, correlation = S.T @ S, S.T @ self.y
        step = 1.0 / max(_largest_eigenvalue(gram), 1e-300)
        weights, momentum, t = start, start, 1.0

        def objective(w: np.ndarray) -> float:   # ½‖Sw − y‖² + penalty·‖w‖₁, from the Gram
            return (0.5 * float(w @ (gram @ w)) - float(correlation @ w) + self.half_y_norm
                    + self.penalty * float(np.abs(w).sum()))

        previous = objective(weights)
        for done in range(1, LASSO_STEPS + 1):
            new = soft_threshold(momentum - step * (gram @ momentum - correlation),
                                 step * self.penalty)
            if (momentum - new) @ (new - weights) > 0:   # adaptive restart (O'Donoghue–Candès)
                t = 1.0
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            momentum = new + ((t - 1.0) / t_next) * (new - weights)
            weights, t = new, t_next
            if done % LASSO_CHECK_EVERY == 0:
                current = objective(weights)
                if previous - current <= LASSO_PROGRESS * current + LASSO_FLOOR * self.half_y_norm:
                    break
                previous = current
        residual = S @ weights - self.y
        value = 0.5 * float(residual @ residual) + self.penalty * float(np.abs(weights).sum())
        return weights, residual, value


def _largest_eigenvalue(gram: np.ndarray) -> float:
    """λ_max of a Gram matrix by power iteration, with a margin for FISTA's step: a tenth of
    the cost of a full eigendecomposition, and the columns' common direction (all-ones)
    starts it next to the answer."""
    vector = np.ones(len(gram)) / math.sqrt(len(gram))
    estimate = 0.0
    for _ in range(POWER_STEPS):
        image = gram @ vector
        previous, estimate = estimate, float(vector @ image)
        norm = float(np.linalg.norm(image))
        if norm == 0.0:
            return 0.0
        vector = image / norm
        if estimate - previous <= 1e-6 * estimate:
            break
    # The Rayleigh quotient is below λ_max; FISTA's steps stay stable up to twice 1/λ_max.
    return 1.1 * estimate


def _improve(U: np.ndarray, V: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alternating maximisation of |uᵀMv| over ±1 vectors from each row pair (u, v): each
    half-step is exact, so no price falls; a pair at its fixed point stays there, so all
    pairs step together until none moves."""
    U = U * np.where(np.sum((U @ M) * V, axis=1) < 0, -1.0, 1.0)[:, None]
    for _ in range(M.shape[0]):
        V_next = np.where(U @ M >= 0, 1.0, -1.0)
        U_next = np.where(V_next @ M.T >= 0, 1.0, -1.0)
        if np.array_equal(U_next, U) and np.array_equal(V_next, V):
            break
        U, V = U_next, V_next
    return U, V


def _unique(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One copy of each neuron up to the symmetries of its column s = (Xu)∘(Xv): negating u
    or v negates s (a weight's sign absorbs it) and swapping u and v leaves it."""
    U = U * np.where(U[:, :1] < 0, -1.0, 1.0)
    V = V * np.where(V[:, :1] < 0, -1.0, 1.0)
    differ = U != V
    first = np.argmax(differ, axis=1)      # where u and v first differ (0 if they never do)
    rows = np.arange(len(U))
    swap = differ[rows, first] & (U[rows, first] > V[rows, first])   # tuple(u) > tuple(v)
    first = np.where(swap[:, None], V, U)
    second = np.where(swap[:, None], U, V)
    _, index = np.unique(np.hstack([first, second]), axis=0, return_index=True)
    index = np.sort(index)
    return first[index], second[index]
