"""scikit-learn-style estimators (fit / predict / score) over both training methods.

scikit-learn is not required; the classes follow its conventions so that they read and
behave like one::

    from qnnhw import BinaryBilinearNetwork, ThresholdNetwork
    net = BinaryBilinearNetwork(m=1000).fit(X_train, y_train)
    net.score(X_test, y_test), net.lower_bound_, net.model_.save("model.json")
    ThresholdNetwork(beta=5).fit(X_train, y_train).score(X_test, y_test)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dataset import ColumnEncoder, Dataset, InputEncoder
from .errors import QnnhwError
from .model import BilinearModel, ThresholdModel
from .train import SDPTrainer, ThresholdTrainer, TrainConfig

__all__ = ["BinaryBilinearNetwork", "ThresholdNetwork"]


def _as_matrix(X: Any, columns: int | None = None) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise QnnhwError("X must be a numeric array") from None
    if X.ndim != 2:
        raise QnnhwError(f"X must be two-dimensional (n_samples, n_features), not shape {X.shape}")
    if columns is not None and X.shape[1] != columns:
        raise QnnhwError(f"X has {X.shape[1]} features, the network was fitted on {columns}")
    if not np.all(np.isfinite(X)):
        raise QnnhwError("X contains NaN or infinity")
    return X


class _Estimator:
    """fit / predict / score around a trainer; subclasses name their parameters and train."""

    PARAMETERS: tuple[str, ...]
    model_: BilinearModel | ThresholdModel
    standardize: bool
    bias: bool

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.PARAMETERS}

    def set_params(self, **params: Any) -> Any:
        for name, value in params.items():
            if name not in self.PARAMETERS:
                raise QnnhwError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def _train(self, data: Dataset) -> None:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, feature_names: list[str] | None = None) -> Any:
        X = _as_matrix(X)
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise QnnhwError(f"X has {len(X)} rows but y has {len(y)}")
        classes = np.unique(y)
        if len(classes) < 2:
            raise QnnhwError("y has one value only; training needs two classes or a numeric "
                             "target")
        names = feature_names or [f"x{k + 1}" for k in range(X.shape[1])]
        encoder = InputEncoder(tuple(ColumnEncoder(str(name)) for name in names))
        if len(classes) == 2:
            self.classes_ = classes
            task, target = "classification", np.where(y == classes[1], 1.0, -1.0)
            labels: tuple[str, str] | None = (str(classes[0]), str(classes[1]))
        else:
            task, target, labels = "regression", _as_matrix(y[:, None])[:, 0], None
        self._train(Dataset(X, target, X[:0], target[:0], encoder, task, "y", labels, "arrays",
                            standardize_default=self.standardize, bias_default=self.bias))
        return self

    def _check_fitted(self) -> BilinearModel | ThresholdModel:
        if not hasattr(self, "model_"):
            raise QnnhwError("this network is not fitted yet; call fit(X, y) first")
        return self.model_

    def decision_function(self, X: Any) -> np.ndarray:
        model = self._check_fitted()
        return model.decision_function(_as_matrix(X, len(model.encoder.columns)))

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if self._check_fitted().task == "classification":
            return self.classes_[(scores > 0).astype(int)]
        return scores

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for a classifier, R² for a regressor (as scikit-learn)."""
        y = np.asarray(y).ravel()
        prediction = self.predict(X)
        if self._check_fitted().task == "classification":
            return float(np.mean(prediction == y))
        y = y.astype(float)
        return float(1.0 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))


class BinaryBilinearNetwork(_Estimator):
    """Two-layer network f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃), uⱼ, vⱼ ∈ {−1, +1}, trained by the SDP.

    A target with two distinct values makes a classifier (``classes_`` holds them, the second
    is the positive class); any other numeric target makes a regressor.

    Parameters
    ----------
    m : int
        Number of hidden neurons sampled by Algorithm 1.
    beta : float, optional
        Regularisation β (default: 1e-4 for squared loss, 10 for hinge).
    loss : {"squared", "hinge"}, optional
        Default: hinge for classification, squared for regression.
    seed : int
        Seed of the sampling.
    bias, standardize : bool
        Append the constant feature; standardise features on the training data.
    weight_levels : int
        Number of first-layer weight levels (2 = ±1; more by feature replication).
    solver : {"SCS", "CLARABEL"}
    refit_alpha : bool
        Use the least-squares α instead of the paper's ρ*π/(γm).

    Attributes
    ----------
    model_ : BilinearModel
    lower_bound_ : float
        The SDP value: no ±1 network of any width reaches a lower training objective.
    objective_ : float
        This network's training objective (21).
    """

    PARAMETERS = ("m", "beta", "loss", "seed", "bias", "standardize", "weight_levels",
                  "solver", "refit_alpha")

    def __init__(self, m: int = 1000, beta: float | None = None, loss: str | None = None,
                 seed: int = 0, bias: bool = True, standardize: bool = True,
                 weight_levels: int = 2, solver: str = "SCS", refit_alpha: bool = False):
        self.m = m
        self.beta = beta
        self.loss = loss
        self.seed = seed
        self.bias = bias
        self.standardize = standardize
        self.weight_levels = weight_levels
        self.solver = solver
        self.refit_alpha = refit_alpha

    def _train(self, data: Dataset) -> None:
        config = TrainConfig(m=self.m, beta=self.beta, loss=self.loss, seed=self.seed,
                             weight_levels=self.weight_levels, solver=self.solver,
                             refit_alpha=self.refit_alpha)
        self.trainer_ = SDPTrainer(data, config)
        self.model_ = self.trainer_.sample(self.m)
        self.lower_bound_ = float(self.model_.training["lower_bound"])
        self.objective_ = float(self.model_.training["objective"])


class ThresholdNetwork(_Estimator):
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

    PARAMETERS = ("beta", "hyperplanes", "kind", "hidden_bits", "seed", "bias", "standardize",
                  "solver")

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
        config = TrainConfig(family="threshold", beta=self.beta, neurons=self.hyperplanes,
                             hyperplanes=self.kind, hidden_bits=self.hidden_bits,
                             seed=self.seed, solver=self.solver)
        self.model_ = ThresholdTrainer(data, config).train()
        self.objective_ = float(self.model_.training["lasso_objective"])
        self.gap_ = float(self.model_.training["lasso_gap"])
