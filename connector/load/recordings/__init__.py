"""Loading call recordings: transcripts (WebVTT, SRT, tables of segments) into Attio, exactly once.

    from connector.load.recordings import RecordingsConfig, load_recordings_sync
    report = load_recordings_sync("calls/", RecordingsConfig(mapping="recordings.toml"))
    print(report.format())

Stages, one module each: :mod:`.parsers` (VTT and SRT, strict), :mod:`.inputs` (files and tables to
recordings), :mod:`.mapping` (the TOML mapping; meetings by id, sidecar, file name or the meetings ledger),
:mod:`.ledger` (SQLite, exactly once across runs), :mod:`.run` (look, then create), :mod:`.api` (entry points).
"""

from .api import load_recordings, load_recordings_sync
from .config import RECORDING_RESULTS, RecordingResult, RecordingsConfig, RecordingsReport
from .mapping import RecordingsMapping, load_recordings_mapping

__all__ = [
    "RECORDING_RESULTS",
    "RecordingResult",
    "RecordingsConfig",
    "RecordingsMapping",
    "RecordingsReport",
    "load_recordings",
    "load_recordings_mapping",
    "load_recordings_sync",
]
