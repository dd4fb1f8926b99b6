"""The files between a cocotb bench and its runner: the stimulus and reference the runner
writes (``QNNHW_BENCH``), and the results the bench's tests record (``QNNHW_RESULTS``)."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["load_bench", "record"]


def load_bench() -> dict[str, Any]:
    with open(os.environ["QNNHW_BENCH"], encoding="utf-8") as file:
        result: dict[str, Any] = json.load(file)
    return result


def record(name: str, result: dict[str, Any]) -> None:
    """Add test ``name``'s ``result`` to the results file."""
    path = os.environ["QNNHW_RESULTS"]
    results = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as file:
            results = json.load(file)
    results[name] = result
    with open(path, "w", encoding="utf-8") as file:
        json.dump(results, file)
