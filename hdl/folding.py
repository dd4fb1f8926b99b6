"""What every folded datapath shares: P units stepping through T = ⌈K/P⌉ weight groups.

The issue stage holds one input vector for T cycles while a group counter walks the weight
ROM; the units' results are summed over P and accumulated over the T groups; the result
goes through an output FIFO. Backpressure is handled by credits: a vector is accepted only
while the FIFO has room for every vector in flight, so the pipeline itself never stalls and
a stalled consumer never loses a result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Const, Module, Mux, Shape, ShapeLike, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import pipelined_argmax, pipelined_sum, tree_depth
from .numbers import DatapathNumbers
from .pipeline import Stages, Tracker

__all__ = ["FoldedDatapath", "FoldedOutputNumbers", "IssueStage", "argmax_depth",
           "fifo_depth", "output_shape", "output_word_width", "output_words"]


class FoldedOutputNumbers(DatapathNumbers, Protocol):
    """The numbers of an output layer of 0/1 neurons and integer weights, walked group by
    group (:meth:`FoldedDatapath.gated_scores`)."""

    @property
    def weight_bits(self) -> int:
        """Width of the signed output weights."""
    @property
    def weight_matrix(self) -> np.ndarray:
        """The integer output weights Wₖ꜀, K × C."""
    @property
    def output_biases(self) -> tuple[int, ...]: ...
    @property
    def sum_width(self) -> int:
        """Width of every partial sum of Σₖ aₖ·Wₖ꜀ (the bias comes last)."""


def output_shape(spec: DatapathNumbers, scores: bool = True) -> ShapeLike:
    """What a datapath returns per vector: y (one output), or for C outputs the class and
    the scores, ``{"label": unsigned, "scores": C × signed(output_width)}`` (without
    ``scores``: ``{"label": unsigned}``)."""
    score = signed(spec.output_width)
    if spec.outputs == 1:
        return score
    fields: dict[str, ShapeLike] = {"label": unsigned(max(1, (spec.outputs - 1).bit_length()))}
    if scores:
        fields["scores"] = data.ArrayLayout(score, spec.outputs)
    return data.StructLayout(fields)


def output_words(spec: DatapathNumbers, outputs: np.ndarray, scores: bool = True) -> list[int]:
    """Integer outputs (a reference's: y, or C scores per row) as the datapath's output words,
    its ``o.payload``: y, or the class (the first of the largest scores) and, with
    ``scores``, the scores, packed as :func:`output_shape` lays them out (an unsigned
    integer)."""
    if spec.outputs == 1:
        return [int(y) for y in outputs]
    label_bits = max(1, (spec.outputs - 1).bit_length())
    mask = (1 << spec.output_width) - 1
    words = []
    for row in np.asarray(outputs):
        word = int(np.argmax(row))
        if scores:
            for index, score in enumerate(row.tolist()):
                word |= (score & mask) << (label_bits + index * spec.output_width)
        words.append(word)
    return words


def output_word_width(spec: DatapathNumbers, scores: bool = True) -> int:
    """Bits of one output word (the FIFO's width)."""
    return Shape.cast(output_shape(spec, scores)).width


def fifo_depth(groups: int, stage_depth: int) -> int:
    """Output FIFO depth of a datapath of T = ``groups`` cycles per vector and
    ``stage_depth`` register stages: the vectors in flight at full rate, plus one."""
    # The last group issues T cycles after the handshake; SyncFIFOBuffered shows a written
    # word on its read side two cycles after the write. At full rate ⌈latency/T⌉ vectors
    # are in flight; one more keeps the credit check from ever throttling a consumer that
    # is always ready.
    return math.ceil((groups + stage_depth + 2) / groups) + 1


def argmax_depth(outputs: int) -> int:
    """Register stages of the class decision (none for one output)."""
    return 0 if outputs == 1 else math.ceil(math.log2(outputs))


@dataclass
class IssueStage:
    """The issue stage's signals, as the units see them."""

    x: Value            # the input vector being processed
    pipe: Tracker       # its control beside the data: valid, first, last group, ROM address


class FoldedDatapath(wiring.Component):
    """Base of the streaming datapaths: stream interface, issue stage, ROM, accumulator, FIFO.

    Parameters
    ----------
    spec : DatapathNumbers
        The numbers of the network (a family's fixed-point spec).
    parallel : int
        Units P, 1 ≤ P ≤ m.
    stages : Stages
        The register stages from the issue stage to the output register, declared by the
        subclass; its elaboration is checked against them, so the latency and the hardware
        cannot disagree.
    groups : int, optional
        Weight groups T per vector (default ⌈m/P⌉).
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class
        (without them the decision needs no score registers and the FIFO is narrow).

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(B), features)))
        One input vector per transfer, feature k in ``payload[k]``.
    o : Out(stream.Signature(output_shape(spec, scores)))
        One output per vector, in input order: y, or for C outputs the class (the first of
        the largest scores) and, with ``scores``, the C scores.
    groups : int
        T, by default ⌈m/P⌉.
    initiation_interval : int
        Cycles between accepted vectors at full rate (T).
    latency : int
        Cycles from an input handshake to ``o.valid`` for that vector, with no stalls.
    fifo_depth : int
        Output FIFO depth, which is also the number of vectors allowed in flight.
    in_flight : Signal(range(fifo_depth + 1))
        Vectors accepted on ``i`` whose outputs have not left on ``o`` (the credits used).
    busy, group : Signal, Signal(range(groups))
        The issue stage: whether a vector is being issued, and which of its T groups.
    occupancy : Signal
        Vectors between the input handshake and the output FIFO. With ``output_fifo`` it is
        there for the formal proofs of :mod:`sim.formal` (the credits' inductive
        invariant); no logic reads it, so synthesis removes it.
    output_fifo : SyncFIFOBuffered
        The output FIFO (exposed for the formal proofs of :mod:`sim.formal`).
    """

    @staticmethod
    def check_parallel(spec: DatapathNumbers, parallel: int) -> None:
        """Subclasses call this first: their pipeline depth depends on P."""
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise TypeError(f"Parallel units must be an integer, not {parallel!r}")
        if not 1 <= parallel <= spec.m:
            raise ValueError(f"Parallel units must be between 1 and m={spec.m}, not {parallel}")

    def __init__(self, spec: DatapathNumbers, parallel: int, stages: Stages,
                 groups: int | None = None,
                 scores: bool = True):
        self.check_parallel(spec, parallel)
        self.spec = spec
        self.parallel = parallel
        self.stages = stages
        self.scores = scores
        self.groups = math.ceil(spec.m / parallel) if groups is None else groups
        self.initiation_interval = self.groups
        # The last group issues T cycles after the handshake; SyncFIFOBuffered shows a
        # written word on its read side two cycles after the write.
        self.latency = self.groups + stages.depth + 2
        self.fifo_depth = fifo_depth(self.groups, stages.depth)
        self.in_flight = Signal(range(self.fifo_depth + 1))
        self.busy = Signal()
        self.group = Signal(range(self.groups))
        self.occupancy = Signal(range(self.latency + 2))
        self.output_fifo = fifo.SyncFIFOBuffered(
            width=Shape.cast(output_shape(spec, scores)).width, depth=self.fifo_depth)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(spec.input_bits), spec.features))),
            "o": Out(stream.Signature(output_shape(spec, scores))),
        })

    def issue_stage(self, m: Module) -> IssueStage:
        """Accept a vector (credit permitting) and step through its T groups."""
        T = self.groups
        x = Signal(data.ArrayLayout(signed(self.spec.input_bits), self.spec.features))
        busy, group = self.busy, self.group
        next_group = Signal(range(T))
        in_flight = self.in_flight
        accept = Signal()
        emit = Signal()
        last_group = group == T - 1
        m.d.comb += [
            self.i.ready.eq((~busy | last_group) & (in_flight < self.fifo_depth)),
            accept.eq(self.i.valid & self.i.ready),
            emit.eq(self.o.valid & self.o.ready),
        ]
        m.d.comb += next_group.eq(group)
        with m.If(accept):
            m.d.comb += next_group.eq(0)
        with m.Elif(busy & ~last_group):
            m.d.comb += next_group.eq(group + 1)
        m.d.sync += group.eq(next_group)
        with m.If(accept):
            m.d.sync += [x.eq(self.i.payload), busy.eq(1)]
        with m.Elif(last_group):
            m.d.sync += busy.eq(0)
        with m.If(accept & ~emit):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(emit & ~accept):
            m.d.sync += in_flight.eq(in_flight - 1)
        # The ROM address is the group issued next cycle: its word arrives with the group.
        pipe = self.stages.track(m, valid=busy, first=group == 0, last=last_group,
                                 address=next_group)
        return IssueStage(x=x, pipe=pipe)

    def lifted(self, x: Value, replicas: int = 1) -> list[Value]:
        """The lifted vector x̃: the features, the constant 2^F, each repeated (wiring)."""
        spec = self.spec
        features = list(x) + ([Const(spec.bias_value, signed(spec.input_bits + 1))]
                              if spec.bias else [])
        return [feature for feature in features for _ in range(replicas)]

    def rom(self, m: Module, name: str, layout: data.Layout, words: Sequence[data.Const],
            address: Value) -> Any:
        """A weight ROM of ``layout`` words, as a view: the word for ``address`` appears one
        cycle after it (a constant when there is one group)."""
        if self.groups == 1:
            return data.View(layout, words[0].as_value())
        # In block RAM even when small: logic cells are the scarcer resource.
        weights = memory.Memory(shape=layout, depth=self.groups, init=words,
                                attrs={"ram_style": "block"})
        m.submodules[name] = weights
        read = weights.read_port(domain="sync")
        m.d.comb += read.addr.eq(address)
        return read.data

    @staticmethod
    def output_layout(spec: FoldedOutputNumbers, parallel: int) -> data.ArrayLayout:
        """An output-weight ROM word: the C weights Wₖ꜀ of each unit's neuron."""
        return data.ArrayLayout(data.ArrayLayout(signed(spec.weight_bits), spec.outputs),
                                parallel)

    def rom_words(self, layout: data.ArrayLayout, units: Sequence[Any]) -> list[data.Const]:
        """``units`` (one entry per neuron) as ROM words of P units; padding units are 0."""
        P = self.parallel
        return [layout.const(units[group * P:(group + 1) * P]) for group in range(self.groups)]

    @staticmethod
    def gated_output_stages(spec: FoldedOutputNumbers, parallel: int) -> list[tuple[str, int]]:
        """The stages from :meth:`gated_scores` to the output register (:meth:`decide`,
        :meth:`output`), for a subclass's :class:`Stages` to end with."""
        return [
            ("gate", 1),
            ("sum", tree_depth(parallel)),
            ("accumulate", 1),
            ("bias", 1),
            ("argmax", argmax_depth(spec.outputs)),
            ("output", 1),
        ]

    def output_weight_words(self, spec: FoldedOutputNumbers) -> list[data.Const]:
        """The output-weight ROM: unit p of word g holds the C weights of neuron gP + p."""
        return self.rom_words(self.output_layout(spec, self.parallel),
                              spec.weight_matrix.tolist())

    def gated_scores(self, m: Module, spec: FoldedOutputNumbers, active: Sequence[Value],
                     pipe: Tracker) -> list[Value]:
        """The C scores y꜀ = C꜀ + Σₖ aₖ·Wₖ꜀ from the activations aₖ ∈ {0, 1} of the P units'
        neurons, group by group: stages ``gate`` (each aₖ selects its neuron's C weights from
        the output-weight ROM, read at this stage), ``sum`` (over P), ``accumulate`` (over
        the groups) and ``bias``. Unit p of group g holds neuron gP + p; padding neurons
        have W = 0, so they add nothing. ``spec`` is the datapath's own."""
        P = self.parallel
        word = self.rom(m, "output_weights", self.output_layout(spec, P),
                        self.output_weight_words(spec), pipe["address"])
        selected: list[list[Value]] = [[] for _ in range(spec.outputs)]
        for unit, fires in enumerate(active):
            for output in range(spec.outputs):
                gate = Signal(signed(spec.weight_bits), name=f"g{unit}_{output}")
                m.d.sync += gate.eq(Mux(fires, word[unit][output], 0))
                selected[output].append(gate)
        pipe.advance("gate", 1)
        group_sums = []
        for output, gates in enumerate(selected):
            group_sum, depth = pipelined_sum(m, gates, name=f"gsum{output}")
            group_sums.append(group_sum)
        pipe.advance("sum", depth)
        sums = self.accumulate(m, group_sums, pipe, spec.sum_width)
        scores = []
        # Held scores change only with a vector's last group (see holds_scores).
        load = (pipe["valid"] & pipe["last"] if spec.outputs > 1 and self.holds_scores()
                else Const(1))
        for output, (total, bias) in enumerate(zip(sums, spec.output_biases)):
            score = Signal(signed(spec.output_width), name=f"y{output}")
            with m.If(load):
                m.d.sync += score.eq(total + bias)
            scores.append(score)
        pipe.advance("bias", 1)
        return scores

    def accumulate(self, m: Module, group_sums: Sequence[Value], pipe: Tracker, width: int,
                   first: Value | None = None) -> list[Value]:
        """Sum each of ``group_sums`` (at the pipeline's current stage) over the groups of a
        vector, restarting where ``first`` is set (default: the vector's first group):
        stage ``accumulate``. The totals are complete after it where the sums end."""
        restart = pipe["first"] if first is None else first
        totals = []
        for index, group_sum in enumerate(group_sums):
            accumulator = Signal(signed(width), name=f"accumulator{index}")
            total = Signal(signed(width), name=f"total{index}")
            running = Signal(signed(width), name=f"running{index}")
            m.d.comb += running.eq(group_sum + Mux(restart, 0, accumulator))
            with m.If(pipe["valid"]):
                m.d.sync += accumulator.eq(running)
            m.d.sync += total.eq(running)
            totals.append(total)
        pipe.advance("accumulate", 1)
        return totals

    def holds_scores(self) -> bool:
        """Whether the C scores of a vector, registered once, stay still while the class is
        decided: when the next vector's come more than the decision's depth later (T > depth),
        the scores need no delay registers beside the comparator tree (nor when they are not
        sent)."""
        return not self.scores or self.groups > argmax_depth(self.spec.outputs)

    def decide(self, m: Module, scores: Sequence[Value], pipe: Tracker) -> Value:
        """Stage ``argmax``: the output word for the scores (see :func:`output_shape`), the
        class being the first of the largest. The scores must be held (registered only at a
        vector's last group) when :meth:`holds_scores`."""
        if self.spec.outputs == 1:
            pipe.advance("argmax", 0)
            return scores[0]
        label, delayed, depth = pipelined_argmax(m, scores, name="argmax",
                                                 delay=not self.holds_scores())
        pipe.advance("argmax", depth)
        word = Signal(output_shape(self.spec, self.scores))
        m.d.comb += word.label.eq(label)
        if self.scores:
            m.d.comb += [word.scores[index].eq(score) for index, score in enumerate(delayed)]
        return word

    def collect(self, m: Module, y: Value, pipe: Tracker) -> Value:
        """Stage ``collect``, for datapaths that compute one output at a time: y₀ … y_{C−1}
        arrive in turn (each where control signal ``output_last`` is set); keep them and the
        first of the largest. After the last output of a vector the registers hold its
        output word."""
        spec = self.spec
        word = Signal(output_shape(spec, self.scores))
        index = Signal(range(spec.outputs))
        best = Signal(signed(spec.output_width))
        # Every control signal is fetched here: fetching one creates its delay registers,
        # which must not be created inside an m.If.
        arrives = pipe["valid"] & pipe["output_last"]
        vector_done = pipe["last"]
        with m.If(arrives):
            for output in range(spec.outputs if self.scores else 0):
                with m.If(index == output):
                    m.d.sync += word.scores[output].eq(y)
            with m.If((index == 0) | (y > best)):
                m.d.sync += [best.eq(y), word.label.eq(index)]
            m.d.sync += index.eq(Mux(vector_done, 0, index + 1))
        pipe.advance("collect", 1)
        return word

    def output(self, m: Module, y: Value, pipe: Tracker) -> None:
        """Register the output word (stage ``output``) into the FIFO between it and ``o``."""
        shape = output_shape(self.spec, self.scores)
        result = stream.Signature(shape).create()
        y_register = Signal(shape)
        m.d.sync += y_register.eq(y)
        pipe.advance("output", 1)
        pipe.finish()
        # A vector is in the issue stage while it is busy, then where valid and last travel
        # together, until it is written to the FIFO.
        valid, last = pipe.chain("valid"), pipe.chain("last")
        m.d.comb += self.occupancy.eq(sum(
            [valid[0], *(v & end for v, end in zip(valid[1:], last[1:]))]))
        m.d.comb += [result.payload.eq(y_register),
                     result.valid.eq(pipe["valid"] & pipe["last"])]
        m.submodules.output = output = self.output_fifo
        # The credits of the issue stage keep the FIFO from ever being full on a write.
        wiring.connect(m, result, output.w_stream)
        wiring.connect(m, output.r_stream, wiring.flipped(self.o))
