"""``python -m qnnhw``: see :mod:`qnnhw.cli`."""

import sys
import time

_START = time.perf_counter()  # before the heavy imports, so total_seconds counts them

from .cli import main  # noqa: E402

sys.exit(main(start=_START))
