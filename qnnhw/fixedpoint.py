"""Fixed-point arithmetic of the datapath: the one place where widths and rounding are defined.

Every rule below is used by the NumPy reference (:mod:`qnnhw.reference`), the gateware
(:mod:`qnnhw.hdl`) and the host client alike; ``docs/hardware.md`` says the same in prose.

Inputs
    A standardised feature x becomes the B-bit two's complement integer
    ``q = clamp(round_half_even(x · 2^F), −2^(B−1), 2^(B−1) − 1)`` — rounding to nearest,
    ties to even, then saturation. F is chosen so that the largest |x| on the training split
    fits: ``F = max(0, B − 1 − ceil(log2(max |x|)))``. The bias feature is the constant 2^F (it is
    wired in, not sent), and feature replication (Theorem 1) repeats wires.

Hidden layer (exact, no rounding anywhere)
    ``aⱼ = uⱼ·x̃``, ``bⱼ = vⱼ·x̃``, ``s = Σⱼ aⱼbⱼ`` in integers; its real value is s / 2^(2F).

Output scaler
    α · 2^(F_out − 2F) is represented as ``A · 2^(−k)`` with A a signed ``alpha_bits``-bit
    integer whose top magnitude bit is set (so α keeps alpha_bits − 1 significant bits). The
    output is ``y = round_half_up(s · A / 2^k) = (s · A + 2^(k−1)) >> k`` (arithmetic shift;
    for k ≤ 0 it is ``s · A · 2^(−k)``, exact). y has F_out fractional bits: ŷ ≈ y / 2^F_out.
    No saturation: the output width is the worst case of this formula over every input.

Classification reads the sign: label +1 exactly when y > 0.

Widths come from worst-case bounds: with Xmax = max |x̃ᵢ| summed over the lifted inputs
(``Amax = Σᵢ max|x̃ᵢ|``), |aⱼ|, |bⱼ| ≤ Amax, |aⱼbⱼ| ≤ Amax², |s| ≤ m·Amax², and every partial
sum of the accumulator is bounded by the same m·Amax².

Threshold networks (:class:`ThresholdSpec`)
    Inputs as above. Hidden layer exact: ``zₖ = hₖ·x̃`` in integers (hₖ ±1 or small signed
    integers) and the neuron is active exactly when ``zₖ ≥ 0`` — the sign bit of zₖ. A deep
    network's earlier layers work the same way with ±1 weights; each passes on its 0/1
    activations and the constant 1, which is the next layer's ã.
    Output weights and bias are rounded once, offline, like inputs:
    ``Wₖ = clamp(round_half_even(wₖ·2^F_out), ±(2^(weight_bits−1) − 1))``, likewise C for the
    bias c, with ``F_out = max(0, weight_bits − 1 − ceil(log2 max(|w|, |c|)))``. The output
    ``y = C + Σₖ 1[zₖ ≥ 0]·Wₖ`` is exact, no rounding and no saturation: its width is that of
    [C + Σ min(Wₖ, 0), C + Σ max(Wₖ, 0)]. ŷ ≈ y / 2^F_out.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .errors import QnnhwError
from .model import BilinearModel, ThresholdModel

__all__ = ["FixedPointSpec", "ThresholdSpec", "quantize_inputs", "round_shift", "signed_width",
           "spec_for_model"]

DEFAULT_INPUT_BITS = 8
DEFAULT_ALPHA_BITS = 18
DEFAULT_OUTPUT_FRAC = 16
#: Width of a threshold network's rounded output weights Wₖ and bias C.
DEFAULT_WEIGHT_BITS = 12


def signed_width(low: int, high: int) -> int:
    """Bits of the smallest two's complement type that holds every integer in [low, high]."""
    width = 1
    while not (-(1 << (width - 1)) <= low and high <= (1 << (width - 1)) - 1):
        width += 1
    return width


def round_shift(value: Any, k: int) -> Any:
    """``round_half_up(value / 2^k)`` for integers (Python ints or int64/object arrays)."""
    if k <= 0:
        return value * (1 << -k)
    return (value + (1 << (k - 1))) >> k


