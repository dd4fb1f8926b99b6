"""Training: data set in, a model (bilinear or threshold) and a report out.

:class:`SDPTrainer` solves the SDP once and can then sample bilinear networks of any width m;
this is what lets the build flow choose the largest m that fits a device without solving
again. :class:`ThresholdTrainer` trains a threshold network by the Lasso (or a baseline).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import baselines, sdp, threshold
from .dataset import Dataset
from .errors import QnnhwError
from .lasso import LASSO_SOLVERS
from .losses import DEFAULT_BETA, check_loss, loss_value
from .model import BilinearModel, Lifting, Standardizer, ThresholdModel

__all__ = ["FAMILY_METHODS", "METHODS", "SDPTrainer", "ThresholdTrainer", "TrainConfig",
           "evaluate", "train"]

#: Training methods: the SDP and Algorithm 1, and the two baselines of qnnhw.baselines.
METHODS = ("sdp", "backprop", "ste")
#: Methods of each model family; the first is the default.
FAMILY_METHODS = {"bilinear": METHODS, "threshold": threshold.THRESHOLD_METHODS}
#: β of the threshold Lasso when none is given. Validation on ionosphere picks 2–5 (median
#: 3.5 over 10 splits, docs/results.md); 5 keeps the accuracy with fewer neurons, which is
#: what the hardware pays for.
DEFAULT_LASSO_BETA = 5.0
#: Hyperplanes sampled for the Lasso, and the width of a baseline threshold network.
DEFAULT_HYPERPLANES, DEFAULT_STE_NEURONS = 2000, 64
#: Bits of the integer hidden weights: rounded Gaussian hyperplanes, and baseline networks.
DEFAULT_GAUSSIAN_BITS, DEFAULT_STE_BITS = 4, 8

Progress = Callable[[str], None]


@dataclass
class TrainConfig:
    """Every training choice; ``None`` means the default for the data set or loss."""

    family: str = "bilinear"
    method: str | None = None
    m: int = 1000
    beta: float | None = None
    loss: str | None = None
    seed: int = 0
    bias: bool | None = None
    standardize: bool | None = None
    weight_levels: int = 2
    solver: str | None = None
    refit_alpha: bool = False
    shaping: str = "krivine"
    epochs: int = 200
    neurons: int | None = None
    hyperplanes: str = "binary"
    hidden_bits: int | None = None
    layers: int = 2
    layer_width: int = 16

    def resolved(self, dataset: Dataset) -> TrainConfig:
        """A copy with every ``None`` replaced by its default for ``dataset``."""
        if self.family not in FAMILY_METHODS:
            raise QnnhwError(f"unknown model family {self.family!r}; choose one of "
                             f"{', '.join(FAMILY_METHODS)}")
        methods = FAMILY_METHODS[self.family]
        method = self.method or methods[0]
        if method not in methods:
            raise QnnhwError(f"method {method!r} does not train a {self.family} network; "
                             f"choose one of {', '.join(methods)}")
        if self.family == "threshold":
            return self._resolved_threshold(dataset, method)
        if (self.neurons, self.hidden_bits, self.hyperplanes, self.layers) != (
                None, None, "binary", 2):
            raise QnnhwError("--neurons, --hyperplanes, --hidden-bits and --layers are for "
                             "threshold networks; add --family threshold")
        if self.solver not in (None, *sdp.SOLVERS):
            raise QnnhwError(f"unknown SDP solver {self.solver!r}; choose one of "
                             f"{', '.join(sdp.SOLVERS)}")
        loss = self.loss or ("hinge" if dataset.task == "classification" else "squared")
        check_loss(loss, dataset.task)
        beta = DEFAULT_BETA[loss] if self.beta is None else self.beta
        if not (isinstance(self.m, int) and self.m >= 1):
            raise QnnhwError(f"--m must be a positive integer, not {self.m!r}")
        if not (math.isfinite(beta) and beta >= 0):
            raise QnnhwError(f"--beta must be a finite number ≥ 0, not {beta}")
        if not (isinstance(self.weight_levels, int) and self.weight_levels >= 2):
            raise QnnhwError(f"--weight-levels must be an integer ≥ 2, not {self.weight_levels}")
        return replace(self, method=method, beta=beta, loss=loss,
                       bias=dataset.bias_default if self.bias is None else self.bias,
                       standardize=(dataset.standardize_default if self.standardize is None
                                    else self.standardize),
                       solver=self.solver or sdp.SOLVERS[0])

    def _resolved_threshold(self, dataset: Dataset, method: str) -> TrainConfig:
        if self.loss not in (None, "squared"):
            raise QnnhwError("threshold networks are trained with the squared loss (the "
                             "Lasso); drop --loss hinge")
        if self.weight_levels != 2:
            raise QnnhwError("--weight-levels is for bilinear networks; a threshold network "
                             "takes --hyperplanes gaussian --hidden-bits B for wider weights")
        if self.solver not in (None, *LASSO_SOLVERS):
            raise QnnhwError(f"unknown Lasso solver {self.solver!r}; choose one of "
                             f"{', '.join(LASSO_SOLVERS)}")
        if self.hyperplanes not in threshold.HYPERPLANES:
            raise QnnhwError(f"unknown --hyperplanes {self.hyperplanes!r}; choose one of "
                             f"{', '.join(threshold.HYPERPLANES)}")
        if not (isinstance(self.layers, int) and self.layers >= 2):
            raise QnnhwError(f"--layers counts the weight layers, at least 2, not "
                             f"{self.layers}")
        if self.layers > 2 and method != "lasso":
            raise QnnhwError("--layers above 2 is for --method lasso (the STE baselines are "
                             "two-layer networks)")
        if not (isinstance(self.layer_width, int) and self.layer_width >= 1):
            raise QnnhwError(f"--layer-width must be a positive integer, not "
                             f"{self.layer_width}")
        beta = DEFAULT_LASSO_BETA if self.beta is None else self.beta
        if not (math.isfinite(beta) and beta >= 0):
            raise QnnhwError(f"--beta must be a finite number ≥ 0, not {beta}")
        neurons = self.neurons or (DEFAULT_HYPERPLANES if method == "lasso"
                                   else DEFAULT_STE_NEURONS)
        if method != "lasso":
            bits = self.hidden_bits or DEFAULT_STE_BITS
        elif self.hyperplanes == "gaussian":
            bits = self.hidden_bits or DEFAULT_GAUSSIAN_BITS
        else:
            if self.hidden_bits not in (None, 1):
                raise QnnhwError("--hidden-bits is for --hyperplanes gaussian; binary "
                                 "hyperplanes have ±1 weights")
            bits = 1
        if method != "lasso" or self.hyperplanes == "gaussian":
            if not 2 <= bits <= 16:
                raise QnnhwError(f"--hidden-bits must be from 2 to 16, not {bits}")
        return replace(self, method=method, beta=beta, loss="squared", neurons=neurons,
                       hidden_bits=bits,
                       bias=dataset.bias_default if self.bias is None else self.bias,
                       standardize=(dataset.standardize_default if self.standardize is None
                                    else self.standardize),
                       solver=self.solver or LASSO_SOLVERS[0])


def objective(loss: str, beta: float, d: int, m: int, alpha: float, prediction: np.ndarray,
              y: np.ndarray) -> float:
    """The training objective (21) of a network whose m neurons all carry α."""
    return loss_value(loss, prediction, y) + beta * d * m * abs(alpha)


def least_squares_alpha(sums: np.ndarray, y: np.ndarray) -> float:
    """argmin_α ‖α s − y‖²: the one scale that best fits the training targets."""
    denominator = float(sums @ sums)
    return float(sums @ y) / denominator if denominator > 0 else 0.0


def evaluate(model: BilinearModel | ThresholdModel, dataset: Dataset) -> dict[str, float]:
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


def _prepare(trainer: SDPTrainer | ThresholdTrainer, dataset: Dataset) -> None:
    """The input pipeline every trainer shares: standardise, then lift."""
    config = trainer.config
    assert config.bias is not None and config.standardize is not None
    trainer.standardizer = Standardizer.fit(dataset.X_train, config.standardize)
    trainer.lifting = Lifting(config.bias, config.weight_levels - 1)
    features = trainer.standardizer.apply(dataset.X_train)
    # The input fixed-point format is sized from this (qnnhw.fixedpoint).
    trainer.feature_max_abs = float(np.abs(features).max())
    trainer.lifted_train = trainer.lifting.apply(features)


class SDPTrainer:
    """Solve the SDP (22) once for a data set; sample networks of any width from it.

    The baselines train through it too: they share its preprocessing, and its lower bound is
    the certificate their networks are measured against.
    """

    def __init__(self, dataset: Dataset, config: TrainConfig, progress: Progress | None = None):
        self.dataset = dataset
        self.config = config.resolved(dataset)
        self.progress = progress or (lambda message: None)
        _prepare(self, dataset)
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


class ThresholdTrainer:
    """Train a threshold network by the Lasso (or a baseline) on a data set's training split."""

    standardizer: Standardizer
    lifting: Lifting
    feature_max_abs: float
    lifted_train: np.ndarray

    def __init__(self, dataset: Dataset, config: TrainConfig, progress: Progress | None = None):
        self.dataset = dataset
        self.config = replace(config, family="threshold").resolved(dataset)
        self.progress = progress or (lambda message: None)
        _prepare(self, dataset)

    def train(self, seed: int | None = None) -> ThresholdModel:
        config = self.config
        seed = config.seed if seed is None else seed
        X, y = self.lifted_train, self.dataset.y_train
        assert config.neurons is not None and config.hidden_bits is not None
        if config.method == "lasso":
            network = threshold.train_lasso_network(
                X, y, beta=float(config.beta), hyperplanes=config.neurons,
                kind=config.hyperplanes, hidden_bits=config.hidden_bits,
                solver=str(config.solver), seed=seed, progress=self.progress,
                layer_widths=[config.layer_width] * (config.layers - 2))
            hidden = config.hyperplanes
        else:
            network = threshold.train_ste(
                X, y, neurons=config.neurons, variant=str(config.method),
                beta=float(config.beta), hidden_bits=config.hidden_bits,
                sgd=baselines.SGDConfig(epochs=config.epochs, seed=seed),
                progress=self.progress)
            hidden = "real, rounded to integers"
        bits = 1 if hidden == "binary" else config.hidden_bits
        model = ThresholdModel(network.H, network.w, network.bias, bits, self.dataset.encoder,
                               self.standardizer, self.lifting, self.dataset.task,
                               self.dataset.target, self.dataset.label_names,
                               layers=tuple(network.layers))
        prediction = model.bias + model.activations(X) @ model.w
        value = lasso_objective(float(config.beta), model.w, prediction, y)
        model.training = {
            "method": config.method, "family": "threshold", "loss": "squared",
            "beta": config.beta, "m": model.m, "seed": seed, "data": self.dataset.source,
            "hidden_weights": hidden, "hidden_bits": bits, "objective": value,
            "layers": config.layers,
            "standardize": config.standardize, "bias": config.bias,
            "feature_max_abs": self.feature_max_abs, **network.details}
        return model


