"""The trained network and its versioned JSON model file: what every family shares.

A model file holds everything needed to recompute any prediction from a raw CSV row:

* ``inputs``: the input columns and how categorical ones are encoded;
* ``standardize``: which columns are kept, their training mean and scale;
* ``lifting``: the constant (bias) feature and the feature replication of Theorem 1;
* ``family``: the model family (:mod:`qnnhw.families`; absent in the first files: bilinear);
* ``network``: the family's weights (see its ``model.py``);
* ``task``, ``target`` and ``label_names`` (classification: the C class names in order; with
  two classes the network has one output, label −1 first, label +1 second);
* ``training``: how it was trained and what it achieved, its certificate included.

Classification with two classes predicts class 1 (label +1) exactly when the network's one
output f(x) > 0; with C ≥ 3 classes the network has C outputs and predicts the first of the
largest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from .dataset import InputEncoder
from .errors import QnnhwError
from .families import get_family
from .files import atomic_write

__all__ = ["FORMAT", "VERSION", "Lifting", "Network", "Standardizer", "classes_of",
           "finite_number", "load_model", "model_from_dict", "sign_matrix"]

FORMAT = "qnnhw-model"
VERSION = 1

NetworkT = TypeVar("NetworkT", bound="Network")


@dataclass(frozen=True)
class Standardizer:
    """Keeps the non-constant columns and maps each to (x − mean) / scale.

    Fitted on the training split only. Without standardisation, mean is 0 and scale 1 and
    every column is kept.
    """

    keep: tuple[int, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, X: np.ndarray, standardize: bool,
            names: Sequence[str] | None = None) -> Standardizer:
        """Fit on ``X``; ``names`` (of the columns) make a refusal name the column."""
        if not standardize:
            return cls(tuple(range(X.shape[1])), (0.0,) * X.shape[1], (1.0,) * X.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            spread = X.std(axis=0)
            mean = X.mean(axis=0)
        overflowing = np.flatnonzero(~(np.isfinite(spread) & np.isfinite(mean)))
        if len(overflowing):
            column = int(overflowing[0])
            name = repr(names[column]) if names is not None else str(column + 1)
            raise QnnhwError(f"input column {name} has values too large for floating "
                             f"point statistics (up to {np.abs(X[:, column]).max():.3g}: their "
                             f"squares overflow); rescale that column")
        keep = tuple(int(k) for k in np.flatnonzero(spread > 1e-12 * (1 + np.abs(X).max())))
        if not keep:
            raise QnnhwError("every feature is constant on the training split; nothing to learn")
        return cls(keep, tuple(float(v) for v in X[:, keep].mean(axis=0)),
                   tuple(float(v) for v in spread[list(keep)]))

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (X[:, list(self.keep)] - np.array(self.mean)) / np.array(self.scale)

    def to_dict(self) -> dict[str, Any]:
        return {"keep": list(self.keep), "mean": list(self.mean), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        return cls(tuple(int(k) for k in data["keep"]), tuple(map(float, data["mean"])),
                   tuple(map(float, data["scale"])))


@dataclass(frozen=True)
class Lifting:
    """Theorem 1's lifting: append a constant feature 1, then repeat every feature.

    With ``replicas`` = M, a ±1 weight on each copy sums to a weight in {−M, −M+2, …, M}: the
    (M+1)-level network becomes a binary one on d̃ = (d + bias)·M inputs.
    """

    bias: bool = True
    replicas: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.replicas, int) and self.replicas >= 1):
            raise QnnhwError(f"@weight_levels must be an integer ≥ 2, not {self.replicas + 1}",
                             "weight_levels")

    def lifted_dimension(self, features: int) -> int:
        return (features + int(self.bias)) * self.replicas

    def apply(self, X: np.ndarray) -> np.ndarray:
        if self.bias:
            X = np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])
        return np.repeat(X, self.replicas, axis=1)

    def names(self, features: list[str]) -> list[str]:
        names = features + (["1"] if self.bias else [])
        if self.replicas == 1:
            return names
        return [f"{name}#{k}" for name in names for k in range(self.replicas)]


def classes_of(outputs: np.ndarray) -> np.ndarray:
    """Class indices from outputs: 1 where the one output is > 0, else 0; with C outputs the
    index of the largest, the lowest index on a tie (as the hardware does)."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 1:
        return (outputs > 0).astype(int)
    return np.argmax(outputs, axis=1)


