"""Threshold networks by the convex Lasso of Ergen, Gulluk, Lacotte & Pilanci (ICLR 2023).

f(x) = c + Σₖ wₖ·1[hₖᵀx̃ ≥ 0]. Training samples hyperplanes, keeps their distinct
arrangement patterns and solves the Lasso over them, certified by its duality gap
(``hyperplanes``, and the shared :mod:`qnnhw.lasso`), or trains a baseline with a surrogate
gradient. The hardware has no multiplier: adder trees, sign bits and a sum of the active
neurons' weights (:mod:`hdl.threshold`).

Modules: ``config``, ``hyperplanes`` (the algorithm), ``train``, ``model``,
``fixedpoint``, ``reference``, ``estimate``, ``cli``, ``estimator``, as in the bilinear
family. :data:`FAMILY` ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boards import Board, Device
from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.estimate import Estimate, rom_blocks
from qnnhw.families.base import Architecture, OptionGroup, Progress, Trainer
from qnnhw.model import Network

from . import cli
from .config import ThresholdConfig
from .estimate import estimate
from .fixedpoint import ThresholdSpec
from .model import ThresholdModel
from .reference import ThresholdReference

__all__ = ["FAMILY", "ThresholdFamily"]


class ThresholdFamily:
    """The threshold family, as :class:`~qnnhw.families.base.Family` describes."""

    name = "threshold"
    description = "threshold network by the convex Lasso, no multiplier in hardware"
    model_type = ThresholdModel
    spec_type = ThresholdSpec
    config_type = ThresholdConfig
    build_defaults: Mapping[str, Any] = {}
    instead: Mapping[str, str] = {
        "m": "a threshold network's size follows from @beta (and @neurons sampled "
             "hyperplanes)",
        "alpha": "a threshold network's output weights come from the Lasso",
        "weight_levels": "a threshold network takes @hyperplanes gaussian @hidden_bits B "
                         "for wider weights",
    }
    summary_keys = ("lasso_gap", "hidden_weights", "hidden_bits")
    architectures = (Architecture("neurons", "threshold: m neurons on P units", "units", "m"),)

    def add_options(self, group: OptionGroup, defaults: Mapping[str, Any]
                    ) -> None:
        cli.add_options(group, defaults)

    def trainer(self, dataset: Dataset, config: Any, progress: Progress) -> Trainer:
        from .train import ThresholdTrainer

        return ThresholdTrainer(dataset, config, progress)

    def report(self, model: Network) -> dict[str, Any]:
        assert isinstance(model, ThresholdModel)
        return cli.report(model)

    def summary(self, report: dict[str, Any]) -> list[str]:
        return cli.summary(report)

    def certificate(self, training: dict[str, Any]) -> str | None:
        return cli.certificate(training)

    def fixed_point(self, model: Network, input_bits: int) -> ThresholdSpec:
        assert isinstance(model, ThresholdModel)
        return ThresholdSpec.for_model(model, input_bits)

    def reference(self, model: Network, spec: Any) -> ThresholdReference:
        return ThresholdReference(model, spec)  # type: ignore[arg-type]

    def units(self, spec: Any, arch: str) -> int:
        return int(spec.m)

    def work(self, spec: Any, arch: str) -> int:
        return int(spec.m)

    def datapath(self, model: Network, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Any:
        from hdl.threshold import ThresholdDatapath

        assert isinstance(model, ThresholdModel)
        return ThresholdDatapath(spec, model.H, parallel, model.layers, scores=scores)

    def estimate(self, device: Device, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Estimate:
        return estimate(device, spec, parallel, scores)

    def fit(self, board: Board, model: Network, trainer: Trainer | None, input_bits: int,
            arch: str, progress: Progress) -> Network:
        """A threshold network's neurons are what its Lasso chose: it fits or is refused."""
        from hdl.threshold import ThresholdDatapath

        device = board.device
        spec = self.fixed_point(model, input_bits)
        widths = ThresholdDatapath.rom_word_widths(spec, 1)
        needed = rom_blocks(device, widths, model.m)
        if needed <= device.ram_blocks:
            return model
        bits = sum(widths) * model.m
        # Each neuron stores C output weights: with many classes they are the bulk.
        classes = f", {spec.outputs} classes" if spec.outputs > 1 else ""
        fewer = ", fewer classes" if spec.outputs > 1 else ""
        raise QnnhwError(
            f"the threshold network's {bits // 1024} kbit of weights ({model.m} neurons"
            f"{classes}) need {needed} RAM blocks, {board.name} has {device.ram_blocks}; "
            f"retrain with a larger @beta (fewer neurons){fewer}, or build for a board with "
            f"more RAM (ulx3s)", "beta")

    def example(self, features: int, neurons: int, *, seed: int = 0, classes: int = 2
                ) -> ThresholdModel:
        from sim.networks import random_threshold_model

        model: ThresholdModel = random_threshold_model(features, neurons, seed=seed,
                                                       classes=classes)
        return model

    def smaller(self, spec: Any) -> str:
        if spec.hidden_bits > 1:
            return ("@hidden_bits (each bit is one more adder tree per unit), @input_bits "
                    "or features")
        return "@input_bits or features"


FAMILY = ThresholdFamily()
