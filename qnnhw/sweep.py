"""Design-space sweeps: many ``build`` configurations, run on Dask, one table and its fronts.

A sweep is a list of *points*. Each point is a set of ``build`` options (``family``,
``beta``, ``board``, each family's own options …) and how far it goes: ``train`` (the
network and its test accuracy), ``estimate`` (fitted to the board by the estimates: cells,
cycles per vector, inferences/s at the board's clock, accuracy on the hardware's integers)
or ``build`` (the bitstream, with nextpnr's figures). A point is parsed by the ``build``
command's own parser, so every point is a configuration the command line accepts, and the
whole sweep is checked before any point runs.

Points run on Dask's distributed scheduler: an embedded ``LocalCluster`` (one process per
core, listening on localhost only) or a running scheduler. Each finished point is written
atomically as ``DIR/points/KEY.json``, KEY a hash of the point's options and the qnnhw
version: a rerun skips finished points, and a sweep stopped half-way loses only the points
that were running. A point that does not fit, misses timing or is refused is a row with its
one-line reason; a point whose worker dies is run again on another worker by the scheduler.

The results are ``DIR/results.csv`` (one row per point, Pareto fronts marked),
``DIR/pareto.png`` and ``DIR/report.md``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import io
import itertools
import json
import logging
import math
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from boards import get_board

from . import __version__, flow
from .build import fit_design, hardware_accuracy, requested_pll, run_build
from .cli import (
    STOPS,
    build_parser,
    data_source,
    load_data,
    parameter_flags,
    training_config,
    training_inputs,
)
from .errors import QnnhwError
from .families import get_family
from .families.base import silent
from .files import atomic_write
from .model import load_model
from .training import evaluate

__all__ = ["Point", "load_points", "mark_pareto", "point_parser", "run_point",
           "run_sweep"]

#: How far a point goes.
#: ``build`` options that are not sweep options: what the sweep itself decides.
NOT_SWEPT = {"model": "a sweep trains every point", "output": "the sweep names each "
             "point's folder", "json": "the sweep writes its own table"}
#: Options that only mean something on a board.
HARDWARE = ("board", "parallel", "input_bits", "arch", "clock", "scores")
#: The layout of a point's saved row: part of its key, so that a new layout reruns points.
ROW_FORMAT = 2
#: Seconds between progress lines while no point finishes.
PROGRESS_SECONDS = 30.0
#: Columns of results.csv after the options.
RESULT_COLUMNS = ("stop", "status", "reason", "test_accuracy", "test_accuracy_float",
                  "test_relative_loss", "network_neurons", "architecture", "units", "cells",
                  "cells_total", "ram_blocks", "cycles_per_vector", "clock_mhz",
                  "inferences_per_second", "seconds", "pareto", "pareto_cells",
                  "pareto_speed", "key")

Progress = Callable[[str], None]


@functools.cache
def point_parser() -> tuple[argparse.ArgumentParser, dict[str, list[argparse.Action]]]:
    """The ``build`` command's parser, and its options by destination."""
    parser = build_parser()
    subparsers = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction))
    build: argparse.ArgumentParser = subparsers.choices["build"]
    actions: dict[str, list[argparse.Action]] = {}
    for action in build._actions:
        if action.option_strings and action.dest != "help":
            actions.setdefault(action.dest, []).append(action)
    return parser, actions


def _is_switch(action: argparse.Action) -> bool:
    return isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))