def finite_number(value: Any, what: str) -> float:
    """A model file's number, refused unless finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QnnhwError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def sign_matrix(rows: Any, name: str, d: int) -> np.ndarray:
    """A model file's ±1 matrix with rows of ``d`` entries, refused entry by entry."""
    if not isinstance(rows, list) or not rows:
        raise QnnhwError(f"network.{name} must be a non-empty list of rows of ±1")
    for j, row in enumerate(rows):
        if not isinstance(row, list):
            raise QnnhwError(f"network.{name}[{j}] is not a list of ±1")
        if len(row) != d:
            raise QnnhwError(f"network.{name}[{j}] has {len(row)} weights, expected {d}")
        for i, weight in enumerate(row):
            if isinstance(weight, bool) or weight not in (1, -1):
                raise QnnhwError(f"network.{name}[{j}][{i}] = {weight!r} is not ±1; a qnnhw "
                                 f"model holds only weights of exactly +1 or −1")
    return np.array(rows, dtype=np.int8)


@dataclass(kw_only=True)
class Network:
    """What every model family shares: the input pipeline, the task and the file format.

    A family's model is a dataclass that adds its weights and defines ``FAMILY``, ``m``,
    ``d``, :meth:`decision_function`, :meth:`network_dict` and :meth:`from_network`.

    Parameters
    ----------
    encoder, standardizer, lifting
        The input pipeline from raw columns to the lifted vector x̃.
    task : {"classification", "regression"}
    target : str
    label_names : tuple of str or None
        Class names (for two classes: of −1 and +1).
    training : dict
        How it was trained and what it achieved (method, loss, β, certificate, …): facts
        that the same data, options and seed reproduce exactly.
    timings : dict
        Seconds spent in the training steps. Not written to the model file, so the same
        seed gives the same file byte for byte.
    """

    FAMILY: ClassVar[str]

    encoder: InputEncoder
    standardizer: Standardizer
    lifting: Lifting
    task: str
    target: str
    label_names: tuple[str, ...] | None
    training: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def outputs(self) -> int:
        """One output per class from three classes on; one output otherwise."""
        return len(self.label_names) if self.label_names and len(self.label_names) > 2 else 1

    @property
    def m(self) -> int:
        """Neurons of the (last) hidden layer."""
        raise NotImplementedError

    @property
    def d(self) -> int:
        """Inputs of each neuron of the (last) hidden layer."""
        raise NotImplementedError

    @property
    def feature_names(self) -> list[str]:
        """Names of the standardised features, before lifting."""
        return [self.encoder.names[k] for k in self.standardizer.keep]

    def features(self, X: np.ndarray) -> np.ndarray:
        """Encoded input columns → standardised features (before lifting)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.encoder.columns):
            raise QnnhwError(f"expected inputs of shape (n, {len(self.encoder.columns)}), "
                             f"got {X.shape}")
        return self.standardizer.apply(X)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """f(x) for encoded input columns ``X``: shape (n,) for one output, (n, C) for C."""
        raise NotImplementedError

    def predict_signs(self, X: np.ndarray) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """Class indices: 1 where f > 0 (one output), else the first largest output."""
        return classes_of(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label ±1 (two classes), class index (C ≥ 3) or the real prediction (regression)."""
        if self.task == "regression":
            return self.decision_function(X)
        if self.outputs == 1:
            return self.predict_signs(X)
        return self.predict_classes(X).astype(float)

    def label_name(self, index: int) -> str:
        assert self.label_names is not None
        return self.label_names[index]

    # -- file format -------------------------------------------------------------------------

    def network_dict(self) -> dict[str, Any]:
        """The file's ``network`` object."""
        raise NotImplementedError

    @classmethod
    def from_network(cls: type[NetworkT], network: dict[str, Any], d: int,
                     common: dict[str, Any]) -> NetworkT:
        """The model from a file's ``network`` object (``d``: the lifted input width) and
        the fields every family shares (``common``); every problem is a QnnhwError."""
        raise NotImplementedError

    @staticmethod
    def outputs_in(network: dict[str, Any]) -> int:
        """The number of outputs a file's ``network`` object has, before it is read: C
        biases (one per class from three classes on), else one."""
        bias = network.get("bias")
        return len(bias) if isinstance(bias, list) else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "family": self.FAMILY,
            "task": self.task,
            "target": self.target,
            "label_names": None if self.label_names is None else list(self.label_names),
            "inputs": self.encoder.to_dict(),
            "standardize": self.standardizer.to_dict(),
            "lifting": {"bias": self.lifting.bias, "replicas": self.lifting.replicas},
            "network": self.network_dict(),
            "training": self.training,
        }

    def save(self, path: Path | str) -> None:
        atomic_write(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls: type[NetworkT], data: Any) -> NetworkT:
        model = model_from_dict(data)
        if not isinstance(model, cls):
            raise QnnhwError(f"this is a {model.FAMILY} model, not a {cls.FAMILY} one")
        return model

    @classmethod
    def load(cls: type[NetworkT], path: Path | str) -> NetworkT:
        model = load_model(path)
        if not isinstance(model, cls):
            raise QnnhwError(f"{path}: this is a {model.FAMILY} model, not a {cls.FAMILY} one")
        return model


