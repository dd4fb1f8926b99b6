"""Training a ±1 bilinear network: the SDP once, then Algorithm 1 for any width m.

:class:`SDPTrainer` solves the SDP once and can then sample networks of any width; this is
what lets the build flow choose the largest m that fits a device without solving again.
The baselines train through it too: they share its preprocessing, and its lower bound is
the certificate their networks are measured against.

With C ≥ 3 classes the network has C outputs fitted to ±1 one-hot targets. Its SDP has one
block per output and, the loss being a sum over outputs, the blocks are independent
problems (docs/sdp.md, "Vector outputs"): each is solved and certified on its own and the
bound of the network is their sum. Algorithm 1 gives output c m_c ∝ ρ_c of the m neurons,
which makes one α serve every output.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.families import Progress
from qnnhw.families.base import silent
from qnnhw.losses import loss_value
from qnnhw.optim import Annealing, SGDConfig
from qnnhw.training import check_memory, prepare_inputs

from . import baselines, colgen, flips, refit, sdp
from .config import BilinearConfig
from .model import BilinearModel

__all__ = ["SDPTrainer", "allocate_neurons", "best_alpha", "least_squares_alpha", "objective"]

#: The random stream of column generation's pool, apart from Algorithm 1's draws of a seed.
COLGEN_STREAM = 1 << 20


def objective(loss: str, beta: float, d: int, m: int, alpha: float, prediction: np.ndarray,
              y: np.ndarray) -> float:
    """The training objective (21) of a network whose m neurons all carry α."""
    return loss_value(loss, prediction, y) + beta * d * m * abs(alpha)


def least_squares_alpha(sums: np.ndarray, y: np.ndarray) -> float:
    """argmin_α ‖α s − y‖²: the one scale that best fits the training targets (of every
    output)."""
    sums, y = np.ravel(sums), np.ravel(y)
    denominator = float(sums @ sums)
    return float(sums @ y) / denominator if denominator > 0 else 0.0


def best_alpha(loss: str, sums: np.ndarray, y: np.ndarray, penalty: float) -> float:
    """argmin_α loss(α s, y) + penalty·|α|: the exact best scale of drawn neurons whose
    summed outputs are ``s`` (every output flattened into one vector), 0 allowed.

    Squared loss: ½‖αs − y‖² + λ|α| is minimised by the soft threshold
    sign(sᵀy)·max(|sᵀy| − λ, 0)/‖s‖². Hinge: Σ max(0, 1 − α zᵢ) + λ|α| with z = y∘s is
    convex and piecewise linear, so a minimiser lies at 0 or at a kink α = 1/zᵢ; all of
    them are evaluated at once from sorted prefix sums (O(n log n)).
    """
    s, y = np.ravel(sums).astype(float), np.ravel(y).astype(float)
    if loss == "squared":
        norm, correlation = float(s @ s), float(s @ y)
        if norm == 0.0:
            return 0.0
        return float(np.sign(correlation) * max(abs(correlation) - penalty, 0.0) / norm)
    z = y * s
    best_value, best = _hinge_scan(z, penalty)
    value, negative = _hinge_scan(-z, penalty)
    return best if best_value <= value else -negative


def _hinge_scan(z: np.ndarray, penalty: float) -> tuple[float, float]:
    """The least of f(α) = Σ max(0, 1 − α zᵢ) + λα over α ∈ {0} ∪ {1/zᵢ : zᵢ > 0}, and
    where (the smaller α on a tie)."""
    positive = np.sort(1.0 / z[z > 0])          # the kinks, ascending
    fixed = z[z <= 0]                            # always in the hinge's linear part for α ≥ 0
    weights = np.sort(z[z > 0])[::-1]            # zᵢ in the kinks' order
    # Past kink k, the terms of kinks k+1… are still active: suffix counts and sums.
    active_count = len(positive) - np.arange(1, len(positive) + 1)
    active_sum = np.concatenate([np.cumsum(weights[::-1])[::-1][1:], [0.0]])
    values = (len(fixed) + active_count - positive * (fixed.sum() + active_sum)
              + penalty * positive)
    zero = float(len(z))
    if len(values) == 0 or zero <= values.min():
        return zero, 0.0
    k = int(np.argmin(values))
    return float(values[k]), float(positive[k])


def allocate_neurons(m: int, rhos: list[float]) -> list[int]:
    """m_c ∝ ρ_c with Σ m_c = m, every m_c ≥ 1, by largest remainders (ties to the lower c).

    The proportional allocation minimises the variance of the sampled outputs and gives
    every output the same weight π·Σρ/(γm) up to the rounding (docs/sdp.md)."""
    outputs = len(rhos)
    if m < outputs:
        raise QnnhwError(f"{outputs} outputs need @m {outputs} neurons at least", "m")
    return [int(count) for count in refit.largest_remainder(np.array(rhos), m, minimum=1)]


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
        self.progress = progress or silent
        self.inputs = prepare_inputs(dataset, bool(self.config.standardize),
                                     bool(self.config.bias), self.config.weight_levels - 1)
        self.lifted_train = self.inputs.lifted
        #: The targets: y, or for C outputs the n × C one-hot ±1 matrix.
        self.targets = dataset.train_targets
        n, d = self.lifted_train.shape
        # Sampling draws m Gaussian vectors of 2d and keeps U, V (d each); the network's
        # sums are n × m: all in floats, before the SDP's solve is spent on it.
        check_memory(8 * self.config.m * (6 * d + 2 * n), f"a network of {self.config.m} "
                     f"neurons over {d} lifted inputs", "give a smaller @m", "m")
        outputs = dataset.outputs
        #: One solution, shaped covariance and shaping residual per output.
        self.solutions: list[sdp.SDPSolution] = []
        self.covariances: list[tuple[np.ndarray, float]] = []
        for output in range(outputs):
            column = self.targets if outputs == 1 else self.targets[:, output]
            which = "" if outputs == 1 else (f" for class {output + 1} of {outputs} "
                                              f"({dataset.label_names[output]!r})"
                                              if dataset.label_names else "")
            self.progress(f"solving the SDP (22){which}: n={n}, d={d}, {self.config.loss} "
                          f"loss, beta={self.config.beta:g}, solver {self.config.solver}")
            solution = sdp.solve_sdp(self.lifted_train, column, loss=self.loss,
                                     beta=self.beta, solver=str(self.config.solver),
                                     progress=self.progress)
            self.progress(f"SDP solved by {solution.solver} in {solution.seconds:.2f} s: "
                          f"objective {solution.objective:.6g}, certified lower bound "
                          f"{solution.lower_bound:.6g} (gap {solution.gap:.2e}, "
                          f"{solution.status})")
            self.solutions.append(solution)
            self.covariances.append(sdp.shape_covariance(solution, self.config.shaping))
        self._column_cache: dict[int, list[colgen.Columns]] = {}

    @property
    def solution(self) -> sdp.SDPSolution:
        """The SDP's solution (of the first output)."""
        return self.solutions[0]

    @property
    def Q(self) -> np.ndarray:
        """Algorithm 1's shaped covariance Q* (of the first output)."""
        return self.covariances[0][0]

    @property
    def residual(self) -> float:
        """‖Q*₁₂ − sin(γZ*/ρ*)‖_F of the shaping (the largest over the outputs)."""
        return max(residual for _, residual in self.covariances)

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
        """The trained network of m neurons: the best of ``config.draws`` draws of Algorithm 1,
        replaced by the refit's network (``config.output_refit``) when that has a lower objective
        (21), then improved by ``config.local_search`` passes of single-entry flips. Only
        this step depends on m: one SDP (and one column generation per seed) serves every m."""
        config = self.config
        seed = config.seed if seed is None else seed
        draws = [self._draw(m, seed, draw) for draw in range(config.draws)]
        network = min(draws, key=lambda model: model.training["objective"])
        drawn = network.training["objective"]
        if config.output_refit == "colgen":
            network = self._keep_lower(network, self._colgen_network(m, seed, network))
        elif config.output_refit == "lasso":
            network = self._keep_lower(network, self._lasso_network(network, seed))
        network.training.update(draws=config.draws, objective_algorithm1=drawn,
                                output_refit=config.output_refit, refit_kept=network.training.get(
                                    "refit_kept", False))
        if config.local_search:
            network = self._flip_search(network)
        if network.alpha == 0.0:
            self.progress("no scale of these neurons beats the zero network: alpha = 0")
        return network

    def _draw(self, m: int, seed: int, draw: int) -> BilinearModel:
        """Algorithm 1, step 3: m neurons on one output scale α, by default the best for them
        (``config.alpha``). Draw 0 uses the generator of ``seed`` itself, so one draw is
        Algorithm 1 as it always was; draw k the generator of (seed, k)."""
        config = self.config
        rhos = [solution.rho for solution in self.solutions]
        counts = allocate_neurons(m, rhos)
        rng = np.random.default_rng(seed if draw == 0 else [seed, draw])
        samples = [sdp.sample_neurons(Q, count, rng)
                   for (Q, _), count in zip(self.covariances, counts)]
        U = np.concatenate([U for U, _ in samples])
        V = np.concatenate([V for _, V in samples])
        class_neurons = tuple(counts) if len(counts) > 1 else ()
        sums = self._sums(U, V, class_neurons)
        alphas = {"best": best_alpha(self.loss, sums, self.targets, self.beta * self.d * m),
                  "paper": sdp.paper_alpha(sum(rhos), m),
                  "least-squares": least_squares_alpha(sums, self.targets)}
        alpha = alphas[config.alpha]
        details: dict[str, Any] = {
            "method": "sdp", "rho": rhos[0] if len(rhos) == 1 else rhos,
            "alpha_best": alphas["best"], "alpha_paper": alphas["paper"],
            "alpha_least_squares": alphas["least-squares"], "alpha_used": config.alpha,
            "covariance_residual": self.residual, "covariance_shaping": config.shaping}
        return self._model(U, V, alpha, seed, details, class_neurons)

    def _keep_lower(self, drawn: BilinearModel, refitted: BilinearModel) -> BilinearModel:
        """The refit's network if its objective (21) is lower than Algorithm 1's."""
        if refitted.training["objective"] < drawn.training["objective"]:
            refitted.training["refit_kept"] = True
            return refitted
        self.progress(f"the {self.config.output_refit} refit's network "
                      f"({refitted.training['objective']:.6g}) is no better than Algorithm "
                      f"1's ({drawn.training['objective']:.6g}); keeping that")
        # The refit's own figures stay in the report: they say how far it got.
        drawn.training.update({key: value for key, value in refitted.training.items()
                               if key.startswith(("refit_", "colgen_"))},
                              objective_refit=refitted.training["objective"])
        return drawn

    def _columns(self, seed: int, m: int) -> list[colgen.Columns]:
        """Column generation for every output, stopped by how networks of about m neurons
        round from it (cached: one per seed serves every m, as one SDP does; a narrower
        network picks the best of its snapshots)."""
        if seed not in self._column_cache:
            columns = []
            outputs = len(self.covariances)
            width = max(m // outputs, 1)
            for output, ((Q, _), y) in enumerate(zip(self.covariances,
                                                     self._output_targets())):
                which = "" if outputs == 1 else f" for output {output + 1}"
                self.progress(f"refitting the output layer by column generation{which}")
                columns.append(colgen.generate_columns(
                    self.lifted_train, y, self.loss, self.beta * self.d, Q,
                    np.random.default_rng([seed, output, COLGEN_STREAM]),
                    self.config.pricing_rounds(outputs), self.progress,
                    partial(self._rounded_objective, y=y, width=width)))
            self._column_cache[seed] = columns
        return self._column_cache[seed]

    def _output_targets(self) -> list[np.ndarray]:
        """The training targets of each output."""
        if self.targets.ndim == 1:
            return [self.targets]
        return [self.targets[:, output] for output in range(self.targets.shape[1])]

    def _rounded_objective(self, part: colgen.Columns, y: np.ndarray, width: int) -> float:
        """Objective (21) of one output's columns rounded to ``width`` neurons, α exact."""
        U, V, _ = refit.integer_network([(part.U, part.V, part.weights)], width)
        sums = np.sum((self.lifted_train @ U.T) * (self.lifted_train @ V.T), axis=1)
        alpha = best_alpha(self.loss, sums, y, self.beta * self.d * width)
        return objective(self.loss, self.beta, self.d, width, alpha, alpha * sums, y)

    def _colgen_network(self, m: int, seed: int, drawn: BilinearModel) -> BilinearModel:
        """The column generation's weights rounded to m neurons (:mod:`.colgen`)."""
        width = max(m // len(self.covariances), 1)
        columns = [min(part.snapshots or [part],
                       key=partial(self._rounded_objective, y=y, width=width))
                   for part, y in zip(self._columns(seed, m), self._output_targets())]
        U, V, class_neurons = refit.integer_network(
            [(part.U, part.V, part.weights) for part in columns], m)
        if len(columns) == 1:
            class_neurons = ()
        sums = self._sums(U, V, class_neurons)
        alpha = best_alpha(self.loss, sums, self.targets, self.beta * self.d * m)
        return self._model(U, V, alpha, seed, {
            **self._refit_details(drawn), "alpha_best": alpha,
            "refit_objective_continuous": sum(part.objective for part in columns),
            "refit_neurons": sum(len(part.weights) for part in columns),
            "colgen_rounds": max(part.rounds for part in columns),
            "refit_converged": all(part.converged for part in columns)}, class_neurons)

    def _lasso_network(self, drawn: BilinearModel, seed: int) -> BilinearModel:
        """The Lasso refit over 4m neurons drawn from Q* (:func:`.refit.lasso_weights`)."""
        m = drawn.m
        candidates = refit.REFIT_CANDIDATES * m
        # The same generator: the first m candidates are Algorithm 1's first draw.
        U, V = sdp.sample_neurons(self.Q, candidates, np.random.default_rng(seed))
        S = (self.lifted_train @ U.T) * (self.lifted_train @ V.T)
        start = np.zeros(candidates)
        start[:m] = drawn.alpha
        self.progress(f"refitting the output layer over {candidates} sampled neurons (Lasso)")
        weights = refit.lasso_weights(S, self.dataset.y_train, self.loss,
                                      self.beta * self.d, start)
        U_fit, V_fit, _ = refit.integer_network([(U, V, weights)], m)
        alpha = best_alpha(self.loss, self._sums(U_fit, V_fit, ()), self.targets,
                           self.beta * self.d * m)
        return self._model(U_fit, V_fit, alpha, seed, {
            **self._refit_details(drawn), "alpha_best": alpha,
            "refit_candidates": candidates,
            "refit_neurons": int(np.count_nonzero(weights))})

    @staticmethod
    def _refit_details(drawn: BilinearModel) -> dict[str, Any]:
        """A refit network's training details: Algorithm 1's, its α chosen exactly."""
        return {**{key: drawn.training[key] for key in (
            "method", "rho", "covariance_residual", "covariance_shaping")},
            "alpha_used": "best", "alpha_paper": None, "alpha_least_squares": None}

    def _flip_search(self, network: BilinearModel) -> BilinearModel:
        """Single-entry flips (:mod:`.flips`), then α again exactly for the new neurons."""
        passes = self.config.local_search
        self.progress(f"local search: up to {passes} passes of single-entry flips over "
                      f"{network.m} neurons")
        U, V, count = flips.flip_search(self.lifted_train, self.targets, self.loss, network.U,
                                        network.V, network.alpha, network.class_neurons,
                                        passes)
        sums = self._sums(U, V, network.class_neurons)
        alpha = best_alpha(self.loss, sums, self.targets, self.beta * self.d * network.m)
        training = network.training
        searched = self._model(U, V, alpha, int(training["seed"]),
                               {"method": training["method"]}, network.class_neurons)
        # The search's figures over the network's other details (refit, draws, ρ …).
        searched.training = {**training, **searched.training, "local_search": passes,
                             "flips": count, "objective_before_search": training["objective"],
                             "alpha_best": alpha, "alpha_used": "best"}
        return searched

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
        details: dict[str, Any] = {"method": method, "epochs": config.epochs}
        if method == "backprop":
            U, V, alpha, trace, _ = baselines.backprop_ptq(X, y, m, loss, beta, sgd, evaluate)
        elif method == "ste":
            U, V, alpha, trace = baselines.ste_binaryconnect(X, y, m, loss, beta, sgd, evaluate)
        else:
            schedule = Annealing(config.step_size or 1.0, config.step_rule, config.anneal)

            def exact_alpha(U: np.ndarray, V: np.ndarray) -> float:
                return best_alpha(loss, self._sums(U, V, ()), y, beta * self.d * len(U))

            U, V, alpha, trace = baselines.askew_sgd(
                X, y, m, loss, beta, sgd, schedule, config.step_size is None, exact_alpha,
                evaluate)
            details.update(step_rule=config.step_rule, anneal=config.anneal,
                           alpha_used="best", alpha_best=alpha)
        return self._model(U, V, alpha, seed, {**details, "step_size": trace.step_size}), trace

    def _sums(self, U: np.ndarray, V: np.ndarray, class_neurons: tuple[int, ...]
              ) -> np.ndarray:
        """Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) on the training rows, per output."""
        products = (self.lifted_train @ U.T) * (self.lifted_train @ V.T)
        return BilinearModel.sum_by_output(products, class_neurons)

    def _model(self, U: np.ndarray, V: np.ndarray, alpha: float, seed: int,
               details: dict[str, Any], class_neurons: tuple[int, ...] = ()) -> BilinearModel:
        """The model file's content for weights U, V and scale α, with the certificate."""
        config, m = self.config, len(U)
        sums = self._sums(U, V, class_neurons)
        value = objective(self.loss, self.beta, self.d, m, alpha, alpha * sums, self.targets)
        solutions = self.solutions
        # The outputs' SDP blocks are independent: the network's bound is their sum.
        lower = sum(solution.lower_bound for solution in solutions)
        # The zero network's objective: what "far from the bound" is measured against.
        trivial = loss_value(self.loss, np.zeros_like(sums), self.targets)
        statuses = sorted({solution.status for solution in solutions})
        training = {
            "method": details["method"], "loss": config.loss, "beta": config.beta, "m": m,
            "seed": seed, "data": self.dataset.source, "solver": config.solver,
            "sdp_status": ", ".join(statuses), "lower_bound": lower, "objective": value,
            "gap": value - lower, "trivial_objective": trivial,
            "relative_gap": (value - lower) / max(trivial, 1e-300),
            "sdp_objective": sum(solution.objective for solution in solutions),
            "sdp_gap": sum(solution.gap for solution in solutions),
            "sdp_iterations": sum(solution.iterations for solution in solutions),
            "weight_levels": config.weight_levels,
            "standardize": config.standardize, "bias": config.bias,
            "feature_max_abs": self.inputs.feature_max_abs, **details,
        }
        dataset = self.dataset
        return BilinearModel(U=U, V=V, alpha=alpha, class_neurons=class_neurons,
                             encoder=dataset.encoder,
                             standardizer=self.inputs.standardizer,
                             lifting=self.inputs.lifting, task=dataset.task,
                             target=dataset.target, label_names=dataset.label_names,
                             training=training, timings={"sdp_seconds": sum(
                                 solution.seconds for solution in solutions)})
