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

import dataclasses
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import datetime
from typing import Any

import pyarrow as pa

from ..client import AttioClient
from ..config import ClientConfig
from ..errors import ConfigError
from ..extract import ExtractConfig, extract_batches
from ..models import MeetingQuery

try:
    import dlt
    from dlt.sources import incremental
except ImportError:  # pragma: no cover - exercised by the missing-extra test of the CLI's own extras
    raise ConfigError("connector.integrations.dlt needs the dlt extra: pip install 'connector[dlt]'") from None

__all__ = ["attio_source", "meetings"]


def _bound(value: Any) -> datetime | None:
    """A cursor value from dlt (datetime, pendulum, ISO text) as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dlt.resource(name="meetings", primary_key="meeting_id", write_disposition="merge")
async def meetings(
    client_config: ClientConfig | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    batch_size: int = 10_000,
    start_datetime: incremental[Any] = incremental(
        "start_datetime", on_cursor_value_missing="include", allow_external_schedulers=True, range_end="open"
    ),
) -> AsyncIterator[pa.Table]:
    """Meetings starting in [last loaded start, end of the data interval), as Arrow tables of the meeting schema."""
    base = query or MeetingQuery()
    changes: dict[str, Any] = {}
    if start_datetime.start_value is not None:
        changes["ends_from"] = _bound(start_datetime.start_value)  # with window="start": starts at or after it
    if start_datetime.end_value is not None:
        changes["starts_before"] = _bound(start_datetime.end_value)
    config = ExtractConfig(
        query=dataclasses.replace(base, **changes) if changes else base,
        slices=slices,
        batch_size=batch_size,
        window="start",
    )
    async with AttioClient(client_config or ClientConfig.from_env()) as client:
        async with aclosing(extract_batches(client, config)) as batches:
            async for batch in batches:
                yield pa.Table.from_batches([batch])


@dlt.source(name="attio")
def attio_source(
    client_config: ClientConfig | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    batch_size: int = 10_000,
    initial_start: datetime | None = None,
) -> Any:
    """The Attio source: its ``meetings`` resource, from ``initial_start`` on at the first run (None: all).

    ``client_config`` defaults to ``ClientConfig.from_env()`` (ATTIO_API_KEY); ``query`` adds Attio's other
    filters (participants, linked record, timezone for all-day meetings).
    """
    cursor = incremental(
        "start_datetime",
        initial_value=initial_start,
        on_cursor_value_missing="include",
        allow_external_schedulers=True,
        range_end="open",
    )
    return meetings(client_config, query, slices, batch_size, start_datetime=cursor)
