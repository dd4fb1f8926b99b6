"""Training a ±1 bilinear network: the SDP once, then Algorithm 1 for any width m.

:class:`SDPTrainer` solves the SDP once and can then sample networks of any width; this is
what lets the build flow choose the largest m that fits a device without solving again.
The baselines train through it too: they share its preprocessing, and its lower bound is
the certificate their networks are measured against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qnnhw.dataset import Dataset
from qnnhw.families import Progress
from qnnhw.losses import loss_value
from qnnhw.optim import SGDConfig
from qnnhw.training import prepare_inputs

from . import baselines, refit, sdp
from .config import BilinearConfig
from .model import BilinearModel

__all__ = ["SDPTrainer", "least_squares_alpha", "objective"]


def objective(loss: str, beta: float, d: int, m: int, alpha: float, prediction: np.ndarray,
              y: np.ndarray) -> float:
    """The training objective (21) of a network whose m neurons all carry α."""
    return loss_value(loss, prediction, y) + beta * d * m * abs(alpha)


def least_squares_alpha(sums: np.ndarray, y: np.ndarray) -> float:
    """argmin_α ‖α s − y‖²: the one scale that best fits the training targets."""
    denominator = float(sums @ sums)
    return float(sums @ y) / denominator if denominator > 0 else 0.0


class SDPTrainer:
    """Solve the SDP (22) once for a data set; sample networks of any width from it.

    Parameters
    ----------
    dataset : Dataset
    config : BilinearConfig
        Resolved against ``dataset`` here.
    progress : callable, optional
        Receives one line per step.
    """

    def __init__(self, dataset: Dataset, config: BilinearConfig,
                 progress: Progress | None = None):
        self.dataset = dataset
        self.config = config.resolved(dataset)
        assert self.config.beta is not None and self.config.loss is not None
        #: β and the loss, as resolved for the data set.
        self.beta, self.loss = self.config.beta, self.config.loss
        self.progress = progress or (lambda message: None)
        self.inputs = prepare_inputs(dataset, bool(self.config.standardize),
                                     bool(self.config.bias), self.config.weight_levels - 1)
        self.lifted_train = self.inputs.lifted
        n, d = self.lifted_train.shape
        self.progress(f"solving the SDP (22): n={n}, d={d}, {self.config.loss} loss, "
                      f"beta={self.config.beta:g}, solver {self.config.solver}")
        self.solution = sdp.solve_sdp(self.lifted_train, dataset.y_train,
                                      loss=self.loss, beta=self.beta,
                                      solver=str(self.config.solver), progress=self.progress)
        solution = self.solution
        self.progress(f"SDP solved by {solution.solver} in {solution.seconds:.2f} s: "
                      f"objective {solution.objective:.6g}, certified lower bound "
                      f"{solution.lower_bound:.6g} (gap {solution.gap:.2e}, "
                      f"{solution.status})")
        self.Q, self.residual = sdp.shape_covariance(self.solution, self.config.shaping)

    @property
    def d(self) -> int:
        return int(self.lifted_train.shape[1])

    @property
    def resamples(self) -> bool:
        """Whether :meth:`train`'s network can be redrawn at another width (Algorithm 1)."""
        return self.config.method == "sdp"

    def train(self) -> BilinearModel:
        """The network the configuration asks for: sampled, or trained by a baseline."""
        if self.config.method == "sdp":
            return self.sample(self.config.m)
        return self.baseline(str(self.config.method), self.config.m)[0]

    def sample(self, m: int, seed: int | None = None) -> BilinearModel:
        """Algorithm 1, step 3: a network of m neurons, α = ρ*π/(γm) (or refitted)."""
        config = self.config
        seed = config.seed if seed is None else seed
        U, V = sdp.sample_neurons(self.Q, m, np.random.default_rng(seed))
        sums = np.sum((self.lifted_train @ U.T) * (self.lifted_train @ V.T), axis=1)
        alpha_paper = sdp.paper_alpha(self.solution.rho, m)
        alpha_refit = least_squares_alpha(sums, self.dataset.y_train)
        alpha = alpha_refit if config.refit_alpha else alpha_paper
        details: dict[str, Any] = {
            "method": "sdp", "rho": self.solution.rho, "alpha_paper": alpha_paper,
            "alpha_refit": alpha_refit, "alpha_used": "refit" if config.refit_alpha else "paper",
            "covariance_residual": self.residual, "covariance_shaping": config.shaping}
        model = self._model(U, V, alpha, seed, details)
        if config.lasso_refit:
            return self._lasso_refit(model, seed, details)
        return model

    def _lasso_refit(self, sampled: BilinearModel, seed: int, details: dict[str, Any]
                     ) -> BilinearModel:
        """The convex refit of the output layer (:mod:`.refit`): kept only if its objective
        (21) is lower than Algorithm 1's network's."""
        m = sampled.m
        candidates = refit.REFIT_CANDIDATES * m
        # The same generator: the first m candidates are the sampled network's neurons.
        U, V = sdp.sample_neurons(self.Q, candidates, np.random.default_rng(seed))
        S = (self.lifted_train @ U.T) * (self.lifted_train @ V.T)
        start = np.zeros(candidates)
        start[:m] = sampled.alpha
        self.progress(f"refitting the output layer over {candidates} sampled neurons (Lasso)")
        weights = refit.lasso_weights(S, self.dataset.y_train, self.loss,
                                      self.beta * self.d, start)
        U_fit, V_fit, alpha = refit.integer_neurons(U, V, weights, m)
        fitted = self._model(U_fit, V_fit, alpha, seed, {
            **details, "refit": "lasso", "refit_candidates": candidates,
            "alpha_used": "lasso refit", "refit_nonzero": int(np.count_nonzero(weights)),
            "objective_before_refit": sampled.training["objective"]})
        if fitted.training["objective"] >= sampled.training["objective"]:
            self.progress("the refit network is no better than Algorithm 1's; keeping that")
            sampled.training.update(refit="rejected", refit_candidates=candidates,
                                    objective_of_refit=fitted.training["objective"])
            return sampled
        return fitted

    def baseline(self, method: str, m: int, seed: int | None = None,
                 evaluate: baselines.Evaluate | None = None
                 ) -> tuple[BilinearModel, baselines.TrainingTrace]:
        """A ±1 network of m neurons by backprop + PTQ or by STE, with this SDP's bound."""
        config = self.config
        seed = config.seed if seed is None else seed
        sgd = SGDConfig(epochs=config.epochs, seed=seed)
        X, y = self.lifted_train, self.dataset.y_train
        loss, beta = self.loss, self.beta
        self.progress(f"training {m} neurons by {method} ({config.epochs} epochs)")
        if method == "backprop":
            U, V, alpha, trace, _ = baselines.backprop_ptq(X, y, m, loss, beta, sgd, evaluate)
        else:
            U, V, alpha, trace = baselines.ste_binaryconnect(X, y, m, loss, beta, sgd, evaluate)
        return self._model(U, V, alpha, seed, {
            "method": method, "epochs": config.epochs, "step_size": trace.step_size}), trace

    def _model(self, U: np.ndarray, V: np.ndarray, alpha: float, seed: int,
               details: dict[str, Any]) -> BilinearModel:
        """The model file's content for weights U, V and scale α, with the certificate."""
        config, m = self.config, len(U)
        sums = np.sum((self.lifted_train @ U.T) * (self.lifted_train @ V.T), axis=1)
        value = objective(self.loss, self.beta, self.d, m, alpha,
                          alpha * sums, self.dataset.y_train)
        solution = self.solution
        lower = solution.lower_bound
        # The zero network's objective: what "far from the bound" is measured against.
        trivial = loss_value(self.loss, np.zeros(len(sums)), self.dataset.y_train)
        training = {
            "method": details["method"], "loss": config.loss, "beta": config.beta, "m": m,
            "seed": seed, "data": self.dataset.source, "solver": config.solver,
            "sdp_status": solution.status, "lower_bound": lower, "objective": value,
            "gap": value - lower, "trivial_objective": trivial,
            "relative_gap": (value - lower) / max(trivial, 1e-300),
            "sdp_objective": solution.objective, "sdp_gap": solution.gap,
            "sdp_iterations": solution.iterations,
            "sdp_seconds": solution.seconds, "weight_levels": config.weight_levels,
            "standardize": config.standardize, "bias": config.bias,
            "feature_max_abs": self.inputs.feature_max_abs, **details,
        }
        dataset = self.dataset
        return BilinearModel(U=U, V=V, alpha=alpha, encoder=dataset.encoder,
                             standardizer=self.inputs.standardizer,
                             lifting=self.inputs.lifting, task=dataset.task,
                             target=dataset.target, label_names=dataset.label_names,
                             training=training)
