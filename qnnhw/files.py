"""Writing artifacts so that no reader ever sees half of one, where the user can read them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import QnnhwError

__all__ = ["atomic_write", "check_writable"]


def _umask() -> int:
    """The process umask (reading it means setting it: set a value, then put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _existing_ancestor(path: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            return ancestor
    return Path("/")


def check_writable(path: Path, what: str, flag: str, folder: bool = False) -> None:
    """Refuse, before any work, an output that could not be written: ``path`` (a file, or a
    folder with ``folder``) must be creatable there, by this user. ``what`` names the
    artifact, ``flag`` the option that chose the path, for the one-line error."""
    fix = f"give {flag} another path"
    if path.exists() and path.is_dir() != folder:
        kind = "a folder" if path.is_dir() else "a file"
        raise QnnhwError(f"{what} {path} is {kind}, and it must be "
                         f"{'a folder' if folder else 'a file'}; {fix}")
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise QnnhwError(f"{what} {path} cannot be created: {ancestor} is a file, not a "
                         f"folder; {fix}")
    # Try it: permissions, read-only and special file systems all answer the same way.
    where = path if folder and path.is_dir() else path.parent if path.parent.is_dir() \
        else ancestor
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as error:
        raise QnnhwError(f"{what} {path} cannot be written: creating a file in {where} "
                         f"fails ({error.strerror or error}); {fix}") from None


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` so that a reader never sees a half-written file;
    the file gets the permissions of any file the user creates (0666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if isinstance(text, bytes):
            with os.fdopen(handle, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
        os.chmod(temporary, 0o666 & ~_umask())   # mkstemp's 0600 is for its own secrecy
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
