"""Issue #12's figures: the SDP (22) by qnnhw's own solvers (the interior-point method IPM and
Burer–Monteiro BM) against CVXPY/SCS and CVXPY/CLARABEL, with certified gaps, wall time and
peak memory.

    python bench/sdp_solver.py [--sizes 1000x100 ...] [--solvers IPM BM SCS CLARABEL]
                               [--fashion-mnist DIR --fashion-n 5000 ... --fashion-solvers IPM]

Synthetic problems: n standard normal inputs of d − 1 features plus the bias feature, the
targets a planted ±1 bilinear network of 10 neurons (divided by d) plus 30 % noise, their
signs for the hinge; β = 1 for both losses. Fashion-MNIST: T-shirts against shirts (the
hardest pair), standardised pixels plus the bias feature, the first n training images, hinge,
β = 10. Every run is its own process (peak memory is that process's); every result is
certified by the same bound (qnnhw.families.bilinear.certificate); "rel. gap" is
gap / (1 + |objective|); "rank" counts the factor's singular values above 10⁻³ of the largest
(an interior point is of full rank, with most of them tiny); qnnhw's solvers stop at
--tolerance, SCS and CLARABEL at their own defaults. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ONE_RUN = r"""
import json, resource, sys, time
import numpy as np
from qnnhw.families.bilinear import sdp
spec = json.loads(sys.argv[1])
if spec["data"] == "planted":
    rng = np.random.default_rng(spec["seed"])
    n, d = spec["n"], spec["d"]
    X = np.hstack([rng.standard_normal((n, d - 1)), np.ones((n, 1))])
    U, V = rng.choice([-1, 1], (10, d)), rng.choice([-1, 1], (10, d))
    y = ((X @ U.T) * (X @ V.T)) @ rng.uniform(0, 1, 10) / d
    y = y + 0.3 * y.std() * rng.standard_normal(n)
    if spec["loss"] == "hinge":
        y = np.where(y > np.median(y), 1.0, -1.0)
else:
    from pathlib import Path
    from qnnhw.dataset import read_idx
    folder = Path(spec["data"])
    images = read_idx(next(folder.glob("train-images-idx3-ubyte*"))).reshape(60000, -1)
    labels = read_idx(next(folder.glob("train-labels-idx1-ubyte*")))
    chosen = np.flatnonzero((labels == 0) | (labels == 6))[:spec["n"]]
    X = images[chosen].astype(float)
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    X = np.hstack([X, np.ones((len(X), 1))])
    y = np.where(labels[chosen] == 0, 1.0, -1.0)
start = time.perf_counter()
solution = sdp.solve_sdp(X, y, loss=spec["loss"], beta=spec["beta"], solver=spec["solver"],
                         tolerance=spec["tolerance"])
print(json.dumps({"seconds": time.perf_counter() - start, "objective": solution.objective,
                  "bound": solution.lower_bound, "gap": solution.gap,
                  "relative_gap": solution.relative_gap, "iterations": solution.iterations,
                  "rank": int(np.sum(np.linalg.svd(solution.R, compute_uv=False)
                                     > 1e-3 * np.linalg.norm(solution.R, 2))),
                  "memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(spec: dict, timeout: float) -> dict | None:
    try:
        result = subprocess.run([sys.executable, "-c", ONE_RUN, json.dumps(spec)],
                                capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["failed"]
        return {"error": lines[-1][:80]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def row(label: str, solver: str, out: dict, reference: dict | None) -> str:
    if "error" in out:
        return f"| {label} | {solver} | {out['error']} | | | | | | |"
    versus = ""
    if reference is not None and "error" not in reference:
        difference = abs(out['objective'] - reference['objective'])
        versus = f"{difference / (1 + abs(reference['objective'])):.1e}"
    return (f"| {label} | {solver} | {out['seconds']:.2f} | {out['objective']:.8g} | "
            f"{out['bound']:.8g} | {out['relative_gap']:.1e} | {versus} | {out['rank']} | "
            f"{out['memory_mb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["1000x100"],
                        help="n×d of the synthetic problems (none: only Fashion-MNIST)")
    parser.add_argument("--losses", nargs="+", default=["squared", "hinge"])
    parser.add_argument("--solvers", nargs="+", default=["IPM", "BM", "SCS", "CLARABEL"])
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="the certified relative gap IPM and BM stop at (default 1e-3)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--fashion-mnist", type=Path, metavar="DIR",
                        help="a folder with Fashion-MNIST's IDX files (Debian: "
                             "/usr/share/datasets/fashion-mnist)")
    parser.add_argument("--fashion-n", type=int, nargs="+", default=[5000])
    parser.add_argument("--fashion-solvers", nargs="+", default=["IPM"])
    args = parser.parse_args()
    print("| problem | solver | seconds | objective | certified bound | rel. gap | "
          "vs CLARABEL | rank | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        n, d = (int(part) for part in size.split("x"))
        for loss in args.losses:
            label = f"n={n}, d={d}, {loss}"
            results = {}
            for solver in ["CLARABEL", *[s for s in args.solvers if s != "CLARABEL"]]:
                if solver not in args.solvers:
                    continue
                results[solver] = run({"data": "planted", "seed": 0, "n": n, "d": d,
                                       "loss": loss, "beta": 1.0, "solver": solver,
                                       "tolerance": args.tolerance}, args.timeout)
            for solver in args.solvers:
                print(row(label, solver, results[solver], results.get("CLARABEL")),
                      flush=True)
            for own in ("IPM", "BM"):
                if own in results and "SCS" in results and "error" not in results["SCS"] \
                        and "error" not in results[own]:
                    ratio = results["SCS"]["seconds"] / results[own]["seconds"]
                    print(f"| {label} | SCS ÷ {own} time | {ratio:.1f}× | | | | | | |",
                          flush=True)
    for n in args.fashion_n if args.fashion_mnist else []:
        label = f"Fashion-MNIST, n={n}, d=785, hinge"
        for solver in args.fashion_solvers:
            out = run({"data": str(args.fashion_mnist), "n": n, "loss": "hinge", "beta": 10.0,
                       "solver": solver, "tolerance": args.tolerance}, args.timeout)
            print(row(label, solver, out, None), flush=True)


if __name__ == "__main__":
    main()
