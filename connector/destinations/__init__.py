"""Database destinations: DuckDB and PostgreSQL tables as extract sinks, with write modes.

    sink = database_sink("duckdb:///data/attio.duckdb", table="meetings", write_mode="merge")
    await extract(client, ExtractConfig(...), sink)

Each is a :class:`~connector.extract.sinks.Sink` writing one table in one transaction (:mod:`.base`):
``replace`` (the table holds exactly this extract), ``append``, ``merge`` (upsert by ``meeting_id``; a child
table by its key), ``replace-window`` (delete the rows that start in the extract's window, then insert; needs
``--window start``; meetings only). Several tables (``tables=``) are written in one transaction.
The drivers are extras: ``connector[duckdb]``, ``connector[postgres]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    "database_sinks",
    "extract_to_database",
    "looks_like_url",
    "redact",
]


def database_sink(
    url: str, table: str = "meetings", write_mode: str = "replace", *, key: str = "meeting_id"
) -> DatabaseSink | None:
    """The sink for a database URL (``duckdb://``, ``postgresql://``); None for a file path; unknown schemes refused.

    ``key``: the column ``merge`` replaces rows by (a child table's: see :data:`~connector.extract.streams.TABLES`).
    """
    parsed = parse_database_url(url)
    if parsed is None:
        return None
    if parsed.kind == "duckdb":
        return DuckDBSink(parsed, table, write_mode, key=key)
    return PostgresSink(parsed, table, write_mode, key=key)


def database_sinks(
    url: str, tables: Sequence[str], write_mode: str = "replace", *, names: Mapping[str, str] | None = None
) -> dict[str, DatabaseSink]:
    """A sink per table (named ``names[table]``, default the table's name) in one shared transaction, each
    checked against the database before anything is fetched. replace-window is refused for child tables."""
    from ..extract.streams import TABLES, check_tables

    tables = check_tables(tables)
    if write_mode == "replace-window" and tables != ("meetings",):
        raise ConfigError(
            "write mode replace-window is for the meetings table alone: a call recording has no start to judge "
            "the window by; use merge (or replace) for call_recordings and transcript_segments"
        )
    sinks: dict[str, DatabaseSink] = {}
    for table in tables:
        sink = database_sink(url, (names or {}).get(table, table), write_mode, key=TABLES[table].key)
        if sink is None:
            raise InvalidArgumentError(
                "url", "not a database URL (duckdb:///path.duckdb, postgresql://user@host/db)"
            )
        if sinks:
            sink.share_transaction(next(iter(sinks.values())))  # every table changes at once, or none does
        sink.check_destination(
            TABLES[table].arrow_schema()
        )  # unreachable, login, permission, incompatible: stop now
        sinks[table] = sink
    return sinks


async def _run(
    client_config: ClientConfig | None,
    config: ExtractConfig,
    sink: DatabaseSink | Mapping[str, DatabaseSink],
    tables: Sequence[str] | None = None,
) -> ExtractReport:
    async with AttioClient(client_config) as client:
        return await extract(client, config, sink, tables=tables)


def extract_to_database(
    url: str,
    *,
    table: str = "meetings",
    write_mode: str = "replace",
    config: ExtractConfig | None = None,
    client_config: ClientConfig | None = None,
    tables: str | Sequence[str] | None = None,
) -> ExtractReport:
    """Extract into ``table`` of the database at ``url`` with ``write_mode``; return the report (sync).

    ``tables`` (default ``meetings``): several are written to a table of their own name each (``table``
    is then ignored), in one transaction; merge replaces a call recording by ``call_recording_id`` and a
    transcript's segments as a whole; replace-window is for meetings alone.

    The destination is checked (connection, login, privileges, the table's columns) before anything is
    fetched. ``replace-window`` needs ``config.window == "start"`` and a bound. A database run is one
    transaction, so a checkpoint has nothing to resume and ``config.checkpoint`` is refused. Not for use
    inside a running event loop (use :func:`~connector.extract.extract` with :func:`database_sink`).
    """
    cfg = config or ExtractConfig()
    if tables is not None:
        sinks = database_sinks(url, tables, write_mode, names={"meetings": table})
        if cfg.checkpoint is not None:
            raise ConfigError(
                "a database output is one transaction: it takes no checkpoint (run it again instead)"
            )
        return anyio.run(partial(_run, client_config, cfg, sinks, tuple(sinks)))
    sink = database_sink(url, table, write_mode)
    if sink is None:
        raise InvalidArgumentError(
            "url", "not a database URL (duckdb:///path.duckdb, postgresql://user@host/db)"
        )
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
