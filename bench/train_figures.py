"""Issue #2's figures: planted objective at m=1000 and ionosphere accuracy and time.

    python bench/train_figures.py [--seeds 5]

Prints two Markdown tables. The ionosphere time is the wall time of the whole
``python -m qnnhw train`` command (interpreter start, imports, data, SDP, sampling, file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run_train(*args: str) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "qnnhw", "train", *args, "--json",
                                 "-o", str(Path(folder) / "model.json")],
                                capture_output=True, text=True, check=True)
        return json.loads(result.stdout), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    seeds = range(parser.parse_args().seeds)

    print("## Planted data (n=100, d=20, 10 planted neurons), squared loss, beta=1e-4, m=1000\n")
    print("| seed | lower bound | objective | objective / ½‖y‖² | covariance residual |")
    print("|---|---|---|---|---|")
    ratios = []
    for seed in seeds:
        report, _ = run_train("--data", "planted", "--m", "1000", "--beta", "1e-4",
                              "--loss", "squared", "--seed", str(seed))
        ratios.append(report["train_relative_loss"] * report["objective"] / report["train_loss"])
        print(f"| {seed} | {report['lower_bound']:.4g} | {report['objective']:.4g} | "
              f"{100 * ratios[-1]:.2f}% | {report['covariance_residual']:.1e} |")
    print(f"| mean | | | {100 * np.mean(ratios):.2f}% (target ≤ 2%) | |\n")

    print("## Ionosphere, hinge loss, beta=10, m=2500 (whole `train` command)\n")
    print("| seed | train acc | test acc | lower bound | objective | SDP s | command s |")
    print("|---|---|---|---|---|---|---|")
    accuracies, times = [], []
    for seed in seeds:
        report, seconds = run_train("--data", "ionosphere", "--m", "2500", "--beta", "10",
                                    "--loss", "hinge", "--seed", str(seed))
        accuracies.append(report["test_accuracy"])
        times.append(seconds)
        print(f"| {seed} | {report['train_accuracy']:.4f} | {report['test_accuracy']:.4f} | "
              f"{report['lower_bound']:.4g} | {report['objective']:.4g} | "
              f"{report['solve_seconds']:.2f} | {seconds:.2f} |")
    print(f"| mean | | {np.mean(accuracies):.4f} ± {np.std(accuracies):.4f} (target ≥ 0.85) "
          f"| | | | {np.mean(times):.2f} (max {np.max(times):.2f}; target < 10) |")


if __name__ == "__main__":
    main()