def _text(name: str, value: Any, switch: bool) -> str:
    """A value of a SPEC or of --grid as the point's canonical text."""
    if switch:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower()
        if isinstance(value, bool):
            return "true" if value else "false"
        raise QnnhwError(f"{name} is a switch: give it true or false, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Path)):
        raise QnnhwError(f"{name} takes one value per point (text or a number), not "
                         f"{value!r}")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep: ``build`` options (destination → text) and a stop."""

    options: tuple[tuple[str, str], ...]
    stop: str

    @property
    def key(self) -> str:
        """Hash of the options, the stop, the qnnhw version and the row layout: the point's file
        name."""
        text = json.dumps({"options": sorted(self.options), "stop": self.stop,
                           "version": __version__, "row": ROW_FORMAT}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def argv(self, actions: Mapping[str, list[argparse.Action]]) -> list[str]:
        """The point as ``build`` arguments."""
        argv: list[str] = []
        for dest, text in self.options:
            group = actions[dest]
            if _is_switch(group[0]):
                # A switch set to the value no flag gives is its default: no flag.
                chosen = [action for action in group if action.const == (text == "true")]
                argv += [max(chosen[0].option_strings, key=len)] if chosen else []
            else:
                argv += [max(group[0].option_strings, key=len), text]
        return argv

    def describe(self) -> str:
        return " ".join(f"{dest}={text}" for dest, text in self.options)


def _normalise(name: str, actions: Mapping[str, list[argparse.Action]]) -> str:
    dest = name.lstrip("-").replace("-", "_")
    if dest in NOT_SWEPT:
        raise QnnhwError(f"{name} is not a sweep option: {NOT_SWEPT[dest]}")
    if dest not in actions:
        raise QnnhwError(f"unknown option {name!r}: a sweep's options are build's "
                         f"(see 'python -m qnnhw build --help'), without the dashes")
    return dest


def _axis(name: str, values: Any, actions: Mapping[str, list[argparse.Action]]
          ) -> tuple[str, list[str]]:
    dest = _normalise(name, actions)
    values = values if isinstance(values, list) else [values]
    if not values:
        raise QnnhwError(f"axis {name} has no values; give at least one")
    switch = _is_switch(actions[dest][0])
    return dest, list(dict.fromkeys(_text(name, value, switch) for value in values))


def _random_axis(name: str, rule: Any, count: int, rng: np.random.Generator,
                 actions: Mapping[str, list[argparse.Action]]) -> tuple[str, list[str]]:
    """``count`` draws of one random axis: a list to choose from, or {low, high, log,
    integer}."""
    if isinstance(rule, list):
        dest, choices = _axis(name, rule, actions)
        return dest, [choices[index] for index in rng.integers(len(choices), size=count)]
    if not isinstance(rule, dict) or not {"low", "high"} <= set(rule) \
            or not set(rule) <= {"low", "high", "log", "integer"}:
        raise QnnhwError(f"random axis {name} must be a list of values or a table "
                         f"{{low, high, log, integer}}, not {rule!r}")
    low, high = rule["low"], rule["high"]
    log, integer = bool(rule.get("log", False)), bool(rule.get("integer", False))
    if not all(isinstance(bound, (int, float)) and not isinstance(bound, bool)
               and math.isfinite(bound) for bound in (low, high)) or not low < high \
            or (log and low <= 0):
        raise QnnhwError(f"random axis {name} needs numbers low < high (both > 0 with log), "
                         f"not {low!r} and {high!r}")
    dest = _normalise(name, actions)
    draws = (np.exp(rng.uniform(np.log(low), np.log(high), count)) if log
             else rng.uniform(low, high, count))
    texts = [str(int(round(draw))) if integer else f"{draw:.4g}" for draw in draws]
    return dest, texts


def load_points(spec: Mapping[str, Any], fixed: Mapping[str, Any], grid: Sequence[str],
                stop: str | None) -> list[Point]:
    """The points of a SPEC (parsed TOML), with the command line's options (``fixed``,
    destination → value) for every point and its ``--grid NAME=V1,V2`` axes for every grid.
    """
    _, actions = point_parser()
    unknown = set(spec) - {"stop", "options", "grid", "random"}
    if unknown:
        raise QnnhwError(f"SPEC has unknown key {sorted(unknown)[0]!r}; it takes stop, "
                         f"[options], [grid] (or [[grid]] tables) and [random]")
    stop = stop or spec.get("stop", "estimate")
    if stop not in STOPS:
        raise QnnhwError(f"stop must be one of {', '.join(STOPS)}, not {stop!r}")
    options = spec.get("options", {})
    if not isinstance(options, dict):
        raise QnnhwError("SPEC's [options] must be a table of option = value")
    common = {_normalise(name, actions): _text(name, value, _is_switch(
        actions[_normalise(name, actions)][0])) for name, value in options.items()}
    for dest, value in fixed.items():
        common[dest] = _text(dest, value, _is_switch(actions[dest][0]))
    extra_axes = []
    for item in grid:
        name, equals, values = item.partition("=")
        if not equals or not values:
            raise QnnhwError(f"--grid takes NAME=V1,V2,…, not {item!r}")
        extra_axes.append(_axis(name, values.split(","), actions))

    grids = spec.get("grid", [])
    grids = [grids] if isinstance(grids, dict) else grids
    if not isinstance(grids, list) or not all(isinstance(table, dict) for table in grids):
        raise QnnhwError("SPEC's grid must be a [grid] table or [[grid]] tables of "
                         "option = [values]")
    combinations: list[dict[str, str]] = []
    if "random" in spec or not grids:
        combinations += _random_points(spec.get("random"), actions) if "random" in spec \
            else [{}]
    for table in grids:
        axes = [_axis(name, values, actions) for name, values in table.items()]
        for chosen in itertools.product(*(texts for _, texts in axes)):
            combinations.append(dict(zip((dest for dest, _ in axes), chosen)))
    if extra_axes:
        combinations = [{**combination, **dict(zip((dest for dest, _ in extra_axes), chosen))}
                        for combination in combinations
                        for chosen in itertools.product(*(texts for _, texts in extra_axes))]

    points: dict[Point, None] = {}
    for combination in combinations:
        clash = set(combination) & set(fixed)
        if clash:
            name = sorted(clash)[0]
            raise QnnhwError(f"{name} is both an axis of the sweep and a fixed option "
                             f"(--{name.replace('_', '-')}); drop one")
        merged = {**common, **combination}
        # Family and board always named (the board by its own name, not an alias): the
        # table's columns, the fronts' groups and the points' keys do not depend on defaults.
        merged.setdefault("family", str(actions["family"][0].default))
        if stop != "train":
            merged["board"] = get_board(merged.get("board", str(actions["board"][0].default))
                                        ).name
        if stop == "train":
            hardware = [dest for dest in HARDWARE if dest in merged]
            if hardware:
                raise QnnhwError(f"{hardware[0]} is a hardware option, and a sweep that stops "
                                 f"at train builds nothing; drop it, or stop at estimate or "
                                 f"build")
        points[Point(tuple(sorted(merged.items())), stop)] = None
    return list(points)


def _random_points(rules: Any, actions: Mapping[str, list[argparse.Action]]
                   ) -> list[dict[str, str]]:
    if not isinstance(rules, dict) or not isinstance(rules.get("points"), int) \
            or isinstance(rules.get("points"), bool) or rules["points"] < 1 \
            or not isinstance(rules.get("axes", {}), dict):
        raise QnnhwError("SPEC's [random] needs points = N (a positive integer), optionally "
                         "seed = S, and its axes in [random.axes]")
    count, seed = rules["points"], rules.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise QnnhwError(f"[random]'s seed must be a non-negative integer, not {seed!r}")
    rng = np.random.default_rng(seed)
    axes = [_random_axis(name, rule, count, rng, actions)
            for name, rule in rules.get("axes", {}).items()]
    return [{dest: texts[index] for dest, texts in axes} for index in range(count)]


def read_spec(path: Path) -> dict[str, Any]:
    """A SPEC file, or its one-line refusal."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QnnhwError(f"{path}: no such SPEC file; give a TOML file, or use --grid "
                         f"without one") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QnnhwError(f"{path}: cannot read the SPEC ({error}); give a TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise QnnhwError(f"{path}: not valid TOML ({error}); fix the SPEC") from None


# --- checking and running points ---------------------------------------------------------

def _parse(point: Point) -> tuple[argparse.Namespace, dict[str, str]]:
    parser, actions = point_parser()
    args = parser.parse_args(["build", *point.argv(actions)])
    return args, parameter_flags(parser, "build")


def check_points(points: Sequence[Point], progress: Progress) -> None:
    """Refuse the sweep, before anything runs, if one point would be refused on its
    options: the build command's parser, each family's option checks with the data set
    loaded (each data set once), the board and its clock."""
    loaded: dict[tuple[Any, ...], Any] = {}
    progress(f"checking {len(points)} points")
    for point in points:
        flags: dict[str, str] = {}
        try:
            args, flags = _parse(point)
            config = training_config(args, flags)
            source = data_source(args)
            if source not in loaded:   # each data set once
                loaded[source] = load_data(args)
            config.resolved(loaded[source])
            if point.stop != "train":
                requested_pll(get_board(args.board), args.clock)
        except QnnhwError as error:
            raise QnnhwError(f"point {point.describe() or '(defaults)'}: "
                             f"{_rendered(error, flags)}") from None


def _rendered(error: QnnhwError, flags: Mapping[str, str]) -> str:
    """The message as the command line shows it: parameters as their flags."""
    return error.render(lambda name: flags.get(name, name))


def run_point(point: Point, folder: str) -> dict[str, Any]:
    """Run one point (on a Dask worker) and return its row. A refusal (a design that does
    not fit, a timing failure) is a row with status "refused" and the one-line reason."""
    start = time.perf_counter()
    row: dict[str, Any] = {"status": "ok", "reason": ""}
    flags: dict[str, str] = {}
    try:
        args, flags = _parse(point)
        row.update(_run(point.stop, args, flags, Path(folder), silent))
    except QnnhwError as error:
        row.update(status="refused", reason=_rendered(error, flags))
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def _run(stop: str, args: argparse.Namespace, flags: Mapping[str, str], folder: Path,
         progress: Progress) -> dict[str, Any]:
    data, config = training_inputs(args, flags)
    if stop == "build":
        report = run_build(get_board(args.board), folder, dataset=data, config=config,
                           parallel=args.parallel, input_bits=args.input_bits,
                           scores=args.scores, clock=args.clock, arch=args.arch,
                           baud=args.baud, link_vectors=0, progress=progress)
        return {"test_accuracy": report.get("test_accuracy_hardware"),
                "test_accuracy_float": report.get("test_accuracy_float"),
                "network_neurons": report["m"], "architecture": report["arch"],
                "units": report["parallel"],
                "cells": report["lc_used"], "cells_total": report["lc_total"],
                "ram_blocks": report["ram_used"],
                "cycles_per_vector": report["cycles_per_vector"],
                "clock_mhz": report["clock_mhz"],
                "inferences_per_second": round(report["inferences_per_second"], 1),
                **_test_loss(folder / "model.json", data)}
    trainer = get_family(config.FAMILY).trainer(data, config, progress)
    model = trainer.train()
    scores = evaluate(model, data)
    row: dict[str, Any] = {"network_neurons": model.m,
                           "test_accuracy": scores.get("test_accuracy"),
                           "test_accuracy_float": scores.get("test_accuracy"),
                           "test_relative_loss": scores.get("test_relative_loss")}
    if stop == "estimate":
        board = get_board(args.board)
        pll = requested_pll(board, args.clock)
        clock_hz = board.clock_hz if pll is None else pll.f_out
        arch, fitted, spec, parallel, estimated = fit_design(
            board, model, trainer, flow.input_bits_for(model, args.input_bits),
            args.parallel, args.scores, args.arch, progress)
        accuracy = hardware_accuracy(fitted, spec, data)
        row.update(network_neurons=fitted.m, architecture=arch, units=parallel,
                   cells=estimated["lcs"], cells_total=board.device.lcs,
                   ram_blocks=estimated["ram_blocks"],
                   cycles_per_vector=estimated["cycles"], clock_mhz=round(clock_hz / 1e6, 4),
                   inferences_per_second=round(clock_hz / estimated["cycles"], 1),
                   test_accuracy=accuracy.get("test_accuracy_hardware"),
                   test_accuracy_float=accuracy.get("test_accuracy_float"))
    return row


def _test_loss(model_file: Path, data: Any) -> dict[str, Any]:
    """A built regression network's relative test loss (the build reports accuracy only)."""
    model = load_model(model_file)
    if model.task == "classification":
        return {}
    return {"test_relative_loss": evaluate(model, data).get("test_relative_loss")}


# --- execution on Dask -------------------------------------------------------------------

def _points_folder(out_dir: Path) -> Path:
    return out_dir / "points"


def _finished(point: Point, out_dir: Path) -> dict[str, Any] | None:
    """The point's row if it finished in an earlier run (an error is run again)."""
    path = _points_folder(out_dir) / f"{point.key}.json"
    try:
        row = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) and row.get("status") in ("ok", "refused") else None


