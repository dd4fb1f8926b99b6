"""Issue #6's figures: threshold networks by the convex Lasso on ionosphere, against the
SDP bilinear network and the STE baselines; Lasso solvers timed against each other.

    python bench/threshold_figures.py [--splits 10] [--hyperplanes 2000]
                                      [--methods NAME …] [--no-solvers]

(``--splits 0`` prints the solver table only; ``--methods`` keeps the rows whose names
start with one of the given words, e.g. ``--methods ASkewSGD``.)

Every split is the bundled ionosphere data split 80/20 by ``seed`` (n_train = 280, as in the
SDP paper's Fig. 3). β is chosen per split and per method by validation: the training split is
split again 80/20, each β of the grid is trained on the first part and scored on the second,
and the β with the best validation accuracy (ties: the larger β, fewer neurons) is retrained
on the whole training split. Test accuracy is then measured once. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from qnnhw import dataset, flow
from qnnhw.dataset import Dataset, class_indices
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.train import SDPTrainer
from qnnhw.families.threshold.config import ThresholdConfig
from qnnhw.families.threshold.hyperplanes import distinct_patterns, sample_hyperplanes
from qnnhw.families.threshold.train import ThresholdTrainer
from qnnhw.lasso import solve_lasso

BETAS = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0)
METHODS = {
    "Convex-Lasso, ±1 hyperplanes": {"method": "lasso", "hyperplanes": "binary"},
    "Convex-Lasso, Gaussian (4-bit)": {"method": "lasso", "hyperplanes": "gaussian"},
    "Convex-Lasso, 3 layers (first 32 wide, ±1)": {"method": "lasso", "layers": 3,
                                                    "layer_width": 32},
    "Nonconvex-STE": {"method": "ste"},
    "Nonconvex-ReLU": {"method": "ste-relu"},
    "Nonconvex-LReLU": {"method": "ste-lrelu"},
    "Nonconvex-CReLU": {"method": "ste-crelu"},
    "ASkewSGD, ±1 hyperplanes + Lasso output layer": {"method": "askewsgd"},
}


def subsplit(data: Dataset, seed: int) -> Dataset:
    """The training split, split again 80/20 into training and validation parts."""
    order = np.random.default_rng(1000 + seed).permutation(len(data.y_train))
    cut = int(round(0.8 * len(order)))
    fit, held = order[:cut], order[cut:]
    return replace(data, X_train=data.X_train[fit], y_train=data.y_train[fit],
                   X_test=data.X_train[held], y_test=data.y_train[held])


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict_classes(X) == class_indices(y, 2)))


def threshold_run(data: Dataset, options: dict, beta: float, hyperplanes: int, seed: int):
    config = ThresholdConfig(beta=beta, seed=seed, neurons=(
        hyperplanes if options["method"] == "lasso" else None), **options)
    return ThresholdTrainer(data, config).train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--hyperplanes", type=int, default=2000)
    parser.add_argument("--methods", nargs="+", metavar="NAME", help="rows to run")
    parser.add_argument("--no-solvers", action="store_true", help="skip the solver table")
    args = parser.parse_args()
    methods = {name: options for name, options in METHODS.items()
               if not args.methods or name.startswith(tuple(args.methods))}

    rows: dict[str, dict[str, list[float]]] = {}
    for seed in range(args.splits):
        data = dataset.load("ionosphere", None, 0.2, seed)
        validation = subsplit(data, seed)
        for name, options in methods.items():
            scores = [(accuracy(threshold_run(validation, options, beta, args.hyperplanes,
                                              seed), validation.X_test, validation.y_test),
                       beta) for beta in BETAS]
            best_beta = max(scores)[1]
            model = threshold_run(data, options, best_beta, args.hyperplanes, seed)
            spec = flow.fixed_point(model)
            reference = flow.reference(model, spec)
            hardware = float(np.mean(reference.predict_classes(reference.quantize(data.X_test))
                                     == class_indices(data.y_test, 2)))
            row = rows.setdefault(name, {})
            for key, value in (("test", accuracy(model, data.X_test, data.y_test)),
                               ("hardware", hardware), ("neurons", model.m),
                               ("beta", best_beta),
                               ("seconds", model.timings.get("lasso_seconds", np.nan))):
                row.setdefault(key, []).append(value)
        start = time.perf_counter()
        sdp = SDPTrainer(data, BilinearConfig(m=2500, beta=10.0, seed=seed)).sample(2500)
        row = rows.setdefault("SDP bilinear (m=2500, β=10)", {})
        row.setdefault("test", []).append(accuracy(sdp, data.X_test, data.y_test))
        spec = flow.fixed_point(sdp)
        reference = flow.reference(sdp, spec)
        row.setdefault("hardware", []).append(float(np.mean(
            reference.predict_classes(reference.quantize(data.X_test))
            == class_indices(data.y_test, 2))))
        row.setdefault("neurons", []).append(2500)
        row.setdefault("beta", []).append(10.0)
        row.setdefault("seconds", []).append(time.perf_counter() - start)
        print(f"split {seed} done", flush=True)

    if rows:
        accuracy_table(rows, args.splits)
    if not args.no_solvers:
        solver_table()


def accuracy_table(rows: dict[str, dict[str, list[float]]], splits: int) -> None:
    print(f"\n### Ionosphere, {splits} splits (mean ± standard deviation)\n")
    print("| method | test accuracy | on hardware integers | neurons | β chosen (median) | "
          "solve s |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        def pm(key: str, digits: int = 3, row: dict[str, list[float]] = row) -> str:
            values = row[key]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"
        seconds = "—" if np.isnan(row["seconds"]).any() else pm("seconds", 2)
        print(f"| {name} | {pm('test')} | {pm('hardware')} | {pm('neurons', 1)} | "
              f"{statistics.median(row['beta']):g} | {seconds} |")



def solver_table() -> None:
    print("\n### Lasso solvers on ionosphere (split 0, β=5): seconds and objective\n")
    print("| hyperplanes | patterns | FISTA s | CLARABEL s | SCS s | FISTA objective | "
          "CLARABEL objective | FISTA gap |")
    print("|---|---|---|---|---|---|---|---|")
    data = dataset.load("ionosphere", None, 0.2, 0)
    trainer = ThresholdTrainer(data, ThresholdConfig())
    for count in (500, 2000, 8000, 32000):
        H = sample_hyperplanes(np.random.default_rng(0), count, trainer.inputs.lifted.shape[1],
                               "binary", 1)
        D, _ = distinct_patterns(trainer.inputs.lifted, H)
        solutions = {solver: solve_lasso(D, data.y_train, 5.0, solver=solver)
                     for solver in ("FISTA", "CLARABEL", "SCS")}
        print(f"| {count} | {D.shape[1]} | {solutions['FISTA'].seconds:.2f} | "
              f"{solutions['CLARABEL'].seconds:.2f} | {solutions['SCS'].seconds:.2f} | "
              f"{solutions['FISTA'].objective:.6f} | {solutions['CLARABEL'].objective:.6f} | "
              f"{solutions['FISTA'].gap:.1e} |", flush=True)


if __name__ == "__main__":
    main()
