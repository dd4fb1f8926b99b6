"""The LUT datapath's integer reference: the oracle of its hardware.

Thermometer bits q_f ≥ Θ_{f,t}; each neuron from its definition 1[Σᵢ sᵢ·bᵢ ≥ θ] (the
hardware uses the truth tables derived from it); y꜀ = C꜀ + Σₖ aₖ·Wₖ꜀ in int64.
"""

from __future__ import annotations

import numpy as np

from qnnhw.reference import Reference

from .dictionary import activations
from .fixedpoint import LutSpec
from .model import LutModel

__all__ = ["LutReference"]


class LutReference(Reference):
    """Bit-exact model of the LUT datapath for one network and one fixed-point spec."""

    model: LutModel
    spec: LutSpec

    def __init__(self, model: LutModel, spec: LutSpec):
        super().__init__(model, spec)
        self._W = spec.weight_matrix
        self._C = np.array(spec.output_biases, dtype=np.int64)

    def bits(self, x: np.ndarray) -> np.ndarray:
        """The thermometer bits of integer inputs, shape (n, F·T)."""
        inputs = self.lift(x)
        return (inputs[:, :, None] >= self.spec.threshold_matrix[None]).reshape(
            len(inputs), -1).astype(np.uint8)

    def neurons(self, x: np.ndarray) -> np.ndarray:
        """aₖ of every neuron, shape (n, K)."""
        return activations(self.bits(x), self.model.inputs, self.model.weights,
                           self.model.theta)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """y, shape (n,) for one output, (n, C) for C."""
        y = self._C + self.neurons(x).astype(np.int64) @ self._W
        return y[:, 0] if self.spec.outputs == 1 else y
