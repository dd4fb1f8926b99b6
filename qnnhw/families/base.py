"""What a model family provides: the :class:`Family` protocol and the shapes it works with.

The shared flow (train → model file → fixed point → integer reference → gateware →
simulation → build) calls these methods and never names a family; each family's folder
implements them for its own network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hdl.numbers import DatapathNumbers

if TYPE_CHECKING:
    from boards import Board, Device
    from hdl.folding import FoldedDatapath
    from qnnhw.dataset import Dataset
    from qnnhw.estimate import Estimate
    from qnnhw.fixedpoint import InputFormat
    from qnnhw.model import Network
    from qnnhw.reference import Reference
    from qnnhw.training import TrainingOptions

__all__ = ["Architecture", "Family", "OptionGroup", "Progress", "Spec", "Trainer", "silent"]

Progress = Callable[[str], None]


def silent(message: str) -> None:
    """The progress of a quiet run: a function, not a lambda, so that trainers that keep it
    (and the estimators that keep them) can be pickled."""


class OptionGroup(Protocol):
    """Where a family adds its command-line options (argparse's ``add_argument``). A flag
    that another family has already is shared: it means each family's own thing."""

    def add_argument(self, *flags: str, **settings: Any) -> Any: ...


class Spec(DatapathNumbers, Protocol):
    """A family's fixed-point spec (see :class:`qnnhw.fixedpoint.InputFormat`): what its
    datapath needs (:class:`~hdl.numbers.DatapathNumbers`), and the input format and
    file round trip the host needs."""

    @property
    def input_frac(self) -> int: ...
    @property
    def output_frac(self) -> int: ...
    @property
    def input_min(self) -> int: ...
    @property
    def input_max(self) -> int: ...
    def quantize(self, features: np.ndarray) -> np.ndarray: ...
    def output_to_real(self, y: np.ndarray) -> np.ndarray: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...


@dataclass(frozen=True)
class Architecture:
    """One way to compute a family's networks in hardware.

    Attributes
    ----------
    name : str
        The ``--arch`` value, and the ``arch`` of fit.json and report.json.
    description : str
        One line for ``--arch``'s help.
    units : str
        What P counts, as the build's summary names it ("neuron units").
    bound : str
        The largest P, as a refusal of ``--parallel`` names it ("m").
    plain_flip_flops : bool
        Whether synthesis must keep logic out of the flip-flops' synchronous set and reset
        (:func:`qnnhw.toolchain.elaborate`): an unrolled network would give hundreds of
        flip-flops a set or reset net of their own, each a control set that a block of
        logic cells cannot share, and the placer fails far below full utilisation.
    """

    name: str
    description: str
    units: str
    bound: str
    plain_flip_flops: bool = False


class Trainer(Protocol):
    """Training on one data set with one (resolved) configuration."""

    @property
    def config(self) -> TrainingOptions: ...

    def train(self) -> Network:
        """The trained network, its certificate in ``training``."""


class Family(Protocol):
    """One model family, end to end.

    Attributes
    ----------
    name : str
        The registry key, ``--family`` value and the model file's ``family`` field.
    description : str
        One line for ``--family``'s help.
    model_type, spec_type, config_type
        The family's model, fixed-point spec and training configuration classes.
    build_defaults : mapping
        Training options ``build`` uses when the user gives none (the paper's settings).
    summary_keys : tuple of str
        The ``training`` entries a build report repeats: the certificate's numbers.
    instead : mapping
        For options of other families (by destination name), what this family does
        instead; the command line says so when one is given with this family.
    architectures : tuple of Architecture
        The hardware architectures of the family's networks, the default first.
    """

    name: str
    description: str
    model_type: type[Network]
    spec_type: type[InputFormat]
    config_type: type[TrainingOptions]
    build_defaults: Mapping[str, Any]
    instead: Mapping[str, str]
    summary_keys: tuple[str, ...]
    architectures: tuple[Architecture, ...]

    def add_options(self, group: OptionGroup, defaults: Mapping[str, Any]
                    ) -> None:
        """Add the family's own training options (default None: "not given")."""

    def trainer(self, dataset: Dataset, config: TrainingOptions, progress: Progress
                ) -> Trainer: ...

    def report(self, model: Network) -> dict[str, Any]:
        """The family's part of ``train --json``: its certificate and training details."""

    def summary(self, report: dict[str, Any]) -> list[str]:
        """The first lines of ``train``'s summary: the network and its certificate."""

    def certificate(self, training: dict[str, Any]) -> str | None:
        """One line for ``build``'s summary: the certificate of the model file's network."""

    def fixed_point(self, model: Network, input_bits: int) -> Spec: ...

    def reference(self, model: Network, spec: Spec) -> Reference: ...

    def units(self, spec: Spec, arch: str) -> int:
        """The most units P the architecture ``arch`` can use."""

    def work(self, spec: Spec, arch: str) -> int:
        """Unit-cycles of work per vector in architecture ``arch``: P units cannot take fewer
        than work / P cycles per vector (the report's P-unit bound)."""

    def datapath(self, model: Network, spec: Spec, parallel: int, scores: bool,
                 arch: str) -> FoldedDatapath:
        """The streaming datapath of architecture ``arch``; with C outputs its words carry
        the C scores beside the class unless ``scores`` is false."""

    def estimate(self, device: Device, spec: Spec, parallel: int, scores: bool, arch: str
                 ) -> Estimate:
        """Logic cells, DSPs and RAM blocks of the board design with P = ``parallel`` (and
        the C scores in the responses unless ``scores`` is false)."""

    def fit(self, board: Board, model: Network, trainer: Trainer | None, input_bits: int,
            arch: str, progress: Progress) -> Network:
        """A network whose weights fit ``board``'s block RAM in architecture ``arch``:
        ``model``, a smaller one the trainer can give, or a refusal that names the way
        out."""

    def example(self, features: int, neurons: int, *, seed: int = 0, classes: int = 2
                ) -> Network:
        """A network of this family with random weights (no training), for the tests and
        benches that verify every family's hardware."""

    def smaller(self, spec: Spec) -> str:
        """What to reduce when even one unit does not fit the logic (for the refusal)."""
