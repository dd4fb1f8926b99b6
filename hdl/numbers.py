"""What the gateware needs to know of a network's numbers, as a Protocol.

Each family's fixed-point spec provides it (and what its own datapath adds, stated beside
that datapath): the gateware depends on this description, never on a family. No Amaranth
here, so that the host side can name it without loading the gateware.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DatapathNumbers", "ScaledSumNumbers"]


class DatapathNumbers(Protocol):
    """What every datapath needs to know of its numbers: the input format, the neurons it
    folds and its outputs. Each family's fixed-point spec provides it (and what its own
    datapath adds); the gateware depends on this description, never on a family."""

    @property
    def features(self) -> int: ...
    @property
    def bias(self) -> bool:
        """Whether the constant feature 2^F is appended to the inputs."""
    @property
    def bias_value(self) -> int: ...
    @property
    def input_bits(self) -> int: ...
    @property
    def m(self) -> int:
        """Neurons: what the datapath folds onto its units."""
    @property
    def d(self) -> int: ...
    @property
    def outputs(self) -> int:
        """Outputs C: one, or one per class from three classes on."""
    @property
    def output_width(self) -> int: ...


class ScaledSumNumbers(DatapathNumbers, Protocol):
    """A datapath that accumulates an exact sum and scales it by A·2^(−k) at the end (both
    bilinear architectures): the sum's width and the scale's mantissa A and shift k."""

    @property
    def sum_width(self) -> int: ...
    @property
    def alpha_mantissa(self) -> int: ...
    @property
    def alpha_shift(self) -> int: ...