def quantize_inputs(features: np.ndarray, bits: int, frac: int) -> np.ndarray:
    """Standardised features → B-bit integers: round half to even, then saturate."""
    scaled = np.rint(np.asarray(features, dtype=float) * 2.0 ** frac)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(scaled, low, high).astype(np.int64)


def _check_input_bits(input_bits: int) -> None:
    if isinstance(input_bits, bool) or not (isinstance(input_bits, int)
                                            and 2 <= input_bits <= 24):
        raise QnnhwError(f"--input-bits must be an integer from 2 to 24, not {input_bits}")


def choose_input_frac(bits: int, max_abs: float) -> int:
    """Fractional bits so that ``max_abs`` fits in a signed ``bits``-bit integer."""
    integer_bits = max(0, math.ceil(math.log2(max_abs))) if max_abs > 0 else 0
    if 2.0 ** integer_bits <= max_abs:  # an exact power of two needs one more bit
        integer_bits += 1
    return max(0, bits - 1 - integer_bits)


class _InputFormat:
    """The input and output rules both families share (fields ``features``, ``bias``,
    ``input_bits``, ``input_frac``, ``output_frac``)."""

    features: int
    bias: bool
    input_bits: int
    input_frac: int
    output_frac: int

    @property
    def input_min(self) -> int:
        return -(1 << (self.input_bits - 1))

    @property
    def input_max(self) -> int:
        return (1 << (self.input_bits - 1)) - 1

    @property
    def bias_value(self) -> int:
        """The integer of the constant feature 1.0: 2^F."""
        return 1 << self.input_frac

    def quantize(self, features: np.ndarray) -> np.ndarray:
        return quantize_inputs(features, self.input_bits, self.input_frac)

    def output_to_real(self, y: np.ndarray) -> np.ndarray:
        """Hardware output → the real value it stands for (F_out fractional bits)."""
        return np.asarray(y, dtype=float) / 2.0 ** self.output_frac


@dataclass(frozen=True)
class FixedPointSpec(_InputFormat):
    """Every number the datapath needs, and the widths that follow from them.

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
    """

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

    @classmethod
    def for_model(cls, model: BilinearModel, input_bits: int = DEFAULT_INPUT_BITS,
                  alpha_bits: int = DEFAULT_ALPHA_BITS, output_frac: int = DEFAULT_OUTPUT_FRAC,
                  input_frac: int | None = None) -> FixedPointSpec:
        _check_input_bits(input_bits)
        if input_frac is None:
            max_abs = float(model.training.get("feature_max_abs", 4.0))
            input_frac = choose_input_frac(input_bits, max_abs)
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
                   alpha_bits=alpha_bits, output_frac=output_frac)

    # -- derived quantities: the single source of every width -------------------------------

    @property
    def d(self) -> int:
        """Lifted dimension seen by the hidden layer."""
        return (self.features + int(self.bias)) * self.replicas

    @property
    def neuron_bound(self) -> int:
        """Amax: the largest |uⱼ·x̃| any input can produce."""
        return self.replicas * (self.features * (1 << (self.input_bits - 1))
                                + int(self.bias) * self.bias_value)

    @property
    def neuron_width(self) -> int:
        return signed_width(-self.neuron_bound, self.neuron_bound)

    @property
    def product_width(self) -> int:
        return signed_width(-self.neuron_bound ** 2, self.neuron_bound ** 2)

    @property
    def sum_bound(self) -> int:
        return self.m * self.neuron_bound ** 2

    @property
    def sum_width(self) -> int:
        return signed_width(-self.sum_bound, self.sum_bound)

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

    # -- the float ↔ integer boundary --------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(d=self.d, bias_value=self.bias_value, neuron_width=self.neuron_width,
                    product_width=self.product_width, sum_width=self.sum_width,
                    output_width=self.output_width, alpha_value=self.alpha_value)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixedPointSpec | ThresholdSpec:
        """Rebuild a spec from :meth:`to_dict` output; the derived fields must agree."""
        return spec_from_dict(data)


