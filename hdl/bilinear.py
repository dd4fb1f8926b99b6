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

With C outputs the neurons of each output fill whole groups (the last one of an output
padded with disabled units), so the accumulator restarts at each output's first group and
the one scaler sees s₀ … s_{C−1} in turn; a collector keeps the C scores and the first of the
largest, and sends them on after the last. T = Σ꜀ ⌈m꜀/P⌉ ≥ C.

Every stage is registered and the pipeline never stalls: backpressure is handled by credits.
A vector is accepted only while the output FIFO has room for every vector in flight, so a
stalled consumer stops the input and never loses a result.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from .arith import constant_multiply, csd_digits, pipelined_sum, signed_binary_dot, tree_depth
from .folding import FoldedDatapath
from .numbers import ScaledSumNumbers
from .pipeline import Stages

__all__ = ["BilinearNumbers", "BilinearDatapath"]


class BilinearNumbers(ScaledSumNumbers, Protocol):
    """The numbers of a bilinear network, as its neuron datapath needs them (the bilinear
    family's fixed-point spec provides them)."""

    @property
    def replicas(self) -> int: ...
    @property
    def class_neurons(self) -> tuple[int, ...]: ...
    @property
    def neuron_width(self) -> int: ...
    @property
    def product_width(self) -> int: ...


def _word_layout(spec: BilinearNumbers, parallel: int) -> data.Layout:
    """A ROM word: for each of the P units, the masks of u and v (bit i set for +1); with C
    outputs also which units are enabled and whether the group is its output's first or
    last."""
    units = data.ArrayLayout(data.StructLayout({"u": unsigned(spec.d), "v": unsigned(spec.d)}),
                             parallel)
    if spec.outputs == 1:
        return units
    return data.StructLayout({"units": units, "enable": unsigned(parallel),
                              "first": unsigned(1), "last": unsigned(1)})


def _output_groups(spec: BilinearNumbers, parallel: int) -> list[list[int]]:
    """The neurons of each group (padding omitted): consecutive P at a time, and with C
    outputs, never two outputs in one group."""
    groups = []
    start = 0
    for count in spec.class_neurons or (spec.m,):
        groups += [list(range(start + first, start + min(first + parallel, count)))
                   for first in range(0, count, parallel)]
        start += count
    return groups


class BilinearDatapath(FoldedDatapath):
    """Streaming inference of f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) with ±1 weights, in exact integers.

    Parameters
    ----------
    spec : BilinearNumbers
        Input format, output scaler and every width.
    U, V : array of ±1, shape (m, d)
        Neuron weights; d must equal ``spec.d``.
    parallel : int
        Number of neuron units P, 1 ≤ P ≤ m. The m neurons are processed in
        T = ⌈m/P⌉ cycles per vector (Σ꜀ ⌈m꜀/P⌉ for C outputs); the weights sit in a ROM of
        T words of 2dP bits when T > 1, and are constants when T = 1.
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~hdl.folding.FoldedDatapath`.
    """

    spec: BilinearNumbers

    def __init__(self, spec: BilinearNumbers, U: np.ndarray, V: np.ndarray, parallel: int,
                 scores: bool = True):
        U, V = np.asarray(U), np.asarray(V)
        if U.shape != (spec.m, spec.d) or V.shape != (spec.m, spec.d):
            raise ValueError(f"Weights must have shape ({spec.m}, {spec.d}), not {U.shape} and "
                             f"{V.shape}")
        if not (np.isin(U, (-1, 1)).all() and np.isin(V, (-1, 1)).all()):
            raise ValueError("Weights must be ±1")
        self.check_parallel(spec, parallel)
        self._U, self._V = U, V
        self._groups = _output_groups(spec, parallel)
        super().__init__(spec, parallel, self.stages_for(spec, parallel),
                         groups=len(self._groups), scores=scores)

    @staticmethod
    def stages_for(spec: BilinearNumbers, parallel: int) -> Stages:
        """The register stages of the datapath for P = ``parallel`` units."""
        return Stages([
            ("neurons", tree_depth(spec.d) + 1),
            ("product", 1),
            ("sum", tree_depth(parallel)),
            ("accumulate", 1),
            ("scale", tree_depth(len(csd_digits(abs(spec.alpha_mantissa))))),
            ("collect", 0 if spec.outputs == 1 else 1),
            ("output", 1),
        ])

    @staticmethod
    def rom_word_widths(spec: BilinearNumbers, parallel: int) -> list[int]:
        """Bits of a word of each weight ROM (for resource estimates)."""
        return [_word_layout(spec, parallel).size]

    @staticmethod
    def group_count(spec: BilinearNumbers, parallel: int) -> int:
        """T: cycles per vector with P = ``parallel`` units."""
        return len(_output_groups(spec, parallel))

    def weight_words(self) -> list[data.Const]:
        """ROM contents: word g holds, for unit p, u and v of the group's neuron p as masks
        (bit i set for +1). Padding units are all zero (and, with C outputs, disabled)."""
        spec, P = self.spec, self.parallel
        layout = _word_layout(spec, P)

        def mask(row: np.ndarray) -> int:
            return sum(1 << i for i, weight in enumerate(row) if weight > 0)

        words = []
        ends = set(np.cumsum(spec.class_neurons or (spec.m,)).tolist())
        starts = {0} | ends
        for neurons in self._groups:
            units = [{"u": mask(self._U[k]), "v": mask(self._V[k])} for k in neurons]
            if spec.outputs == 1:
                words.append(layout.const(units))
            else:
                words.append(layout.const({
                    "units": units, "enable": (1 << len(neurons)) - 1,
                    "first": int(neurons[0] in starts), "last": int(neurons[-1] + 1 in ends)}))
        return words

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, P, T = self.spec, self.parallel, self.groups
        issue = self.issue_stage(m)
        pipe = issue.pipe
        word = self.rom(m, "weights", _word_layout(spec, P), self.weight_words(),
                        pipe["address"])
        if spec.outputs > 1:
            pipe.carry("enable", word.enable)
            pipe.carry("output_first", word.first)
            pipe.carry("output_last", word.last)
            word = word.units

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

        # -- P multipliers; padding units contribute zero ------------------------------------
        products = []
        active_in_last = spec.m - (T - 1) * P
        for unit, (a, b) in enumerate(neurons):
            product = Signal(signed(spec.product_width), name=f"p{unit}")
            if spec.outputs > 1:
                m.d.sync += product.eq(Mux(pipe["enable"][unit], a * b, 0))
            elif unit < active_in_last:
                m.d.sync += product.eq(a * b)
            else:
                m.d.sync += product.eq(0)
                with m.If(~pipe["last"]):
                    m.d.sync += product.eq(a * b)
            products.append(product)
        pipe.advance("product", 1)
        group_sum, depth = pipelined_sum(m, products, name="psum")
        pipe.advance("sum", depth)

        # -- accumulate over an output's groups, then y = round_half_up(s·A / 2^k) -----------
        first = None if spec.outputs == 1 else pipe["output_first"]
        s, = self.accumulate(m, [group_sum], pipe, spec.sum_width, first)
        scaled, depth = constant_multiply(m, s, spec.alpha_mantissa, name="scale")
        pipe.advance("scale", depth)
        k = spec.alpha_shift
        rounded = (scaled + (1 << (k - 1))) >> k if k > 0 else scaled << -k
        if spec.outputs == 1:
            pipe.advance("collect", 0)
            self.output(m, rounded, pipe)
        else:
            self.output(m, self.collect(m, rounded, pipe), pipe)
        return m
