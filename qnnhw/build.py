"""From data (or a model) to a bitstream, as named steps over one build folder.

train → fit → fixed point → elaborate → synthesis → place and route → bitstream → report

Each step is timed and leaves its artifact in the staging folder ``DIR/.staging``
(``model.json``, ``fit.json``, ``fixedpoint.json``, ``qnnhw.v``, the bitstream,
``report.json``); when every step has passed they move into ``DIR``. A refusal before the
toolchain (a model that does not fit) leaves nothing behind; a toolchain failure or a
timing failure leaves the staging folder as ``DIR/failed``, never a bitstream.

Fitting uses the family's estimates (:mod:`qnnhw.estimate`): the weights must fit the block
RAM that the bitstream initialises, the units the logic cells and the multipliers the DSPs;
then the folding P with the highest throughput that fits. After place and route nextpnr's
figures replace the estimates: a design that does not fit is retried with fewer units.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from boards import MIN_BAUD_DIVISOR, Board
from boards.clocking import PLLClock, PLLSettings
from boards.top import BoardTop
from hdl.serial import SerialInference
from sim.runner import measure_link, random_vectors

from . import flow
from .dataset import Dataset, class_indices
from .errors import QnnhwError
from .estimate import choose_parallel
from .families import Progress, Spec, Trainer, architecture, family_of, get_family
from .files import atomic_write
from .model import Network
from .protocol import (
    DEFAULT_WINDOW,
    MAX_VECTORS,
    OVERHEAD_BYTES,
    PROTOCOL_VERSION,
    design_id,
    vector_bytes,
)
from .toolchain import DoesNotFit, Implementation, elaborate, implement
from .training import TrainingOptions

__all__ = ["Steps", "fit_design", "hardware_accuracy", "requested_pll", "run_build"]

NAME = "qnnhw"
#: Vectors the build sends through the simulated serial link, and its self-test's count.
LINK_VECTORS, SELFTEST_VECTORS = 64, 4096
#: Products of a finished build, moved from the staging folder into the build folder.
PRODUCTS = ("model.json", "fit.json", "fixedpoint.json", "qnnhw.v", "report.json")
LOGS = ("toolchain.log", f"{NAME}.rpt", f"{NAME}.tim")
#: With the PLL, the design runs at no more than this share of nextpnr's Fmax …
CLOCK_MARGIN = 0.9
#: … found in at most this many place-and-route runs after the oscillator's, each given this
#: many times the oscillator run's longest tool time.
PLL_ATTEMPTS, PLL_TIME_FACTOR = 3, 3.0


class Steps:
    """The build's steps: each is announced, timed and recorded with what it wrote."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.records: list[dict[str, Any]] = []

    @contextmanager
    def step(self, name: str, artifact: str | None = None) -> Iterator[None]:
        self.progress(f"step: {name}")
        start = time.perf_counter()
        yield
        record: dict[str, Any] = {"step": name,
                                  "seconds": round(time.perf_counter() - start, 2)}
        if artifact:
            record["artifact"] = artifact
        self.records.append(record)

    def seconds(self, name: str) -> float:
        return sum(record["seconds"] for record in self.records if record["step"] == name)


