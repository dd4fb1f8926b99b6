"""Training: data set in, :class:`~qnnhw.model.BilinearModel` and a report out.

:class:`SDPTrainer` solves the SDP once and can then sample networks of any width m; this is
what lets the build flow choose the largest m that fits a device without solving again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import baselines, sdp
from .dataset import Dataset
from .errors import QnnhwError
from .losses import DEFAULT_BETA, check_loss, loss_value
from .model import BilinearModel, Lifting, Standardizer

__all__ = ["METHODS", "SDPTrainer", "TrainConfig", "evaluate", "train"]

#: Training methods: the SDP and Algorithm 1, and the two baselines of qnnhw.baselines.
METHODS = ("sdp", "backprop", "ste")

Progress = Callable[[str], None]


@dataclass
class TrainConfig:
    """Every training choice; ``None`` means the default for the data set or loss."""

    method: str = "sdp"
    m: int = 1000
    beta: float | None = None
    loss: str | None = None
    seed: int = 0
    bias: bool | None = None
    standardize: bool | None = None
    weight_levels: int = 2
    solver: str = "SCS"
    refit_alpha: bool = False
    shaping: str = "krivine"
    epochs: int = 200

    def resolved(self, dataset: Dataset) -> TrainConfig:
        """A copy with every ``None`` replaced by its default for ``dataset``."""
        loss = self.loss or ("hinge" if dataset.task == "classification" else "squared")
        check_loss(loss, dataset.task)
        beta = DEFAULT_BETA[loss] if self.beta is None else self.beta
        if not (isinstance(self.m, int) and self.m >= 1):
            raise QnnhwError(f"--m must be a positive integer, not {self.m!r}")
        if not (math.isfinite(beta) and beta >= 0):
            raise QnnhwError(f"--beta must be a finite number ≥ 0, not {beta}")
        if not (isinstance(self.weight_levels, int) and self.weight_levels >= 2):
            raise QnnhwError(f"--weight-levels must be an integer ≥ 2, not {self.weight_levels}")
        return TrainConfig(
            method=self.method, m=self.m, beta=beta, loss=loss, seed=self.seed,
            bias=dataset.bias_default if self.bias is None else self.bias,
            standardize=(dataset.standardize_default if self.standardize is None
                         else self.standardize),
            weight_levels=self.weight_levels, solver=self.solver,
            refit_alpha=self.refit_alpha, shaping=self.shaping, epochs=self.epochs)


def objective(loss: str, beta: float, d: int, m: int, alpha: float, prediction: np.ndarray,
              y: np.ndarray) -> float:
    """The training objective (21) of a network whose m neurons all carry α."""
    return loss_value(loss, prediction, y) + beta * d * m * abs(alpha)


def least_squares_alpha(sums: np.ndarray, y: np.ndarray) -> float:
    """argmin_α ‖α s − y‖²: the one scale that best fits the training targets."""
    denominator = float(sums @ sums)
    return float(sums @ y) / denominator if denominator > 0 else 0.0


def evaluate(model: BilinearModel, dataset: Dataset) -> dict[str, float]:
    """Accuracy (classification) or loss (regression) on both splits."""
    out: dict[str, float] = {}
    loss = model.training.get("loss", "squared")
    for split, X, y in (("train", dataset.X_train, dataset.y_train),
                        ("test", dataset.X_test, dataset.y_test)):
        if len(y) == 0:
            continue
        if model.task == "classification":
            out[f"{split}_accuracy"] = float(np.mean(model.predict_signs(X) == y))
        else:
            prediction = model.decision_function(X)
            out[f"{split}_loss"] = loss_value(loss, prediction, y)
            out[f"{split}_relative_loss"] = loss_value(loss, prediction, y) / max(
                loss_value(loss, np.zeros_like(y), y), 1e-300)
    return out


class SDPTrainer:
    """Solve the SDP (22) once for a data set; sample networks of any width from it.

    The baselines train through it too: they share its preprocessing, and its lower bound is
    the certificate their networks are measured against.
    """

    def __init__(self, dataset: Dataset, config: TrainConfig, progress: Progress | None = None):
        self.dataset = dataset
        self.config = config.resolved(dataset)
        self.progress = progress or (lambda message: None)
        assert self.config.bias is not None and self.config.standardize is not None
        self.standardizer = Standardizer.fit(dataset.X_train, self.config.standardize)
        self.lifting = Lifting(self.config.bias, self.config.weight_levels - 1)
        features = self.standardizer.apply(dataset.X_train)
        # The input fixed-point format is sized from this (qnnhw.fixedpoint).
        self.feature_max_abs = float(np.abs(features).max())
        self.lifted_train = self.lifting.apply(features)
        n, d = self.lifted_train.shape
        self.progress(f"solving the SDP (22): n={n}, d={d}, {self.config.loss} loss, "
                      f"beta={self.config.beta:g}, solver {self.config.solver}")
        self.solution = sdp.solve_sdp(self.lifted_train, dataset.y_train,
                                      loss=str(self.config.loss), beta=float(self.config.beta),
                                      solver=self.config.solver)
        self.progress(f"SDP solved in {self.solution.seconds:.2f} s: lower bound "
                      f"{self.solution.lower_bound:.6g} (status {self.solution.status})")
        self.Q, self.residual = sdp.shape_covariance(self.solution, self.config.shaping)  # type: ignore[arg-type]

    @property
    def d(self) -> int:
        return int(self.lifted_train.shape[1])

    def sample(self, m: int, seed: int | None = None) -> BilinearModel:
        """Algorithm 1, step 3: a network of m neurons, α = ρ*π/(γm) (or refitted)."""
        config = self.config
        seed = config.seed if seed is None else seed
        U, V = sdp.sample_neurons(self.Q, m, np.random.default_rng(seed))
        sums = np.sum((self.lifted_train @ U.T) * (self.lifted_train @ V.T), axis=1)
        alpha_paper = sdp.paper_alpha(self.solution.rho, m)
        alpha_refit = least_squares_alpha(sums, self.dataset.y_train)
        alpha = alpha_refit if config.refit_alpha else alpha_paper
        return self._model(U, V, alpha, seed, {
            "method": "sdp", "rho": self.solution.rho, "alpha_paper": alpha_paper,
            "alpha_refit": alpha_refit, "alpha_used": "refit" if config.refit_alpha else "paper",
            "covariance_residual": self.residual, "covariance_shaping": config.shaping})

    def baseline(self, method: str, m: int, seed: int | None = None,
                 evaluate: Any = None) -> tuple[BilinearModel, baselines.TrainingTrace]:
        """A ±1 network of m neurons by backprop + PTQ or by STE, with this SDP's bound."""
        config = self.config
        seed = config.seed if seed is None else seed
        sgd = baselines.SGDConfig(epochs=config.epochs, seed=seed)
        X, y = self.lifted_train, self.dataset.y_train
        loss, beta = str(config.loss), float(config.beta)
        self.progress(f"training {m} neurons by {method} ({config.epochs} epochs)")
        if method == "backprop":
            U, V, alpha, trace, _ = baselines.backprop_ptq(X, y, m, loss, beta, sgd, evaluate)
        elif method == "ste":
            U, V, alpha, trace = baselines.ste_binaryconnect(X, y, m, loss, beta, sgd, evaluate)
        else:
            raise QnnhwError(f"unknown training method {method!r}; choose one of "
                             f"{', '.join(METHODS)}")
        return self._model(U, V, alpha, seed, {
            "method": method, "epochs": config.epochs, "step_size": trace.step_size}), trace

    def _model(self, U: np.ndarray, V: np.ndarray, alpha: float, seed: int,
               details: dict[str, Any]) -> BilinearModel:
        """The model file's content for weights U, V and scale α, with the certificate."""
        config, m = self.config, len(U)
        sums = np.sum((self.lifted_train @ U.T) * (self.lifted_train @ V.T), axis=1)
        value = objective(str(config.loss), float(config.beta), self.d, m, alpha,
                          alpha * sums, self.dataset.y_train)
        lower = self.solution.lower_bound
        training = {
            "method": details["method"], "loss": config.loss, "beta": config.beta, "m": m,
            "seed": seed, "data": self.dataset.source, "solver": config.solver,
            "sdp_status": self.solution.status, "lower_bound": lower, "objective": value,
            "gap": value - lower, "relative_gap": (value - lower) / max(abs(lower), 1e-300),
            "sdp_seconds": self.solution.seconds, "weight_levels": config.weight_levels,
            "standardize": config.standardize, "bias": config.bias,
            "feature_max_abs": self.feature_max_abs, **details,
        }
        return BilinearModel(U, V, alpha, self.dataset.encoder, self.standardizer, self.lifting,
                             self.dataset.task, self.dataset.target, self.dataset.label_names,
                             training)


