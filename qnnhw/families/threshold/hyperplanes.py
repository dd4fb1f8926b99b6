"""Two-layer threshold networks: convex training by the Lasso, and the STE baselines.

The network is f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0] on the lifted input x̃ (the constant feature
carries the hidden biases). Ergen, Gulluk, Lacotte & Pilanci (ICLR 2023) show that its
weight-decay training problem is the Lasso over the hyperplane arrangement patterns of the
training data (:mod:`.lasso`). "Convex-Lasso" in practice, as here:

1. sample N hyperplanes hₖ — ±1 vectors (``binary``: the hidden layer needs no multiplier)
   or Gaussian directions rounded to signed integers of ``hidden_bits`` bits (``gaussian``);
2. keep one hyperplane for each distinct pattern 1[X̃hₖ ≥ 0] (a repeated column adds nothing
   to the Lasso, a constant column only duplicates the bias);
3. solve the Lasso and keep the neurons with wₖ ≠ 0.

Since only the sign of hₖᵀx̃ matters, rounding a Gaussian direction to integers changes the
hyperplane slightly but nothing else: the patterns, the Lasso and the hardware all use the
integer hₖ, so the model file is exact.

Deep networks (their §3, "repeat this process for every layer"): each earlier layer is a
sample of ±1 hyperplanes with distinct patterns on the previous layer's output; its 0/1
activations and the constant 1 are the next layer's input, and the Lasso chooses the
neurons of the last hidden layer over the patterns of that input.

The baselines train the same network directly by SGD, with the threshold's zero gradient
replaced in the backward pass by that of the identity (STE), a ReLU, a leaky ReLU or a
clipped ReLU (the paper's Nonconvex-STE/ReLU/LReLU/CReLU). ``askewsgd`` trains ±1
hyperplanes by ASkewSGD (:mod:`qnnhw.optim`; the identity's derivative stands for the
threshold's, as in STE), rounds them to their signs and solves the output layer over the
resulting 0/1 neurons by the family's Lasso, exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.lasso import solve_lasso
from qnnhw.optim import Annealing, SGDConfig, askew_descent, minibatch_descent

__all__ = ["HYPERPLANES", "STE_VARIANTS", "THRESHOLD_METHODS", "distinct_patterns",
           "integer_directions", "sample_hyperplanes", "sample_layers", "train_askew",
           "train_lasso_network", "train_ste"]

HYPERPLANES = ("binary", "gaussian")
#: Backward-pass surrogates of the threshold's derivative, by method name.
STE_VARIANTS = ("ste", "ste-relu", "ste-lrelu", "ste-crelu")
THRESHOLD_METHODS = ("lasso", *STE_VARIANTS, "askewsgd")
#: ASkewSGD's step size candidates, in units of 1/neurons (a step that moves the
#: predictions by about the error in one full step).
ASKEW_STEP_SIZES = (10.0, 3.0, 1.0, 0.3, 0.1)
#: Slope of the leaky ReLU surrogate for negative inputs.
LEAKY_SLOPE = 0.01

Progress = Callable[[str], None]


def integer_directions(directions: np.ndarray, bits: int) -> np.ndarray:
    """Scale each row so its largest |entry| is 2^(bits−1) − 1, then round half to even.

    The row's direction is kept as well as ``bits`` allow (bits ≥ 2); its length does not
    matter to a threshold. The range is symmetric, so −2^(bits−1) never occurs.
    """
    largest = np.abs(directions).max(axis=1, keepdims=True)
    top = (1 << (bits - 1)) - 1
    scaled = directions * (top / np.where(largest > 0, largest, 1.0))
    return np.clip(np.rint(scaled), -top, top).astype(np.int32)


def sample_hyperplanes(rng: np.random.Generator, count: int, d: int, kind: str,
                       hidden_bits: int) -> np.ndarray:
    """``count`` hidden weight vectors: ±1 entries, or Gaussian rounded to integers."""
    if kind == "binary":
        return rng.choice(np.array([-1, 1], dtype=np.int32), size=(count, d))
    if kind == "gaussian":
        return integer_directions(rng.standard_normal((count, d)), hidden_bits)
    raise QnnhwError(f"unknown @hyperplanes {kind!r}; choose one of {', '.join(HYPERPLANES)}",
                     "hyperplanes")


def distinct_patterns(X: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns 1[X hₖ ≥ 0] that are distinct and not constant, with the row of H that
    first produced each (in sampling order)."""
    patterns = (X @ H.T.astype(float) >= 0)
    _, first = np.unique(patterns, axis=1, return_index=True)
    first = np.sort(first)
    varying = patterns[:, first].any(axis=0) & ~patterns[:, first].all(axis=0)
    keep = first[varying]
    return patterns[:, keep].astype(float), keep


