"""Streaming datapath of a ±1 bilinear network: adder trees, m multipliers folded onto P units.

Data flow for one input vector (all arithmetic exact; see
:mod:`qnnhw.families.bilinear.fixedpoint`)::

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

from typing import Any

import numpy as np
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data

from qnnhw.families.bilinear.fixedpoint import BilinearSpec

from .arith import constant_multiply, csd_digits, pipelined_sum, signed_binary_dot, tree_depth
from .folding import FoldedDatapath
from .pipeline import Stages

__all__ = ["BilinearDatapath"]


def _word_layout(d: int, parallel: int) -> data.ArrayLayout:
    """A ROM word: for each of the P units, the masks of u and v (bit i set for +1)."""
    return data.ArrayLayout(data.StructLayout({"u": unsigned(d), "v": unsigned(d)}), parallel)


class BilinearDatapath(FoldedDatapath):
    """Streaming inference of f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) with ±1 weights, in exact integers.

    Parameters
    ----------
    spec : BilinearSpec
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

    def __init__(self, spec: BilinearSpec, U: np.ndarray, V: np.ndarray, parallel: int):
        U, V = np.asarray(U), np.asarray(V)
        if U.shape != (spec.m, spec.d) or V.shape != (spec.m, spec.d):
            raise ValueError(f"Weights must have shape ({spec.m}, {spec.d}), not {U.shape} and "
                             f"{V.shape}")
        if not (np.isin(U, (-1, 1)).all() and np.isin(V, (-1, 1)).all()):
            raise ValueError("Weights must be ±1")
        self.check_parallel(spec, parallel)
        self._U, self._V = U, V
        super().__init__(spec, parallel, Stages([
            ("neurons", tree_depth(spec.d) + 1),
            ("product", 1),
            ("sum", tree_depth(parallel)),
            ("accumulate", 1),
            ("scale", tree_depth(len(csd_digits(abs(spec.alpha_mantissa))))),
            ("output", 1),
        ]))

    @staticmethod
    def rom_word_widths(spec: BilinearSpec, parallel: int) -> list[int]:
        """Bits of a word of each weight ROM (for resource estimates)."""
        return [_word_layout(spec.d, parallel).size]

    def weight_words(self) -> list[data.Const]:
        """ROM contents: word g holds, for unit p, u and v of neuron gP+p as masks (bit i set
        for +1). Padding neurons beyond m are all zero."""
        spec, P = self.spec, self.parallel
        layout = _word_layout(spec.d, P)

        def mask(row: np.ndarray) -> int:
            return sum(1 << i for i, weight in enumerate(row) if weight > 0)

        return [layout.const([{"u": mask(self._U[k]), "v": mask(self._V[k])}
                              for k in range(group * P, min((group + 1) * P, spec.m))])
                for group in range(self.groups)]

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, P, T = self.spec, self.parallel, self.groups
        issue = self.issue_stage(m)
        pipe = issue.pipe
        word = self.rom(m, "weights", _word_layout(spec.d, P), self.weight_words(),
                        pipe["address"])

        # -- hidden layer: per unit, a = 2 Σ_{u=+1} x̃ − Σ x̃ (likewise b) --------------------
        lifted = self.lifted(issue.x, spec.replicas)
        total, _ = pipelined_sum(m, lifted, name="xsum")
        neurons = []
        for unit in range(P):
            a, depth = signed_binary_dot(m, lifted, word[unit].u, total, spec.neuron_width,
                                         name=f"a{unit}")
            b, _ = signed_binary_dot(m, lifted, word[unit].v, total, spec.neuron_width,
                                     name=f"b{unit}")
            neurons.append((a, b))
        pipe.advance("neurons", depth)

        # -- P multipliers; padding units in the last group contribute zero -----------------
        products = []
        active_in_last = spec.m - (T - 1) * P
        for unit, (a, b) in enumerate(neurons):
            product = Signal(signed(spec.product_width), name=f"p{unit}")
            if unit < active_in_last:
                m.d.sync += product.eq(a * b)
            else:
                m.d.sync += product.eq(0)
                with m.If(~pipe["last"]):
                    m.d.sync += product.eq(a * b)
            products.append(product)
        pipe.advance("product", 1)
        group_sum, depth = pipelined_sum(m, products, name="psum")
        pipe.advance("sum", depth)

        # -- accumulate over the T groups of one vector, then y = round_half_up(s·A / 2^k) ---
        s = self.accumulate(m, group_sum, pipe, spec.sum_width)
        scaled, depth = constant_multiply(m, s, spec.alpha_mantissa, name="scale")
        pipe.advance("scale", depth)
        k = spec.alpha_shift
        rounded = (scaled + (1 << (k - 1))) >> k if k > 0 else scaled << -k
        self.output(m, rounded, pipe)
        return m
