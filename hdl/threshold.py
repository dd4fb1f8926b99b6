"""Streaming datapath of a threshold network: adder trees and sign bits, no multiplier at all.

Data flow for one input vector (all arithmetic exact; see :mod:`qnnhw.fixedpoint`)::

    i.payload ─► x register ─► lift (bias 2^F: wiring only)
                     │
                     ▼  deep networks only: the earlier layers, unfolded, constant ±1 weights,
                        each neuron 1[l·ã ≥ 0], then the constant 1 (the next layer's ã)
                     │
      hidden ROM ────┤ group g = 0 … T−1 (T = ⌈K/P⌉): P neurons per cycle
                     ▼
    P × [ z = h·x̃ by masked adder trees:  ±1 weights: 2·Σ_{h=+1} x̃ − Σ x̃
                                          b-bit weights: Σⱼ ±2^j·Σ_{bit j of h} x̃ ]
                     ▼
    output-weight ROM ─► P × [ z ≥ 0 ? W : 0 ] ─► adder tree over P ─► accumulator over T
                     ▼
    y = C + Σ ─► FIFO ─► o.payload
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed

from qnnhw.fixedpoint import ThresholdSpec

from .arith import delay, pack_rows, pipelined_sum, signed_binary_dot, tree_depth
from .folding import FoldedDatapath

__all__ = ["ThresholdDatapath"]


class ThresholdDatapath(FoldedDatapath):
    """Streaming inference of f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0], in exact integers.

    Parameters
    ----------
    spec : ThresholdSpec
        Input format, rounded output weights and every width.
    H : array of int, shape (K, d)
        Hidden weights: ±1 when ``spec.hidden_bits`` is 1, else signed integers of
        ``spec.hidden_bits`` bits.
    parallel : int
        Number of neuron units P, 1 ≤ P ≤ K. The K neurons take T = ⌈K/P⌉ cycles per
        vector; hidden and output weights sit in two ROMs of T words when T > 1 and are
        constants when T = 1.
    layers : sequence of arrays of ±1
        The earlier layers of a deep network (widths ``spec.layer_widths``); every one of
        their neurons has its own adder tree, so they add latency, not cycles per vector.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~qnnhw.hdl.folding.FoldedDatapath`.
    """

    def __init__(self, spec: ThresholdSpec, H: np.ndarray, parallel: int,
                 layers: Sequence[np.ndarray] = ()):
        layers = [np.asarray(layer) for layer in layers]
        inputs = spec.features + int(spec.bias)
        if tuple(len(layer) for layer in layers) != spec.layer_widths:
            raise ValueError(f"Layer widths must be {spec.layer_widths}, not "
                             f"{tuple(len(layer) for layer in layers)}")
        for index, layer in enumerate(layers):
            if layer.shape[1:] != (inputs,) or not np.isin(layer, (-1, 1)).all():
                raise ValueError(f"Layer {index} must be ±1 of shape ({len(layer)}, {inputs})")
            inputs = len(layer) + 1
        H = np.asarray(H)
        if H.shape != (spec.m, spec.d):
            raise ValueError(f"Hidden weights must have shape ({spec.m}, {spec.d}), not "
                             f"{H.shape}")
        if spec.hidden_bits == 1 and not np.isin(H, (-1, 1)).all():
            raise ValueError("Hidden weights must be ±1 when hidden_bits is 1")
        if spec.hidden_bits > 1 and np.abs(H).max() > spec.hidden_max:
            raise ValueError(f"Hidden weights must lie in [−{spec.hidden_max}, "
                             f"{spec.hidden_max}] for hidden_bits={spec.hidden_bits}")
        self.check_parallel(spec, parallel)
        self._H = H
        self._layers = layers
        # Register stages after the issue stage, in order (see elaborate): the earlier
        # layers (tree, z, activation), then the folded layer.
        self._layer_depth = sum(tree_depth(spec.features + int(spec.bias) if index == 0
                                           else spec.layer_widths[index - 1] + 1) + 2
                                for index in range(len(layers)))
        self._tree_depth = tree_depth(spec.d)
        planes = spec.hidden_bits
        self._hidden_depth = self._tree_depth + (1 if planes == 1 else tree_depth(planes))
        self._sum_depth = tree_depth(parallel)
        super().__init__(spec, parallel, self._layer_depth + self._hidden_depth + 1
                         + self._sum_depth + 1 + 1)

    def hidden_rows(self) -> list[int]:
        """Hidden ROM: word g holds neuron gP+p's weight i in bits [(pd + i)·b, … + b) with
        b = hidden_bits (two's complement; for ±1 weights one bit, set for +1)."""
        spec = self.spec
        H = (self._H > 0).astype(int) if spec.hidden_bits == 1 else self._H
        return pack_rows(H.tolist(), self.parallel, spec.hidden_bits)

    def output_rows(self) -> list[int]:
        """Output-weight ROM: word g holds Wₖ of neuron gP+p in bits [p·wb, (p+1)·wb);
        padding neurons have W = 0, so they add nothing."""
        return pack_rows([[w] for w in self.spec.output_weights], self.parallel,
                         self.spec.weight_bits)

    def elaborate(self, platform):
        m = Module()
        spec, P = self.spec, self.parallel
        d, planes, wb = spec.d, spec.hidden_bits, spec.weight_bits
        issue = self.issue_stage(m)
        lifted = self.lifted(issue.x)
        for index, layer in enumerate(self._layers):
            lifted = self._unfolded_layer(m, lifted, layer, index)
        # The weights of group g are needed when its inputs have come through those layers,
        # and the output weights once z is known: read them that much later.
        word = self.rom(m, "hidden", self.hidden_rows(), d * planes * P,
                        delay(m, issue.next_group, self._layer_depth, name="h_addr"))
        output_word = self.rom(m, "output_weights", self.output_rows(), wb * P,
                               delay(m, issue.next_group, self._layer_depth + self._hidden_depth,
                                     name="w_addr"))

        # -- hidden layer: z = h·ã per unit, by adder trees over masked inputs ---------------
        if planes == 1:
            total, depth = pipelined_sum(m, lifted, name="xsum")
            assert depth == self._tree_depth
        hidden = []
        for unit in range(P):
            base = unit * d * planes
            if planes == 1:
                z = signed_binary_dot(m, lifted, word[base:base + d], total, spec.hidden_width,
                                      name=f"z{unit}")
            else:
                terms = []
                for bit in range(planes):
                    masked = [Mux(word[base + index * planes + bit], value, 0)
                              for index, value in enumerate(lifted)]
                    plane, _ = pipelined_sum(m, masked, name=f"z{unit}_b{bit}")
                    terms.append(-(plane << bit) if bit == planes - 1 else plane << bit)
                z, depth = pipelined_sum(m, terms, name=f"z{unit}")
                assert self._tree_depth + depth == self._hidden_depth
            hidden.append(z)

        # -- the threshold selects the output weight ----------------------------------------
        selected = []
        for unit, z in enumerate(hidden):
            weight = output_word[unit * wb:(unit + 1) * wb].as_signed()
            gate = Signal(signed(wb), name=f"g{unit}")
            m.d.sync += gate.eq(Mux(z >= 0, weight, 0))
            selected.append(gate)
        group_sum, sum_depth = pipelined_sum(m, selected, name="gsum")
        assert sum_depth == self._sum_depth

        # -- accumulate over the T groups, add the bias ---------------------------------------
        s, s_valid = self.accumulate(m, group_sum, issue,
                                     self._layer_depth + self._hidden_depth + 1 + sum_depth,
                                     spec.sum_width)
        y = Signal(signed(spec.output_width))
        y_valid = Signal()
        m.d.sync += [y.eq(s + spec.output_bias), y_valid.eq(s_valid)]
        self.output(m, y, y_valid)
        return m

    def _unfolded_layer(self, m: Module, inputs: list, layer: np.ndarray, index: int
                        ) -> list:
        """One earlier layer, every neuron with its own constant-weight tree: 0/1 per neuron
        (as 2-bit signed values, so that the next trees add them as numbers) and the 1."""
        total, _ = pipelined_sum(m, inputs, name=f"l{index}_sum")
        width = self.spec.layer_z_width(index)
        outputs: list = []
        for neuron, row in enumerate(layer):
            mask = Const(sum(1 << i for i, weight in enumerate(row) if weight > 0), len(row))
            z = signed_binary_dot(m, inputs, mask, total, width, name=f"l{index}_z{neuron}")
            active = Signal(signed(2), name=f"l{index}_a{neuron}")
            m.d.sync += active.eq(z >= 0)
            outputs.append(active)
        return outputs + [Const(1, signed(2))]
