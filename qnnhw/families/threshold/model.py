"""The threshold network and its part of the model file.

f(x) = c + Σₖ wₖ·1[hₖᵀã ≥ 0], ã the lifted input x̃ (or, in a deep network, the earlier
layers' output). The file's ``network`` object holds ``neurons``, ``d``, ``hidden`` (binary
or integer), ``hidden_bits``, the earlier ``layers``, the hidden weights ``H``, the output
weights ``w`` and the output ``bias``. A network with C outputs (C ≥ 3 classes) shares its
neurons between them: ``w`` lists C weights per neuron and ``bias`` C numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qnnhw.errors import QnnhwError
from qnnhw.model import Network, finite_number, sign_matrix

__all__ = ["HIDDEN_KINDS", "ThresholdModel"]

#: Hidden weights of a threshold network: ±1 (``binary``) or signed integers of a few bits.
HIDDEN_KINDS = ("binary", "integer")


@dataclass(kw_only=True)
class ThresholdModel(Network):
    """A trained threshold network f(x) = c + Σₖ wₖ·1[hₖᵀã ≥ 0].

    ã is the lifted input x̃ for a two-layer network. A deeper network first passes x̃ through
    the threshold layers in ``layers`` (Ergen et al. §3), each followed by the constant 1:
    ã = [1[L ã' ≥ 0]; 1] with ã' the previous layer's output.

    Parameters
    ----------
    H : ndarray of int, shape (K, d)
        Hidden weights, row k is neuron k: every entry ±1 when ``hidden_bits`` is 1, else a
        signed integer with |hₖᵢ| ≤ 2^(hidden_bits−1) − 1. Only the sign of hₖᵀx̃ matters, so
        integers lose nothing against real weights of the same direction.
    w : ndarray of float, shape (K,) or (K, C)
        Output weight of each neuron; for C outputs, a row of C weights per neuron.
    bias : float or ndarray of shape (C,)
        Output bias c (one per output).
    hidden_bits : int
        1 for ±1 hidden weights, else the width of the signed integer weights.
    layers : tuple of ndarray of int8
        The earlier hidden layers, ±1, each of shape (width, input width + 1); empty for a
        two-layer network. H's rows then have the last layer's width + 1 entries.
    encoder, standardizer, lifting, task, target, label_names, training
        As in :class:`~qnnhw.model.Network`.
    """

    FAMILY = "threshold"

    H: np.ndarray
    w: np.ndarray
    bias: float | np.ndarray
    hidden_bits: int
    layers: tuple[np.ndarray, ...] = field(default=())

    @property
    def m(self) -> int:
        """Number of neurons K of the last hidden layer."""
        return int(self.H.shape[0])

    @property
    def d(self) -> int:
        return int(self.H.shape[1])

    @property
    def hidden_kind(self) -> str:
        return "binary" if self.hidden_bits == 1 else "integer"

    def last_layer_inputs(self, lifted: np.ndarray) -> np.ndarray:
        """ã: the lifted input passed through the earlier layers, each followed by a 1."""
        for layer in self.layers:
            active = (lifted @ layer.T.astype(float) >= 0).astype(float)
            lifted = np.hstack([active, np.ones((len(active), 1))])
        return lifted

    def activations(self, lifted: np.ndarray) -> np.ndarray:
        """1[hₖᵀã ≥ 0] for each lifted input row x̃, shape (n, K)."""
        return (self.last_layer_inputs(lifted) @ self.H.T.astype(float) >= 0).astype(float)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.bias + self.activations(self.lifting.apply(self.features(X))) @ self.w

    def network_dict(self) -> dict[str, Any]:
        return {"neurons": self.m, "d": self.d, "hidden": self.hidden_kind,
                "hidden_bits": self.hidden_bits,
                "layers": [layer.astype(int).tolist() for layer in self.layers],
                "H": self.H.astype(int).tolist(),
                "w": self.w.tolist(),
                "bias": np.asarray(self.bias, dtype=float).tolist()}

    @classmethod
    def from_network(cls, network: dict[str, Any], d: int, common: dict[str, Any]
                     ) -> ThresholdModel:
        layer_rows = network.get("layers", [])
        if not isinstance(layer_rows, list):
            raise QnnhwError("network.layers must be a list of ±1 matrices")
        layers = []
        for index, rows in enumerate(layer_rows):
            layers.append(sign_matrix(rows, f"layers[{index}]", d))
            d = len(layers[-1]) + 1   # the next layer sees these neurons and the constant 1
        kind = network.get("hidden")
        if kind not in HIDDEN_KINDS:
            raise QnnhwError(f"network.hidden must be one of {', '.join(HIDDEN_KINDS)}, not "
                             f"{kind!r}")
        bits: Any = 1
        if kind == "binary":
            H = sign_matrix(network.get("H"), "H", d)
        else:
            bits = network.get("hidden_bits")
            if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
                raise QnnhwError(f"network.hidden_bits must be an integer from 2 to 16, not "
                                 f"{bits!r}")
            H = _integer_matrix(network.get("H"), "H", d, (1 << (bits - 1)) - 1)
        labels = common["label_names"]
        outputs = len(labels) if labels is not None and len(labels) > 2 else 1
        w = _output_weights(network.get("w"), len(H), outputs)
        if network.get("neurons") not in (None, len(H)):
            raise QnnhwError(f"network.neurons = {network.get('neurons')!r} but H has "
                             f"{len(H)} rows")
        bias_value = network.get("bias")
        bias: float | np.ndarray
        if outputs == 1:
            bias = finite_number(bias_value, "network.bias")
        elif not isinstance(bias_value, list) or len(bias_value) != outputs:
            raise QnnhwError(f"network.bias must list one bias for each of the {outputs} "
                             f"classes")
        else:
            bias = np.array([finite_number(v, f"network.bias[{c}]")
                             for c, v in enumerate(bias_value)])
        return cls(H=H, w=w, bias=bias, hidden_bits=bits, layers=tuple(layers), **common)


def _output_weights(weights: Any, neurons: int, outputs: int) -> np.ndarray:
    """The file's ``w``: a number per neuron, or for C outputs a list of C per neuron."""
    if not isinstance(weights, list) or len(weights) != neurons:
        each = "one output weight" if outputs == 1 else f"{outputs} output weights"
        raise QnnhwError(f"network.w must list {each} for each of the {neurons} neurons")
    if outputs == 1:
        return np.array([finite_number(v, f"network.w[{k}]") for k, v in enumerate(weights)])
    rows = []
    for k, row in enumerate(weights):
        if not isinstance(row, list) or len(row) != outputs:
            raise QnnhwError(f"network.w[{k}] must list {outputs} output weights, one per "
                             f"class")
        rows.append([finite_number(v, f"network.w[{k}][{c}]") for c, v in enumerate(row)])
    return np.array(rows)


def _integer_matrix(rows: Any, name: str, d: int, bound: int) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise QnnhwError(f"network.{name} must be a non-empty list of rows of integers")
    for j, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != d:
            raise QnnhwError(f"network.{name}[{j}] must list {d} integer weights")
        for i, weight in enumerate(row):
            if isinstance(weight, bool) or not isinstance(weight, int) or abs(weight) > bound:
                raise QnnhwError(f"network.{name}[{j}][{i}] = {weight!r} is not an integer "
                                 f"in [−{bound}, {bound}]")
    return np.array(rows, dtype=np.int32)
