"""The bilinear family on the command line: its options, its report and its summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qnnhw.cli_types import positive_int
from qnnhw.families.base import OptionGroup

from .config import ALPHAS, REFITS
from .model import BilinearModel

__all__ = ["add_options", "certificate", "report", "summary"]

#: Training details ``train --json`` reports besides the common ones.
REPORT_KEYS = ("lower_bound", "gap", "relative_gap", "trivial_objective", "sdp_objective",
               "sdp_gap", "alpha_used", "alpha_paper", "alpha_least_squares", "alpha_best",
               "covariance_residual", "output_refit", "refit_kept", "objective_algorithm1",
               "refit_objective_continuous", "draws", "local_search", "flips", "step_rule",
               "step_size", "anneal", "epochs")


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
    group.add_argument("--output-refit", choices=REFITS,
                       help="bilinear: the convex refit of the output layer, kept when it "
                            "lowers the objective: colgen (default) over every ±1 neuron by "
                            "column generation, lasso over 4m neurons drawn from the SDP, or "
                            "none (Algorithm 1 alone)")
    group.add_argument("--colgen-rounds", type=int, metavar="R",
                       help="bilinear: column generation's pricing rounds per output "
                            "(default: 60 shared by the outputs, at least 5 each)")
    group.add_argument("--draws", type=int, metavar="K",
                       help="bilinear: draw K networks by Algorithm 1 from the one SDP "
                            "solution and keep the best (default: 1)")
    group.add_argument("--local-search", type=int, metavar="PASSES",
                       help="bilinear: passes of single-entry weight flips over the trained "
                            "network, improvements only (default: 0)")


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
    elif report.get("alpha_used") == "best":
        lines.append(f"  alpha                {report['alpha']:.6g}, the best for these neurons "
                     f"(exact, 0 allowed)")
    if report.get("alpha_used") is not None:
        if report["alpha"] == 0:
            lines.append("  zero network         no scale of these neurons beats predicting 0: "
                         "α = 0 (more neurons, --m, or a smaller --beta)")
    if report.get("output_refit") not in (None, "none"):
        kept = "kept" if report.get("refit_kept") else "not kept: Algorithm 1's is lower"
        continuous = report.get("refit_objective_continuous")
        lines.append(f"  refit                {report['output_refit']}, {kept}  (Algorithm "
                     f"1's best of {report['draws']} draw{'s' if report['draws'] != 1 else ''} "
                     f"{report['objective_algorithm1']:.6g}"
                     + (f"; the refit before rounding to ±1 copies {continuous:.6g}"
                        if continuous is not None else "") + ")")
    if report.get("step_rule") is not None:
        lines.append(f"  askewsgd             {report['step_rule']} steps from "
                     f"{report['step_size']:.3g}, ε × {report['anneal']:g} per epoch, "
                     f"{report['epochs']} epochs; then sign(U), sign(V) and the best α")
    if report.get("local_search"):
        lines.append(f"  local search         {report['local_search']} passes, "
                     f"{report['flips']} weights flipped")
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
