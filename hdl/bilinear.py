"""Streaming datapath of a ±1 bilinear network: adder trees, m multipliers folded onto P units.

Data flow for one input vector (all arithmetic exact; see :mod:`qnnhw.fixedpoint`)::

    i.payload ─► x register ─► lift (bias 2^F, replication: wiring only)
                     │
      weights ROM ───┤ group g = 0 … T−1 (T = ⌈m/P⌉): P neurons per cycle
                     ▼
    P × [ masked adder trees Σ_{uᵢ=+1} x̃ᵢ, Σ_{vᵢ=+1} x̃ᵢ ;  a = 2Σ_u − Σx̃,  b = 2Σ_v − Σx̃ ]
                     ▼
    P multipliers aⱼ·bⱼ ─► adder tree over P ─► accumulator over T groups ─► s
                     ▼
    output scaler y = round(s·A / 2^k) (shift-and-add, constant A) ─► FIFO ─► o.payload

Every stage is registered and the pipeline never stalls: backpressure is handled by credits.
A vector is accepted only while the output FIFO has room for every vector in flight, so a
stalled consumer stops the input and never loses a result.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal, signed

from qnnhw.fixedpoint import FixedPointSpec

from .arith import (
    constant_multiply,
    csd_digits,
    delay,
    pack_rows,
    pipelined_sum,
    signed_binary_dot,
    tree_depth,
)
from .folding import FoldedDatapath

__all__ = ["BilinearDatapath"]


class BilinearDatapath(FoldedDatapath):
    """Streaming inference of f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) with ±1 weights, in exact integers.

    Parameters
    ----------
    spec : FixedPointSpec
        Input format, output scaler and every width.
    U, V : array of ±1, shape (m, d)
        Neuron weights; d must equal ``spec.d``.
    parallel : int
        Number of neuron units P, 1 ≤ P ≤ m. The m neurons are processed in
        T = ⌈m/P⌉ cycles per vector; the weights sit in a ROM of T words of 2dP bits when
        T > 1, and are constants when T = 1.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~qnnhw.hdl.folding.FoldedDatapath`.
    """

    def __init__(self, spec: FixedPointSpec, U: np.ndarray, V: np.ndarray, parallel: int):
        U, V = np.asarray(U), np.asarray(V)
        if U.shape != (spec.m, spec.d) or V.shape != (spec.m, spec.d):
            raise ValueError(f"Weights must have shape ({spec.m}, {spec.d}), not {U.shape} and "
                             f"{V.shape}")
        if not (np.isin(U, (-1, 1)).all() and np.isin(V, (-1, 1)).all()):
            raise ValueError("Weights must be ±1")
        self.check_parallel(spec, parallel)
        self._U, self._V = U, V
        # Register stages after the issue stage, in order (see elaborate).
        self._tree_depth = tree_depth(spec.d)
        self._sum_depth = tree_depth(parallel)
        self._scale_depth = tree_depth(len(csd_digits(abs(spec.alpha_mantissa))))
        super().__init__(spec, parallel, self._tree_depth + 1 + 1 + self._sum_depth + 1
                         + self._scale_depth + 1)

    def weight_rows(self) -> list[int]:
        """ROM contents: word g holds, for unit p, u of neuron gP+p in bits [2dp, 2dp+d) and v
        in bits [2dp+d, 2dp+2d), bit set for +1. Padding neurons beyond m are all zero."""
        return pack_rows([np.concatenate([self._U[k] > 0, self._V[k] > 0]).astype(int)
                          for k in range(self.spec.m)], self.parallel, 1)

    def elaborate(self, platform):
        m = Module()
        spec, P, T = self.spec, self.parallel, self.groups
        d = spec.d
        issue = self.issue_stage(m)
        word = self.rom(m, "weights", self.weight_rows(), 2 * d * P, issue.next_group)

        # -- hidden layer: per unit, a = 2 Σ_{u=+1} x̃ − Σ x̃ (likewise b) --------------------
        lifted = self.lifted(issue.x, spec.replicas)
        total, depth = pipelined_sum(m, lifted, name="xsum")
        assert depth == self._tree_depth
        neurons = []
        for unit in range(P):
            pair = []
            for half, label in ((0, "a"), (1, "b")):
                base = 2 * d * unit + d * half
                pair.append(signed_binary_dot(m, lifted, word[base:base + d], total,
                                              spec.neuron_width, name=f"{label}{unit}"))
            neurons.append(pair)

        # -- P multipliers; padding units in the last group contribute zero -----------------
        last_at_product = delay(m, issue.last, self._tree_depth + 1, name="last_p")
        products = []
        active_in_last = spec.m - (T - 1) * P
        for unit, (a, b) in enumerate(neurons):
            product = Signal(signed(spec.product_width), name=f"p{unit}")
            if unit < active_in_last:
                m.d.sync += product.eq(a * b)
            else:
                m.d.sync += product.eq(0)
                with m.If(~last_at_product):
                    m.d.sync += product.eq(a * b)
            products.append(product)
        group_sum, sum_depth = pipelined_sum(m, products, name="psum")
        assert sum_depth == self._sum_depth

        # -- accumulate over the T groups of one vector --------------------------------------
        s, s_valid = self.accumulate(m, group_sum, issue, self._tree_depth + 2 + sum_depth,
                                     spec.sum_width)

        # -- output scaler y = round_half_up(s·A / 2^k) ---------------------------------------
        scaled, scale_depth = constant_multiply(m, s, spec.alpha_mantissa, name="scale")
        assert scale_depth == self._scale_depth
        scaled_valid = delay(m, s_valid, scale_depth, name="valid_s")
        y = Signal(signed(spec.output_width))
        y_valid = Signal()
        k = spec.alpha_shift
        rounded = (scaled + (1 << (k - 1))) >> k if k > 0 else scaled << -k
        m.d.sync += [y.eq(rounded), y_valid.eq(scaled_valid)]
        self.output(m, y, y_valid)
        return m
