"""Resource estimate of the LUT board design, from the shape of its logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hdl.folding import argmax_depth, fifo_depth, output_word_width
from hdl.lut import FoldedLutDatapath, LutDatapath, output_plans
from qnnhw.estimate import (
    SHARED_FACTOR,
    Estimate,
    output_path,
    rom_blocks,
    serial_cells,
    tree_cells,
)

from .fixedpoint import LutSpec

if TYPE_CHECKING:
    from boards import Device

__all__ = ["estimate", "folded_estimate"]


def compare_cells(input_bits: int) -> int:
    """LUT4s of one comparison with a constant (:func:`hdl.arith.at_least`)."""
    return 1 + -(-max(0, input_bits - 4) // 3)


def neuron_cells(fan_in: int) -> int:
    """LUT4s of one truth table of ``fan_in`` inputs (a tree of LUT4s above four)."""
    return 1 if fan_in <= 4 else (1 << (fan_in - 4)) * 2 - 1


def _neurons_and_link(spec: LutSpec) -> tuple[int, int]:
    """The comparators and the neurons (every design has them), and the serial link."""
    return (len(set(spec.inputs)) * compare_cells(spec.input_bits)
            + spec.m * neuron_cells(spec.fan_in), serial_cells(spec))


def _decision(spec: LutSpec, scores: bool, delayed: bool) -> int:
    """The class decision's comparator tree, with the scores delayed beside it if
    ``delayed``."""
    if spec.outputs == 1:
        return 0
    depth = argmax_depth(spec.outputs)
    cells = (spec.outputs - 1) * (spec.output_width + 8)
    return cells + (depth * spec.outputs * spec.output_width if scores and delayed else 0)


def estimate(device: Device, spec: LutSpec, scores: bool = True) -> Estimate:
    """Logic cells, (no) DSPs and RAM blocks of the unrolled design: comparators, one truth
    table per neuron, a compressor tree per output (two cells per full adder, one per
    passed bit, the final adder), the biased scores, the class decision and the link."""
    network, link = _neurons_and_link(spec)
    trees = sum(2 * plan.full_adders + plan.passed + plan.width
                for plan in output_plans(spec))
    outputs = spec.outputs * spec.output_width
    out_cells, out_blocks = output_path(
        device, output_word_width(spec, scores),
        fifo_depth(1, LutDatapath.stages_for(spec).depth))
    lcs = network + trees + SHARED_FACTOR * (outputs + _decision(spec, scores, True)
                                             + out_cells + link)
    return Estimate(1, int(lcs), 0, out_blocks, 1)


def folded_estimate(device: Device, spec: LutSpec, parallel: int, scores: bool = True
                    ) -> Estimate:
    """Logic cells, (no) DSPs and RAM blocks of the design with its output sums on P =
    ``parallel`` units: comparators and neurons as unrolled, per unit a T:1 neuron
    multiplexer and its C gated weights, per output an adder tree over P, an accumulator and
    the biased score; the output weights in a ROM of T words."""
    network, link = _neurons_and_link(spec)
    groups = -(-spec.m // parallel)
    units = parallel * (groups + spec.outputs * spec.weight_bits)
    per_output = (tree_cells(parallel, spec.weight_bits) + 2 * spec.sum_width
                  + spec.output_width)
    holds = not scores or groups > argmax_depth(spec.outputs)
    out_cells, out_blocks = output_path(
        device, output_word_width(spec, scores),
        fifo_depth(groups, FoldedLutDatapath.stages_for(spec, parallel).depth))
    lcs = network + units + SHARED_FACTOR * (spec.outputs * per_output
                                             + _decision(spec, scores, not holds)
                                             + out_cells + link)
    ram = rom_blocks(device, FoldedLutDatapath.rom_word_widths(spec, parallel), groups)
    return Estimate(parallel, int(lcs), 0, ram + out_blocks, groups)
