"""The two usual ways to a ±1 network, to compare the SDP method against (NumPy only).

* **Backprop + post-training quantisation** (the paper's §5): SGD with momentum on a real
  bilinear network f(x) = (1/m) Σⱼ (uⱼᵀx)(vⱼᵀx) (second layer fixed at 1/m, weight decay β on
  U and V), then U, V ← sign(U), sign(V) and one scale c = ⟨Ẑ, Z⟩/⟨Ẑ, Ẑ⟩, the least-squares
  fit of Ẑ = Σ sign(uⱼ)sign(vⱼ)ᵀ to Z = (1/m) Σ uⱼvⱼᵀ (DESIGN.md explains why not the
  paper's printed ⟨Z, Z⟩ denominator).
* **STE / BinaryConnect**: the ±1 network itself, f(x) = α Σⱼ (ûⱼᵀx)(v̂ⱼᵀx) with
  û = sign(w), trained through latent real weights w that are clipped to [−1, 1] after every
  step; the gradient with respect to û passes straight through to w. α is trained with them,
  under the objective's penalty βdm|α|.
* **ASkewSGD** (:mod:`qnnhw.optim`): the real network f(x) = α Σⱼ (uⱼᵀx)(vⱼᵀx) with U, V
  in [−1, 1] pushed onto ±1 by the annealed constraint (uⱼᵀx and vⱼᵀx of real weights, no
  straight-through), then U, V ← sign(U), sign(V) and α solved exactly for the ±1 network
  (:func:`~.train.best_alpha`). α, unconstrained, is trained in units of the initial
  network's typical output so that one step size suits it and the weights.

Both minimise the mean loss over minibatches plus the regulariser divided by n (the same
optimum as the paper's summed objective). Backprop uses SGD with momentum 0.9, as the paper;
STE uses Adam, as BinaryConnect's successors do, since its straight-through gradients have no
natural scale. Each picks its step size from a short trial of a few candidates (the paper
tuned backprop's offline; here it is part of the run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qnnhw.optim import Annealing, SGDConfig, askew_descent, minibatch_descent

__all__ = ["TrainingTrace", "askew_sgd", "backprop_ptq", "ste_binaryconnect"]

#: ASkewSGD's step size candidates, relative to the one that moves the predictions by about
#: 1 in one full step (:func:`askew_sgd`).
ASKEW_STEP_SIZES = (10.0, 3.0, 1.0, 0.3, 0.1)

Evaluate = Callable[[np.ndarray, np.ndarray, float], dict[str, float]]
#: The trained arrays, as the descent sees them.
Params = list[np.ndarray]


@dataclass
class TrainingTrace:
    """What training went through: wall time and metrics after each recorded epoch."""

    seconds: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    step_size: float = 0.0


def _loss_gradient(loss: str, prediction: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂ŷ per sample for the mean loss over a batch."""
    if loss == "squared":
        return (prediction - y) / len(y)
    return np.where(y * prediction < 1.0, -y, 0.0) / len(y)


def _objective(loss: str, prediction: np.ndarray, y: np.ndarray) -> float:
    if loss == "squared":
        return float(0.5 * np.mean((prediction - y) ** 2))
    return float(np.mean(np.maximum(0.0, 1.0 - y * prediction)))


def _tuned(X: np.ndarray, y: np.ndarray, loss: str, config: SGDConfig,
           forward: Callable[[Params, np.ndarray], np.ndarray], adam: bool,
           **kwargs: Any) -> float:
    """The candidate step size with the lowest training loss after a short trial."""
    if adam:
        candidates = list(config.adam_step_sizes)
    else:
        scale = 1.0 / float(np.mean(np.sum(X ** 2, axis=1)))
        candidates = [step * scale for step in config.step_sizes]
    best, best_value = candidates[-1], np.inf
    for candidate in candidates:
        with np.errstate(over="ignore", invalid="ignore"):   # a too-large step diverges
            params = minibatch_descent(X, y, config, config.trial_epochs, candidate,
                                       adam=adam, **kwargs)
        if all(np.all(np.isfinite(p)) for p in params):
            value = _objective(loss, forward(params, X), y)
            if np.isfinite(value) and value < best_value:
                best, best_value = candidate, value
    return best


