"""The LUT family's inputs and its dictionary of candidate neurons.

Thermometer bits
    Each standardised feature x_f becomes T bits b_{f,t} = 1[x_f ≥ θ_{f,t}] at thresholds
    taken from the training split: the T quantiles at (t + 1)/(T + 1), each moved to the
    midpoint between the two distinct training values around it. With training values on
    the grid of the hardware's integer inputs, the hardware's bits are the training's.

Neurons
    A neuron reads k of the F·T bits (its fan-in) with weights wᵢ = ±1 and fires when
    Σᵢ wᵢ·bᵢ ≥ θ, θ drawn among the values that make it depend on its bits
    (−#negative + 1 … #positive). Its k bits are drawn at random among all the bits, or,
    for image data, around a random pixel (its 3 × 3 neighbourhood): the local receptive
    fields of LUT-native networks. Any such neuron is a truth table of k inputs: one LUT
    when k ≤ 4 (a LUT4 on iCE40 and ECP5).

The dictionary keeps one neuron per distinct activation pattern on the training split (and
none that is constant there): two neurons with the same pattern are the same column of the
Lasso.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SAMPLINGS", "Dictionary", "activations", "sample_dictionary",
           "thermometer_bits", "thermometer_thresholds"]

#: How a neuron's bits are drawn: anywhere, or around one pixel of an image.
SAMPLINGS = ("random", "local")
#: Neurons sampled per batch: bounds the memory of the candidates' activations.
BATCH = 4096


def thermometer_thresholds(X: np.ndarray, count: int) -> np.ndarray:
    """T = ``count`` thresholds per column of the standardised training features ``X``,
    shape (F, T), each non-decreasing along T (module docstring)."""
    thresholds = np.empty((X.shape[1], count))
    levels = (np.arange(count) + 1) / (count + 1)
    for feature in range(X.shape[1]):
        values = np.unique(X[:, feature])
        quantiles = np.quantile(X[:, feature], levels)
        if len(values) == 1:
            thresholds[feature] = values[0] + 1.0   # a constant column: never set
            continue
        above = np.clip(np.searchsorted(values, quantiles), 1, len(values) - 1)
        thresholds[feature] = (values[above - 1] + values[above]) / 2
    return thresholds


def thermometer_bits(X: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The F·T thermometer bits of each row, feature-major (bit f·T + t), as uint8."""
    return (X[:, :, None] >= thresholds[None]).reshape(len(X), -1).astype(np.uint8)


def activations(bits: np.ndarray, inputs: np.ndarray, weights: np.ndarray,
                theta: np.ndarray) -> np.ndarray:
    """1[Σᵢ wᵢ·b_{inputs[k, i]} ≥ θₖ] for every row and neuron, shape (n, K), as uint8."""
    sums = np.einsum("nki,ki->nk", bits[:, inputs].astype(np.int16),
                     weights.astype(np.int16))
    return (sums >= theta).astype(np.uint8)


@dataclass
class Dictionary:
    """Candidate neurons with distinct, non-constant activation patterns on the training
    split.

    Attributes
    ----------
    inputs : ndarray of int, shape (N, k)
        The bits each neuron reads (indices into the F·T thermometer bits).
    weights : ndarray of int8, shape (N, k)
        ±1 weight of each input bit.
    theta : ndarray of int, shape (N,)
        The threshold each neuron compares its sum with.
    patterns : ndarray of uint8, shape (n, N)
        The neurons' activations on the training rows: the Lasso's columns.
    sampled : int
        Neurons drawn before duplicates and constants were dropped.
    """

    inputs: np.ndarray
    weights: np.ndarray
    theta: np.ndarray
    patterns: np.ndarray
    sampled: int


def _local_inputs(rng: np.random.Generator, count: int, fan_in: int, thresholds: int,
                  positions: np.ndarray) -> np.ndarray:
    """Bits around random pixels: each neuron's features lie in the 3 × 3 neighbourhood of
    one pixel (the pixels among the kept features), each bit at a random threshold."""
    features = len(positions)
    distance = np.abs(positions[:, None, :] - positions[None, :, :]).max(axis=2)
    neighbours = [np.flatnonzero(row <= 1) for row in distance]
    inputs = np.empty((count, fan_in), dtype=np.int64)
    centres = rng.integers(features, size=count)
    for neuron, centre in enumerate(centres):
        near = neighbours[centre]
        chosen = rng.choice(near, size=fan_in, replace=len(near) < fan_in)
        inputs[neuron] = chosen * thresholds + rng.integers(thresholds, size=fan_in)
    return inputs


def _random_inputs(rng: np.random.Generator, count: int, fan_in: int, bits: int
                   ) -> np.ndarray:
    """k distinct bits per neuron, uniformly among all of them."""
    return np.argsort(rng.random((count, bits)), axis=1)[:, :fan_in] if bits <= 64 else \
        np.array([rng.choice(bits, size=fan_in, replace=False) for _ in range(count)])


def sample_dictionary(bits: np.ndarray, *, neurons: int, fan_in: int, thresholds: int,
                      positions: np.ndarray | None, seed: int,
                      progress: Callable[[str], None] = lambda message: None) -> Dictionary:
    """Draw ``neurons`` candidates over the training rows' thermometer ``bits`` and keep
    those with distinct, non-constant patterns. With ``positions`` (the (row, column) of
    each feature's pixel) the neurons are local, else their bits are drawn at random."""
    rng = np.random.default_rng(seed)
    rows, width = bits.shape
    kept_inputs, kept_weights, kept_theta, kept_patterns = [], [], [], []
    seen: set[bytes] = set()
    for start in range(0, neurons, BATCH):
        count = min(BATCH, neurons - start)
        if positions is not None:
            inputs = _local_inputs(rng, count, fan_in, thresholds, positions)
        else:
            inputs = _random_inputs(rng, count, fan_in, width)
        weights = rng.choice(np.array([-1, 1], dtype=np.int8), (count, fan_in))
        negative = (weights < 0).sum(axis=1)
        positive = fan_in - negative
        # θ uniform on −#negative + 1 … #positive: every such neuron depends on its bits.
        theta = -negative + 1 + (rng.random(count) * (negative + positive)).astype(np.int64)
        patterns = activations(bits, inputs, weights, theta)
        packed = np.packbits(patterns, axis=0)
        for neuron in range(count):
            column = patterns[:, neuron]
            if column[0] == column.min() == column.max():
                continue
            key = packed[:, neuron].tobytes()
            if key in seen:
                continue
            seen.add(key)
            kept_inputs.append(inputs[neuron])
            kept_weights.append(weights[neuron])
            kept_theta.append(theta[neuron])
            kept_patterns.append(column)
        if start + count < neurons and (start // BATCH) % 10 == 9:
            progress(f"  … {start + count} of {neurons} neurons sampled, {len(seen)} distinct")
    if not kept_inputs:
        return Dictionary(np.empty((0, fan_in), dtype=np.int64),
                          np.empty((0, fan_in), dtype=np.int8), np.empty(0, dtype=np.int64),
                          np.empty((rows, 0), dtype=np.uint8), neurons)
    return Dictionary(np.array(kept_inputs), np.array(kept_weights),
                      np.array(kept_theta, dtype=np.int64),
                      np.stack(kept_patterns, axis=1), neurons)
