"""The report's comparison of QNN training methods, with ASkewSGD, beside the certificates.

    python bench/askewsgd.py [--seeds 10] [--epochs 200] [--out docs]

The report on QNN training methods (shared/papers) asks for the loss after quantisation of
BinaryConnect, STE, full precision and ASkewSGD with constant and decreasing step sizes, on
its Experiment I (logistic regression with quantised weights) and on two-layer networks.
Prints the Markdown tables of docs/results.md and writes docs/fig-askewsgd.png.

1. Experiment I: logistic regression f(x) = wᵀx with w ∈ {±1}ᵈ, d = 16, on planted data
   (x ~ N(0, Σ/d) with Σᵢⱼ = 0.9^|i−j|, P(y = 1) = σ(4·w*ᵀx) for a Gaussian w*; 1,000
   training and 1,000 test rows per seed). Every method is minibatch SGD on the mean logistic
   loss (batch 32) with its step size the best of a grid for its final quantised training
   loss. Beside them the exact ±1 optimum, by enumerating all 65,536 sign vectors: the
   certificate here.
2. Two-layer networks: the bilinear family (hinge loss, β = 10, m = 100) on ionosphere and
   on two moons (scikit-learn's generator, 400 rows, noise 0.2: the ASkewSGD authors' toy
   non-convex problem) through qnnhw's own `train --method …`, beside the SDP network and
   its bound. The objective (21) is reported as each method returns the network, and at the
   exact best α of its ±1 weights (the fair measure of the weights it found).

A seed draws the data (planted, moons) or the train/test split (ionosphere) and all the
training randomness.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qnnhw import dataset  # noqa: E402
from qnnhw.families.bilinear.config import BilinearConfig  # noqa: E402
from qnnhw.families.bilinear.train import SDPTrainer, best_alpha, objective  # noqa: E402
from qnnhw.optim import Annealing, SGDConfig, askew_descent, minibatch_descent  # noqa: E402
from qnnhw.training import evaluate  # noqa: E402

LOGISTIC_D, LOGISTIC_ROWS, LOGISTIC_CORRELATION = 16, 1000, 0.9
#: Step sizes every Experiment I method chooses from (its best final quantised loss).
LOGISTIC_STEPS = (3.0, 1.0, 0.3, 0.1, 0.03)
LOGISTIC_METHODS = ("full precision", "full precision → sign", "BinaryConnect", "STE",
                    "ASkewSGD, constant", "ASkewSGD, decreasing")
TWO_LAYER_METHODS = (("SDP + Algorithm 1 + refit (qnnhw's default)", "sdp", {}),
                     ("backprop + PTQ (full precision)", "backprop", {}),
                     ("STE / BinaryConnect", "ste", {}),
                     ("ASkewSGD, constant", "askewsgd", {"step_rule": "constant"}),
                     ("ASkewSGD, decreasing", "askewsgd", {"step_rule": "decreasing"}))


def mean_std(values: list[float] | np.ndarray, digits: int = 4) -> str:
    return f"{np.mean(values):.{digits}g} ± {np.std(values):.2g}"


# Experiment I --------------------------------------------------------------------------------

def logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean log(1 + exp(−y·Xw)) for each column of w (or for w itself)."""
    margins = y[:, None] * (X @ w.reshape(X.shape[1], -1))
    return np.mean(np.logaddexp(0.0, -margins), axis=0)


