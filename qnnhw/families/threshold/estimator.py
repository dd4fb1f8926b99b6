"""The threshold family as scikit-learn estimators: a classifier and a regressor."""

from __future__ import annotations

from qnnhw.dataset import Dataset
from qnnhw.estimator import NetworkClassifier, NetworkEstimator, NetworkRegressor

from .config import ThresholdConfig
from .train import ThresholdTrainer

__all__ = ["ThresholdClassifier", "ThresholdRegressor"]


class _Threshold(NetworkEstimator):
    """Two-layer threshold network f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0], trained by the convex Lasso.

    Parameters
    ----------
    beta : float
        Lasso regularisation β (more β, fewer neurons).
    hyperplanes : int
        Hidden weight vectors sampled before the Lasso chooses among their patterns.
    kind : {"binary", "gaussian"}
        ±1 hidden weights (no multiplier in hardware) or Gaussian ones rounded to integers.
    hidden_bits : int, optional
        Bits of the integer hidden weights of ``kind="gaussian"`` (default 4).
    seed : int
    bias, standardize : bool
    solver : {"FISTA", "CLARABEL", "SCS"}

    Attributes
    ----------
    model_ : ThresholdModel
    objective_ : float
        ½‖f(X) − y‖² + β‖w‖₁ on the training data, the Lasso optimum over the sampled patterns.
    gap_ : float
        Its duality gap: no network over these patterns does better than objective_ − gap_.
    """

    CONFIG_NAMES = {"hyperplanes": "neurons", "kind": "hyperplanes"}

    def __init__(self, beta: float = 5.0, hyperplanes: int = 2000, kind: str = "binary",
                 hidden_bits: int | None = None, seed: int = 0, bias: bool = True,
                 standardize: bool = True, solver: str = "FISTA"):
        self.beta = beta
        self.hyperplanes = hyperplanes
        self.kind = kind
        self.hidden_bits = hidden_bits
        self.seed = seed
        self.bias = bias
        self.standardize = standardize
        self.solver = solver

    def _train(self, data: Dataset) -> None:
        config = ThresholdConfig(beta=self.beta, neurons=self.hyperplanes,
                                 hyperplanes=self.kind, hidden_bits=self.hidden_bits,
                                 seed=self.seed, solver=self.solver)
        self.model_ = ThresholdTrainer(data, config).train()
        self.objective_ = float(self.model_.training["lasso_objective"])
        self.gap_ = float(self.model_.training["lasso_gap"])


class ThresholdClassifier(NetworkClassifier, _Threshold):
    __doc__ = (f"{_Threshold.__doc__}\n    As a classifier: two classes or C ≥ 3, one output "
               f"each; ``classes_`` holds them.\n")


class ThresholdRegressor(NetworkRegressor, _Threshold):
    __doc__ = f"{_Threshold.__doc__}\n    As a regressor: a numeric target.\n"
