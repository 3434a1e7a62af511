"""Path comparison: do two paths name the same file (so that writing one would destroy the other)?"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["same_path"]


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return Path(os.path.abspath(path))


def _case_insensitive(directory: Path) -> bool:
    """True when the file system holding ``directory`` ignores case (macOS and Windows by default)."""
    for folder in (directory, *directory.parents):
        name = folder.name
        if name and name.swapcase() != name and folder.exists():
            try:
                return os.path.samefile(folder, folder.with_name(name.swapcase()))
            except OSError:
                return False
    return False


def same_path(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file, existing or not.

    Symlinks are resolved, existing files are compared by identity (a hard link is the same file), and
    names differing only in case are the same on a case-insensitive file system.
    """
    a, b = Path(a), Path(b)
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass  # one of them does not exist (yet): compare the names
    ra, rb = _resolved(a), _resolved(b)
    if ra == rb:
        return True
    if str(ra).casefold() != str(rb).casefold():
        return False
    return _case_insensitive(ra.parent)
