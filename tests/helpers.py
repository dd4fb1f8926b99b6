"""Helpers shared by the tests: running the CLI as a user does."""

import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m qnnhw ARGS`` the way a user does, capturing its output."""
    return subprocess.run([sys.executable, "-m", "qnnhw", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)

def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A user error: non-zero exit, one ``error:`` line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def random_model(features: int, m: int, *, bias: bool = True, replicas: int = 1,
                 alpha: float = 0.01, seed: int = 0, task: str = "classification"):
    """A model with random ±1 weights (no training): for hardware tests of any shape."""
    import numpy as np

    from qnnhw.dataset import ColumnEncoder, InputEncoder
    from qnnhw.model import BilinearModel, Lifting, Standardizer

    rng = np.random.default_rng(seed)
    lifting = Lifting(bias, replicas)
    d = lifting.lifted_dimension(features)
    U = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    V = rng.choice(np.array([-1, 1], dtype=np.int8), (m, d))
    encoder = InputEncoder(tuple(ColumnEncoder(f"x{k}") for k in range(features)))
    standardizer = Standardizer(tuple(range(features)), (0.0,) * features, (1.0,) * features)
    labels = ("neg", "pos") if task == "classification" else None
    return BilinearModel(U, V, alpha, encoder, standardizer, lifting, task, "y", labels,
                         {"method": "random", "loss": "hinge", "feature_max_abs": 3.0})
