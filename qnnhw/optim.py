"""Minibatch descent for the baselines of every family (NumPy only), and ASkewSGD.

ASkewSGD (Leconte, Schechtman & Moulines, AISTATS 2023) trains weights that must end at ±1
as a sequence of interval-constrained problems: weight w must satisfy

    g_ε(w) = ε − (w² − 1)² ≥ 0,   i.e. w ∈ [−√(1+√ε), −√(1−√ε)] ∪ [√(1−√ε), √(1+√ε)],

with ε annealed towards 0, so that the feasible set shrinks onto {−1, +1}. Each subproblem is
solved by the velocity-projection idea of Muehlebach & Jordan (JMLR 2022): rather than
projecting the iterate onto the (disconnected) feasible set, the step's velocity v is the
one closest to −∇f that keeps the linearised constraint from getting worse faster than a
fixed rate where it is violated,

    v = argmin_v ½‖v + ∇f‖²   subject to   g_ε′(w)·v ≥ −a·g_ε(w)   wherever g_ε(w) < 0,

with a > 0 the constraint's gain. The constraints are separable, so the solution is per
weight (:func:`skewed_velocity`): v = −∇f where the weight is feasible or −∇f already obeys
the linearised constraint (and where g_ε′(w) = 0, at w = 0, where no velocity helps);
otherwise v = −a·g_ε(w)/g_ε′(w), the boundary of the allowed half-line. The iterate moves by
w ← w + γₖ v: infeasible iterates are allowed, they are pulled back at rate a. The step γₖ is
constant (γ₀) or decreasing (γ₀/√(k+1) in epoch k), the paper's two step rules; ε stays 1
(|w| ≤ √2: unconstrained in practice) for a warm-up quarter of the epochs and is then
multiplied by the annealing factor r < 1 every epoch. As in BinaryConnect the latent weights
are kept in [−1, 1], so sign(w), the network the hardware runs, is their nearest ±1 point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["STEP_RULES", "Annealing", "SGDConfig", "askew_descent", "minibatch_descent",
           "skewed_velocity"]

#: ASkewSGD's step rules: γ₀ throughout, or γ₀/√(k+1) in epoch k.
STEP_RULES = ("constant", "decreasing")


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


@dataclass
class Annealing:
    """ASkewSGD's schedule: the step rule and how fast the constraint tightens.

    Attributes
    ----------
    step_size : float
        γ₀ > 0.
    step_rule : {"constant", "decreasing"}
        γₖ = γ₀, or γ₀/√(k+1) in epoch k.
    anneal : float
        0 < r < 1: after the warm-up, ε is multiplied by r every epoch.
    gain : float
        a > 0, the rate at which a violated constraint is pulled back.
    """

    step_size: float
    step_rule: str = "constant"
    anneal: float = 0.96
    gain: float = 1.0

    def epsilon(self, epoch: int, epochs: int) -> float:
        """ε in epoch ``epoch`` of ``epochs``: 1 for the first quarter, then × r per epoch."""
        warmup = epochs // 4
        return 1.0 if epoch < warmup else self.anneal ** (epoch - warmup + 1)

    def step(self, epoch: int) -> float:
        return self.step_size if self.step_rule == "constant" else \
            self.step_size / np.sqrt(epoch + 1)


def skewed_velocity(w: np.ndarray, gradient: np.ndarray, epsilon: float,
                    gain: float) -> np.ndarray:
    """ASkewSGD's velocity for weights ``w`` (module docstring): −∇f, skewed where the
    constraint (w² − 1)² ≤ ε is violated and −∇f would not pull it back fast enough."""
    excess = epsilon - (w * w - 1.0) ** 2          # g_ε(w)
    slope = -4.0 * w * (w * w - 1.0)               # g_ε′(w)
    velocity = -gradient
    violated = (excess < 0) & (slope != 0)
    too_slow = violated & (slope * velocity < -gain * excess)
    safe_slope = np.where(too_slow, slope, 1.0)
    return np.where(too_slow, -gain * excess / safe_slope, velocity)


def askew_descent(X: np.ndarray, y: np.ndarray, config: SGDConfig, schedule: Annealing,
                  epochs: int, init: Callable[[np.random.Generator], list[np.ndarray]],
                  gradient: Callable[[list[np.ndarray], np.ndarray, np.ndarray],
                                     list[np.ndarray]],
                  constrained: Sequence[bool],
                  record: Callable[[list[np.ndarray]], None] | None = None
                  ) -> list[np.ndarray]:
    """Minibatch ASkewSGD over ``epochs`` passes: the parameters flagged ``constrained`` move
    along :func:`skewed_velocity` and stay in [−1, 1], the others by plain SGD."""
    rng = np.random.default_rng(config.seed)
    params = init(rng)
    for epoch in range(epochs):
        epsilon, step = schedule.epsilon(epoch, epochs), schedule.step(epoch)
        order = rng.permutation(len(y))
        for start in range(0, len(y), config.batch_size):
            batch = order[start:start + config.batch_size]
            grads = gradient(params, X[batch], y[batch])
            for p, g, bounded in zip(params, grads, constrained):
                if bounded:
                    p += step * skewed_velocity(p, g, epsilon, schedule.gain)
                    np.clip(p, -1.0, 1.0, out=p)
                else:
                    p -= step * g
        if record is not None:
            record(params)
        if not all(np.all(np.isfinite(p)) for p in params):
            break
    return params