@dataclass(frozen=True)
class ThresholdSpec(_InputFormat):
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
        W₀ … W_{K−1}.
    output_bias : int
        C.
    layer_widths : tuple of int
        Widths of the earlier threshold layers of a deep network (their ±1 weights are the
        model's); each layer's output is 0/1 per neuron plus the constant 1.
    """

    features: int
    bias: bool
    neurons: int
    hidden_bits: int
    input_bits: int
    input_frac: int
    weight_bits: int
    output_frac: int
    output_weights: tuple[int, ...]
    output_bias: int
    layer_widths: tuple[int, ...] = ()

    @classmethod
    def for_model(cls, model: ThresholdModel, input_bits: int = DEFAULT_INPUT_BITS,
                  weight_bits: int = DEFAULT_WEIGHT_BITS, input_frac: int | None = None
                  ) -> ThresholdSpec:
        _check_input_bits(input_bits)
        if model.lifting.replicas != 1:
            raise QnnhwError("threshold networks take no feature replication")
        if input_frac is None:
            input_frac = choose_input_frac(input_bits,
                                           float(model.training.get("feature_max_abs", 4.0)))
        largest = max(float(np.abs(model.w).max()), abs(model.bias))
        output_frac = choose_input_frac(weight_bits, largest)
        top = (1 << (weight_bits - 1)) - 1
        rounded = np.clip(np.rint(np.append(model.w, model.bias) * 2.0 ** output_frac),
                          -top, top).astype(np.int64)
        return cls(features=len(model.feature_names), bias=model.lifting.bias,
                   neurons=model.m, hidden_bits=model.hidden_bits, input_bits=input_bits,
                   input_frac=input_frac, weight_bits=weight_bits, output_frac=output_frac,
                   output_weights=tuple(int(v) for v in rounded[:-1]),
                   output_bias=int(rounded[-1]),
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
    def lifted_sum_bound(self) -> int:
        """Largest |Σᵢ x̃ᵢ| over any subset of the lifted inputs x̃."""
        return self.features * (1 << (self.input_bits - 1)) + int(self.bias) * self.bias_value

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
    def output_low(self) -> int:
        return self.output_bias + sum(min(w, 0) for w in self.output_weights)

    @property
    def output_high(self) -> int:
        return self.output_bias + sum(max(w, 0) for w in self.output_weights)

    @property
    def sum_width(self) -> int:
        """Width of every partial sum of Σₖ 1[zₖ ≥ 0]·Wₖ (the bias comes last)."""
        return signed_width(sum(min(w, 0) for w in self.output_weights),
                            sum(max(w, 0) for w in self.output_weights))

    @property
    def output_width(self) -> int:
        return signed_width(min(self.output_low, 0), max(self.output_high, 0))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(family="threshold", output_weights=list(self.output_weights),
                    layer_widths=list(self.layer_widths), d=self.d,
                    bias_value=self.bias_value, hidden_width=self.hidden_width,
                    sum_width=self.sum_width, output_width=self.output_width)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"


def spec_from_dict(data: dict[str, Any]) -> FixedPointSpec | ThresholdSpec:
    """Rebuild a spec of either family from its ``to_dict``; the derived fields must agree."""
    if not isinstance(data, dict):
        raise QnnhwError("malformed fixed-point spec (not a JSON object); rebuild")
    kind: Any = ThresholdSpec if data.get("family") == "threshold" else FixedPointSpec
    values = dict(data)
    for name in ("output_weights", "layer_widths"):
        if kind is ThresholdSpec and isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    try:
        spec = kind(**{name: values[name] for name in kind.__dataclass_fields__
                       if name in values or name != "layer_widths"})
    except (KeyError, TypeError) as error:
        raise QnnhwError(f"malformed fixed-point spec ({error}); rebuild") from None
    derived = spec.to_dict()
    for name, value in data.items():
        if derived.get(name, value) != value:
            raise QnnhwError(f"fixed-point spec field {name!r} is {value!r}, but the other "
                             f"fields give {derived[name]!r}; rebuild")
    return spec


def spec_for_model(model: BilinearModel | ThresholdModel, input_bits: int = DEFAULT_INPUT_BITS
                   ) -> FixedPointSpec | ThresholdSpec:
    """The fixed-point spec of a model of either family, with default widths."""
    if isinstance(model, ThresholdModel):
        return ThresholdSpec.for_model(model, input_bits)
    return FixedPointSpec.for_model(model, input_bits)
