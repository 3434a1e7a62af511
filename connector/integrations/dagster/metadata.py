"""Materialization metadata: an extract's figures, a table's rows, schema and place, an import's counts."""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from dagster import (
    MetadataValue,
    TableColumn,
    TableSchema,
)

from connector import (
    ExtractReport,
    MeetingQuery,
)
from connector.extract.streams import TABLES
from connector.storage import is_url

from .._common import jsonable


def _table_schema(schema: pa.Schema) -> TableSchema:
    return TableSchema(columns=[TableColumn(name=f.name, type=str(f.type)) for f in schema])


def _extract_metadata(report: ExtractReport, schema: pa.Schema, query: MeetingQuery) -> dict[str, Any]:
    return {
        "dagster/row_count": MetadataValue.int(report.rows),
        "dagster/column_schema": _table_schema(schema),
        "schema_version": MetadataValue.text(report.schema_version),
        "filters": MetadataValue.json(dict(query.describe())),
        "rows_per_second": MetadataValue.float(round(report.rows_per_second, 1)),
        "seconds": MetadataValue.float(round(report.seconds, 3)),
        "requests": MetadataValue.int(report.requests),
        "pages": MetadataValue.int(report.pages),
        "retries": MetadataValue.int(report.retries),
        "rate_limited": MetadataValue.int(report.rate_limited),
        "report": MetadataValue.json(jsonable(report.to_dict())),
    }


def _import_metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        key: MetadataValue.int(int(data.get(key) or 0))
        for key in (
            "rows",
            "created",
            "found",
            "rejected",
            "failed",
            "skipped",
            "requests",
            "retries",
            "rate_limited",
        )
    }
    metadata["writes_per_second"] = MetadataValue.float(float(data.get("writes_per_second") or 0.0))
    metadata["seconds"] = MetadataValue.float(float(data.get("seconds") or 0.0))
    if data.get("results_path"):
        metadata["results_path"] = MetadataValue.path(str(data["results_path"]))
    if data.get("errors"):
        metadata["errors"] = MetadataValue.json(list(data["errors"])[:20])
    if data.get("aborted"):
        metadata["aborted"] = MetadataValue.text(str(data["aborted"]))
    if data.get("input_error"):
        metadata["input_error"] = MetadataValue.text(str(data["input_error"]))
    return metadata


def _table_metadata(
    report: ExtractReport, table: str, place: str | None, query: MeetingQuery, *, database: bool
) -> dict[str, Any]:
    """One table's materialization metadata: the run's figures, with the table's rows, schema and place
    (``destination``, a database table; ``url``, an object; ``path``, a local file)."""
    metadata = _extract_metadata(report, TABLES[table].arrow_schema(), query)
    metadata["dagster/row_count"] = MetadataValue.int(report.tables.get(table, 0))
    metadata["schema_version"] = MetadataValue.text(TABLES[table].schema().version)
    if place is not None and database:
        metadata["destination"] = MetadataValue.text(place)
    elif place is not None and is_url(place):
        metadata["url"] = MetadataValue.url(place)
    elif place is not None:
        metadata["path"] = MetadataValue.path(place)
    if table != "meetings":
        metadata["meetings_scanned"] = MetadataValue.int(report.meetings_scanned)
        metadata["skipped_future_meetings"] = MetadataValue.int(report.skipped_future_meetings)
    return metadata
