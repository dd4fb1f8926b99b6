"""Boards: the registry of supported boards and the top level that runs on them."""

from .registry import ALIASES, BOARDS, Architecture, Board, Device, get_board

__all__ = ["ALIASES", "BOARDS", "Architecture", "Board", "Device", "get_board"]
