"""Training a LUT network: a dictionary of LUT neurons, the Lasso over it, integer weights.

1. Thermometer bits of the standardised training features (on the grid of the default
   B-bit inputs, so that the hardware's bits are the training's), a dictionary of N candidate
   neurons over them with distinct activation patterns D (:mod:`.dictionary`).
2. The Lasso over D (:mod:`qnnhw.lasso`), certified by its duality gap: with the ``l1``
   penalty one Lasso per output, min ½‖D w꜀ + c꜀ − y꜀‖² + β‖w꜀‖₁, whose gaps add up; with
   ``group`` the group Lasso over all outputs at once.
3. The neurons with a non-zero weight are the network. Their output weights are fitted again
   on the Lasso's support (``refit``): by the cross-entropy of the classes with weight decay
   (:mod:`qnnhw.logistic`), or by the Lasso with less shrinkage, each certified over the
   kept neurons.
4. The weights become ``output_bits``-bit integers at the scale s (among a grid) that fits
   the training split best, and what the rounding costs is reported beside the certificate.
   Neurons whose weights all round to 0 are dropped: the model file's network is the one
   the hardware computes.
"""

from __future__ import annotations

import time

import numpy as np

from qnnhw.dataset import Dataset, class_indices
from qnnhw.errors import QnnhwError
from qnnhw.families.base import Progress, silent
from qnnhw.fixedpoint import DEFAULT_INPUT_BITS, choose_frac, quantize_inputs, quantize_scaled
from qnnhw.lasso import solve_lasso
from qnnhw.logistic import cross_entropy, solve_logistic
from qnnhw.losses import loss_value
from qnnhw.training import check_memory, prepare_inputs

from .config import LutConfig
from .dictionary import sample_dictionary, thermometer_bits, thermometer_thresholds
from .fixedpoint import BIAS_BITS
from .model import LutModel

__all__ = ["LutTrainer", "grid_bits", "lut_objective"]

#: The widest inputs an integer data set may ask for (the input format's limit is 24).
MAX_INPUT_BITS = 16
#: Scales tried for the integer weights, as multiples of the one that maps the largest
#: weight to the largest integer (above 1, the largest weights saturate).
SCALE_FACTORS = np.geomspace(0.5, 8.0, 49)


def grid_bits(X: np.ndarray, max_abs: float) -> int:
    """The input width B to train for: for integer features (pixels), the fewest bits that
    hold every training value exactly; otherwise the fewest that keep each feature's training
    values as distinct as :data:`~qnnhw.fixedpoint.DEFAULT_INPUT_BITS` bits do."""
    def grid(bits: int) -> np.ndarray:
        frac = choose_frac(bits, max_abs)
        return quantize_inputs(X, bits, frac) / 2.0 ** frac

    def distinct(values: np.ndarray) -> list[int]:
        return [len(np.unique(column)) for column in values.T]

    if np.array_equal(X, np.rint(X)):
        for bits in range(2, MAX_INPUT_BITS + 1):
            if np.array_equal(grid(bits), X):
                return bits
    wanted = distinct(grid(DEFAULT_INPUT_BITS))
    return next(bits for bits in range(2, DEFAULT_INPUT_BITS + 1)
                if distinct(grid(bits)) == wanted)


def lut_objective(penalty: str, beta: float, W: np.ndarray, prediction: np.ndarray,
                  Y: np.ndarray) -> float:
    """½‖prediction − Y‖² + β·(Σ|Wₖ꜀| for l1, Σₖ‖Wₖ‖₂ for group)."""
    W = W.reshape(len(W), -1)
    norm = np.abs(W).sum() if penalty == "l1" else np.sqrt((W * W).sum(axis=1)).sum()
    return loss_value("squared", prediction, Y) + beta * float(norm)


