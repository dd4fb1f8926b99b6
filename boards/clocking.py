"""PLL settings and the clock domain they drive: run a design as fast as its timing allows.

The settings are computed here, in Python, from each PLL's documented limits (the search
icepll and ecppll do): :func:`ice40_pll` for SB_PLL40, :func:`ecp5_pll` for EHXPLLL. Each
returns the fastest output frequency not above the one asked for, with the register values
that give it exactly. :class:`PLLClock` instantiates the PLL and drives the ``sync`` domain
(defined by the top level) from it, held in reset until the PLL locks (and, on iCE40, until
block RAM reads are valid after configuration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Elaboratable,
    Instance,
    Module,
    ResetSignal,
    Signal,
    Value,
)
from amaranth.lib import io

__all__ = ["ECP5PLL", "ICE40PLL", "PLLClock", "PLLSettings", "ecp5_pll", "ice40_pll"]


@dataclass(frozen=True)
class ICE40PLL:
    """SB_PLL40 in SIMPLE feedback: f_out = f_in · (DIVF+1) / ((DIVR+1) · 2^DIVQ)."""

    f_in: float
    divr: int
    divf: int
    divq: int

    #: The data sheet's limits (iCE40 sysCLOCK PLL guide, TN1251), in Hz.
    PFD = (10e6, 133e6)
    VCO = (533e6, 1066e6)
    OUT = (16e6, 275e6)

    @property
    def f_out(self) -> float:
        return self.f_in * (self.divf + 1) / ((self.divr + 1) * (1 << self.divq))

    @property
    def filter_range(self) -> int:
        """The loop filter setting for the phase detector's frequency (as icepll sets it)."""
        f_pfd = self.f_in / (self.divr + 1)
        for setting, limit in enumerate((17e6, 26e6, 44e6, 66e6, 101e6), start=1):
            if f_pfd < limit:
                return setting
        return 6


@dataclass(frozen=True)
class ECP5PLL:
    """EHXPLLL with CLKOP fed back: f_out = f_in · CLKFB_DIV / CLKI_DIV, the VCO at
    f_out · CLKOP_DIV."""

    f_in: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    #: The data sheet's limits (ECP5 sysCLOCK PLL guide, TN1263), in Hz.
    PFD = (3.125e6, 400e6)
    VCO = (400e6, 800e6)
    OUT = (3.125e6, 400e6)

    @property
    def f_out(self) -> float:
        return self.f_in * self.clkfb_div / self.clki_div


PLLSettings = ICE40PLL | ECP5PLL


def _within(value: float, limits: tuple[float, float]) -> bool:
    return limits[0] <= value <= limits[1]


def ice40_pll(f_in: float, f_max: float) -> ICE40PLL | None:
    """The SB_PLL40 settings for the fastest output ≤ ``f_max`` (None if there is none)."""
    best: ICE40PLL | None = None
    for divr in range(16):
        if not _within(f_in / (divr + 1), ICE40PLL.PFD):
            continue
        for divq in range(1, 7):
            for divf in range(128):
                pll = ICE40PLL(f_in, divr, divf, divq)
                f_vco = f_in / (divr + 1) * (divf + 1)
                if (_within(f_vco, ICE40PLL.VCO) and _within(pll.f_out, ICE40PLL.OUT)
                        and pll.f_out <= f_max and (best is None or pll.f_out > best.f_out)):
                    best = pll
    return best


def ecp5_pll(f_in: float, f_max: float) -> ECP5PLL | None:
    """The EHXPLLL settings for the fastest output ≤ ``f_max`` (None if there is none)."""
    best: ECP5PLL | None = None
    for clki_div in range(1, 129):
        if not _within(f_in / clki_div, ECP5PLL.PFD):
            continue
        for clkfb_div in range(1, 81):
            f_out = f_in * clkfb_div / clki_div
            if not _within(f_out, ECP5PLL.OUT) or f_out > f_max:
                continue
            if best is not None and f_out <= best.f_out:
                continue
            # The output divider putting the VCO nearest the middle of its range (as
            # ecppll does), where the loop is most stable.
            dividers = [div for div in range(1, 129) if _within(f_out * div, ECP5PLL.VCO)]
            if dividers:
                middle = sum(ECP5PLL.VCO) / 2
                clkop_div = min(dividers, key=lambda div: abs(f_out * div - middle))
                best = ECP5PLL(f_in, clki_div, clkfb_div, clkop_div)
    return best


