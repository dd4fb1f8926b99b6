"""Training options of the bilinear family."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.losses import DEFAULT_BETA, check_loss
from qnnhw.training import TrainingOptions, check_beta

__all__ = ["ALPHAS", "METHODS", "REFITS", "REFIT_ROUNDS", "REFIT_ROUNDS_PER_OUTPUT",
           "SDP_SOLVERS", "BilinearConfig"]

#: Training methods: the SDP and Algorithm 1, and the two baselines of ``baselines``.
METHODS = ("sdp", "backprop", "ste", "askewsgd")


#: The convex refits of the output layer (the first is the default).
REFITS = ("colgen", "lasso", "none")
#: Column generation's pricing rounds at most, by default, shared by the outputs (each round
#: of each output solves a linear program over n rows): 60 for one output, 6 each for ten.
REFIT_ROUNDS = 60
#: … but never fewer than this per output.
REFIT_ROUNDS_PER_OUTPUT = 5
#: How the sampled neurons' output scale α is chosen (the first is the default).
ALPHAS = ("best", "paper", "least-squares")
#: The SDP's solvers: ``auto`` (the default) chooses between qnnhw's own interior-point method
#: and Burer–Monteiro by size; SCS and CLARABEL run through CVXPY.
SDP_SOLVERS = ("auto", "IPM", "BM", "SCS", "CLARABEL")


@dataclass
class BilinearConfig(TrainingOptions):
    """How to train a ±1 bilinear network; ``None`` means the default for the data set.

    Parameters
    ----------
    method : {"sdp", "backprop", "ste", "askewsgd"}
        The SDP and Algorithm 1 (default), or a baseline (which still reports the SDP bound).
    m : int
        Neurons sampled by Algorithm 1 (or trained by a baseline).
    beta : float
        Regularisation β (default: the paper's, 1e-4 for squared loss, 10 for hinge).
    loss : {"squared", "hinge"}
        Default: hinge for two classes, squared otherwise.
    weight_levels : int
        First-layer weight levels {−(L−1), …, L−1} by feature replication (2: ±1).
    solver : {"auto", "IPM", "BM", "SCS", "CLARABEL"}
        The SDP solver: ``auto`` (qnnhw's interior-point method while its n + 2d square
        system fits in memory, qnnhw's Burer–Monteiro beyond).
    alpha : {"best", "paper", "least-squares"}
        The output scale of the sampled neurons: ``best`` (the default) minimises the
        training objective (21) over α exactly, 0 included, so the network is never worse
        than the zero network; ``paper`` is Algorithm 1's ρ*π/(γm); ``least-squares`` fits
        the training targets without the penalty.
    output_refit : {"colgen", "lasso", "none"}
        The convex refit of the output layer, kept when its network's objective is lower
        than Algorithm 1's: ``colgen`` (the default) solves it over every ±1 neuron by
        column generation (:mod:`.colgen`), ``lasso`` over 4m neurons drawn from Q*; the
        weights become integer copies of neurons on one scale (an ordinary ±1 network).
    colgen_rounds : int
        Pricing rounds of the column generation at most, per output (default: 60 shared by
        the outputs, at least 5 each).
    draws : int
        Algorithm 1's networks drawn from the one SDP solution; the lowest objective is kept.
    local_search : int
        Passes of single-entry weight flips over the chosen network (improvements only;
        0: none).
    shaping : {"krivine", "sdp"}
        How to find the covariance of Algorithm 1 (24).
    seed, bias, standardize, epochs
        As in :class:`~qnnhw.training.TrainingOptions`.
    """

    FAMILY = "bilinear"
    METHODS = METHODS
    SOLVERS = SDP_SOLVERS
    PROBLEM = "SDP"

    m: int = 1000
    weight_levels: int = 2
    alpha: Literal["best", "paper", "least-squares"] = "best"
    output_refit: Literal["colgen", "lasso", "none"] = "colgen"
    colgen_rounds: int | None = None
    draws: int = 1
    local_search: int = 0
    shaping: Literal["krivine", "sdp"] = "krivine"

    def resolve(self, dataset: Dataset) -> BilinearConfig:
        loss = self.loss or ("hinge" if dataset.task == "classification" else "squared")
        check_loss(loss, dataset.task)
        beta = check_beta(DEFAULT_BETA[loss] if self.beta is None else self.beta)
        if isinstance(self.m, bool) or not (isinstance(self.m, int) and self.m >= 1):
            raise QnnhwError(f"@m must be a positive integer, not {self.m!r}", "m")
        if self.alpha not in ALPHAS:
            raise QnnhwError(f"@alpha must be one of {', '.join(ALPHAS)}, not {self.alpha!r}",
                             "alpha")
        if isinstance(self.weight_levels, bool) or not (isinstance(self.weight_levels, int)
                                                        and self.weight_levels >= 2):
            raise QnnhwError(f"@weight_levels must be an integer ≥ 2, not "
                             f"{self.weight_levels}", "weight_levels")
        if dataset.outputs > 1 and self.method != "sdp":
            raise QnnhwError(f"@method {self.method} trains networks of one output; a "
                             f"{dataset.classes}-class network is trained by @method sdp",
                             "method")
        if self.output_refit not in REFITS:
            raise QnnhwError(f"@output_refit must be one of {', '.join(REFITS)}, not "
                             f"{self.output_refit!r}", "output_refit")
        if dataset.outputs > 1 and self.output_refit == "lasso":
            raise QnnhwError(f"@output_refit lasso refits one output; a {dataset.classes}-class "
                             f"network is refitted by @output_refit colgen", "output_refit")
        for name, value, least in (("colgen_rounds", self.pricing_rounds(dataset.outputs), 0),
                                   ("draws", self.draws, 1),
                                   ("local_search", self.local_search, 0)):
            if isinstance(value, bool) or not (isinstance(value, int) and value >= least):
                raise QnnhwError(f"@{name} must be an integer ≥ {least}, not {value!r}", name)
        if self.m < dataset.outputs:
            raise QnnhwError(f"a {dataset.classes}-class network needs a neuron per class at "
                             f"least: @m {dataset.outputs} or more", "m")
        return replace(self, beta=beta, loss=loss)

    def pricing_rounds(self, outputs: int) -> int:
        """The column generation's rounds per output: @colgen_rounds, or the default."""
        if self.colgen_rounds is None:
            return max(REFIT_ROUNDS // outputs, REFIT_ROUNDS_PER_OUTPUT)
        return self.colgen_rounds
