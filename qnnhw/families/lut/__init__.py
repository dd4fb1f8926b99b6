"""LUT networks: sparse threshold networks over thermometer bits, one neuron per LUT.

f(x) = c + Σₖ wₖ·1[Σᵢ sₖᵢ·bᵢ ≥ θₖ] over k ≤ 6 thermometer bits b of the inputs, with ±1
weights s. Training samples a dictionary of such neurons (locally on images) and solves the
Lasso over their activation patterns (:mod:`qnnhw.lasso`, shared with the threshold family),
certified by its duality gap; the output weights become small integers. The hardware is
fully unrolled (:mod:`hdl.lut`): comparators, one truth table per neuron, compressor
trees, an argmax: one vector per clock; or, where those trees do not fit, with the output
sums folded onto P units.

Modules: ``config``, ``dictionary`` (the algorithm), ``train``, ``model``, ``fixedpoint``,
``reference``, ``estimate``, ``cli``. :data:`FAMILY` ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boards import Board, Device
from qnnhw.dataset import Dataset
from qnnhw.estimate import Estimate
from qnnhw.families.base import Architecture, OptionGroup, Progress, Trainer
from qnnhw.model import Network

from . import cli
from .config import LutConfig
from .fixedpoint import LutSpec
from .model import LutModel
from .reference import LutReference

__all__ = ["FAMILY", "LutFamily"]


class LutFamily:
    """The LUT family, as :class:`~qnnhw.families.base.Family` describes."""

    name = "lut"
    description = "sparse threshold network over thermometer bits, one LUT per neuron"
    model_type = LutModel
    spec_type = LutSpec
    config_type = LutConfig
    build_defaults: Mapping[str, Any] = {}
    instead: Mapping[str, str] = {
        "m": "a LUT network's size follows from @beta (and @neurons candidates)",
        "hidden_bits": "a LUT neuron's weights are ±1; @fan_in sets its bits",
        "layers": "a LUT network has one layer of neurons",
        "alpha": "a LUT network's output weights come from the Lasso",
        "weight_levels": "a LUT network takes @output_bits B for its output weights",
    }
    summary_keys = ("lasso_gap", "rounded_objective", "nonzero_weights", "output_bits")
    architectures = (Architecture("unrolled", "lut: every neuron a LUT, one vector per clock",
                                  "unrolled network", "1", plain_flip_flops=True),
                     Architecture("folded", "lut: every neuron a LUT, the output sums on P "
                                  "units, ⌈K/P⌉ cycles per vector",
                                  "output units (folded sums)", "K", plain_flip_flops=True))

    def add_options(self, group: OptionGroup, defaults: Mapping[str, Any]
                    ) -> None:
        cli.add_options(group, defaults)

    def trainer(self, dataset: Dataset, config: Any, progress: Progress) -> Trainer:
        from .train import LutTrainer

        return LutTrainer(dataset, config, progress)

    def report(self, model: Network) -> dict[str, Any]:
        assert isinstance(model, LutModel)
        return cli.report(model)

    def summary(self, report: dict[str, Any]) -> list[str]:
        return cli.summary(report)

    def certificate(self, training: dict[str, Any]) -> str | None:
        return cli.certificate(training)

    def fixed_point(self, model: Network, input_bits: int) -> LutSpec:
        assert isinstance(model, LutModel)
        return LutSpec.for_model(model, input_bits)

    def reference(self, model: Network, spec: Any) -> LutReference:
        assert isinstance(model, LutModel) and isinstance(spec, LutSpec)
        return LutReference(model, spec)

    def units(self, spec: Any, arch: str) -> int:
        # Unrolled, the whole network is one unit; folded, each neuron is a share of the sums.
        return 1 if arch == "unrolled" else int(spec.m)

    def work(self, spec: Any, arch: str) -> int:
        return self.units(spec, arch)

    def datapath(self, model: Network, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Any:
        # Imported here so that commands that build no hardware start without Amaranth.
        from hdl.lut import FoldedLutDatapath, LutDatapath

        if arch == "unrolled":
            return LutDatapath(spec, scores=scores)
        return FoldedLutDatapath(spec, parallel, scores=scores)

    def estimate(self, device: Device, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Estimate:
        from .estimate import estimate, folded_estimate

        if arch == "unrolled":
            return estimate(device, spec, scores)
        return folded_estimate(device, spec, parallel, scores)

    def fit(self, board: Board, model: Network, trainer: Trainer | None, input_bits: int,
            arch: str, progress: Progress) -> Network:
        """Every weight is a constant of the logic: no RAM to fit."""
        return model

    def example(self, features: int, neurons: int, *, seed: int = 0, classes: int = 2
                ) -> LutModel:
        from sim.networks import random_lut_model

        model: LutModel = random_lut_model(features, neurons, seed=seed, classes=classes)
        return model

    def smaller(self, spec: Any) -> str:
        return ("neurons and weights (a larger @beta), @output_bits, @fan_in, @input_bits or "
                "features")


FAMILY = LutFamily()
