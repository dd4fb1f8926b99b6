"""Issue #11's accuracy figures: ten-class digits (and Fashion-MNIST when it is on disk).

    python bench/digits.py [--seeds 10] [--families threshold bilinear]
                           [--fashion-mnist DIR --fashion-n 10000]

Digits: scikit-learn's bundled copy (1,797 8 × 8 images), qnnhw's 80/20 split of each seed;
the threshold network by the group Lasso (β = 20, 2,000 ±1 hyperplanes), the bilinear one by
ten certified SDP blocks (hinge, β = 10, m = 1,000), beside scikit-learn's
LogisticRegression and MLPClassifier (100 ReLU units, float weights) on the same standardised
splits. "hardware" is the accuracy of the integer reference model (8-bit inputs), which the
simulated and built designs equal bit for bit. Fashion-MNIST: its own 60k/10k split, a
random subsample of the training images, the threshold network only. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from qnnhw import dataset, flow
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.threshold.config import ThresholdConfig
from qnnhw.training import train


def hardware_accuracy(model, data: dataset.Dataset) -> float:
    reference = flow.reference(model, flow.fixed_point(model))
    predicted = reference.predict_classes(reference.quantize(data.X_test))
    return float(np.mean(predicted == data.y_test.astype(int)))


def qnnhw_row(data: dataset.Dataset, config) -> dict:
    start = time.perf_counter()
    model, report = train(data, config)
    return {"test": report["test_accuracy"], "hardware": hardware_accuracy(model, data),
            "neurons": model.m, "seconds": time.perf_counter() - start,
            "gap": report.get("relative_gap", report.get("lasso_gap"))}


def sklearn_row(data: dataset.Dataset, estimator) -> dict:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the solvers' convergence chatter
        pipeline = make_pipeline(StandardScaler(), estimator).fit(data.X_train, data.y_train)
    return {"test": float(pipeline.score(data.X_test, data.y_test)), "hardware": None,
            "neurons": None, "seconds": time.perf_counter() - start, "gap": None}


def methods(families: list[str]) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    chosen = {}
    if "threshold" in families:
        chosen["threshold (group Lasso)"] = lambda data, seed: qnnhw_row(
            data, ThresholdConfig(beta=20.0, neurons=2000, seed=seed))
    if "bilinear" in families:
        chosen["bilinear (SDP)"] = lambda data, seed: qnnhw_row(
            data, BilinearConfig(m=1000, loss="hinge", beta=10.0, seed=seed))
    chosen["LogisticRegression"] = lambda data, seed: sklearn_row(
        data, LogisticRegression(max_iter=2000))
    chosen["MLPClassifier"] = lambda data, seed: sklearn_row(
        data, MLPClassifier(hidden_layer_sizes=(100,), max_iter=500, random_state=seed))
    return chosen


def table(rows: dict[str, list[dict]], seeds: int) -> None:
    print(f"| method | test accuracy (mean ± sd, {seeds} seeds) | min | hardware (int) "
          f"| neurons | seconds per fit |")
    print("|---|---|---|---|---|---|")
    for name, results in rows.items():
        test = np.array([r["test"] for r in results])
        hardware = [r["hardware"] for r in results if r["hardware"] is not None]
        neurons = [r["neurons"] for r in results if r["neurons"] is not None]
        print(f"| {name} | {test.mean():.4f} ± {test.std():.4f} | {test.min():.4f} | "
              f"{f'{np.mean(hardware):.4f}' if hardware else '—'} | "
              f"{f'{np.mean(neurons):.0f}' if neurons else '—'} | "
              f"{np.mean([r['seconds'] for r in results]):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--families", nargs="+", default=["threshold", "bilinear"])
    parser.add_argument("--fashion-mnist", metavar="DIR")
    parser.add_argument("--fashion-n", type=int, default=10000)
    args = parser.parse_args()

    chosen = methods(args.families)
    rows: dict[str, list[dict]] = {name: [] for name in chosen}
    for seed in range(args.seeds):
        data = dataset.load("digits", seed=seed)
        for name, run in chosen.items():
            rows[name].append(run(data, seed))
            print(f"seed {seed}: {name} {rows[name][-1]['test']:.4f}", flush=True)
    if args.seeds:
        print("\n### digits (10 classes, 80/20 split)\n")
        table(rows, args.seeds)

    if args.fashion_mnist:
        data = dataset.load(args.fashion_mnist, subsample=args.fashion_n)
        fashion = {"threshold (group Lasso)": [qnnhw_row(
            data, ThresholdConfig(beta=20.0, neurons=4000, seed=0))]}
        fashion["LogisticRegression"] = [methods([])["LogisticRegression"](data, 0)]
        print(f"\n### Fashion-MNIST ({len(data.y_train)} training images, the 10,000 test "
              f"images)\n")
        table(fashion, 1)


if __name__ == "__main__":
    main()
