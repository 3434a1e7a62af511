"""The extract against the emulator: output equals a brute-force filter of the data set, typed right."""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config, some_filters

from connector import AttioClient, MeetingQuery
from connector.errors import AuthenticationError, SchemaError
from connector.extract import (
    CallableSink,
    ExtractConfig,
    ParquetSink,
    extract,
    extract_batches,
    extract_dataframe,
    extract_dataframe_sync,
    extract_table,
    extract_to_path,
)

pytestmark = pytest.mark.anyio


FILTERS = [
    pytest.param(lambda v: {}, id="everything"),
    pytest.param(lambda v: {"sort": "start_desc"}, id="desc"),
    pytest.param(lambda v: {"ends_from": v["mid"]}, id="ends-from"),
    pytest.param(lambda v: {"starts_before": v["mid"]}, id="starts-before"),
    pytest.param(lambda v: {"ends_from": v["mid"], "starts_before": v["late"]}, id="window"),
    pytest.param(lambda v: {"ends_from": v["mid"], "starts_before": v["late"], "timezone": "Pacific/Kiritimati"}, id="window-tz+14"),
    pytest.param(lambda v: {"ends_from": v["mid"], "timezone": "America/Los_Angeles", "sort": "start_desc"}, id="ends-from-la-desc"),
    pytest.param(lambda v: {"participants": (v["top"],)}, id="one-participant"),
    pytest.param(lambda v: {"participants": (v["top"].upper(), v["rare"])}, id="two-participants-case"),
    pytest.param(lambda v: {"participants": ("nobody@nowhere.example",)}, id="no-match"),
    pytest.param(lambda v: {"linked_object": "deals", "linked_record_id": v["deal"]["record_id"]}, id="linked-slug"),
    pytest.param(lambda v: {"linked_object": v["deal"]["object_id"], "linked_record_id": v["deal"]["record_id"]}, id="linked-object-id"),
    pytest.param(
        lambda v: {"participants": (v["second"],), "linked_object": "deals", "linked_record_id": v["deal"]["record_id"]},
        id="participants-or-linked",
    ),
    pytest.param(
        lambda v: {"participants": (v["top"],), "ends_from": v["mid"], "starts_before": v["late"], "timezone": "Asia/Kolkata"},
        id="participant-in-window",
    ),
]


@pytest.mark.parametrize("slices", [1, 4, None], ids=["single", "sliced-4", "auto"])
@pytest.mark.parametrize("make_filters", FILTERS)
async def test_output_equals_brute_force(make_emulator: Any, make_filters: Any, slices: int | None) -> None:
    emu = make_emulator(meetings=400, seed=7)
    meetings = emu.emulator.store.all_meetings()
    query = MeetingQuery(limit=23, **make_filters(some_filters(meetings)))
    async with AttioClient(client_config(emu)) as client:
        table = await extract_table(client, ExtractConfig(query=query, slices=slices, batch_size=50))
    assert_table_matches(table, brute_force(meetings, query))


async def test_single_cursor_keeps_the_api_order(emulator: Any) -> None:
    expected = [m["id"]["meeting_id"] for m in emulator.emulator.store.all_meetings()]
    async with AttioClient(client_config(emulator)) as client:
        table = await extract_table(client, ExtractConfig(query=MeetingQuery(limit=50), slices=1))
        desc = await extract_table(client, ExtractConfig(query=MeetingQuery(limit=50, sort="start_desc"), slices=1))
    assert table.column("meeting_id").to_pylist() == expected
    assert desc.column("meeting_id").to_pylist() == expected[::-1]


async def test_sliced_file_equals_single_cursor_file(emulator: Any, tmp_path: Any) -> None:
    async with AttioClient(client_config(emulator)) as client:
        one = await extract(client, ExtractConfig(query=MeetingQuery(limit=20), slices=1), ParquetSink(tmp_path / "one.parquet"))
        many = await extract(client, ExtractConfig(query=MeetingQuery(limit=20), slices=5), ParquetSink(tmp_path / "many.parquet"))
    assert (one.slices, one.windows) == (1, 1)
    assert many.slices == 5 and many.windows > 5
    a = pq.read_table(tmp_path / "one.parquet").sort_by("meeting_id")
    b = pq.read_table(tmp_path / "many.parquet").sort_by("meeting_id")
    assert a.equals(b)
    assert one.rows == many.rows == 300
    # sliced output is in time order too (windows in order, each in the API's order), bar all-day edges
    starts = pq.read_table(tmp_path / "many.parquet").column("start_datetime").drop_null().cast(pa.int64()).to_pylist()
    assert sum(1 for x, y in itertools.pairwise(starts) if y < x) <= many.windows


