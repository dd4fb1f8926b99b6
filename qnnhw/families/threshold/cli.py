"""The threshold family on the command line: its options, its report and its summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qnnhw.cli_types import positive_int
from qnnhw.families.base import OptionGroup
from qnnhw.lasso import lasso_verdict

from .hyperplanes import HYPERPLANES
from .model import ThresholdModel

__all__ = ["add_options", "certificate", "report", "summary"]

#: Training details ``train --json`` reports besides the common ones.
REPORT_KEYS = ("hidden_weights", "hidden_bits", "layers", "hyperplanes", "patterns",
               "lasso_objective", "lasso_gap", "lasso_lower_bound",
               "lasso_iterations", "step_rule", "step_size", "anneal", "epochs")


def add_options(group: OptionGroup, defaults: Mapping[str, Any]) -> None:
    group.add_argument("--neurons", type=positive_int, metavar="N",
                       help="threshold: hyperplanes sampled for the Lasso (default: 2000), or "
                            "the width of an ste-trained network (default: 64)")
    group.add_argument("--hyperplanes", choices=HYPERPLANES,
                       help="threshold: sample ±1 hyperplanes (default, no multiplier) or "
                            "Gaussian ones rounded to --hidden-bits integers")
    group.add_argument("--hidden-bits", type=positive_int, metavar="B",
                       help="threshold: bits of integer hidden weights (default: 4 for "
                            "gaussian hyperplanes, 8 for ste networks)")
    group.add_argument("--layers", type=positive_int, metavar="L",
                       help="threshold: weight layers; above 2, the earlier hidden layers are "
                            "sampled ±1 hyperplanes and the Lasso chooses the last one "
                            "(default: 2)")
    group.add_argument("--layer-width", type=positive_int, metavar="W",
                       help="threshold: neurons of each earlier hidden layer when --layers "
                            "is above 2 (default: 16)")


def report(model: ThresholdModel) -> dict[str, Any]:
    training = model.training
    return {**{key: training.get(key) for key in REPORT_KEYS}, "neurons": model.m,
            "output_bias": np.asarray(model.bias).tolist(),
            "solve_seconds": model.timings.get("lasso_seconds"),
            "problem": "Lasso"}


def summary(report: dict[str, Any]) -> list[str]:
    hidden = {"binary": "±1", "gaussian": f"{report['hidden_bits']}-bit Gaussian"}.get(
        report["hidden_weights"], f"{report['hidden_bits']}-bit")
    depth = f"{report['layers']}-layer " if report.get("layers", 2) > 2 else ""
    lines = [f"trained a {depth}threshold network by {report['method']}: {report['m']} "
             f"neurons with {hidden} hidden weights on d={report['d']} inputs "
             f"({report['data']}, squared loss, beta={report['beta']:g})"]
    if report.get("lasso_objective") is None:
        return lines + [f"  Lasso objective      {report['objective']:.6g}  (of this network; "
                        f"no certificate for {report['method']})"]
    if report.get("patterns") is not None:
        lines.append(f"  arrangement patterns {report['patterns']} distinct of "
                     f"{report['hyperplanes']} sampled hyperplanes")
    if report.get("step_rule") is not None:
        lines.append(f"  askewsgd             {report['step_rule']} steps from "
                     f"{report['step_size']:.3g}, ε × {report['anneal']:g} per epoch, "
                     f"{report['epochs']} epochs; the output layer by the Lasso")
    return lines + [
        f"  Lasso objective      {report['lasso_objective']:.6g}  "
        f"({lasso_verdict(report['lasso_objective'], report['lasso_gap'])})"]


def certificate(training: dict[str, Any]) -> str | None:
    if training.get("lasso_gap") is None:
        return None
    return (f"Lasso objective {training['objective']:.6g} "
            f"({lasso_verdict(training['objective'], training['lasso_gap'])})")