def logistic_gradient(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    margins = y * (X @ w)
    return -(X.T @ (y / (1.0 + np.exp(margins)))) / len(y)


def planted_logistic(seed: int) -> tuple[np.ndarray, ...]:
    """Correlated features (x ~ N(0, Σ/d), Σᵢⱼ = ρ^|i−j|) and a Gaussian truth: the best ±1
    weights are then not simply the signs of the best real ones."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=LOGISTIC_D)
    lags = np.abs(np.subtract.outer(np.arange(LOGISTIC_D), np.arange(LOGISTIC_D)))
    mixing = np.linalg.cholesky(LOGISTIC_CORRELATION ** lags)
    X = rng.normal(size=(2 * LOGISTIC_ROWS, LOGISTIC_D)) @ mixing.T / np.sqrt(LOGISTIC_D)
    y = np.where(rng.random(len(X)) < 1 / (1 + np.exp(-4 * X @ truth)), 1.0, -1.0)
    return X[:LOGISTIC_ROWS], y[:LOGISTIC_ROWS], X[LOGISTIC_ROWS:], y[LOGISTIC_ROWS:]


def train_logistic(method: str, X: np.ndarray, y: np.ndarray, step: float, seed: int,
                   epochs: int) -> tuple[np.ndarray, list[float]]:
    """The weights a method ends with (real for full precision, else latent) and the
    quantised training loss after every epoch."""
    config = SGDConfig(seed=seed, momentum=0.0)
    noise = np.random.default_rng([seed, 1])
    curve: list[float] = []

    def record(params: list[np.ndarray]) -> None:
        curve.append(float(logistic_loss(np.where(params[0] >= 0, 1.0, -1.0), X, y)[0]))

    def init(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(-1, 1, LOGISTIC_D)]

    if method.startswith("ASkewSGD"):
        rule = "constant" if method.endswith("constant") else "decreasing"
        w = askew_descent(X, y, config, Annealing(step, rule), epochs, init,
                          lambda p, xb, yb: [logistic_gradient(p[0], xb, yb)],
                          constrained=(True,), record=record)[0]
        return w, curve

    def gradient(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray
                 ) -> list[np.ndarray]:
        w = params[0]
        if method == "STE":
            forward = np.where(w >= 0, 1.0, -1.0)
        elif method == "BinaryConnect":      # stochastic binarisation, P(+1) = (w + 1)/2
            forward = np.where(noise.random(w.shape) < (w + 1) / 2, 1.0, -1.0)
        else:
            forward = w
        return [logistic_gradient(forward, xb, yb)]   # straight through to w

    def clip(params: list[np.ndarray]) -> None:
        if method in ("STE", "BinaryConnect"):
            np.clip(params[0], -1.0, 1.0, out=params[0])

    w = minibatch_descent(X, y, config, epochs, step, init, gradient, clip, record=record)[0]
    return w, curve


def experiment_one(seeds: range, epochs: int) -> tuple[list[str], dict[str, np.ndarray],
                                                         float]:
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=LOGISTIC_D))).T
    losses = {method: [] for method in (*LOGISTIC_METHODS, "exact ±1 optimum")}
    accuracies = {method: [] for method in losses}
    curves: dict[str, list[list[float]]] = {method: [] for method in LOGISTIC_METHODS[2:]}
    curves["full precision → sign"] = []
    for seed in seeds:
        X, y, X_test, y_test = planted_logistic(seed)
        every = logistic_loss(signs, X, y)
        optimum = signs[:, int(np.argmin(every))]
        losses["exact ±1 optimum"].append(float(every.min()))
        accuracies["exact ±1 optimum"].append(float(np.mean(np.sign(X_test @ optimum)
                                                            == y_test)))
        for method in ("full precision", *LOGISTIC_METHODS[2:]):
            best = None
            for step in LOGISTIC_STEPS:
                with np.errstate(over="ignore", invalid="ignore"):
                    w, curve = train_logistic(method, X, y, step, seed, epochs)
                if not np.all(np.isfinite(w)):
                    continue
                real = method == "full precision"
                value = float(logistic_loss(w if real else np.sign(w), X, y)[0])
                if best is None or value < best[0]:
                    best = (value, w, curve)
            assert best is not None
            _, w, curve = best
            quantised = np.where(w >= 0, 1.0, -1.0)
            outcomes = [("full precision", w), ("full precision → sign", quantised)] \
                if method == "full precision" else [(method, quantised)]
            for name, weights in outcomes:
                losses[name].append(float(logistic_loss(weights, X, y)[0]))
                accuracies[name].append(float(np.mean(np.sign(X_test @ weights) == y_test)))
            curves["full precision → sign" if method == "full precision" else method].append(
                curve)
    lines = [f"| Experiment I (logistic regression, d = {LOGISTIC_D}, ±1 weights) | training "
             f"loss after quantisation | above the exact ±1 optimum | test accuracy |",
             "|---|---|---|---|"]
    optimum = np.array(losses["exact ±1 optimum"])
    for method in (*LOGISTIC_METHODS, "exact ±1 optimum"):
        values = np.array(losses[method])
        label = "full precision (not quantised)" if method == "full precision" else method
        lines.append(f"| {label} | {mean_std(values)} | {mean_std(values - optimum, 3)} | "
                     f"{np.mean(accuracies[method]):.3f} |")
    return lines, {method: np.mean(curve, axis=0) for method, curve in curves.items()}, \
        float(np.mean(optimum))


# Two-layer networks ---------------------------------------------------------------------------

def moons_csv(folder: Path, seed: int) -> str:
    from sklearn.datasets import make_moons

    X, y = make_moons(400, noise=0.2, random_state=seed)
    path = folder / f"moons-{seed}.csv"
    path.write_text("x1,x2,y\n" + "".join(f"{a:.6f},{b:.6f},{int(c)}\n"
                                          for (a, b), c in zip(X, y)))
    return str(path)


def quantised_objective(trainer: SDPTrainer, U: np.ndarray, V: np.ndarray) -> float:
    """Objective (21) of the ±1 network sign(U), sign(V) at its exact best α."""
    m = len(U)
    sums = trainer._sums(np.sign(U), np.sign(V), ())
    alpha = best_alpha(trainer.loss, sums, trainer.targets, trainer.beta * trainer.d * m)
    return objective(trainer.loss, trainer.beta, trainer.d, m, alpha, alpha * sums,
                     trainer.targets)


def recorder(trainer: SDPTrainer, curve: list[float]):
    """A baseline's per-epoch callback that appends its weights' quantised objective."""
    def record(U: np.ndarray, V: np.ndarray, alpha: float) -> dict[str, float]:
        curve.append(quantised_objective(trainer, U, V))
        return {}
    return record


def two_layer(name: str, seeds: range, epochs: int, m: int, folder: Path
              ) -> tuple[list[str], dict[str, np.ndarray], float, float]:
    rows: dict[str, dict[str, list[float]]] = {
        label: {"objective": [], "best": [], "accuracy": [], "bound": [], "zero": []}
        for label, _, _ in TWO_LAYER_METHODS}
    curves: dict[str, list[list[float]]] = {label: [] for label, method, _ in TWO_LAYER_METHODS
                                            if method != "sdp"}
    for seed in seeds:
        spec = moons_csv(folder, seed) if name == "two moons" else name
        data = dataset.load(spec, seed=seed)
        base = BilinearConfig(m=m, loss="hinge", beta=10.0, seed=seed, epochs=epochs)
        trainer = SDPTrainer(data, base)
        for label, method, options in TWO_LAYER_METHODS:
            trainer.config = replace(base, method=method, **options).resolved(data)
            curve: list[float] = []
            if method == "sdp":
                model = trainer.train()
            else:
                model, _ = trainer.baseline(method, m, evaluate=recorder(trainer, curve))
                curves[label].append(curve)
            row = rows[label]
            row["objective"].append(model.training["objective"])
            row["best"].append(quantised_objective(trainer, model.U, model.V))
            row["accuracy"].append(evaluate(model, data)["test_accuracy"])
            row["bound"].append(model.training["lower_bound"])
            row["zero"].append(model.training["trivial_objective"])
            print(f"{name} seed {seed} {label}: {row['objective'][-1]:.4g} "
                  f"(best α {row['best'][-1]:.4g})", flush=True)
    bound = float(np.mean(rows[TWO_LAYER_METHODS[0][0]]["bound"]))
    zero = float(np.mean(rows[TWO_LAYER_METHODS[0][0]]["zero"]))
    lines = [f"| {name}, bilinear m = {m}, hinge, β = 10 | objective (21) as trained | at the "
             f"best α of its ±1 weights | test accuracy |", "|---|---|---|---|"]
    for label, _, _ in TWO_LAYER_METHODS:
        row = rows[label]
        lines.append(f"| {label} | {mean_std(row['objective'])} | {mean_std(row['best'])} | "
                     f"{np.mean(row['accuracy']):.3f} |")
    lines.append(f"| SDP lower bound (every ±1 network is above it) | {bound:.4g} | — | — |")
    lines.append(f"| the zero network | {zero:.4g} | — | — |")
    return lines, {label: np.mean(curve, axis=0) for label, curve in curves.items()}, \
        bound, zero


def plot(out: Path, logistic: dict[str, np.ndarray], optimum: float,
         networks: dict[str, tuple[dict[str, np.ndarray], float, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 1 + len(networks), figsize=(5.2 * (1 + len(networks)), 4))
    for label, curve in logistic.items():
        axes[0].plot(np.arange(1, len(curve) + 1), curve, label=label)
    axes[0].axhline(optimum, color="black", linestyle="--", label="exact ±1 optimum")
    axes[0].set(title="Experiment I: logistic regression, ±1 weights", xlabel="epoch",
                ylabel="training loss after quantisation (mean of seeds)")
    axes[0].legend(fontsize=8)
    for axis, (name, (curves, bound, zero)) in zip(axes[1:], networks.items()):
        for label, curve in curves.items():
            axis.plot(np.arange(1, len(curve) + 1), curve, label=label)
        axis.axhline(bound, color="black", linestyle="--", label="SDP lower bound")
        axis.axhline(zero, color="grey", linestyle=":", label="zero network")
        axis.set(title=f"{name}: bilinear m = 100, hinge, β = 10", xlabel="epoch",
                 ylabel="objective (21) of the ±1 weights at their best α", yscale="log")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "fig-askewsgd.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    seeds = range(args.seeds)
    lines, logistic, optimum = experiment_one(seeds, args.epochs)
    print("\n".join(lines), flush=True)
    networks = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("ionosphere", "two moons"):
            table, curves, bound, zero = two_layer(name, seeds, args.epochs, 100, Path(folder))
            networks[name] = (curves, bound, zero)
            print("\n" + "\n".join(table), flush=True)
    plot(args.out, logistic, optimum, networks)


if __name__ == "__main__":
    main()
