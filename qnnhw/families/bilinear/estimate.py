"""Resource estimate of the bilinear board design (calibrated against nextpnr on iCE40)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qnnhw.estimate import (
    SHARED_FACTOR,
    Estimate,
    output_path,
    rom_blocks,
    serial_cells,
    tree_cells,
)

from .fixedpoint import BilinearSpec

if TYPE_CHECKING:
    from boards import Device

__all__ = ["estimate", "quadratic_estimate"]

#: Calibration of the cell counts against nextpnr on iCE40 (bench/boards.py): neuron units,
#: the quadratic architecture's row units (ionosphere, P = 8) and multipliers built from
#: logic (the shared part is :data:`~qnnhw.estimate.SHARED_FACTOR`).
UNIT_FACTOR, ROW_UNIT_FACTOR, LUT_MULTIPLIER_FACTOR = 1.25, 2.0, 2.0


def estimate(device: Device, spec: BilinearSpec, parallel: int, scores: bool = True
             ) -> Estimate:
    """Logic cells, DSPs and RAM blocks for P = ``parallel`` neuron units; with C outputs,
    output words with the C scores unless ``scores`` is false."""
    from hdl.arith import csd_digits
    from hdl.bilinear import BilinearDatapath
    from hdl.folding import fifo_depth, output_word_width

    d, bits = spec.d, spec.input_bits
    hidden = 2 * (tree_cells(d, bits) + d * bits) + 2 * spec.neuron_width
    multipliers_in_dsp = min(parallel, device.dsps) if spec.neuron_width <= device.dsp_width \
        else 0
    lut_multiplier = spec.neuron_width ** 2 + spec.product_width
    units = parallel * (hidden + spec.product_width)
    lut_multipliers = (parallel - multipliers_in_dsp) * lut_multiplier
    terms = len(csd_digits(abs(spec.alpha_mantissa)))
    word = output_word_width(spec, scores)
    # With C outputs: the collector's word (class and scores) and running maximum.
    collector = 0 if spec.outputs == 1 else word + spec.output_width
    groups = BilinearDatapath.group_count(spec, parallel)
    out_cells, out_blocks = output_path(
        device, word, fifo_depth(groups, BilinearDatapath.stages_for(spec, parallel).depth))
    shared = (tree_cells(d, bits)                                      # Σx̃
              + tree_cells(parallel, spec.product_width) + 2 * spec.sum_width
              + terms * (spec.sum_width + spec.alpha_bits) + spec.output_width
              + collector + out_cells + serial_cells(spec))
    lcs = (UNIT_FACTOR * units + LUT_MULTIPLIER_FACTOR * lut_multipliers
           + SHARED_FACTOR * shared)
    ram = rom_blocks(device, BilinearDatapath.rom_word_widths(spec, parallel), groups)
    return Estimate(parallel, int(lcs), multipliers_in_dsp, ram + out_blocks, groups)


def quadratic_estimate(device: Device, spec: BilinearSpec, parallel: int, scores: bool = True
                       ) -> Estimate:
    """Logic cells, DSPs and RAM blocks of the quadratic architecture with P = ``parallel``
    row units (:mod:`hdl.quadratic`); nothing here depends on m."""
    from hdl.arith import csd_digits
    from hdl.folding import fifo_depth, output_word_width
    from hdl.quadratic import QuadraticDatapath

    bits, coefficient = spec.lifted_width, spec.coefficient_width
    # On a device with DSPs every row unit takes one: a row unit with its multiplier in logic
    # did not fit beside eight DSP ones on the UP5K (ionosphere, P = 9), so none is planned.
    in_dsp = device.dsps > 0 and max(bits, coefficient) <= device.dsp_width
    multipliers_in_dsp = parallel if in_dsp else 0
    lut_multipliers = (parallel - multipliers_in_dsp) * (coefficient * bits + coefficient + bits)
    # Per unit: coefficient and product registers, the row sum, x̂ₐ, and the shift-and-add
    # (shifting multiplicand, multiplier, term).
    units = parallel * (2 * coefficient + bits + spec.row_width + 2 * bits
                        + 2 * spec.term_width)
    terms = len(csd_digits(abs(spec.alpha_mantissa)))
    word = output_word_width(spec, scores)
    collector = 0 if spec.outputs == 1 else word + spec.output_width
    cycles = QuadraticDatapath.cycles_for(spec, parallel)
    out_cells, out_blocks = output_path(
        device, word, fifo_depth(cycles, QuadraticDatapath.stages_for(spec, parallel).depth))
    shared = (spec.base_d * bits // 2                                   # the column mux
              + tree_cells(parallel, spec.term_width) + 2 * spec.sum_width
              + terms * (spec.sum_width + spec.alpha_bits) + spec.output_width
              + collector + out_cells + serial_cells(spec))
    lcs = (ROW_UNIT_FACTOR * units + LUT_MULTIPLIER_FACTOR * lut_multipliers
           + SHARED_FACTOR * shared)
    ram = rom_blocks(device, QuadraticDatapath.rom_word_widths(spec, parallel), cycles)
    return Estimate(parallel, int(lcs), multipliers_in_dsp, ram + out_blocks, cycles)
