"""Streaming datapath of a LUT network, fully unrolled: one input vector per clock.

Data flow (all arithmetic exact; see :mod:`qnnhw.families.lut.fixedpoint`)::

    i.payload ─► x register ─► compare: bit (f, t) = x_f ≥ Θ_{f,t}, for the bits in use
                     ▼
                 neurons: neuron k = its truth table at its k bits (one LUT for k ≤ 4)
                     ▼
                 per output c: Σₖ |Wₖ꜀|·ãₖ꜀ by a compressor tree (ãₖ꜀ = aₖ, or its
                 complement where Wₖ꜀ < 0, since W·a = |W|·(1 − a) − |W|)
                     ▼
                 y꜀ = (C꜀ − Σ_{W<0} |Wₖ꜀|) + that sum ─► argmax tree (C ≥ 3) ─► FIFO ─► o

There is no folding counter and no weight memory: every weight is a constant of the logic.
The data registers have no reset (the pipeline's valid bits qualify them): a reset would be
one more input of every LUT, and a neuron's LUT4 has none to spare.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Cat, Const, Module, Signal, Value, signed

from .arith import CompressorPlan, at_least, compressor_plan, weighted_bit_sum
from .folding import FoldedDatapath, argmax_depth
from .numbers import DatapathNumbers
from .pipeline import Stages, Tracker

__all__ = ["LutDatapath", "LutNumbers", "output_plans", "output_terms", "sum_depth"]


class LutNumbers(DatapathNumbers, Protocol):
    """The numbers of a LUT network, as its datapath needs them (the LUT family's
    fixed-point spec provides them)."""

    @property
    def threshold_matrix(self) -> np.ndarray:
        """Θ of each feature's thermometer bits, F × T."""
    @property
    def neuron_inputs(self) -> np.ndarray:
        """The thermometer bits each neuron reads, K × k."""
    @property
    def tables(self) -> tuple[int, ...]:
        """Each neuron's truth table over its k bits."""
    @property
    def weight_matrix(self) -> np.ndarray:
        """The integer output weights Wₖ꜀, K × C."""
    @property
    def output_biases(self) -> tuple[int, ...]: ...


def output_terms(spec: LutNumbers) -> list[tuple[list[tuple[int, int, bool]], int]]:
    """Per output: its terms (neuron, |W|, complemented) and its constant C꜀ − Σ_{W<0} |W|."""
    weights = spec.weight_matrix
    result = []
    for output, bias in enumerate(spec.output_biases):
        column = weights[:, output]
        terms = [(int(k), int(abs(column[k])), bool(column[k] < 0))
                 for k in np.flatnonzero(column)]
        result.append((terms, int(bias) + int(np.minimum(column, 0).sum())))
    return result


def output_plans(spec: LutNumbers) -> list[CompressorPlan]:
    """Per output, the compressor tree that sums its weighted neurons."""
    plans = []
    for terms, _ in output_terms(spec):
        heights: list[int] = []
        for _, weight, _ in terms:
            for column in range(weight.bit_length()):
                heights.extend([0] * (column + 1 - len(heights)))
                heights[column] += weight >> column & 1
        plans.append(compressor_plan(heights))
    return plans


def sum_depth(spec: LutNumbers) -> int:
    """Register stages of the deepest output's compressor tree."""
    return max(plan.depth for plan in output_plans(spec))


class LutDatapath(FoldedDatapath):
    """Streaming inference of a LUT network, one vector per clock, in exact integers.

    Parameters
    ----------
    spec : LutNumbers
        Thresholds, truth tables, rounded output weights and every width.
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~qnnhw.hdl.folding.FoldedDatapath`; the initiation interval is 1.
    """

    spec: LutNumbers

    def __init__(self, spec: LutNumbers, scores: bool = True):
        inputs = spec.neuron_inputs
        if inputs.shape[0] != len(spec.tables) or inputs.size and (
                inputs.min() < 0 or inputs.max() >= spec.threshold_matrix.size):
            raise ValueError(f"Neuron inputs must be {len(spec.tables)} rows of thermometer "
                             f"bits below {spec.threshold_matrix.size}")
        if any(not 0 <= table < 1 << (1 << spec.d) for table in spec.tables):
            raise ValueError(f"Truth tables must have {1 << spec.d} bits")
        super().__init__(spec, 1, self.stages_for(spec), groups=1, scores=scores)

    @staticmethod
    def stages_for(spec: LutNumbers) -> Stages:
        """The register stages of the datapath."""
        return Stages([
            ("compare", 1),
            ("neurons", 1),
            ("sum", sum_depth(spec)),
            ("bias", 1),
            ("argmax", argmax_depth(spec.outputs)),
            ("output", 1),
        ])

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec = self.spec
        issue = self.issue_stage(m)
        pipe = issue.pipe
        bits = self._thermometer(m, issue.x, pipe)
        neurons = self._neurons(m, bits, pipe)
        sums, depths = [], []
        for output, (terms, _) in enumerate(output_terms(spec)):
            total, depth = weighted_bit_sum(
                m, [(~neurons[k] if negated else neurons[k], weight)
                    for k, weight, negated in terms], name=f"sum{output}")
            sums.append(total)
            depths.append(depth)
        deepest = max(depths)
        sums = [self._delay(m, total, deepest - depth, f"sum{output}")
                for output, (total, depth) in enumerate(zip(sums, depths))]
        pipe.advance("sum", deepest)
        scores = []
        for output, (total, (_, offset)) in enumerate(zip(sums, output_terms(spec))):
            score = Signal(signed(spec.output_width), name=f"y{output}", reset_less=True)
            m.d.sync += score.eq(total + offset)
            scores.append(score)
        pipe.advance("bias", 1)
        self.output(m, self.decide(m, scores, pipe), pipe)
        return m

    def _thermometer(self, m: Module, x: Any, pipe: Tracker) -> dict[int, Value]:
        """Stage ``compare``: the thermometer bits the neurons read, by bit index."""
        spec = self.spec
        levels = spec.threshold_matrix.shape[1]
        bits = {}
        for bit in sorted(set(spec.neuron_inputs.ravel().tolist())):
            feature, level = divmod(bit, levels)
            register = Signal(name=f"b{feature}_{level}", reset_less=True)
            m.d.sync += register.eq(at_least(x[feature],
                                             int(spec.threshold_matrix[feature, level])))
            bits[bit] = register
        pipe.advance("compare", 1)
        return bits

    def _neurons(self, m: Module, bits: dict[int, Value], pipe: Tracker) -> list[Value]:
        """Stage ``neurons``: each neuron's truth table at its bits."""
        spec = self.spec
        neurons = []
        for index, (inputs, table) in enumerate(zip(spec.neuron_inputs, spec.tables)):
            register = Signal(name=f"a{index}", reset_less=True)
            address = Cat(*(bits[int(bit)] for bit in inputs))
            m.d.sync += register.eq(Const(table, 1 << len(inputs)).bit_select(address, 1))
            neurons.append(register)
        pipe.advance("neurons", 1)
        return neurons

    @staticmethod
    def _delay(m: Module, value: Value, cycles: int, name: str) -> Value:
        """``value`` through ``cycles`` registers (a shallower tree waits for the deepest)."""
        for cycle in range(cycles):
            register = Signal.like(value, name=f"{name}_wait{cycle}", reset_less=True)
            m.d.sync += register.eq(value)
            value = register
        return value
