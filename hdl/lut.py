"""Streaming datapaths of a LUT network: fully unrolled, one input vector per clock
(:class:`LutDatapath`), or with its output sums folded onto P units (:class:`FoldedLutDatapath`).

Data flow of the unrolled datapath (exact; see :mod:`qnnhw.families.lut.fixedpoint`)::

    i.payload ─► x register ─► compare: bit (f, t) = x_f ≥ Θ_{f,t}, for the bits in use
                     ▼
                 neurons: neuron k = its truth table at its k bits (one LUT for k ≤ 4)
                     ▼
                 per output c: Σₖ |Wₖ꜀|·ãₖ꜀ by a compressor tree (ãₖ꜀ = aₖ, or its
                 complement where Wₖ꜀ < 0, since W·a = |W|·(1 − a) − |W|)
                     ▼
                 y꜀ = (C꜀ − Σ_{W<0} |Wₖ꜀|) + that sum ─► argmax tree (C ≥ 3) ─► FIFO ─► o

There is no folding counter and no weight memory: every weight is a constant of the logic.
The folded datapath keeps the comparators and the neurons, and walks the neurons P at a
time for the sums (see its docstring). The data registers have no reset (the pipeline's
valid bits qualify them): a reset would be one more input of every LUT, and a neuron's LUT4
has none to spare.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

from .arith import CompressorPlan, at_least, compressor_plan, weighted_bit_sum
from .folding import FoldedDatapath, FoldedOutputNumbers, argmax_depth
from .numbers import DatapathNumbers
from .pipeline import Stages, Tracker

__all__ = ["FoldedLutDatapath", "FoldedLutNumbers", "LutDatapath", "LutNumbers",
           "output_plans", "output_terms", "sum_depth"]


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


class FoldedLutNumbers(LutNumbers, FoldedOutputNumbers, Protocol):
    """The numbers of a LUT network with its output sums folded (:class:`FoldedLutDatapath`)."""


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


def thermometer_neurons(m: Module, spec: LutNumbers, x: Any, pipe: Tracker) -> list[Value]:
    """Stages ``compare`` (the thermometer bits the neurons read, x_f ≥ Θ_{f,t}) and
    ``neurons`` (each neuron's truth table at its bits): the K neuron registers."""
    levels = spec.threshold_matrix.shape[1]
    bits = {}
    for bit in sorted(set(spec.neuron_inputs.ravel().tolist())):
        feature, level = divmod(bit, levels)
        register = Signal(name=f"b{feature}_{level}", reset_less=True)
        m.d.sync += register.eq(at_least(x[feature], int(spec.threshold_matrix[feature, level])))
        bits[bit] = register
    pipe.advance("compare", 1)
    neurons = []
    for index, (inputs, table) in enumerate(zip(spec.neuron_inputs, spec.tables)):
        register = Signal(name=f"a{index}", reset_less=True)
        address = Cat(*(bits[int(bit)] for bit in inputs))
        m.d.sync += register.eq(Const(table, 1 << len(inputs)).bit_select(address, 1))
        neurons.append(register)
    pipe.advance("neurons", 1)
    return neurons


def check_lut_numbers(spec: LutNumbers) -> None:
    """Refuse neurons that read bits the thermometer does not have, or malformed tables."""
    inputs = spec.neuron_inputs
    if inputs.shape[0] != len(spec.tables) or inputs.size and (
            inputs.min() < 0 or inputs.max() >= spec.threshold_matrix.size):
        raise ValueError(f"Neuron inputs must be {len(spec.tables)} rows of thermometer "
                         f"bits below {spec.threshold_matrix.size}")
    if any(not 0 <= table < 1 << (1 << spec.d) for table in spec.tables):
        raise ValueError(f"Truth tables must have {1 << spec.d} bits")


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
        As in :class:`~hdl.folding.FoldedDatapath`; the initiation interval is 1.
    """

    spec: LutNumbers

    def __init__(self, spec: LutNumbers, scores: bool = True):
        check_lut_numbers(spec)
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
        neurons = thermometer_neurons(m, spec, issue.x, pipe)
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

    @staticmethod
    def _delay(m: Module, value: Value, cycles: int, name: str) -> Value:
        """``value`` through ``cycles`` registers (a shallower tree waits for the deepest)."""
        for cycle in range(cycles):
            register = Signal.like(value, name=f"{name}_wait{cycle}", reset_less=True)
            m.d.sync += register.eq(value)
            value = register
        return value


class FoldedLutDatapath(FoldedDatapath):
    """Streaming inference of a LUT network whose output sums are folded onto P units.

    Every neuron keeps its own LUT (the input vector is held while its T = ⌈K/P⌉ groups
    go by); in group g, unit p takes neuron gP + p from the head of its shift register of
    neurons (loaded at the vector's first group), which gates that neuron's C output
    weights, read from a ROM of T words, into C sums accumulated over the groups. The
    compressor trees of :class:`LutDatapath`, which grow with K·C, become P·C gated weights
    and C adder trees over P: for networks whose trees do not fit the device. Same integers
    as :class:`LutDatapath`.

    Parameters
    ----------
    spec : LutNumbers
        Thresholds, truth tables, rounded output weights and every width.
    parallel : int
        Units P, 1 ≤ P ≤ K.
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~hdl.folding.FoldedDatapath`; the initiation interval is T.
    """

    spec: FoldedLutNumbers

    def __init__(self, spec: FoldedLutNumbers, parallel: int, scores: bool = True):
        check_lut_numbers(spec)
        self.check_parallel(spec, parallel)
        super().__init__(spec, parallel, self.stages_for(spec, parallel), scores=scores)

    @classmethod
    def stages_for(cls, spec: FoldedLutNumbers, parallel: int) -> Stages:
        """The register stages of the datapath for P = ``parallel`` units."""
        return Stages([
            ("compare", 1),
            ("neurons", 1),
            ("select", 1),
            *cls.gated_output_stages(spec, parallel),
        ])

    @classmethod
    def rom_word_widths(cls, spec: FoldedLutNumbers, parallel: int) -> list[int]:
        """Bits of a word of the output-weight ROM (for resource estimates)."""
        return [cls.output_layout(spec, parallel).size]

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, P = self.spec, self.parallel
        issue = self.issue_stage(m)
        pipe = issue.pipe
        neurons = thermometer_neurons(m, spec, issue.x, pipe)
        # Unit p's neurons in group order, gP + p (padding: nothing, W = 0 there), in a shift
        # register loaded at a vector's first group: each unit reads the head of its chain.
        # Neighbours only, where a T:1 multiplexer would fan every neuron out across the
        # device and leave it to the router.
        load = pipe["first"]
        selected = []
        for unit in range(P):
            chain = [Signal(name=f"s{unit}_{group}", reset_less=True)
                     for group in range(self.groups)]
            for group, register in enumerate(chain):
                index = group * P + unit
                loaded = neurons[index] if index < spec.m else Const(0)
                following = chain[group + 1] if group + 1 < len(chain) else Const(0)
                m.d.sync += register.eq(Mux(load, loaded, following))
            selected.append(chain[0])
        pipe.advance("select", 1)
        scores = self.gated_scores(m, spec, selected, pipe)
        self.output(m, self.decide(m, scores, pipe), pipe)
        return m
