"""Local search over a trained network's ±1 weights: single-entry flips, improvements only.

At a fixed output scale α and width m the penalty βdm|α| of (21) is fixed, so a flip changes
the objective by its change of the loss alone, and that change is exact and cheap: flipping
entry k of uⱼ changes neuron j's output on every row by −2uⱼₖ xₖ (vⱼᵀx), so the predictions of
neuron j's output move by Δ = −2α uⱼₖ X[:, k] ∘ (Xvⱼ) — one n-vector per entry, all d entries
of uⱼ and of vⱼ priced at once. Each neuron in turn takes its best flip if that lowers the
loss; a pass visits every neuron; the search ends after the passes asked for or at a pass
that changes nothing. The network stays an ordinary ±1 network.
"""

from __future__ import annotations

import numpy as np

from qnnhw.losses import loss_value

__all__ = ["flip_search"]

#: A flip is taken when it lowers the loss by more than this (relative to the loss), so that
#: rounding noise cannot make two flips undo each other forever.
IMPROVEMENT = 1e-12


def flip_search(X: np.ndarray, targets: np.ndarray, loss: str, U: np.ndarray, V: np.ndarray,
                alpha: float, class_neurons: tuple[int, ...], passes: int
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Improve U, V by single-entry flips at scale α; returns the new U, V and the flips made.

    ``targets`` is (n,) for one output or (n, C) with ``class_neurons`` giving each output's
    consecutive neurons."""
    U, V = U.copy(), V.copy()
    if alpha == 0.0 or passes == 0:
        return U, V, 0
    X = np.asarray(X, dtype=float)
    Y = np.asarray(targets, dtype=float).reshape(len(X), -1)
    output_of = (np.repeat(np.arange(len(class_neurons)), class_neurons) if class_neurons
                 else np.zeros(len(U), dtype=int))
    A, B = X @ U.T.astype(float), X @ V.T.astype(float)
    P = np.stack([alpha * (A * B)[:, output_of == c].sum(axis=1) for c in range(Y.shape[1])],
                 axis=1)
    flips = 0
    for _ in range(passes):
        flipped_in_pass = 0
        for j in range(len(U)):
            c = output_of[j]
            p, y = P[:, c], Y[:, c]
            # Δ for every entry of u (columns 0…d−1) and of v (d…2d−1).
            delta = np.hstack([(-2 * alpha) * X * U[j] * B[:, j:j + 1],
                               (-2 * alpha) * X * V[j] * A[:, j:j + 1]])
            change = _loss_change(loss, p, y, delta)
            k = int(np.argmin(change))
            if change[k] >= -IMPROVEMENT * max(1.0, loss_value(loss, p, y)):
                continue
            d = X.shape[1]
            P[:, c] += delta[:, k]
            if k < d:
                U[j, k] = -U[j, k]
                A[:, j] = X @ U[j].astype(float)
            else:
                V[j, k - d] = -V[j, k - d]
                B[:, j] = X @ V[j].astype(float)
            flipped_in_pass += 1
        flips += flipped_in_pass
        if flipped_in_pass == 0:
            break
    return U, V, flips


def _loss_change(loss: str, p: np.ndarray, y: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Σᵢ φ(pᵢ + Δᵢₖ; yᵢ) − φ(pᵢ; yᵢ) for every column k of Δ."""
    if loss == "squared":
        residual = (p - y)[:, None]
        return np.sum(delta * (residual + 0.5 * delta), axis=0)
    margin = 1.0 - (y * p)[:, None]
    return np.sum(np.maximum(0.0, margin - y[:, None] * delta) - np.maximum(0.0, margin),
                  axis=0)
