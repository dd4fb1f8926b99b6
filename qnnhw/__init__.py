"""qnnhw: provably near-optimal ±1 neural networks, from data to FPGA bitstream.

Model families (:mod:`qnnhw.families`): ±1 bilinear networks trained by the SDP (Bartan &
Pilanci, 2021) and threshold networks trained by the convex Lasso (Ergen et al., 2023).

Packages: ``qnnhw`` (data, training, model file, fixed point, integer reference, build flow,
CLI), ``qnnhw.families`` (one folder per model family), ``hdl`` (Amaranth gateware),
``sim`` (cocotb + Verilator benches), ``boards`` (board registry and top level).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BilinearModel", "BinaryBilinearClassifier", "BinaryBilinearRegressor",
           "QnnhwError", "ThresholdClassifier", "ThresholdModel", "ThresholdRegressor",
           "__version__", "load_model"]

__version__ = "0.1.0"

# Imported on first use, so that ``python -m qnnhw`` starts without loading every family.
_EXPORTS = {
    "QnnhwError": "qnnhw.errors",
    "load_model": "qnnhw.model",
    "BilinearModel": "qnnhw.families.bilinear.model",
    "BinaryBilinearClassifier": "qnnhw.families.bilinear.estimator",
    "BinaryBilinearRegressor": "qnnhw.families.bilinear.estimator",
    "ThresholdModel": "qnnhw.families.threshold.model",
    "ThresholdClassifier": "qnnhw.families.threshold.estimator",
    "ThresholdRegressor": "qnnhw.families.threshold.estimator",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qnnhw' has no attribute {name!r}")
