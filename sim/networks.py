"""Random networks of any shape, for verifying the hardware (no training): the tests and
``bench/verify.py`` draw the same ones."""

from __future__ import annotations

from typing import Any

__all__ = ["random_lut_model", "random_model", "random_threshold_model"]


def _labels(task: str, classes: int) -> tuple[str, ...] | None:
    if task != "classification":
        return None
    return ("neg", "pos") if classes <= 2 else tuple(f"c{k}" for k in range(classes))


def random_model(features: int, m: int, *, bias: bool = True, replicas: int = 1,
                 alpha: float = 0.01, seed: int = 0, task: str = "classification",
                 classes: int = 2) -> Any:
    """A model with random ±1 weights (no training): for hardware tests of any shape; with
    ``classes`` ≥ 3, its m neurons split at random between the outputs."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.families.bilinear.model import BilinearModel
    from qnnhw.model import Lifting, Standardizer

    rng = np.random.default_rng(seed)
    lifting = Lifting(bias, replicas)
    d = lifting.lifted_dimension(features)
    U = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    V = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    counts: tuple[int, ...] = ()
    if classes > 2:
        cuts = np.sort(rng.choice(np.arange(1, m), classes - 1, replace=False))
        counts = tuple(int(c) for c in np.diff(np.concatenate([[0], cuts, [m]])))
    return BilinearModel(U=U, V=V, alpha=alpha, class_neurons=counts, encoder=encoder,
                         standardizer=standardizer, label_names=_labels(task, classes),
                         lifting=lifting, task=task, target="y",
                         training={"method": "random", "loss": "hinge",
                                   "feature_max_abs": 3.0})


def random_threshold_model(features: int, neurons: int, *, bias: bool = True,
                           hidden_bits: int = 1, seed: int = 0,
                           task: str = "classification", layer_widths: tuple[int, ...] = (),
                           classes: int = 2) -> Any:
    """A threshold network with random hidden and output weights (no training); with
    ``layer_widths``, a deep one with earlier ±1 layers of those widths; with ``classes``
    ≥ 3, C outputs."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.families.threshold.model import ThresholdModel
    from qnnhw.model import Lifting, Standardizer

    rng = np.random.default_rng(seed)
    d = features + int(bias)
    layers = []
    for width in layer_widths:
        layers.append(rng.choice(np.array([-1, 1], dtype=np.int8), (width, d)))
        d = width + 1
    if hidden_bits == 1:
        H = rng.choice(np.array([-1, 1], dtype=np.int32), (neurons, d))
    else:
        top = (1 << (hidden_bits - 1)) - 1
        H = rng.integers(-top, top + 1, (neurons, d)).astype(np.int32)
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    labels = _labels(task, classes)
    outputs = (classes,) if classes > 2 else ()
    w = rng.normal(size=(neurons, *outputs))
    output_bias = rng.normal(size=outputs) if outputs else float(rng.normal())
    return ThresholdModel(H=H, w=w, bias=output_bias,
                          hidden_bits=hidden_bits, layers=tuple(layers), encoder=encoder,
                          standardizer=standardizer, lifting=Lifting(bias, 1), task=task,
                          target="y", label_names=labels,
                          training={"method": "random", "loss": "squared",
                                    "feature_max_abs": 3.0})


def random_lut_model(features: int, neurons: int, *, levels: int = 3, fan_in: int = 4,
                     output_bits: int = 4, seed: int = 0, task: str = "classification",
                     classes: int = 2) -> Any:
    """A LUT network with random thresholds, neurons and output weights (no training); with
    ``classes`` ≥ 3, C outputs. Inputs are standardised features within ±3."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.families.lut.model import LutModel
    from qnnhw.model import Lifting, Standardizer

    rng = np.random.default_rng(seed)
    thresholds = np.sort(rng.uniform(-2.5, 2.5, (features, levels)), axis=1)
    inputs = np.array([rng.choice(features * levels, size=fan_in,
                                  replace=features * levels < fan_in)
                       for _ in range(neurons)])
    weights = rng.choice(np.array([-1, 1], dtype=np.int8), (neurons, fan_in))
    negative = (weights < 0).sum(axis=1)
    theta = rng.integers(-negative + 1, fan_in - negative + 1)
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    outputs = (classes,) if classes > 2 else ()
    w = rng.normal(size=(neurons, *outputs))
    bias = rng.normal(size=outputs) if outputs else float(rng.normal())
    return LutModel(thresholds=thresholds, inputs=inputs, weights=weights, theta=theta, w=w,
                    bias=bias, output_bits=output_bits,
                    output_scale=float((1 << (output_bits - 1)) / np.abs(w).max()),
                    encoder=encoder, standardizer=standardizer, lifting=Lifting(False, 1),
                    task=task, target="y", label_names=_labels(task, classes),
                    training={"method": "random", "loss": "squared",
                              "feature_max_abs": 3.0})
