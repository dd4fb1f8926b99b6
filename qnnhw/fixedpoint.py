"""The rules of the datapaths' numbers: the one place where rounding and saturation are defined.

Every family's fixed-point spec (``qnnhw/families/*/fixedpoint.py``) applies these rules and
nothing else; the integer references, the gateware and the host client follow the specs.
``docs/hardware.md`` says the same in prose.

Inputs (every family)
    A standardised feature x becomes the B-bit two's complement integer
    ``q = clamp(round_half_even(x · 2^F), −2^(B−1), 2^(B−1) − 1)`` — rounding to nearest,
    ties to even, then saturation (:func:`quantize_inputs`). F is chosen so that the largest
    |x| on the training split fits (:func:`choose_frac`). The bias feature is the constant 2^F
    (wired in, not sent), and feature replication (Theorem 1) repeats wires.

Offline weights (threshold and LUT output weights and bias)
    ``W = clamp(round_half_even(w · s), ±(2^(b−1) − 1))`` (:func:`quantize_scaled`): a
    symmetric range, so negating a weight never overflows. The threshold family's scale is
    s = 2^F (:func:`quantize_weights`); the LUT family's is any s > 0 its training chose
    (its outputs are only compared with each other, or divided by s).

Thermometer thresholds (LUT inputs)
    A real threshold θ on a standardised feature becomes the integer
    ``Θ = clamp(⌈θ · 2^F⌉, −2^(B−1), 2^(B−1))`` (:func:`integer_thresholds`), so that for an
    input integer q, ``q ≥ Θ`` exactly when ``q / 2^F ≥ θ``; Θ = 2^(B−1) is a bit that is never
    set, Θ = −2^(B−1) one that always is.

Run-time rescaling (the bilinear output scaler)
    ``round_half_up(v / 2^k) = (v + 2^(k−1)) >> k`` with an arithmetic shift
    (:func:`round_shift`); for k ≤ 0 it is the exact ``v · 2^(−k)``.

Everything else in the datapaths is exact integer arithmetic whose width is the worst case
over every input (:func:`signed_width` of the bounds): nothing saturates at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

from .errors import QnnhwError

__all__ = ["DEFAULT_INPUT_BITS", "InputFormat", "check_input_bits", "choose_frac",
           "integer_thresholds", "quantize_inputs", "quantize_scaled", "quantize_weights",
           "round_shift", "signed_width"]

DEFAULT_INPUT_BITS = 8


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


def quantize_scaled(weights: np.ndarray, bits: int, scale: float) -> np.ndarray:
    """Real weights × ``scale`` → integers in ±(2^(bits−1) − 1): round half to even, then
    saturate."""
    top = (1 << (bits - 1)) - 1
    return np.clip(np.rint(np.asarray(weights, dtype=float) * scale), -top,
                   top).astype(np.int64)


def quantize_weights(weights: np.ndarray, bits: int, frac: int) -> np.ndarray:
    """Real weights → integers in ±(2^(bits−1) − 1) at scale 2^frac."""
    return quantize_scaled(weights, bits, 2.0 ** frac)


def integer_thresholds(thresholds: np.ndarray, bits: int, frac: int) -> np.ndarray:
    """Real thresholds on standardised features → the integers Θ that B-bit inputs with F
    fractional bits are compared with: q ≥ Θ exactly when q/2^F ≥ θ."""
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)
    return np.clip(np.ceil(np.asarray(thresholds, dtype=float) * 2.0 ** frac), low,
                   high).astype(np.int64)


def choose_frac(bits: int, max_abs: float) -> int:
    """Fractional bits so that ``max_abs`` fits in a signed ``bits``-bit integer."""
    integer_bits = max(0, math.ceil(math.log2(max_abs))) if max_abs > 0 else 0
    if 2.0 ** integer_bits <= max_abs:  # an exact power of two needs one more bit
        integer_bits += 1
    return max(0, bits - 1 - integer_bits)


def check_input_bits(input_bits: int) -> int:
    if isinstance(input_bits, bool) or not (isinstance(input_bits, int)
                                            and 2 <= input_bits <= 24):
        raise QnnhwError(f"@input_bits must be an integer from 2 to 24, not {input_bits}",
                         "input_bits")
    return input_bits


SpecT = TypeVar("SpecT", bound="InputFormat")


class InputFormat:
    """What every family's spec shares: the input format and the file round trip.

    A spec is a frozen dataclass with (at least) the fields ``features``, ``bias``,
    ``input_bits``, ``input_frac`` and ``output_frac`` (and what :class:`~qnnhw.families.Spec`
    lists). ``FAMILY`` names the family in ``fixedpoint.json``; :meth:`derived` lists the
    widths that follow from the fields, which a file must agree with.
    """

    FAMILY: ClassVar[str]
    #: Fields stored as tuples, written to JSON as lists.
    TUPLE_FIELDS: ClassVar[tuple[str, ...]] = ()

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

    @property
    def lifted_sum_bound(self) -> int:
        """Largest |Σᵢ x̃ᵢ| over any subset of the lifted inputs (no replication)."""
        return self.features * (1 << (self.input_bits - 1)) + int(self.bias) * self.bias_value

    def quantize(self, features: np.ndarray) -> np.ndarray:
        return quantize_inputs(features, self.input_bits, self.input_frac)

    def output_to_real(self, y: np.ndarray) -> np.ndarray:
        """Hardware output → the real value it stands for (F_out fractional bits)."""
        return np.asarray(y, dtype=float) / 2.0 ** self.output_frac

    # -- the file round trip -------------------------------------------------------------------

    def derived(self) -> dict[str, Any]:
        """The quantities that follow from the fields (written to the file, checked on read);
        each spec adds its widths."""
        return {"bias_value": self.bias_value}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"family": self.FAMILY, **asdict(self)}  # type: ignore[call-overload]
        for name in self.TUPLE_FIELDS:
            data[name] = list(data[name])
        data.update(self.derived())
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls: type[SpecT], data: dict[str, Any]) -> SpecT:
        """Rebuild a spec from :meth:`to_dict`; the derived fields must agree."""
        values = {}
        for field in fields(cls):  # type: ignore[arg-type]
            if field.name in data:
                value = data[field.name]
                values[field.name] = tuple(value) if field.name in cls.TUPLE_FIELDS and \
                    isinstance(value, list) else value
        try:
            spec = cls(**values)
        except TypeError as error:
            raise QnnhwError(f"malformed fixed-point spec ({error}); rebuild") from None
        expected = spec.to_dict()
        for name, value in data.items():
            if expected.get(name, value) != value:
                raise QnnhwError(f"fixed-point spec field {name!r} is {value!r}, but the other "
                                 f"fields give {expected[name]!r}; rebuild")
        return spec
