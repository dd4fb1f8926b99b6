"""The two training losses, summed over samples as in the paper (so β means the paper's β)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import QnnhwError

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
