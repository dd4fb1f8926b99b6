"""Long verification runs: a datapath compiled by Verilator with a C++ harness
(``harness.cpp``), driven with random gaps and backpressure, every output compared with the
integer reference.

cocotb drives a few hundred vectors a second; the harness drives hundreds of thousands, so
``bench/verify.py`` runs millions of vectors through it. The oracle is the same:
:func:`sim.runner.output_words` of the family's reference.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog as amaranth_verilog
from amaranth.hdl import Shape
from amaranth.lib import data

from hdl.folding import output_shape
from qnnhw import flow
from qnnhw.errors import QnnhwError
from qnnhw.families import Spec
from qnnhw.model import Network

from .runner import output_words
from .toolchain import verilator_environment

__all__ = ["VerifyResult", "build_harness", "corner_vectors", "verify_datapath"]

HARNESS = Path(__file__).with_name("harness.cpp")


@dataclass
class VerifyResult:
    """One configuration's run."""

    vectors: int
    mismatches: int
    cycles: int
    seconds: float          # simulation only
    build_seconds: float
    first_mismatch: str | None = None


def corner_vectors(spec: Spec) -> np.ndarray:
    """Full-scale inputs: all at the minimum, all at the maximum, alternating both ways,
    each feature alone at either extreme (the rest at the other), and all zero."""
    low, high, features = spec.input_min, spec.input_max, spec.features
    rows = [np.full(features, low), np.full(features, high), np.zeros(features, dtype=int),
            np.where(np.arange(features) % 2, low, high),
            np.where(np.arange(features) % 2, high, low)]
    for index in range(features):
        for alone, rest in ((high, low), (low, high)):
            row = np.full(features, rest)
            row[index] = alone
            rows.append(row)
    return np.array(rows, dtype=np.int64)


def build_harness(verilog: str, work_dir: Path) -> tuple[Path, float]:
    """Compile ``verilog`` (top module ``top``) with the harness; cached by content."""
    verilator_environment()
    digest = hashlib.sha256(verilog.encode() + HARNESS.read_bytes()).hexdigest()[:16]
    folder = work_dir / f"harness-{digest}"
    binary = folder / "obj" / "harness"
    if binary.exists():
        return binary, 0.0
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "top.v").write_text(verilog)
    start = time.perf_counter()
    command = ["verilator", "--cc", "--exe", "--build", "-O2", "-Wno-fatal", "--top-module",
               "top", "--prefix", "Vtop", "-Mdir", str(folder / "obj"), "-o", "harness",
               str(folder / "top.v"), str(HARNESS)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not binary.exists():
        (folder / "build.log").write_text(result.stdout + result.stderr)
        raise QnnhwError(f"Verilator could not build the harness; see {folder / 'build.log'}")
    return binary, time.perf_counter() - start


def verify_datapath(model: Network, spec: Spec, parallel: int, inputs: np.ndarray,
                    work_dir: Path, *, arch: str | None = None, scores: bool = True,
                    idle_percent: int = 20, stall_percent: int = 20, seed: int = 0
                    ) -> VerifyResult:
    """Run ``inputs`` through the datapath in Verilator with random input gaps and output
    stalls; compare every output word with the reference's."""
    dut = flow.datapath(model, spec, parallel, scores, arch)
    binary, build_seconds = build_harness(
        amaranth_verilog.convert(dut, name="top", emit_src=False), work_dir)
    layout = data.ArrayLayout(dut.i.payload.shape().elem_shape, spec.features)
    folder = binary.parent.parent
    input_file, output_file = folder / f"inputs-{seed}.hex", folder / f"outputs-{seed}.hex"
    input_file.write_text("".join(f"{layout.const(row.tolist()).as_value().value:x}\n"
                                  for row in inputs))
    start = time.perf_counter()
    result = subprocess.run([str(binary), str(input_file), str(output_file), str(idle_percent),
                             str(stall_percent), str(seed)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise QnnhwError(f"the harness failed: {result.stderr.strip()}")
    lines = output_file.read_text().split()
    cycles = int(lines[-1])
    outputs = [int(word, 16) for word in lines[:-2]]
    # The harness prints the payload's bits: y as its two's complement.
    mask = (1 << Shape.cast(output_shape(spec, scores)).width) - 1
    expected = [word & mask for word in output_words(
        spec, flow.reference(model, spec).outputs(inputs), scores)]
    mismatches = [index for index, (got, want) in enumerate(zip(outputs, expected))
                  if got != want] + list(range(len(outputs), len(expected)))
    first = None
    if mismatches:
        index = mismatches[0]
        got = outputs[index] if index < len(outputs) else None
        first = f"vector {index}: {inputs[index].tolist()} gave {got}, expected {expected[index]}"
    input_file.unlink()
    output_file.unlink()
    return VerifyResult(vectors=len(inputs), mismatches=len(mismatches), cycles=cycles,
                        seconds=seconds, build_seconds=build_seconds, first_mismatch=first)