def _save(point: Point, row: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    row = {"key": point.key, "version": __version__, "stop": point.stop,
           "options": dict(point.options), **row}
    atomic_write(_points_folder(out_dir) / f"{point.key}.json", json.dumps(row, indent=1))
    return row


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _execute(points: Sequence[Point], out_dir: Path, workers: int, scheduler: str | None,
             progress: Progress) -> int:
    """Run ``points`` on Dask, writing each row as it comes; the number of workers used."""
    try:
        from distributed import Client, LocalCluster, wait
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise QnnhwError("sweeps run on Dask, which is not installed: pip install "
                         "'qnnhw[sweep]' (dask and distributed, from PyPI)") from None
    with ExitStack() as stack:
        if scheduler is None:
            progress(f"starting a local Dask cluster: {workers} workers on 127.0.0.1")
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="15s"))
            except (OSError, TimeoutError, ValueError) as error:
                raise QnnhwError(f"cannot reach the Dask scheduler {scheduler} ({error}); "
                                 f"check --scheduler, or drop it for a local cluster") from None
        count = max(1, len(client.scheduler_info()["workers"]))
        progress(f"running {len(points)} points on {count} worker{'s' if count != 1 else ''}")
        futures = {client.submit(run_point, point,
                                 str(_points_folder(out_dir) / point.key),
                                 key=f"qnnhw-point-{point.key}"): point for point in points}
        pending = set(futures)
        began, seconds, refused, failed = time.perf_counter(), [], 0, 0
        last = began   # when the last point finished
        while pending:
            try:
                done, pending = wait(pending, timeout=PROGRESS_SECONDS,
                                     return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                point = futures[future]
                try:
                    row = future.result()
                except KilledWorker:
                    row = {"status": "error", "reason": "the point's worker died each time it "
                           "ran (out of memory, or killed); give the workers more memory"}
                except Exception as error:  # a bug in a point must not end the sweep
                    first = str(error).splitlines()[0] if str(error) else ""
                    row = {"status": "error", "reason": f"{type(error).__name__}: {first}"}
                _save(point, row, out_dir)
                refused += row["status"] == "refused"
                failed += row["status"] == "error"
                if "seconds" in row:
                    seconds.append(row["seconds"])
            if done:
                last = time.perf_counter()
            count = max(1, len(client.scheduler_info()["workers"]))
            finished = len(futures) - len(pending)
            left = (max(0.0, np.mean(seconds) * len(pending) / count
                        - (time.perf_counter() - last)) if seconds else math.nan)
            progress(f"sweep: {finished}/{len(futures)} points done ({refused} refused, "
                     f"{failed} failed), {min(len(pending), count)} running, "
                     f"{_duration(time.perf_counter() - began)} so far"
                     + (f", about {_duration(left)} left" if pending and seconds else ""))
        return count


# --- results -----------------------------------------------------------------------------

def _quality(row: Mapping[str, Any]) -> float | None:
    """Higher is better: test accuracy, or minus the relative test loss for regression."""
    if row.get("test_accuracy") is not None:
        return float(row["test_accuracy"])
    if row.get("test_relative_loss") is not None:
        return -float(row["test_relative_loss"])
    return None


def _front(values: Sequence[Sequence[Any]]) -> list[bool]:
    """Which of ``values`` (every coordinate: higher is better) no other value dominates."""
    array = np.asarray(values, dtype=float).reshape(len(values), -1)
    return [not bool(np.any(np.all(array >= row, axis=1) & np.any(array > row, axis=1)))
            for row in array]


def mark_pareto(rows: list[dict[str, Any]]) -> None:
    """Mark each finished row's fronts among the rows of its board: accuracy against cells
    (``pareto_cells``), against inferences/s (``pareto_speed``), against both (``pareto``);
    for points that stop at train, accuracy against neurons."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row.update(pareto=False, pareto_cells=False, pareto_speed=False)
        if row["status"] == "ok" and _quality(row) is not None:
            groups.setdefault(row["options"].get("board", ""), []).append(row)
    for group in groups.values():
        if group[0]["stop"] == "train":
            marks = _front([(_quality(row), -row["network_neurons"]) for row in group])
            for row, mark in zip(group, marks):
                row.update(pareto=mark)
            continue
        axes = {"pareto_cells": lambda row: (_quality(row), -row["cells"]),
                "pareto_speed": lambda row: (_quality(row), row["inferences_per_second"]),
                "pareto": lambda row: (_quality(row), -row["cells"],
                                       row["inferences_per_second"])}
        for column, objective in axes.items():
            for row, mark in zip(group, _front([objective(row) for row in group])):
                row[column] = mark


def _csv(rows: Sequence[Mapping[str, Any]], option_names: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*option_names, *RESULT_COLUMNS])
    for row in rows:
        cells = [row["options"].get(name, "") for name in option_names]
        cells += ["" if row.get(column) is None else str(row[column]).lower()
                  if isinstance(row.get(column), bool) else row[column]
                  for column in RESULT_COLUMNS]
        writer.writerow(cells)
    return buffer.getvalue()


def _plot(rows: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Accuracy against cells and against inferences/s per board, the fronts drawn."""
    finished = [row for row in rows if row["status"] == "ok" and _quality(row) is not None]
    if not finished:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boards = sorted({row["options"].get("board", "") for row in finished})
    train_only = finished[0]["stop"] == "train"
    columns = (("network_neurons", "neurons", "pareto"),) if train_only else (
        ("cells", "logic cells", "pareto_cells"),
        ("inferences_per_second", "inferences/s", "pareto_speed"))
    families = sorted({row["options"]["family"] for row in finished})
    palette = plt.get_cmap("tab10")
    colours = {family: palette(index) for index, family in enumerate(families)}
    regression = finished[0].get("test_accuracy") is None
    figure, axes = plt.subplots(len(boards), len(columns), squeeze=False,
                                figsize=(5.2 * len(columns), 3.6 * len(boards)))
    for line, board in zip(axes, boards):
        on_board = [row for row in finished if row["options"].get("board", "") == board]
        for axis, (column, label, mark) in zip(line, columns):
            for family in families:
                mine = [row for row in on_board if row["options"]["family"] == family]
                axis.scatter([row[column] for row in mine], [_quality(row) for row in mine],
                             s=18, color=colours[family], label=family, alpha=0.8)
            front = sorted((row[column], _quality(row)) for row in on_board if row[mark])
            axis.scatter([x for x, _ in front], [y for _, y in front], s=60,
                         facecolors="none", edgecolors="black", linewidths=0.8)
            axis.step([x for x, _ in front], [y for _, y in front],
                      where="pre" if column == "inferences_per_second" else "post",
                      color="black", linewidth=0.8, label="Pareto front")
            if column == "inferences_per_second":
                axis.set_xscale("log")
            axis.set_xlabel(label)
            axis.set_ylabel("− relative test loss" if regression else "test accuracy")
            axis.set_title(board or "networks", fontsize=10)
            axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _report(rows: Sequence[Mapping[str, Any]], option_names: Sequence[str],
            timing: Mapping[str, Any]) -> str:
    statuses = Counter(row["status"] for row in rows)
    lines = [f"# Sweep: {len(rows)} points to {rows[0]['stop']}", "",
             f"{statuses['ok']} ok, {statuses['refused']} refused, {statuses['error']} failed. "
             f"This run: {timing['run']} points on {timing['workers']} workers in "
             f"{timing['wall_seconds']:.1f} s; the points' own times sum to "
             f"{timing['point_seconds']:.1f} s"
             + (f" (wall / sum = {timing['wall_seconds'] / timing['point_seconds']:.2f})."
                if timing["run"] and timing["point_seconds"] else ".")]
    for board, front in _fronts(rows):
        swept = _varying(front, option_names)
        lines += ["", f"## Pareto front{' on ' + board if board else ''}", ""]
        header = [*swept, "accuracy", "neurons", "architecture", "cells", "inferences/s"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in front:
            speed = row.get("inferences_per_second")
            arch = f"{row['architecture']}, P={row['units']}" if row.get("architecture") else ""
            lines.append("| " + " | ".join([*(row["options"].get(name, "") for name in swept),
                                            _quality_text(row), str(row["network_neurons"]),
                                            arch, str(row.get("cells") or ""),
                                            f"{speed:,.0f}" if speed else ""]) + " |")
    reasons = Counter(row["reason"] for row in rows if row["status"] != "ok")
    if reasons:
        lines += ["", "## Refused and failed points", ""]
        lines += [f"- {count} × {reason}" for reason, count in reasons.most_common()]
    return "\n".join(lines) + "\n"


def run_sweep(points: Sequence[Point], out_dir: Path, *, workers: int,
              scheduler: str | None, progress: Progress) -> dict[str, Any]:
    """Check the points, run the unfinished ones, write the table, plot and report."""
    check_points(points, progress)
    todo = [point for point in points if _finished(point, out_dir) is None]
    began = time.perf_counter()
    used = 0
    if todo:
        progress(f"{len(points) - len(todo)} of {len(points)} points finished earlier; "
                 f"running {len(todo)}")
        used = _execute(todo, out_dir, workers, scheduler, progress)
    else:
        progress(f"all {len(points)} points finished earlier: nothing to run")
    wall = time.perf_counter() - began
    rows = []
    for point in points:
        row = _finished(point, out_dir)
        if row is None:   # failed in this run: its row says why
            row = json.loads((_points_folder(out_dir) / f"{point.key}.json").read_text())
        rows.append(row)
    mark_pareto(rows)
    option_names = list(dict.fromkeys(["family", "board", *(
        name for point in points for name, _ in point.options)]))
    if points[0].stop == "train":
        option_names.remove("board")
    keys = {point.key for point in todo}
    timing = {"run": len(todo), "workers": used, "wall_seconds": wall,
              "point_seconds": sum(row.get("seconds", 0) for row in rows if row["key"] in keys)}
    atomic_write(out_dir / "results.csv", _csv(rows, option_names))
    picture = _plot(rows)
    if picture is not None:
        atomic_write(out_dir / "pareto.png", picture)
    atomic_write(out_dir / "report.md", _report(rows, option_names, timing))
    return {"points": len(rows), "ran": len(todo), "workers": used,
            "statuses": dict(Counter(row["status"] for row in rows)),
            "wall_seconds": round(wall, 1), "point_seconds": round(timing["point_seconds"], 1),
            "results": str(out_dir / "results.csv"),
            "plot": str(out_dir / "pareto.png") if picture is not None else None,
            "report": str(out_dir / "report.md"), "rows": rows, "option_names": option_names}


def _fronts(rows: Sequence[Mapping[str, Any]]
            ) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Each board's Pareto points, most accurate first."""
    boards = sorted({row["options"].get("board", "") for row in rows if row["pareto"]})
    return [(board, sorted((row for row in rows if row["pareto"]
                            and row["options"].get("board", "") == board),
                           key=lambda row: -(_quality(row) or 0))) for board in boards]


def _varying(rows: Sequence[Mapping[str, Any]], option_names: Sequence[str]) -> list[str]:
    """The options (board aside) that differ between ``rows``: what tells them apart."""
    return [name for name in option_names if name != "board"
            and len({row["options"].get(name) for row in rows}) > 1]


def _quality_text(row: Mapping[str, Any]) -> str:
    return (f"{row['test_accuracy']:.4f}" if row.get("test_accuracy") is not None
            else f"loss {row['test_relative_loss']:.4f}")


def front_lines(rows: Sequence[Mapping[str, Any]], option_names: Sequence[str]) -> list[str]:
    """The Pareto points per board, one line each, for the command's summary."""
    lines = []
    swept = _varying(rows, option_names)
    for board, front in _fronts(rows):
        lines.append(f"  {board or 'networks'}:")
        for row in front:
            hardware = (f", {row['cells']} cells, {row['inferences_per_second']:,.0f} "
                        f"inferences/s" if row.get("cells") else "")
            options = " ".join(f"{name}={row['options'][name]}" for name in swept
                               if name in row["options"])
            lines.append(f"    {_quality_text(row)}, {row['network_neurons']} neurons"
                         f"{hardware}" + (f"  ({options})" if options else ""))
    return lines