def backprop_ptq(X: np.ndarray, y: np.ndarray, m: int, loss: str, beta: float,
                 config: SGDConfig, evaluate: Evaluate | None = None
                 ) -> tuple[np.ndarray, np.ndarray, float, TrainingTrace, np.ndarray]:
    """Train the real bilinear network, then quantise it.

    Returns sign(U), sign(V) as int8 ±1, the scale c, the trace (metrics of the real network
    during training) and the real Z = (1/m) Σ uⱼvⱼᵀ.
    """
    d = X.shape[1]

    def forward(params: Params, X_: np.ndarray) -> np.ndarray:
        U, V = params
        return np.sum((X_ @ U.T) * (X_ @ V.T), axis=1) / m

    def gradient(params: Params, X_: np.ndarray, y_: np.ndarray) -> Params:
        U, V = params
        a, b = X_ @ U.T, X_ @ V.T
        g = _loss_gradient(loss, np.sum(a * b, axis=1) / m, y_)
        decay = beta / len(y)
        return [(g[:, None] * b).T @ X_ / m + decay * U, (g[:, None] * a).T @ X_ / m + decay * V]

    def init(rng: np.random.Generator) -> Params:
        return [rng.standard_normal((m, d)), rng.standard_normal((m, d))]

    kwargs: dict[str, Any] = {"init": init, "gradient": gradient,
                              "project": lambda params: None}
    trace = TrainingTrace()
    trace.step_size = _tuned(X, y, loss, config, forward, adam=False, **kwargs)
    start = time.perf_counter()

    def record(params: Params) -> None:
        if evaluate is not None:
            U, V = params
            trace.seconds.append(time.perf_counter() - start)
            trace.metrics.append(evaluate(U, V, 1.0 / m))

    U, V = minibatch_descent(X, y, config, config.epochs, trace.step_size, record=record, **kwargs)
    Z = U.T @ V / m
    U_sign = np.where(U >= 0, 1, -1).astype(np.int8)
    V_sign = np.where(V >= 0, 1, -1).astype(np.int8)
    Z_hat = U_sign.T.astype(float) @ V_sign.astype(float)
    scale = float(np.sum(Z_hat * Z) / np.sum(Z_hat * Z_hat))
    return U_sign, V_sign, scale, trace, Z


def ste_binaryconnect(X: np.ndarray, y: np.ndarray, m: int, loss: str, beta: float,
                      config: SGDConfig, evaluate: Evaluate | None = None
                      ) -> tuple[np.ndarray, np.ndarray, float, TrainingTrace]:
    """Train the ±1 network with latent weights in [−1, 1] and straight-through gradients.

    Returns the ±1 U, V (int8), α and the trace (metrics of the ±1 network).
    """
    d = X.shape[1]
    penalty = beta * d * m / len(y)

    def signs(params: Params) -> tuple[np.ndarray, np.ndarray]:
        return np.where(params[0] >= 0, 1.0, -1.0), np.where(params[1] >= 0, 1.0, -1.0)

    def forward(params: Params, X_: np.ndarray) -> np.ndarray:
        U, V = signs(params)
        return params[2][0] * np.sum((X_ @ U.T) * (X_ @ V.T), axis=1)

    def gradient(params: Params, X_: np.ndarray, y_: np.ndarray) -> Params:
        U, V = signs(params)
        alpha = params[2][0]
        a, b = X_ @ U.T, X_ @ V.T
        sums = np.sum(a * b, axis=1)
        g = _loss_gradient(loss, alpha * sums, y_)
        # Straight through: ∂f/∂û is used as ∂f/∂w.
        return [alpha * (g[:, None] * b).T @ X_, alpha * (g[:, None] * a).T @ X_,
                np.array([g @ sums + penalty * np.sign(alpha)])]

    def init(rng: np.random.Generator) -> Params:
        U = rng.uniform(-1, 1, (m, d))
        V = rng.uniform(-1, 1, (m, d))
        sums = np.sum((X @ np.sign(U).T) * (X @ np.sign(V).T), axis=1)
        alpha = float(sums @ y / (sums @ sums)) if sums @ sums > 0 else 1e-3
        return [U, V, np.array([alpha])]

    def project(params: Params) -> None:
        np.clip(params[0], -1.0, 1.0, out=params[0])
        np.clip(params[1], -1.0, 1.0, out=params[1])

    kwargs: dict[str, Any] = {"init": init, "gradient": gradient, "project": project}
    trace = TrainingTrace()
    trace.step_size = _tuned(X, y, loss, config, forward, adam=True, **kwargs)
    start = time.perf_counter()

    def record(params: Params) -> None:
        if evaluate is not None:
            U, V = signs(params)
            trace.seconds.append(time.perf_counter() - start)
            trace.metrics.append(evaluate(U, V, float(params[2][0])))

    params = minibatch_descent(X, y, config, config.epochs, trace.step_size, adam=True,
                               record=record, **kwargs)
    U, V = signs(params)
    return U.astype(np.int8), V.astype(np.int8), float(params[2][0]), trace


