"""The bilinear family on the command line: its options, its report and its summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qnnhw.cli_types import positive_int
from qnnhw.families.base import OptionGroup

from .config import ALPHAS
from .model import BilinearModel

__all__ = ["add_options", "certificate", "report", "summary"]

#: Training details ``train --json`` reports besides the common ones.
REPORT_KEYS = ("lower_bound", "gap", "relative_gap", "trivial_objective", "sdp_objective",
               "sdp_gap", "alpha_used", "alpha_paper", "alpha_least_squares", "alpha_best",
               "covariance_residual")


def add_options(group: OptionGroup, defaults: Mapping[str, Any]) -> None:
    group.add_argument("--m", type=positive_int,
                       help=f"bilinear: number of hidden neurons (default: {defaults['m']})")
    group.add_argument("--weight-levels", type=int, metavar="L",
                       help="bilinear: first-layer weight levels {−(L−1), …, L−1} by feature "
                            "replication (default: 2, i.e. ±1)")
    group.add_argument("--alpha", choices=ALPHAS,
                       help="bilinear: the sampled neurons' output scale: best (default) "
                            "minimises the objective (21) exactly, 0 included; paper is "
                            "Algorithm 1's ρ*π/(γm); least-squares fits the targets")
    group.add_argument("--lasso-refit", action="store_const", const=True,
                       help="bilinear: choose the output weights of 4m neurons sampled from "
                            "the SDP by the convex Lasso of (21), as integers on one scale "
                            "(repeated neurons); kept if it lowers the objective")


def report(model: BilinearModel) -> dict[str, Any]:
    training = model.training
    return {**{key: training.get(key) for key in REPORT_KEYS}, "alpha": model.alpha,
            "solve_seconds": model.timings.get("sdp_seconds"), "problem": "SDP"}


def summary(report: dict[str, Any]) -> list[str]:
    lines = [f"trained a ±1 bilinear network by {report['method']}: m={report['m']} neurons on "
             f"d={report['d']} lifted features ({report['data']}, {report['loss']} loss, "
             f"beta={report['beta']:g})"]
    lower, value = report.get("lower_bound"), report["objective"]
    if lower is not None:
        lines.append(f"  SDP lower bound      {lower:.6g}  (certified; the SDP solved to a gap "
                     f"of {report['sdp_gap']:.1e})")
        lines.append(f"  objective (21)       {value:.6g}  ({_gap_words(report)})")
    else:
        lines.append(f"  objective (21)       {value:.6g}")
    if report.get("alpha_paper") is not None:
        lines.append(f"  alpha                {report['alpha']:.6g}, {report['alpha_used']}  "
                     f"(best {report['alpha_best']:.6g}, paper {report['alpha_paper']:.6g}, "
                     f"least-squares {report['alpha_least_squares']:.6g})")
        if report["alpha"] == 0:
            lines.append("  zero network         no scale of these neurons beats predicting 0: "
                         "α = 0 (more neurons, --m, or a smaller --beta)")
    if report.get("covariance_residual") is not None:
        lines.append(f"  covariance residual  {report['covariance_residual']:.2e}  (Theorem 2: 0)")
    return lines


def _gap_words(training: dict[str, Any]) -> str:
    """The network's distance to the bound, against the zero network's objective."""
    gap = training["objective"] - training["lower_bound"]
    return (f"gap {gap:.4g}, {100 * training['relative_gap']:.2f}% of the zero network's "
            f"{training['trivial_objective']:.4g}")


def certificate(training: dict[str, Any]) -> str | None:
    if training.get("lower_bound") is None:
        return None
    return (f"objective {training['objective']:.6g} vs SDP lower bound "
            f"{training['lower_bound']:.6g} ({_gap_words(training)})")
