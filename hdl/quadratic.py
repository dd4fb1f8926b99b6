"""The bilinear network as a quadratic form: a cost that does not depend on m.

Σⱼ (uⱼ·x̃)(vⱼ·x̃) = x̂ᵀWx̂ with the integer matrix W = Σⱼ ûⱼv̂ⱼᵀ over the unreplicated lifted
vector x̂ (d̂ = features + bias elements; see
:meth:`~qnnhw.families.bilinear.model.BilinearModel.quadratic_forms`), so the hardware
multiplies d̂² coefficients instead of evaluating m neurons. Data flow for one vector::

    weights ROM: round r, column b ─► P units, unit p on row a = rP + p
        x̂_b (one multiplexer, shared) ─► P multipliers W[a, b]·x̂_b ─► P row sums zₐ
        zₐ, x̂ₐ ─► P shift-and-add multipliers (B cycles, while the next row is summed)
        ─► adder tree over P ─► accumulator over the rounds ─► s
    output scaler y = round(s·A / 2^k) (as the neuron architecture) ─► FIFO ─► o.payload

A round takes L = max(d̂, B + 1) cycles (B: bits of x̂ₐ, one per shift-and-add step, after
its load); unit p takes x̂ₐ of its row from the shared multiplexer as column a goes by. With C
outputs each output's rows fill whole rounds, so every round belongs to one output, and the
collector of the neuron architecture keeps the C scores. T = L · C · ⌈d̂/P⌉ cycles per
vector.

Every intermediate is exact; the widths come from :class:`QuadraticNumbers`'s bounds (the
partial sums of s stay within its ``sum_bound``), so the outputs equal the neuron
architecture's bit for bit.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from .arith import constant_multiply, csd_digits, pipelined_sum, tree_depth
from .folding import FoldedDatapath
from .numbers import ScaledSumNumbers
from .pipeline import Stages

__all__ = ["QuadraticDatapath", "QuadraticNumbers"]


class QuadraticNumbers(ScaledSumNumbers, Protocol):
    """The numbers of a bilinear network as a quadratic form, as its datapath needs them
    (the bilinear family's fixed-point spec provides them)."""

    @property
    def base_d(self) -> int: ...
    @property
    def lifted_width(self) -> int: ...
    @property
    def coefficient_bound(self) -> int: ...
    @property
    def coefficient_width(self) -> int: ...
    @property
    def term_width(self) -> int: ...
    @property
    def row_width(self) -> int: ...


class QuadraticDatapath(FoldedDatapath):
    """Streaming inference of y꜀ = round(x̂ᵀW꜀x̂ · A / 2^k), in exact integers.

    Parameters
    ----------
    spec : QuadraticNumbers
        Input format, output scaler and every width.
    forms : array of int, shape (C, d̂, d̂)
        W꜀ for each output (:meth:`BilinearModel.quadratic_forms`); every entry within
        ``spec.coefficient_bound``.
    parallel : int
        Row units P, 1 ≤ P ≤ d̂: P rows of W꜀ per round.
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~hdl.folding.FoldedDatapath`.
    """

    spec: QuadraticNumbers

    @staticmethod
    def check_parallel(spec: Any, parallel: int) -> None:
        """P counts rows here: 1 ≤ P ≤ d̂."""
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise TypeError(f"Parallel units must be an integer, not {parallel!r}")
        if not 1 <= parallel <= spec.base_d:
            raise ValueError(f"Parallel row units must be between 1 and d̂={spec.base_d}, not "
                             f"{parallel}")

    def __init__(self, spec: QuadraticNumbers, forms: np.ndarray, parallel: int,
                 scores: bool = True):
        forms = np.asarray(forms)
        d = spec.base_d
        if forms.shape != (spec.outputs, d, d):
            raise ValueError(f"Quadratic forms must have shape ({spec.outputs}, {d}, {d}), not "
                             f"{forms.shape}")
        if np.abs(forms).max(initial=0) > spec.coefficient_bound:
            raise ValueError(f"Quadratic form entries must lie within ±"
                             f"{spec.coefficient_bound}")
        self._forms = forms.astype(np.int64)
        self.round_length = self.round_length_for(spec)
        super().__init__(spec, parallel, self.stages_for(spec, parallel),
                         groups=self.cycles_for(spec, parallel), scores=scores)

    @staticmethod
    def round_length_for(spec: QuadraticNumbers) -> int:
        """L: a round's cycles, one per column, and at least B + 1: the shift-and-add of a
        row (load, then B steps) must be done before the next row's loads."""
        return max(spec.base_d, spec.lifted_width + 1)

    @staticmethod
    def rounds_for(spec: QuadraticNumbers, parallel: int) -> int:
        return spec.outputs * math.ceil(spec.base_d / parallel)

    @classmethod
    def cycles_for(cls, spec: QuadraticNumbers, parallel: int) -> int:
        """T: cycles per vector with P = ``parallel`` row units."""
        return cls.rounds_for(spec, parallel) * cls.round_length_for(spec)

    @staticmethod
    def stages_for(spec: QuadraticNumbers, parallel: int) -> Stages:
        """The register stages of the datapath for P = ``parallel`` row units."""
        return Stages([
            ("select", 1),
            ("product", 1),
            ("row", 1),
            ("row_product", spec.lifted_width + 1),
            ("sum", tree_depth(parallel)),
            ("accumulate", 1),
            ("scale", tree_depth(len(csd_digits(abs(spec.alpha_mantissa))))),
            ("collect", 0 if spec.outputs == 1 else 1),
            ("output", 1),
        ])

    @staticmethod
    def word_layout(spec: QuadraticNumbers, parallel: int) -> data.StructLayout:
        """A ROM word: the P coefficients of a column, the column, which units take x̂ of
        their row here, and where the cycle sits in its round and output."""
        return data.StructLayout({
            "coefficients": data.ArrayLayout(signed(spec.coefficient_width), parallel),
            "column": unsigned(max(1, (QuadraticDatapath.round_length_for(spec) - 1)
                                   .bit_length())),
            "capture": unsigned(parallel),
            "row_end": unsigned(1),
            "first": unsigned(1),    # the round is its output's first
            "last": unsigned(1),     # the round is its output's last (set at its row end)
        })

    @classmethod
    def rom_word_widths(cls, spec: QuadraticNumbers, parallel: int) -> list[int]:
        """Bits of a ROM word (for resource estimates)."""
        return [cls.word_layout(spec, parallel).size]

    def weight_words(self) -> list[data.Const]:
        """ROM contents, one word per cycle of a vector: round r of output c puts rows
        rP … rP+P−1 of W꜀ on the units (rows past d̂ have zero coefficients)."""
        spec, P, L, d = self.spec, self.parallel, self.round_length, self.spec.base_d
        layout = self.word_layout(spec, P)
        words = []
        per_output = math.ceil(d / P)
        for output in range(spec.outputs):
            for round_index in range(per_output):
                rows = [round_index * P + unit for unit in range(P)]
                for column in range(L):
                    coefficients = [int(self._forms[output, row, column])
                                    if row < d and column < d else 0 for row in rows]
                    capture = sum(1 << unit for unit, row in enumerate(rows) if row == column)
                    row_end = column == L - 1
                    words.append(layout.const({
                        "coefficients": coefficients, "column": column, "capture": capture,
                        "row_end": int(row_end), "first": int(round_index == 0),
                        "last": int(row_end and round_index == per_output - 1)}))
        return words

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, P, B = self.spec, self.parallel, self.spec.lifted_width
        issue = self.issue_stage(m)
        pipe = issue.pipe
        word = self.rom(m, "weights", self.word_layout(spec, P), self.weight_words(),
                        pipe["address"])
        pipe.carry("capture", word.capture)
        pipe.carry("row_end", word.row_end)
        pipe.carry("output_first", word.first)
        pipe.carry("output_last", word.last)

        # -- the column's x̂_b, shared by every unit, beside the units' coefficients ---------
        lifted = self.lifted(issue.x)
        padding = [Const(0, signed(B))] * (self.round_length - len(lifted))
        column_value = Signal(signed(B), name="x_column")
        coefficients = [Signal(signed(spec.coefficient_width), name=f"w{unit}")
                        for unit in range(P)]
        m.d.sync += column_value.eq(Array([*lifted, *padding])[word.column])
        m.d.sync += [register.eq(word.coefficients[unit])
                     for unit, register in enumerate(coefficients)]
        pipe.advance("select", 1)

        # -- P multipliers W[a, b]·x̂_b ----------------------------------------------------------
        products = []
        for unit in range(P):
            product = Signal(signed(spec.coefficient_width + B), name=f"p{unit}")
            m.d.sync += product.eq(coefficients[unit] * column_value)
            products.append(product)
        column_delayed = Signal(signed(B), name="x_column_d")
        m.d.sync += column_delayed.eq(column_value)
        pipe.advance("product", 1)

        # Each unit keeps x̂ₐ of its row as column a passes, at this stage: its row's
        # shift-and-add loads it (two stages on) no sooner than the capture of the last
        # column and no later than the next round's first.
        capture = pipe["capture"]
        row_inputs = []
        for unit in range(P):
            row_input = Signal(signed(B), name=f"x_row{unit}")
            with m.If(capture[unit]):
                m.d.sync += row_input.eq(column_delayed)
            row_inputs.append(row_input)

        # -- row sums zₐ over the round's columns ---------------------------------------------
        row_start = pipe["row_end"]   # the cycle after a round's last column starts the next
        rows = []
        for unit, product in enumerate(products):
            z = Signal(signed(spec.row_width), name=f"z{unit}")
            running = Signal(signed(spec.row_width), name=f"z{unit}_running")
            started = Signal(name=f"z{unit}_started")
            m.d.comb += running.eq(product + Mux(started, z, 0))
            m.d.sync += [z.eq(running), started.eq(~row_start)]
            rows.append(z)
        pipe.advance("row", 1)

        # -- x̂ₐ·zₐ by shift and add, B cycles, loaded as the next row starts --------------
        # (only after a vector's row: between vectors the ROM word stays at the last one)
        load = pipe["valid"] & pipe["row_end"]
        step = Signal(range(B + 1), name="row_step")
        with m.If(load):
            m.d.sync += step.eq(0)
        with m.Elif(step != B):
            m.d.sync += step.eq(step + 1)
        terms = []
        for unit in range(P):
            multiplicand = Signal(signed(spec.term_width), name=f"mz{unit}")
            multiplier = Signal(signed(B), name=f"mx{unit}")
            term = Signal(signed(spec.term_width), name=f"t{unit}")
            # Two's complement: the top bit of x̂ₐ weighs −2^(B−1).
            addend = Mux(multiplier[0], Mux(step == B - 1, -multiplicand, multiplicand), 0)
            with m.If(load):
                m.d.sync += [multiplicand.eq(rows[unit]), multiplier.eq(row_inputs[unit]),
                             term.eq(0)]
            with m.Elif(step != B):
                m.d.sync += [term.eq(term + addend), multiplicand.eq(multiplicand << 1),
                             multiplier.eq(multiplier >> 1)]
            terms.append(term)
        pipe.advance("row_product", B + 1)

        # -- sum over the units, accumulate over an output's rounds --------------------------
        round_sum, depth = pipelined_sum(m, terms, name="tsum")
        pipe.advance("sum", depth)
        take = pipe["valid"] & pipe["row_end"]
        restart = pipe["output_first"]
        accumulator = Signal(signed(spec.sum_width), name="s_accumulator")
        s = Signal(signed(spec.sum_width), name="s")
        running_s = Signal(signed(spec.sum_width), name="s_running")
        m.d.comb += running_s.eq(round_sum + Mux(restart, 0, accumulator))
        with m.If(take):
            m.d.sync += accumulator.eq(running_s)
        m.d.sync += s.eq(running_s)
        pipe.advance("accumulate", 1)

        # -- y = round_half_up(s·A / 2^k), then the class and scores --------------------------
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
