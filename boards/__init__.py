"""Boards: the registry of supported boards and the top level that runs on them."""

from .registry import (
    ALIASES,
    BOARDS,
    MAX_BAUD_ERROR,
    MIN_BAUD_DIVISOR,
    Architecture,
    Board,
    Device,
    SerialBridge,
    get_board,
)

__all__ = ["ALIASES", "BOARDS", "MAX_BAUD_ERROR", "MIN_BAUD_DIVISOR", "Architecture", "Board",
           "Device", "SerialBridge", "get_board"]
