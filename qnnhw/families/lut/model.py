"""The LUT network and its part of the model file.

f(x) = c + Σₖ wₖ·1[Σᵢ sₖᵢ·b_{jₖᵢ}(x) ≥ θₖ]: thermometer bits b of the standardised inputs
(:mod:`.dictionary`), K neurons of k bits each with ±1 weights s, and output weights w (a row
of C per neuron for C outputs). The file's ``network`` object holds ``thresholds`` (T per
feature), ``fan_in``, the neurons' ``inputs``, ``weights`` and ``theta``, the output weights
``w`` and ``bias``, and the integer output format: ``output_bits`` and ``output_scale``
(the hardware's weights are round(w·scale), :mod:`qnnhw.fixedpoint`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.model import Network, finite_number

from .dictionary import activations, thermometer_bits

__all__ = ["MAX_FAN_IN", "LutModel"]

#: The widest neuron: a truth table of 2^6 entries (one LUT6, or four LUT4s and muxes).
MAX_FAN_IN = 6


@dataclass(kw_only=True)
class LutModel(Network):
    """A trained LUT network (module docstring).

    Parameters
    ----------
    thresholds : ndarray, shape (F, T)
        Thermometer thresholds of each standardised feature, non-decreasing along T.
    inputs : ndarray of int, shape (K, k)
        The thermometer bits (f·T + t) each neuron reads.
    weights : ndarray of int8, shape (K, k)
        ±1 weight of each of a neuron's bits.
    theta : ndarray of int, shape (K,)
        Each neuron fires when its weighted sum of bits is ≥ θₖ.
    w : ndarray, shape (K,) or (K, C)
        Output weights (the Lasso's); the hardware rounds them to ``output_bits``-bit
        integers at ``output_scale``.
    bias : float or ndarray of shape (C,)
    output_bits : int
        Width of the integer output weights.
    output_scale : float
        Scale s of the integer output weights round(w·s) and bias round(c·s).
    encoder, standardizer, lifting, task, target, label_names, training
        As in :class:`~qnnhw.model.Network` (no bias feature, no replication).
    """

    FAMILY = "lut"

    thresholds: np.ndarray
    inputs: np.ndarray
    weights: np.ndarray
    theta: np.ndarray
    w: np.ndarray
    bias: float | np.ndarray
    output_bits: int
    output_scale: float

    @property
    def m(self) -> int:
        """Neurons K."""
        return int(len(self.inputs))

    @property
    def d(self) -> int:
        """Inputs of each neuron: the fan-in k."""
        return int(self.inputs.shape[1])

    @property
    def fan_in(self) -> int:
        return self.d

    @property
    def levels(self) -> int:
        """Thresholds T per feature."""
        return int(self.thresholds.shape[1])

    def activations(self, features: np.ndarray) -> np.ndarray:
        """The neurons' 0/1 outputs for standardised features, shape (n, K)."""
        return activations(thermometer_bits(features, self.thresholds), self.inputs,
                           self.weights, self.theta)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.bias + self.activations(self.features(X)).astype(float) @ self.w

    def network_dict(self) -> dict[str, Any]:
        return {"neurons": self.m, "fan_in": self.fan_in,
                "thresholds": self.thresholds.tolist(),
                "inputs": self.inputs.astype(int).tolist(),
                "weights": self.weights.astype(int).tolist(),
                "theta": self.theta.astype(int).tolist(),
                "w": np.asarray(self.w, dtype=float).tolist(),
                "bias": np.asarray(self.bias, dtype=float).tolist(),
                "output_bits": self.output_bits, "output_scale": self.output_scale}

    @classmethod
    def from_network(cls, network: dict[str, Any], d: int, common: dict[str, Any]
                     ) -> LutModel:
        if common["lifting"].bias or common["lifting"].replicas != 1:
            raise QnnhwError("a lut model takes no bias feature and no replication "
                             "(lifting must be {\"bias\": false, \"replicas\": 1})")
        rows = _list(network.get("thresholds"), "thresholds")
        levels = len(rows[0]) if isinstance(rows[0], list) and rows[0] else 0
        if len(rows) != d or not levels:
            raise QnnhwError(f"network.thresholds must list T ≥ 1 thresholds for each of the "
                             f"{d} features")
        thresholds = _real_rows(rows, "thresholds", levels)
        if np.any(np.diff(thresholds, axis=1) < 0):
            raise QnnhwError("network.thresholds must not decrease along each feature's row")
        fan_in = network.get("fan_in")
        if isinstance(fan_in, bool) or not isinstance(fan_in, int) or \
                not 1 <= fan_in <= MAX_FAN_IN:
            raise QnnhwError(f"network.fan_in must be an integer from 1 to {MAX_FAN_IN}, not "
                             f"{fan_in!r}")
        bits = thresholds.size
        inputs = _integer_rows(network.get("inputs"), "inputs", fan_in, 0, bits - 1)
        weights = _integer_rows(network.get("weights"), "weights", fan_in, -1, 1)
        if len(weights) != len(inputs) or np.any(weights == 0):
            raise QnnhwError(f"network.weights must list {fan_in} weights of ±1 for each of "
                             f"the {len(inputs)} neurons")
        theta = network.get("theta")
        if not isinstance(theta, list) or len(theta) != len(inputs) or any(
                isinstance(v, bool) or not isinstance(v, int) or abs(v) > fan_in
                for v in theta):
            raise QnnhwError(f"network.theta must list an integer in [−{fan_in}, {fan_in}] "
                             f"for each of the {len(inputs)} neurons")
        if network.get("neurons") not in (None, len(inputs)):
            raise QnnhwError(f"network.neurons = {network.get('neurons')!r} but inputs has "
                             f"{len(inputs)} rows")
        labels = common["label_names"]
        outputs = len(labels) if labels is not None and len(labels) > 2 else 1
        w = np.array(_real_rows(network.get("w"), "w", outputs) if outputs > 1 else
                     [finite_number(v, f"network.w[{k}]")
                      for k, v in enumerate(_list(network.get("w"), "w"))])
        if len(w) != len(inputs):
            raise QnnhwError(f"network.w must list the output weights of each of the "
                             f"{len(inputs)} neurons")
        bias: float | np.ndarray
        if outputs == 1:
            bias = finite_number(network.get("bias"), "network.bias")
        else:
            bias = _real_rows([network.get("bias")], "bias", outputs)[0]
        output_bits = network.get("output_bits")
        if isinstance(output_bits, bool) or not isinstance(output_bits, int) or \
                not 2 <= output_bits <= 16:
            raise QnnhwError(f"network.output_bits must be an integer from 2 to 16, not "
                             f"{output_bits!r}")
        scale = finite_number(network.get("output_scale"), "network.output_scale")
        if scale <= 0:
            raise QnnhwError(f"network.output_scale must be positive, not {scale!r}")
        return cls(thresholds=thresholds, inputs=inputs.astype(np.int64),
                   weights=weights.astype(np.int8), theta=np.array(theta, dtype=np.int64),
                   w=w, bias=bias, output_bits=output_bits, output_scale=scale, **common)


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise QnnhwError(f"network.{name} must be a non-empty list")
    return value


def _real_rows(rows: Any, name: str, width: int) -> np.ndarray:
    """A list of rows of ``width`` finite numbers."""
    for j, row in enumerate(_list(rows, name)):
        if not isinstance(row, list) or len(row) != width:
            raise QnnhwError(f"network.{name}[{j}] must list {width} numbers")
        for i, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value):
                raise QnnhwError(f"network.{name}[{j}][{i}] must be a finite number, not "
                                 f"{value!r}")
    return np.array(rows, dtype=float).reshape(len(rows), width)


def _integer_rows(rows: Any, name: str, width: int, low: int, high: int) -> np.ndarray:
    """A list of rows of ``width`` integers in [low, high]."""
    for j, row in enumerate(_list(rows, name)):
        if not isinstance(row, list) or len(row) != width:
            raise QnnhwError(f"network.{name}[{j}] must list {width} integers")
        for i, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not low <= value <= high:
                raise QnnhwError(f"network.{name}[{j}][{i}] = {value!r} is not an integer in "
                                 f"[{low}, {high}]")
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)