def _fold(board: Board, model: Network, spec: Spec, parallel: int | None, scores: bool,
          arch: str, progress: Progress) -> tuple[int, dict[str, Any]]:
    """P for architecture ``arch``, and what the estimates said about it."""
    family, device = family_of(model), board.device
    if parallel is not None:
        flow.check_parallel(model, spec, parallel, arch)
        return parallel, asdict(family.estimate(device, spec, parallel, scores, arch))
    chosen = choose_parallel(device, family.units(spec, arch),
                             lambda units: family.estimate(device, spec, units, scores, arch))
    if chosen is None:
        one = family.estimate(device, spec, 1, scores, arch)
        fewer = family.smaller(spec)
        if spec.outputs > 1:
            # Every class adds its own sums and scores: C is a cost like d.
            fewer = fewer.replace(" or features", ", features or classes") + \
                f" (C={spec.outputs})" + (", answer with the class only (@scores)"
                                          if scores else "")
        design = architecture(family, arch)
        unit = (f"the {design.units} ({spec.m} neurons)" if family.units(spec, arch) == 1 else
                f"the {arch} design with one of its {design.units} (P=1)")
        raise QnnhwError(
            f"the design does not fit {board.name}: {unit} "
            f"needs about {one.lcs} logic cells and {one.ram_blocks} RAM blocks, "
            f"{device.name} has {device.lcs} and {device.ram_blocks}; use fewer "
            f"{fewer}, or a bigger board (ice40-hx8k, ulx3s)",
            tuple(dict.fromkeys(["input_bits", *re.findall(r"@(\w+)", fewer)])))
    chosen_arch = architecture(family, arch)
    units = family.units(spec, arch)
    what = (f"{arch}: the whole network as one unit" if units == 1 else
            f"folding ({arch}): P={chosen.parallel} {chosen_arch.units} for "
            f"{chosen_arch.bound}={units}")
    progress(f"{what}, {chosen.cycles} "
             f"cycles per vector (estimate {chosen.lcs} of {device.lcs} logic cells, "
             f"{chosen.dsps} DSPs, {chosen.ram_blocks} RAM blocks)")
    return chosen.parallel, asdict(chosen)


def fit_design(board: Board, model: Network, trainer: Trainer | None, input_bits: int,
               parallel: int | None, scores: bool, arch: str, progress: Progress
               ) -> tuple[str, Network, Spec, int, dict[str, Any]]:
    """The architecture, network, spec and P to build: for ``arch`` "auto", the family's
    architecture with the fewest cycles per vector among those that fit (an architecture
    may first need a narrower network to fit the RAM: the family's ``fit`` says)."""
    family = family_of(model)
    candidates = (tuple(option.name for option in family.architectures) if arch == "auto"
                  else (architecture(family, arch).name,))
    options = []
    refusals = []
    for candidate in candidates:
        spec: Spec | None = None
        try:
            fitted = family.fit(board, model, trainer, input_bits, candidate, progress)
            spec = flow.fixed_point(fitted, input_bits)
            units, estimated = _fold(board, fitted, spec, parallel, scores, candidate,
                                     progress)
        except QnnhwError as refusal:
            if len(candidates) == 1:
                raise
            progress(f"{candidate}: {refusal}")
            # The smallest configuration of this architecture, to refuse with the closest.
            needed = (family.estimate(board.device, spec, 1, scores, candidate).lcs
                      if spec is not None else math.inf)
            refusals.append((needed, refusal))
            continue
        options.append((estimated["cycles"], candidate, fitted, spec, units, estimated))
    if not options:
        # Every architecture was tried: the refusal of the one that came closest to fitting.
        raise min(refusals, key=lambda refused: refused[0])[1]
    cycles, chosen, fitted, spec, units, estimated = min(options, key=lambda option: option[0])
    if len(candidates) > 1:
        progress(f"architecture: {chosen} ({cycles} cycles per vector)")
    return chosen, fitted, spec, units, estimated


def _implement(board: Board, model: Network, spec: Spec, parallel: int, scores: bool,
               arch: str, pll: PLLSettings | None, baud: int | None, staging: Path,
               steps: Steps, retries: int = 3, time_limit: float | None = None
               ) -> tuple[Any, Implementation, int]:
    """Elaborate, synthesise, place and route, clocked by the oscillator or by the PLL set
    to ``pll``, the serial link at ``baud`` (None: the board's fastest for the clock); retry
    with fewer units (up to ``retries`` times) if it does not fit. With ``time_limit``, a
    tool that runs longer than that many seconds fails the attempt."""
    clock_hz = board.clock_hz if pll is None else pll.f_out
    _, divisor = board.link(clock_hz, baud)
    identity = design_id(spec.to_json())
    attempts = 0
    while True:
        datapath = flow.datapath(model, spec, parallel, scores, arch)
        clock = None if pll is None else PLLClock(pll, board.pll, board.clock)
        with steps.step("elaborate", "qnnhw.v"):
            engine = SerialInference(datapath, divisor, round(clock_hz), identity)
            commands = elaborate(board, BoardTop(engine, clock),
                                 staging, NAME, architecture(family_of(model), arch)
                                 .plain_flip_flops)
        steps.progress(f"synthesis, place and route for {board.name} ({board.device.name}), "
                       f"P={parallel}, clock {clock_hz / 1e6:.2f} MHz")
        try:
            return datapath, implement(board, commands, staging, steps.step, steps.progress,
                                       NAME, time_limit), parallel
        except DoesNotFit as error:
            attempts += 1
            if parallel == 1 or attempts > retries:
                raise QnnhwError(f"the design does not fit {board.name} even with "
                                 f"P={parallel} ({error}); use a bigger board") from None
            parallel = max(1, int(parallel * 0.7))
            steps.progress(f"it did not fit ({error}); retrying with P={parallel}")


