"""A convex refit of the output layer: many neurons from Q*, their weights by the Lasso of (21).

Algorithm 1 gives every neuron the same weight. With candidates (uⱼ, vⱼ) sampled from the
same covariance Q*, the objective (21) as a function of per-neuron weights αⱼ,

    ℓ(Σⱼ αⱼ (Xuⱼ)∘(Xvⱼ), y) + βd Σⱼ |αⱼ|,

is convex (a Lasso over the columns sⱼ = (Xuⱼ)∘(Xvⱼ)). It is solved by FISTA from Algorithm
1's own weights (the hinge through a fixed entropic smoothing; every result is scored with the
true loss). The weights are then rounded to integers cⱼ on one common scale a, chosen so that
Σ|cⱼ| is the width asked for: a neuron of weight cⱼ·a is |cⱼ| copies of (uⱼ, vⱼ) with uⱼ
negated when cⱼ < 0, so the refitted network is again a ±1 bilinear network with one α = a,
and the hardware needs nothing new.
"""

from __future__ import annotations

import math

import numpy as np

from qnnhw.losses import Elementwise

__all__ = ["REFIT_CANDIDATES", "integer_network", "largest_remainder", "lasso_weights"]

#: Candidates sampled per neuron of the final width.
REFIT_CANDIDATES = 4
#: Smoothing of the hinge during the refit (its slack has the scale of 1).
SMOOTHING = 0.02


def soft_threshold(values: np.ndarray, threshold: float) -> np.ndarray:
    """The proximal step of threshold·‖·‖₁: each value moved toward 0 by ``threshold``."""
    return np.sign(values) * np.maximum(np.abs(values) - threshold, 0.0)


def lasso_weights(S: np.ndarray, y: np.ndarray, loss: str, penalty: float,
                  start: np.ndarray, iterations: int = 3000) -> np.ndarray:
    """argmin over α of ℓ(Sα, y) + penalty·‖α‖₁ by FISTA with adaptive restart, from
    ``start``; the iterate with the best true objective is returned."""
    smooth = Elementwise(loss, y, SMOOTHING)
    true = Elementwise(loss, y)
    curvature = 1.0 if loss == "squared" else 1.0 / (4 * SMOOTHING)
    lipschitz = curvature * float(np.linalg.norm(S, 2)) ** 2
    if lipschitz == 0.0:
        return start

    def score(alpha: np.ndarray) -> float:
        return true.value(S @ alpha) + penalty * float(np.abs(alpha).sum())

    alpha = start.copy()
    best, best_value = alpha, score(alpha)
    momentum, t = alpha.copy(), 1.0
    for iteration in range(1, iterations + 1):
        gradient = S.T @ smooth.gradient(S @ momentum)
        step = momentum - gradient / lipschitz
        new = soft_threshold(step, penalty / lipschitz)
        if (momentum - new) @ (new - alpha) > 0:   # adaptive restart (O'Donoghue–Candès)
            t = 1.0
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = new + ((t - 1.0) / t_next) * (new - alpha)
        alpha, t = new, t_next
        if iteration % 50 == 0:
            value = score(alpha)
            if value < best_value - 1e-9 * abs(best_value):
                best, best_value = alpha.copy(), value
            elif iteration >= 500:
                break
    return best


def largest_remainder(shares: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Integers cᵢ ≥ ``minimum`` with Σcᵢ = ``total``, proportional to ``shares`` (≥ 0) beyond
    the minimum, by largest remainders (ties to the lower i); needs total ≥ minimum·len."""
    spare = total - minimum * len(shares)
    weight = float(shares.sum())
    exact = (shares / weight if weight > 0 else np.full(len(shares), 1 / len(shares))) * spare
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:spare - int(counts.sum())]] += 1
    return counts + minimum


def integer_network(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int
                    ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """A ±1 network of exactly ``width`` neurons from weighted neurons, one part per output.

    Part c = (U, V, w) gets m_c ∝ ‖w‖₁ neurons (at least one; ``width`` ≥ the number of
    parts), and neuron j of it |cⱼ| copies, cⱼ ∝ wⱼ by largest remainders, u negated when
    wⱼ < 0: weight cⱼ·a on one scale a. Returns U, V and the neurons per output."""
    rows_U, rows_V, per_output = [], [], []
    norms = np.array([float(np.abs(w).sum()) for _, _, w in parts])
    for (U, V, w), neurons in zip(parts, largest_remainder(norms, width, minimum=1)):
        if not np.any(w):   # an output with no weight: one neuron, its weight is then ~0
            U, V, w = U[:1], V[:1], np.ones(1)
        counts = largest_remainder(np.abs(w), int(neurons))
        signs = np.where(w < 0, -1, 1).astype(np.int8)[:, None]
        rows_U.append(np.repeat(U * signs, counts, axis=0))
        rows_V.append(np.repeat(V, counts, axis=0))
        per_output.append(int(neurons))
    return np.concatenate(rows_U), np.concatenate(rows_V), tuple(per_output)
