"""dlt source: Attio meetings into any dlt destination (Snowflake, BigQuery, Redshift, Databricks, DuckDB, files...).

    import dlt
    from connector.integrations.dlt import attio_source
    dlt.pipeline("attio", destination="snowflake", dataset_name="crm").run(attio_source())

Needs ``pip install 'connector[dlt]'``. The ``meetings`` resource yields the extractor's Arrow tables (dlt's
Arrow path, not its JSON one: no per-row Python), with ``primary_key="meeting_id"`` and the ``merge`` write
disposition. It loads incrementally on ``start_datetime``: each run asks Attio only for meetings that start
at or after the last start loaded (``--window start`` rules; all-day meetings by 00:00 of their date in the
query's timezone, and always passed by dlt's cursor since their ``start_datetime`` is null). With
``allow_external_schedulers=True``, an Airflow data interval bounds the run instead.

Attio reports no deletions: a meeting deleted in Attio stays in the destination. For that, extract a trailing
window with ``--write-mode replace-window`` (DuckDB, PostgreSQL) instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Iterator
from contextlib import aclosing
from datetime import datetime
from typing import Any

import anyio
import pyarrow as pa

from .. import defaults
from ..client import AttioClient
from ..config import ClientConfig
from ..destinations.base import stored_batch
from ..errors import ConfigError
from ..extract import ExtractConfig, extract_batches
from ..models import MeetingQuery

try:
    import dlt
    from dlt.extract.incremental.context import get_interval_context
    from dlt.sources import incremental
except ImportError:  # pragma: no cover - exercised by the missing-extra test of the CLI's own extras
    raise ConfigError(
        "connector.integrations.dlt needs the dlt extra: pip install 'connector[dlt]'"
    ) from None

__all__ = ["attio_source", "meetings"]


def _bound(value: Any) -> datetime | None:
    """A cursor value from dlt (datetime, pendulum, ISO text) as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_DONE = object()


def _batches_in_thread(client_config: ClientConfig, config: ExtractConfig) -> Iterator[pa.Table]:
    """The extract's batches as tables, fetched by one event loop in a thread of its own.

    dlt steps an async generator one ``__anext__`` per task, which the extract's task group (one cancel scope
    from start to end) cannot live with; so the extract runs whole in its thread, two batches ahead at most.
    """
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    async def produce() -> None:
        async with AttioClient(client_config) as client:
            async with aclosing(extract_batches(client, config)) as stream:
                async for batch in stream:
                    table = stored_batch(batch)  # microseconds, as dlt's destinations keep instants
                    while not stop.is_set():
                        try:
                            batches.put(table, timeout=0.1)
                            break
                        except queue.Full:  # dlt has not taken the last two yet: wait, unless told to stop
                            continue
                    if stop.is_set():
                        return

    def run() -> None:
        try:
            anyio.run(produce)
            batches.put(_DONE)
        except BaseException as exc:  # re-raised in dlt's thread
            batches.put(exc)

    thread = threading.Thread(target=run, name="attio-dlt-extract", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        thread.join()


@dlt.resource(name="meetings", primary_key="meeting_id", write_disposition="merge")
def meetings(
    client_config: ClientConfig | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    batch_size: int = defaults.EXTRACT_BATCH_SIZE,
    start_datetime: incremental[datetime] = incremental[datetime](  # noqa: B008 - dlt's way to declare a cursor
        "start_datetime", on_cursor_value_missing="include", range_end="open"
    ),
) -> Iterator[pa.Table]:
    """Meetings starting in [last loaded start, end of the data interval), as Arrow tables of the meeting schema."""
    base = query or MeetingQuery()
    changes: dict[str, Any] = {}
    if start_datetime.start_value is not None:
        changes["ends_from"] = _bound(
            start_datetime.start_value
        )  # with window="start": starts at or after it
    if start_datetime.end_value is not None:
        changes["starts_before"] = _bound(start_datetime.end_value)
    config = ExtractConfig(
        query=dataclasses.replace(base, **changes) if changes else base,
        slices=slices,
        batch_size=batch_size,
        window="start",
    )
    yield from _batches_in_thread(client_config or ClientConfig.from_env(), config)


@dlt.source(name="attio")
def attio_source(
    client_config: ClientConfig | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    batch_size: int = defaults.EXTRACT_BATCH_SIZE,
    initial_start: datetime | None = None,
    external_schedulers: bool | None = None,
) -> Any:
    """The Attio source: its ``meetings`` resource, from ``initial_start`` on at the first run (None: all).

    ``client_config`` defaults to ``ClientConfig.from_env()`` (ATTIO_API_KEY); ``query`` adds Attio's other
    filters (participants, linked record, timezone for all-day meetings). ``external_schedulers``: None
    (default) sets dlt's ``allow_external_schedulers=True`` whenever dlt sees a scheduler's interval (an
    Airflow task, or ``DLT_INTERVAL_START``/``DLT_INTERVAL_END``), so that the data interval bounds the run;
    True always (dlt then fails without an interval), False never.
    """
    if external_schedulers is None:
        context = get_interval_context()  # None when no scheduler put an interval in dlt's container
        external_schedulers = True if context is not None and context.interval is not None else None
    cursor = incremental[datetime](
        "start_datetime",
        initial_value=initial_start,
        on_cursor_value_missing="include",
        allow_external_schedulers=external_schedulers,
        range_end="open",
    )
    return meetings(client_config, query, slices, batch_size, start_datetime=cursor)