def _served_per_second(board: Board, spec: Spec, clock_hz: float, baud: int | None,
                       cycles_per_vector: int) -> float:
    """Inferences per second a design at ``clock_hz`` can serve a host: the datapath's rate
    or the link's (full frames of requests at the baud it makes), the lower."""
    try:
        rate, _ = board.link(clock_hz, baud)
    except QnnhwError:
        return 0.0
    frame = OVERHEAD_BYTES + MAX_VECTORS * vector_bytes(spec.features, spec.input_bits)
    return min(clock_hz / cycles_per_vector, rate / 10 / frame * MAX_VECTORS)


def _pll_for_link(board: Board, spec: Spec, limit_hz: float, baud: int | None,
                  cycles_per_vector: int) -> PLLSettings | None:
    """The PLL settings at or below ``limit_hz`` that serve the most inferences per second
    (:func:`_served_per_second`; the faster clock on a tie): the fastest clock, unless a
    slower one makes a faster baud rate exactly — a serial link is usually what limits."""
    targets = [limit_hz]
    if baud is None and board.bridge is not None:
        targets += [rate * cycles for rate in board.bridge.rates()
                    for cycles in range(MIN_BAUD_DIVISOR, 2 * MIN_BAUD_DIVISOR)
                    if limit_hz / 2 <= rate * cycles <= limit_hz]
    candidates = [settings for settings in map(board.pll_settings, targets)
                  if settings is not None]
    return max(candidates, default=None, key=lambda settings: (
        _served_per_second(board, spec, settings.f_out, baud, cycles_per_vector),
        settings.f_out))


def _faster_clock(board: Board, model: Network, spec: Spec, parallel: int, scores: bool,
                  arch: str, baud: int | None, cycles_per_vector: int, fmax_mhz: float,
                  staging: Path, steps: Steps) -> tuple[PLLSettings, Any, Implementation] | None:
    """Build again from the PLL at the clock within :data:`CLOCK_MARGIN` of the last Fmax
    that serves the most inferences/s (:func:`_pll_for_link`), up to :data:`PLL_ATTEMPTS`
    times: a routing that misses its clock is tried again below its own Fmax, one that meets
    it with room to spare again above. The fastest design that meets its clock replaces the
    oscillator's in ``staging``; None if none does. A routing that takes
    :data:`PLL_TIME_FACTOR` times the oscillator's (a router that does not converge at the
    faster clock) is abandoned."""
    time_limit = max(60.0, PLL_TIME_FACTOR * max(steps.seconds("synthesis"),
                                                  steps.seconds("place and route")))
    best: tuple[PLLSettings, Any, Implementation, Path] | None = None
    tried: set[float] = set()
    for attempt in range(PLL_ATTEMPTS):
        settings = _pll_for_link(board, spec, CLOCK_MARGIN * fmax_mhz * 1e6, baud,
                                 cycles_per_vector)
        floor = board.clock_hz if best is None else best[0].f_out
        if settings is None or settings.f_out <= floor or settings.f_out in tried:
            break
        tried.add(settings.f_out)
        steps.progress(f"Fmax {fmax_mhz:.1f} MHz: building again with the PLL at "
                       f"{settings.f_out / 1e6:.2f} MHz")
        folder = staging / f"pll{attempt}"
        folder.mkdir()
        try:
            datapath, implementation, _ = _implement(board, model, spec, parallel, scores,
                                                     arch, settings, baud, folder, steps,
                                                     retries=0, time_limit=time_limit)
        except QnnhwError as error:
            steps.progress(f"the PLL design failed ({error})")
            break
        fmax_mhz = implementation.fmax_mhz
        if fmax_mhz * 1e6 >= settings.f_out:
            best = (settings, datapath, implementation, folder)
    for folder in staging.glob("pll*"):
        if best is not None and folder == best[3]:
            for product in folder.iterdir():
                product.replace(staging / product.name)
        shutil.rmtree(folder)
    if best is None:
        steps.progress(f"no PLL clock met timing with margin; keeping the "
                       f"{board.clock_mhz:g} MHz oscillator")
        return None
    return best[:3]


