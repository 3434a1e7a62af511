"""Path safety shared by extract and load: do two paths name the same file, or one lie inside another?

A tool that writes one path and reads (or deletes) another must not be fooled by two spellings of one
file: ``./x`` and ``x``, a symlink and its target, a hard link, ``X`` and ``x`` on a case-insensitive
file system (macOS, Windows). :func:`same_path` answers for paths that exist or not yet;
:func:`refuse_same` turns a collision into a one-line :class:`~connector.errors.ConfigError`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

from .errors import ConfigError

__all__ = ["is_within", "refuse_same", "refuse_symlink", "remove_path", "same_path"]


def _resolved(path: str | os.PathLike[str]) -> Path:
    # resolve() follows every symlink that exists, a dangling one included, and makes the path absolute.
    # No expanduser(): files are opened as named, so '~x.csv' is a file here (and expanding it raised).
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13): compare it as written
        return absolute


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")  # pragma: no cover - the root always exists


def _case_insensitive(folder: Path) -> bool:
    """Whether names in ``folder`` (an existing directory) ignore case, judged from what is already there.

    A name with letters (the folder's own, an ancestor's, or an entry's) is looked up with its case
    swapped; if that finds the same file, the file system ignores case. With no such name to try,
    the platform's usual file system decides.
    """

    def cased(path: Path) -> bool:
        return path.name.swapcase() != path.name

    # Nearest first: an ancestor may live on another file system (a mount point).
    probes = [folder] if cased(folder) else []
    if not probes:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if cased(Path(entry.path)):
                        probes.append(Path(entry.path))
                        break
        except OSError:
            pass
    probes += [p for p in folder.parents if cased(p)]
    for probe in probes:
        swapped = probe.with_name(probe.name.swapcase())
        try:
            return swapped.exists() and os.path.samefile(probe, swapped)
        except OSError:
            continue
    return sys.platform in ("darwin", "win32")


def same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same file (or directory), whether it exists yet or not."""
    ra, rb = _resolved(a), _resolved(b)
    if ra == rb:
        return True
    try:
        if ra.exists() and rb.exists():
            return os.path.samefile(ra, rb)
    except OSError:
        pass
    if str(ra).casefold() != str(rb).casefold():
        return False
    # Same letters, other case, and not both there to ask: ask the file system where the names would live.
    return _case_insensitive(_existing_ancestor(ra.parent))


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True when ``path`` is ``folder`` or lies anywhere beneath it (same comparison as :func:`same_path`)."""
    target = _resolved(path)
    for candidate in (target, *target.parents):
        if same_path(candidate, folder):
            return True
    return False


def refuse_same(role_a: str, a: str | os.PathLike[str], role_b: str, b: str | os.PathLike[str]) -> None:
    """Raise a :class:`~connector.errors.ConfigError` when ``a`` and ``b`` name the same file.

    ``role_a``/``role_b`` say what each path is for (e.g. ``"--checkpoint"``, ``"the output"``).
    """
    if same_path(a, b):
        same = "" if os.fspath(a) == os.fspath(b) else f" ({os.fspath(b)})"
        error = ConfigError(f"{role_a} {os.fspath(a)} is the same file as {role_b}{same}")
        error.hint = f"give {role_a} and {role_b} different paths"
        raise error


def refuse_symlink(path: str | os.PathLike[str], role: str) -> None:
    """Raise a :class:`~connector.errors.ConfigError` when ``path`` is a symbolic link.

    Outputs are published by renaming a staging file onto their path, which replaces a link itself, not its
    target: ``--output /dev/stdout`` would have put a regular file where the system's link was.
    """
    if os.path.islink(path):
        error = ConfigError(
            f"{role} {os.fspath(path)} is a symbolic link (to {os.readlink(path)}); nothing was changed"
        )
        error.hint = (
            "name the file itself: publishing renames onto the path, which replaces a link, not its target"
        )
        raise error


def remove_path(path: str | os.PathLike[str]) -> None:
    """Delete a file, or a folder and everything in it (a symlink itself, never its target), if it is there.

    Only for paths the caller made: whether a file is the tool's to delete is decided before calling this.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
