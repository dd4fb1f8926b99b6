"""The ``python -m qnnhw`` command line: thin glue over the library.

Expected problems (bad input, a design that does not fit, a failing tool) are
:class:`~qnnhw.errors.QnnhwError`s: they print as one ``error:`` line and exit with status 2.
Progress goes to stderr; results go to stdout (one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import QnnhwError
from .protocol import DEFAULT_BAUD

__all__ = ["main"]

#: A Lasso whose duality gap is at most this fraction of its objective is called optimal.
LASSO_CERTIFIED = 1e-4


def progress(message: str) -> None:
    print(f"[qnnhw] {message}", file=sys.stderr, flush=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None


def add_training_arguments(parser: argparse.ArgumentParser, *, m_default: int,
                           data_default: str) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--family", choices=("bilinear", "threshold"), default="bilinear",
                       help="bilinear: ±1 bilinear network by the SDP (default); threshold: "
                            "threshold network by the convex Lasso, no multiplier in hardware")
    group.add_argument("--data", default=data_default, metavar="planted|ionosphere|"
                       "breast-cancer|PATH.csv",
                       help=f"data set: the paper's planted generator, a bundled UCI set, or a "
                            f"CSV file with a header row (default: {data_default})")
    group.add_argument("--target", metavar="NAME",
                       help="target column of a CSV file (default: the last column)")
    group.add_argument("--m", type=_positive_int,
                       help=f"bilinear: number of hidden neurons (default: {m_default})")
    parser.set_defaults(m_default=m_default)
    group.add_argument("--beta", type=_float,
                       help="regularisation β (default: the paper's, 1e-4 for squared loss, 10 "
                            "for hinge; threshold: 5)")
    group.add_argument("--loss", choices=("squared", "hinge"),
                       help="training loss (default: hinge for two classes, squared otherwise)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed for the train/test split and the sampling (default: 0)")
    group.add_argument("--test-fraction", type=_float, default=0.2, metavar="F",
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
    group.add_argument("--weight-levels", type=int, default=2, metavar="L",
                       help="first-layer weight levels {−(L−1), …, L−1} by feature replication "
                            "(default: 2, i.e. ±1)")
    group.add_argument("--refit-alpha", action="store_true",
                       help="use the least-squares α on the training set instead of the "
                            "paper's ρ*π/(γm)")
    group.add_argument("--solver", choices=("SCS", "CLARABEL", "FISTA"),
                       help="solver of the SDP (SCS, the default as in the paper, or "
                            "CLARABEL) or of the threshold Lasso (FISTA, the default, or a "
                            "conic solver)")
    group.add_argument("--method", choices=("sdp", "backprop", "ste", "lasso", "ste-relu",
                                            "ste-lrelu", "ste-crelu"),
                       help="bilinear: sdp, the SDP and Algorithm 1 (default); backprop, SGD "
                            "on a real network, then sign() and one scale; ste, "
                            "BinaryConnect. Every bilinear method reports the SDP bound. "
                            "threshold: lasso, the convex program (default); ste, ste-relu, "
                            "ste-lrelu, ste-crelu, SGD with a straight-through surrogate")
    group.add_argument("--epochs", type=_positive_int, default=200,
                       help="training epochs of the backprop and ste methods (default: 200)")
    group.add_argument("--neurons", type=_positive_int, metavar="N",
                       help="threshold: hyperplanes sampled for the Lasso (default: 2000), or "
                            "the width of an ste-trained network (default: 64)")
    group.add_argument("--hyperplanes", choices=("binary", "gaussian"), default="binary",
                       help="threshold: sample ±1 hyperplanes (default, no multiplier) or "
                            "Gaussian ones rounded to --hidden-bits integers")
    group.add_argument("--layers", type=_positive_int, default=2, metavar="L",
                       help="threshold: weight layers; above 2, the earlier hidden layers are "
                            "sampled ±1 hyperplanes and the Lasso chooses the last one "
                            "(default: 2)")
    group.add_argument("--layer-width", type=_positive_int, default=16, metavar="W",
                       help="threshold: neurons of each earlier hidden layer when --layers "
                            "is above 2 (default: 16)")
    group.add_argument("--hidden-bits", type=_positive_int, metavar="B",
                       help="threshold: bits of integer hidden weights (default: 4 for "
                            "gaussian hyperplanes, 8 for ste networks)")


def training_inputs(args: argparse.Namespace) -> tuple[Any, Any]:
    from . import dataset
    from .train import TrainConfig

    if args.family == "threshold":
        if args.m is not None:
            raise QnnhwError("--m is for bilinear networks; a threshold network's size "
                             "follows from --beta (and --neurons sampled hyperplanes)")
        if args.refit_alpha:
            raise QnnhwError("--refit-alpha is for bilinear networks; a threshold network's "
                             "output weights come from the Lasso")
    data = dataset.load(args.data, args.target, args.test_fraction, args.seed)
    config = TrainConfig(family=args.family, method=args.method, m=args.m or args.m_default,
                         beta=args.beta, loss=args.loss, seed=args.seed, bias=args.bias,
                         standardize=args.standardize, weight_levels=args.weight_levels,
                         solver=args.solver, refit_alpha=args.refit_alpha, epochs=args.epochs,
                         neurons=args.neurons, hyperplanes=args.hyperplanes,
                         hidden_bits=args.hidden_bits, layers=args.layers,
                         layer_width=args.layer_width)
    return data, config


def _threshold_lines(report: dict[str, Any]) -> list[str]:
    hidden = {"binary": "±1", "gaussian": f"{report['hidden_bits']}-bit Gaussian"}.get(
        report["hidden_weights"], f"{report['hidden_bits']}-bit")
    depth = f"{report['layers']}-layer " if report.get("layers", 2) > 2 else ""
    lines = [f"trained a {depth}threshold network by {report['method']}: {report['m']} "
             f"neurons with {hidden} hidden weights on d={report['d']} inputs "
             f"({report['data']}, squared loss, beta={report['beta']:g})"]
    if report.get("lasso_objective") is None:
        return lines + [f"  Lasso objective      {report['objective']:.6g}  (of this network; "
                        f"no certificate for {report['method']})"]
    return lines + [
        f"  arrangement patterns {report['patterns']} distinct of {report['hyperplanes']} "
        f"sampled hyperplanes",
        f"  Lasso objective      {report['lasso_objective']:.6g}  "
        f"({_lasso_verdict(report['lasso_objective'], report['lasso_gap'])})"]


def _lasso_verdict(objective: float, gap: float) -> str:
    """What the duality gap certifies, in words."""
    relative = gap / max(abs(objective), 1e-300)
    if relative <= LASSO_CERTIFIED:
        return f"duality gap {gap:.2e}: optimal over these patterns"
    return (f"duality gap {gap:.2e}, {100 * relative:.2g}% of it: the solver stopped early; "
            f"the optimum over these patterns is at least {objective - gap:.6g}")


def _bilinear_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"trained a ±1 bilinear network by {report['method']}: m={report['m']} neurons on "
             f"d={report['d']} lifted features ({report['data']}, {report['loss']} loss, "
             f"beta={report['beta']:g})"]
    lower, value = report.get("lower_bound"), report["objective"]
    if lower is not None:
        lines.append(f"  SDP lower bound      {lower:.6g}")
        relative = f", {100 * report['relative_gap']:.2f}% above" if lower > 0 else ""
        lines.append(f"  objective (21)       {value:.6g}  (gap {value - lower:.4g}{relative})")
    else:
        lines.append(f"  objective (21)       {value:.6g}")
    if report.get("alpha_paper") is not None:
        lines.append(f"  alpha                {report['alpha']:.6g}  (paper "
                     f"{report['alpha_paper']:.6g}, least-squares refit "
                     f"{report['alpha_refit']:.6g})")
    if report.get("covariance_residual") is not None:
        lines.append(f"  covariance residual  {report['covariance_residual']:.2e}  (Theorem 2: 0)")
    return lines


def format_train_summary(report: dict[str, Any]) -> str:
    lines = (_threshold_lines(report) if report["family"] == "threshold"
             else _bilinear_lines(report))
    if "train_accuracy" in report:
        test = f"  test {report['test_accuracy']:.4f}" if "test_accuracy" in report else ""
        lines.append(f"  accuracy             train {report['train_accuracy']:.4f}{test}")
    if "train_loss" in report:
        test = (f"  test {report['test_loss']:.6g} ({100 * report['test_relative_loss']:.2f}% of "
                f"zero predictor)" if "test_loss" in report else "")
        lines.append(f"  loss                 train {report['train_loss']:.6g} "
                     f"({100 * report['train_relative_loss']:.2f}% of zero predictor){test}")
    solver_time = ""
    if report.get("sdp_seconds"):
        solver_time = f"SDP {report['sdp_seconds']:.2f} s, "
    elif report.get("lasso_seconds") is not None:
        solver_time = f"Lasso {report['lasso_seconds']:.2f} s, "
    lines.append(f"  time                 {solver_time}total {report['total_seconds']:.2f} s")
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace, start: float) -> int:
    from .train import train

    data, config = training_inputs(args)
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


def add_hardware_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parallel", type=_positive_int, metavar="P",
                        help="neuron units P in 1..m; the m neurons take ⌈m/P⌉ cycles per "
                             "vector (default: min(m, 8); build: the most that fit)")
    parser.add_argument("--input-bits", type=_positive_int, metavar="B",
                        help="bits per input feature (default: 8)")


def load_hardware_inputs(args: argparse.Namespace):
    from . import flow
    from .model import load_model

    model = load_model(args.model)
    spec = flow.fixed_point(model, args.input_bits)
    parallel = flow.check_parallel(model, args.parallel or min(model.m, 8))
    return model, spec, parallel


def cmd_verilog(args: argparse.Namespace, start: float) -> int:
    from . import flow
    from .model import atomic_write

    model, spec, parallel = load_hardware_inputs(args)
    component = flow.datapath(model, spec, parallel)
    progress(f"elaborating m={model.m}, d={model.d}, P={parallel}")
    text = flow.verilog_text(component, args.name)
    atomic_write(args.output, text)
    spec_path = args.output.with_suffix(".fixedpoint.json")
    atomic_write(spec_path, spec.to_json())
    print(f"wrote {args.output} ({len(text) // 1024} KiB, top module {args.name}) and "
          f"{spec_path}")
    print(f"  {component.initiation_interval} cycles per vector, latency {component.latency} "
          f"cycles, input {spec.features} × {spec.input_bits} bits (F={spec.input_frac}), "
          f"output {spec.output_width} bits (F={spec.output_frac})")
    return 0


def cmd_simulate(args: argparse.Namespace, start: float) -> int:
    from . import flow
    from .sim.runner import random_vectors, simulate_datapath

    model, spec, parallel = load_hardware_inputs(args)
    inputs = random_vectors(spec, args.vectors, args.seed)
    result = simulate_datapath(model, spec, parallel, inputs,
                               args.work_dir or flow.cache_dir() / "sim", seed=args.seed,
                               stall_vectors=args.stall_vectors, progress=progress)
    if args.dump:
        flow.dump_vectors(args.dump, model, inputs, result.outputs, result.reference)
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


def format_build_summary(report: dict[str, Any], out_dir: Path) -> str:
    model = report["model"]
    lines = [
        f"built {out_dir / report['bitstream']} for {report['board']} ({report['board_title']}, "
        f"{report['device']})",
        f"  network        {report['family']}, m={report['m']} neurons, d={report['d']} inputs, "
        f"{report['input_bits']}-bit inputs, {report['output_bits']}-bit output",
    ]
    if model.get("lower_bound") is not None:
        lines.append(f"  certificate    objective {model['objective']:.6g} vs SDP lower bound "
                     f"{model['lower_bound']:.6g} ({100 * model['relative_gap']:.1f}% above)")
    if model.get("lasso_gap") is not None:
        lines.append(f"  certificate    Lasso objective {model['objective']:.6g} "
                     f"({_lasso_verdict(model['objective'], model['lasso_gap'])})")
    if "test_accuracy_hardware" in report:
        lines.append(f"  accuracy       test {report['test_accuracy_hardware']:.4f} on hardware "
                     f"integers, {report['test_accuracy_float']:.4f} in floating point")
    lines += [
        f"  logic          {report['lc_used']}/{report['lc_total']} cells, "
        f"{report['dsp_used']}/{report['dsp_total']} DSPs, {report['ram_used']}/"
        f"{report['ram_total']} RAM blocks",
        f"  clock          {report['clock_mhz']:g} MHz (Fmax {report['fmax_mhz']:.1f} MHz)",
        f"  throughput     P={report['parallel']} units, {report['cycles_per_vector']} cycles "
        f"per vector: {report['inferences_per_second']:,.0f} inferences/s "
        f"({100 * report['bound_ratio']:.0f}% of the P-unit bound), latency "
        f"{report['latency_cycles']} cycles",
        f"  serial link    {report['uart_baud']} baud: {report['uart_inferences_per_second']:,.0f} "
        f"inferences/s over the UART",
        f"  report         {out_dir / 'report.json'}",
    ]
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace, start: float) -> int:
    from .boards import get_board
    from .build import run_build
    from .model import load_model

    board = get_board(args.board)
    if args.board != board.name:
        progress(f"board {args.board!r} means {board.name}: {board.title} ({board.device.name})")
    out_dir = args.output or Path("build") / board.name
    trainer = data = None
    if args.model:
        model = load_model(args.model)
    elif args.family == "threshold":
        from .train import ThresholdTrainer

        data, config = training_inputs(args)
        model = ThresholdTrainer(data, config, progress).train()
    else:
        from .train import SDPTrainer

        data, config = training_inputs(args)
        trainer = SDPTrainer(data, config, progress)
        if trainer.config.method == "sdp":
            model = trainer.sample(trainer.config.m)
        else:
            model, _ = trainer.baseline(str(trainer.config.method), trainer.config.m)
            trainer = None   # a baseline cannot be resampled to fit the device
    report = run_build(board, model, out_dir, trainer=trainer, data=data,
                       parallel=args.parallel, input_bits=args.input_bits, progress=progress)
    report["total_seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(report))
    else:
        print(format_build_summary(report, out_dir))
    return 0


def cmd_boards(args: argparse.Namespace, start: float) -> int:
    from .boards import ALIASES, BOARDS

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


def cmd_run(args: argparse.Namespace, start: float) -> int:
    import csv as csv_module

    from . import dataset
    from .client import BoardClient
    from .fixedpoint import spec_from_dict
    from .model import load_model
    from .reference import reference_for

    model = load_model(args.build / "model.json")
    spec_path = args.build / "fixedpoint.json"
    try:
        spec = spec_from_dict(json.loads(spec_path.read_text()))
    except FileNotFoundError:
        raise QnnhwError(f"{spec_path}: missing; give the folder written by 'build' with "
                         f"--build") from None
    except json.JSONDecodeError:
        raise QnnhwError(f"{spec_path}: corrupt JSON; rebuild") from None
    reference = reference_for(model, spec)
    source = args.data or model.training.get("data")
    if source in dataset.BUNDLED:
        header, rows = dataset.read_csv_table(source, dataset.bundled_text(source))
    elif source and Path(source).is_file():
        header, rows = dataset.read_csv_table(source)
    else:
        raise QnnhwError("give the rows to send with --data CSV")
    X = model.encoder.encode_rows(header, rows)
    targets = ([row[header.index(model.target)] for row in rows] if model.target in header
               else None)
    inputs = reference.quantize(X)
    expected = reference.outputs(inputs)
    client = BoardClient.open(args.port, args.baud, spec.input_bits, spec.output_width)
    progress(f"sending {len(inputs)} vectors to {args.port} at {args.baud} baud")
    writer = csv_module.writer(sys.stdout)
    writer.writerow(["row", "prediction", "y_board", "y_reference"]
                    + (["target"] if targets else []))
    mismatches = correct = 0
    began = time.perf_counter()
    for index, vector in enumerate(inputs.tolist()):
        y = client.infer(vector)
        mismatches += y != int(expected[index])
        if model.task == "classification":
            prediction = model.label_of(1.0 if y > 0 else -1.0)
        else:
            prediction = f"{spec.output_to_real(y):.6g}"
        correct += bool(targets) and prediction == targets[index]
        writer.writerow([index + 2, prediction, y, int(expected[index])]
                        + ([targets[index]] if targets else []))
    seconds = time.perf_counter() - began
    summary = (f"{len(inputs)} vectors in {seconds:.2f} s ({len(inputs) / seconds:.0f}/s), "
               f"{mismatches} differ from the reference, {client.resent} resent")
    if targets and model.task == "classification":
        summary += f", accuracy {correct / len(inputs):.4f}"
    progress(summary)
    return 0 if mismatches == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qnnhw",
        description="Train provably near-optimal ±1 neural networks (Bartan & Pilanci, 2021) "
                    "and put them on FPGAs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a ±1 bilinear network (SDP) or a threshold network (Lasso)",
        description="Bilinear (default): solve the SDP lower bound (22), sample a ±1 network "
                    "by Algorithm 1. Threshold: sample hyperplanes, solve the convex Lasso over "
                    "their arrangement patterns. Write the model file.")
    add_training_arguments(train, m_default=1000, data_default="ionosphere")
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
    simulate.add_argument("--vectors", type=_positive_int, default=100,
                          help="input vectors: full-scale corners, then random (default: 100)")
    simulate.add_argument("--stall-vectors", type=_positive_int, default=32, metavar="N",
                          help="vectors also run with random input gaps and output "
                               "backpressure (default: 32)")
    simulate.add_argument("--seed", type=int, default=0, help="stimulus seed (default: 0)")
    simulate.add_argument("--dump", type=Path, metavar="CSV",
                          help="write integer inputs and hardware outputs to CSV")
    simulate.add_argument("--work-dir", type=Path,
                          help="build folder (default: ~/.cache/qnnhw/sim, reused between runs)")
    simulate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_hardware_arguments(simulate)
    simulate.set_defaults(handler=cmd_simulate)

    build = commands.add_parser(
        "build", help="train (or load) a network and build a bitstream for a board",
        description="Train on the bundled ionosphere data with the paper's Fig. 3 settings "
                    "(or load --model), fit the design to the board, synthesise, place and "
                    "route, and write the bitstream, Verilog, model and report.json.")
    build.add_argument("--board", default="ice40",
                       help="board name (default: ice40, the iCEBreaker; see 'boards')")
    build.add_argument("--model", type=Path, help="use this model file instead of training")
    build.add_argument("-o", "--output", type=Path, metavar="DIR",
                       help="output folder (default: build/BOARD)")
    build.add_argument("--json", action="store_true", help="print the report as JSON")
    add_hardware_arguments(build)
    add_training_arguments(build, m_default=2500, data_default="ionosphere")
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
    run.add_argument("--baud", type=_positive_int, default=DEFAULT_BAUD,
                     help=f"baud rate (default: {DEFAULT_BAUD}, as built)")
    run.set_defaults(handler=cmd_run)

    boards = commands.add_parser("boards", help="list the supported boards")
    boards.set_defaults(handler=cmd_boards)
    return parser


def main(argv: Sequence[str] | None = None, start: float | None = None) -> int:
    start = time.perf_counter() if start is None else start
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args, start))
    except QnnhwError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """Entry point of the ``qnnhw`` console script."""
    sys.exit(main())
