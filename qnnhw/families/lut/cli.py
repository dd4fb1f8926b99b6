"""The LUT family on the command line: its options, its report and its summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qnnhw.cli_types import number, positive_int
from qnnhw.families.base import OptionGroup
from qnnhw.lasso import lasso_verdict

from .config import PENALTIES, REFITS
from .dictionary import SAMPLINGS
from .model import LutModel

__all__ = ["add_options", "certificate", "report", "summary"]

#: Training details ``train --json`` reports besides the common ones.
REPORT_KEYS = ("lasso_objective", "lasso_gap", "lasso_lower_bound", "lasso_iterations",
               "fitted_objective", "refit", "refit_beta", "refit_objective", "refit_gap",
               "rounded_objective", "penalty", "dictionary", "dictionary_sampled",
               "thresholds", "fan_in", "sampling", "output_bits", "nonzero_weights",
               "input_bits")


def add_options(group: OptionGroup, defaults: Mapping[str, Any]) -> None:
    group.add_argument("--neurons", type=positive_int, metavar="N",
                       help="lut: candidate neurons sampled into the Lasso's dictionary "
                            "(default: 20,000; at most 1,000,000)")
    group.add_argument("--thresholds", type=positive_int, metavar="T",
                       help="lut: thermometer bits per feature, at quantiles of the training "
                            "data (default: 5)")
    group.add_argument("--fan-in", type=positive_int, metavar="K",
                       help="lut: bits of each neuron, 1 to 6 (default: 4, one LUT4)")
    group.add_argument("--sampling", choices=SAMPLINGS,
                       help="lut: a neuron's bits around one pixel (default for images) or "
                            "anywhere (default otherwise)")
    group.add_argument("--image", type=positive_int, nargs=2, metavar=("H", "W"),
                       help="lut: the columns are the pixels of an H × W image, row by row "
                            "(digits and MNIST-format folders know theirs)")
    group.add_argument("--output-bits", type=positive_int, metavar="B",
                       help="lut: width of the integer output weights (default: 4)")
    group.add_argument("--input-bits", type=positive_int, metavar="B",
                       help="lut: bits of the integer inputs the network is trained for "
                            "(default: the fewest that keep the training values apart)")
    group.add_argument("--refit", choices=REFITS,
                       help="lut: fit the kept neurons' output weights again by the "
                            "cross-entropy of the classes (logistic, default for classes), "
                            "by the Lasso with less shrinkage (squared, default for "
                            "regression), or not")
    group.add_argument("--refit-beta", type=number, metavar="B",
                       help="lut: the refit's regularisation: weight decay of the logistic "
                            "refit (default: 8), l1 beta of the squared one (default: "
                            "beta/10)")
    group.add_argument("--penalty", choices=PENALTIES,
                       help="lut: weight decay per output weight (l1, default: it counts the "
                            "adder logic) or per neuron (group)")


def report(model: LutModel) -> dict[str, Any]:
    training = model.training
    return {**{key: training.get(key) for key in REPORT_KEYS}, "neurons": model.m,
            "output_scale": model.output_scale,
            "output_bias": np.asarray(model.bias).tolist(),
            "solve_seconds": model.timings.get("lasso_seconds"), "problem": "Lasso"}


def _refit(values: dict[str, Any]) -> str:
    """The refit, its regularisation and its objective."""
    name = "lambda" if values.get("refit") == "logistic" else "beta"
    return (f"{values.get('refit', 'squared')} refit, {name}={values['refit_beta']:g}: "
            f"objective {values['refit_objective']:.6g}")


def _rounding(values: dict[str, Any]) -> str:
    """What rounding the output weights to integers costs in the objective they minimise
    (the Lasso's, or the refit's)."""
    objective, rounded = values["fitted_objective"], values["rounded_objective"]
    return (f"{values['output_bits']}-bit output weights: objective {rounded:.6g} "
            f"({100 * (rounded - objective) / max(abs(objective), 1e-300):+.2f}% for rounding)")


def summary(report: dict[str, Any]) -> list[str]:
    return [
        f"trained a LUT network by the Lasso: {report['m']} neurons of {report['fan_in']} "
        f"bits over {report['thresholds']} thermometer bits per feature ({report['data']}, "
        f"{report['sampling']} neurons, {report['penalty']} penalty, "
        f"beta={report['beta']:g})",
        f"  dictionary           {report['dictionary']} distinct of "
        f"{report['dictionary_sampled']} sampled neurons",
        f"  Lasso objective      {report['lasso_objective']:.6g}  "
        f"({lasso_verdict(report['lasso_objective'], report['lasso_gap'])})",
        *([f"  refit                {_refit(report)} over the kept neurons "
           f"({lasso_verdict(report['refit_objective'], report['refit_gap'])})"]
          if report.get("refit_beta") is not None else []),
        f"  integer weights      {_rounding(report)}, {report['nonzero_weights']} non-zero"]


def certificate(training: dict[str, Any]) -> str | None:
    if training.get("lasso_gap") is None:
        return None
    refit = ""
    if training.get("refit_beta") is not None:
        verdict = lasso_verdict(training["refit_objective"], training["refit_gap"])
        refit = f"{_refit(training)} ({verdict}); "
    return (f"Lasso objective {training['lasso_objective']:.6g} "
            f"({lasso_verdict(training['lasso_objective'], training['lasso_gap'])}); "
            f"{refit}{_rounding(training)}")
