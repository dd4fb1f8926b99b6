"""±1 bilinear networks by the SDP of Bartan & Pilanci (ICML 2021).

f(x) = α Σⱼ (uⱼᵀx̃)(vⱼᵀx̃) with uⱼ, vⱼ ∈ {−1, +1}ᵈ. Training solves the convex SDP (22)
whose value lower-bounds every ±1 network (``sdp``), samples the weights by Algorithm 1
(``train``), or trains a baseline (``baselines``). The hardware is a folded datapath of
adder trees and m multipliers (:mod:`hdl.bilinear`).

Modules: ``config`` (training options), ``sdp`` and ``baselines`` (the algorithms),
``train`` (the trainer), ``model`` (the network and its file), ``fixedpoint`` (its numbers),
``reference`` (the integer oracle), ``estimate`` (resources), ``cli`` (options, report,
summary), ``estimator`` (scikit-learn-style class). :data:`FAMILY` ties them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from boards import Board, Device
from qnnhw.dataset import Dataset
from qnnhw.errors import QnnhwError
from qnnhw.estimate import Estimate, largest_m
from qnnhw.families.base import Architecture, OptionGroup, Progress, Trainer
from qnnhw.model import Network

from . import cli
from .config import BilinearConfig
from .estimate import estimate, quadratic_estimate
from .fixedpoint import BilinearSpec
from .model import BilinearModel
from .reference import BilinearReference

__all__ = ["FAMILY", "BilinearFamily"]


class BilinearFamily:
    """The bilinear family, as :class:`~qnnhw.families.base.Family` describes."""

    name = "bilinear"
    description = "±1 bilinear network by the SDP (default)"
    model_type = BilinearModel
    spec_type = BilinearSpec
    config_type = BilinearConfig
    #: The paper's Fig. 3 network.
    build_defaults: Mapping[str, Any] = {"m": 2500}
    instead: Mapping[str, str] = {}
    summary_keys = ("lower_bound", "relative_gap", "trivial_objective")
    architectures = (
        Architecture("neurons", "bilinear: m neurons on P units", "units", "m"),
        Architecture("quadratic", "bilinear: x̂ᵀWx̂ on P row units, a cost independent of m",
                     "row units (quadratic form)", "d̂ (features and bias)"))

    def add_options(self, group: OptionGroup, defaults: Mapping[str, Any]
                    ) -> None:
        cli.add_options(group, defaults)

    def trainer(self, dataset: Dataset, config: Any, progress: Progress) -> Trainer:
        from .train import SDPTrainer

        return SDPTrainer(dataset, config, progress)

    def report(self, model: Network) -> dict[str, Any]:
        assert isinstance(model, BilinearModel)
        return cli.report(model)

    def summary(self, report: dict[str, Any]) -> list[str]:
        return cli.summary(report)

    def certificate(self, training: dict[str, Any]) -> str | None:
        return cli.certificate(training)

    def fixed_point(self, model: Network, input_bits: int) -> BilinearSpec:
        assert isinstance(model, BilinearModel)
        return BilinearSpec.for_model(model, input_bits)

    def reference(self, model: Network, spec: Any) -> BilinearReference:
        return BilinearReference(model, spec)  # type: ignore[arg-type]

    def units(self, spec: Any, arch: str) -> int:
        return int(spec.base_d if arch == "quadratic" else spec.m)

    def work(self, spec: Any, arch: str) -> int:
        # The quadratic form's units compute the C·d̂² coefficients of x̂ᵀW꜀x̂.
        return int(spec.outputs * spec.base_d ** 2 if arch == "quadratic" else spec.m)

    def datapath(self, model: Network, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Any:
        from hdl.bilinear import BilinearDatapath
        from hdl.quadratic import QuadraticDatapath

        assert isinstance(model, BilinearModel)
        if arch == "quadratic":
            return QuadraticDatapath(spec, model.quadratic_forms(), parallel, scores=scores)
        return BilinearDatapath(spec, model.U, model.V, parallel, scores=scores)

    def estimate(self, device: Device, spec: Any, parallel: int, scores: bool, arch: str
                 ) -> Estimate:
        if arch == "quadratic":
            return quadratic_estimate(device, spec, parallel, scores)
        return estimate(device, spec, parallel, scores)

    def fit(self, board: Board, model: Network, trainer: Trainer | None, input_bits: int,
            arch: str, progress: Progress) -> Network:
        """Shrink m until the weights fit the block RAM: one SDP serves every m, so a
        network the SDP trained here is sampled again at the largest width that fits. The
        quadratic form's cost does not depend on m: every network fits its RAM."""
        if arch == "quadratic":
            return model
        from hdl.bilinear import BilinearDatapath

        device = board.device
        spec = self.fixed_point(model, input_bits)
        needed = estimate(device, spec, 1).ram_blocks
        if needed <= device.ram_blocks:
            return model
        bits = sum(BilinearDatapath.rom_word_widths(spec, 1)) * model.m
        resamples = getattr(trainer, "resamples", False)
        if not resamples:
            fitting = largest_m(device, lambda m: estimate(device, replace(spec, m=m),
                                                           1).ram_blocks, model.m)
            raise QnnhwError(
                f"the model's {bits // 1024} kbit of weights (m={model.m}, d={model.d}) need "
                f"{needed} RAM blocks, {board.name} has {device.ram_blocks}; retrain with "
                f"@m {fitting} or less, or build for a board with more RAM (ulx3s)", "m")
        sample = trainer.sample  # type: ignore[union-attr]
        outputs = model.outputs
        # Below one neuron per output there is no network: such m are not candidates.
        m = largest_m(device, lambda m: estimate(
            device, self.fixed_point(sample(m), input_bits), 1).ram_blocks
            if m >= outputs else 0, model.m)
        if m < outputs:
            raise QnnhwError(f"the weights of one neuron per output ({outputs} outputs) do "
                             f"not fit {board.name}'s RAM; build for a board with more RAM "
                             f"(ulx3s)")
        progress(f"m={model.m} needs {needed} RAM blocks for {bits // 1024} kbit of weights, "
                 f"{board.name} has {device.ram_blocks}: sampling m={m} from the same SDP "
                 f"(Algorithm 1 needs no new solve)")
        fitted: BilinearModel = sample(m)
        return fitted

    def example(self, features: int, neurons: int, *, seed: int = 0, classes: int = 2
                ) -> BilinearModel:
        from sim.networks import random_model

        model: BilinearModel = random_model(features, neurons, seed=seed, classes=classes)
        return model

    def smaller(self, spec: Any) -> str:
        return "@input_bits or features"


FAMILY = BilinearFamily()
