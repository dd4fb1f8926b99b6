"""Reproduce the paper's Figures 1–3 with the SDP method and both baselines.

    python bench/paper_figures.py [--seeds 10] [--out docs]

Writes docs/fig1-planted.png, docs/fig2-breast-cancer.png, docs/fig3-ionosphere.png and the
Markdown tables of docs/results.md (printed too). Every number is a mean ± std over the seeds;
a seed draws the data (planted) or the train/test split (UCI) and the training randomness.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import dataset  # noqa: E402
from qnnhw.families.bilinear.config import BilinearConfig  # noqa: E402
from qnnhw.families.bilinear.train import SDPTrainer, objective  # noqa: E402

PLANTED_M = (10, 30, 100, 300, 1000, 3000, 5000)
METHODS = ("sdp", "backprop", "ste")
LABELS = {"sdp": "SDP + Algorithm 1", "backprop": "backprop + PTQ", "ste": "STE / BinaryConnect"}


def mean_std(values) -> str:
    return f"{np.mean(values):.4g} ± {np.std(values):.2g}"


def figure1(seeds: range, out: Path, epochs: int) -> list[str]:
    """Objective (21) against m on planted data, train and test, with the SDP bound."""
    results = {(method, split): np.zeros((len(seeds), len(PLANTED_M)))
               for method in METHODS for split in ("train", "test")}
    bounds = []
    for s, seed in enumerate(seeds):
        data = dataset.planted(n=100, d=20, neurons=10, test_fraction=0.5, seed=seed)
        # The paper's Algorithm 1, its α included (qnnhw's default scale is the best one).
        trainer = SDPTrainer(data, BilinearConfig(loss="squared", beta=1e-4, seed=seed,
                                               epochs=epochs, alpha="paper"))
        bounds.append(trainer.solution.lower_bound)
        test = trainer.lifting.apply(trainer.standardizer.apply(data.X_test))
        for k, m in enumerate(PLANTED_M):
            for method in METHODS:
                model = (trainer.sample(m) if method == "sdp"
                         else trainer.baseline(method, m)[0])
                results[method, "train"][s, k] = model.training["objective"]
                prediction = model.alpha * model.neuron_sums(test)
                results[method, "test"][s, k] = objective(
                    "squared", 1e-4, model.d, m, model.alpha, prediction, data.y_test)
        print(f"  figure 1: seed {seed} done", file=sys.stderr, flush=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, split in zip(axes, ("train", "test")):
        for method in METHODS:
            values = results[method, split]
            axis.errorbar(PLANTED_M, values.mean(axis=0), yerr=values.std(axis=0),
                          label=LABELS[method], marker="o", capsize=3)
        if split == "train":
            axis.axhline(np.mean(bounds), color="black", linestyle="--",
                         label="SDP lower bound")
        axis.set(xscale="log", yscale="log", xlabel="neurons m", ylabel="objective (21)",
                 title=f"planted n=100, d=20, β=1e-4: {split}")
        axis.legend()
    figure.tight_layout()
    figure.savefig(out / "fig1-planted.png", dpi=110)

    lines = ["| m | " + " | ".join(f"{LABELS[method]} ({split})" for split in ("train", "test")
                                    for method in METHODS) + " |",
             "|---|" + "---|" * 6]
    for k, m in enumerate(PLANTED_M):
        lines.append(f"| {m} | " + " | ".join(mean_std(results[method, split][:, k])
                                              for split in ("train", "test")
                                              for method in METHODS) + " |")
    lines.append(f"\nSDP lower bound (train): {mean_std(bounds)}.")
    return lines


def accuracy_against_time(name: str, m: int, beta_sdp: float, beta_backprop: float,
                          seeds: range, out: Path, epochs: int, figure_name: str) -> list[str]:
    """Figures 2 and 3: accuracy against wall-clock time for the three methods."""
    fraction = {"breast-cancer": 58 / 286, "ionosphere": 71 / 351}[name]
    finals: dict[str, dict[str, list[float]]] = {
        key: {"train": [], "test": [], "seconds": []}
        for key in ("sdp", "backprop (real)", "backprop", "ste")}
    curves: dict[str, list[tuple[list[float], list[float]]]] = {"backprop (real)": [],
                                                               "ste": []}
    for seed in seeds:
        data = dataset.load(name, test_fraction=fraction, seed=seed)

        def evaluator(trainer, data):
            test = trainer.lifting.apply(trainer.standardizer.apply(data.X_test))
            train = trainer.lifted_train

            def evaluate(U, V, alpha):
                accuracy = {}
                for split, X, y in (("train", train, data.y_train), ("test", test, data.y_test)):
                    scores = alpha * np.sum((X @ U.T) * (X @ V.T), axis=1)
                    accuracy[split] = float(np.mean(np.where(scores > 0, 1.0, -1.0) == y))
                return accuracy
            return evaluate

        for method, beta in (("sdp", beta_sdp), ("backprop", beta_backprop), ("ste", beta_sdp)):
            start = time.perf_counter()
            trainer = SDPTrainer(data, BilinearConfig(beta=beta, seed=seed, epochs=epochs,
                                                      alpha="paper"))
            if method == "sdp":
                model = trainer.sample(m)
                seconds = time.perf_counter() - start
            else:
                # Timed from here: the SDP above only gives the baseline its certificate.
                begin = time.perf_counter()
                model, trace = trainer.baseline(method, m, evaluate=evaluator(trainer, data))
                seconds = time.perf_counter() - begin
                key = "backprop (real)" if method == "backprop" else "ste"
                curves[key].append((trace.seconds, [metric["test"] for metric in trace.metrics]))
                if method == "backprop":
                    finals["backprop (real)"]["train"].append(trace.metrics[-1]["train"])
                    finals["backprop (real)"]["test"].append(trace.metrics[-1]["test"])
                    finals["backprop (real)"]["seconds"].append(trace.seconds[-1])
            for split, X, y in (("train", data.X_train, data.y_train),
                                ("test", data.X_test, data.y_test)):
                finals[method][split].append(float(np.mean(model.predict_signs(X) == y)))
            finals[method]["seconds"].append(seconds)
        print(f"  {figure_name}: seed {seed} done", file=sys.stderr, flush=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for key, color in (("backprop (real)", "tab:blue"), ("ste", "tab:green")):
        grid = np.linspace(0, max(c[0][-1] for c in curves[key]), 60)
        interpolated = np.array([np.interp(grid, times, values) for times, values in curves[key]])
        axis.plot(grid, interpolated.mean(axis=0), color=color,
                  label="backprop, real weights" if key != "ste" else LABELS["ste"])
    for method, marker, color in (("sdp", "X", "tab:red"), ("backprop", "P", "tab:cyan")):
        axis.errorbar(np.mean(finals[method]["seconds"]), np.mean(finals[method]["test"]),
                      yerr=np.std(finals[method]["test"]), marker=marker, markersize=11,
                      color=color, capsize=4, linestyle="none", label=LABELS[method])
    axis.set(xlabel="wall-clock seconds", ylabel="test accuracy",
             title=f"{name}, m={m}: test accuracy against time ({len(seeds)} splits)")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(out / f"{figure_name}.png", dpi=110)

    lines = ["| method | train accuracy | test accuracy | seconds |", "|---|---|---|---|"]
    for key in ("sdp", "backprop (real)", "backprop", "ste"):
        label = ("backprop, real weights (before PTQ)" if key == "backprop (real)"
                 else LABELS[key])
        lines.append(f"| {label} | {mean_std(finals[key]['train'])} | "
                     f"{mean_std(finals[key]['test'])} | {mean_std(finals[key]['seconds'])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    seeds = range(args.seeds)
    sections = [
        ("Figure 1 — planted data, objective (21) against m", "fig1-planted",
         figure1(seeds, args.out, args.epochs)),
        ("Figure 2 — breast-cancer, m=250, β=0.1", "fig2-breast-cancer",
         accuracy_against_time("breast-cancer", 250, 0.1, 0.1, seeds, args.out, args.epochs,
                               "fig2-breast-cancer")),
        ("Figure 3 — ionosphere, m=2500, β=10 (SDP, STE), β=1e-6 (backprop)", "fig3-ionosphere",
         accuracy_against_time("ionosphere", 2500, 10.0, 1e-6, seeds, args.out, args.epochs,
                               "fig3-ionosphere")),
    ]
    for title, image, lines in sections:
        print(f"### {title}\n\n![{title}]({image}.png)\n")
        print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
