"""Resource estimates before synthesis, and fitting a design to a device with them.

Each family estimates its own datapath (``qnnhw/families/*/estimate.py``) from the pieces
here; :func:`choose_parallel` and :func:`largest_m` fit any family's design to a device. The
estimates are calibrated against nextpnr on iCE40 (``bench/boards.py`` prints both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .protocol import ANSWER_BUFFER, vector_bytes

if TYPE_CHECKING:
    from boards import Device

    from .families import Spec

__all__ = ["LOGIC_MARGIN", "SHARED_FACTOR", "Estimate", "choose_parallel", "largest_m",
           "output_path", "rom_blocks", "serial_cells", "tree_cells"]

#: Share of the logic cells the estimate may fill. The estimates are calibrated to come out
#: a few per cent above what nextpnr reports (bench/boards.py prints both): that is the margin.
LOGIC_MARGIN = 1.0
#: Calibration of the logic around the units (the shared part of every datapath, the serial
#: link) against nextpnr on iCE40.
SHARED_FACTOR = 1.1


@dataclass(frozen=True)
class Estimate:
    """Resources one configuration needs, before synthesis."""

    parallel: int
    lcs: int
    dsps: int
    ram_blocks: int
    #: Cycles per vector (T).
    cycles: int

    def fits(self, device: Device) -> bool:
        return (self.lcs <= LOGIC_MARGIN * device.lcs and self.dsps <= device.dsps
                and self.ram_blocks <= device.ram_blocks)


def tree_cells(leaves: int, width: int) -> int:
    """Logic cells of a registered adder tree: one cell per sum bit per adder."""
    cells, level = 0, 0
    while leaves > 1:
        cells += (leaves // 2) * (width + level + 1) + (leaves % 2) * (width + level)
        leaves = (leaves + 1) // 2
        level += 1
    return cells


#: Logic cells of the serial engine whatever the network: the UART, the frame codec (CRC-16,
#: header fields, the record queue's control), the self-test's generator, counters and
#: signature, and the switch of the datapath's ports between frames and self-test
#: (calibrated on the iCEBreaker's ionosphere build: 4,738 cells used).
SERIAL_LOGIC_CELLS = 1100


def serial_cells(spec: Spec) -> int:
    """The serial engine in front of the datapath: the vector being assembled from packed
    bytes, the vector waiting for the datapath, and :data:`SERIAL_LOGIC_CELLS`."""
    bits = spec.features * spec.input_bits
    return bits + 8 * vector_bytes(spec.features, spec.input_bits) + SERIAL_LOGIC_CELLS


#: Deepest FIFO storage (words besides the FIFO's output register) that synthesis keeps in
#: flip-flops rather than block RAM.
FIFO_WORDS_IN_LOGIC = 2


def rom_blocks(device: Device, word_widths: Sequence[int], groups: int) -> int:
    """Block RAMs of the weight ROMs (words of ``word_widths``, ``groups`` deep; constants
    when there is one group)."""
    return sum(device.rom_blocks(width, groups) for width in word_widths) if groups > 1 else 0


def output_path(device: Device, width: int, fifo_depth: int) -> tuple[int, int]:
    """Logic cells and block RAMs from a datapath's output words (``width`` bits) to the
    UART: the output register, the FIFO (its storage in block RAM when it is deep) and its
    output register, the answers' FIFO that holds a frame's outputs until its check is read
    (likewise), and the response frame's shift register."""
    cells, blocks = 3 * width, 0
    for storage in (fifo_depth - 1, ANSWER_BUFFER - 1):
        if storage <= FIFO_WORDS_IN_LOGIC:
            cells += storage * width
        else:
            cells, blocks = cells + width, blocks + device.rom_blocks(width, storage)
    return cells, blocks


def choose_parallel(device: Device, units: int, estimate: Callable[[int], Estimate]
                    ) -> Estimate | None:
    """The fewest of P = 1 … ``units`` units reaching the highest throughput (fewest cycles
    per vector) that fits, or None."""
    candidates = []
    for parallel in range(1, units + 1):
        candidate = estimate(parallel)
        if candidate.lcs > LOGIC_MARGIN * device.lcs:
            break   # cost grows with P: no larger folded P fits either …
        candidates.append(candidate)
    # … but P = all units has constant weights, which can cost less than folded units.
    candidates.append(estimate(units))
    best: Estimate | None = None
    for candidate in candidates:
        if candidate.fits(device) and (best is None or candidate.cycles < best.cycles):
            best = candidate
    return best


def largest_m(device: Device, ram_blocks_for: Callable[[int], int], m_max: int) -> int:
    """The largest m ≤ ``m_max`` whose weights fit the RAM with one unit (0 if none);
    ``ram_blocks_for(m)`` is the design's block RAM count at width m."""
    low, high = 0, m_max
    while low < high:
        middle = (low + high + 1) // 2
        if ram_blocks_for(middle) <= device.ram_blocks:
            low = middle
        else:
            high = middle - 1
    return low
