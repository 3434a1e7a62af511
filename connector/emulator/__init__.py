"""A local emulator of Attio's meetings API (aiohttp.web), with seeded data, rate limits and faults.

It serves the meetings and their call recordings with transcripts (``recordings``, ``recording_api``).

Start one with :func:`run_emulator` (async) or :class:`EmulatorThread` (sync), or from the shell
with ``python -m connector emulator``. See ``store`` for ordering and windows, ``faults`` for the
fault kinds and ``app`` for the request pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import FAULT_KINDS, EmulatorConfig
from .runner import EmulatorThread, RunningEmulator, main, run_emulator

if TYPE_CHECKING:
    from .app import Emulator, Stats


def __getattr__(name: str) -> Any:
    """``Emulator`` and ``Stats``, imported with the server on first use (the CLI imports this package for
    its flags on every command)."""
    if name in ("Emulator", "Stats"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAULT_KINDS",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "RunningEmulator",
    "Stats",
    "main",
    "run_emulator",
]  # isort-style: constants, classes, functions
