"""What the scikit-learn estimators of every family share (fit / predict / score).

They are scikit-learn estimators (``BaseEstimator``, ``ClassifierMixin``): ``clone``,
``Pipeline`` and ``GridSearchCV`` work on them. Each family's estimator
(``qnnhw/families/*/estimator.py``) names its parameters and how it trains.

The target decides the task as ``--task auto`` does on the command line: labels that are not
numbers, two values, or at most :data:`~qnnhw.dataset.AUTO_CLASSES` integer values are
classes (``classes_``; three or more give the network one output per class); any other
numeric target is a regression (and ``score`` is R²).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .dataset import AUTO_CLASSES, ColumnEncoder, Dataset, InputEncoder, Task
from .errors import QnnhwError
from .model import Network

__all__ = ["NetworkEstimator"]


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


def _is_classes(y: np.ndarray, classes: np.ndarray) -> bool:
    """Whether a target is classes (the module docstring's rule)."""
    if len(classes) == 2 or not np.issubdtype(y.dtype, np.number):
        return True
    return bool(np.all(np.mod(classes, 1) == 0)) and len(classes) <= AUTO_CLASSES


class NetworkEstimator(ClassifierMixin, BaseEstimator):
    """fit / predict / score around a family's trainer.

    A subclass takes its parameters as constructor arguments (stored unchanged, as
    scikit-learn requires), maps those that differ from the training configuration's names
    in ``CONFIG_NAMES`` (argument → configuration field), and trains in :meth:`_train`.
    Errors about a configuration field name the estimator's argument.
    """

    CONFIG_NAMES: Mapping[str, str] = {}
    model_: Network
    standardize: bool
    bias: bool

    def set_params(self, **params: Any) -> Any:
        known = self.get_params(deep=False)
        for name in params:
            if name not in known:
                raise QnnhwError(f"unknown parameter {name!r}; this estimator takes "
                                 f"{', '.join(sorted(known))}")
        return super().set_params(**params)

    def _train(self, data: Dataset) -> None:
        raise NotImplementedError

    def _argument_of(self, field: str) -> str:
        arguments = {config: argument for argument, config in self.CONFIG_NAMES.items()}
        return arguments.get(field, field)

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
        task: Task
        labels: tuple[str, ...] | None
        if _is_classes(y, classes):
            self.classes_ = classes
            index = np.searchsorted(classes, y)
            task, labels = "classification", tuple(str(label) for label in classes)
            target = np.where(index == 1, 1.0, -1.0) if len(classes) == 2 \
                else index.astype(float)
        else:
            task, target, labels = "regression", _as_matrix(y[:, None])[:, 0], None
        data = Dataset(X, target, X[:0], target[:0], encoder, task, "y", labels, "arrays",
                       standardize_default=self.standardize, bias_default=self.bias)
        try:
            self._train(data)
        except QnnhwError as error:
            raise QnnhwError(error.render(self._argument_of)) from None
        return self

    def _check_fitted(self) -> Network:
        if not hasattr(self, "model_"):
            raise QnnhwError("this network is not fitted yet; call fit(X, y) first")
        return self.model_

    def decision_function(self, X: Any) -> np.ndarray:
        model = self._check_fitted()
        return model.decision_function(_as_matrix(X, len(model.encoder.columns)))

    def predict(self, X: Any) -> np.ndarray:
        """Labels (classification, from ``classes_``) or real predictions (regression)."""
        model = self._check_fitted()
        if model.task == "classification":
            X = _as_matrix(X, len(model.encoder.columns))
            result: np.ndarray = self.classes_[model.predict_classes(X)]
            return result
        return self.decision_function(X)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy for a classifier, R² for a regressor (as scikit-learn)."""
        y = np.asarray(y).ravel()
        prediction = self.predict(X)
        if self._check_fitted().task == "classification":
            return float(np.mean(prediction == y))
        y = y.astype(float)
        return float(1.0 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))
