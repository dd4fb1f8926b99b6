"""The certified gap of the bilinear family's training, and what each step contributes.

    python bench/gap.py [--seeds 5] [--out docs]

Prints two Markdown tables for docs/results.md and writes docs/fig-gap-vs-m.png:

1. ionosphere, m = 2,500, hinge, β = 10: objective (21) − SDP bound, test accuracy and train
   time (SDP included) of Algorithm 1 alone, best of 8 draws, 3 passes of local search, the
   Lasso refit, column generation, and column generation with local search — each over the
   seeds (a seed draws the train/test split and the training randomness);
2. the default training's gap against m (10 … 2,500) on ionosphere and digits, beside
   Algorithm 1's: one SDP and one column generation per seed serve every m.
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
from qnnhw.families.bilinear.train import SDPTrainer  # noqa: E402
from qnnhw.training import evaluate  # noqa: E402

#: Each step alone and together: (label, BilinearConfig options).
STEPS = (
    ("Algorithm 1 (one draw, exact α)", {"output_refit": "none"}),
    ("best of 8 draws", {"output_refit": "none", "draws": 8}),
    ("local search, 3 passes", {"output_refit": "none", "local_search": 3}),
    ("Lasso refit over 4m drawn neurons", {"output_refit": "lasso"}),
    ("column generation (the default)", {}),
    ("column generation + best of 8 + local search", {"draws": 8, "local_search": 3}),
)
WIDTHS = (10, 30, 100, 300, 1000, 2500)


def steps_table(seeds: range) -> list[str]:
    lines = ["| training (ionosphere, m = 2,500, hinge, β = 10) | objective − bound | "
             "test accuracy | train time (s) |", "|---|---|---|---|"]
    for label, options in STEPS:
        gaps, accuracies, seconds = [], [], []
        for seed in seeds:
            data = dataset.load("ionosphere", seed=seed)
            started = time.perf_counter()
            model = SDPTrainer(data, BilinearConfig(m=2500, loss="hinge", beta=10.0,
                                                    seed=seed, **options)).train()
            seconds.append(time.perf_counter() - started)
            gaps.append(model.training["gap"])
            accuracies.append(evaluate(model, data)["test_accuracy"])
        lines.append(f"| {label} | {np.mean(gaps):.2f} ± {np.std(gaps):.2f} | "
                     f"{np.mean(accuracies):.3f} | {np.mean(seconds):.1f} |")
        print(lines[-1], flush=True)
    return lines


def gap_against_m(name: str, seeds: range) -> dict[str, np.ndarray]:
    """Relative gaps (objective − bound over the zero network's objective) per seed and m."""
    default, algorithm1 = np.zeros((len(seeds), len(WIDTHS))), np.zeros((len(seeds),
                                                                        len(WIDTHS)))
    for s, seed in enumerate(seeds):
        data = dataset.load(name, seed=seed)
        trainer = SDPTrainer(data, BilinearConfig(seed=seed))
        # Widest first, as a build fits its widths: the column generation is stopped by how
        # the widest network rounds, and narrower ones choose among its snapshots.
        for k, m in reversed(list(enumerate(WIDTHS))):
            model = trainer.sample(m)
            training = model.training
            scale = training["trivial_objective"]
            default[s, k] = training["gap"] / scale
            algorithm1[s, k] = (training["objective_algorithm1"]
                                - training["lower_bound"]) / scale
            print(f"{name} seed {seed} m={m}: gap {training['gap']:.4g} (Algorithm 1 "
                  f"{training['objective_algorithm1'] - training['lower_bound']:.4g})",
                  flush=True)
    return {"default": default, "algorithm1": algorithm1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--digits-seeds", type=int, default=2,
                        help="digits' seeds (an SDP of ten blocks each)")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    lines = steps_table(range(args.seeds))
    curves = {"ionosphere": gap_against_m("ionosphere", range(args.seeds)),
              "digits": gap_against_m("digits", range(args.digits_seeds))}
    lines += ["", "| data | training | " + " | ".join(f"m = {m:,}" for m in WIDTHS) + " |",
              "|---|---|" + "---|" * len(WIDTHS)]
    for name, curve in curves.items():
        for key, label in (("algorithm1", "Algorithm 1"), ("default", "default")):
            lines.append(f"| {name} | {label} | " + " | ".join(
                f"{100 * value:.1f} %" for value in curve[key].mean(axis=0)) + " |")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for (name, curve), colour in zip(curves.items(), ("C0", "C1")):
        for key, style, label in (("algorithm1", "--", "Algorithm 1"),
                                  ("default", "-", "default (column generation)")):
            axes.plot(WIDTHS, 100 * curve[key].mean(axis=0), style, color=colour,
                      marker="o", label=f"{name}: {label}")
    axes.set_xscale("log")
    axes.set_xlabel("neurons m")
    axes.set_ylabel("(objective − SDP bound) / zero network's, %")
    axes.set_title("Certified gap of the trained ±1 network")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out / "fig-gap-vs-m.png", dpi=120)


if __name__ == "__main__":
    main()
