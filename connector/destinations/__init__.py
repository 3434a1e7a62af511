"""Database destinations: DuckDB and PostgreSQL tables as extract sinks, with write modes.

    sink = database_sink("duckdb:///data/attio.duckdb", table="meetings", write_mode="merge")
    await extract(client, ExtractConfig(...), sink)

Each is a :class:`~connector.extract.sinks.Sink` writing one table in one transaction (:mod:`.base`):
``replace`` (the table holds exactly this extract), ``append``, ``merge`` (upsert by ``meeting_id``),
``replace-window`` (delete the rows that start in the extract's window, then insert; needs ``--window start``).
The drivers are extras: ``connector[duckdb]``, ``connector[postgres]``.
"""

from __future__ import annotations

from .base import WRITE_MODES, DatabaseSink, StartWindow, check_write_mode
from .duckdb import DuckDBSink
from .postgres import PostgresSink
from .urls import TableName, looks_like_url, parse_database_url

__all__ = [
    "WRITE_MODES",
    "DatabaseSink",
    "DuckDBSink",
    "PostgresSink",
    "StartWindow",
    "TableName",
    "check_write_mode",
    "database_sink",
    "looks_like_url",
]


def database_sink(url: str, table: str = "meetings", write_mode: str = "replace") -> DatabaseSink | None:
    """The sink for a database URL (``duckdb://``, ``postgresql://``); None for a file path; unknown schemes refused."""
    parsed = parse_database_url(url)
    if parsed is None:
        return None
    if parsed.kind == "duckdb":
        return DuckDBSink(parsed, table, write_mode)
    return PostgresSink(parsed, table, write_mode)
