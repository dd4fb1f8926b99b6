"""The ``python -m qnnhw`` command line: thin glue over the library.

Expected problems (bad input, a design that does not fit, a failing tool) are
:class:`~qnnhw.errors.QnnhwError`s: they print as one ``error:`` line, with the library's
parameter names shown as this command line's flags, and exit with status 2. Progress goes to
stderr; results go to stdout (one JSON object with ``--json``).

Training options come in two kinds: those every family shares (here) and each family's own
(``qnnhw/families/*/cli.py``). An option of another family than ``--family`` is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .cli_types import clock_choice, count, number, positive_int, positive_number, random_seed
from .dataset import TASKS
from .errors import QnnhwError
from .families import DEFAULT_FAMILY, architecture, architecture_names, family_of, get_family, names
from .optim import STEP_RULES
from .protocol import DEFAULT_WINDOW, PROTOCOL_VERSION

if TYPE_CHECKING:
    import numpy as np

__all__ = ["main"]

#: The count of ``run --selftest``'s vectors when none is given.
SELFTEST_VECTORS = 65536
#: Where a sweep's points stop (``sweep --stop``).
STOPS = ("train", "estimate", "build")
#: Training defaults of ``build`` where they differ from ``train``'s: the paper's Fig. 3 data.
BUILD_DATA = "ionosphere"


def progress(message: str) -> None:
    print(f"[qnnhw] {message}", file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    """argparse with this command line's one-line errors (raised, so that a sweep can check
    its points with the same parser)."""

    def error(self, message: str) -> NoReturn:
        raise QnnhwError(f"{message}; see '{self.prog} --help'")


def add_training_arguments(parser: argparse.ArgumentParser, *, data_default: str,
                           family_defaults: Mapping[str, Mapping[str, Any]]) -> None:
    """The common training options, then each family's own in a group of its own."""
    first = len(parser._actions)
    group = parser.add_argument_group("training")
    group.add_argument("--family", choices=names(), default=DEFAULT_FAMILY,
                       help="; ".join(f"{name}: {get_family(name).description}"
                                      for name in names()))
    group.add_argument("--data", default=data_default, metavar="NAME|PATH.csv|DIR",
                       help=f"data set: planted (the paper's generator), ionosphere or "
                            f"breast-cancer (bundled UCI sets), digits (scikit-learn's bundled "
                            f"copy), a CSV file with a header row, or a folder of MNIST-format "
                            f"IDX files such as Fashion-MNIST (default: {data_default})")
    group.add_argument("--target", metavar="NAME",
                       help="target column of a CSV file (default: the last column)")
    group.add_argument("--task", choices=TASKS, default="auto",
                       help="auto (default): a target that is not numeric, has two values or "
                            "at most 32 integer values is classes, else regression")
    group.add_argument("--subsample", type=positive_int, metavar="N",
                       help="train on N training rows drawn at random (for large data sets)")
    group.add_argument("--beta", type=number,
                       help="regularisation β (default: the paper's, 1e-4 for squared loss, 10 "
                            "for hinge; threshold: 5; lut: 25)")
    group.add_argument("--loss", choices=("squared", "hinge"),
                       help="training loss (default: hinge for two classes, squared otherwise)")
    group.add_argument("--seed", type=random_seed, default=0,
                       help="seed for the train/test split and the sampling (default: 0)")
    group.add_argument("--test-fraction", type=number, default=0.2, metavar="F",
                       help="fraction of rows held out for testing, 0 allowed (default: 0.2)")
    bias = group.add_mutually_exclusive_group()
    bias.add_argument("--bias", dest="bias", action="store_true", default=None,
                      help="append the constant feature 1 (Theorem 1's lifting; the default "
                           "for CSV data, not for planted data)")
    bias.add_argument("--no-bias", dest="bias", action="store_false",
                      help="do not append the constant feature")
    group.add_argument("--no-standardize", dest="standardize", action="store_false",
                       default=None, help="use features as they are (standardised by default "
                                          "for real data, fitted on the training split)")
    families = [get_family(name) for name in names()]
    group.add_argument("--method", choices=sorted({method for family in families
                                                   for method in family.config_type.METHODS}),
                       help="; ".join(f"{family.name}: {', '.join(family.config_type.METHODS)} "
                                      f"(default {family.config_type.METHODS[0]})"
                                      for family in families))
    group.add_argument("--solver", choices=sorted({solver for family in families
                                                   for solver in family.config_type.SOLVERS}),
                       help="; ".join(f"{family.name}: {', '.join(family.config_type.SOLVERS)} "
                                      f"(default {family.config_type.SOLVERS[0]})"
                                      for family in families))
    group.add_argument("--epochs", type=positive_int, default=200,
                       help="training epochs of the baselines (default: 200)")
    group.add_argument("--step-rule", choices=STEP_RULES, default=None,
                       help="askewsgd's step sizes: constant γ₀, or decreasing γ₀/√(k+1) in "
                            "epoch k (default: constant)")
    group.add_argument("--step-size", type=number, metavar="γ₀",
                       help="askewsgd's first step size (default: the best of a short trial)")
    group.add_argument("--anneal", type=number, metavar="R",
                       help="askewsgd: after a warm-up quarter of the epochs, the constraint's "
                            "ε is multiplied by R (0 < R < 1) every epoch (default: 0.96)")
    owners: dict[str, list[str]] = {}
    for family in families:
        defaults = {item.name: item.default for item in fields(family.config_type)}
        defaults.update(family_defaults.get(family.name, {}))
        family.add_options(_FamilyOptions(parser, family.name, owners), defaults)
    # What parse_args gives an option that was not given: the first default of its dest.
    training_defaults: dict[str, Any] = {}
    for action in parser._actions[first:]:
        training_defaults.setdefault(action.dest, action.default)
    parser.set_defaults(option_owners=owners, family_defaults=family_defaults,
                        training_defaults=training_defaults)


