"""The NumPy integer reference models: the oracles every hardware output must equal bit for bit.

Each family's reference (``qnnhw/families/*/reference.py``) follows its fixed-point spec
literally; this is the input handling they share: check, lift, quantise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import QnnhwError
from .model import classes_of

__all__ = ["Reference"]


class Reference:
    """Bit-exact model of one family's datapath for one network and one fixed-point spec.

    Subclasses define :meth:`outputs`: integer input vectors → the datapath's outputs.
    """

    def __init__(self, model: Any, spec: Any):
        if type(spec).FAMILY != model.FAMILY:
            raise QnnhwError(f"the fixed-point spec is not for a {model.FAMILY} model; rebuild")
        if (model.m, model.d) != (spec.m, spec.d):
            raise QnnhwError(f"the fixed-point spec is for m={spec.m}, d={spec.d}, the model "
                             f"has m={model.m}, d={model.d}")
        self.model = model
        self.spec = spec

    def lift(self, x: np.ndarray) -> np.ndarray:
        """Integer inputs (n, features) → lifted integer vectors (n, (features + bias)·M)."""
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
        """The datapath's output y for each integer input vector."""
        raise NotImplementedError

    def predict_classes(self, x: np.ndarray) -> np.ndarray:
        """Class indices from the integer outputs, as the hardware decides them."""
        return classes_of(self.outputs(x))

    def quantize(self, X_encoded: np.ndarray) -> np.ndarray:
        """Encoded input columns → the integer vectors the hardware receives."""
        return self.spec.quantize(self.model.features(X_encoded))
