"""The bilinear family as scikit-learn estimators: a classifier and a regressor."""

from __future__ import annotations

from qnnhw.dataset import Dataset
from qnnhw.estimator import NetworkClassifier, NetworkEstimator, NetworkRegressor

from .config import BilinearConfig
from .train import SDPTrainer

__all__ = ["BinaryBilinearClassifier", "BinaryBilinearRegressor"]


class _BinaryBilinear(NetworkEstimator):
    """Two-layer network f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃), uⱼ, vⱼ ∈ {−1, +1}, trained by the SDP.

    Parameters
    ----------
    m : int
        Number of hidden neurons sampled by Algorithm 1.
    beta : float, optional
        Regularisation β (default: 1e-4 for squared loss, 10 for hinge).
    loss : {"squared", "hinge"}, optional
        Default: hinge for classification, squared for regression.
    seed : int
        Seed of the sampling.
    bias, standardize : bool
        Append the constant feature; standardise features on the training data.
    weight_levels : int
        Number of first-layer weight levels (2 = ±1; more by feature replication).
    solver : {"auto", "IPM", "BM", "SCS", "CLARABEL"}
    scale : {"best", "paper", "least-squares"}
        The output scale α (``--alpha`` on the command line; not ``alpha``, which
        scikit-learn reserves for a regularisation strength): the exact minimiser of the
        objective (21), 0 included (never worse than the zero network); Algorithm 1's
        ρ*π/(γm); or the least-squares fit.

    Attributes
    ----------
    model_ : BilinearModel
    lower_bound_ : float
        The SDP value: no ±1 network of any width reaches a lower training objective.
    objective_ : float
        This network's training objective (21).
    """

    CONFIG_NAMES = {"scale": "alpha"}

    def __init__(self, m: int = 1000, beta: float | None = None, loss: str | None = None,
                 seed: int = 0, bias: bool = True, standardize: bool = True,
                 weight_levels: int = 2, solver: str = "auto", scale: str = "best"):
        self.m = m
        self.beta = beta
        self.loss = loss
        self.seed = seed
        self.bias = bias
        self.standardize = standardize
        self.weight_levels = weight_levels
        self.solver = solver
        self.scale = scale

    def _train(self, data: Dataset) -> None:
        config = BilinearConfig(m=self.m, beta=self.beta, loss=self.loss, seed=self.seed,
                                weight_levels=self.weight_levels, solver=self.solver,
                                alpha=self.scale)  # type: ignore[arg-type]  # checked by the config
        self.trainer_ = SDPTrainer(data, config)
        self.model_ = self.trainer_.sample(self.m)
        self.lower_bound_ = float(self.model_.training["lower_bound"])
        self.objective_ = float(self.model_.training["objective"])


class BinaryBilinearClassifier(NetworkClassifier, _BinaryBilinear):
    __doc__ = (f"{_BinaryBilinear.__doc__}\n    As a classifier: two classes (the second the "
               f"positive one) or C ≥ 3, one output each; ``classes_`` holds them.\n")


class BinaryBilinearRegressor(NetworkRegressor, _BinaryBilinear):
    __doc__ = f"{_BinaryBilinear.__doc__}\n    As a regressor: a numeric target.\n"
