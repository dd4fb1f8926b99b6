"""What every folded datapath shares: P units stepping through T = ⌈K/P⌉ weight groups.

The issue stage holds one input vector for T cycles while a group counter walks the weight
ROM; the units' results are summed over P and accumulated over the T groups; the result
goes through an output FIFO. Backpressure is handled by credits: a vector is accepted only
while the FIFO has room for every vector in flight, so the pipeline itself never stalls and
a stalled consumer never loses a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay

__all__ = ["FoldedDatapath", "IssueStage"]


@dataclass
class IssueStage:
    """The issue stage's signals, as the units see them."""

    x: Value            # the input vector being processed
    busy: Value         # a group is being issued this cycle
    group: Value        # the group being issued, 0 … T−1
    next_group: Value   # the group issued next cycle (the ROM read address)
    first: Value        # group == 0
    last: Value         # group == T − 1


class FoldedDatapath(wiring.Component):
    """Base of the streaming datapaths: stream interface, issue stage, ROM, accumulator, FIFO.

    Parameters
    ----------
    spec
        The family's fixed-point spec (``features``, ``input_bits``, ``output_width``, ``m``,
        ``bias``, ``bias_value``).
    parallel : int
        Units P, 1 ≤ P ≤ m.
    pipeline : int
        Register stages from the issue stage to the output register, inclusive; the
        subclass counts them so that the latency and the hardware cannot disagree.

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(B), features)))
        One input vector per transfer, feature k in ``payload[k]``.
    o : Out(stream.Signature(signed(output_width)))
        One output y per vector, in input order.
    groups : int
        T = ⌈m/P⌉.
    initiation_interval : int
        Cycles between accepted vectors at full rate (T).
    latency : int
        Cycles from an input handshake to ``o.valid`` for that vector, with no stalls.
    fifo_depth : int
        Output FIFO depth, which is also the number of vectors allowed in flight.
    """

    @staticmethod
    def check_parallel(spec, parallel: int) -> None:
        """Subclasses call this first: their pipeline depth depends on P."""
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise TypeError(f"Parallel units must be an integer, not {parallel!r}")
        if not 1 <= parallel <= spec.m:
            raise ValueError(f"Parallel units must be between 1 and m={spec.m}, not {parallel}")

    def __init__(self, spec, parallel: int, pipeline: int):
        self.check_parallel(spec, parallel)
        self.spec = spec
        self.parallel = parallel
        self.groups = math.ceil(spec.m / parallel)
        self.initiation_interval = self.groups
        # The last group issues T cycles after the handshake; SyncFIFOBuffered shows a
        # written word on its read side two cycles after the write.
        self.latency = self.groups + pipeline + 2
        # At full rate ⌈latency/T⌉ vectors are in flight; one more keeps the credit check
        # from ever throttling a consumer that is always ready.
        self.fifo_depth = math.ceil(self.latency / self.groups) + 1
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(spec.input_bits), spec.features))),
            "o": Out(stream.Signature(signed(spec.output_width))),
        })

    def issue_stage(self, m: Module) -> IssueStage:
        """Accept a vector (credit permitting) and step through its T groups."""
        T = self.groups
        x = Signal(data.ArrayLayout(signed(self.spec.input_bits), self.spec.features))
        busy = Signal()
        group = Signal(range(T))
        next_group = Signal(range(T))
        in_flight = Signal(range(self.fifo_depth + 1))
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
        return IssueStage(x=x, busy=busy, group=group, next_group=next_group,
                          first=group == 0, last=last_group)

    def lifted(self, x: Value, replicas: int = 1) -> list[Value]:
        """The lifted vector x̃: the features, the constant 2^F, each repeated (wiring)."""
        spec = self.spec
        features = list(x) + ([Const(spec.bias_value, signed(spec.input_bits + 1))]
                              if spec.bias else [])
        return [feature for feature in features for _ in range(replicas)]

    def rom(self, m: Module, name: str, rows: list[int], width: int, address: Value
            ) -> Value:
        """A weight ROM whose word for ``address`` appears one cycle after it (a constant
        when there is one group)."""
        if self.groups == 1:
            return Const(rows[0], unsigned(width))
        # In block RAM even when small: logic cells are the scarcer resource.
        weights = memory.Memory(shape=unsigned(width), depth=self.groups, init=rows,
                                attrs={"ram_style": "block"})
        m.submodules[name] = weights
        read = weights.read_port(domain="sync")
        m.d.comb += read.addr.eq(address)
        return read.data

    def accumulate(self, m: Module, group_sum: Value, issue: IssueStage, stages: int,
                   width: int) -> tuple[Value, Value]:
        """Sum ``group_sum`` (``stages`` cycles behind the issue stage) over the T groups of
        a vector. Returns the total and its valid strobe, one cycle later."""
        valid = delay(m, issue.busy, stages, name="valid_a")
        first = delay(m, issue.first, stages, name="first_a")
        last = delay(m, issue.last, stages, name="last_a")
        accumulator = Signal(signed(width))
        total = Signal(signed(width))
        total_valid = Signal()
        running = Signal(signed(width))
        m.d.comb += running.eq(group_sum + Mux(first, 0, accumulator))
        with m.If(valid):
            m.d.sync += accumulator.eq(running)
        m.d.sync += [total.eq(running), total_valid.eq(valid & last)]
        return total, total_valid

    def output(self, m: Module, y: Value, y_valid: Value) -> None:
        """The output FIFO between the final register and ``o``."""
        width = self.spec.output_width
        m.submodules.output = output = fifo.SyncFIFOBuffered(width=width,
                                                             depth=self.fifo_depth)
        m.d.comb += [
            output.w_data.eq(y),
            output.w_en.eq(y_valid),
            self.o.payload.eq(output.r_data),
            self.o.valid.eq(output.r_rdy),
            output.r_en.eq(self.o.ready),
        ]