#: Numbers of the training record that qnnhw reads back (the fixed point, the reports and
#: their certificates): each finite when present.
TRAINING_NUMBERS = ("feature_max_abs", "beta", "objective", "lower_bound", "relative_gap",
                    "trivial_objective", "lasso_gap", "lasso_objective", "refit_beta",
                    "refit_objective", "refit_gap", "rounded_objective")
#: Integers of the training record that qnnhw reads back, and their ranges.
TRAINING_INTEGERS = {"input_bits": (2, 24), "seed": (0, 2**32 - 1)}


def _check_training(training: dict[str, Any]) -> None:
    """Refuse a training record whose fields that qnnhw reads are not what it wrote."""
    for key in TRAINING_NUMBERS:
        value = training.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise QnnhwError(f"model field 'training.{key}' must be a finite number, not "
                             f"{value!r}; retrain the model")
    for key, (low, high) in TRAINING_INTEGERS.items():
        value = training.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise QnnhwError(f"model field 'training.{key}' must be an integer from {low} to "
                             f"{high}, not {value!r}; retrain the model")
    if not isinstance(training.get("data", ""), str):
        raise QnnhwError("model field 'training.data' must be the data's name; retrain the "
                         "model")
    if training.get("feature_max_abs", 1) is None or training.get("feature_max_abs", 1) <= 0:
        raise QnnhwError("model field 'training.feature_max_abs' must be positive; retrain "
                         "the model")


def model_from_dict(data: Any) -> Network:
    """A model of whichever family the file's ``family`` field names."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QnnhwError(f"not a qnnhw model (the 'format' field is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise QnnhwError(f"model file version {data.get('version')!r} is not supported "
                         f"(this qnnhw reads version {VERSION}); retrain the model")
    family = get_family(data.get("family"))
    try:
        encoder = InputEncoder.from_dict(data["inputs"])
        standardizer = Standardizer.from_dict(data["standardize"])
        lifting = Lifting(bool(data["lifting"]["bias"]), int(data["lifting"]["replicas"]))
        network = data["network"]
        task = data["task"]
        target = str(data["target"])
        labels = data["label_names"]
        training = dict(data.get("training") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise QnnhwError(f"model file is missing or has a malformed field ({error!s}); "
                         f"retrain the model") from None
    _check_training(training)
    if task not in ("classification", "regression"):
        raise QnnhwError(f"model task {task!r} is neither classification nor regression")
    if task == "classification" and (not isinstance(labels, list) or len(labels) < 2):
        raise QnnhwError("a classification model needs two label_names at least")
    if task == "regression" and labels is not None:
        raise QnnhwError(f"a regression model has no label_names, and this one lists "
                         f"{len(labels) if isinstance(labels, list) else 'some'}: its task "
                         f"or its labels were edited; retrain the model")
    if not isinstance(network, dict):
        raise QnnhwError("model field 'network' must be an object")
    columns = len(encoder.columns)
    if (len(standardizer.keep) != len(standardizer.mean)
            or len(standardizer.keep) != len(standardizer.scale)
            or any(not 0 <= k < columns for k in standardizer.keep)):
        raise QnnhwError("model field 'standardize' does not match its input columns")
    if any(not math.isfinite(s) or s <= 0 for s in standardizer.scale):
        raise QnnhwError("model field 'standardize' has a scale that is not positive")
    common = {"encoder": encoder, "standardizer": standardizer, "lifting": lifting,
              "task": task, "target": target,
              "label_names": None if labels is None else tuple(str(label) for label in labels),
              "training": training}
    expected = len(labels) if task == "classification" and len(labels) > 2 else 1
    found = family.model_type.outputs_in(network)
    if found != expected:
        what = (f"{len(labels)} label_names" if task == "classification" else "a regression")
        raise QnnhwError(f"the model's network has {found} output{'s' * (found > 1)}, its "
                         f"task and labels ({what}) call for {expected}: its task or "
                         f"label_names were edited; retrain the model")
    d = lifting.lifted_dimension(len(standardizer.keep))
    return family.model_type.from_network(network, d, common)


def load_model(path: Path | str) -> Network:
    """Read a model file of any family; every problem is one :class:`QnnhwError` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QnnhwError(f"{path}: no such model file; train one with "
                         f"'python -m qnnhw train -o {path}'") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise QnnhwError(f"{path}: not a qnnhw model file (not UTF-8 JSON)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise QnnhwError(f"{path}: corrupt model file, invalid JSON at line {error.lineno} "
                         f"({error.msg}); retrain the model") from None
    try:
        return model_from_dict(data)
    except QnnhwError as error:
        raise QnnhwError(f"{path}: {error}") from None
