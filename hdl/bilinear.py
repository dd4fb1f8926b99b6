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

import math

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.fixedpoint import FixedPointSpec

from .arith import constant_multiply, csd_digits, delay, pipelined_sum

__all__ = ["BilinearDatapath"]


class BilinearDatapath(wiring.Component):
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
    i : In(stream.Signature(data.ArrayLayout(signed(B), features)))
        One input vector per transfer, feature k in ``payload[k]``.
    o : Out(stream.Signature(signed(output_width)))
        One output y per vector, in input order.
    initiation_interval : int
        Cycles between accepted vectors at full rate (T).
    latency : int
        Cycles from an input handshake to ``o.valid`` for that vector, with no stalls.
    fifo_depth : int
        Output FIFO depth, which is also the number of vectors allowed in flight.
    """

    def __init__(self, spec: FixedPointSpec, U: np.ndarray, V: np.ndarray, parallel: int):
        U, V = np.asarray(U), np.asarray(V)
        if U.shape != (spec.m, spec.d) or V.shape != (spec.m, spec.d):
            raise ValueError(f"Weights must have shape ({spec.m}, {spec.d}), not {U.shape} and "
                             f"{V.shape}")
        if not (np.isin(U, (-1, 1)).all() and np.isin(V, (-1, 1)).all()):
            raise ValueError("Weights must be ±1")
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise TypeError(f"Parallel units must be an integer, not {parallel!r}")
        if not 1 <= parallel <= spec.m:
            raise ValueError(f"Parallel units must be between 1 and m={spec.m}, not {parallel}")
        self.spec = spec
        self.parallel = parallel
        self.groups = math.ceil(spec.m / parallel)
        self._U, self._V = U, V
        # Register stages after the issue stage, in order (see elaborate); kept in one place
        # so that latency and the hardware cannot disagree.
        self._tree_depth = math.ceil(math.log2(spec.d)) if spec.d > 1 else 0
        self._sum_depth = math.ceil(math.log2(parallel)) if parallel > 1 else 0
        self._scale_depth = self._scaler_depth(spec.alpha_mantissa)
        pipeline = self._tree_depth + 1 + 1 + self._sum_depth + 1 + self._scale_depth + 1
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

    @staticmethod
    def _scaler_depth(mantissa: int) -> int:
        terms = len(csd_digits(abs(mantissa)))
        return math.ceil(math.log2(terms)) if terms > 1 else 0

    def weight_rows(self) -> list[int]:
        """ROM contents: word g holds, for unit p, u of neuron gP+p in bits [2dp, 2dp+d) and v
        in bits [2dp+d, 2dp+2d), bit set for +1. Padding neurons beyond m are all zero."""
        d, P = self.spec.d, self.parallel
        rows = []
        for group in range(self.groups):
            word = 0
            for unit in range(P):
                neuron = group * P + unit
                if neuron >= self.spec.m:
                    continue
                bits = np.concatenate([self._U[neuron] > 0, self._V[neuron] > 0])
                for index, bit in enumerate(bits):
                    word |= int(bit) << (2 * d * unit + index)
            rows.append(word)
        return rows

    def elaborate(self, platform):
        m = Module()
        spec, P, T = self.spec, self.parallel, self.groups
        d = spec.d

        # -- issue stage: hold the vector for T cycles, step through the weight groups -------
        x = Signal(data.ArrayLayout(signed(spec.input_bits), spec.features))
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

        word_width = 2 * d * P
        if T > 1:
            # In block RAM even when small: logic cells are the scarcer resource.
            m.submodules.weights = weights = memory.Memory(
                shape=unsigned(word_width), depth=T, init=self.weight_rows(),
                attrs={"ram_style": "block"})
            read = weights.read_port(domain="sync")
            m.d.comb += read.addr.eq(next_group)  # word g is on read.data while group == g
            word = read.data
        else:
            word = Const(self.weight_rows()[0], unsigned(word_width))

        valid = busy
        first = group == 0
        last = last_group

        # -- hidden layer: per unit, a = 2 Σ_{u=+1} x̃ − Σ x̃ (likewise b) --------------------
        lifted = []
        for feature in list(x) + ([Const(spec.bias_value, signed(spec.input_bits + 1))]
                                  if spec.bias else []):
            lifted += [feature] * spec.replicas
        total, tree_depth = pipelined_sum(m, lifted, name="xsum")
        assert tree_depth == self._tree_depth
        neurons = []
        for unit in range(P):
            pair = []
            for half, label in ((0, "u"), (1, "v")):
                base = 2 * d * unit + d * half
                masked = [Mux(word[base + index], feature, 0)
                          for index, feature in enumerate(lifted)]
                selected, _ = pipelined_sum(m, masked, name=f"{label}{unit}")
                register = Signal(signed(spec.neuron_width), name=f"{'ab'[half]}{unit}")
                m.d.sync += register.eq((selected << 1) - total)
                pair.append(register)
            neurons.append(pair)

        # -- P multipliers; padding units in the last group contribute zero -----------------
        last_at_product = delay(m, last, self._tree_depth + 1, name="last_p")
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
        to_accumulate = self._tree_depth + 2 + self._sum_depth
        valid_a = delay(m, valid, to_accumulate, name="valid_a")
        first_a = delay(m, first, to_accumulate, name="first_a")
        last_a = delay(m, last, to_accumulate, name="last_a")
        accumulator = Signal(signed(spec.sum_width))
        s = Signal(signed(spec.sum_width))
        s_valid = Signal()
        running = Signal(signed(spec.sum_width))
        m.d.comb += running.eq(group_sum + Mux(first_a, 0, accumulator))
        with m.If(valid_a):
            m.d.sync += accumulator.eq(running)
        m.d.sync += [s.eq(running), s_valid.eq(valid_a & last_a)]

        # -- output scaler y = round_half_up(s·A / 2^k) ---------------------------------------
        scaled, scale_depth = constant_multiply(m, s, spec.alpha_mantissa, name="scale")
        assert scale_depth == self._scale_depth
        scaled_valid = delay(m, s_valid, scale_depth, name="valid_s")
        y = Signal(signed(spec.output_width))
        y_valid = Signal()
        k = spec.alpha_shift
        rounded = (scaled + (1 << (k - 1))) >> k if k > 0 else scaled << -k
        m.d.sync += [y.eq(rounded), y_valid.eq(scaled_valid)]

        m.submodules.output = output = fifo.SyncFIFOBuffered(width=spec.output_width,
                                                             depth=self.fifo_depth)
        m.d.comb += [
            output.w_data.eq(y),
            output.w_en.eq(y_valid),
            self.o.payload.eq(output.r_data),
            self.o.valid.eq(output.r_rdy),
            output.r_en.eq(self.o.ready),
        ]
        return m
