"""Training options of the LUT family."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.fixedpoint import check_input_bits
from qnnhw.lasso import LASSO_SOLVERS
from qnnhw.training import TrainingOptions, check_beta

from .dictionary import SAMPLINGS
from .model import MAX_FAN_IN

__all__ = ["PENALTIES", "REFITS", "LutConfig"]

#: Weight decay of the output layer: one term per weight (each non-zero weight is adder
#: logic, so this counts what the hardware pays), or one per neuron (a neuron is kept or
#: dropped for every class at once: the group Lasso).
PENALTIES = ("l1", "group")
#: How the kept neurons' output weights are fitted again after the Lasso chose them (its
#: support kept): by the cross-entropy of the classes (the loss a classifier is judged by;
#: it gained 0.9 points of digits accuracy over the squared refit, docs/results.md), by the
#: Lasso's squared loss with less shrinkage (the relaxed Lasso; regression), or not at all.
REFITS = ("logistic", "squared", "none")
#: β of the Lasso when none is given: on digits it keeps 590 to 667 neurons with about 660
#: non-zero weights (ten splits), which fit the iCEBreaker (docs/results.md) …
DEFAULT_BETA = 25.0
#: … the squared refit of the kept neurons takes this share of it (the relaxed Lasso) …
DEFAULT_REFIT_SHARE = 0.1
#: … and the logistic refit's weight decay λ is this (the cross-entropy is summed over the
#: training rows: on digits' 1,438 it is about 0.5 % of them; 2 and 30 were within 0.3
#: points of it on ten splits).
DEFAULT_REFIT_DECAY = 8.0
#: Candidate neurons sampled for the Lasso, and the largest dictionary allowed.
DEFAULT_NEURONS, MAX_NEURONS = 20_000, 1_000_000

ConfigT = TypeVar("ConfigT", bound="LutConfig")


def _positive(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QnnhwError(f"@{name} must be an integer from {low} to {high}, not {value!r}",
                         name)
    return value


@dataclass
class LutConfig(TrainingOptions):
    """How to train a LUT network; ``None`` means the default.

    Parameters
    ----------
    beta : float
        Lasso regularisation β (default 25; more β, fewer neurons and weights).
    neurons : int
        Candidate neurons sampled into the dictionary (default 20,000, at most 10⁶).
    thresholds : int
        Thermometer thresholds T per feature (default 5).
    fan_in : int
        Bits k of each neuron, 1 to 6 (default 4: one LUT4).
    sampling : {"local", "random"}
        A neuron's bits around one pixel (default for image data) or anywhere.
    image : (int, int)
        Height and width of the image whose pixels the columns are (digits and IDX
        folders know theirs).
    output_bits : int
        Width of the integer output weights (default 4).
    penalty : {"l1", "group"}
        Per weight (default) or per neuron (group Lasso).
    refit : {"logistic", "squared", "none"}
        How the kept neurons' output weights are fitted again on the Lasso's support:
        cross-entropy with weight decay (default for classes), the Lasso's loss with less
        shrinkage (default for regression), or not.
    refit_beta : float
        The refit's regularisation: the weight decay λ of the logistic refit (default 8),
        the ℓ1 β of the squared refit (default β/10).
    input_bits : int
        Width B of the integer inputs the network is trained for (default: the fewest bits
        that keep the training values apart, :func:`~qnnhw.families.lut.train.grid_bits`).
    solver : {"FISTA", "CLARABEL", "SCS"}
    seed, standardize
        As in :class:`~qnnhw.training.TrainingOptions`, but image data is not standardised
        by default (its pixels share one scale); a LUT network takes no bias feature.
    """

    FAMILY = "lut"
    METHODS = ("lasso",)
    SOLVERS = LASSO_SOLVERS
    PROBLEM = "Lasso"

    neurons: int | None = None
    thresholds: int = 5
    fan_in: int = 4
    sampling: str | None = None
    image: tuple[int, int] | None = None
    output_bits: int = 4
    penalty: str = "l1"
    input_bits: int | None = None
    refit: str | None = None
    refit_beta: float | None = None

    def resolved(self: ConfigT, dataset: Dataset) -> ConfigT:
        if self.bias:
            raise QnnhwError("a LUT network takes no bias feature (each neuron's threshold "
                             "plays its part); drop @bias", "bias")
        standardize = self.standardize
        if standardize is None and dataset.image_shape is not None and self.image is None:
            standardize = False   # pixels share one scale: their integers are the grid
        return super(LutConfig, replace(self, bias=False, standardize=standardize)
                     ).resolved(dataset)

    def resolve(self, dataset: Dataset) -> LutConfig:
        if self.loss not in (None, "squared"):
            raise QnnhwError("LUT networks are trained with the squared @loss (the Lasso); "
                             "drop @loss hinge", "loss")
        beta = check_beta(DEFAULT_BETA if self.beta is None else self.beta)
        neurons = _positive(DEFAULT_NEURONS if self.neurons is None else self.neurons,
                            "neurons", 1, MAX_NEURONS)
        _positive(self.thresholds, "thresholds", 1, 255)
        _positive(self.fan_in, "fan_in", 1, MAX_FAN_IN)
        _positive(self.output_bits, "output_bits", 2, 16)
        if self.input_bits is not None:
            check_input_bits(self.input_bits)
        refit = self.refit or ("logistic" if dataset.task == "classification" else "squared")
        if refit not in REFITS:
            raise QnnhwError(f"unknown @refit {refit!r}; choose one of {', '.join(REFITS)}",
                             "refit")
        if refit == "logistic" and dataset.task != "classification":
            raise QnnhwError("the logistic refit needs classes, and this is a regression; "
                             "give @refit squared or none", "refit")
        refit_beta = None
        if refit == "none" and self.refit_beta is not None:
            raise QnnhwError("@refit_beta regularises a refit, and @refit is none; drop one "
                             "of them", ("refit_beta", "refit"))
        if refit != "none":
            default = DEFAULT_REFIT_DECAY if refit == "logistic" else DEFAULT_REFIT_SHARE * beta
            refit_beta = check_beta(default if self.refit_beta is None else self.refit_beta)
            if refit_beta == 0:
                raise QnnhwError("@refit_beta must be above 0 (the weight decay keeps the "
                                 "refit bounded); give @refit none for no refit",
                                 ("refit_beta", "refit"))
        if self.penalty not in PENALTIES:
            raise QnnhwError(f"unknown @penalty {self.penalty!r}; choose one of "
                             f"{', '.join(PENALTIES)}", "penalty")
        columns = dataset.X_train.shape[1]
        image = dataset.image_shape if self.image is None else tuple(self.image)
        if image is not None:
            height, width = image
            if isinstance(height, bool) or not isinstance(height, int) or height < 1 or \
                    isinstance(width, bool) or not isinstance(width, int) or width < 1 or \
                    height * width != columns:
                raise QnnhwError(f"@image {height} {width} does not match the data's "
                                 f"{columns} input columns; give H W with H·W = {columns}",
                                 "image")
        sampling = self.sampling or ("local" if image is not None else "random")
        if sampling not in SAMPLINGS:
            raise QnnhwError(f"unknown @sampling {sampling!r}; choose one of "
                             f"{', '.join(SAMPLINGS)}", "sampling")
        if sampling == "local" and image is None:
            raise QnnhwError("@sampling local needs the image shape of the columns; give "
                             "@image H W", ("sampling", "image"))
        return replace(self, beta=beta, loss="squared", neurons=neurons, sampling=sampling,
                       refit=refit, refit_beta=refit_beta,
                       image=None if image is None else (int(image[0]), int(image[1])))