def run_build(board: Board, out_dir: Path, *, model: Network | None = None,
              dataset: Dataset | None = None, config: TrainingOptions | None = None,
              parallel: int | None = None, input_bits: int | None = None,
              scores: bool = True, clock: str | float = "auto", arch: str = "auto",
              baud: int | None = None, link_vectors: int = LINK_VECTORS,
              progress: Progress) -> dict[str, Any]:
    """The whole flow for one board: train (unless ``model`` is given), fit, build, report.

    Returns the report (also in ``report.json``). ``dataset`` gives the accuracy of the
    hardware integers on both splits when the task is classification. With C outputs the
    board answers with the class and, unless ``scores`` is false, the C scores.

    ``clock``: "auto" builds on the board's oscillator, then again from the PLL at the
    fastest clock nextpnr's Fmax allows with margin (kept if it meets timing); "board"
    stays on the oscillator; a number of MHz runs the PLL at the fastest clock not above it.
    A design that misses the clock it is built for is refused.

    ``arch``: the hardware architecture (the family's ``architectures``), or "auto" for
    the one with the fewest cycles per vector that fits the board.

    ``baud``: the serial link's rate (None: the fastest the board's bridge and the clock
    make, :meth:`boards.Board.link`). The built design's whole serial path is then run in
    Verilator at its clock with ``link_vectors`` vectors sent as the client sends them, and
    its self-test: the report's link figures are measured there (0: not run).
    """
    start = time.perf_counter()
    steps = Steps(progress)
    staging = out_dir / ".staging"
    failed = out_dir / "failed"
    created = not out_dir.exists()
    pll = requested_pll(board, clock)   # before any work: a clock no PLL makes is refused
    board.link(board.clock_hz if pll is None else pll.f_out, baud)   # and a baud it cannot
    if staging.exists():
        progress(f"removing {staging}, the unfinished work of an earlier build")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    in_toolchain = False
    try:
        trainer: Trainer | None = None
        if model is None:
            assert dataset is not None and config is not None
            with steps.step("train", "model.json"):
                trainer = get_family(config.FAMILY).trainer(dataset, config, progress)
                model = trainer.train()
                model.save(staging / "model.json")
        with steps.step("fit", "fit.json"):
            input_bits = flow.input_bits_for(model, input_bits)
            trained_m = model.m
            arch, model, spec, parallel, estimated = fit_design(
                board, model, trainer, input_bits, parallel, scores, arch, progress)
            model.save(staging / "model.json")
            atomic_write(staging / "fit.json", json.dumps(
                {"board": board.name, "device": board.device.name, "m_trained": trained_m,
                 "m": model.m, "arch": arch, "parallel": parallel, "estimate": estimated},
                indent=1) + "\n")
        with steps.step("fixed point", "fixedpoint.json"):
            atomic_write(staging / "fixedpoint.json", spec.to_json())
        in_toolchain = True
        datapath, implementation, parallel = _implement(board, model, spec, parallel, scores,
                                                        arch, pll, baud, staging, steps)
        clock_hz = board.clock_hz if pll is None else pll.f_out
        if implementation.fmax_mhz * 1e6 < clock_hz:
            which, lower = ("board", "") if pll is None else ("PLL", "a lower @clock, ")
            raise QnnhwError(f"the routed design fails timing: Fmax "
                             f"{implementation.fmax_mhz:.1f} MHz < the {clock_hz / 1e6:g} MHz "
                             f"{which} clock; try {lower}fewer @input_bits or another board",
                             ("clock", "input_bits"))
        if clock == "auto":
            faster = _faster_clock(board, model, spec, parallel, scores, arch, baud,
                                   datapath.initiation_interval, implementation.fmax_mhz,
                                   staging, steps)
            if faster is not None:
                pll, datapath, implementation = faster
        with steps.step("report", "report.json"):
            report = _report(board, model, spec, datapath, implementation, parallel, arch,
                             pll, baud, dataset)
        if link_vectors:
            with steps.step("link", "report.json"):
                clock_hz = board.clock_hz if pll is None else pll.f_out
                report.update(_measure_link(model, spec, parallel, arch, clock_hz, report,
                                            link_vectors, steps.progress))
        report["steps"] = list(steps.records)
        report["seconds"] = round(time.perf_counter() - start, 1)
        atomic_write(staging / "report.json", json.dumps(report, indent=1) + "\n")
    except QnnhwError as error:
        if not in_toolchain:
            shutil.rmtree(staging, ignore_errors=True)
            if created and not any(out_dir.iterdir()):
                out_dir.rmdir()
            raise
        # Keep the logs of a failed build in DIR/failed, never beside a bitstream.
        shutil.rmtree(failed, ignore_errors=True)
        for bitstream in staging.glob(f"{NAME}.b*"):
            bitstream.unlink()
        staging.rename(failed)
        raise QnnhwError(f"{error.template}; logs in {failed}", error.parameters) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    # Everything is in place: move the products out of the staging folder.
    shutil.rmtree(failed, ignore_errors=True)
    logs = out_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    for log in LOGS:
        if (staging / log).exists():
            shutil.move(staging / log, logs / log)
    (staging / f"{NAME}.debug.v").replace(staging / "qnnhw.v")
    for product in PRODUCTS:
        (staging / product).replace(out_dir / product)
    (staging / report["bitstream"]).replace(out_dir / report["bitstream"])
    shutil.rmtree(staging, ignore_errors=True)
    return report