def sample_layers(X: np.ndarray, widths: list[int], rng: np.random.Generator
                  ) -> tuple[list[np.ndarray], np.ndarray]:
    """Earlier layers of a deep network: for each width, that many ±1 hyperplanes with
    distinct, non-constant patterns on the current input. Returns the layers and the last
    layer's input ã (activations and a column of ones)."""
    layers = []
    for index, width in enumerate(widths):
        candidates = sample_hyperplanes(rng, 16 * width, X.shape[1], "binary", 1)
        patterns, rows = distinct_patterns(X, candidates)
        if len(rows) < width:
            raise QnnhwError(f"layer {index + 1} can only have {len(rows)} distinct neurons "
                             f"on this data; use @layer_width {len(rows)} or less", "layer_width")
        layers.append(candidates[rows[:width]].astype(np.int8))
        X = np.hstack([patterns[:, :width], np.ones((len(X), 1))])
    return layers, X


@dataclass
class TrainedWeights:
    """A trained threshold network (by the Lasso or a baseline), before it becomes a model."""

    H: np.ndarray
    w: np.ndarray            # (K,) or, for C outputs, (K, C)
    bias: float | np.ndarray  # c, or its C entries
    details: dict[str, float | int | str] = field(default_factory=dict)
    layers: list[np.ndarray] = field(default_factory=list)


def train_lasso_network(X: np.ndarray, y: np.ndarray, *, beta: float, hyperplanes: int,
                        kind: str, hidden_bits: int, solver: str, seed: int,
                        progress: Progress, layer_widths: list[int] | None = None
                        ) -> TrainedWeights:
    """Convex-Lasso: sample, keep distinct patterns, solve, keep the non-zero neurons."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    layers, X = sample_layers(X, layer_widths or [], rng)
    H = sample_hyperplanes(rng, hyperplanes, X.shape[1], kind, hidden_bits)
    D, rows = distinct_patterns(X, H)
    pattern_seconds = time.perf_counter() - start
    problem = "Lasso" if y.ndim == 1 else f"group Lasso ({y.shape[1]} outputs)"
    progress(f"{hyperplanes} {kind} hyperplanes give {len(rows)} distinct arrangement "
             f"patterns on n={len(y)} rows; solving the {problem} (beta={beta:g}, {solver})")
    solution = solve_lasso(D, y, beta, solver=solver, progress=progress)
    active = np.flatnonzero(np.abs(solution.w).reshape(len(rows), -1).sum(axis=1))
    progress(f"Lasso solved by {solution.solver} in {solution.seconds:.2f} s: objective "
             f"{solution.objective:.6g}, "
             f"duality gap {solution.gap:.2e}, {len(active)} active neurons")
    if len(active) == 0:
        raise QnnhwError(f"@beta={beta:g} is so large that the Lasso keeps no neuron; use a "
                         f"smaller @beta", "beta")
    return TrainedWeights(H[rows[active]], solution.w[active], solution.bias, {
        "hyperplanes": hyperplanes, "patterns": len(rows), "solver": solution.solver,
        "lasso_objective": solution.objective, "lasso_gap": solution.gap,
        "lasso_lower_bound": solution.lower_bound, "lasso_seconds": solution.seconds,
        "lasso_iterations": solution.iterations, "pattern_seconds": pattern_seconds},
        layers)


def _surrogate(variant: str, z: np.ndarray) -> np.ndarray:
    """The derivative that replaces the threshold's in the backward pass."""
    if variant == "ste":
        return np.ones_like(z)
    if variant == "ste-relu":
        return (z >= 0).astype(float)
    if variant == "ste-lrelu":
        return np.where(z >= 0, 1.0, LEAKY_SLOPE)
    if variant == "ste-crelu":
        return ((z >= 0) & (z <= 1)).astype(float)
    raise QnnhwError(f"unknown @method {variant!r}; choose one of "
                     f"{', '.join(THRESHOLD_METHODS)}", "method")


