"""Minibatch descent for the baselines of every family (NumPy only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SGDConfig", "minibatch_descent"]


@dataclass
class SGDConfig:
    """Minibatch descent settings; the step size candidates are tried by the bilinear
    baselines, the threshold baselines take the second Adam step size."""

    epochs: int = 200
    batch_size: int = 32
    momentum: float = 0.9
    #: Candidates for SGD, relative to 1/E‖x‖² (backprop), and for Adam (STE).
    step_sizes: tuple[float, ...] = (0.3, 0.1, 0.03, 0.01)
    adam_step_sizes: tuple[float, ...] = (0.03, 0.01, 0.003, 0.001)
    trial_epochs: int = 20
    seed: int = 0


def minibatch_descent(X: np.ndarray, y: np.ndarray, config: SGDConfig, epochs: int,
                      step: float, init: Callable[[np.random.Generator], list[np.ndarray]],
                      gradient: Callable[[list[np.ndarray], np.ndarray, np.ndarray],
                                         list[np.ndarray]],
                      project: Callable[[list[np.ndarray]], None], adam: bool = False,
                      record: Callable[[list[np.ndarray]], None] | None = None
                      ) -> list[np.ndarray]:
    """Minibatch SGD with momentum (or Adam) over ``epochs`` passes."""
    rng = np.random.default_rng(config.seed)
    params = init(rng)
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    steps = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), config.batch_size):
            batch = order[start:start + config.batch_size]
            grads = gradient(params, X[batch], y[batch])
            steps += 1
            for p, v, w, g in zip(params, first, second, grads):
                if adam:
                    v *= 0.9
                    v += 0.1 * g
                    w *= 0.999
                    w += 0.001 * g * g
                    p -= step * (v / (1 - 0.9 ** steps)) / (
                        np.sqrt(w / (1 - 0.999 ** steps)) + 1e-8)
                else:
                    v *= config.momentum
                    v -= step * g
                    p += v
            project(params)
        if record is not None:
            record(params)
        if not all(np.all(np.isfinite(p)) for p in params):
            break
    return params
