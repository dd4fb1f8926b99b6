"""The threshold datapath's numbers: its fixed-point spec (the rules are :mod:`qnnhw.fixedpoint`).

Inputs
    As every family.

Hidden layer (exact)
    ``zₖ = hₖ·x̃`` in integers (hₖ ±1 or small signed integers) and the neuron is active
    exactly when ``zₖ ≥ 0`` — the sign bit of zₖ. A deep network's earlier layers work the
    same way with ±1 weights; each passes on its 0/1 activations and the constant 1, which
    is the next layer's ã.

Output weights and bias
    Rounded once, offline (:func:`~qnnhw.fixedpoint.quantize_weights`):
    ``Wₖ = clamp(round_half_even(wₖ·2^F_out), ±(2^(weight_bits−1) − 1))``, likewise C for the
    bias c, with F_out chosen so that max(|w|, |c|) fits. The output
    ``y = C + Σₖ 1[zₖ ≥ 0]·Wₖ`` is exact, no rounding and no saturation: its width is that of
    [C + Σ min(Wₖ, 0), C + Σ max(Wₖ, 0)]. ŷ ≈ y / 2^F_out.

Several outputs
    With C outputs (one per class) each neuron has C weights Wₖ꜀ and each output its bias
    C꜀, all rounded alike with one F_out: y꜀ = C꜀ + Σₖ 1[zₖ ≥ 0]·Wₖ꜀, exact. Every score
    has the width of the widest; the class is the first c of the largest y꜀.
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
    quantize_weights,
    signed_width,
)

from .model import ThresholdModel

__all__ = ["DEFAULT_WEIGHT_BITS", "ThresholdSpec"]

#: Width of a threshold network's rounded output weights Wₖ and bias C.
DEFAULT_WEIGHT_BITS = 12


@dataclass(frozen=True)
class ThresholdSpec(InputFormat):
    """Every number the threshold datapath needs, and the widths that follow from them.

    Parameters
    ----------
    features : int
        Features sent to the hardware per vector (standardised, before lifting).
    bias : bool
        Whether the constant feature 2^F is appended.
    neurons : int
        Number of neurons K.
    hidden_bits : int
        1 for ±1 hidden weights, else the width of the signed integer hidden weights.
    input_bits, input_frac : int
        B and F of the input format.
    weight_bits : int
        Width of the rounded output weights Wₖ and bias C.
    output_frac : int
        F_out: fractional bits of Wₖ, C and y.
    output_weights : tuple of int
        W₀ … W_{K−1}; for C outputs, K·C weights, neuron by neuron (Wₖ꜀ at k·C + c).
    output_biases : tuple of int
        C of each output.
    outputs : int
        Outputs C (1, or the number of classes from three on).
    layer_widths : tuple of int
        Widths of the earlier threshold layers of a deep network (their ±1 weights are the
        model's); each layer's output is 0/1 per neuron plus the constant 1.
    """

    FAMILY = "threshold"
    TUPLE_FIELDS = ("output_weights", "output_biases", "layer_widths")

    features: int
    bias: bool
    neurons: int
    hidden_bits: int
    input_bits: int
    input_frac: int
    weight_bits: int
    output_frac: int
    output_weights: tuple[int, ...]
    output_biases: tuple[int, ...]
    outputs: int = 1
    layer_widths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if (len(self.output_weights) != self.neurons * self.outputs
                or len(self.output_biases) != self.outputs):
            raise QnnhwError(f"malformed fixed-point spec: {self.neurons} neurons and "
                             f"{self.outputs} outputs need {self.neurons * self.outputs} "
                             f"output weights and {self.outputs} biases; rebuild")

    @classmethod
    def for_model(cls, model: ThresholdModel, input_bits: int = DEFAULT_INPUT_BITS,
                  weight_bits: int = DEFAULT_WEIGHT_BITS, input_frac: int | None = None
                  ) -> ThresholdSpec:
        check_input_bits(input_bits)
        if model.lifting.replicas != 1:
            raise QnnhwError("threshold networks take no feature replication")
        if input_frac is None:
            input_frac = choose_frac(input_bits,
                                     float(model.training.get("feature_max_abs", 4.0)))
        weights = np.asarray(model.w, dtype=float).ravel()
        biases = np.atleast_1d(np.asarray(model.bias, dtype=float))
        largest = max(float(np.abs(weights).max()), float(np.abs(biases).max()))
        output_frac = choose_frac(weight_bits, largest)
        rounded = quantize_weights(np.append(weights, biases), weight_bits, output_frac)
        return cls(features=len(model.feature_names), bias=model.lifting.bias,
                   neurons=model.m, hidden_bits=model.hidden_bits, input_bits=input_bits,
                   input_frac=input_frac, weight_bits=weight_bits, output_frac=output_frac,
                   output_weights=tuple(int(v) for v in rounded[:len(weights)]),
                   output_biases=tuple(int(v) for v in rounded[len(weights):]),
                   outputs=len(biases),
                   layer_widths=tuple(len(layer) for layer in model.layers))

    @property
    def m(self) -> int:
        return self.neurons

    @property
    def d(self) -> int:
        """Inputs of the last hidden layer (the one folded onto P units)."""
        if self.layer_widths:
            return self.layer_widths[-1] + 1
        return self.features + int(self.bias)

    def layer_z_width(self, index: int) -> int:
        """Width of z = l·ã in earlier layer ``index`` (±1 weights)."""
        bound = self.lifted_sum_bound if index == 0 else self.layer_widths[index - 1] + 1
        return signed_width(-bound, bound)

    @property
    def hidden_max(self) -> int:
        """Largest |hₖᵢ|."""
        return 1 if self.hidden_bits == 1 else (1 << (self.hidden_bits - 1)) - 1

    @property
    def hidden_width(self) -> int:
        """Width of zₖ = hₖ·ã (ã = x̃, or 0/1 activations and a 1)."""
        inputs = self.d if self.layer_widths else self.lifted_sum_bound
        bound = self.hidden_max * inputs
        return signed_width(-bound, bound)

    @property
    def output_bias(self) -> int:
        """C of a network with one output."""
        if self.outputs != 1:
            raise ValueError(f"A network with {self.outputs} outputs has one bias per output")
        return self.output_biases[0]

    @property
    def weight_matrix(self) -> np.ndarray:
        """Wₖ꜀ as a K × C matrix of int64."""
        return np.array(self.output_weights, dtype=np.int64).reshape(self.neurons, self.outputs)

    def _class_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per output, the smallest and the largest Σₖ 1[zₖ ≥ 0]·Wₖ꜀ (bias not included)."""
        weights = self.weight_matrix
        return np.minimum(weights, 0).sum(axis=0), np.maximum(weights, 0).sum(axis=0)

    @property
    def output_low(self) -> int:
        """The smallest y꜀ of any output."""
        low, _ = self._class_bounds()
        return int((low + np.array(self.output_biases)).min())

    @property
    def output_high(self) -> int:
        """The largest y꜀ of any output."""
        _, high = self._class_bounds()
        return int((high + np.array(self.output_biases)).max())

    @property
    def sum_width(self) -> int:
        """Width of every partial sum of Σₖ 1[zₖ ≥ 0]·Wₖ꜀ (the bias comes last)."""
        low, high = self._class_bounds()
        return signed_width(int(low.min()), int(high.max()))

    @property
    def output_width(self) -> int:
        """Width of each output y꜀."""
        return signed_width(min(self.output_low, 0), max(self.output_high, 0))

    def derived(self) -> dict[str, Any]:
        return {**super().derived(), "d": self.d, "hidden_width": self.hidden_width,
                "sum_width": self.sum_width, "output_width": self.output_width}
