"""The model families and their registry.

A family is a folder here (``bilinear/``, ``threshold/``) whose ``FAMILY`` object implements
:class:`~qnnhw.families.base.Family`, and one line in :data:`REGISTRY`. Everything outside
the folders reaches a family through :func:`get_family` or :func:`family_of`.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from qnnhw.errors import QnnhwError

from .base import Architecture, Family, Progress, Spec, Trainer

__all__ = ["DEFAULT_FAMILY", "REGISTRY", "Architecture", "Family", "architecture",
           "architecture_names", "Progress", "Spec", "Trainer", "family_of",
           "get_family", "names", "spec_from_dict"]

#: Family name → the module that holds its ``FAMILY``. One line per family.
REGISTRY = {
    "bilinear": "qnnhw.families.bilinear",
    "threshold": "qnnhw.families.threshold",
    "lut": "qnnhw.families.lut",
}
#: The family of files written before families existed (they have no ``family`` field).
DEFAULT_FAMILY = "bilinear"


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_family(name: str | None) -> Family:
    """The family called ``name`` (None: the default family, for old files)."""
    name = DEFAULT_FAMILY if name is None else name
    if not isinstance(name, str) or name not in REGISTRY:
        raise QnnhwError(f"unknown model family {name!r}; this qnnhw reads "
                         f"{', '.join(REGISTRY)}")
    family: Family = importlib.import_module(REGISTRY[name]).FAMILY
    return family


def family_of(thing: Any) -> Family:
    """The family of a model, a spec or a training configuration (their ``FAMILY``)."""
    return get_family(thing.FAMILY)


def architecture_names() -> tuple[str, ...]:
    """Every family's architectures by name, in registry order, each once."""
    return tuple(dict.fromkeys(arch.name for name in REGISTRY
                               for arch in get_family(name).architectures))


def architecture(family: Family, name: str | None) -> Architecture:
    """``family``'s architecture called ``name`` (None: its default, the first)."""
    if name is None:
        return family.architectures[0]
    for arch in family.architectures:
        if arch.name == name:
            return arch
    names = " or ".join(arch.name for arch in family.architectures)
    raise QnnhwError(f"{family.name} networks have no {name!r} architecture; use @arch "
                     f"{names}", "arch")


def spec_from_dict(data: Any) -> Spec:
    """A fixed-point spec of whichever family ``data["family"]`` names."""
    if not isinstance(data, dict):
        raise QnnhwError("malformed fixed-point spec (not a JSON object); rebuild")
    return cast(Spec, get_family(data.get("family")).spec_type.from_dict(data))
