"""The ±1 bilinear network and its part of the model file.

f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) on the lifted, standardised input x̃. The file's ``network``
object holds ``m``, ``d``, ``alpha`` and the ±1 matrices ``U`` and ``V`` (m × d, one row per
neuron). A network with C outputs (C ≥ 3 classes) gives each neuron to one output:
``class_neurons`` lists m₀ … m_{C−1}, the first m₀ rows serve output 0 and so on, and
f꜀(x) = α Σ_{j of c} (uⱼᵀx̃)(vⱼᵀx̃) with the one α.
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
    class_neurons : tuple of int
        For C outputs, the neurons of each (consecutive rows); empty for one output.
    encoder, standardizer, lifting, task, target, label_names, training
        As in :class:`~qnnhw.model.Network`.
    """

    FAMILY = "bilinear"

    U: np.ndarray
    V: np.ndarray
    alpha: float
    class_neurons: tuple[int, ...] = ()

    @property
    def m(self) -> int:
        return int(self.U.shape[0])

    @property
    def d(self) -> int:
        """Lifted input dimension (what the hidden layer sees)."""
        return int(self.U.shape[1])

    @staticmethod
    def sum_by_output(products: np.ndarray, class_neurons: tuple[int, ...]) -> np.ndarray:
        """Neuron outputs (n × m) summed per output: (n,), or (n, C) by ``class_neurons``."""
        if not class_neurons:
            return products.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(class_neurons)[:-1]])
        return np.add.reduceat(products, starts, axis=1)

    def neuron_sums(self, lifted: np.ndarray) -> np.ndarray:
        """s = Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) for each lifted row x̃ (per output)."""
        products = (lifted @ self.U.T.astype(float)) * (lifted @ self.V.T.astype(float))
        return self.sum_by_output(products, self.class_neurons)

    def quadratic_forms(self) -> np.ndarray:
        """W꜀ = Σ_{j of c} ûⱼv̂ⱼᵀ (C × d̂ × d̂ integers), so that s꜀ = x̂ᵀW꜀x̂ exactly.

        x̂ is the lifted input without replication (d̂ = d/R): x̃ repeats each element of x̂
        R times, so uⱼ·x̃ = ûⱼ·x̂ with ûⱼ summing uⱼ over each element's R copies."""
        replicas = self.lifting.replicas
        U = self.U.astype(np.int64).reshape(self.m, -1, replicas).sum(axis=2)
        V = self.V.astype(np.int64).reshape(self.m, -1, replicas).sum(axis=2)
        bounds = np.cumsum((0, *(self.class_neurons or (self.m,))))
        return np.stack([U[start:end].T @ V[start:end]
                         for start, end in zip(bounds[:-1], bounds[1:])])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.alpha * self.neuron_sums(self.lifting.apply(self.features(X)))

    def network_dict(self) -> dict[str, Any]:
        network: dict[str, Any] = {"m": self.m, "d": self.d, "alpha": self.alpha}
        if self.class_neurons:
            network["class_neurons"] = list(self.class_neurons)
        return {**network, "U": self.U.astype(int).tolist(), "V": self.V.astype(int).tolist()}

    @staticmethod
    def outputs_in(network: dict[str, Any]) -> int:
        """C for a network with one block of neurons per class (three classes or more)."""
        blocks = network.get("class_neurons")
        return len(blocks) if isinstance(blocks, list) else 1

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
        labels = common["label_names"]
        outputs = len(labels) if labels is not None and len(labels) > 2 else 1
        counts = network.get("class_neurons", [])
        if outputs == 1 and counts:
            raise QnnhwError("network.class_neurons is for networks of three classes or more")
        if outputs > 1 and (not isinstance(counts, list) or len(counts) != outputs
                            or any(isinstance(count, bool) or not isinstance(count, int)
                                   or count < 1 for count in counts)
                            or sum(counts) != U.shape[0]):
            raise QnnhwError(f"network.class_neurons must list the neurons of each of the "
                             f"{outputs} classes (at least one each), {U.shape[0]} in all")
        return cls(U=U, V=V, alpha=finite_number(network.get("alpha"), "network.alpha"),
                   class_neurons=tuple(counts), **common)
