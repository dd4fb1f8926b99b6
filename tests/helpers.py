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