async def test_extract_batches_is_an_async_iterator(emulator: Any) -> None:
    async with AttioClient(client_config(emulator)) as client:
        total = 0
        async with contextlib.aclosing(extract_batches(client, ExtractConfig(slices=3, batch_size=40))) as batches:
            async for batch in batches:
                assert isinstance(batch, pa.RecordBatch)
                total += batch.num_rows
        assert total == 300
        async with contextlib.aclosing(extract_batches(client, ExtractConfig(slices=3, batch_size=40))) as batches:
            async for _ in batches:
                break  # stopping early cancels the cursors cleanly


async def test_pandas_frame_has_the_right_dtypes(emulator: Any) -> None:
    async with AttioClient(client_config(emulator)) as client:
        frame = await extract_dataframe(client, ExtractConfig(slices=2))
    assert len(frame) == 300
    assert str(frame["start_datetime"].dtype) == "datetime64[ms, UTC]"
    assert str(frame["end_datetime"].dtype) == "datetime64[ms, UTC]"
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["start_date"].dtype) == "datetime64[ms]"
    assert frame["is_all_day"].dtype == bool
    assert pd.api.types.is_string_dtype(frame["meeting_id"]) and pd.api.types.is_string_dtype(frame["title"])
    assert frame["participants"].map(type).eq(list).all()
    assert (frame["created_at"].dt.nanosecond != 0).any()  # the nanoseconds survive into pandas
    all_day = frame[frame["is_all_day"]]
    assert all_day["start_datetime"].isna().all() and all_day["start_date"].notna().all()


async def test_schema_drift_unknown_field_is_reported(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = emulator.emulator.store
    original = type(store).meeting

    def with_extra(self: Any, row: int) -> dict[str, Any]:
        return {**original(self, row), "recording_url": "https://example.com"}

    monkeypatch.setattr(type(store), "meeting", with_extra)
    monkeypatch.setattr(type(store), "meeting_bytes", lambda self, row: json.dumps(with_extra(self, row)).encode())
    if hasattr(type(store), "meetings_bytes"):  # the emulator's batch renderer serves list pages
        monkeypatch.setattr(type(store), "meetings_bytes", lambda self, rows: [json.dumps(with_extra(self, r)).encode() for r in rows])
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(client, ExtractConfig(slices=1), CallableSink(lambda b: None))
    assert report.rows == 300
    assert report.ignored_fields == ("recording_url",)


async def test_missing_required_field_names_the_meeting(emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    store = emulator.emulator.store
    original = type(store).meeting
    victim = store.all_meetings()[123]["id"]["meeting_id"]

    def broken(self: Any, row: int) -> dict[str, Any]:
        m = original(self, row)
        if m["id"]["meeting_id"] == victim:
            del m["created_at"]
        return m

    monkeypatch.setattr(type(store), "meeting", broken)
    monkeypatch.setattr(type(store), "meeting_bytes", lambda self, row: json.dumps(broken(self, row)).encode())
    if hasattr(type(store), "meetings_bytes"):  # the emulator's batch renderer serves list pages
        monkeypatch.setattr(type(store), "meetings_bytes", lambda self, rows: [json.dumps(broken(self, r)).encode() for r in rows])
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(SchemaError, match=f"{victim}.*created_at"):
            await extract(client, ExtractConfig(slices=2), ParquetSink(tmp_path / "m.parquet"))
    assert not (tmp_path / "m.parquet").exists()


async def test_auth_error_leaves_no_files(emulator: Any, tmp_path: Any) -> None:
    async with AttioClient(client_config(emulator, token="wrong")) as client:
        with pytest.raises(AuthenticationError):
            await extract(client, ExtractConfig(slices=1), ParquetSink(tmp_path / "m.parquet"))
    assert list(tmp_path.iterdir()) == []


def test_sync_helpers(emulator: Any, tmp_path: Any) -> None:
    out = tmp_path / "sub" / "m.jsonl"
    report = extract_to_path(out, client_config=client_config(emulator), config=ExtractConfig(slices=2))
    assert report.rows == 300 and report.output_format == "jsonl" and out.exists()
    assert "rows        300" in report.format() and report.to_dict()["rows_per_second"] > 0
    frame = extract_dataframe_sync(ExtractConfig(query=MeetingQuery(ends_from=some_filters(
        emulator.emulator.store.all_meetings())["mid"] - timedelta(days=1))), client_config(emulator))
    assert 0 < len(frame) < 300
