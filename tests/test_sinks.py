"""The extract's sinks (connector/extract/sinks.py): each format's file, written whole or not at all, and the
sink a path asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from extract_helpers import client_config

from connector import AttioClient, ConfigError, InvalidArgumentError, MeetingQuery
from connector.extract import (
    CallableSink,
    CsvSink,
    ExtractConfig,
    JsonlSink,
    ParquetSink,
    extract,
    sink_for_path,
)
from connector.schema import SCHEMA_VERSION, meeting_arrow_schema

PARTICIPANT_KEYS = ("email_address", "name", "is_organizer", "status")


@pytest.mark.parametrize(
    ("name", "format", "sink"),
    [
        ("m.parquet", None, ParquetSink),
        ("m.PQ", None, ParquetSink),
        ("m.csv", None, CsvSink),
        ("m.ndjson", None, JsonlSink),
        ("m.json", None, JsonlSink),
        ("m", None, ParquetSink),
        ("m.txt", "csv", CsvSink),
    ],
)
def test_the_sink_is_chosen_by_format_or_suffix(
    tmp_path: Path, name: str, format: str | None, sink: type
) -> None:
    chosen = sink_for_path(tmp_path / name, format)
    assert type(chosen) is sink and chosen.path == tmp_path / name


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("m.txt", {}, r"'.*m\.txt' has the suffix \.txt; use \.parquet, \.csv or \.jsonl, or pass --format"),
        ("m.parquet", {"csv_formulas": "keep"}, "--csv-formulas is for CSV output only"),
        ("m.csv", {"partition_by": "start_month"}, "only the parquet format can be partitioned"),
        ("m.parquet", {"format": "xlsx"}, "must be one of"),
    ],
)
def test_a_sink_that_cannot_be_is_refused_by_name(
    tmp_path: Path, name: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        sink_for_path(tmp_path / name, **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sink", [ParquetSink, CsvSink, JsonlSink])
def test_an_aborted_write_leaves_the_output_as_it_was(tmp_path: Path, sink: type) -> None:
    out = tmp_path / "m.out"
    out.write_bytes(b"the last good extract")  # not the tool's own: replaced only with overwrite
    schema = meeting_arrow_schema()
    writer = sink(out, overwrite=True)
    writer.check_destination()
    writer.open(schema, {"connector.schema_version": SCHEMA_VERSION})
    writer.write(pa.RecordBatch.from_pylist([], schema=schema))
    writer.abort()
    assert out.read_bytes() == b"the last good extract" and [p.name for p in tmp_path.iterdir()] == ["m.out"]


def test_a_folder_is_no_file_output(tmp_path: Path) -> None:
    (tmp_path / "m.parquet").mkdir()
    with pytest.raises(ConfigError, match=r"output .*m\.parquet is a folder; nothing was changed"):
        ParquetSink(tmp_path / "m.parquet").check_destination()


# ------------------------------------------------------------------------------------- through an extract


@pytest.mark.anyio
async def test_parquet_file_metadata_and_layout(emulator: Any, tmp_path: Any) -> None:
    out = tmp_path / "m.parquet"
    query = MeetingQuery(limit=100, participants=("x@example.com",), timezone="Europe/Paris")
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(client, ExtractConfig(query=query), ParquetSink(out))
        full = await extract(client, ExtractConfig(query=MeetingQuery()), ParquetSink(out))
    meta = pq.ParquetFile(out).metadata
    kv = {k.decode(): v.decode() for k, v in meta.metadata.items()}
    assert kv["connector.schema_version"] == SCHEMA_VERSION
    assert json.loads(kv["connector.filters"])["timezone"] == "UTC"  # the second run replaced the file
    assert "connector.extracted_at" in kv
    assert emulator.token not in json.dumps(kv)
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.num_row_groups == 1 and meta.num_rows == full.rows == 300
    assert report.output == str(out) and report.filters["participants"] == "x@example.com"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]  # no checkpoint, parts or temp left


@pytest.mark.anyio
async def test_partitioned_dataset_by_start_month(emulator: Any, tmp_path: Any) -> None:
    out = tmp_path / "meetings"
    meetings = emulator.emulator.store.all_meetings()
    async with AttioClient(client_config(emulator)) as client:
        await extract(client, ExtractConfig(slices=3), ParquetSink(out, partition_by="start_month"))
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(meetings)
    for row in table.select(["start_month", "is_all_day", "start_datetime", "start_date"]).to_pylist()[:50]:
        start = row["start_date"] if row["is_all_day"] else row["start_datetime"]
        assert row["start_month"] == f"{start.year:04d}-{start.month:02d}"
    assert not (tmp_path / "meetings.partial").exists()


@pytest.mark.anyio
async def test_csv_and_jsonl_hold_the_same_rows(emulator: Any, tmp_path: Any) -> None:
    meetings = {m["id"]["meeting_id"]: m for m in emulator.emulator.store.all_meetings()}
    async with AttioClient(client_config(emulator)) as client:
        await extract(client, ExtractConfig(slices=2), CsvSink(tmp_path / "m.csv"))
        await extract(client, ExtractConfig(slices=2), JsonlSink(tmp_path / "m.jsonl"))
    csv = pacsv.read_csv(tmp_path / "m.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    assert sorted(csv.column("meeting_id").to_pylist()) == sorted(meetings)
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert sorted(r["meeting_id"] for r in lines) == sorted(meetings)
    for row in lines:
        m = meetings[row["meeting_id"]]
        assert row["created_at"] == m["created_at"]  # nanoseconds kept, UTC 'Z'
        assert row["participants"] == [{k: p.get(k) for k in PARTICIPANT_KEYS} for p in m["participants"]]
        if m["is_all_day"]:
            assert row["start_date"] == m["start"]["date"] and row["start_datetime"] is None
    for row in csv.to_pylist():
        m = meetings[row["meeting_id"]]
        assert json.loads(row["participants"]) == [
            {k: p.get(k) for k in PARTICIPANT_KEYS} for p in m["participants"]
        ]
        assert json.loads(row["linked_records"]) == m["linked_records"]
        assert row["is_all_day"] == m["is_all_day"]


@pytest.mark.anyio
async def test_callable_sink_and_batch_sizes(emulator: Any) -> None:
    seen: list[pa.RecordBatch] = []
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(
            client,
            ExtractConfig(query=MeetingQuery(limit=30), slices=1, batch_size=100),
            CallableSink(seen.append),
        )
    assert [b.num_rows for b in seen] == [120, 120, 60]  # whole pages up to batch_size
    assert report.rows == 300 and report.pages == 10 and report.output is None
