"""What the scikit-learn estimators of every family share: input checks, fit, predict.

Each family has a classifier and a regressor (``qnnhw/families/*/estimator.py``) that name
their parameters and how they train; they follow scikit-learn's estimator contract
(``sklearn.utils.estimator_checks``): ``clone``, ``Pipeline``, ``GridSearchCV``, pickling and
``n_jobs`` work on them, inputs are checked by scikit-learn's own ``validate_data`` (sparse,
complex, empty or non-finite input refused in its words), an unfitted estimator raises
``NotFittedError``.

A classifier takes any labels (``classes_``): two give one output whose sign is the second
class, three or more give one output per class. A regressor takes a numeric target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .dataset import ColumnEncoder, Dataset, InputEncoder, Task
from .errors import QnnhwError
from .model import Network

__all__ = ["NetworkClassifier", "NetworkEstimator", "NetworkRegressor"]


class NetworkEstimator(BaseEstimator):
    """fit / predict around a family's trainer, for a task fixed by the subclass.

    A family's estimator takes its parameters as constructor arguments (stored unchanged, as
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

    def _fit_task(self, X: np.ndarray, target: np.ndarray, task: Task,
                  labels: tuple[str, ...] | None) -> None:
        """Train on checked inputs: ``target`` as the trainers take it."""
        names = getattr(self, "feature_names_in_", None)
        names = list(names) if names is not None else [f"x{k + 1}" for k in range(X.shape[1])]
        encoder = InputEncoder(tuple(ColumnEncoder(str(name)) for name in names))
        data = Dataset(X, target, X[:0], target[:0], encoder, task, "y", labels, "arrays",
                       standardize_default=self.standardize, bias_default=self.bias)
        try:
            self._train(data)
        except QnnhwError as error:
            raise QnnhwError(error.render(self._argument_of)) from None

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's real outputs on checked inputs."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=float, reset=False)
        result: np.ndarray = self.model_.decision_function(X)
        return result


class NetworkClassifier(ClassifierMixin, NetworkEstimator):
    """A family's network as a scikit-learn classifier (any labels, ``classes_``)."""

    def fit(self, X: Any, y: Any) -> Any:
        X, y = validate_data(self, X, y, dtype=float)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise QnnhwError("y has one class only; training needs two classes at least")
        index = np.searchsorted(self.classes_, y)
        target = (np.where(index == 1, 1.0, -1.0) if len(self.classes_) == 2
                  else index.astype(float))
        self._fit_task(X, target, "classification",
                       tuple(str(label) for label in self.classes_))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The network's real outputs: one per sample, or for C ≥ 3 classes one per class."""
        return self._outputs(X)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted labels, from ``classes_``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=float, reset=False)
        result: np.ndarray = self.classes_[self.model_.predict_classes(X)]
        return result


class NetworkRegressor(RegressorMixin, NetworkEstimator):
    """A family's network as a scikit-learn regressor (a numeric target)."""

    def fit(self, X: Any, y: Any) -> Any:
        X, y = validate_data(self, X, y, dtype=float, y_numeric=True)
        if len(y) < 2:
            raise QnnhwError(f"n_samples={len(y)}; training needs two samples at least")
        if np.all(y == y[0]):
            raise QnnhwError("y has one value only; a regression needs a varying target")
        self._fit_task(X, np.asarray(y, dtype=float), "regression", None)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predictions."""
        return self._outputs(X)
