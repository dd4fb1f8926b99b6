"""Argument types of the command line, shared by every family's options."""

from __future__ import annotations

import argparse

__all__ = ["clock_choice", "count", "number", "positive_int", "positive_number", "random_seed"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {value}")
    return value


def count(text: str) -> int:
    """A count: 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive integer, not {text!r}"
                                         ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or a positive integer, not {value}")
    return value


def random_seed(text: str) -> int:
    """A random seed: NumPy takes the integers from 0 to 2³² − 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 4294967295, not "
                                         f"{text!r}") from None
    if not 0 <= value < 1 << 32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 4294967295, not "
                                         f"{value}")
    return value


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None


def positive_number(text: str) -> float:
    value = number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, not {text}")
    return value


def clock_choice(text: str) -> str | float:
    """``auto``, ``board`` or a positive frequency in MHz."""
    if text in ("auto", "board"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, board or a frequency in MHz, not "
                                         f"{text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive frequency in MHz, not {text}")
    return value