class PLLClock(Elaboratable):
    """Drives the ``sync`` domain (which the top level defines) from a PLL fed by the
    board's oscillator.

    Parameters
    ----------
    settings : ICE40PLL or ECP5PLL
        The PLL's dividers (:func:`ice40_pll`, :func:`ecp5_pll`).
    source : str
        How the oscillator reaches the PLL: ``"pad"`` (iCE40: the clock pin is the PLL's own
        pad, SB_PLL40_PAD), ``"core"`` (iCE40: through the global buffer, SB_PLL40_CORE),
        ``"hfosc"`` (iCE40 UltraPlus: the internal 48 MHz oscillator divided to ``f_in``,
        into SB_PLL40_CORE) or ``"ecp5"`` (EHXPLLL).
    clock : str
        The platform's clock resource (ignored for ``"hfosc"``).
    """

    #: iCE40 block RAM reads return zeros for about 3 µs after configuration; the design is
    #: held in reset for longer than that once the PLL has locked.
    RESET_SECONDS = 10e-6

    def __init__(self, settings: PLLSettings, source: str, clock: str):
        if source not in ("pad", "core", "hfosc", "ecp5"):
            raise ValueError(f"PLL source must be 'pad', 'core', 'hfosc' or 'ecp5', not "
                             f"{source!r}")
        if (source == "ecp5") != isinstance(settings, ECP5PLL):
            raise ValueError(f"{type(settings).__name__} settings do not drive a {source!r} "
                             f"PLL")
        self.settings = settings
        self.source = source
        self.clock = clock

    def _oscillator(self, m: Module, platform: Any) -> Value:
        """The board's clock pin through an input buffer."""
        m.submodules.oscillator = buffer = io.Buffer("i", platform.request(self.clock, 0,
                                                                            dir="-"))
        return buffer.i

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        clk, rst = ClockSignal("sync"), ResetSignal("sync")
        locked = Signal()
        settings = self.settings
        if isinstance(settings, ECP5PLL):
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{settings.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{settings.f_out / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_CLKI_DIV=settings.clki_div, p_CLKFB_DIV=settings.clkfb_div,
                p_CLKOP_DIV=settings.clkop_div, p_CLKOP_CPHASE=settings.clkop_div - 1,
                p_CLKOP_FPHASE=0, p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
                p_OUTDIVIDER_MUXA="DIVA", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
                i_CLKI=self._oscillator(m, platform), i_CLKFB=clk,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1,
                i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clk, o_LOCK=locked)
        else:
            parameters = dict(p_FEEDBACK_PATH="SIMPLE", p_DIVR=settings.divr,
                              p_DIVF=settings.divf, p_DIVQ=settings.divq,
                              p_FILTER_RANGE=settings.filter_range, i_RESETB=1, i_BYPASS=0,
                              o_PLLOUTGLOBAL=clk, o_LOCK=locked)
            if self.source == "pad":
                m.submodules.pll = Instance(
                    "SB_PLL40_PAD", i_PACKAGEPIN=platform.request(self.clock, 0, dir="-").io,
                    **parameters)
            else:
                reference = Signal()
                if self.source == "hfosc":
                    divider = round(48e6 / settings.f_in)
                    m.submodules.oscillator = Instance(
                        "SB_HFOSC", p_CLKHF_DIV=f"0b{divider.bit_length() - 1:02b}",
                        i_CLKHFEN=1, i_CLKHFPU=1, o_CLKHF=reference)
                else:
                    m.d.comb += reference.eq(self._oscillator(m, platform))
                m.submodules.pll = Instance("SB_PLL40_CORE", i_REFERENCECLK=reference,
                                            **parameters)
        # Reset until the PLL has locked and RESET_SECONDS have passed at the new clock.
        m.domains.startup = startup = ClockDomain("startup", local=True)
        cycles = math.ceil(self.RESET_SECONDS * settings.f_out)
        timer = Signal(range(cycles + 1))
        m.d.comb += [startup.clk.eq(clk), startup.rst.eq(~locked), rst.eq(timer != cycles)]
        with m.If(timer != cycles):
            m.d.startup += timer.eq(timer + 1)
        return m