def requested_pll(board: Board, clock: str | float) -> PLLSettings | None:
    """The PLL settings a ``clock`` asks for first (None: the oscillator)."""
    if clock in ("auto", "board"):
        return None
    if isinstance(clock, str) or not clock > 0:
        raise QnnhwError(f"@clock must be 'auto', 'board' or a frequency in MHz, not "
                         f"{clock!r}", "clock")
    settings = board.pll_settings(clock * 1e6)
    if settings is not None and clock * 1e6 > type(settings).OUT[1]:
        fastest = type(settings).OUT[1] / 1e6
        raise QnnhwError(f"{board.name}'s PLL makes at most {fastest:g} MHz, not {clock:g}; "
                         f"ask for a slower @clock, or 'auto' for the fastest that the "
                         f"routed design meets", "clock")
    if settings is None:
        raise QnnhwError(f"{board.name}'s PLL makes no clock at or below {clock:g} MHz; ask "
                         f"for a faster @clock, or 'board' for the {board.clock_mhz:g} MHz "
                         f"oscillator", "clock")
    return settings


def _report(board: Board, model: Network, spec: Spec, datapath: Any,
            implementation: Implementation, parallel: int, arch: str,
            pll: PLLSettings | None, baud: int | None, dataset: Dataset | None
            ) -> dict[str, Any]:
    family, device = family_of(model), board.device
    groups = datapath.initiation_interval
    clock = board.clock_hz if pll is None else pll.f_out
    baud, divisor = board.link(clock, baud)
    work = family.work(spec, arch)
    training = model.training
    report: dict[str, Any] = {
        "board": board.name, "board_title": board.title, "device": device.name,
        "lc_used": implementation.lcs, "lc_total": device.lcs,
        "dsp_used": implementation.dsps, "dsp_total": device.dsps,
        "ram_used": implementation.ram_blocks, "ram_total": device.ram_blocks,
        "fmax_mhz": round(implementation.fmax_mhz, 2), "clock_mhz": round(clock / 1e6, 4),
        "clock_source": "oscillator" if pll is None else "PLL",
        "oscillator_mhz": board.clock_mhz,
        "pll": None if pll is None else {key: value for key, value in asdict(pll).items()
                                         if key != "f_in"},
        "family": model.FAMILY, "arch": arch, "units": architecture(family, arch).units,
        "parallel": parallel, "m": model.m,
        "d": model.d,
        "cycles_per_vector": groups, "latency_cycles": datapath.latency,
        "inferences_per_second": clock / groups,
        "unit_bound_per_second": parallel * clock / work,
        "bound_ratio": (clock / groups) / (parallel * clock / work),
        "input_bits": spec.input_bits, "output_bits": spec.output_width,
        "outputs": spec.outputs, "response_scores": datapath.scores,
        "protocol_version": PROTOCOL_VERSION, "design_id": design_id(spec.to_json()),
        "uart_baud": baud, "uart_divisor": divisor,
        "uart_bridge": board.bridge.name if board.bridge else "external adapter",
        "uart_baud_error": round(clock / divisor / baud - 1, 5),
        "estimated_lcs": family.estimate(device, spec, parallel, datapath.scores, arch).lcs,
        "model": {"family": model.FAMILY,
                  **{key: training.get(key) for key in ("method", "loss", "beta", "objective",
                                                        "data", *family.summary_keys)}},
        "certificate": family.certificate(training),
        "bitstream": f"{NAME}.{device.arch.bitstream}",
    }
    if dataset is not None:
        report.update(hardware_accuracy(model, spec, dataset))
    return report


