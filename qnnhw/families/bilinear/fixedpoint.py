"""The bilinear datapath's numbers: its fixed-point spec (the rules are :mod:`qnnhw.fixedpoint`).

Inputs
    As every family: B-bit integers with F fractional bits, the bias feature 2^F.

Hidden layer (exact, no rounding anywhere)
    ``aⱼ = uⱼ·x̃``, ``bⱼ = vⱼ·x̃``, ``s = Σⱼ aⱼbⱼ`` in integers; its real value is s / 2^(2F).

Output scaler
    α · 2^(F_out − 2F) is represented as ``A · 2^(−k)`` with A a signed ``alpha_bits``-bit
    integer whose top magnitude bit is set (so α keeps alpha_bits − 1 significant bits). The
    output is ``y = round_half_up(s · A / 2^k)`` (:func:`~qnnhw.fixedpoint.round_shift`).
    y has F_out fractional bits: ŷ ≈ y / 2^F_out. No saturation: the output width is the
    worst case of this formula over every input.

Several outputs
    With C outputs each neuron serves one (``class_neurons``: m₀ … m_{C−1} consecutive
    neurons): s꜀ sums output c's neurons and y꜀ = round_half_up(s꜀ · A / 2^k), the same
    scaler for every output. The class is the first c of the largest y꜀.

Widths come from worst-case bounds: with Amax = M·(features·2^(B−1) + bias·2^F) (M the
replication), |aⱼ|, |bⱼ| ≤ Amax, |aⱼbⱼ| ≤ Amax², |s| ≤ m·Amax² (m꜀·Amax² for output c), and
every partial sum of the accumulator is bounded by the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qnnhw.errors import QnnhwError
from qnnhw.fixedpoint import (
    DEFAULT_INPUT_BITS,
    InputFormat,
    check_input_bits,
    choose_frac,
    round_shift,
    signed_width,
)

from .model import BilinearModel

__all__ = ["DEFAULT_ALPHA_BITS", "DEFAULT_OUTPUT_FRAC", "BilinearSpec"]

DEFAULT_ALPHA_BITS = 18
DEFAULT_OUTPUT_FRAC = 16


@dataclass(frozen=True)
class BilinearSpec(InputFormat):
    """Every number the bilinear datapath needs, and the widths that follow from them.

    Parameters
    ----------
    features : int
        Features sent to the hardware per vector (standardised, before lifting).
    bias : bool
        Whether the constant feature 2^F is appended.
    replicas : int
        Feature replication M (weight levels M + 1).
    m : int
        Number of neurons.
    input_bits, input_frac : int
        B and F of the input format.
    alpha_mantissa, alpha_shift : int
        A and k of the output scaler y = round(s·A / 2^k).
    alpha_bits : int
        Width of A.
    output_frac : int
        Fractional bits of y.
    class_neurons : tuple of int
        For C outputs, the neurons of each (consecutive); empty for one output.
    """

    FAMILY = "bilinear"
    TUPLE_FIELDS = ("class_neurons",)

    features: int
    bias: bool
    replicas: int
    m: int
    input_bits: int
    input_frac: int
    alpha_mantissa: int
    alpha_shift: int
    alpha_bits: int
    output_frac: int
    class_neurons: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.class_neurons and (sum(self.class_neurons) != self.m
                                   or min(self.class_neurons) < 1):
            raise QnnhwError(f"malformed fixed-point spec: class_neurons {self.class_neurons} "
                             f"must be positive and add up to m={self.m}; rebuild")

    @classmethod
    def for_model(cls, model: BilinearModel, input_bits: int = DEFAULT_INPUT_BITS,
                  alpha_bits: int = DEFAULT_ALPHA_BITS, output_frac: int = DEFAULT_OUTPUT_FRAC,
                  input_frac: int | None = None) -> BilinearSpec:
        check_input_bits(input_bits)
        if input_frac is None:
            max_abs = float(model.training.get("feature_max_abs", 4.0))
            input_frac = choose_frac(input_bits, max_abs)
        scale = model.alpha * 2.0 ** (output_frac - 2 * input_frac)
        if scale == 0.0:
            mantissa, shift = 0, 0
        else:
            # 2^(alpha_bits−2) ≤ |A| < 2^(alpha_bits−1): α keeps alpha_bits − 1 significant bits.
            shift = alpha_bits - 2 - math.floor(math.log2(abs(scale)))
            mantissa = int(round(scale * 2.0 ** shift))
            if abs(mantissa) >= 1 << (alpha_bits - 1):  # rounding carried into a new bit
                shift -= 1
                mantissa = int(round(scale * 2.0 ** shift))
        return cls(features=len(model.feature_names), bias=model.lifting.bias,
                   replicas=model.lifting.replicas, m=model.m, input_bits=input_bits,
                   input_frac=input_frac, alpha_mantissa=mantissa, alpha_shift=shift,
                   alpha_bits=alpha_bits, output_frac=output_frac,
                   class_neurons=model.class_neurons)

    # -- derived quantities: the single source of every width -------------------------------

    @property
    def d(self) -> int:
        """Lifted dimension seen by the hidden layer."""
        return (self.features + int(self.bias)) * self.replicas

    @property
    def neuron_bound(self) -> int:
        """Amax: the largest |uⱼ·x̃| any input can produce."""
        return self.replicas * self.lifted_sum_bound

    @property
    def neuron_width(self) -> int:
        return signed_width(-self.neuron_bound, self.neuron_bound)

    @property
    def product_width(self) -> int:
        return signed_width(-self.neuron_bound ** 2, self.neuron_bound ** 2)

    @property
    def outputs(self) -> int:
        return len(self.class_neurons) or 1

    @property
    def sum_bound(self) -> int:
        """The largest |s꜀| (and partial sum of it) of any output."""
        return max(self.class_neurons or (self.m,)) * self.neuron_bound ** 2

    @property
    def sum_width(self) -> int:
        return signed_width(-self.sum_bound, self.sum_bound)

    # -- the quadratic architecture: s꜀ = x̂ᵀW꜀x̂ over the unreplicated lifted vector x̂ ------

    @property
    def base_d(self) -> int:
        """Length of x̂: the features and the constant, without replication."""
        return self.features + int(self.bias)

    @property
    def lifted_width(self) -> int:
        """Bits of one element of x̂ (a feature, or the constant 2^F)."""
        return signed_width(self.input_min, max(self.input_max, int(self.bias) * self.bias_value))

    @property
    def coefficient_bound(self) -> int:
        """The largest |W꜀[a, b]|: each neuron adds uᵃvᵇ summed over R² replica pairs."""
        return max(self.class_neurons or (self.m,)) * self.replicas ** 2

    @property
    def coefficient_width(self) -> int:
        return signed_width(-self.coefficient_bound, self.coefficient_bound)

    @property
    def row_bound(self) -> int:
        """The largest |zₐ| = |Σ_b W꜀[a, b]·x̂_b| (and partial sum of it)."""
        return self.coefficient_bound * self.lifted_sum_bound

    @property
    def row_width(self) -> int:
        return signed_width(-self.row_bound, self.row_bound)

    @property
    def term_width(self) -> int:
        """Bits of x̂ₐ·zₐ and of its shift-and-add (zₐ shifted by up to B − 1 bits, B the
        :attr:`lifted_width`). Partial sums of s over rows stay within :attr:`sum_bound`,
        since Σₐ|x̂ₐ||zₐ| ≤ coefficient_bound · lifted_sum_bound² = sum_bound."""
        return self.row_width + self.lifted_width

    @property
    def output_low(self) -> int:
        return min(round_shift(self.sum_bound * self.alpha_mantissa, self.alpha_shift),
                   round_shift(-self.sum_bound * self.alpha_mantissa, self.alpha_shift))

    @property
    def output_high(self) -> int:
        return max(round_shift(self.sum_bound * self.alpha_mantissa, self.alpha_shift),
                   round_shift(-self.sum_bound * self.alpha_mantissa, self.alpha_shift))

    @property
    def output_width(self) -> int:
        return signed_width(min(self.output_low, 0), max(self.output_high, 0))

    @property
    def alpha_value(self) -> float:
        """The α the hardware realises (after quantising it to A · 2^(−k))."""
        return self.alpha_mantissa * 2.0 ** (-self.alpha_shift - self.output_frac
                                             + 2 * self.input_frac)

    def derived(self) -> dict[str, Any]:
        return {**super().derived(), "d": self.d, "neuron_width": self.neuron_width,
                "product_width": self.product_width, "sum_width": self.sum_width,
                "output_width": self.output_width, "alpha_value": self.alpha_value}