def train(dataset: Dataset, config: TrainConfig, progress: Progress | None = None
          ) -> tuple[BilinearModel, dict[str, Any]]:
    """Train by ``config.method`` and return the model and a flat report."""
    start = time.perf_counter()
    if config.method not in METHODS:
        raise QnnhwError(f"unknown training method {config.method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    trainer = SDPTrainer(dataset, config, progress)
    if config.method == "sdp":
        model = trainer.sample(trainer.config.m)
    else:
        model, _ = trainer.baseline(config.method, trainer.config.m)
    return model, report(model, dataset, time.perf_counter() - start)


def report(model: BilinearModel, dataset: Dataset, seconds: float) -> dict[str, Any]:
    """The flat summary printed by ``train --json``."""
    training = model.training
    out: dict[str, Any] = {
        "method": training["method"], "task": model.task, "data": dataset.source,
        "n_train": len(dataset.y_train), "n_test": len(dataset.y_test),
        "m": model.m, "d": model.d, "loss": training["loss"], "beta": training["beta"],
        "seed": training["seed"], "alpha": model.alpha,
        "lower_bound": training.get("lower_bound"), "objective": training["objective"],
        "gap": training.get("gap"), "relative_gap": training.get("relative_gap"),
        "alpha_paper": training.get("alpha_paper"), "alpha_refit": training.get("alpha_refit"),
        "covariance_residual": training.get("covariance_residual"),
        "sdp_seconds": training.get("sdp_seconds"), "train_seconds": seconds,
    }
    out.update(evaluate(model, dataset))
    return out

