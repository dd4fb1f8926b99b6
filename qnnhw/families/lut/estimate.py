"""Resource estimate of the LUT board design, from the shape of its logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qnnhw.estimate import SHARED_FACTOR, Estimate, output_path, serial_cells
from qnnhw.hdl.folding import argmax_depth, fifo_depth, output_word_width
from qnnhw.hdl.lut import LutDatapath, output_plans

from .fixedpoint import LutSpec

if TYPE_CHECKING:
    from qnnhw.boards import Device

__all__ = ["estimate"]



def compare_cells(input_bits: int) -> int:
    """LUT4s of one comparison with a constant (:func:`qnnhw.hdl.arith.at_least`)."""
    return 1 + -(-max(0, input_bits - 4) // 3)


def neuron_cells(fan_in: int) -> int:
    """LUT4s of one truth table of ``fan_in`` inputs (a tree of LUT4s above four)."""
    return 1 if fan_in <= 4 else (1 << (fan_in - 4)) * 2 - 1


def estimate(device: Device, spec: LutSpec, scores: bool = True) -> Estimate:
    """Logic cells, (no) DSPs and RAM blocks of the unrolled design: comparators, one truth
    table per neuron, a compressor tree per output (two cells per full adder, one per
    passed bit, the final adder), the biased scores, the class decision and the link."""
    compare = len(set(spec.inputs)) * compare_cells(spec.input_bits)
    neurons = spec.m * neuron_cells(spec.fan_in)
    trees = sum(2 * plan.full_adders + plan.passed + plan.width
                for plan in output_plans(spec))
    outputs = spec.outputs * spec.output_width
    decision = 0
    if spec.outputs > 1:
        depth = argmax_depth(spec.outputs)
        decision = (spec.outputs - 1) * (spec.output_width + 8)
        if scores:
            decision += depth * spec.outputs * spec.output_width
    out_cells, out_blocks = output_path(
        device, output_word_width(spec, scores),
        fifo_depth(1, LutDatapath.stages_for(spec).depth))
    lcs = compare + neurons + trees + SHARED_FACTOR * (outputs + decision + out_cells
                                                      + serial_cells(spec))
    return Estimate(1, int(lcs), 0, out_blocks, 1)
