"""Dynamic work splitting and window="start": every meeting exactly once, also across splits and resumes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config, some_filters, span_ns

from connector import AttioClient, MeetingQuery
from connector.extract import CallableSink, ExtractConfig, ParquetSink, extract, extract_table
from connector.extract.checkpoint import default_checkpoint_path
from connector.extract.slices import WINDOWS_PER_SLICE

pytestmark = pytest.mark.anyio


class Interrupt(Exception):
    pass


def _body(ref: str, start: datetime, minutes: int, *, all_day: bool = False) -> dict[str, Any]:
    if all_day:
        when = {"start": {"date": start.date().isoformat()}, "end": {"date": (start + timedelta(days=1)).date().isoformat()}}
    else:
        end = start + timedelta(minutes=minutes)
        when = {"start": {"datetime": start.isoformat(), "timezone": "UTC"}, "end": {"datetime": end.isoformat(), "timezone": "UTC"}}
    return {
        "title": ref, "description": "", "is_all_day": all_day, "external_ref": ref, **when,
        "participants": [{"email_address": "split@example.com", "is_organizer": True, "status": "accepted"}],
    }


@pytest.fixture
def skewed(make_emulator: Any) -> Any:
    """300 spread meetings plus 240 packed into one day late in the range: one window holds most rows."""
    import anyio

    emu = make_emulator(meetings=300, seed=7)
    late = some_filters(emu.emulator.store.all_meetings())["late"]

    async def seed() -> None:
        async with AttioClient(client_config(emu)) as client:
            for i in range(240):
                start = late + timedelta(minutes=6 * i)
                await client.find_or_create_meeting(_body(f"dense-{i}", start, 30, all_day=i % 40 == 0))

    anyio.run(seed)
    return emu


@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
async def test_forced_splits_equal_brute_force_and_single_cursor(skewed: Any, sort: str, zone: str) -> None:
    query = MeetingQuery(limit=5, sort=sort, timezone=zone)
    batches: list[pa.RecordBatch] = []
    async with AttioClient(client_config(skewed)) as client:
        report = await extract(client, ExtractConfig(query=query, slices=3), CallableSink(batches.append))
        single = await extract_table(client, ExtractConfig(query=query, slices=1))
    assert report.windows > WINDOWS_PER_SLICE * report.slices, "no window was split"
    sliced = pa.Table.from_batches(batches)
    assert_table_matches(sliced, brute_force(skewed.emulator.store.all_meetings(), query))
    assert sliced.sort_by("meeting_id").equals(single.sort_by("meeting_id"))


async def test_forced_splits_with_time_bounds(skewed: Any) -> None:
    meetings = skewed.emulator.store.all_meetings()
    mid = some_filters(meetings)["mid"]
    query = MeetingQuery(limit=4, ends_from=mid, starts_before=mid + timedelta(days=400), timezone="Asia/Tokyo")
    async with AttioClient(client_config(skewed)) as client:
        for window in ("overlap", "start"):
            table = await extract_table(client, ExtractConfig(query=query, slices=3, window=window))
            expected = brute_force(meetings, query)
            if window == "start":
                expected = {k: m for k, m in expected.items() if span_ns(m, query.timezone)[0] >= int(mid.timestamp()) * 10**9}
            assert_table_matches(table, expected)


async def test_resume_after_a_split(skewed: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    query = MeetingQuery(limit=5)
    state = {"pages": 0, "checkpoint": None}

    def progress(rows: int, pages: int) -> None:
        state["pages"] += pages
        cp = default_checkpoint_path(out)
        # Stop at the first page after a split reached the saved checkpoint (not after a fixed page count: on a
        # loaded machine the split may come late, and a run that ends first proves nothing).
        if cp.exists():
            data = json.loads(cp.read_text())
            # (a split adds a window: the first window keeps starts before its end from the start, see slices.py)
            if len(data["windows"]) > 3 * WINDOWS_PER_SLICE and any(w["rows"] for w in data["windows"]):
                state["checkpoint"] = data
                raise Interrupt("stop after a split was saved")

    async with AttioClient(client_config(skewed)) as client:
        with pytest.raises(Interrupt):
            await extract(client, ExtractConfig(query=query, slices=3, batch_size=15, progress=progress), ParquetSink(out))
        saved = state["checkpoint"]
        assert saved is not None and not out.exists()
        assert len(saved["windows"]) > 3 * WINDOWS_PER_SLICE and saved["span"] is not None
        report = await extract(client, ExtractConfig(query=query, slices=3, resume=True), ParquetSink(out))
    assert report.resumed_rows > 0
    assert_table_matches(pq.read_table(out), brute_force(skewed.emulator.store.all_meetings(), query))
    assert not default_checkpoint_path(out).exists()


@pytest.mark.parametrize("slices", [1, 3])
async def test_consecutive_days_by_start_are_disjoint(emulator: Any, slices: int) -> None:
    zone = "Europe/Berlin"
    meetings = emulator.emulator.store.all_meetings()
    day = some_filters(meetings)["mid"].astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    d1, d2, d3 = day, day + timedelta(days=1), day + timedelta(days=2)
    async with AttioClient(client_config(emulator)) as client:
        # one meeting across each midnight, one all-day meeting on the second day
        for i, edge in enumerate((d1, d2, d3)):
            await client.find_or_create_meeting(_body(f"midnight-{i}", edge - timedelta(hours=1), 120))
        await client.find_or_create_meeting(_body("allday", d2.replace(tzinfo=None).replace(tzinfo=UTC), 0, all_day=True))
        meetings = emulator.emulator.store.all_meetings()
        parts, overlap = [], []
        for lo, hi in ((d1, d2), (d2, d3)):
            query = MeetingQuery(limit=3, ends_from=lo, starts_before=hi, timezone=zone)
            parts.append((await extract_table(client, ExtractConfig(query=query, slices=slices, window="start"))).column("meeting_id").to_pylist())
            overlap += (await extract_table(client, ExtractConfig(query=query, slices=slices))).column("meeting_id").to_pylist()
    lo_ns, hi_ns = int(d1.timestamp()) * 10**9, int(d3.timestamp()) * 10**9
    expected = {m["id"]["meeting_id"] for m in meetings if lo_ns <= span_ns(m, zone)[0] < hi_ns}
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(expected)
    assert len(overlap) > len(set(overlap))  # Attio's semantics: the meeting across midnight is in both days


def test_window_mode_is_validated() -> None:
    from connector.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="window"):
        ExtractConfig(window="end")
