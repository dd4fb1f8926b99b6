"""Training, whatever the family: common options, the input pipeline, evaluation, the report.

Each family's configuration subclasses :class:`TrainingOptions` and its trainer uses
:func:`prepare_inputs`; :func:`train` runs the family that the configuration belongs to.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import numpy as np

from .dataset import Dataset, class_indices
from .errors import QnnhwError
from .families import Progress, family_of
from .families.base import silent
from .losses import loss_value
from .model import Lifting, Network, Standardizer
from .optim import STEP_RULES

__all__ = ["PreparedInputs", "TrainingOptions", "check_beta", "check_memory", "evaluate",
           "prepare_inputs", "report", "train"]

OptionsT = TypeVar("OptionsT", bound="TrainingOptions")


def check_beta(beta: float) -> float:
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
        raise QnnhwError(f"@beta must be a finite number ≥ 0, not {beta}", "beta")
    return float(beta)


def check_memory(needed: int, what: str, way_out: str,
                 parameters: str | tuple[str, ...]) -> None:
    """Refuse, before the work starts, what needs more than this machine's memory: ``what``
    needs about ``needed`` bytes; ``way_out`` names the @parameters that shrink it."""
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > available:
        raise QnnhwError(f"{what} needs about {needed / 2 ** 30:.0f} GiB, this machine has "
                         f"{available / 2 ** 30:.0f} GiB; {way_out}", parameters)


@dataclass
class TrainingOptions:
    """The training choices every family shares; ``None`` means the default for the data.

    A family's configuration subclasses it with its own fields, names its ``FAMILY``, its
    ``METHODS`` (the first is the default), its ``SOLVERS`` (likewise) and what the solvers
    solve (``PROBLEM``), and completes :meth:`resolve`.
    """

    FAMILY: ClassVar[str]
    METHODS: ClassVar[tuple[str, ...]]
    SOLVERS: ClassVar[tuple[str, ...]]
    PROBLEM: ClassVar[str]

    method: str | None = None
    beta: float | None = None
    loss: str | None = None
    seed: int = 0
    bias: bool | None = None
    standardize: bool | None = None
    solver: str | None = None
    epochs: int = 200
    #: ASkewSGD's schedule (:class:`~qnnhw.optim.Annealing`); no step size: tuned.
    step_rule: str = "constant"
    step_size: float | None = None
    anneal: float = 0.96

    def resolved(self: OptionsT, dataset: Dataset) -> OptionsT:
        """A copy with every ``None`` replaced by its default for ``dataset``, checked."""
        method = self.METHODS[0] if self.method is None else self.method
        if method not in self.METHODS:
            raise QnnhwError(f"@method {method!r} does not train a {self.FAMILY} network; "
                             f"choose one of {', '.join(self.METHODS)}", "method")
        if self.solver not in (None, *self.SOLVERS):
            raise QnnhwError(f"unknown {self.PROBLEM} @solver {self.solver!r}; choose one of "
                             f"{', '.join(self.SOLVERS)}", "solver")
        if isinstance(self.epochs, bool) or not (isinstance(self.epochs, int)
                                                 and self.epochs >= 1):
            raise QnnhwError(f"@epochs must be a positive integer, not {self.epochs!r}",
                             "epochs")
        if self.step_rule not in STEP_RULES:
            raise QnnhwError(f"@step_rule must be one of {', '.join(STEP_RULES)}, not "
                             f"{self.step_rule!r}", "step_rule")
        if self.step_size is not None and not (np.isfinite(self.step_size)
                                               and self.step_size > 0):
            raise QnnhwError(f"@step_size must be a positive number, not {self.step_size!r}",
                             "step_size")
        if not 0 < self.anneal < 1:
            raise QnnhwError(f"@anneal must lie strictly between 0 and 1 (ε is multiplied by "
                             f"it every epoch, so 1 or more never tightens the constraint), "
                             f"not {self.anneal!r}", "anneal")
        if isinstance(self.seed, bool) or not (isinstance(self.seed, (int, np.integer))
                                               and 0 <= self.seed < 1 << 32):
            raise QnnhwError(f"@seed must be an integer from 0 to 4294967295, not "
                             f"{self.seed!r}", "seed")
        common = replace(self, method=method,
                         solver=self.SOLVERS[0] if self.solver is None else self.solver,
                         bias=dataset.bias_default if self.bias is None else self.bias,
                         standardize=(dataset.standardize_default if self.standardize is None
                                      else self.standardize))
        return common.resolve(dataset)

    def resolve(self: OptionsT, dataset: Dataset) -> OptionsT:
        """The family's defaults and checks, after the common ones."""
        raise NotImplementedError


@dataclass
class PreparedInputs:
    """The training split through the input pipeline that the model file will carry."""

    standardizer: Standardizer
    lifting: Lifting
    #: Largest |standardised feature| on the training split: the input format is sized from it.
    feature_max_abs: float
    #: The lifted training inputs x̃ (n × d).
    lifted: np.ndarray


def prepare_inputs(dataset: Dataset, standardize: bool, bias: bool, replicas: int = 1
                   ) -> PreparedInputs:
    """Standardise on the training split, then lift (bias feature, replication)."""
    standardizer = Standardizer.fit(dataset.X_train, standardize, dataset.feature_names)
    lifting = Lifting(bias, replicas)
    features = standardizer.apply(dataset.X_train)
    return PreparedInputs(standardizer, lifting, float(np.abs(features).max()),
                          lifting.apply(features))


def evaluate(model: Network, dataset: Dataset) -> dict[str, float]:
    """Accuracy (classification) or loss (regression) on both splits."""
    out: dict[str, float] = {}
    loss = model.training.get("loss", "squared")
    for split, X, y in (("train", dataset.X_train, dataset.y_train),
                        ("test", dataset.X_test, dataset.y_test)):
        if len(y) == 0:
            continue
        if model.task == "classification":
            assert model.label_names is not None
            out[f"{split}_accuracy"] = float(np.mean(
                model.predict_classes(X) == class_indices(y, len(model.label_names))))
        else:
            prediction = model.decision_function(X)
            out[f"{split}_loss"] = loss_value(loss, prediction, y)
            out[f"{split}_relative_loss"] = loss_value(loss, prediction, y) / max(
                loss_value(loss, np.zeros_like(y), y), 1e-300)
    return out


def train(dataset: Dataset, config: TrainingOptions, progress: Progress | None = None
          ) -> tuple[Network, dict[str, Any]]:
    """Train by ``config``'s family and method; return the model and a flat report."""
    start = time.perf_counter()
    family = family_of(config)
    model = family.trainer(dataset, config, progress or silent).train()
    return model, report(model, dataset, time.perf_counter() - start)


def report(model: Network, dataset: Dataset, seconds: float) -> dict[str, Any]:
    """The flat summary printed by ``train --json``."""
    training = model.training
    out: dict[str, Any] = {
        "family": model.FAMILY, "method": training["method"], "task": model.task,
        "data": dataset.source, "n_train": len(dataset.y_train), "n_test": len(dataset.y_test),
        "m": model.m, "d": model.d, "loss": training["loss"], "beta": training["beta"],
        "seed": training["seed"], "objective": training["objective"], "train_seconds": seconds,
    }
    out.update(family_of(model).report(model))
    out.update(evaluate(model, dataset))
    return out
