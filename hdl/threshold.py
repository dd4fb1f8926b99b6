"""Streaming datapath of a threshold network: adder trees and sign bits, no multiplier at all.

Data flow for one input vector (all arithmetic exact; see :mod:`qnnhw.fixedpoint`)::

    i.payload ─► x register ─► lift (bias 2^F: wiring only)
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

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed

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

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~qnnhw.hdl.folding.FoldedDatapath`.
    """

    def __init__(self, spec: ThresholdSpec, H: np.ndarray, parallel: int):
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
        # Register stages after the issue stage, in order (see elaborate).
        self._tree_depth = tree_depth(spec.d)
        planes = spec.hidden_bits
        self._hidden_depth = self._tree_depth + (1 if planes == 1 else tree_depth(planes))
        self._sum_depth = tree_depth(parallel)
        super().__init__(spec, parallel, self._hidden_depth + 1 + self._sum_depth + 1 + 1)

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
        word = self.rom(m, "hidden", self.hidden_rows(), d * planes * P, issue.next_group)
        # The output weights are needed once z is known: read them that much later.
        output_word = self.rom(m, "output_weights", self.output_rows(), wb * P,
                               delay(m, issue.next_group, self._hidden_depth, name="w_addr"))

        # -- hidden layer: z = h·x̃ per unit, by adder trees over masked inputs ---------------
        lifted = self.lifted(issue.x)
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
        s, s_valid = self.accumulate(m, group_sum, issue, self._hidden_depth + 1 + sum_depth,
                                     spec.sum_width)
        y = Signal(signed(spec.output_width))
        y_valid = Signal()
        m.d.sync += [y.eq(s + spec.output_bias), y_valid.eq(s_valid)]
        self.output(m, y, y_valid)
        return m