class _FamilyOptions:
    """One family's option group. A flag that an earlier family added already is shared:
    its help gains this family's sentence and the family becomes one of its owners."""

    def __init__(self, parser: argparse.ArgumentParser, family: str,
                 owners: dict[str, list[str]]):
        self._parser = parser
        self._group = parser.add_argument_group(f"{family} networks")
        self._family = family
        self._owners = owners

    def add_argument(self, *flags: str, **settings: Any) -> Any:
        existing = self._parser._option_string_actions.get(flags[0])
        if existing is not None:
            existing.help = f"{existing.help}; {settings.get('help', '')}"
            if existing.dest in self._owners:   # else an option of every family
                self._owners[existing.dest].append(self._family)
            return existing
        action = self._group.add_argument(*flags, **settings)
        self._owners[action.dest] = [self._family]
        return action


def _refuse_foreign_options(args: argparse.Namespace, flags: Mapping[str, str]) -> None:
    """An option of another family than ``--family``: say whose it is and the way out."""
    family = get_family(args.family)
    given = [dest for dest, owners in args.option_owners.items()
             if family.name not in owners and getattr(args, dest) is not None]
    for dest in given:
        if dest in family.instead:
            owner = " and ".join(args.option_owners[dest])
            raise QnnhwError(f"{flags[dest]} is for {owner} networks; "
                             f"{family.instead[dest]}", tuple(flags))
    if given:
        owner = args.option_owners[given[0]][0]
        listed = [flags[dest] for dest, names in args.option_owners.items()
                  if owner in names and family.name not in names]
        options = (", ".join(listed[:-1]) + " and " + listed[-1]) if len(listed) > 1 \
            else listed[0]
        raise QnnhwError(f"{options} {'are' if len(listed) > 1 else 'is'} for {owner} "
                         f"networks; add --family {owner}")


def training_inputs(args: argparse.Namespace, flags: Mapping[str, str]) -> tuple[Any, Any]:
    """The data set and the chosen family's configuration from the command line."""
    config = training_config(args, flags)
    return load_data(args), config


def data_source(args: argparse.Namespace) -> tuple[Any, ...]:
    """The options that choose the data set and its split: ``dataset.load``'s arguments."""
    return (args.data, args.target, args.test_fraction, args.seed, args.task, args.subsample)


def load_data(args: argparse.Namespace) -> Any:
    from . import dataset

    return dataset.load(*data_source(args))


def training_config(args: argparse.Namespace, flags: Mapping[str, str]) -> Any:
    """The chosen family's configuration from the command line (foreign options refused)."""
    _refuse_foreign_options(args, flags)
    family = get_family(args.family)
    values = dict(args.family_defaults.get(family.name, {}))
    values.update({item.name: getattr(args, item.name) for item in fields(family.config_type)
                   if getattr(args, item.name, None) is not None})
    return family.config_type(**values)


