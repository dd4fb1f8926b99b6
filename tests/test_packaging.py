"""The wheel carries every package: pyproject.toml lists packages by name, so a new folder
that is not listed works in an editable install and is missing from a wheel."""

import tomllib
from pathlib import Path

from qnnhw.families import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_and_family_is_in_the_package_list():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = set()
    for top in {name.split(".")[0] for name in listed}:
        for init in (ROOT / top).rglob("__init__.py"):
            on_disk.add(".".join(init.parent.relative_to(ROOT).parts))
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to pyproject's packages"
    assert set(REGISTRY.values()) <= listed
