"""Bulk loading of meetings from spreadsheets: every row becomes one find-or-create call, exactly once.

    from connector.load import LoadConfig, load_sync
    report = load_sync("meetings.csv", LoadConfig(mapping="mapping.toml"))
    print(report.format())

Stages, one module each: :mod:`.sources` (streaming readers), :mod:`.mapping` (the TOML column mapping),
:mod:`.rows` (row -> validated body or row error), :mod:`.ledger` (SQLite, exactly once across runs),
:mod:`.runner` (concurrent sending), :mod:`.sync` (``sync``: updates, replaces, deletions), :mod:`.plan` (a sync
dry run's plan), :mod:`.results` (the per-row results file), :mod:`.api` (entry points).
"""

from .api import default_paths, load, load_sync
from .config import LoadConfig, LoadReport
from .mapping import Mapping, load_mapping, mapping_from_dict
from .results import RESULT_COLUMNS, RowResult

__all__ = [
    "RESULT_COLUMNS",
    "LoadConfig",
    "LoadReport",
    "Mapping",
    "RowResult",
    "default_paths",
    "load",
    "load_mapping",
    "load_sync",
    "mapping_from_dict",
]
