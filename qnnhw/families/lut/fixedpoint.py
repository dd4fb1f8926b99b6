"""The LUT datapath's numbers: its fixed-point spec (the rules are :mod:`qnnhw.fixedpoint`).

Inputs
    As every family (no bias feature): B-bit integers q with F fractional bits.

Thermometer bits (exact)
    ``b_{f,t} = 1[q_f ≥ Θ_{f,t}]`` with the integer thresholds Θ of
    :func:`~qnnhw.fixedpoint.integer_thresholds`: exactly the bits of q/2^F.

Neurons (exact)
    Neuron k is its truth table over its k bits: entry j (bit i of j is the neuron's i-th
    bit) is ``1[Σᵢ sₖᵢ·jᵢ ≥ θₖ]``.

Output weights and bias
    Rounded once, offline, at the scale s the training chose:
    ``Wₖ꜀ = clamp(round_half_even(wₖ꜀·s), ±(2^(b−1) − 1))``, and C꜀ likewise with
    :data:`BIAS_BITS` bits (a bias often exceeds every weight; it costs one constant). The
    outputs ``y꜀ = C꜀ + Σₖ aₖ·Wₖ꜀`` are exact, their width that of the widest range;
    ŷ ≈ y / s. The class is the first c of the largest y꜀.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.fixedpoint import (
    DEFAULT_INPUT_BITS,
    InputFormat,
    check_input_bits,
    choose_frac,
    integer_thresholds,
    quantize_scaled,
    signed_width,
)

from .model import LutModel

__all__ = ["BIAS_BITS", "LutSpec", "truth_table"]

#: Width of the rounded output biases C꜀.
BIAS_BITS = 24


def truth_table(weights: np.ndarray, theta: int) -> int:
    """The neuron 1[Σᵢ sᵢ·bᵢ ≥ θ] as an integer of 2^k bits: bit j is its output when its
    i-th input is bit i of j."""
    fan_in = len(weights)
    entries = np.arange(1 << fan_in)
    inputs = (entries[:, None] >> np.arange(fan_in)) & 1
    fires = inputs @ np.asarray(weights, dtype=np.int64) >= theta
    return int(sum(1 << int(j) for j in np.flatnonzero(fires)))


@dataclass(frozen=True)
class LutSpec(InputFormat):
    """Every number the LUT datapath needs, and the widths that follow from them.

    Parameters
    ----------
    features : int
        Features sent to the hardware per vector (standardised).
    bias : bool
        Always false: a LUT network has no constant feature.
    input_bits, input_frac : int
        B and F of the input format.
    output_frac : int
        Always 0: the outputs' scale is ``output_scale``, not a power of two.
    levels : int
        Thermometer thresholds T per feature.
    thresholds : tuple of int
        Θ of bit f·T + t, F·T of them.
    fan_in : int
        Bits k of each neuron.
    inputs : tuple of int
        The bits of neuron k at k·fan_in … k·fan_in + fan_in − 1.
    tables : tuple of int
        Each neuron's truth table (2^k bits).
    output_bits : int
        Width of the rounded output weights and biases.
    output_scale : float
        Scale s of the rounded weights.
    output_weights : tuple of int
        Wₖ꜀, neuron by neuron (at k·C + c).
    output_biases : tuple of int
        C꜀ of each output.
    outputs : int
        Outputs C (1, or the number of classes from three on).
    """

    FAMILY = "lut"
    TUPLE_FIELDS = ("thresholds", "inputs", "tables", "output_weights", "output_biases")

    features: int
    bias: bool
    input_bits: int
    input_frac: int
    output_frac: int
    levels: int
    thresholds: tuple[int, ...]
    fan_in: int
    inputs: tuple[int, ...]
    tables: tuple[int, ...]
    output_bits: int
    output_scale: float
    output_weights: tuple[int, ...]
    output_biases: tuple[int, ...]
    outputs: int = 1

    def __post_init__(self) -> None:
        neurons = len(self.tables)
        if (self.bias or self.output_frac != 0 or self.output_scale <= 0
                or len(self.thresholds) != self.features * self.levels
                or len(self.inputs) != neurons * self.fan_in
                or len(self.output_weights) != neurons * self.outputs
                or len(self.output_biases) != self.outputs
                or any(not 0 <= bit < len(self.thresholds) for bit in self.inputs)):
            raise QnnhwError("malformed fixed-point spec: its thresholds, neurons, weights "
                             "and outputs do not agree; rebuild")

    @classmethod
    def for_model(cls, model: LutModel, input_bits: int = DEFAULT_INPUT_BITS,
                  input_frac: int | None = None) -> LutSpec:
        check_input_bits(input_bits)
        if input_frac is None:
            input_frac = choose_frac(input_bits,
                                     float(model.training.get("feature_max_abs", 4.0)))
        weights = np.asarray(model.w, dtype=float).ravel()
        biases = np.atleast_1d(np.asarray(model.bias, dtype=float))
        rounded = np.append(quantize_scaled(weights, model.output_bits, model.output_scale),
                            quantize_scaled(biases, BIAS_BITS, model.output_scale))
        return cls(features=len(model.feature_names), bias=False, input_bits=input_bits,
                   input_frac=input_frac, output_frac=0, levels=model.levels,
                   thresholds=tuple(int(v) for v in integer_thresholds(
                       model.thresholds, input_bits, input_frac).ravel()),
                   fan_in=model.fan_in,
                   inputs=tuple(int(v) for v in model.inputs.ravel()),
                   tables=tuple(truth_table(row, int(theta))
                                for row, theta in zip(model.weights, model.theta)),
                   output_bits=model.output_bits, output_scale=float(model.output_scale),
                   output_weights=tuple(int(v) for v in rounded[:len(weights)]),
                   output_biases=tuple(int(v) for v in rounded[len(weights):]),
                   outputs=len(biases))

    @property
    def m(self) -> int:
        """Neurons K."""
        return len(self.tables)

    @property
    def d(self) -> int:
        """Bits of each neuron."""
        return self.fan_in

    @property
    def neuron_inputs(self) -> np.ndarray:
        """The bits of each neuron, K × k."""
        return np.array(self.inputs, dtype=np.int64).reshape(self.m, self.fan_in)

    @property
    def threshold_matrix(self) -> np.ndarray:
        """Θ of each feature's bits, F × T."""
        return np.array(self.thresholds, dtype=np.int64).reshape(self.features, self.levels)

    @property
    def weight_matrix(self) -> np.ndarray:
        """Wₖ꜀ as a K × C matrix of int64."""
        return np.array(self.output_weights, dtype=np.int64).reshape(self.m, self.outputs)

    @property
    def output_low(self) -> int:
        """The smallest y꜀ of any output."""
        low = np.minimum(self.weight_matrix, 0).sum(axis=0) + np.array(self.output_biases)
        return int(low.min())

    @property
    def output_high(self) -> int:
        """The largest y꜀ of any output."""
        high = np.maximum(self.weight_matrix, 0).sum(axis=0) + np.array(self.output_biases)
        return int(high.max())

    @property
    def weight_bits(self) -> int:
        """Width of the signed output weights (the folded datapath's ROM)."""
        return self.output_bits

    @property
    def sum_width(self) -> int:
        """Width of every partial sum of Σₖ aₖ·Wₖ꜀ (the folded datapath's accumulators; the
        bias comes last)."""
        weights = self.weight_matrix
        return signed_width(int(np.minimum(weights, 0).sum(axis=0).min()),
                            int(np.maximum(weights, 0).sum(axis=0).max()))

    @property
    def output_width(self) -> int:
        """Width of each output y꜀."""
        return signed_width(min(self.output_low, 0), max(self.output_high, 0))

    def output_to_real(self, y: np.ndarray) -> np.ndarray:
        """Hardware output → the real value it stands for: y / s."""
        return np.asarray(y, dtype=float) / self.output_scale

    def derived(self) -> dict[str, Any]:
        return {**super().derived(), "neurons": self.m, "output_width": self.output_width}
