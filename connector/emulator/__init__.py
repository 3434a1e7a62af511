"""A local emulator of Attio's meetings API (aiohttp.web), with seeded data, rate limits and faults.

It serves the meetings and their call recordings with transcripts (``recordings``, ``recording_api``).

Start one with :func:`run_emulator` (async) or :class:`EmulatorThread` (sync), or from the shell
with ``python -m connector emulator``. See ``store`` for ordering and windows, ``faults`` for the
fault kinds and ``app`` for the request pipeline.
"""

from .app import Emulator, Stats
from .config import FAULT_KINDS, EmulatorConfig
from .runner import EmulatorThread, RunningEmulator, main, run_emulator

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
