"""Streaming datapath of a threshold network: adder trees and sign bits, no multiplier at all.

Data flow for one input vector (all arithmetic exact; see
:mod:`qnnhw.families.threshold.fixedpoint`)::

    i.payload ─► x register ─► lift (bias 2^F: wiring only)
                     │
                     ▼  deep networks only: the earlier layers, unfolded, constant ±1 weights,
                        each neuron 1[l·ã ≥ 0], then the constant 1 (the next layer's ã)
                     │
      hidden ROM ────┤ group g = 0 … T−1 (T = ⌈K/P⌉): P neurons per cycle
                     ▼
    P × [ z = h·x̃ by masked adder trees:  ±1 weights: 2·Σ_{h=+1} x̃ − Σ x̃
                                          b-bit weights: Σⱼ ±2^j·Σ_{bit j of h} x̃ ]
                     ▼
    output-weight ROM ─► P × C × [ z ≥ 0 ? W꜀ : 0 ] ─► C adder trees over P
                     ▼
    C accumulators over T ─► y꜀ = C꜀ + Σ ─► argmax tree (C ≥ 3) ─► FIFO ─► o.payload
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data

from .arith import pipelined_sum, signed_binary_dot, tree_depth
from .folding import FoldedDatapath
from .numbers import DatapathNumbers
from .pipeline import Stages, Tracker

__all__ = ["ThresholdDatapath", "ThresholdNumbers"]


class ThresholdNumbers(DatapathNumbers, Protocol):
    """The numbers of a threshold network, as its datapath needs them (the threshold
    family's fixed-point spec provides them)."""

    @property
    def hidden_bits(self) -> int:
        """1 for ±1 hidden weights, else the width of the signed integer weights."""
    @property
    def hidden_max(self) -> int: ...
    @property
    def hidden_width(self) -> int: ...
    @property
    def layer_widths(self) -> tuple[int, ...]: ...
    def layer_z_width(self, index: int) -> int: ...
    @property
    def weight_bits(self) -> int: ...
    @property
    def weight_matrix(self) -> np.ndarray:
        """The rounded output weights Wₖ꜀, K × C."""
    @property
    def output_biases(self) -> tuple[int, ...]: ...
    @property
    def sum_width(self) -> int: ...


class ThresholdDatapath(FoldedDatapath):
    """Streaming inference of f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0], in exact integers.

    With C outputs every neuron's activation gates its C output weights into C sums (the
    neurons are shared), and the class is decided by a comparator tree.

    Parameters
    ----------
    spec : ThresholdNumbers
        Input format, rounded output weights and every width.
    H : array of int, shape (K, d)
        Hidden weights: ±1 when ``spec.hidden_bits`` is 1, else signed integers of
        ``spec.hidden_bits`` bits.
    parallel : int
        Number of neuron units P, 1 ≤ P ≤ K. The K neurons take T = ⌈K/P⌉ cycles per
        vector; hidden and output weights sit in two ROMs of T words when T > 1 and are
        constants when T = 1.
    layers : sequence of arrays of ±1
        The earlier layers of a deep network (widths ``spec.layer_widths``); every one of
        their neurons has its own adder tree, so they add latency, not cycles per vector.
    scores : bool
        With C outputs, whether the output word carries the C scores beside the class.

    Attributes
    ----------
    i, o, initiation_interval, latency, fifo_depth
        As in :class:`~hdl.folding.FoldedDatapath`.
    """

    spec: ThresholdNumbers

    def __init__(self, spec: ThresholdNumbers, H: np.ndarray, parallel: int,
                 layers: Sequence[np.ndarray] = (), scores: bool = True):
        layers = [np.asarray(layer) for layer in layers]
        inputs = spec.features + int(spec.bias)
        if tuple(len(layer) for layer in layers) != spec.layer_widths:
            raise ValueError(f"Layer widths must be {spec.layer_widths}, not "
                             f"{tuple(len(layer) for layer in layers)}")
        for index, layer in enumerate(layers):
            if layer.shape[1:] != (inputs,) or not np.isin(layer, (-1, 1)).all():
                raise ValueError(f"Layer {index} must be ±1 of shape ({len(layer)}, {inputs})")
            inputs = len(layer) + 1
        H = np.asarray(H)
        if H.shape != (spec.m, spec.d):
            raise ValueError(f"Hidden weights must have shape ({spec.m}, {spec.d}), not "
                             f"{H.shape}")
        if spec.hidden_bits == 1 and not np.isin(H, (-1, 1)).all():
            raise ValueError("Hidden weights must be ±1 when hidden_bits is 1")
        if spec.hidden_bits > 1 and np.abs(H).max() > spec.hidden_max:
            raise ValueError(f"Hidden weights must lie in [−{spec.hidden_max}, "
                             f"{spec.hidden_max}] for hidden_bits={spec.hidden_bits}")
        self.check_parallel(spec, parallel)
        self._H = H
        self._layers = layers
        super().__init__(spec, parallel, self.stages_for(spec, parallel), scores=scores)

    @staticmethod
    def stages_for(spec: ThresholdNumbers, parallel: int) -> Stages:
        """The register stages of the datapath for P = ``parallel`` units."""
        layer_stages, inputs = [], spec.features + int(spec.bias)
        for index, width in enumerate(spec.layer_widths):
            # Each neuron: its tree and z register, then its activation register.
            layer_stages.append((f"layer{index}", tree_depth(inputs) + 2))
            inputs = width + 1
        planes = spec.hidden_bits
        return Stages([
            *layer_stages,
            ("neurons", tree_depth(spec.d) + (1 if planes == 1 else tree_depth(planes))),
            *ThresholdDatapath.gated_output_stages(spec, parallel),
        ])

    @staticmethod
    def _hidden_layout(spec: ThresholdNumbers, parallel: int) -> data.ArrayLayout:
        """A hidden ROM word: per unit, a mask of the +1 weights (±1) or the d integers."""
        unit = unsigned(spec.d) if spec.hidden_bits == 1 else data.ArrayLayout(
            signed(spec.hidden_bits), spec.d)
        return data.ArrayLayout(unit, parallel)

    @classmethod
    def rom_word_widths(cls, spec: ThresholdNumbers, parallel: int) -> list[int]:
        """Bits of a word of each weight ROM (for resource estimates)."""
        return [cls._hidden_layout(spec, parallel).size, cls.output_layout(spec, parallel).size]

    def hidden_words(self) -> list[data.Const]:
        """Hidden ROM: unit p of word g holds neuron gP+p's weights, as a mask of its +1
        weights (±1 weights) or as d signed integers."""
        spec = self.spec
        if spec.hidden_bits == 1:
            units: list[Any] = [sum(1 << i for i, weight in enumerate(row) if weight > 0)
                                for row in self._H]
        else:
            units = [[int(weight) for weight in row] for row in self._H]
        return self.rom_words(self._hidden_layout(spec, self.parallel), units)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        spec, P = self.spec, self.parallel
        planes = spec.hidden_bits
        issue = self.issue_stage(m)
        pipe = issue.pipe
        lifted = self.lifted(issue.x)
        for index, layer in enumerate(self._layers):
            lifted = self._unfolded_layer(m, lifted, layer, index, pipe)
        # The weights of group g are needed when its inputs have come through those layers,
        # and the output weights once z is known: each ROM is read at that stage's address.
        word = self.rom(m, "hidden", self._hidden_layout(spec, P), self.hidden_words(),
                        pipe["address"])

        # -- hidden layer: z = h·ã per unit, by adder trees over masked inputs ---------------
        if planes == 1:
            total, _ = pipelined_sum(m, lifted, name="xsum")
        hidden = []
        for unit in range(P):
            if planes == 1:
                z, depth = signed_binary_dot(m, lifted, word[unit], total, spec.hidden_width,
                                             name=f"z{unit}")
            else:
                terms = []
                for bit in range(planes):
                    masked = [Mux(word[unit][index][bit], value, 0)
                              for index, value in enumerate(lifted)]
                    plane, tree = pipelined_sum(m, masked, name=f"z{unit}_b{bit}")
                    terms.append(-(plane << bit) if bit == planes - 1 else plane << bit)
                z, combine = pipelined_sum(m, terms, name=f"z{unit}")
                depth = tree + combine
            hidden.append(z)
        pipe.advance("neurons", depth)
        scores = self.gated_scores(m, spec, [z >= 0 for z in hidden], pipe)
        self.output(m, self.decide(m, scores, pipe), pipe)
        return m

    def _unfolded_layer(self, m: Module, inputs: list[Value], layer: np.ndarray, index: int,
                        pipe: Tracker) -> list[Value]:
        """One earlier layer, every neuron with its own constant-weight tree: 0/1 per neuron
        (as 2-bit signed values, so that the next trees add them as numbers) and the 1."""
        total, _ = pipelined_sum(m, inputs, name=f"l{index}_sum")
        width = self.spec.layer_z_width(index)
        outputs: list[Value] = []
        for neuron, row in enumerate(layer):
            mask = Const(sum(1 << i for i, weight in enumerate(row) if weight > 0), len(row))
            z, depth = signed_binary_dot(m, inputs, mask, total, width,
                                         name=f"l{index}_z{neuron}")
            active = Signal(signed(2), name=f"l{index}_a{neuron}")
            m.d.sync += active.eq(z >= 0)
            outputs.append(active)
        pipe.advance(f"layer{index}", depth + 1)
        return outputs + [Const(1, signed(2))]
