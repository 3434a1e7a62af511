"""The dlt source: pipelines into dlt's duckdb and filesystem destinations against the emulator.

Runs in its own virtual environment (``bash .ci/extras dlt``); in the main one it is skipped for want of dlt.
The oracle is the connector's own Parquet extract of the same emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dlt", reason="needs the dlt extra: pip install -e '.[dlt,dev]'")

import dlt
import duckdb
import pyarrow.dataset as pads
from destination_helpers import WINDOW, extract_parquet, starts_in_window, table_rows

from connector import ClientConfig, RateLimits
from connector.integrations.dlt import attio_source

pytestmark = pytest.mark.dlt


def config(emu: Any) -> ClientConfig:
    return ClientConfig(token=emu.token, base_url=emu.url, limits=RateLimits(reads_per_second=0))


def pipeline(tmp_path: Path, destination: Any, name: str = "attio_test") -> Any:
    return dlt.pipeline(
        name, destination=destination, dataset_name="crm", pipelines_dir=str(tmp_path / "pipelines")
    )


def test_duckdb_destination_holds_every_meeting_once_and_loads_incrementally(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    expected = extract_parquet(emulator, tmp_path / "m.parquet")
    path = tmp_path / "dlt.duckdb"
    pipe = pipeline(tmp_path, dlt.destinations.duckdb(str(path)))
    pipe.run(attio_source(config(emulator)))
    assert pipe.last_trace.last_normalize_info.row_counts["meetings"] == 300
    pipe.run(attio_source(config(emulator)))  # incremental: only from the last start loaded on
    assert pipe.last_trace.last_normalize_info.row_counts.get("meetings", 0) < 300
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT meeting_id) FROM crm.meetings").fetchone() == (
            300,
            300,
        )
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'crm' AND table_name = 'meetings'"
            ).fetchall()
        )
        loaded = con.sql(
            "SELECT meeting_id, title, start_datetime, created_at FROM crm.meetings"
        ).to_arrow_table()
    assert types["start_datetime"] == "TIMESTAMP WITH TIME ZONE" and types["start_date"] == "DATE"
    rows = table_rows(loaded)
    assert rows.keys() == expected.keys()
    for key, row in rows.items():
        want = expected[key]
        assert (row["title"], row["start_datetime"], row["created_at"]) == (
            want["title"],
            want["start_datetime"],
            want["created_at"],
        )


def test_filesystem_destination_writes_parquet_of_every_meeting(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    expected = extract_parquet(emulator, tmp_path / "m.parquet")
    bucket = tmp_path / "bucket"
    pipe = pipeline(tmp_path, dlt.destinations.filesystem(bucket_url=bucket.as_uri()), "attio_files")
    pipe.run(attio_source(config(emulator)), write_disposition="replace", loader_file_format="parquet")
    files = [p for p in (bucket / "crm" / "meetings").rglob("*.parquet")]
    assert files
    table = pads.dataset([str(p) for p in files], format="parquet").to_table()
    assert table.num_rows == 300 and set(table.column("meeting_id").to_pylist()) == expected.keys()


def test_an_external_schedulers_interval_bounds_the_run(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    in_window = extract_parquet(emulator, tmp_path / "w.parquet", *WINDOW, "--window", "start")
    assert in_window and all(starts_in_window(r) for r in in_window.values())
    monkeypatch.setenv("DLT_INTERVAL_START", "2025-03-01T00:00:00+00:00")
    monkeypatch.setenv("DLT_INTERVAL_END", "2025-06-01T00:00:00+00:00")
    path = tmp_path / "dlt.duckdb"
    pipe = pipeline(tmp_path, dlt.destinations.duckdb(str(path)), "attio_interval")
    pipe.run(attio_source(config(emulator)))
    with duckdb.connect(str(path), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT meeting_id FROM crm.meetings").fetchall()}
    assert ids == set(in_window)
