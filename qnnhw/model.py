"""The trained network and its versioned JSON model file.

A model file holds everything needed to recompute any prediction from a raw CSV row:

* ``inputs``: the input columns and how categorical ones are encoded;
* ``standardize``: which columns are kept, their training mean and scale;
* ``lifting``: the constant (bias) feature and the feature replication of Theorem 1;
* ``family``: ``bilinear`` (the default when absent) or ``threshold``;
* ``network``: for a bilinear model the ±1 matrices U and V (m × d, one row per neuron) and
  the scalar α; for a threshold model the hidden weights H (K × d, ±1 or small integers), the
  output weights w and the output bias c;
* ``task``, ``target`` and ``label_names`` (classification: label −1 first, label +1 second);
* ``training``: how it was trained and what it achieved, its certificate included (the SDP
  lower bound, or the Lasso objective and duality gap).

A bilinear network computes f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃), a threshold network
f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0], on the lifted, standardised input x̃. Classification predicts
label +1 exactly when f(x) > 0.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import InputEncoder
from .errors import QnnhwError

__all__ = ["FAMILIES", "FORMAT", "VERSION", "BilinearModel", "Lifting", "Standardizer",
           "ThresholdModel", "atomic_write", "load_model", "model_from_dict"]

FORMAT = "qnnhw-model"
VERSION = 1
#: Model families: the file's ``family`` field (absent in the first files: bilinear).
FAMILIES = ("bilinear", "threshold")


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
    def fit(cls, X: np.ndarray, standardize: bool) -> Standardizer:
        if not standardize:
            return cls(tuple(range(X.shape[1])), (0.0,) * X.shape[1], (1.0,) * X.shape[1])
        spread = X.std(axis=0)
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
            raise QnnhwError(f"weight levels must be an integer ≥ 2, not {self.replicas + 1}")

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


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QnnhwError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _sign_matrix(rows: Any, name: str, d: int | None) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise QnnhwError(f"network.{name} must be a non-empty list of rows of ±1")
    for j, row in enumerate(rows):
        if not isinstance(row, list):
            raise QnnhwError(f"network.{name}[{j}] is not a list of ±1")
        if d is not None and len(row) != d:
            raise QnnhwError(f"network.{name}[{j}] has {len(row)} weights, expected {d}")
        for i, weight in enumerate(row):
            if isinstance(weight, bool) or weight not in (1, -1):
                raise QnnhwError(f"network.{name}[{j}][{i}] = {weight!r} is not ±1; a qnnhw "
                                 f"model holds only weights of exactly +1 or −1")
    return np.array(rows, dtype=np.int8)


class _Network:
    """What every model family shares: the input pipeline, the task and the file format.

    A family defines ``FAMILY``, ``decision_function``, ``_network_dict`` and
    ``_network_from_dict``; the rest is here.
    """

    FAMILY: str
    encoder: InputEncoder
    standardizer: Standardizer
    lifting: Lifting
    task: str
    target: str
    label_names: tuple[str, str] | None
    training: dict[str, Any]

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
        raise NotImplementedError

    def predict_signs(self, X: np.ndarray) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label ±1 (classification) or the real prediction (regression)."""
        if self.task == "classification":
            return self.predict_signs(X)
        return self.decision_function(X)

    def label_of(self, sign: float) -> str:
        assert self.label_names is not None
        return self.label_names[1] if sign > 0 else self.label_names[0]

    # -- file format -------------------------------------------------------------------------

    def _network_dict(self) -> dict[str, Any]:
        raise NotImplementedError

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
            "network": self._network_dict(),
            "training": self.training,
        }

    def save(self, path: Path | str) -> None:
        atomic_write(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        model = model_from_dict(data)
        if not isinstance(model, cls):
            raise QnnhwError(f"this is a {model.FAMILY} model, not a {cls.FAMILY} one")
        return model

    @classmethod
    def load(cls, path: Path | str) -> Any:
        model = load_model(path)
        if not isinstance(model, cls):
            raise QnnhwError(f"{path}: this is a {model.FAMILY} model, not a {cls.FAMILY} one")
        return model


@dataclass
class BilinearModel(_Network):
    """A trained ±1 bilinear network with one output scale α.

    Parameters
    ----------
    U, V : ndarray of int8, shape (m, d)
        First-layer weights, every entry +1 or −1; row j is neuron j.
    alpha : float
        The one second-layer weight shared by every neuron.
    encoder, standardizer, lifting
        The input pipeline from raw columns to the lifted vector x̃.
    task : {"classification", "regression"}
    target : str
    label_names : (str, str) or None
        Classification labels for −1 and +1.
    training : dict
        Training metadata (method, loss, β, m, seed, lower bound, objective, …).
    """

    FAMILY = "bilinear"

    U: np.ndarray
    V: np.ndarray
    alpha: float
    encoder: InputEncoder
    standardizer: Standardizer
    lifting: Lifting
    task: str
    target: str
    label_names: tuple[str, str] | None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def m(self) -> int:
        return int(self.U.shape[0])

    @property
    def d(self) -> int:
        """Lifted input dimension (what the hidden layer sees)."""
        return int(self.U.shape[1])

    def neuron_sums(self, lifted: np.ndarray) -> np.ndarray:
        """s = Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) for each lifted row x̃."""
        return np.sum((lifted @ self.U.T.astype(float)) * (lifted @ self.V.T.astype(float)),
                      axis=1)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """f(x) for encoded input columns ``X``."""
        return self.alpha * self.neuron_sums(self.lifting.apply(self.features(X)))

    def _network_dict(self) -> dict[str, Any]:
        return {"m": self.m, "d": self.d, "alpha": self.alpha,
                "U": self.U.astype(int).tolist(), "V": self.V.astype(int).tolist()}

    @classmethod
    def _from_network(cls, network: dict[str, Any], d: int, common: dict[str, Any]
                      ) -> BilinearModel:
        U = _sign_matrix(network.get("U"), "U", d)
        V = _sign_matrix(network.get("V"), "V", d)
        if U.shape != V.shape:
            raise QnnhwError(f"network.U has {U.shape[0]} neurons but network.V has "
                             f"{V.shape[0]}")
        if network.get("m") not in (None, U.shape[0]):
            raise QnnhwError(f"network.m = {network.get('m')!r} but U has {U.shape[0]} rows")
        return cls(U, V, _finite(network.get("alpha"), "network.alpha"), **common)


#: Hidden weights of a threshold network: ±1 (``binary``) or signed integers of a few bits.
HIDDEN_KINDS = ("binary", "integer")


@dataclass
class ThresholdModel(_Network):
    """A trained threshold network f(x) = c + Σₖ wₖ·1[hₖᵀã ≥ 0].

    ã is the lifted input x̃ for a two-layer network. A deeper network first passes x̃ through
    the threshold layers in ``layers`` (Ergen et al. §3), each followed by the constant 1:
    ã = [1[L ã' ≥ 0]; 1] with ã' the previous layer's output.

    Parameters
    ----------
    H : ndarray of int, shape (K, d)
        Hidden weights, row k is neuron k: every entry ±1 when ``hidden_bits`` is 1, else a
        signed integer with |hₖᵢ| ≤ 2^(hidden_bits−1) − 1. Only the sign of hₖᵀx̃ matters, so
        integers lose nothing against real weights of the same direction.
    w : ndarray of float, shape (K,)
        Output weight of each neuron.
    bias : float
        Output bias c.
    hidden_bits : int
        1 for ±1 hidden weights, else the width of the signed integer weights.
    encoder, standardizer, lifting, task, target, label_names, training
        As in :class:`BilinearModel`.
    layers : tuple of ndarray of int8
        The earlier hidden layers, ±1, each of shape (width, input width + 1); empty for a
        two-layer network. H's rows then have the last layer's width + 1 entries.
    """

    FAMILY = "threshold"

    H: np.ndarray
    w: np.ndarray
    bias: float
    hidden_bits: int
    encoder: InputEncoder
    standardizer: Standardizer
    lifting: Lifting
    task: str
    target: str
    label_names: tuple[str, str] | None
    training: dict[str, Any] = field(default_factory=dict)
    layers: tuple[np.ndarray, ...] = ()

    @property
    def m(self) -> int:
        """Number of neurons K (the name ``m`` is shared with the bilinear family)."""
        return int(self.H.shape[0])

    @property
    def d(self) -> int:
        return int(self.H.shape[1])

    @property
    def hidden_kind(self) -> str:
        return "binary" if self.hidden_bits == 1 else "integer"

    def last_layer_inputs(self, lifted: np.ndarray) -> np.ndarray:
        """ã: the lifted input passed through the earlier layers, each followed by a 1."""
        for layer in self.layers:
            active = (lifted @ layer.T.astype(float) >= 0).astype(float)
            lifted = np.hstack([active, np.ones((len(active), 1))])
        return lifted

    def activations(self, lifted: np.ndarray) -> np.ndarray:
        """1[hₖᵀã ≥ 0] for each lifted input row x̃, shape (n, K)."""
        return (self.last_layer_inputs(lifted) @ self.H.T.astype(float) >= 0).astype(float)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.bias + self.activations(self.lifting.apply(self.features(X))) @ self.w

    def _network_dict(self) -> dict[str, Any]:
        return {"neurons": self.m, "d": self.d, "hidden": self.hidden_kind,
                "hidden_bits": self.hidden_bits,
                "layers": [layer.astype(int).tolist() for layer in self.layers],
                "H": self.H.astype(int).tolist(),
                "w": [float(v) for v in self.w], "bias": self.bias}

    @classmethod
    def _from_network(cls, network: dict[str, Any], d: int, common: dict[str, Any]
                      ) -> ThresholdModel:
        layer_rows = network.get("layers", [])
        if not isinstance(layer_rows, list):
            raise QnnhwError("network.layers must be a list of ±1 matrices")
        layers = []
        for index, rows in enumerate(layer_rows):
            layers.append(_sign_matrix(rows, f"layers[{index}]", d))
            d = len(layers[-1]) + 1   # the next layer sees these neurons and the constant 1
        kind = network.get("hidden")
        if kind not in HIDDEN_KINDS:
            raise QnnhwError(f"network.hidden must be one of {', '.join(HIDDEN_KINDS)}, not "
                             f"{kind!r}")
        if kind == "binary":
            H, bits = _sign_matrix(network.get("H"), "H", d), 1
        else:
            bits = network.get("hidden_bits")
            if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
                raise QnnhwError(f"network.hidden_bits must be an integer from 2 to 16, not "
                                 f"{bits!r}")
            H = _integer_matrix(network.get("H"), "H", d, (1 << (bits - 1)) - 1)
        weights = network.get("w")
        if not isinstance(weights, list) or len(weights) != len(H):
            raise QnnhwError(f"network.w must list one output weight for each of the {len(H)} "
                             f"neurons")
        w = np.array([_finite(v, f"network.w[{k}]") for k, v in enumerate(weights)])
        if network.get("neurons") not in (None, len(H)):
            raise QnnhwError(f"network.neurons = {network.get('neurons')!r} but H has "
                             f"{len(H)} rows")
        return cls(H, w, _finite(network.get("bias"), "network.bias"), bits, **common,
                   layers=tuple(layers))


_FAMILY_CLASSES: dict[str, Any] = {"bilinear": BilinearModel, "threshold": ThresholdModel}


def _integer_matrix(rows: Any, name: str, d: int, bound: int) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise QnnhwError(f"network.{name} must be a non-empty list of rows of integers")
    for j, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != d:
            raise QnnhwError(f"network.{name}[{j}] must list {d} integer weights")
        for i, weight in enumerate(row):
            if isinstance(weight, bool) or not isinstance(weight, int) or abs(weight) > bound:
                raise QnnhwError(f"network.{name}[{j}][{i}] = {weight!r} is not an integer "
                                 f"in [−{bound}, {bound}]")
    return np.array(rows, dtype=np.int32)


def model_from_dict(data: Any) -> BilinearModel | ThresholdModel:
    """A model of whichever family the file's ``family`` field names."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QnnhwError(f"not a qnnhw model (the 'format' field is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise QnnhwError(f"model file version {data.get('version')!r} is not supported "
                         f"(this qnnhw reads version {VERSION}); retrain the model")
    family = data.get("family", "bilinear")
    if family not in _FAMILY_CLASSES:
        raise QnnhwError(f"unknown model family {family!r}; this qnnhw reads "
                         f"{', '.join(FAMILIES)}")
    try:
        encoder = InputEncoder.from_dict(data["inputs"])
        standardizer = Standardizer.from_dict(data["standardize"])
        lifting = Lifting(bool(data["lifting"]["bias"]), int(data["lifting"]["replicas"]))
        network = data["network"]
        task = data["task"]
        target = str(data["target"])
        labels = data["label_names"]
        training = dict(data.get("training") or {})
    except (KeyError, TypeError, ValueError) as error:
        raise QnnhwError(f"model file is missing or has a malformed field ({error!s}); "
                         f"retrain the model") from None
    if task not in ("classification", "regression"):
        raise QnnhwError(f"model task {task!r} is neither classification nor regression")
    if task == "classification" and (not isinstance(labels, list) or len(labels) != 2):
        raise QnnhwError("a classification model needs two label_names")
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
              "label_names": None if labels is None else (str(labels[0]), str(labels[1])),
              "training": training}
    d = lifting.lifted_dimension(len(standardizer.keep))
    return _FAMILY_CLASSES[family]._from_network(network, d, common)


def load_model(path: Path | str) -> BilinearModel | ThresholdModel:
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


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
