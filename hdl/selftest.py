"""The on-chip self-test: N vectors from a generator through the datapath at full rate.

The generator is Marsaglia's xorshift32; each vector is read from its state by wiring alone
(bit j of feature k is state bit (k·B + j) mod 32), so it costs no logic per feature and
issues a vector every cycle the datapath takes one. The outputs are folded into a 32-bit
signature as they leave (s ← rotl₁(s) ⊕ the output word's 32-bit chunks XORed together) and
the cycles from the start to the last output are counted. The host computes the same vectors
and signature from the integer reference (:func:`qnnhw.protocol.selftest_vectors`,
:func:`qnnhw.protocol.signature`).
"""

from __future__ import annotations

import math
from typing import Any

from amaranth.hdl import Cat, Module, Shape, ShapeLike, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from qnnhw.protocol import COUNT_BYTES, SELFTEST_SEED

from .framing import SelfTestLayout

__all__ = ["SelfTest"]


def _xorshift32(state: Value) -> Value:
    """One step of xorshift32 (13, 17, 5), as gates."""
    a = state ^ (state << 13)[:32]
    b = a ^ (a >> 17)
    return (b ^ (b << 5)[:32])[:32]


class SelfTest(wiring.Component):
    """Runs N generated vectors through a datapath and answers the signature and cycles.

    Parameters
    ----------
    features, input_bits : int
        The datapath's input vector.
    shape : shape-like
        The datapath's output word.

    Attributes
    ----------
    start : In(stream.Signature(unsigned(32)))
        The count N of a self-test to run.
    result : Out(stream.Signature(SelfTestLayout))
        Its signature and cycles.
    active : Out(1)
        High from the start to the result: the datapath's input and output are the
        self-test's (``vectors``, ``outputs``).
    vectors : Out(stream.Signature(data.ArrayLayout(signed(input_bits), features)))
    outputs : In(stream.Signature(shape))
    """

    def __init__(self, features: int, input_bits: int, shape: ShapeLike):
        self.features = features
        self.input_bits = input_bits
        self.word_bits = Shape.cast(shape).width
        super().__init__({
            "start": In(stream.Signature(unsigned(8 * COUNT_BYTES))),
            "result": Out(stream.Signature(SelfTestLayout)),
            "active": Out(1),
            "vectors": Out(stream.Signature(data.ArrayLayout(signed(input_bits), features))),
            "outputs": In(stream.Signature(shape)),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        state = Signal(32, init=SELFTEST_SEED)
        to_issue = Signal(8 * COUNT_BYTES)
        to_fold = Signal(8 * COUNT_BYTES)
        signature = Signal(32)
        cycles = Signal.like(self.result.payload.cycles)

        for index in range(self.features):
            bits = [state[(index * self.input_bits + j) % 32] for j in range(self.input_bits)]
            m.d.comb += self.vectors.payload[index].eq(Cat(*bits))
        word = Value.cast(self.outputs.payload)
        folded: Value = word[:32]
        for chunk in range(1, math.ceil(self.word_bits / 32)):
            folded = folded ^ word[32 * chunk:32 * (chunk + 1)]
        m.d.comb += self.result.payload.eq(Cat(signature, cycles))

        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.start.ready.eq(1)
                with m.If(self.start.valid):
                    m.d.sync += [to_issue.eq(self.start.payload),
                                 to_fold.eq(self.start.payload), state.eq(SELFTEST_SEED),
                                 signature.eq(0), cycles.eq(0), self.active.eq(1)]
                    m.next = "run"
            with m.State("run"):
                m.d.comb += [self.vectors.valid.eq(to_issue != 0),
                             self.outputs.ready.eq(to_fold != 0)]
                with m.If(to_fold == 0):
                    m.next = "answer"
                with m.Else():
                    m.d.sync += cycles.eq(cycles + 1)
                with m.If(self.vectors.valid & self.vectors.ready):
                    m.d.sync += [state.eq(_xorshift32(state)), to_issue.eq(to_issue - 1)]
                with m.If(self.outputs.valid & self.outputs.ready):
                    m.d.sync += [signature.eq(Cat(signature[31], signature[:31]) ^ folded),
                                 to_fold.eq(to_fold - 1)]
            with m.State("answer"):
                m.d.comb += self.result.valid.eq(1)
                with m.If(self.result.ready):
                    m.d.sync += self.active.eq(0)
                    m.next = "idle"
        return m
