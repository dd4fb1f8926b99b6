"""Training a threshold network: the Lasso over sampled hyperplanes, or a baseline."""

from __future__ import annotations

import numpy as np

from qnnhw.dataset import Dataset
from qnnhw.families import Progress
from qnnhw.families.base import silent
from qnnhw.losses import loss_value
from qnnhw.optim import Annealing, SGDConfig
from qnnhw.training import check_memory, prepare_inputs

from . import hyperplanes
from .config import ThresholdConfig
from .model import ThresholdModel

__all__ = ["ThresholdTrainer", "lasso_objective"]


def lasso_objective(beta: float, w: np.ndarray, prediction: np.ndarray, y: np.ndarray
                    ) -> float:
    """½‖f(X) − y‖² + β‖w‖₁: the Lasso's objective, for a threshold network of any origin."""
    return loss_value("squared", prediction, y) + beta * float(np.abs(w).sum())


class ThresholdTrainer:
    """Train a threshold network by the Lasso (or a baseline) on a data set's training split.

    Parameters
    ----------
    dataset : Dataset
    config : ThresholdConfig
        Resolved against ``dataset`` here.
    progress : callable, optional
        Receives one line per step.
    """

    def __init__(self, dataset: Dataset, config: ThresholdConfig,
                 progress: Progress | None = None):
        self.dataset = dataset
        self.config = config.resolved(dataset)
        assert self.config.beta is not None
        #: β, as resolved.
        self.beta = self.config.beta
        self.progress = progress or silent
        self.inputs = prepare_inputs(dataset, bool(self.config.standardize),
                                     bool(self.config.bias))
        # The sampled hyperplanes (d integers each) and their patterns on the training rows
        # as floats, with the centred copy the Lasso makes.
        rows, d = self.inputs.lifted.shape
        neurons = int(self.config.neurons or 0)
        check_memory(8 * neurons * (d + 2 * rows), f"a sample of {neurons} hyperplanes over {rows} "
                     f"training rows", "give fewer @neurons or @subsample rows",
                     ("neurons", "subsample"))

    def train(self, seed: int | None = None) -> ThresholdModel:
        config, dataset = self.config, self.dataset
        seed = config.seed if seed is None else seed
        X, y = self.inputs.lifted, dataset.train_targets
        assert config.neurons is not None and config.hidden_bits is not None
        if config.method == "lasso":
            network = hyperplanes.train_lasso_network(
                X, y, beta=self.beta, hyperplanes=config.neurons,
                kind=config.hyperplanes, hidden_bits=config.hidden_bits,
                solver=str(config.solver), seed=seed, progress=self.progress,
                layer_widths=[config.layer_width] * (config.layers - 2))
            hidden = config.hyperplanes
        elif config.method == "askewsgd":
            network = hyperplanes.train_askew(
                X, y, neurons=config.neurons, beta=self.beta, solver=str(config.solver),
                sgd=SGDConfig(epochs=config.epochs, seed=seed),
                schedule=Annealing(config.step_size or 1.0, config.step_rule, config.anneal),
                tune_step=config.step_size is None, progress=self.progress)
            hidden = "binary"
        else:
            network = hyperplanes.train_ste(
                X, y, neurons=config.neurons, variant=str(config.method),
                beta=self.beta, hidden_bits=config.hidden_bits,
                sgd=SGDConfig(epochs=config.epochs, seed=seed), progress=self.progress)
            hidden = "real, rounded to integers"
        bits = 1 if hidden == "binary" else config.hidden_bits
        model = ThresholdModel(H=network.H, w=network.w, bias=network.bias, hidden_bits=bits,
                               layers=tuple(network.layers), encoder=dataset.encoder,
                               standardizer=self.inputs.standardizer,
                               lifting=self.inputs.lifting, task=dataset.task,
                               target=dataset.target, label_names=dataset.label_names)
        prediction = model.bias + model.activations(X) @ model.w
        value = lasso_objective(self.beta, model.w, prediction, y)
        model.training = {
            "method": config.method, "family": "threshold", "loss": "squared",
            "beta": config.beta, "m": model.m, "seed": seed, "data": dataset.source,
            "hidden_weights": hidden, "hidden_bits": bits, "objective": value,
            "layers": config.layers,
            "standardize": config.standardize, "bias": config.bias,
            "feature_max_abs": self.inputs.feature_max_abs,
            **{key: value for key, value in network.details.items()
               if not key.endswith("_seconds")}}
        model.timings = {key: float(value) for key, value in network.details.items()
                         if key.endswith("_seconds")}
        return model
