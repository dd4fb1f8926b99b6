"""Multinomial logistic regression over fixed 0/1 neurons, certified by a duality gap.

The LUT family refits the output weights of the neurons its Lasso kept with the loss the
classifier is judged by, the cross-entropy of the softmax of the C scores, keeping the
Lasso's support S (each non-zero weight is adder logic: the refit adds none) with weight
decay on those weights and free biases::

    min_{W, b}  Σᵢ [log Σ꜀ exp zᵢ꜀ − zᵢ,yᵢ] + λ/2 Σ_{(k,c) ∈ S} Wₖ꜀²,   zᵢ = Dᵢ W + b,

with Wₖ꜀ = 0 outside S. Two classes are the case C = 2 with the first class's weights outside
S: its score is its bias alone, and the network's one output is z₁ − z₀.

Solver: L-BFGS (SciPy) on the columns centred, an exact reparametrisation since b is free
that removes the all-ones direction from the curvature.

Certificate: for every row distribution qᵢ on the classes, log Σ꜀ exp zᵢ꜀ ≥ ⟨qᵢ, zᵢ⟩ + H(qᵢ)
(Gibbs' inequality). With Θ = E − Q (E the one-hot labels) and Θᵀ1 = 0 the objective is then
at least Σᵢ H(qᵢ) − ⟨(DᵀΘ)_S, W⟩ + λ/2‖W‖² ≥ Σᵢ H(qᵢ) − ‖(DᵀΘ)_S‖²/2λ, a lower bound on
the optimum for every such Q; the gap closes at the optimum, where Q is the fitted
probabilities and W = (DᵀΘ)_S/λ. :func:`_corrected` makes Θᵀ1 = 0 exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["LogisticSolution", "cross_entropy", "solve_logistic"]



@dataclass
class LogisticSolution:
    """A solution of the logistic refit and its certificate.

    Attributes
    ----------
    w : ndarray, shape (P,) for two classes or (P, C)
        Output weights, zero outside the support.
    bias : float or ndarray of shape (C,)
    objective : float
        Cross-entropy plus λ/2 times the squared weights, at (w, bias).
    gap : float
        Duality gap: the optimal objective lies in [objective − gap, objective].
    """

    w: np.ndarray
    bias: float | np.ndarray
    objective: float
    gap: float
    iterations: int
    seconds: float


def _softmax(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and log Σ exp of each row."""
    top = Z.max(axis=1, keepdims=True)
    exponentials = np.exp(Z - top)
    totals = exponentials.sum(axis=1, keepdims=True)
    return exponentials / totals, (top + np.log(totals))[:, 0]


def cross_entropy(Z: np.ndarray, labels: np.ndarray) -> float:
    """Σᵢ log Σ꜀ exp zᵢ꜀ − zᵢ,yᵢ."""
    _, log_totals = _softmax(Z)
    return float(np.sum(log_totals - Z[np.arange(len(Z)), labels]))


def _entropy(Q: np.ndarray) -> float:
    positive = Q[Q > 0]
    return float(-np.sum(positive * np.log(positive)))


def _corrected(probabilities: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """The fitted probabilities moved, as little as keeps every entry ≥ 0, to have exactly
    the label counts as column sums (Θᵀ1 = 0; the biases' optimality makes it nearly so)."""
    n = len(onehot)
    counts = onehot.sum(axis=0)
    shifted = probabilities - (probabilities.sum(axis=0) - counts) / n   # may dip below 0
    frequencies = counts / n                     # exact column sums, every entry ≥ 0
    deficit = np.maximum(-shifted, 0.0)
    mix = float(np.max(np.divide(deficit, frequencies - shifted, out=np.zeros_like(deficit),
                                 where=deficit > 0), initial=0.0))
    return np.clip((1.0 - mix) * shifted + mix * frequencies, 0.0, None)


def _dual_value(D_c: np.ndarray, onehot: np.ndarray, allowed: np.ndarray, decay: float,
                probabilities: np.ndarray) -> float:
    """Σᵢ H(qᵢ) − ‖(DᵀΘ)_S‖²/2λ at Q made from the fitted probabilities."""
    Q = _corrected(probabilities, onehot)
    # The columns of D_c are centred and Θᵀ1 = 0, so D_cᵀΘ = DᵀΘ.
    correlation = np.where(allowed, D_c.T @ (onehot - Q), 0.0)
    return _entropy(Q) - float(np.vdot(correlation, correlation)) / (2.0 * decay)


def solve_logistic(D: np.ndarray, labels: np.ndarray, classes: int, support: np.ndarray,
                   decay: float, *, max_iterations: int = 10_000) -> LogisticSolution:
    """Minimise the cross-entropy of softmax(D W + b) plus λ/2·‖W‖² over the weights in
    ``support`` and free biases.

    Parameters
    ----------
    D : ndarray, shape (n, P)
        The neurons' 0/1 outputs on the training rows.
    labels : ndarray of int, shape (n,)
        Class index of each row, 0 … classes − 1.
    classes : int
        C ≥ 2; with 2 the network has one output (z₁ − z₀) and ``support`` is P × 1.
    support : ndarray of bool, shape (P, C) or (P, 1) for two classes
        The weights allowed to be non-zero.
    decay : float
        λ > 0.
    """
    from scipy.optimize import minimize

    started = time.perf_counter()
    D = np.asarray(D, dtype=float)
    allowed = np.zeros((D.shape[1], classes), dtype=bool)
    if classes == 2:
        allowed[:, 1] = support[:, 0]
    else:
        allowed[:] = support
    onehot = np.eye(classes)[labels]
    means = D.mean(axis=0)
    D_c = D - means         # an exact reparametrisation (b is free) that conditions the problem
    free = np.flatnonzero(allowed.ravel())

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        W = np.zeros(allowed.size)
        W[free] = x[:len(free)]
        return W.reshape(allowed.shape), x[len(free):]

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = unpack(x)
        Z = D_c @ W + b
        probabilities, log_totals = _softmax(Z)
        value = (float(np.sum(log_totals - Z[np.arange(len(Z)), labels]))
                 + 0.5 * decay * float(np.vdot(W, W)))
        residual = probabilities - onehot
        gradient_W = (D_c.T @ residual + decay * W).ravel()[free]
        return value, np.concatenate([gradient_W, residual.sum(axis=0)])

    start = np.concatenate([np.zeros(len(free)),
                            np.log(np.maximum(onehot.mean(axis=0), 1e-12))])
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations, "maxfun": 2 * max_iterations,
                               "ftol": 1e-15, "gtol": 1e-10})
    W, b = unpack(result.x)
    value, _ = objective(result.x)
    probabilities, _ = _softmax(D_c @ W + b)
    gap = max(value - _dual_value(D_c, onehot, allowed, decay, probabilities), 0.0)
    bias = b - means @ W          # undo the centring: D_c W + b = D W + (b − μᵀW)
    seconds = time.perf_counter() - started
    if classes == 2:
        return LogisticSolution(W[:, 1], float(bias[1] - bias[0]), value, gap,
                                int(result.nit), seconds)
    return LogisticSolution(W, bias, value, gap, int(result.nit), seconds)
