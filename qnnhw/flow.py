"""The named steps from a model file to hardware, each usable on its own.

train → fixed point → elaborate (Amaranth) → Verilog → simulate (cocotb + Verilator) → build
(yosys + nextpnr). The command line strings these together; every step leaves an artifact.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from .errors import QnnhwError
from .fixedpoint import DEFAULT_INPUT_BITS, FixedPointSpec, ThresholdSpec, spec_for_model
from .model import BilinearModel, ThresholdModel, atomic_write

Model = BilinearModel | ThresholdModel
Spec = FixedPointSpec | ThresholdSpec

__all__ = ["cache_dir", "check_parallel", "datapath", "dump_vectors", "fixed_point",
           "verilog_text"]


def cache_dir() -> Path:
    """Where Verilator builds are cached between runs (``$XDG_CACHE_HOME/qnnhw``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qnnhw"


def fixed_point(model: Model, input_bits: int | None = None) -> Spec:
    return spec_for_model(model, DEFAULT_INPUT_BITS if input_bits is None else input_bits)


def check_parallel(model: Model, parallel: int) -> int:
    if not 1 <= parallel <= model.m:
        raise QnnhwError(f"--parallel must be between 1 and m={model.m}, not {parallel}")
    return parallel


def datapath(model: Model, spec: Spec, parallel: int):
    """The streaming datapath of ``model``'s family (an Amaranth component)."""
    check_parallel(model, parallel)
    if isinstance(model, ThresholdModel):
        from .hdl.threshold import ThresholdDatapath

        return ThresholdDatapath(spec, model.H, parallel,  # type: ignore[arg-type]
                                 model.layers)
    from .hdl.bilinear import BilinearDatapath

    return BilinearDatapath(spec, model.U, model.V, parallel)  # type: ignore[arg-type]


def verilog_text(component, name: str) -> str:
    from amaranth.back import verilog

    return verilog.convert(component, name=name, emit_src=False)


def dump_vectors(path: Path, model: Model, inputs: np.ndarray, hardware: list[int],
                 reference: list[int]) -> None:
    """CSV of integer inputs and outputs, enough for anyone to recheck every result."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*model.feature_names, "y_hardware", "y_reference"])
    for row, y_hw, y_ref in zip(inputs.tolist(), hardware, reference):
        writer.writerow([*row, y_hw, y_ref])
    atomic_write(path, buffer.getvalue())
