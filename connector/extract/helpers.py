"""Convenience entry points over :func:`~connector.extract.core.extract`: a table, a DataFrame, a file.

The ``async`` ones take an open :class:`~connector.client.AttioClient`; the sync ones (for scripts,
Airflow and Dagster) open a client from a :class:`~connector.config.ClientConfig` (default: from the
environment, ``ATTIO_API_KEY``) and run their own event loop. The naming rule: a sync twin is its async
entry point's name with ``_sync`` (``extract_table`` / ``extract_table_sync``); ``extract_to_path`` and
``extract_to_database`` are sync only (their async form is :func:`extract` with a sink).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from ..client import AttioClient
from ..config import ClientConfig
from ..deferred import deferred
from ..errors import ConfigError, InvalidArgumentError
from ..schema import meeting_arrow_schema
from .core import ExtractConfig, extract
from .report import ExtractReport
from .sinks import FORMATS, CallableSink, FileSink, sink_for_path
from .streams import TABLES, check_tables

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

if TYPE_CHECKING:
    import pandas as pd

    from ..storage.settings import StoreSettings

__all__ = [
    "extract_dataframe",
    "extract_dataframe_sync",
    "extract_table",
    "extract_table_sync",
    "extract_tables",
    "extract_to_path",
    "meetings_to_dataframe",
]

T = TypeVar("T")


async def extract_table(client: AttioClient, config: ExtractConfig | None = None) -> pa.Table:
    """All matching meetings as one Arrow table (rows in memory: use a sink for large extracts)."""
    batches: list[pa.RecordBatch] = []
    await extract(client, config or ExtractConfig(), CallableSink(batches.append))
    return pa.Table.from_batches(batches, schema=meeting_arrow_schema())


async def extract_tables(
    client: AttioClient, config: ExtractConfig | None = None, *, tables: str | Sequence[str] = ("meetings",)
) -> dict[str, pa.Table]:
    """Each of ``tables`` (meetings, call_recordings, transcript_segments) as an Arrow table, by name
    (rows in memory: use sinks for large extracts)."""
    names = check_tables(tables)
    batches: dict[str, list[pa.RecordBatch]] = {name: [] for name in names}
    await extract(
        client, config or ExtractConfig(), {n: CallableSink(batches[n].append) for n in names}, tables=names
    )
    return {n: pa.Table.from_batches(batches[n], schema=TABLES[n].arrow_schema()) for n in names}


def meetings_to_dataframe(table: pa.Table) -> pd.DataFrame:
    """A meetings table as a DataFrame with fixed dtypes.

    ``start_datetime``/``end_datetime`` ``datetime64[ms, UTC]`` (any year 0001-9999), ``created_at``
    ``datetime64[ns, UTC]``; dates ``datetime64[ms]`` (midnight, naive); ``is_all_day`` ``bool``;
    text columns pandas' string dtype; ``participants``/``linked_records`` lists of dicts (object).
    """
    frame: pd.DataFrame = table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=False)
    for name in ("participants", "linked_records"):
        frame[name] = frame[name].map(list)
    return frame


async def extract_dataframe(client: AttioClient, config: ExtractConfig | None = None) -> pd.DataFrame:
    """All matching meetings as a pandas DataFrame (see :func:`meetings_to_dataframe` for the dtypes)."""
    return meetings_to_dataframe(await extract_table(client, config))


async def _with_client(client_config: ClientConfig | None, fn: Callable[[AttioClient], Awaitable[T]]) -> T:
    async with AttioClient(client_config) as client:
        return await fn(client)


def extract_to_path(
    path: str | os.PathLike[str],
    *,
    format: Literal["parquet", "csv", "jsonl"] | None = None,
    config: ExtractConfig | None = None,
    client_config: ClientConfig | None = None,
    partition_by: str | None = None,
    csv_formulas: Literal["escape", "keep"] | None = None,
    store_settings: StoreSettings | None = None,
    tables: str | Sequence[str] | None = None,
    overwrite: bool = False,
) -> ExtractReport:
    """Extract to a file (format from ``format`` or the suffix; Parquet by default) and return the report.

    ``tables`` (default ``meetings``): with one table ``path`` is its file; with several, ``path`` is a
    folder that gets ``<table>.<format>`` each (Parquet by default), every one published only once all
    are complete.

    ``path`` may be an object-store URL (``s3://``, ``gs://``, ``az://``; see :mod:`connector.storage`).
    Checkpointed beside the output (a URL's: in local scratch); pass ``config=ExtractConfig(..., resume=True)`` to continue a run
    that was interrupted. ``partition_by``: ``"start_month"``, ``"workspace_id"`` or ``"workspace_id,start_month"``
    (a Parquet dataset, see :mod:`~connector.extract.dataset`). ``csv_formulas``: see
    :class:`~connector.extract.sinks.CsvSink` (CSV only). ``store_settings``: the store's credentials handed
    over in-process (an orchestrator's connection; :mod:`connector.storage.settings`) for a URL on that store. ``overwrite``: replace an existing file
    even if no extract wrote it (see :func:`~connector.extract.sinks.is_extract_output`). Not for use inside a
    running event loop (use :func:`~connector.extract.extract`).
    """
    from ..storage import ObjectStoreSink, is_url  # not at import: the storage package builds on this one

    options: dict[str, Any] = {
        "partition_by": partition_by,
        "csv_formulas": csv_formulas,
        "overwrite": overwrite,
    }
    names = check_tables(tables)
    # An s3:// gs:// az:// URL is an object store (a Path would fold its "//" into a local folder named "s3:").
    if store_settings is not None and not is_url(path):
        raise ConfigError(f"store settings were given, but {os.fspath(path)} is a local path")
    sinks: dict[str, FileSink] = {
        name: ObjectStoreSink(target, format, settings=store_settings, **options)
        if is_url(target)
        else sink_for_path(target, format, **options)
        for name, target in table_paths(path, names, format).items()
    }
    cfg = config or ExtractConfig()
    return anyio.run(
        partial(_with_client, client_config, lambda client: extract(client, cfg, sinks, tables=names))
    )


def table_paths(path: str | os.PathLike[str], tables: Sequence[str], format: str | None) -> dict[str, str]:
    """Where each table goes: one table to ``path`` itself; several to ``path/<table>.<format>`` (default parquet)."""
    if len(tables) == 1:
        return {tables[0]: os.fspath(path)}
    if format is not None and format not in FORMATS:
        raise InvalidArgumentError("format", f"must be one of {', '.join(FORMATS)}, got {format!r}")
    text = os.fspath(path)
    if "://" in text:
        return {t: f"{text.rstrip('/')}/{t}.{format or 'parquet'}" for t in tables}
    return {t: str(Path(text) / f"{t}.{format or 'parquet'}") for t in tables}


def extract_table_sync(
    config: ExtractConfig | None = None, client_config: ClientConfig | None = None
) -> pa.Table:
    """For code that is not async: :func:`extract_table` on a client of its own from ``client_config``."""
    return anyio.run(partial(_with_client, client_config, lambda client: extract_table(client, config)))


def extract_dataframe_sync(
    config: ExtractConfig | None = None, client_config: ClientConfig | None = None
) -> pd.DataFrame:
    """For code that is not async: :func:`extract_dataframe` on a client of its own from ``client_config``."""
    return meetings_to_dataframe(extract_table_sync(config, client_config))