def format_train_summary(report: dict[str, Any]) -> str:
    lines = get_family(report["family"]).summary(report)
    if "train_accuracy" in report:
        test = f"  test {report['test_accuracy']:.4f}" if "test_accuracy" in report else ""
        lines.append(f"  accuracy             train {report['train_accuracy']:.4f}{test}")
    if "train_loss" in report:
        test = (f"  test {report['test_loss']:.6g} ({100 * report['test_relative_loss']:.2f}% of "
                f"zero predictor)" if "test_loss" in report else "")
        lines.append(f"  loss                 train {report['train_loss']:.6g} "
                     f"({100 * report['train_relative_loss']:.2f}% of zero predictor){test}")
    solver_time = ""
    if report.get("solve_seconds") is not None:
        solver_time = f"{report['problem']} {report['solve_seconds']:.2f} s, "
    lines.append(f"  time                 {solver_time}total {report['total_seconds']:.2f} s")
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from .files import check_writable
    from .training import train

    check_writable(args.output, "the model file", "-o")
    data, config = training_inputs(args, flags)
    model, report = train(data, config, progress)
    model.save(args.output)
    report["model"] = str(args.output)
    report["total_seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(report))
    else:
        print(format_train_summary(report))
        print(f"wrote {args.output}")
    return 0


def add_hardware_arguments(parser: argparse.ArgumentParser, build: bool = False) -> None:
    parser.add_argument("--parallel", type=positive_int, metavar="P",
                        help="neuron units P in 1..m; the m neurons take ⌈m/P⌉ cycles per "
                             "vector (default: min(m, 8); build: the most that fit)")
    parser.add_argument("--input-bits", type=positive_int, metavar="B",
                        help="bits per input feature (default: 8)")
    architectures = "; ".join(f"{arch.name} ({arch.description})" for name in names()
                              for arch in get_family(name).architectures)
    if build:
        parser.add_argument("--arch", choices=["auto", *architecture_names()], default="auto",
                            help=f"the hardware architecture: {architectures}; auto (default): "
                                 f"the family's one with the most inferences/s on the board")
    else:
        parser.add_argument("--arch", choices=architecture_names(),
                            help=f"the hardware architecture: {architectures} (default: the "
                                 f"family's first)")


def load_hardware_inputs(args: argparse.Namespace) -> tuple[Any, Any, int]:
    from . import flow
    from .model import load_model

    model = load_model(args.model)
    spec = flow.fixed_point(model, args.input_bits)
    family = family_of(model)
    units = family.units(spec, architecture(family, args.arch).name)
    parallel = flow.check_parallel(model, spec, args.parallel or min(units, 8), args.arch)
    return model, spec, parallel


def cmd_verilog(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from . import flow
    from .files import atomic_write, check_writable

    spec_path = args.output.with_suffix(".fixedpoint.json")
    check_writable(args.output, "the Verilog file", "-o")
    check_writable(spec_path, "the fixed-point file beside it", "-o")
    model, spec, parallel = load_hardware_inputs(args)
    component = flow.datapath(model, spec, parallel, arch=args.arch)
    progress(f"elaborating m={model.m}, d={model.d}, P={parallel}")
    text = flow.verilog_text(component, args.name)
    atomic_write(args.output, text)
    atomic_write(spec_path, spec.to_json())
    print(f"wrote {args.output} ({len(text) // 1024} KiB, top module {args.name}) and "
          f"{spec_path}")
    print(f"  {component.initiation_interval} cycles per vector, latency {component.latency} "
          f"cycles, input {spec.features} × {spec.input_bits} bits (F={spec.input_frac}), "
          f"output {spec.output_width} bits (F={spec.output_frac})")
    return 0


def cmd_simulate(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from sim.runner import decode_words, random_vectors, simulate_datapath

    from . import flow
    from .files import check_writable

    if args.serial:
        return _simulate_serial(args)
    if args.dump:
        check_writable(args.dump, "the vector dump", "--dump")
    model, spec, parallel = load_hardware_inputs(args)
    inputs = random_vectors(spec, args.vectors, args.seed)
    result = simulate_datapath(model, spec, parallel, inputs,
                               args.work_dir or flow.cache_dir() / "sim", arch=args.arch,
                               seed=args.seed,
                               stall_vectors=args.stall_vectors, progress=progress)
    if args.dump:
        flow.dump_vectors(args.dump, model, inputs, decode_words(spec, result.outputs),
                          decode_words(spec, result.reference))
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        verdict = "all equal to the reference" if not result.mismatches else (
            f"{result.mismatches} MISMATCHES against the reference")
        print(f"simulated {result.vectors} vectors on P={parallel} units: {verdict}")
        print(f"  {result.cycles_per_vector:g} cycles per vector, latency "
              f"{result.latency_cycles} cycles, {result.vectors_per_second:.1f} vectors/s "
              f"simulated")
        if args.dump:
            print(f"wrote {args.dump}")
    return 0 if result.mismatches == 0 else 1


def link_summary(report: dict[str, Any]) -> str:
    """The report's serial link: its rate and what the simulation measured through it."""
    text = (f"{report['uart_baud']:,} baud ({report['uart_bridge']}, {report['uart_divisor']} "
            f"cycles per bit, {100 * report['uart_baud_error']:+.2f}%)")
    if "uart_inferences_per_second" not in report:
        return text + ", not simulated"
    link = report["uart_link"]
    return (text + f": {report['uart_inferences_per_second']:,.0f} inferences/s end to end "
            f"in simulation ({link['window']} frames of {link['vectors_per_frame']} vectors in "
            f"flight); self-test {report['selftest_cycles_per_vector']:g} cycles per vector")


def _simulate_serial(args: argparse.Namespace) -> int:
    """``simulate --serial``: the board's whole serial path in Verilator at its clock."""
    from boards import get_board
    from sim.runner import measure_link, random_vectors

    from . import flow

    board = get_board(args.board)
    clock_hz = (args.clock or board.clock_mhz) * 1e6
    baud, divisor = board.link(clock_hz, args.baud)
    model, spec, parallel = load_hardware_inputs(args)
    inputs = random_vectors(spec, args.vectors, args.seed)
    progress(f"{board.name} at {clock_hz / 1e6:g} MHz, {baud:,} baud ({divisor} cycles per "
             f"bit), {args.window} frames in flight")
    measured, selftest, failures = measure_link(
        model, spec, parallel, inputs, args.work_dir or flow.cache_dir() / "sim",
        clock_hz=clock_hz, divisor=divisor, arch=args.arch, window=args.window,
        seed=args.seed, progress=progress)
    summary = {"board": board.name, "clock_hz": clock_hz, "baud": baud, "divisor": divisor,
               "window": args.window, "vectors": measured["vectors"],
               "mismatches": measured["mismatches"],
               "inferences_per_second": measured["inferences_per_second"],
               "resent": measured["resent"], "selftest_vectors": selftest["vectors"],
               "selftest_cycles": selftest["cycles"],
               "selftest_cycles_per_vector": selftest["cycles"] / selftest["vectors"],
               "failures": failures}
    if args.json:
        print(json.dumps(summary))
    else:
        verdict = ("every answer equal to the reference" if not summary["mismatches"] else
                   f"{summary['mismatches']} answers DIFFER from the reference")
        print(f"simulated {summary['vectors']} vectors through {board.name}'s serial link: "
              f"{summary['inferences_per_second']:,.0f} inferences/s, {verdict}")
        print(f"  self-test: {summary['selftest_cycles_per_vector']:.4g} cycles per vector; "
              + ("; ".join(failures) or "signature equal to the reference's"))
    return 0 if not failures and not summary["mismatches"] else 1


def format_build_summary(report: dict[str, Any], out_dir: Path) -> str:
    outputs = report.get("outputs", 1)
    answers = "class and scores" if report.get("response_scores", True) else "class only"
    classes = "" if outputs == 1 else f", {outputs} classes ({answers})"
    lines = [
        f"built {out_dir / report['bitstream']} for {report['board']} ({report['board_title']}, "
        f"{report['device']})",
        f"  network        {report['family']}, m={report['m']} neurons, d={report['d']} inputs, "
        f"{report['input_bits']}-bit inputs, {report['output_bits']}-bit output{classes}",
    ]
    if report.get("certificate"):
        lines.append(f"  certificate    {report['certificate']}")
    if "test_accuracy_hardware" in report:
        lines.append(f"  accuracy       test {report['test_accuracy_hardware']:.4f} on hardware "
                     f"integers, {report['test_accuracy_float']:.4f} in floating point")
    # A step run more than once (the PLL's routings) is shown once, with its count.
    totals: dict[str, list[float]] = {}
    for record in report["steps"]:
        totals.setdefault(record["step"], []).append(record["seconds"])
    steps = ", ".join(f"{name} {sum(times):.1f} s" + (f" ({len(times)}×)" if len(times) > 1
                                                       else "")
                      for name, times in totals.items())
    lines += [
        f"  logic          {report['lc_used']}/{report['lc_total']} cells, "
        f"{report['dsp_used']}/{report['dsp_total']} DSPs, {report['ram_used']}/"
        f"{report['ram_total']} RAM blocks",
        f"  clock          {report['clock_mhz']:g} MHz from the "
        f"{'PLL' if report['clock_source'] == 'PLL' else 'oscillator'} (Fmax "
        f"{report['fmax_mhz']:.1f} MHz, oscillator {report['oscillator_mhz']:g} MHz)",
        f"  throughput     P={report['parallel']} "
        f"{report.get('units', 'units')}, "
        f"{report['cycles_per_vector']} cycles "
        f"per vector: {report['inferences_per_second']:,.0f} inferences/s "
        f"({100 * report['bound_ratio']:.0f}% of the P-unit bound), latency "
        f"{report['latency_cycles']} cycles",
        f"  serial link    {link_summary(report)}",
        f"  steps          {steps}",
        f"  report         {out_dir / 'report.json'}",
    ]
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from boards import get_board

    from .build import run_build
    from .files import check_writable
    from .model import load_model

    board = get_board(args.board)
    if args.board != board.name:
        progress(f"board {args.board!r} means {board.name}: {board.title} ({board.device.name})")
    out_dir = args.output or Path("build") / board.name
    check_writable(out_dir, "the build folder", "-o", folder=True)
    model = data = config = None
    if args.model:
        given = [dest for dest, default in args.training_defaults.items()
                 if getattr(args, dest) != default]
        if given:
            raise QnnhwError(f"@{given[0]} is a training option, and with --model nothing is "
                             f"trained; drop it, or drop --model to train", tuple(given))
        model = load_model(args.model)
    else:
        data, config = training_inputs(args, flags)
    report = run_build(board, out_dir, model=model, dataset=data, config=config,
                       parallel=args.parallel, input_bits=args.input_bits,
                       scores=args.scores, clock=args.clock, arch=args.arch, baud=args.baud,
                       progress=progress, **({} if args.link_vectors is None else
                                             {"link_vectors": args.link_vectors}))
    report["total_seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(report))
    else:
        print(format_build_summary(report, out_dir))
    return 0


def cmd_boards(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from boards import ALIASES, BOARDS

    aliases = {target: name for name, target in ALIASES.items()}
    rows = [("board", "device", "LCs", "DSPs", "RAM", "clock", "serial port")]
    for board in BOARDS.values():
        device = board.device
        name = board.name + (f" ({aliases[board.name]})" if board.name in aliases else "")
        rows.append((name, device.name, str(device.lcs), str(device.dsps),
                     f"{device.ram_blocks} × {device.ram_block_bits // 1024} kbit",
                     f"{board.clock_mhz:g} MHz", board.serial))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _built_design(folder: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The model, fixed-point spec and report of a build folder, checked."""
    from .families import spec_from_dict
    from .model import load_model

    model = load_model(folder / "model.json")
    spec_path = folder / "fixedpoint.json"
    try:
        spec = spec_from_dict(json.loads(spec_path.read_text()))
    except FileNotFoundError:
        raise QnnhwError(f"{spec_path}: missing; give the folder written by 'build' with "
                         f"--build") from None
    except json.JSONDecodeError:
        raise QnnhwError(f"{spec_path}: corrupt JSON; rebuild") from None
    report_path = folder / "report.json"
    try:
        report = json.loads(report_path.read_text())
        if not isinstance(report, dict):
            raise TypeError
        report["response_scores"] = bool(report.get("response_scores", True))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        raise QnnhwError(f"{report_path}: missing or corrupt; give the folder written by "
                         f"'build' with --build") from None
    version = report.get("protocol_version", 1)
    if version != PROTOCOL_VERSION:
        raise QnnhwError(f"{folder} was built for serial protocol version {version}; this qnnhw "
                         f"speaks version {PROTOCOL_VERSION}: rebuild with 'python -m qnnhw "
                         f"build' and load the new bitstream")
    return model, spec, report


def _check_board(hello: Any, spec: Any, report: dict[str, Any], folder: Path, port: str
                 ) -> None:
    """Refuse a board whose bitstream is not the build folder's."""
    from .protocol import design_id

    if hello.design_id != design_id(spec.to_json()) or hello.scores != report[
            "response_scores"]:
        raise QnnhwError(f"the board on {port} runs another design than {folder} (its "
                         f"{hello.features} inputs of {hello.input_bits} bits, {hello.outputs} "
                         f"output(s), design {hello.design_id:08x}); load "
                         f"{folder / str(report.get('bitstream', 'qnnhw.bin'))} or give --build "
                         f"the folder its bitstream came from")


def cmd_run(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    import csv as csv_module

    import numpy as np

    from . import flow
    from .client import BoardClient

    model, spec, report = _built_design(args.build)
    scores = report["response_scores"]
    if args.scores and spec.outputs > 1 and not scores:
        raise QnnhwError("the board was built with --no-scores: it answers with the class "
                         "only; rebuild without --no-scores to read the scores", "scores")
    baud = args.baud or int(report.get("uart_baud", 0)) or None
    if baud is None:
        raise QnnhwError(f"{args.build / 'report.json'} names no baud rate; give --baud")
    client = BoardClient.open(args.port, baud)
    hello = client.hello()
    _check_board(hello, spec, report, args.build, args.port)
    if args.selftest:
        return _selftest(client, hello, model, spec, report, args.selftest)
    reference = flow.reference(model, spec)
    X, targets = _rows_to_send(args.data or model.training.get("data"), model)
    inputs = reference.quantize(X)
    expected = reference.outputs(inputs)
    per_frame, _ = hello.pacing(baud)
    progress(f"sending {len(inputs)} vectors to {args.port} at {baud} baud, {args.window} "
             f"frames of {per_frame} vectors in flight")
    began = time.perf_counter()
    answers = client.infer(inputs.tolist(), hello, baud, window=args.window)
    seconds = time.perf_counter() - began
    writer = csv_module.writer(sys.stdout)
    several = spec.outputs > 1
    columns = ["class_board", "class_reference"] if several else ["y_board", "y_reference"]
    if several and args.scores:
        columns += ["scores_board"]
    writer.writerow(["row", "prediction", *columns] + (["target"] if targets else []))
    mismatches = correct = 0
    for index, answer in enumerate(answers):
        y = answer.value
        if several:
            truth = int(np.argmax(expected[index]))
            mismatches += y != truth or (answer.scores is not None and list(answer.scores)
                                         != expected[index].tolist())
            prediction = model.label_name(y)
            row = [index + 2, prediction, y, truth]
            if args.scores:
                row.append(" ".join(map(str, answer.scores or ())))
        else:
            mismatches += y != int(expected[index])
            if model.task == "classification":
                prediction = model.label_name(1 if y > 0 else 0)
            else:
                prediction = f"{float(spec.output_to_real(np.asarray(y))):.6g}"
            row = [index + 2, prediction, y, int(expected[index])]
        if targets:
            correct += prediction == targets[index]
            row.append(targets[index])
        writer.writerow(row)
    summary = (f"{len(inputs)} vectors in {seconds:.2f} s ({len(inputs) / seconds:.0f}/s), "
               f"{mismatches} differ from the reference, {client.resent} frames resent")
    if targets and model.task == "classification":
        summary += f", accuracy {correct / len(inputs):.4f}"
    progress(summary)
    return 0 if mismatches == 0 else 1


def _selftest(client: Any, hello: Any, model: Any, spec: Any, report: dict[str, Any],
              count: int) -> int:
    """``run --selftest``: the board's own run of its generator, against the reference."""
    from . import flow

    cycles_per_vector = float(report.get("cycles_per_vector", 1))
    progress(f"self-test: {count} generated vectors through the datapath on the board")
    result = client.selftest(count, hello, cycles_per_vector)
    expected = flow.selftest_signature(model, spec, report["response_scores"], count)
    measured = count * hello.clock_hz / max(result.cycles, 1)
    verdict = ("matches the reference's" if result.signature == expected else
               f"DIFFERS from the reference's {expected:08x}")
    print(f"self-test: {count} vectors in {result.cycles} cycles ({result.cycles / count:.4g} "
          f"cycles per vector; the datapath's {cycles_per_vector:g}), {measured:,.0f} "
          f"inferences/s at {hello.clock_hz / 1e6:g} MHz; signature {result.signature:08x} "
          f"{verdict}")
    return 0 if result.signature == expected else 1


def _rows_to_send(source: str | None, model: Any) -> tuple[np.ndarray, list[str] | None]:
    """The encoded rows ``run`` sends, and their target texts when the data has them."""
    from . import dataset

    if source == "digits" or (source and Path(source).is_dir()):
        # Data sets that are not CSV tables: the test split of the training run's seed.
        data = dataset.load(source, seed=int(model.training.get("seed", 0)))
        return data.X_test, [model.label_name(k) for k in
                             dataset.class_indices(data.y_test, data.classes)]
    if source in dataset.BUNDLED:
        header, rows = dataset.read_csv_table(source, dataset.bundled_text(source))
    elif source and Path(source).is_file():
        header, rows = dataset.read_csv_table(source)
    else:
        raise QnnhwError("give the rows to send with --data CSV (or digits, or a folder of "
                         "MNIST-format files)")
    targets = ([row[header.index(model.target)] for row in rows]
               if model.target in header else None)
    return model.encoder.encode_rows(header, rows), targets


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """What ``build`` and each point of a ``sweep`` take: board, clock, hardware, training."""
    parser.add_argument("--board", default="ice40",
                        help="board name (default: ice40, the iCEBreaker; see 'boards')")
    parser.add_argument("--no-scores", dest="scores", action="store_false",
                        help="with three classes or more, the board answers with the class "
                             "only, not the C scores beside it (fewer registers, shorter "
                             "responses)")
    parser.add_argument("--clock", type=clock_choice, default="auto", metavar="auto|board|MHZ",
                        help="auto (default): build on the oscillator, then again from the PLL "
                             "at the clock within 10%% of nextpnr's Fmax that serves the most "
                             "inferences/s through the serial link, kept if it meets timing; "
                             "board: the oscillator only; MHZ: the PLL at the "
                             "fastest clock not above it")
    parser.add_argument("--baud", type=positive_int,
                        help="the serial link's baud rate (default: the fastest the board's "
                             "USB bridge and the clock make within 2%%)")
    add_hardware_arguments(parser, build=True)
    add_training_arguments(parser, data_default=BUILD_DATA, family_defaults={
        name: get_family(name).build_defaults for name in names()})


def cmd_sweep(args: argparse.Namespace, start: float, flags: Mapping[str, str]) -> int:
    from .files import check_writable
    from .sweep import front_lines, load_points, read_spec, run_sweep

    check_writable(args.output, "the sweep folder", "-o", folder=True)
    spec = read_spec(args.spec) if args.spec else {}
    fixed = {dest: getattr(args, dest) for dest, default in args.point_defaults.items()
             if getattr(args, dest) != default}
    points = load_points(spec, fixed, args.grid, args.stop)
    summary = run_sweep(points, args.output, workers=args.workers, scheduler=args.scheduler,
                        progress=progress)
    rows, option_names = summary.pop("rows"), summary.pop("option_names")
    if args.json:
        print(json.dumps(summary))
        return 0
    statuses = summary["statuses"]
    workers = f"{summary['workers']} worker{'s' if summary['workers'] != 1 else ''}"
    ran = (f"ran {summary['ran']} on {workers} in "
           f"{summary['wall_seconds']:.1f} s (the points' own times: "
           f"{summary['point_seconds']:.1f} s)" if summary["ran"] else "all finished earlier")
    print(f"swept {summary['points']} points ({statuses.get('ok', 0)} ok, "
          f"{statuses.get('refused', 0)} refused, {statuses.get('error', 0)} failed), {ran}")
    fronts = front_lines(rows, option_names)
    if fronts:
        print("Pareto front per board:")
        print("\n".join(fronts))
    print(f"wrote {summary['results']}, {summary['report']}"
          + (f" and {summary['plot']}" if summary["plot"] else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m qnnhw",
        description="Train provably near-optimal ±1 neural networks (Bartan & Pilanci, 2021) "
                    "and put them on FPGAs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=Parser)

    train = commands.add_parser(
        "train", help="train a network of any family and write its model file",
        description="Bilinear (default): solve the SDP lower bound (22), sample a ±1 network "
                    "by Algorithm 1. Threshold: sample hyperplanes, solve the convex Lasso over "
                    "their arrangement patterns. Write the model file.")
    add_training_arguments(train, data_default="ionosphere", family_defaults={})
    train.add_argument("-o", "--output", type=Path, default=Path("model.json"),
                       help="model file to write (default: model.json)")
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    train.set_defaults(handler=cmd_train)

    verilog = commands.add_parser("verilog", help="write the datapath of a model as Verilog",
                                  description="Elaborate the streaming datapath of MODEL and "
                                              "write it as Verilog, with its fixed-point spec.")
    verilog.add_argument("model", type=Path, metavar="MODEL", help="model file from train")
    verilog.add_argument("-o", "--output", type=Path, required=True, help="Verilog file")
    verilog.add_argument("--name", default="qnnhw_datapath", help="top module name")
    add_hardware_arguments(verilog)
    verilog.set_defaults(handler=cmd_verilog)

    simulate = commands.add_parser(
        "simulate", help="simulate the datapath cycle-accurately against the reference",
        description="Build the datapath with Verilator and run the cocotb bench: every output "
                    "is compared bit for bit with the integer reference model.")
    simulate.add_argument("model", type=Path, metavar="MODEL", help="model file from train")
    simulate.add_argument("--vectors", type=positive_int, default=100,
                          help="input vectors: full-scale corners, then random (default: 100)")
    simulate.add_argument("--stall-vectors", type=positive_int, default=32, metavar="N",
                          help="vectors also run with random input gaps and output "
                               "backpressure (default: 32)")
    simulate.add_argument("--seed", type=random_seed, default=0,
                          help="stimulus seed (default: 0)")
    simulate.add_argument("--dump", type=Path, metavar="CSV",
                          help="write integer inputs and hardware outputs to CSV")
    simulate.add_argument("--work-dir", type=Path,
                          help="build folder (default: ~/.cache/qnnhw/sim, reused between runs)")
    simulate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    link = simulate.add_argument_group(
        "serial link", "--serial runs the board's whole design (UART, frames, self-test, "
                       "datapath) at its clock and baud, sending the vectors as 'run' does, "
                       "and measures the inferences/s through the link")
    link.add_argument("--serial", action="store_true", help="simulate the serial link")
    link.add_argument("--board", default="ice40",
                      help="the board whose USB bridge sets the baud rate (default: ice40)")
    link.add_argument("--clock", type=positive_number, metavar="MHZ",
                      help="the design's clock (default: the board's oscillator; a build's "
                           "report.json says its clock_mhz)")
    link.add_argument("--baud", type=positive_int,
                      help="baud rate (default: the fastest the bridge and the clock make)")
    link.add_argument("--window", type=positive_int, default=DEFAULT_WINDOW, metavar="W",
                      help=f"request frames in flight (default: {DEFAULT_WINDOW})")
    add_hardware_arguments(simulate)
    simulate.set_defaults(handler=cmd_simulate)

    build = commands.add_parser(
        "build", help="train (or load) a network and build a bitstream for a board",
        description="Train on the bundled ionosphere data with the paper's Fig. 3 settings "
                    "(or load --model), fit the design to the board, synthesise, place and "
                    "route, and write the bitstream, Verilog, model and report.json.")
    build.add_argument("--model", type=Path, help="use this model file instead of training")
    build.add_argument("-o", "--output", type=Path, metavar="DIR",
                       help="output folder (default: build/BOARD)")
    build.add_argument("--json", action="store_true", help="print the report as JSON")
    build.add_argument("--link-vectors", type=count, metavar="N",
                       help="vectors sent through the built design's serial link in "
                            "simulation for the report's link figures (default: enough to "
                            "measure it; 0: no link simulation)")
    add_build_arguments(build)
    build.set_defaults(handler=cmd_build)

    run = commands.add_parser(
        "run", help="send data to a board running a qnnhw bitstream and print predictions",
        description="Quantise each CSV row as the hardware expects, send it over the serial "
                    "port, print the board's prediction beside the reference model's.")
    run.add_argument("--port", required=True,
                     help="serial port of the board (for example /dev/ttyUSB1), or a pyserial "
                          "URL")
    run.add_argument("--build", type=Path, default=Path("build/icebreaker"), metavar="DIR",
                     help="folder written by 'build' (default: build/icebreaker)")
    run.add_argument("--data", metavar="CSV",
                     help="rows to send (default: the model's bundled training data)")
    run.add_argument("--baud", type=positive_int,
                     help="baud rate (default: the build report's, as the bitstream was built)")
    run.add_argument("--window", type=positive_int, default=DEFAULT_WINDOW, metavar="W",
                     help=f"request frames in flight (default: {DEFAULT_WINDOW})")
    run.add_argument("--selftest", type=positive_int, nargs="?", const=SELFTEST_VECTORS,
                     metavar="N", help=f"run the board's self-test of N generated vectors "
                                       f"(default N: {SELFTEST_VECTORS}) instead of sending "
                                       f"data: compare its signature with the reference's and "
                                       f"print the inferences/s the board measured")
    run.add_argument("--scores", action="store_true",
                     help="for a network of three classes or more, print the board's C scores "
                          "beside its class")
    run.set_defaults(handler=cmd_run)

    sweep = commands.add_parser(
        "sweep", help="train, estimate or build many configurations on Dask; mark the "
                      "Pareto fronts",
        description="Run every point of a grid or a random sample of build's options on "
                    "Dask (a local cluster, or --scheduler), each to train, estimate or "
                    "build; write DIR/results.csv with the Pareto fronts per board marked, "
                    "DIR/pareto.png and DIR/report.md. A rerun skips finished points. "
                    "See docs/sweeps.md.")
    sweep.add_argument("spec", nargs="?", type=Path, metavar="SPEC",
                       help="TOML file: stop, [options], [grid] (or [[grid]] tables) and "
                            "[random] (optional: --grid and build's options make a sweep)")
    sweep.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                       help="folder of the points, the table, the plot and the report")
    sweep.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,…",
                       help="one more axis for every grid: a build option and its values "
                            "(repeat for more axes)")
    sweep.add_argument("--stop", choices=STOPS,
                       help="how far each point goes (default: the SPEC's, else estimate)")
    sweep.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                       metavar="N", help="workers of the local cluster (default: one per "
                                         "core)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://HOST:PORT, or tls:// with "
                            "Dask's TLS settings) instead of a local cluster")
    sweep.add_argument("--json", action="store_true", help="print the summary as JSON")
    first = len(sweep._actions)
    add_build_arguments(sweep)
    point_defaults: dict[str, Any] = {}
    for action in sweep._actions[first:]:   # an option not given has its first default
        point_defaults.setdefault(action.dest, action.default)
    sweep.set_defaults(handler=cmd_sweep, point_defaults=point_defaults)

    boards = commands.add_parser("boards", help="list the supported boards")
    boards.set_defaults(handler=cmd_boards)
    return parser


def parameter_flags(parser: argparse.ArgumentParser, command: str | None) -> dict[str, str]:
    """Parameter name → the flag that sets it, for the command that ran."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            subparser: argparse.ArgumentParser = action.choices[command]
            for option in subparser._actions:
                if option.option_strings:
                    flags.setdefault(option.dest, max(option.option_strings, key=len))
    return flags


def main(argv: Sequence[str] | None = None, start: float | None = None) -> int:
    start = time.perf_counter() if start is None else start
    parser = build_parser()
    flags: dict[str, str] = {}
    try:
        args = parser.parse_args(argv)
        flags = parameter_flags(parser, args.command)
        return int(args.handler(args, start, flags))
    except QnnhwError as error:
        print(f"error: {error.render(lambda name: flags.get(name, name))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly, as Unix tools do, and keep Python from
        # failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13   # killed by SIGPIPE, as a shell reports it


def console_main() -> None:
    """Entry point of the ``qnnhw`` console script."""
    sys.exit(main())
