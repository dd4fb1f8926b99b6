"""Pipelined arithmetic building blocks shared by the datapaths.

Each helper adds its registers to the ``sync`` domain of the module it is given and returns
the number of register stages it inserted, which the datapath's pipeline tracker checks
against its declared stages (:mod:`hdl.pipeline`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned

__all__ = ["CompressorPlan", "at_least", "compressor_plan", "constant_multiply", "csd_digits",
           "pipelined_argmax", "pipelined_sum", "weighted_bit_sum",
           "signed_binary_dot", "tree_depth"]


def pipelined_sum(m: Module, values: Sequence[Value], *, name: str) -> tuple[Value, int]:
    """Sum ``values`` with a balanced adder tree, one register after every level.

    Widths grow by one bit per level, the worst case for a two-input add, so no level can
    overflow. Returns the sum and the number of register stages (⌈log₂ len(values)⌉).
    """
    if not values:
        raise ValueError("Cannot sum an empty list of values")
    level = list(values)
    depth = 0
    while len(level) > 1:
        next_level = []
        for index in range(0, len(level) - 1, 2):
            total = level[index] + level[index + 1]
            register = Signal(total.shape(), name=f"{name}_l{depth}_{index // 2}")
            m.d.sync += register.eq(total)
            next_level.append(register)
        if len(level) % 2:
            register = Signal(level[-1].shape(), name=f"{name}_l{depth}_pass")
            m.d.sync += register.eq(level[-1])
            next_level.append(register)
        level = next_level
        depth += 1
    return level[0], depth


def pipelined_argmax(m: Module, values: Sequence[Value], *, name: str, delay: bool = True
                     ) -> tuple[Value, list[Value], int]:
    """The index of the largest of ``values``, the first one on a tie, by a tree of
    comparators with one register after every level; with ``delay`` the values come out
    delayed beside it (else as they are: for values held still while the tree works).

    Each comparison keeps the left (lower-index) candidate unless the right one is strictly
    larger, so ties go to the lowest index. Returns the index, the values and the number of
    register stages (⌈log₂ len(values)⌉).
    """
    if len(values) < 2:
        raise ValueError(f"An argmax needs two values at least, not {len(values)}")
    index_shape = range(len(values))
    level: list[tuple[Value, Value]] = [(value, Const(index, index_shape))
                                        for index, value in enumerate(values)]
    delayed = list(values)
    depth = 0
    while len(level) > 1:
        next_level = []
        for pair in range(0, len(level), 2):
            best = Signal(level[pair][0].shape(), name=f"{name}_l{depth}_{pair // 2}")
            best_index = Signal(index_shape, name=f"{name}_l{depth}_{pair // 2}_index")
            if pair + 1 == len(level):
                m.d.sync += [best.eq(level[pair][0]), best_index.eq(level[pair][1])]
            else:
                (left, left_index), (right, right_index) = level[pair], level[pair + 1]
                best = Signal(_common_shape(left, right), name=best.name)
                right_wins = right > left
                m.d.sync += [best.eq(Mux(right_wins, right, left)),
                             best_index.eq(Mux(right_wins, right_index, left_index))]
            next_level.append((best, best_index))
        if delay:
            registers = [Signal.like(value, name=f"{name}_score{index}_d{depth + 1}")
                         for index, value in enumerate(delayed)]
            m.d.sync += [register.eq(value) for register, value in zip(registers, delayed)]
            delayed = registers
        level = next_level
        depth += 1
    return level[0][1], delayed, depth


def _common_shape(left: Value, right: Value) -> Shape:
    return Mux(Const(0, 1), left, right).shape()


def csd_digits(constant: int) -> list[tuple[int, int]]:
    """Canonical signed-digit form of ``constant``: ``[(shift, ±1), …]`` with
    ``constant == Σ sign · 2^shift`` and no two adjacent non-zero digits (fewest adders)."""
    digits = []
    shift = 0
    while constant:
        if constant & 1:
            digit = 2 - (constant & 3)  # +1 if the low bits are 01, −1 if they are 11
            digits.append((shift, digit))
            constant -= digit
        constant >>= 1
        shift += 1
    return digits


def constant_multiply(m: Module, value: Value, constant: int, *, name: str
                      ) -> tuple[Value, int]:
    """``value · constant`` as a pipelined tree of shifted adds (no multiplier needed)."""
    digits = csd_digits(constant)
    if not digits:
        return Const(0, signed(1)), 0
    terms = [(value << shift) if sign > 0 else -(value << shift) for shift, sign in digits]
    return pipelined_sum(m, terms, name=name)


def tree_depth(leaves: int) -> int:
    """Register stages of :func:`pipelined_sum` over ``leaves`` values."""
    return math.ceil(math.log2(leaves)) if leaves > 1 else 0


def signed_binary_dot(m: Module, values: Sequence[Value], mask: Value, total: Value,
                      width: int, *, name: str) -> tuple[Value, int]:
    """h·x for h ∈ {−1, +1}ᵈ given as ``mask`` (bit i set for hᵢ = +1), with no multiplier:
    2·Σ_{hᵢ=+1} xᵢ − Σᵢ xᵢ, where ``total`` = Σᵢ xᵢ arrives as late as the masked sum.

    Returns a ``width``-bit register (the caller's worst case) and its register stages after
    ``values``: :func:`tree_depth` + 1.
    """
    masked = [Mux(mask[index], value, 0) for index, value in enumerate(values)]
    selected, depth = pipelined_sum(m, masked, name=f"{name}_tree")
    register = Signal(signed(width), name=name)
    m.d.sync += register.eq((selected << 1) - total)
    return register, depth + 1


#: Levels of full adders between two registers of a compressor tree: three LUT levels meet
#: 30 MHz on iCE40 with room, and bits passed between levels cost a cell only where
#: they are registered.
LEVELS_PER_STAGE = 3


@dataclass(frozen=True)
class CompressorPlan:
    """What :func:`weighted_bit_sum` builds for given column heights, before it builds it.

    Attributes
    ----------
    depth : int
        Register stages: one per :data:`LEVELS_PER_STAGE` levels of full adders, one for
        the final adder.
    full_adders : int
        Full adders (3 bits of one column → a sum bit and a carry), two LUT3s each.
    passed : int
        Bits registered unchanged at a stage (a flip-flop without a LUT each).
    width : int
        Bits of the final two-row adder and of the sum.
    """

    depth: int
    full_adders: int
    passed: int
    width: int


def _reduce(heights: list[int]) -> tuple[list[int], int, int]:
    """One level of the compressor: every three bits of a column become a sum bit there and
    a carry bit in the next column. Returns the new heights, full adders and passed bits."""
    after = [0] * (len(heights) + 1)
    adders = passed = 0
    for column, height in enumerate(heights):
        triples = height // 3
        adders += triples
        passed += height % 3
        after[column] += triples + height % 3
        after[column + 1] += triples
    while after and after[-1] == 0:
        after.pop()
    return after, adders, passed


def _registered(level: int, last: bool) -> bool:
    """Whether the outputs of full-adder level ``level`` (from 0) are registered."""
    return last or level % LEVELS_PER_STAGE == LEVELS_PER_STAGE - 1


def compressor_plan(heights: Sequence[int]) -> CompressorPlan:
    """The compressor tree for columns of ``heights`` bits (column j weighs 2^j): levels of
    full adders until no column holds more than two bits, then one carry-propagate adder."""
    columns = list(heights)
    total = sum(height << column for column, height in enumerate(columns))
    level = depth = adders = passed = 0
    while any(height > 2 for height in columns):
        columns, level_adders, level_passed = _reduce(columns)
        adders += level_adders
        if _registered(level, not any(height > 2 for height in columns)):
            depth, passed = depth + 1, passed + level_passed
        level += 1
    return CompressorPlan(depth + 1, adders, passed, max(1, total.bit_length()))


def weighted_bit_sum(m: Module, terms: Sequence[tuple[Value, int]], *, name: str
                     ) -> tuple[Value, int]:
    """Σ weight·bit over ``terms`` of 1-bit values and non-negative integer weights.

    Each set bit j of a weight puts the value in column j; levels of full adders (a Wallace
    tree, a register every :data:`LEVELS_PER_STAGE` levels) reduce the columns to two rows,
    which one registered carry-propagate adder sums (:func:`compressor_plan` gives the shape
    in advance). The registers have no reset: they hold data, which the pipeline's valid
    bits qualify. Returns the unsigned sum and its register stages.
    """
    columns: list[list[Value]] = []
    for value, weight in terms:
        if weight < 0:
            raise ValueError(f"Weights must be non-negative, not {weight}")
        for position in range(weight.bit_length()):
            if weight >> position & 1:
                while len(columns) <= position:
                    columns.append([])
                columns[position].append(value)
    plan = compressor_plan([len(column) for column in columns])
    level = depth = 0

    def bit(value: Value, registered: bool, label: str) -> Value:
        signal = Signal(name=f"{name}_l{level}_{label}", reset_less=True)
        if registered:
            m.d.sync += signal.eq(value)
        else:
            m.d.comb += signal.eq(value)
        return signal

    while any(len(column) > 2 for column in columns):
        heights, _, _ = _reduce([len(column) for column in columns])
        registered = _registered(level, not any(height > 2 for height in heights))
        reduced: list[list[Value]] = [[] for _ in range(len(columns) + 1)]
        for index, column in enumerate(columns):
            for start in range(0, len(column) - 2, 3):
                a, b, c = column[start:start + 3]
                label = f"c{index}_{start // 3}"
                reduced[index].append(bit(a ^ b ^ c, registered, f"{label}_s"))
                reduced[index + 1].append(bit((a & b) | (a & c) | (b & c), registered,
                                              f"{label}_k"))
            for rest, value in enumerate(column[len(column) // 3 * 3:]):
                reduced[index].append(bit(value, registered, f"c{index}_p{rest}")
                                      if registered else value)
        while reduced and not reduced[-1]:
            reduced.pop()
        columns, level, depth = reduced, level + 1, depth + int(registered)
    rows = [Cat(*(column[row] if len(column) > row else Const(0, 1) for column in columns))
            for row in range(2)] if columns else [Const(0, 1), Const(0, 1)]
    result = Signal(unsigned(plan.width), name=name, reset_less=True)
    m.d.sync += result.eq(rows[0] + rows[1])
    assert depth + 1 == plan.depth
    return result, plan.depth


def at_least(value: Value, constant: int) -> Value:
    """``value ≥ constant`` for a signed ``value``, as truth tables rather than a carry chain.

    In offset binary (the sign bit flipped) the comparison is unsigned. The lowest four bits
    are one table (value's low bits ≥ the constant's); each next group of up to three bits
    and the result so far is another: higher bits above the constant's, or equal and the
    lower ones at least. On iCE40 and ECP5 each table is one LUT4, so a B-bit comparison
    costs about B/3 cells and no carry logic.
    """
    width = len(value)
    offset = constant + (1 << (width - 1))
    if offset <= 0:
        return Const(1, 1)
    if offset >= 1 << width:
        return Const(0, 1)
    bits = Cat(value[:width - 1], ~value[width - 1])
    low = min(4, width)
    mask = (1 << low) - 1
    table = sum(1 << entry for entry in range(1 << low) if entry >= offset & mask)
    result: Value = Const(table, 1 << low).bit_select(bits[:low], 1)
    position = low
    while position < width:
        step = min(3, width - position)
        part = (offset >> position) & ((1 << step) - 1)
        # Address: the result so far in bit 0, the group's bits above it.
        table = sum(1 << entry for entry in range(1 << (step + 1))
                    if (entry >> 1) > part or ((entry >> 1) == part and entry & 1))
        result = Const(table, 1 << (step + 1)).bit_select(
            Cat(result, bits[position:position + step]), 1)
        position += step
    return result
