"""The training losses, summed over samples as in the paper (so β means the paper's β).

``squared`` is ½‖ŷ − y‖², ``hinge`` is Σ max(0, 1 − yᵢŷᵢ) with labels ±1. Both are sums of one
function per prediction; :class:`Elementwise` gives what the solvers and the certificates need
of them: value, gradient, curvature (of a smoothed hinge while a solver runs) and the Fenchel
conjugate of the true loss, which turns a dual candidate into a lower bound.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import QnnhwError

__all__ = ["DEFAULT_BETA", "LOSSES", "Elementwise", "Loss", "check_loss", "loss_value"]

Loss = Literal["squared", "hinge"]
LOSSES: tuple[Loss, ...] = ("squared", "hinge")

#: The paper's regularisation for each loss: β = 1e-4 (Fig. 1, squared), β = 10 (Fig. 3, hinge).
DEFAULT_BETA: dict[str, float] = {"squared": 1e-4, "hinge": 10.0}


def check_loss(loss: str, task: str) -> Loss:
    if loss not in LOSSES:
        raise QnnhwError(f"unknown @loss {loss!r}; choose one of {', '.join(LOSSES)}", "loss")
    if loss == "hinge" and task != "classification":
        raise QnnhwError("the hinge loss needs a two-class target; use @loss squared for "
                         "regression", "loss")
    return loss


def loss_value(loss: str, prediction: np.ndarray, y: np.ndarray) -> float:
    """½‖ŷ − y‖² (squared) or Σ max(0, 1 − yᵢŷᵢ) (hinge)."""
    if loss == "squared":
        return float(0.5 * np.sum((prediction - y) ** 2))
    if loss == "hinge":
        return float(np.sum(np.maximum(0.0, 1.0 - y * prediction)))
    raise QnnhwError(f"unknown @loss {loss!r}; choose one of {', '.join(LOSSES)}", "loss")


class Elementwise:
    """A loss ℓ(Ŷ) = Σᵢ φ(Ŷᵢ; Yᵢ) over arrays of predictions and targets of one shape.

    Parameters
    ----------
    loss : {"squared", "hinge"}
    targets : ndarray
        Y (labels ±1 for the hinge).
    smoothing : float
        μ > 0 replaces the hinge max_{α∈[0,1]} α·u (u = 1 − yŷ, the slack) by its entropic
        proximal smoothing max_{α∈[0,1]} α·u − μ·KL(α ‖ a) = μ·log((1 − a) + a·e^{u/μ}),
        which is infinitely differentiable, below the hinge, and equal to it where the
        maximising α = sigmoid(u/μ + logit a) is the anchor a. 0 is the true loss. The
        squared loss is smooth already.
    anchor : ndarray or None
        a ∈ (0, 1), the centre of the smoothing (default ½: a softplus). Moving a to the
        maximising α, round after round, is the proximal method of multipliers (with an
        entropic distance): it converges to the hinge's own solution with μ fixed.
    """

    #: Anchors stay this far inside (0, 1), where logit a is finite.
    ANCHOR_MARGIN = 1e-12

    def __init__(self, loss: str, targets: np.ndarray, smoothing: float = 0.0,
                 anchor: np.ndarray | None = None):
        if loss not in LOSSES:
            raise QnnhwError(f"unknown @loss {loss!r}; choose one of {', '.join(LOSSES)}",
                             "loss")
        self.loss = loss
        self.targets = np.asarray(targets, dtype=float)
        self.smoothing = smoothing if loss == "hinge" else 0.0
        anchor = np.full(self.targets.shape, 0.5) if anchor is None else anchor
        self.anchor = np.clip(anchor, self.ANCHOR_MARGIN, 1 - self.ANCHOR_MARGIN)

    def _logits(self, prediction: np.ndarray) -> np.ndarray:
        slack = 1.0 - self.targets * prediction
        return slack / self.smoothing + np.log(self.anchor) - np.log1p(-self.anchor)

    def multipliers(self, prediction: np.ndarray) -> np.ndarray:
        """The maximising α of the (smoothed) hinge at ``prediction``: −∂ℓ/∂Ŷ = α·y."""
        if self.smoothing == 0.0:
            return (1.0 - self.targets * prediction > 0).astype(float)
        return 0.5 * (1.0 + np.tanh(0.5 * self._logits(prediction)))

    def value(self, prediction: np.ndarray) -> float:
        if self.loss == "squared":
            return float(0.5 * np.sum((prediction - self.targets) ** 2))
        slack = 1.0 - self.targets * prediction
        if self.smoothing == 0.0:
            return float(np.sum(np.maximum(0.0, slack)))
        mu = self.smoothing
        return float(mu * np.sum(np.logaddexp(np.log1p(-self.anchor),
                                              np.log(self.anchor) + slack / mu)))

    def gradient(self, prediction: np.ndarray) -> np.ndarray:
        """∂ℓ/∂Ŷ; for the hinge without smoothing, the subgradient −y where yŷ < 1, else 0."""
        if self.loss == "squared":
            return prediction - self.targets
        return -self.targets * self.multipliers(prediction)

    def curvature(self, prediction: np.ndarray) -> np.ndarray:
        """∂²ℓ/∂Ŷᵢ², the diagonal Hessian (0 for the unsmoothed hinge)."""
        if self.loss == "squared":
            return np.ones_like(prediction)
        if self.smoothing == 0.0:
            return np.zeros_like(prediction)
        alpha = self.multipliers(prediction)
        return self.targets ** 2 * alpha * (1.0 - alpha) / self.smoothing

    def dual_value(self, W: np.ndarray) -> float:
        """−ℓ*(W) of the true (unsmoothed) loss, ℓ*(W) = sup_Ŷ ⟨W, Ŷ⟩ − ℓ(Ŷ).

        Squared: −⟨W, Y⟩ − ½‖W‖². Hinge: −⟨W, Y⟩, finite for yᵢwᵢ ∈ [−1, 0] only (the
        caller keeps W there; :meth:`dual_scale_limit` says how far it may be scaled).
        """
        if self.loss == "squared":
            return float(-np.sum(W * self.targets) - 0.5 * np.sum(W * W))
        product = self.targets * W
        if np.any(product > 0) or np.any(product < -1):
            raise ValueError("a hinge dual candidate needs y·w in [−1, 0]")
        return float(-np.sum(product))

    def dual_scale_limit(self, W: np.ndarray) -> float:
        """The largest t with tW in the conjugate's domain (∞ for the squared loss)."""
        if self.loss == "squared":
            return np.inf
        largest = float(np.abs(W).max(initial=0.0))
        return 1.0 / largest if largest > 0 else np.inf

    def best_dual_scale(self, W: np.ndarray, limit: float) -> float:
        """argmax over t ∈ [0, limit] of −ℓ*(tW): concave in t, so in closed form."""
        limit = min(limit, self.dual_scale_limit(W))
        if self.loss == "squared":
            curvature = float(np.sum(W * W))
            if curvature == 0.0:
                return 0.0
            return float(np.clip(-np.sum(W * self.targets) / curvature, 0.0, limit))
        return limit if np.isfinite(limit) else 0.0
