"""Resource estimate of the threshold board design (calibrated against nextpnr on iCE40)."""

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

from .fixedpoint import ThresholdSpec

if TYPE_CHECKING:
    from boards import Device

__all__ = ["estimate"]

#: Calibration of the units against nextpnr on iCE40 (bench/boards.py): the estimate comes
#: out 2–3 % above what nextpnr reports. Yosys shares much of the constant trees of a deep
#: network's earlier layers: they get their own factor (one HX8K build).
UNIT_FACTOR, DEEP_LAYER_FACTOR = 1.1, 0.75


def estimate(device: Device, spec: ThresholdSpec, parallel: int, scores: bool = True
             ) -> Estimate:
    """Logic cells, (no) DSPs and RAM blocks for P = ``parallel`` neuron units: no
    multiplier, one adder tree per unit and weight bit-plane; with C outputs, output words
    with the C scores unless ``scores`` is false."""
    from hdl.folding import argmax_depth, fifo_depth, output_word_width
    from hdl.threshold import ThresholdDatapath

    # A deep network's earlier layers: one constant-weight tree per neuron over about half
    # its inputs (the first layer's are B-bit, later ones 0/1), its Σ tree and z register.
    layers, inputs, bits = 0, spec.features + int(spec.bias), spec.input_bits
    for index, neurons in enumerate(spec.layer_widths):
        layers += (neurons * (tree_cells((inputs + 1) // 2, bits) + spec.layer_z_width(index)
                              + 1) + tree_cells(inputs, bits))
        inputs, bits = neurons + 1, 2
    # The folded layer: d inputs of ``bits`` bits.
    d, planes = spec.d, spec.hidden_bits
    if parallel == spec.m:
        # Constant weights: each tree adds only the inputs it selects (about half of them).
        hidden = planes * tree_cells((d + 1) // 2, bits)
    else:
        hidden = planes * (tree_cells(d, bits) + d * bits)
    combine = spec.hidden_width if planes == 1 else tree_cells(planes, spec.hidden_width)
    outputs = spec.outputs
    units = parallel * (hidden + combine + outputs * spec.weight_bits)
    # Per output: its gated sum, accumulator and biased score; then the comparator tree, with
    # the scores delayed beside it unless they are held or not sent.
    groups = -(-spec.m // parallel)
    per_output = tree_cells(parallel, spec.weight_bits) + 2 * spec.sum_width + spec.output_width
    decision = 0
    if outputs > 1:
        depth = argmax_depth(outputs)
        decision = (outputs - 1) * (spec.output_width + 8)
        if scores and groups <= depth:
            decision += depth * outputs * spec.output_width
    out_cells, out_blocks = output_path(
        device, output_word_width(spec, scores),
        fifo_depth(groups, ThresholdDatapath.stages_for(spec, parallel).depth))
    shared = (DEEP_LAYER_FACTOR * layers + (tree_cells(d, bits) if planes == 1 else 0)
              + outputs * per_output + decision + out_cells + serial_cells(spec))
    lcs = UNIT_FACTOR * units + SHARED_FACTOR * shared
    ram = rom_blocks(device, ThresholdDatapath.rom_word_widths(spec, parallel), groups)
    return Estimate(parallel, int(lcs), 0, ram + out_blocks, groups)