def train_ste(X: np.ndarray, y: np.ndarray, *, neurons: int, variant: str, beta: float,
              hidden_bits: int, sgd: SGDConfig, progress: Progress) -> TrainedWeights:
    """The non-convex network trained by Adam with a surrogate gradient (the baselines).

    Minimises the mean of ½‖f(x) − y‖² plus (β/2n)(‖H‖² + ‖w‖²) (weight decay, the
    objective the Lasso is equivalent to); ``y`` is n × C for C outputs, w then K × C. The
    hidden weights are then rounded to integers of ``hidden_bits`` bits, row by row, so that
    the hardware can run the network; the reported metrics are those of the rounded network.
    """
    _surrogate(variant, np.zeros(1))   # reject an unknown variant before training
    n, d = X.shape
    step, decay = sgd.adam_step_sizes[1], beta / n

    outputs = y.shape[1:]   # () for one output, (C,) for C

    def init(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal((neurons, d)) / np.sqrt(d),
                rng.standard_normal((neurons, *outputs)) / np.sqrt(neurons),
                np.asarray(y.mean(axis=0), dtype=float).copy()]

    def gradient(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray
                 ) -> list[np.ndarray]:
        H, w, c = params
        z = xb @ H.T
        active = (z >= 0).astype(float)
        error = (c + active @ w - yb) / len(yb)
        grad_z = (error.reshape(len(yb), -1) @ w.reshape(neurons, -1).T) * _surrogate(variant, z)
        return [grad_z.T @ xb + decay * H, active.T @ error + decay * w, error.sum(axis=0)]

    progress(f"training a {neurons}-neuron threshold network by {variant} "
             f"({sgd.epochs} epochs)")
    H, w, c = minibatch_descent(X, y, sgd, sgd.epochs, step, init, gradient,
                                lambda params: None, adam=True)
    H_integer = integer_directions(H, hidden_bits)
    keep = np.flatnonzero(np.abs(H_integer).sum(axis=1) > 0)
    bias = float(c) if c.ndim == 0 else c
    return TrainedWeights(H_integer[keep], w[keep], bias, {"epochs": sgd.epochs,
                                                         "step_size": step})


def train_askew(X: np.ndarray, y: np.ndarray, *, neurons: int, beta: float, solver: str,
                sgd: SGDConfig, schedule: Annealing, tune_step: bool,
                progress: Progress) -> TrainedWeights:
    """±1 hyperplanes by ASkewSGD, then the output layer by the Lasso over their patterns.

    The descent minimises the mean of ½‖f(x) − y‖² plus (β/2n)‖w‖² over hyperplanes in
    [−1, 1] (constrained towards ±1) and real w, c. ``schedule.step_size`` is γ₀, or with
    ``tune_step`` the unit (times 1/neurons) of :data:`ASKEW_STEP_SIZES`, of which the one
    whose rounded network has the lowest Lasso objective is kept (whole runs each).
    """
    n, d = X.shape
    outputs = y.shape[1:]
    decay = beta / n

    def init(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(-1, 1, (neurons, d)),
                rng.standard_normal((neurons, *outputs)) / np.sqrt(neurons),
                np.asarray(y.mean(axis=0), dtype=float).copy()]

    def gradient(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray
                 ) -> list[np.ndarray]:
        H, w, c = params
        active = (xb @ H.T >= 0).astype(float)
        error = (c + active @ w - yb) / len(yb)
        grad_z = error.reshape(len(yb), -1) @ w.reshape(neurons, -1).T   # identity surrogate
        return [grad_z.T @ xb, active.T @ error + decay * w, error.sum(axis=0)]

    def rounded(H: np.ndarray) -> tuple[TrainedWeights, float]:
        """The network of sign(H) with its Lasso output layer, and its objective."""
        signs = np.where(H >= 0, 1, -1).astype(np.int8)
        solution = solve_lasso((X @ signs.T >= 0).astype(float), y, beta, solver=solver)
        keep = np.flatnonzero(np.abs(solution.w).reshape(neurons, -1).sum(axis=1))
        return TrainedWeights(signs[keep], solution.w[keep], solution.bias,
                              {"lasso_objective": solution.objective,
                               "lasso_gap": solution.gap}), solution.objective

    steps = ([schedule.step_size * relative / neurons for relative in ASKEW_STEP_SIZES]
             if tune_step else [schedule.step_size])
    best: TrainedWeights | None = None
    best_value = np.inf
    for step in steps:
        progress(f"training {neurons} ±1 hyperplanes by askewsgd ({sgd.epochs} epochs, "
                 f"{schedule.step_rule} step {step:.3g})")
        with np.errstate(over="ignore", invalid="ignore"):
            H = askew_descent(X, y, sgd, replace(schedule, step_size=step), sgd.epochs,
                              init, gradient, constrained=(True, False, False))[0]
        if not np.all(np.isfinite(H)):
            continue
        network, value = rounded(H)
        network.details["step_size"] = step
        if value < best_value:
            best, best_value = network, value
    if best is None or len(best.H) == 0:
        raise QnnhwError(f"askewsgd found no hyperplane the Lasso keeps at @beta={beta:g}: "
                         f"use a smaller @beta or give @step_size", ("beta", "step_size"))
    best.details.update(epochs=sgd.epochs, step_rule=schedule.step_rule,
                        anneal=schedule.anneal)
    return best
