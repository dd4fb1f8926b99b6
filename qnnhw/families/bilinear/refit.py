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

__all__ = ["REFIT_CANDIDATES", "integer_neurons", "lasso_weights"]

#: Candidates sampled per neuron of the final width.
REFIT_CANDIDATES = 4
#: Smoothing of the hinge during the refit (its slack has the scale of 1).
SMOOTHING = 0.02


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
        new = np.sign(step) * np.maximum(np.abs(step) - penalty / lipschitz, 0.0)
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


def integer_neurons(U: np.ndarray, V: np.ndarray, alpha: np.ndarray, width: int
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Weights αⱼ as integer multiples cⱼ of one scale a with Σ|cⱼ| ≈ ``width``, and the
    network of |cⱼ| copies of each neuron (u negated for cⱼ < 0): returns U, V and a."""
    total = float(np.abs(alpha).sum())
    if total == 0.0:
        return U[:1], V[:1], 0.0
    scale = total / width
    counts = np.rint(alpha / scale).astype(int)
    if not counts.any():
        counts[np.argmax(np.abs(alpha))] = int(np.sign(alpha[np.argmax(np.abs(alpha))]))
    repeat = np.abs(counts)
    signs = np.sign(counts)[:, None].astype(np.int8)
    U_out = np.repeat(U * np.where(signs == 0, 1, signs), repeat, axis=0)
    V_out = np.repeat(V, repeat, axis=0)
    # The scale that fits the rounded counts best in ℓ1 terms keeps Σ cⱼ·a = Σ αⱼ in size.
    return U_out, V_out, total / int(repeat.sum())
