"""Reading the database destinations back, in one comparable form, and the Parquet extract they are checked against.

Rows become plain dicts keyed by ``meeting_id``: instants as aware UTC datetimes in microseconds (what
both databases keep), dates as dates, participants and linked records as lists of dicts (DuckDB's STRUCT
lists and PostgreSQL's jsonb alike).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from connector import ClientConfig, SyncAttioClient
from connector.cli import main
from connector.emulator import EmulatorThread

WINDOW = ["--ends-from", "2025-03-01", "--starts-before", "2025-06-01"]
WINDOW_FROM, WINDOW_BEFORE = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)


def _normal(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        elif isinstance(value, str) and key in ("participants", "linked_records"):
            value = json.loads(value)
        out[key] = value
    return out


def table_rows(table: pa.Table) -> dict[str, dict[str, Any]]:
    """Rows by meeting_id, timestamps cut to microseconds."""
    cols = {}
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us", tz="UTC"), safe=False)
        cols[field.name] = column
    return {r["meeting_id"]: _normal(r) for r in pa.table(cols).to_pylist()}


def parquet_rows(path: Path) -> dict[str, dict[str, Any]]:
    return table_rows(pq.read_table(path))


def duckdb_rows(path: Path, table: str = "meetings") -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return table_rows(con.sql(f"SELECT * FROM {table}").to_arrow_table())


def pg_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(url) as con, con.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
        con.commit()
        return rows


def pg_execute(url: str, *statements: str) -> None:
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(url) as con, con.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
        con.commit()


def pg_rows(url: str, table: str = "meetings") -> dict[str, dict[str, Any]]:
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(url) as con, con.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")
        result = cur.fetch_arrow_table()
        con.commit()
    return table_rows(result)


def extract_parquet(emu: EmulatorThread, path: Path, *flags: str) -> dict[str, dict[str, Any]]:
    """The same extract into Parquet: the oracle the databases are compared with."""
    code = main(["extract", "--base-url", emu.url, "--output", str(path), "--read-rate", "0", "-q", *flags])
    assert code == 0
    return parquet_rows(path)


def create_meeting(emu: EmulatorThread, start: str, end: str, title: str = "Deleted later") -> str:
    """A meeting created in the emulator (find-or-create); its ID."""
    meeting = {
        "title": title,
        "description": "",
        "is_all_day": False,
        "start": {"datetime": start, "timezone": "UTC"},
        "end": {"datetime": end, "timezone": "UTC"},
        "participants": [{"email_address": "gone@example.org", "is_organizer": True, "status": "accepted"}],
        "linked_records": [],
        "external_ref": f"destinations-{title}",
    }
    with SyncAttioClient(ClientConfig(token=emu.token, base_url=emu.url)) as client:
        return client.find_or_create_meeting(meeting)["id"]["meeting_id"]


def starts_in_window(row: dict[str, Any]) -> bool:
    """The rule of --window start for UTC: a timed meeting by its start, an all-day one by 00:00 UTC of its date."""
    if row["is_all_day"]:
        start = datetime(row["start_date"].year, row["start_date"].month, row["start_date"].day, tzinfo=UTC)
    else:
        start = row["start_datetime"]
    return WINDOW_FROM <= start < WINDOW_BEFORE
