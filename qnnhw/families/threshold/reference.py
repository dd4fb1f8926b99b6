"""The threshold datapath's integer reference: the oracle of its hardware.

zₖ = hₖ·ã, then y꜀ = C꜀ + Σₖ 1[zₖ ≥ 0]·Wₖ꜀ for each output c (always within int64: the spec
limits every width far below that).
"""

from __future__ import annotations

import numpy as np

from qnnhw.reference import Reference

from .fixedpoint import ThresholdSpec
from .model import ThresholdModel

__all__ = ["ThresholdReference"]


class ThresholdReference(Reference):
    """Bit-exact model of the threshold datapath for one network and one fixed-point spec."""

    model: ThresholdModel
    spec: ThresholdSpec

    def __init__(self, model: ThresholdModel, spec: ThresholdSpec):
        super().__init__(model, spec)
        self._H = model.H.astype(np.int64)
        self._W = spec.weight_matrix
        self._C = np.array(spec.output_biases, dtype=np.int64)

    def hidden(self, x: np.ndarray) -> np.ndarray:
        """zₖ = hₖ·ã, shape (n, K); ã = x̃ or, in a deep network, the earlier layers'
        0/1 activations and a 1."""
        inputs = self.lift(x)
        for layer in self.model.layers:
            active = (inputs @ layer.T.astype(np.int64) >= 0).astype(np.int64)
            inputs = np.hstack([active, np.ones((len(active), 1), dtype=np.int64)])
        return inputs @ self._H.T

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """y, shape (n,) for one output, (n, C) for C."""
        active = self.hidden(x) >= 0
        y = self._C + active.astype(np.int64) @ self._W
        return y[:, 0] if self.spec.outputs == 1 else y
