"""Training options of the threshold family."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.lasso import LASSO_SOLVERS
from qnnhw.training import TrainingOptions, check_beta

from .hyperplanes import HYPERPLANES, THRESHOLD_METHODS

__all__ = ["ThresholdConfig"]

#: β of the Lasso when none is given. Validation on ionosphere picks 2–5 (median 3.5 over 10
#: splits, docs/results.md); 5 keeps the accuracy with fewer neurons, which is what the
#: hardware pays for.
DEFAULT_LASSO_BETA = 5.0
#: Hyperplanes sampled for the Lasso, and the width of a baseline threshold network.
DEFAULT_HYPERPLANES, DEFAULT_STE_NEURONS = 2000, 64
#: Bits of the integer hidden weights: rounded Gaussian hyperplanes, and baseline networks.
DEFAULT_GAUSSIAN_BITS, DEFAULT_STE_BITS = 4, 8


@dataclass
class ThresholdConfig(TrainingOptions):
    """How to train a threshold network; ``None`` means the default.

    Parameters
    ----------
    method : {"lasso", "ste", "ste-relu", "ste-lrelu", "ste-crelu", "askewsgd"}
        The convex Lasso (default), a baseline with a straight-through surrogate gradient, or
        ±1 hyperplanes by ASkewSGD with the output layer by the Lasso.
    beta : float
        Lasso regularisation β (default 5; more β, fewer neurons).
    neurons : int
        Hyperplanes sampled for the Lasso (default 2000), or the width of a baseline network
        (default 64).
    hyperplanes : {"binary", "gaussian"}
        ±1 hidden weights (no multiplier in hardware) or Gaussian ones rounded to integers.
    hidden_bits : int
        Bits of integer hidden weights (default: 4 for Gaussian hyperplanes, 8 for the STE
        baselines; 1 for binary hyperplanes and askewsgd).
    layers : int
        Weight layers; above 2, the earlier hidden layers are sampled ±1 hyperplanes and the
        Lasso chooses the last one.
    layer_width : int
        Neurons of each earlier hidden layer.
    solver : {"FISTA", "CLARABEL", "SCS"}
    loss : {"squared"}
        The Lasso's loss, the only one.
    seed, bias, standardize, epochs
        As in :class:`~qnnhw.training.TrainingOptions`.
    """

    FAMILY = "threshold"
    METHODS = THRESHOLD_METHODS
    SOLVERS = LASSO_SOLVERS
    PROBLEM = "Lasso"

    neurons: int | None = None
    hyperplanes: str = "binary"
    hidden_bits: int | None = None
    layers: int = 2
    layer_width: int = 16

    def resolve(self, dataset: Dataset) -> ThresholdConfig:
        method = self.method
        if self.loss not in (None, "squared"):
            raise QnnhwError("threshold networks are trained with the squared @loss (the "
                             "Lasso); drop @loss hinge", "loss")
        if self.hyperplanes not in HYPERPLANES:
            raise QnnhwError(f"unknown @hyperplanes {self.hyperplanes!r}; choose one of "
                             f"{', '.join(HYPERPLANES)}", "hyperplanes")
        if isinstance(self.layers, bool) or not (isinstance(self.layers, int)
                                                 and self.layers >= 2):
            raise QnnhwError(f"@layers counts the weight layers, at least 2, not "
                             f"{self.layers}", "layers")
        if self.layers > 2 and method != "lasso":
            raise QnnhwError("@layers above 2 is for @method lasso (the STE baselines are "
                             "two-layer networks)", ("layers", "method"))
        if isinstance(self.layer_width, bool) or not (isinstance(self.layer_width, int)
                                                      and self.layer_width >= 1):
            raise QnnhwError(f"@layer_width must be a positive integer, not "
                             f"{self.layer_width}", "layer_width")
        beta = check_beta(DEFAULT_LASSO_BETA if self.beta is None else self.beta)
        neurons = self.neurons
        if neurons is None:
            neurons = DEFAULT_HYPERPLANES if method == "lasso" else DEFAULT_STE_NEURONS
        if isinstance(neurons, bool) or not (isinstance(neurons, int) and neurons >= 1):
            raise QnnhwError(f"@neurons must be a positive integer, not {neurons!r}", "neurons")
        # Binary hyperplanes (the Lasso's default sample, askewsgd's ±1 weights) have 1 bit.
        binary = method == "askewsgd" or (method == "lasso" and self.hyperplanes == "binary")
        if binary:
            if self.hidden_bits not in (None, 1):
                raise QnnhwError("@hidden_bits is for @hyperplanes gaussian and the STE "
                                 "baselines; binary hyperplanes have ±1 weights",
                                 ("hidden_bits", "hyperplanes"))
            bits = 1
        elif method == "lasso":
            bits = DEFAULT_GAUSSIAN_BITS if self.hidden_bits is None else self.hidden_bits
        else:
            bits = DEFAULT_STE_BITS if self.hidden_bits is None else self.hidden_bits
        if not binary and not 2 <= bits <= 16:
            raise QnnhwError(f"@hidden_bits must be from 2 to 16, not {bits}", "hidden_bits")
        return replace(self, beta=beta, loss="squared", neurons=neurons, hidden_bits=bits)
