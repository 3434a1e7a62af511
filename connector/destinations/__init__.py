"""Database destinations: DuckDB and PostgreSQL tables as extract sinks, with write modes.

    sink = database_sink("duckdb:///data/attio.duckdb", table="meetings", write_mode="merge")
    await extract(client, ExtractConfig(...), sink)

Each is a :class:`~connector.extract.sinks.Sink` writing one table in one transaction (:mod:`.base`):
``replace`` (the table holds exactly this extract), ``append``, ``merge`` (upsert by ``meeting_id``),
``replace-window`` (delete the rows that start in the extract's window, then insert; needs ``--window start``).
The drivers are extras: ``connector[duckdb]``, ``connector[postgres]``.
"""

from __future__ import annotations

from functools import partial

import anyio

from ..client import AttioClient
from ..config import ClientConfig
from ..errors import ConfigError, InvalidArgumentError
from ..extract import ExtractConfig, ExtractReport, extract
from .base import WRITE_MODES, DatabaseSink, StartWindow, check_write_mode
from .duckdb import DuckDBSink
from .postgres import PostgresSink
from .urls import TableName, looks_like_url, parse_database_url, redact

__all__ = [
    "WRITE_MODES",
    "DatabaseSink",
    "DuckDBSink",
    "PostgresSink",
    "StartWindow",
    "TableName",
    "check_write_mode",
    "database_sink",
    "extract_to_database",
    "looks_like_url",
    "redact",
]


def database_sink(url: str, table: str = "meetings", write_mode: str = "replace") -> DatabaseSink | None:
    """The sink for a database URL (``duckdb://``, ``postgresql://``); None for a file path; unknown schemes refused."""
    parsed = parse_database_url(url)
    if parsed is None:
        return None
    if parsed.kind == "duckdb":
        return DuckDBSink(parsed, table, write_mode)
    return PostgresSink(parsed, table, write_mode)


async def _run(
    client_config: ClientConfig | None, config: ExtractConfig, sink: DatabaseSink
) -> ExtractReport:
    async with AttioClient(client_config) as client:
        return await extract(client, config, sink)


def extract_to_database(
    url: str,
    *,
    table: str = "meetings",
    write_mode: str = "replace",
    config: ExtractConfig | None = None,
    client_config: ClientConfig | None = None,
) -> ExtractReport:
    """Extract into ``table`` of the database at ``url`` with ``write_mode``; return the report (sync).

    The destination is checked (connection, login, privileges, the table's columns) before anything is
    fetched. ``replace-window`` needs ``config.window == "start"`` and a bound. A database run is one
    transaction, so a checkpoint has nothing to resume and ``config.checkpoint`` is refused. Not for use
    inside a running event loop (use :func:`~connector.extract.extract` with :func:`database_sink`).
    """
    sink = database_sink(url, table, write_mode)
    if sink is None:
        raise InvalidArgumentError(
            "url", "not a database URL (duckdb:///path.duckdb, postgresql://user@host/db)"
        )
    cfg = config or ExtractConfig()
    if cfg.checkpoint is not None:
        raise ConfigError(
            "a database output is one transaction: it takes no checkpoint (run it again instead)"
        )
    if write_mode == "replace-window" and (
        cfg.window != "start" or (cfg.query.ends_from is None and cfg.query.starts_before is None)
    ):
        raise ConfigError(
            "write_mode='replace-window' needs window='start' and ends_from and/or starts_before"
        )
    sink.check_destination()
    return anyio.run(partial(_run, client_config, cfg, sink))