def askew_sgd(X: np.ndarray, y: np.ndarray, m: int, loss: str, beta: float,
              config: SGDConfig, schedule: Annealing, tune_step: bool,
              exact_alpha: Callable[[np.ndarray, np.ndarray], float],
              evaluate: Evaluate | None = None
              ) -> tuple[np.ndarray, np.ndarray, float, TrainingTrace]:
    """Train the network by ASkewSGD, then quantise it.

    ``schedule.step_size`` is γ₀ itself, or with ``tune_step`` the unit of
    :data:`ASKEW_STEP_SIZES`: a whole run with each, and the one whose quantised network has
    the lowest objective is kept. ``exact_alpha(U, V)`` is the best α of a ±1 network. Returns the
    ±1 U, V (int8), that α and the trace (metrics of the quantised network).
    """
    d = X.shape[1]
    penalty = beta * d * m / len(y)

    def unit(U: np.ndarray, V: np.ndarray) -> float:
        """The typical |Σⱼ (uⱼᵀx)(vⱼᵀx)|: α's unit."""
        sums = np.sum((X @ U.T) * (X @ V.T), axis=1)
        return 1.0 / max(float(np.mean(np.abs(sums))), 1e-12)

    def init(rng: np.random.Generator) -> Params:
        U, V = rng.uniform(-1, 1, (m, d)), rng.uniform(-1, 1, (m, d))
        sums = np.sum((X @ U.T) * (X @ V.T), axis=1) * unit(U, V)
        a = float(sums @ y / (sums @ sums)) if sums @ sums > 0 else 1.0
        return [U, V, np.array([a])]

    scale = unit(*init(np.random.default_rng(config.seed))[:2])

    def gradient(params: Params, X_: np.ndarray, y_: np.ndarray) -> Params:
        U, V, a = params
        alpha = scale * a[0]
        p, q = X_ @ U.T, X_ @ V.T
        sums = np.sum(p * q, axis=1)
        g = _loss_gradient(loss, alpha * sums, y_)
        return [alpha * (g[:, None] * q).T @ X_, alpha * (g[:, None] * p).T @ X_,
                np.array([scale * (g @ sums + penalty * np.sign(a[0]))])]

    def quantised(params: Params) -> tuple[np.ndarray, np.ndarray, float]:
        U = np.where(params[0] >= 0, 1, -1).astype(np.int8)
        V = np.where(params[1] >= 0, 1, -1).astype(np.int8)
        return U, V, exact_alpha(U, V)

    def quantised_objective(params: Params) -> float:
        U, V, alpha = quantised(params)
        sums = np.sum((X @ U.T) * (X @ V.T), axis=1)
        return _objective(loss, alpha * sums, y) + penalty * abs(alpha)

    steps = [schedule.step_size]
    if tune_step:
        # The step that moves the predictions by O(1) in one full step: weights of order 1,
        # α of order `scale`, (vᵀx)² of order ‖x‖² over m coherent neurons.
        base = 1.0 / (m * scale ** 2 * float(np.mean(np.sum(X ** 2, axis=1))) ** 2)
        steps = [schedule.step_size * relative * base for relative in ASKEW_STEP_SIZES]
    best: tuple[float, Params, TrainingTrace] | None = None
    # Whole runs: the annealing makes a short trial's loss say little about the end.
    for step in steps:
        trace = TrainingTrace(step_size=step)
        start = time.perf_counter()

        def record(params: Params, trace: TrainingTrace = trace, start: float = start
                   ) -> None:
            if evaluate is not None:
                U, V, alpha = quantised(params)
                trace.seconds.append(time.perf_counter() - start)
                trace.metrics.append(evaluate(U, V, alpha))

        with np.errstate(over="ignore", invalid="ignore"):
            params = askew_descent(X, y, config, replace(schedule, step_size=step),
                                   config.epochs, init, gradient,
                                   constrained=(True, True, False), record=record)
        value = quantised_objective(params) if all(
            np.all(np.isfinite(p)) for p in params) else np.inf
        if best is None or value < best[0] or not np.isfinite(best[0]):
            best = (value, params, trace)
    assert best is not None
    _, params, trace = best
    U, V, alpha = quantised(params)
    return U, V, alpha, trace
