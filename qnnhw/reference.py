"""The NumPy integer reference models: the oracles every hardware output must equal bit for bit.

They follow :mod:`qnnhw.fixedpoint` literally. Bilinear: integer inputs in, the exact integer
sum s = Σⱼ (uⱼ·x̃)(vⱼ·x̃), then y = round_half_up(s·A / 2^k); Python integers take over from
int64 wherever a worst-case bound needs more than 62 bits, so the result is exact for every
configuration. Threshold: zₖ = hₖ·x̃, then y = C + Σₖ 1[zₖ ≥ 0]·Wₖ (always within int64:
the spec limits every width far below that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QnnhwError
from .fixedpoint import FixedPointSpec, ThresholdSpec, round_shift
from .model import BilinearModel, ThresholdModel

__all__ = ["IntegerReference", "ReferenceResult", "ThresholdReference", "reference_for"]


@dataclass
class ReferenceResult:
    """Integer intermediate values for n input vectors."""

    a: np.ndarray   # (n, m): uⱼ·x̃
    b: np.ndarray   # (n, m): vⱼ·x̃
    s: np.ndarray   # (n,):   Σⱼ aⱼbⱼ
    y: np.ndarray   # (n,):   the datapath output


class _Reference:
    """Input handling both families share: quantise, check, lift."""

    model: BilinearModel | ThresholdModel
    spec: FixedPointSpec | ThresholdSpec

    def _check_shapes(self) -> None:
        model, spec = self.model, self.spec
        if (model.m, model.d) != (spec.m, spec.d):
            raise QnnhwError(f"the fixed-point spec is for m={spec.m}, d={spec.d}, the model "
                             f"has m={model.m}, d={model.d}")

    def lift(self, x: np.ndarray) -> np.ndarray:
        """Integer inputs (n, features) → lifted integer vectors (n, d)."""
        spec = self.spec
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != spec.features:
            raise QnnhwError(f"expected integer inputs of shape (n, {spec.features}), "
                             f"got {x.shape}")
        if x.size and (x.min() < spec.input_min or x.max() > spec.input_max):
            raise QnnhwError(f"integer inputs must lie in [{spec.input_min}, {spec.input_max}]")
        x = x.astype(np.int64)
        if spec.bias:
            x = np.hstack([x, np.full((len(x), 1), spec.bias_value, dtype=np.int64)])
        return np.repeat(x, self.model.lifting.replicas, axis=1)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_signs(self, x: np.ndarray) -> np.ndarray:
        return np.where(self.outputs(x) > 0, 1.0, -1.0)

    def quantize(self, X_encoded: np.ndarray) -> np.ndarray:
        """Encoded input columns → the integer vectors the hardware receives."""
        return self.spec.quantize(self.model.features(X_encoded))


class IntegerReference(_Reference):
    """Bit-exact model of the bilinear datapath for one network and one fixed-point spec."""

    def __init__(self, model: BilinearModel, spec: FixedPointSpec):
        self.model = model
        self.spec = spec
        self._check_shapes()
        self._U = model.U.astype(np.int64)
        self._V = model.V.astype(np.int64)

    def run(self, x: np.ndarray) -> ReferenceResult:
        spec = self.spec
        lifted = self.lift(x)
        a = lifted @ self._U.T
        b = lifted @ self._V.T
        wide = spec.sum_width > 62 or spec.product_width > 62
        products = a.astype(object) * b.astype(object) if wide else a * b
        s = products.sum(axis=1)
        scaled_wide = spec.sum_width + spec.alpha_bits > 62 or spec.output_width > 62
        t = (s.astype(object) if scaled_wide else s) * spec.alpha_mantissa
        y = round_shift(t, spec.alpha_shift)
        return ReferenceResult(a=a, b=b, s=s, y=y)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        return self.run(x).y

    def error_bound(self, X_encoded: np.ndarray) -> np.ndarray:
        """Per row, a bound on |y/2^F_out − f(x)| between this model and the float network.

        With δ = d · maxᵢ|x̃ᵢ − x̃ᵢ^q/2^F| (input rounding and saturation, per row):
        |a^q b^q/2^(2F) − ab| ≤ (|a| + |b|)δ + δ², so

            |y/2^F_out − f(x)| ≤ 2^(−F_out−1) + |α_hw − α|·|s^q|/2^(2F)
                                 + |α|·(Σⱼ (|aⱼ| + |bⱼ|)δ + mδ²).

        The first term is the output rounding, the second the quantisation of α.
        """
        spec, model = self.spec, self.model
        features = model.features(X_encoded)
        lifted = model.lifting.apply(features)
        quantized = self.quantize(X_encoded)
        lifted_q = self.lift(quantized).astype(float) / 2.0 ** spec.input_frac
        delta = spec.d * np.abs(lifted - lifted_q).max(axis=1)
        a, b = lifted @ model.U.T.astype(float), lifted @ model.V.T.astype(float)
        s_q = self.run(quantized).s.astype(float) / 2.0 ** (2 * spec.input_frac)
        return (2.0 ** (-spec.output_frac - 1) + abs(spec.alpha_value - model.alpha) * np.abs(s_q)
                + abs(model.alpha) * ((np.abs(a) + np.abs(b)).sum(axis=1) * delta
                                      + model.m * delta ** 2))


class ThresholdReference(_Reference):
    """Bit-exact model of the threshold datapath for one network and one fixed-point spec."""

    def __init__(self, model: ThresholdModel, spec: ThresholdSpec):
        self.model = model
        self.spec = spec
        self._check_shapes()
        self._H = model.H.astype(np.int64)
        self._W = np.array(spec.output_weights, dtype=np.int64)

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """zₖ = hₖ·ã, shape (n, K); ã = x̃ or, in a deep network, the earlier layers'
        0/1 activations and a 1."""
        inputs = self.lift(x)
        for layer in self.model.layers:
            active = (inputs @ layer.T.astype(np.int64) >= 0).astype(np.int64)
            inputs = np.hstack([active, np.ones((len(active), 1), dtype=np.int64)])
        return inputs @ self._H.T

    def outputs(self, x: np.ndarray) -> np.ndarray:
        active = self.hidden(x) >= 0
        return self.spec.output_bias + active.astype(np.int64) @ self._W


def reference_for(model: BilinearModel | ThresholdModel, spec: FixedPointSpec | ThresholdSpec
                  ) -> IntegerReference | ThresholdReference:
    """The integer reference of a model of either family."""
    if isinstance(model, ThresholdModel) != isinstance(spec, ThresholdSpec):
        raise QnnhwError(f"the fixed-point spec is not for a {model.FAMILY} model; rebuild")
    if isinstance(model, ThresholdModel):
        return ThresholdReference(model, spec)  # type: ignore[arg-type]
    return IntegerReference(model, spec)  # type: ignore[arg-type]
