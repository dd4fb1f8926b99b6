"""The steps from a model file to hardware, each usable on its own, for any family.

fixed point → integer reference → datapath (Amaranth) → Verilog → simulate (cocotb +
Verilator) → build (yosys + nextpnr, :mod:`qnnhw.build`). The command line strings these
together; every step leaves an artifact.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from hdl.folding import output_word_width, output_words

from . import protocol
from .errors import QnnhwError
from .families import Spec, architecture, family_of
from .files import atomic_write
from .fixedpoint import DEFAULT_INPUT_BITS
from .model import Network
from .reference import Reference

__all__ = ["cache_dir", "check_parallel", "datapath", "dump_vectors", "fixed_point",
           "input_bits_for",
           "reference", "verilog_text"]


def cache_dir() -> Path:
    """Where Verilator builds are cached between runs (``$XDG_CACHE_HOME/qnnhw``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qnnhw"


def input_bits_for(model: Network, input_bits: int | None = None) -> int:
    """``input_bits``, or by default the input width the model was trained for (its
    training record's ``input_bits``: a network trained on the integer grid of its inputs),
    else :data:`~qnnhw.fixedpoint.DEFAULT_INPUT_BITS`."""
    if input_bits is not None:
        return input_bits
    return int(model.training.get("input_bits", DEFAULT_INPUT_BITS))


def fixed_point(model: Network, input_bits: int | None = None) -> Spec:
    """The model's fixed-point spec (default widths, ``input_bits`` B-bit inputs; by
    default :func:`input_bits_for`)."""
    return family_of(model).fixed_point(model, input_bits_for(model, input_bits))


def reference(model: Network, spec: Spec) -> Reference:
    """The integer reference of ``model`` under ``spec``: the oracle of its hardware."""
    return family_of(model).reference(model, spec)


def selftest_signature(model: Network, spec: Spec, scores: bool, count: int) -> int:
    """The signature a board's self-test of ``count`` vectors must answer: the reference's
    outputs for the on-chip generator's vectors, folded as the gateware folds them."""
    outputs = reference(model, spec).outputs(
        protocol.selftest_vectors(count, spec.features, spec.input_bits))
    return protocol.signature(output_words(spec, outputs, scores),
                              output_word_width(spec, scores))


def check_parallel(model: Network, spec: Spec, parallel: int, arch: str | None = None) -> int:
    """``parallel``, if architecture ``arch`` (None: the family's default) of ``model``'s
    family can have that many units."""
    family = family_of(model)
    chosen = architecture(family, arch)
    units = family.units(spec, chosen.name)
    if units == 1 and parallel != 1:
        raise QnnhwError(f"@parallel must be 1 for the {chosen.name} architecture ({chosen.units}"
                         f" is one unit), not {parallel}", "parallel")
    if not 1 <= parallel <= units:
        raise QnnhwError(f"@parallel must be between 1 and {chosen.bound}={units}, not "
                         f"{parallel}", "parallel")
    return parallel


def datapath(model: Network, spec: Spec, parallel: int, scores: bool = True,
             arch: str | None = None) -> Any:
    """The streaming datapath of ``model``'s family in architecture ``arch`` (None: the
    family's default) as an Amaranth component; with C outputs its words carry the C scores
    beside the class unless ``scores`` is false."""
    check_parallel(model, spec, parallel, arch)
    family = family_of(model)
    return family.datapath(model, spec, parallel, scores, architecture(family, arch).name)


def verilog_text(component: Any, name: str) -> str:
    from amaranth.back import verilog

    text: str = verilog.convert(component, name=name, emit_src=False)
    return text


def dump_vectors(path: Path, model: Network, inputs: np.ndarray, hardware: list[Any],
                 reference: list[Any]) -> None:
    """CSV of integer inputs and outputs, enough for anyone to recheck every result.

    Outputs are y, or for C outputs (class, scores): then the class and the scores
    (space-separated) of each side."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if model.outputs == 1:
        writer.writerow([*model.feature_names, "y_hardware", "y_reference"])
        for row, y_hw, y_ref in zip(inputs.tolist(), hardware, reference):
            writer.writerow([*row, y_hw, y_ref])
    else:
        writer.writerow([*model.feature_names, "class_hardware", "class_reference",
                         "scores_hardware", "scores_reference"])
        for row, (class_hw, scores_hw), (class_ref, scores_ref) in zip(inputs.tolist(),
                                                                        hardware, reference):
            writer.writerow([*row, class_hw, class_ref, " ".join(map(str, scores_hw)),
                             " ".join(map(str, scores_ref))])
    atomic_write(path, buffer.getvalue())
