"""Running the open FPGA toolchain (yosys, nextpnr, the packer) on an Amaranth design.

Amaranth's platform writes the design and its build plan (``build_NAME.json``: the commands,
in order); :func:`implement` runs them one by one, each as a named, timed build step with a
heartbeat, and reads nextpnr's figures. The tools are the YoWASP packages of this Python
environment unless the environment names others (``YOSYS``, ``NEXTPNR_ICE40``, …, as
Amaranth's own build scripts read them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boards import Board
from boards.registry import Architecture

from .errors import QnnhwError

__all__ = ["DoesNotFit", "Implementation", "elaborate", "implement", "parse_nextpnr_log",
           "tool_environment"]

Progress = Callable[[str], None]
#: Opens a named build step (see :class:`qnnhw.build.Steps`).
StepOpener = Callable[[str], AbstractContextManager[None]]


class DoesNotFit(QnnhwError):
    """nextpnr could not place the design: it needs more of some resource."""


@dataclass
class Implementation:
    """What nextpnr reported for a placed and routed design."""

    lcs: int
    dsps: int
    ram_blocks: int
    fmax_mhz: float
    log: str


def tool_environment(arch: Architecture) -> dict[str, str]:
    """The YoWASP tools from this Python environment, unless the user named others."""
    env = dict(os.environ)
    scripts = Path(sys.executable).parent
    for variable, (_, tool, package) in arch.tools.items():
        if variable not in env:
            path = scripts / tool
            found = str(path) if path.exists() else shutil.which(tool)
            if found is None:
                raise QnnhwError(f"{tool} is not installed; run 'pip install {package}' or set "
                                 f"{variable} to a system binary")
            env[variable] = found
    return env


def parse_nextpnr_log(text: str, arch: Architecture) -> Implementation:
    used = {}
    for resource, cell in arch.utilisation.items():
        match = re.search(rf"{cell}:\s+(\d+)/\s*(\d+)", text)
        used[resource] = int(match.group(1)) if match else 0
    frequencies = [float(value) for value in
                   re.findall(r"Max frequency for clock\s+'(?:[^']*cd_sync[^']*|clk)':"
                              r"\s+([\d.]+) MHz", text)]
    if not frequencies:
        frequencies = [float(value) for value in
                       re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", text)]
    if not frequencies:
        raise QnnhwError("nextpnr reported no maximum frequency; see the log in the build "
                         "folder")
    return Implementation(fmax_mhz=frequencies[-1], log=text, **used)


#: The synthesis command whose flip-flop mapping may use synchronous set and reset, and the
#: legalisation that allows none (the plain, enabled and asynchronously reset flip-flops
#: synth_ice40 itself allows besides them).
PLAIN_FLIP_FLOPS_SYNTHESIS = "synth_ice40"
PLAIN_FLIP_FLOPS = ("dfflegalize -cell $_DFF_?_ 0 -cell $_DFFE_?P_ 0 -cell $_DFF_?P?_ 0 "
                    "-cell $_DFFE_?P?P_ 0 -cell $_DLATCH_?_ x -mince -1")


def _with_plain_flip_flops(match: re.Match[str]) -> str:
    indent, options = match.group(1), match.group(2)
    return "\n".join(f"{indent}{line}" for line in (
        f"synth_ice40{options} -run :map_ffs", PLAIN_FLIP_FLOPS,
        f"synth_ice40{options} -run map_ffs:"))


def elaborate(board: Board, top: Any, folder: Path, name: str = "qnnhw",
              plain_flip_flops: bool = False) -> list[list[str]]:
    """Elaborate ``top`` for ``board`` into ``folder`` (RTLIL, Verilog, constraints, the
    yosys script) and return the build plan's commands. With ``plain_flip_flops`` (an
    architecture's :attr:`~qnnhw.families.Architecture.plain_flip_flops`), iCE40 synthesis
    maps no logic into synchronous set or reset pins."""
    platform = board.platform()
    options: dict[str, Any] = {"nextpnr_opts": "--timing-allow-fail"}
    if board.device.dsps and board.device.arch.dsp_synthesis:
        options["synth_opts"] = board.device.arch.dsp_synthesis
    plan = platform.build(top, name=name, do_build=False, debug_verilog=True, **options)
    plan.extract(str(folder))
    script = folder / f"{name}.ys"
    if plain_flip_flops:
        script.write_text(re.sub(rf"^(\s*){PLAIN_FLIP_FLOPS_SYNTHESIS}(.*)$",
                                 _with_plain_flip_flops, script.read_text(),
                                 flags=re.MULTILINE))
    commands: list[list[str]] = json.loads((folder / f"build_{name}.json").read_text())[
        "commands"]
    return commands


@contextmanager
def _heartbeat(step: str, progress: Progress) -> Iterator[None]:
    """Say every 20 s that ``step`` is still running."""
    stop = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not stop.wait(20.0):
            progress(f"  … {step}, {time.perf_counter() - start:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


#: The synthesis command whose ABC9 step can crash, and the same synthesis with ABC9's LUT
#: mapping replaced by classic ABC (what synth_ecp5 did before ABC9 became its default).
ABC9_CRASH_SYNTHESIS = "synth_ecp5"


def _without_abc9(match: re.Match[str]) -> str:
    indent, options = match.group(1), match.group(2)
    return "\n".join(f"{indent}{line}" for line in (
        f"synth_ecp5{options} -run :map_luts", "techmap -map +/lattice/latches_map.v",
        "abc -dress -lut 4:7", "clean", f"synth_ecp5{options} -run map_cells:"))


def _abc9_crashed(folder: Path, name: str) -> bool:
    """Whether yosys stopped on an internal assertion while ABC9 mapped the design."""
    log = folder / f"{name}.rpt"
    if not log.exists():
        return False
    tail = log.read_text(errors="replace")[-4000:]
    return "ABC9" in tail and "ERROR: Assert" in tail


#: Seeds nextpnr tries, one after another, when its placer finds no legal placement.
PLACEMENT_SEEDS = (2, 3)


def _placement_unlegalised(folder: Path, name: str) -> bool:
    """Whether nextpnr stopped because its placer could not legalise the placement."""
    log = folder / f"{name}.tim"
    return log.exists() and "Unable to find legal placement" in log.read_text()[-2000:]


def implement(board: Board, commands: list[list[str]], folder: Path, step: StepOpener,
              progress: Progress, name: str = "qnnhw", time_limit: float | None = None
              ) -> Implementation:
    """Run the build plan's ``commands`` in ``folder``, each as a build step; return
    nextpnr's figures. Raises :class:`DoesNotFit` when the design needs more than the device
    has and QnnhwError when a tool fails or, with ``time_limit``, runs longer than that many
    seconds."""
    arch = board.device.arch
    env = tool_environment(arch)
    log_path = folder / "toolchain.log"
    for command in commands:
        variable = command[0].upper().replace("-", "_")   # Amaranth's own convention
        if variable not in arch.tools:
            raise QnnhwError(f"the build plan runs {command[0]!r}, which qnnhw does not know "
                             f"for {arch.name}")
        label = arch.tools[variable][0]
        with step(label), _heartbeat(f"{label} ({command[0]})", progress), \
                open(log_path, "a") as log:
            try:
                result = subprocess.run([env[variable], *command[1:]], cwd=folder, env=env,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        timeout=time_limit)
            except subprocess.TimeoutExpired:
                raise QnnhwError(f"{label} ran longer than {time_limit:.0f} s") from None
            script = folder / f"{name}.ys"
            if (result.returncode != 0 and variable == "YOSYS" and _abc9_crashed(folder, name)
                    and ABC9_CRASH_SYNTHESIS in script.read_text()):
                progress("yosys's ABC9 mapper crashed (a yosys bug on some large designs); "
                         "synthesising again with the classic ABC mapper")
                script.write_text(re.sub(rf"^(\s*){ABC9_CRASH_SYNTHESIS}(.*)$",
                                         _without_abc9, script.read_text(),
                                         flags=re.MULTILINE))
                result = subprocess.run([env[variable], *command[1:]], cwd=folder, env=env,
                                        stdout=log, stderr=subprocess.STDOUT)
        for seed in PLACEMENT_SEEDS:
            if result.returncode == 0 or not _placement_unlegalised(folder, name):
                break
            # HeAP's legaliser gives up on some dense designs that another seed places.
            progress(f"nextpnr found no legal placement with this seed (a limit of its "
                     f"analytic placer below full utilisation); trying --seed {seed}")
            with step(label), _heartbeat(f"{label} ({command[0]}, seed {seed})", progress), \
                    open(log_path, "a") as log:
                try:
                    result = subprocess.run([env[variable], *command[1:], "--seed", str(seed)],
                                            cwd=folder, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, timeout=time_limit)
                except subprocess.TimeoutExpired:
                    raise QnnhwError(f"{label} ran longer than {time_limit:.0f} s") from None
        if result.returncode != 0:
            timing_log = folder / f"{name}.tim"
            text = (timing_log.read_text() if timing_log.exists() else "") + log_path.read_text()
            overuse = re.search(r"Failed to expand region .* of \d+ \w+|Unable to place cell|"
                                r"\w+ used \d+ of \d+|"
                                r"Design requires \d+ \w+ cells?, but device only has \d+", text)
            if overuse:
                raise DoesNotFit(overuse.group(0))
            # yosys writes its messages to its own log (-l NAME.rpt), nextpnr to ours.
            synthesis_log = folder / f"{name}.rpt"
            text = log_path.read_text() + (synthesis_log.read_text(errors="replace")
                                           if synthesis_log.exists() else "")
            errors = [line.strip() for line in text.splitlines()
                      if line.lstrip().upper().startswith("ERROR")] or ["no error message"]
            raise QnnhwError(f"the FPGA toolchain failed in {label} ({errors[0]})")
    return parse_nextpnr_log((folder / f"{name}.tim").read_text(), arch)