class LutTrainer:
    """Train a LUT network by the Lasso on a data set's training split.

    Parameters
    ----------
    dataset : Dataset
    config : LutConfig
        Resolved against ``dataset`` here.
    progress : callable, optional
        Receives one line per step.
    """

    def __init__(self, dataset: Dataset, config: LutConfig, progress: Progress | None = None):
        self.dataset = dataset
        self.config = config.resolved(dataset)
        self.progress = progress or silent
        self.inputs = prepare_inputs(dataset, bool(self.config.standardize), False)

    def _positions(self) -> np.ndarray | None:
        """(row, column) of each kept feature's pixel, for local neurons."""
        if self.config.sampling != "local":
            return None
        assert self.config.image is not None
        width = self.config.image[1]
        return np.array([divmod(column, width) for column in self.inputs.standardizer.keep])

    def train(self, seed: int | None = None) -> LutModel:
        config, dataset = self.config, self.dataset
        seed = config.seed if seed is None else seed
        assert config.beta is not None and config.neurons is not None
        # The hardware compares B-bit integers: thresholds and bits come from the training
        # features on that grid, so that training sees the bits the hardware computes.
        input_bits = config.input_bits or grid_bits(self.inputs.lifted,
                                                    self.inputs.feature_max_abs)
        frac = choose_frac(input_bits, self.inputs.feature_max_abs)
        features = quantize_inputs(self.inputs.lifted, input_bits, frac) / 2.0 ** frac
        self._check_memory(len(features), config.neurons)
        started = time.perf_counter()
        thresholds = thermometer_thresholds(features, config.thresholds)
        bits = thermometer_bits(features, thresholds)
        self.progress(f"sampling {config.neurons} {config.sampling} neurons of {config.fan_in} "
                      f"bits over {bits.shape[1]} thermometer bits")
        dictionary = sample_dictionary(bits, neurons=config.neurons, fan_in=config.fan_in,
                                       thresholds=config.thresholds,
                                       positions=self._positions(), seed=seed,
                                       progress=self.progress)
        sample_seconds = time.perf_counter() - started
        if not len(dictionary.theta):
            raise QnnhwError("every sampled neuron is constant on the training split; give "
                             "more @thresholds or @neurons", ("thresholds", "neurons"))
        D = dictionary.patterns.astype(float)
        Y = dataset.train_targets
        targets = Y.reshape(len(Y), -1)
        self.progress(f"Lasso ({config.penalty}) over {D.shape[1]} distinct neurons, "
                      f"beta={config.beta:g}")
        W, bias, objective, gap, iterations, lasso_seconds = self._lasso(D, targets,
                                                                         config.beta)
        kept = np.flatnonzero(np.abs(W).sum(axis=1) > 0)
        if not len(kept):
            raise QnnhwError(f"@beta {config.beta:g} is so large that the Lasso keeps no "
                             f"neuron; give a smaller @beta", "beta")
        W, D = W[kept], D[:, kept]
        fitted_objective = objective
        refit: dict[str, float | str] = {"refit": str(config.refit)}
        if config.refit != "none":
            assert config.refit_beta is not None
            self.progress(f"{config.refit} refit of the {len(kept)} kept neurons, "
                          f"{'lambda' if config.refit == 'logistic' else 'beta'}="
                          f"{config.refit_beta:g}")
            W, bias, fitted_objective, refit_gap, refit_seconds = self._refit(D, W != 0)
            refit.update(refit_beta=config.refit_beta, refit_objective=fitted_objective,
                         refit_gap=refit_gap)
            lasso_seconds += refit_seconds
        scale, rounded_W, rounded_bias = self._integer_weights(D, targets, W, bias)
        # A neuron whose weights all round to 0 adds nothing in hardware: drop it.
        used = np.flatnonzero(np.abs(rounded_W).sum(axis=1) > 0)
        kept, W, D, rounded_W = kept[used], W[used], D[:, used], rounded_W[used]
        shape = (len(kept),) if Y.ndim == 1 else (len(kept), targets.shape[1])
        model = LutModel(
            thresholds=thresholds, inputs=dictionary.inputs[kept],
            weights=dictionary.weights[kept], theta=dictionary.theta[kept],
            w=W.reshape(shape), bias=float(bias[0]) if Y.ndim == 1 else bias,
            output_bits=config.output_bits, output_scale=scale, encoder=dataset.encoder,
            standardizer=self.inputs.standardizer, lifting=self.inputs.lifting,
            task=dataset.task, target=dataset.target, label_names=dataset.label_names)
        rounded_prediction = (D @ rounded_W + rounded_bias) / scale
        model.training = {
            "method": "lasso", "family": "lut", "loss": "squared", "beta": config.beta,
            "m": model.m, "seed": seed, "data": dataset.source, "objective": objective,
            "lasso_objective": objective, "lasso_gap": gap, "lasso_lower_bound": objective - gap,
            "lasso_iterations": iterations, "penalty": config.penalty,
            "dictionary_sampled": dictionary.sampled, "dictionary": int(len(dictionary.theta)),
            "thresholds": config.thresholds, "fan_in": config.fan_in,
            "sampling": config.sampling, "output_bits": config.output_bits,
            "nonzero_weights": int(np.count_nonzero(rounded_W)),
            "fitted_objective": fitted_objective, **refit,
            "rounded_objective": self._fitted_objective(rounded_W / scale,
                                                        rounded_prediction, targets),
            "standardize": config.standardize, "bias": False, "input_bits": input_bits,
            "feature_max_abs": self.inputs.feature_max_abs}
        model.timings = {"sample_seconds": sample_seconds, "lasso_seconds": lasso_seconds}
        return model

    @staticmethod
    def _check_memory(rows: int, neurons: int) -> None:
        """The dictionary's patterns as floats, and their centred copy, are 16 bytes per row
        and neuron."""
        check_memory(16 * rows * neurons, f"a dictionary of {neurons} neurons over {rows} "
                     f"training rows", "give fewer @neurons or @subsample rows",
                     ("neurons", "subsample"))

    def _lasso(self, D: np.ndarray, targets: np.ndarray, beta: float,
               support: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, float, float, int, float]:
        """Weights (N × C), biases, objective, duality gap, iterations and seconds; with
        ``support`` (N × C booleans), each output's weights only where it is set."""
        config = self.config
        solver = str(config.solver)
        if config.penalty == "group" or targets.shape[1] == 1:
            y = targets if targets.shape[1] > 1 else targets[:, 0]
            solution = solve_lasso(D, y, beta, solver=solver, progress=self.progress)
            W = solution.w.reshape(D.shape[1], -1)
            return (W, np.atleast_1d(np.asarray(solution.bias, dtype=float)),
                    solution.objective, solution.gap, solution.iterations, solution.seconds)
        # The l1 penalty separates: one Lasso per output, certificates added.
        columns = []
        biases, objective, gap, iterations, seconds = [], 0.0, 0.0, 0, 0.0
        for output in range(targets.shape[1]):
            chosen = (np.arange(D.shape[1]) if support is None
                      else np.flatnonzero(support[:, output]))
            solution = solve_lasso(D[:, chosen], targets[:, output], beta, solver=solver,
                                   progress=self.progress)
            weights = np.zeros(D.shape[1])
            weights[chosen] = solution.w
            columns.append(weights)
            biases.append(float(solution.bias))
            objective += solution.objective
            gap += solution.gap
            iterations += solution.iterations
            seconds += solution.seconds
            self.progress(f"  output {output + 1} of {targets.shape[1]}: "
                          f"{np.count_nonzero(solution.w)} neurons, gap {solution.gap:.1e}")
        return np.stack(columns, axis=1), np.array(biases), objective, gap, iterations, seconds

    def _labels(self) -> np.ndarray:
        return class_indices(self.dataset.y_train, self.dataset.classes)

    def _refit(self, D: np.ndarray, support: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        """Weights, biases, objective, duality gap and seconds of the refit on ``support``."""
        config = self.config
        assert config.refit_beta is not None
        if config.refit == "squared":
            targets = self.dataset.train_targets.reshape(len(D), -1)
            W, bias, objective, gap, _, seconds = self._lasso(D, targets, config.refit_beta,
                                                              support=support)
            return W, bias, objective, gap, seconds
        solution = solve_logistic(D, self._labels(), self.dataset.classes, support,
                                  config.refit_beta)
        return (solution.w.reshape(D.shape[1], -1),
                np.atleast_1d(np.asarray(solution.bias, dtype=float)),
                solution.objective, solution.gap, solution.seconds)

    def _fitted_objective(self, W: np.ndarray, prediction: np.ndarray,
                          targets: np.ndarray) -> float:
        """The objective the output weights were last fitted by, at (W, prediction)."""
        config = self.config
        if config.refit == "logistic":
            assert config.refit_beta is not None
            logits = prediction if prediction.shape[1] > 1 \
                else np.hstack([np.zeros_like(prediction), prediction])
            return (cross_entropy(logits, self._labels())
                    + 0.5 * config.refit_beta * float(np.vdot(W, W)))
        beta = config.beta if config.refit == "none" else config.refit_beta
        assert beta is not None
        return lut_objective(config.penalty, beta, W,
                             prediction, targets)

    def _integer_weights(self, D: np.ndarray, targets: np.ndarray, W: np.ndarray,
                         bias: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The scale s whose rounded weights fit the training split best (accuracy for
        classes, squared loss otherwise; then fewer weight bits), and those weights."""
        bits = self.config.output_bits
        top = (1 << (bits - 1)) - 1
        base = top / max(float(np.abs(W).max()), 1e-300)
        best: tuple[tuple[float, int], float, np.ndarray, np.ndarray] | None = None
        classification = self.dataset.task == "classification"
        truth = (class_indices(self.dataset.y_train, self.dataset.classes)
                 if classification else None)
        for factor in SCALE_FACTORS:
            scale = base * float(factor)
            rounded_W = quantize_scaled(W, bits, scale)
            rounded_bias = quantize_scaled(bias, BIAS_BITS, scale)
            outputs = D @ rounded_W + rounded_bias
            if classification:
                predicted = (outputs[:, 0] > 0).astype(int) if outputs.shape[1] == 1 \
                    else np.argmax(outputs, axis=1)
                fit = -float(np.mean(predicted == truth))
            else:
                fit = loss_value("squared", outputs / scale, targets)
            cost = int(sum(bin(abs(int(v))).count("1") for v in rounded_W.ravel()))
            if best is None or (fit, cost) < best[0]:
                best = ((fit, cost), scale, rounded_W, rounded_bias)
        assert best is not None
        return best[1], best[2], best[3]
