"""IANA timezone names: the one set of names the loader, ``extract --timezone`` and the emulator accept.

``ZoneInfo(name)`` opens whatever file ``name`` points to under its search path: it accepts files that
are no IANA timezone (``Factory``, ``localtime``, ``posixrules``, the ``posix/`` and ``right/`` copies)
and fails with an ``OSError`` on a folder (``America``) or a name too long for the file system. So a name
is first looked up in :func:`known_timezones`; a user's text never reaches the file system unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import TypeGuard
from zoneinfo import ZoneInfo, available_timezones

__all__ = ["NON_CANONICAL", "is_valid_timezone", "known_timezones", "zone"]

# Files of the tz database that are not timezones a person means: refused even where the system has them.
NON_CANONICAL = frozenset({"Factory", "localtime", "posixrules"})
_NON_CANONICAL_FOLDERS = ("posix/", "right/")


def _canonical(names: Iterable[str]) -> frozenset[str]:
    return frozenset(
        name
        for name in names
        if name not in NON_CANONICAL and not name.startswith(_NON_CANONICAL_FOLDERS)
    )


@cache
def known_timezones() -> frozenset[str]:
    """The IANA names this Python knows (system tz database and ``tzdata``), without the non-canonical ones."""
    return _canonical(available_timezones())


@cache
def _packaged() -> frozenset[str]:
    """The part of :func:`known_timezones` that the ``tzdata`` package lists in one small file (its ``zones``, which
    ``available_timezones`` reads first): a name found there is known without walking the system's tz database
    (the first query of a process checks its timezone, ~10-90 ms of start-up for the walk). Empty where
    ``tzdata`` is not a plain folder (then every name goes to the whole set)."""
    spec = find_spec("tzdata")
    if spec is None or not spec.origin:  # not installed, or no file of its own (a namespace package)
        return frozenset()
    try:
        listed = Path(spec.origin).with_name("zones").read_text(encoding="utf-8").split()
    except OSError:  # e.g. installed in a zip
        return frozenset()
    return _canonical(listed)


def is_valid_timezone(name: object) -> TypeGuard[str]:
    """True for a known IANA timezone name (``Europe/Berlin``, ``UTC``); never raises."""
    return isinstance(name, str) and (name in _packaged() or name in known_timezones())


def zone(name: object) -> ZoneInfo | None:
    """The ZoneInfo of a known IANA name, or None for a missing or unknown one."""
    return ZoneInfo(name) if is_valid_timezone(name) else None
