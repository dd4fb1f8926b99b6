"""The ±1 bilinear network and its part of the model file.

f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) on the lifted, standardised input x̃. The file's ``network``
object holds ``m``, ``d``, ``alpha`` and the ±1 matrices ``U`` and ``V`` (m × d, one row per
neuron).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.model import Network, finite_number, sign_matrix

__all__ = ["BilinearModel"]


@dataclass(kw_only=True)
class BilinearModel(Network):
    """A trained ±1 bilinear network with one output scale α.

    Parameters
    ----------
    U, V : ndarray of int8, shape (m, d)
        First-layer weights, every entry +1 or −1; row j is neuron j.
    alpha : float
        The one second-layer weight shared by every neuron.
    encoder, standardizer, lifting, task, target, label_names, training
        As in :class:`~qnnhw.model.Network`.
    """

    FAMILY = "bilinear"

    U: np.ndarray
    V: np.ndarray
    alpha: float

    @property
    def m(self) -> int:
        return int(self.U.shape[0])

    @property
    def d(self) -> int:
        """Lifted input dimension (what the hidden layer sees)."""
        return int(self.U.shape[1])

    def neuron_sums(self, lifted: np.ndarray) -> np.ndarray:
        """s = Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) for each lifted row x̃."""
        return np.sum((lifted @ self.U.T.astype(float)) * (lifted @ self.V.T.astype(float)),
                      axis=1)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.alpha * self.neuron_sums(self.lifting.apply(self.features(X)))

    def network_dict(self) -> dict[str, Any]:
        return {"m": self.m, "d": self.d, "alpha": self.alpha,
                "U": self.U.astype(int).tolist(), "V": self.V.astype(int).tolist()}

    @classmethod
    def from_network(cls, network: dict[str, Any], d: int, common: dict[str, Any]
                     ) -> BilinearModel:
        U = sign_matrix(network.get("U"), "U", d)
        V = sign_matrix(network.get("V"), "V", d)
        if U.shape != V.shape:
            raise QnnhwError(f"network.U has {U.shape[0]} neurons but network.V has "
                             f"{V.shape[0]}")
        if network.get("m") not in (None, U.shape[0]):
            raise QnnhwError(f"network.m = {network.get('m')!r} but U has {U.shape[0]} rows")
        return cls(U=U, V=V, alpha=finite_number(network.get("alpha"), "network.alpha"),
                   **common)