def lasso_objective(beta: float, w: np.ndarray, prediction: np.ndarray, y: np.ndarray
                    ) -> float:
    """½‖f(X) − y‖² + β‖w‖₁: the Lasso's objective, for a threshold network of any origin."""
    return loss_value("squared", prediction, y) + beta * float(np.abs(w).sum())


def train(dataset: Dataset, config: TrainConfig, progress: Progress | None = None
          ) -> tuple[BilinearModel | ThresholdModel, dict[str, Any]]:
    """Train by ``config.family`` and ``config.method``; return the model and a flat report."""
    start = time.perf_counter()
    model: BilinearModel | ThresholdModel
    if config.family == "threshold":
        model = ThresholdTrainer(dataset, config, progress).train()
    else:
        trainer = SDPTrainer(dataset, config, progress)
        if trainer.config.method == "sdp":
            model = trainer.sample(trainer.config.m)
        else:
            model, _ = trainer.baseline(str(trainer.config.method), trainer.config.m)
    return model, report(model, dataset, time.perf_counter() - start)


def report(model: BilinearModel | ThresholdModel, dataset: Dataset, seconds: float
           ) -> dict[str, Any]:
    """The flat summary printed by ``train --json``."""
    training = model.training
    out: dict[str, Any] = {
        "family": model.FAMILY, "method": training["method"], "task": model.task,
        "data": dataset.source, "n_train": len(dataset.y_train), "n_test": len(dataset.y_test),
        "m": model.m, "d": model.d, "loss": training["loss"], "beta": training["beta"],
        "seed": training["seed"], "objective": training["objective"], "train_seconds": seconds,
    }
    if isinstance(model, BilinearModel):
        out.update({key: training.get(key) for key in (
            "lower_bound", "gap", "relative_gap", "alpha_paper", "alpha_refit",
            "covariance_residual", "sdp_seconds")}, alpha=model.alpha)
    else:
        out.update({key: training.get(key) for key in (
            "hidden_weights", "hidden_bits", "layers", "hyperplanes", "patterns",
            "lasso_objective",
            "lasso_gap", "lasso_lower_bound", "lasso_seconds", "lasso_iterations")},
            neurons=model.m, output_bias=model.bias)
    out.update(evaluate(model, dataset))
    return out
