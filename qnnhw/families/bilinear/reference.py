"""The bilinear datapath's integer reference: the oracle of its hardware.

Integer inputs in, the exact integer sum s = Σⱼ (uⱼ·x̃)(vⱼ·x̃) (per output, over its
neurons), then y = round_half_up(s·A / 2^k); Python integers take over from int64 wherever a
worst-case bound needs more than 62 bits, so the result is exact for every configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qnnhw.fixedpoint import round_shift
from qnnhw.reference import Reference

from .fixedpoint import BilinearSpec
from .model import BilinearModel

__all__ = ["BilinearReference", "ReferenceResult"]


@dataclass
class ReferenceResult:
    """Integer intermediate values for n input vectors."""

    a: np.ndarray   # (n, m): uⱼ·x̃
    b: np.ndarray   # (n, m): vⱼ·x̃
    s: np.ndarray   # (n,) or (n, C): Σⱼ aⱼbⱼ (per output)
    y: np.ndarray   # (n,) or (n, C): the datapath output


class BilinearReference(Reference):
    """Bit-exact model of the bilinear datapath for one network and one fixed-point spec."""

    model: BilinearModel
    spec: BilinearSpec

    def __init__(self, model: BilinearModel, spec: BilinearSpec):
        super().__init__(model, spec)
        self._U = model.U.astype(np.int64)
        self._V = model.V.astype(np.int64)

    def run(self, x: np.ndarray) -> ReferenceResult:
        spec = self.spec
        lifted = self.lift(x)
        a = lifted @ self._U.T
        b = lifted @ self._V.T
        wide = spec.sum_width > 62 or spec.product_width > 62
        products = a.astype(object) * b.astype(object) if wide else a * b
        s = self.model.sum_by_output(products, spec.class_neurons)
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
        spread = model.sum_by_output(np.abs(a) + np.abs(b), spec.class_neurons)
        neurons = np.array(spec.class_neurons or (model.m,))
        if spread.ndim == 2:
            delta = delta[:, None]
        else:
            neurons = neurons[0]
        return (2.0 ** (-spec.output_frac - 1) + abs(spec.alpha_value - model.alpha) * np.abs(s_q)
                + abs(model.alpha) * (spread * delta + neurons * delta ** 2))
