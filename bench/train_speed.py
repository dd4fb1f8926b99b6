"""Issue #21's figure: the whole ``train`` command against CVXPY/SCS's solve of its SDP.

    python bench/train_speed.py [--n 1000] [--d 100] [--m 100] [--runs 3]

Writes a regression CSV (n rows, d − 1 standard normal features and a target from a planted
±1 bilinear network of 10 neurons plus 30 % noise; with the bias feature the SDP has d), then
in one run:

* the wall time of ``python -m qnnhw train --data FILE --m M`` with every default (squared
  loss for a real target, β = 1e-4, the interior-point solver, column generation's refit):
  interpreter start, imports, the CSV, the SDP, sampling, refit, report and model file — the
  median of ``--runs`` after one warm-up run, so Python's bytecode cache is as on any second
  run of the tool;
* the time of CVXPY/SCS's solve of the same SDP (22) (the same lifted inputs, targets and β:
  the SCS solver's own run, problem construction included), in a process of its own.

Prints a Markdown table; the issue's target is a ratio of 20 or more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCS_RUN = r"""
import json, sys, time
from qnnhw import dataset
from qnnhw.families.bilinear import sdp
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.training import prepare_inputs
data = dataset.load_csv(sys.argv[1])
config = BilinearConfig(m=int(sys.argv[2])).resolved(data)
inputs = prepare_inputs(data, bool(config.standardize), bool(config.bias))
start = time.perf_counter()
solution = sdp.solve_sdp(inputs.lifted, data.train_targets, loss=config.loss, beta=config.beta,
                         solver="SCS")
print(json.dumps({"seconds": time.perf_counter() - start, "objective": solution.objective,
                  "beta": config.beta, "loss": config.loss}))
"""


def write_csv(path: Path, n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d - 1))
    U, V = rng.choice([-1, 1], (10, d - 1)), rng.choice([-1, 1], (10, d - 1))
    y = ((X @ U.T) * (X @ V.T)) @ rng.uniform(0, 1, 10) / d
    y = y + 0.3 * y.std() * rng.standard_normal(n)
    header = ",".join([f"x{k}" for k in range(d - 1)] + ["y"])
    np.savetxt(path, np.hstack([X, y[:, None]]), delimiter=",", fmt="%.6f", header=header,
               comments="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=100, help="SDP dimension (features + bias)")
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    environment = {key: value for key, value in os.environ.items()
                   if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "regression.csv"
        write_csv(data, args.n, args.d, seed=0)
        command = [sys.executable, "-m", "qnnhw", "train", "--data", str(data),
                   "--m", str(args.m), "--json", "-o", str(Path(folder) / "model.json")]
        times, report = [], {}
        for run in range(args.runs + 1):
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, check=True,
                                    env=environment)
            if run:                      # run 0 warms Python's bytecode cache
                times.append(time.perf_counter() - start)
            report = json.loads(result.stdout)
        scs = subprocess.run([sys.executable, "-c", SCS_RUN, str(data), str(args.m)],
                             capture_output=True, text=True, check=True, env=environment)
        reference = json.loads(scs.stdout.strip().splitlines()[-1])
    command_seconds = statistics.median(times)
    print(f"## `train` on a {args.n} × {args.d - 1} CSV ({report['loss']} loss, "
          f"β = {report['beta']:g}, m = {args.m}) against CVXPY/SCS's solve of its SDP\n")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| `python -m qnnhw train` (whole command, median of {args.runs}) | "
          f"{command_seconds:.2f} |")
    print(f"| of which inside `train` (SDP, sampling, refit, report) | "
          f"{report['train_seconds']:.2f} |")
    print(f"| CVXPY/SCS solve of the same SDP | {reference['seconds']:.2f} |")
    print(f"| ratio (target ≥ 20) | {reference['seconds'] / command_seconds:.1f}× |")
    print(f"\nSDP objective: SCS {reference['objective']:.6g}; the trained network's "
          f"objective (21) {report['objective']:.6g}")


if __name__ == "__main__":
    main()