def _measure_link(model: Network, spec: Spec, parallel: int, arch: str, clock_hz: float,
                  report: dict[str, Any], vectors: int, progress: Progress
                  ) -> dict[str, Any]:
    """The built design's serial path in Verilator at its clock and baud: the inferences per
    second of ``vectors`` sent as the client sends them, and the self-test's cycles."""
    inputs = random_vectors(spec, vectors, seed=0)
    progress(f"simulating the serial link: {vectors} vectors at {report['uart_baud']:,} baud, "
             f"{report['clock_mhz']:g} MHz, and the self-test")
    measured, selftest, failures = measure_link(
        model, spec, parallel, inputs, flow.cache_dir() / "sim", clock_hz=clock_hz,
        divisor=report["uart_divisor"], scores=report["response_scores"], arch=arch,
        window=DEFAULT_WINDOW, selftest_count=SELFTEST_VECTORS, progress=progress)
    if failures:
        raise QnnhwError("the board design failed its serial-link simulation ("
                         + "; ".join(failures) + ")")
    return {"uart_inferences_per_second": round(measured["inferences_per_second"], 1),
            "uart_link": {"vectors": vectors, "window": DEFAULT_WINDOW,
                          "vectors_per_frame": MAX_VECTORS,
                          "mismatches": measured["mismatches"]},
            "selftest_cycles_per_vector": round(selftest["cycles"] / SELFTEST_VECTORS, 4)}


def hardware_accuracy(model: Network, spec: Spec, dataset: Dataset) -> dict[str, float]:
    """Accuracy on both splits in floating point and on the hardware's integers (the
    reference of ``spec``), for classification; nothing for regression."""
    if model.task != "classification":
        return {}
    reference = flow.reference(model, spec)
    accuracy: dict[str, float] = {}
    for split, X, y in (("train", dataset.X_train, dataset.y_train),
                        ("test", dataset.X_test, dataset.y_test)):
        if len(y):
            truth = class_indices(y, dataset.classes)
            accuracy[f"{split}_accuracy_float"] = float(
                (model.predict_classes(X) == truth).mean())
            accuracy[f"{split}_accuracy_hardware"] = float(
                (reference.predict_classes(reference.quantize(X)) == truth).mean())
    return accuracy
