"""Meetings far from today (1600, 1900, 2300, 2500; timed and all-day) come out of every extract exactly once.

Nanosecond timestamps stop at 1677-09-21 and 2262-04-11; start times are milliseconds (Attio's precision)
and start keys epoch milliseconds, so no year 0001-9999 stops an unbounded extract.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config, to_ns

from connector import AttioClient, MeetingQuery
from connector.cli import main
from connector.extract import ExtractConfig, ParquetSink, extract
from connector.extract.helpers import extract_table

# 1600 in Berlin is local mean time: Attio's offset then has seconds (+00:53:28).
FAR = [(1600, "Europe/Berlin"), (1900, "America/New_York"), (2300, "Asia/Tokyo"), (2500, None)]
PERSON = [{"email_address": "far@example.com", "is_organizer": True, "status": "accepted"}]


class Interrupt(Exception):
    pass


def _post(raw: Any, title: str, start: dict[str, Any], end: dict[str, Any], all_day: bool) -> dict[str, Any]:
    body = {
        "title": title,
        "description": "",
        "is_all_day": all_day,
        "start": start,
        "end": end,
        "participants": PERSON,
        "linked_records": [],
    }
    response = raw.post({"data": body})
    assert response.status == 200, response.body
    return response.json()["data"]


@pytest.fixture
def far(emulator: Any, raw: Any) -> dict[str, dict[str, Any]]:
    """title -> the meeting as the emulator serves it: one timed and one all-day meeting in each far year."""
    made = {}
    for year, tz in FAR:
        made[f"timed {year}"] = _post(
            raw,
            f"timed {year}",
            {"datetime": f"{year}-03-01T09:00:00", "timezone": tz},
            {"datetime": f"{year}-03-01T10:30:00", "timezone": tz},
            False,
        )
        made[f"all-day {year}"] = _post(
            raw, f"all-day {year}", {"date": f"{year}-03-02"}, {"date": f"{year}-03-04"}, True
        )
    return made


def _expected(emulator: Any, query: MeetingQuery) -> dict[str, dict[str, Any]]:
    return brute_force(emulator.emulator.store.all_meetings(), query)


@pytest.mark.parametrize(
    ("slices", "sort"),
    [
        pytest.param(1, "start_asc", id="single"),
        pytest.param(4, "start_asc", id="sliced"),
        pytest.param(4, "start_desc", id="sliced-descending"),
    ],
)
@pytest.mark.anyio
async def test_unbounded_extract_holds_every_far_meeting_once(
    emulator: Any, far: dict[str, dict[str, Any]], slices: int, sort: str
) -> None:
    query = MeetingQuery(limit=20, sort=sort)
    async with AttioClient(client_config(emulator)) as client:
        table = await extract_table(client, ExtractConfig(query=query, slices=slices, batch_size=50))
    assert_table_matches(table, _expected(emulator, query))  # every meeting once, values exact
    rows = {r["title"]: r for r in table.to_pylist() if r["title"] in far}
    assert len(rows) == len(far)
    assert rows["timed 1600"]["start_datetime"] == datetime(
        1600, 3, 1, 8, 6, 32, tzinfo=UTC
    )  # 09:00 at +00:53:28
    assert rows["timed 1900"]["end_datetime"] == datetime(1900, 3, 1, 15, 30, tzinfo=UTC)
    assert rows["timed 2300"]["start_datetime"] == datetime(2300, 3, 1, 0, 0, tzinfo=UTC)
    assert rows["timed 2500"]["start_datetime"] == datetime(2500, 3, 1, 9, 0, tzinfo=UTC)
    assert (
        rows["all-day 2500"]["start_date"] == date(2500, 3, 2)
        and rows["all-day 2500"]["start_datetime"] is None
    )


@pytest.mark.parametrize("window", ["overlap", "start"])
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati"])
@pytest.mark.anyio
async def test_sliced_windows_around_far_years(
    emulator: Any, far: dict[str, dict[str, Any]], window: str, tz: str
) -> None:
    for lo, hi in (("1599-12-01", "1600-04-01"), ("2499-12-01", "2500-03-03")):
        query = MeetingQuery(
            limit=5, ends_from=f"{lo}T00:00:00Z", starts_before=f"{hi}T00:00:00Z", timezone=tz
        )
        async with AttioClient(client_config(emulator)) as client:
            table = await extract_table(client, ExtractConfig(query=query, slices=3, window=window))
        expected = _expected(emulator, query)
        assert expected  # the range holds far meetings: the test would pass vacuously otherwise
        assert_table_matches(table, expected)


def test_far_meetings_in_csv_jsonl_and_parquet_files(
    emulator: Any, far: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    common = ["--base-url", emulator.url, "--read-rate", "0", "--page-size", "40", "--slices", "3", "--quiet"]
    outputs = {fmt: tmp_path / f"m.{fmt}" for fmt in ("csv", "jsonl", "parquet")}
    for out in outputs.values():
        assert main(["extract", "--output", str(out), *common]) == 0
    with outputs["csv"].open(newline="", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    json_rows = [json.loads(line) for line in outputs["jsonl"].read_text().splitlines()]
    for written in (csv_rows, json_rows):
        assert sorted(r["meeting_id"] for r in written) == sorted(_expected(emulator, MeetingQuery()))
        rows = {r["title"]: r for r in written if r["title"] in far}
        assert rows["timed 1600"]["start_datetime"] == "1600-03-01T08:06:32.000Z"
        assert rows["timed 2300"]["end_datetime"] == "2300-03-01T01:30:00.000Z"
        assert rows["timed 2500"]["start_datetime"] == "2500-03-01T09:00:00.000Z"
        assert rows["all-day 1600"]["start_date"] == "1600-03-02" and rows["all-day 1600"][
            "start_datetime"
        ] in ("", None)
    assert_table_matches(pq.read_table(outputs["parquet"]), _expected(emulator, MeetingQuery()))


def test_far_months_in_a_partitioned_dataset(
    emulator: Any, far: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    out = tmp_path / "meetings"
    assert (
        main(
            [
                "extract",
                "--output",
                str(out),
                "--partition-by",
                "start_month",
                "--base-url",
                emulator.url,
                "--read-rate",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    months = {p.name for p in out.iterdir()}
    assert {
        "start_month=1600-03",
        "start_month=1900-03",
        "start_month=2300-03",
        "start_month=2500-03",
    } <= months
    assert_table_matches(pq.read_table(out, partitioning=None), _expected(emulator, MeetingQuery()))


def test_interrupted_extract_of_far_meetings_resumes_exactly(
    emulator: Any, far: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "m.parquet"
    checkpoint_file = Path(f"{out}.checkpoint.json")
    # Pages of one meeting: the first window (read in start order from 1600) saves a position before 1970
    # while it still has pages to read; a later window is read from its top down and meets 1900 last.
    query = MeetingQuery(limit=1)

    def saved_positions() -> list[int]:
        if not checkpoint_file.exists():
            return []
        windows = json.loads(checkpoint_file.read_text())["windows"]
        return [w["position_ms"] for w in windows if w["position_ms"] is not None]

    def stop_once_a_far_position_is_saved(rows: int, n: int) -> None:
        # The checkpoint file is written after the commit that reports progress: stop on what the file holds.
        if any(p < 0 for p in saved_positions()):
            raise Interrupt("stop")

    async def run(config: ExtractConfig) -> Any:
        async with AttioClient(client_config(emulator)) as client:
            return await extract(client, config, ParquetSink(out))

    with pytest.raises(Interrupt):
        anyio.run(
            run,
            ExtractConfig(query=query, slices=3, batch_size=1, progress=stop_once_a_far_position_is_saved),
        )
    assert min(saved_positions()) < 0  # start keys before 1970 (here 1600) are saved in the checkpoint
    report = anyio.run(run, ExtractConfig(query=query, slices=3, resume=True))
    assert 0 < report.resumed_rows < report.rows
    assert_table_matches(pq.read_table(out), _expected(emulator, query))


def test_extracted_far_times_load_back_unchanged(
    emulator: Any,
    far: dict[str, dict[str, Any]],
    make_emulator: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The loader reads the extract's millisecond timestamps from Parquet in any year (a round trip)."""
    from load_helpers import run_load

    extracted = tmp_path / "m.parquet"
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    assert (
        main(
            ["extract", "--output", str(extracted), "--base-url", emulator.url, "--read-rate", "0", "--quiet"]
        )
        == 0
    )
    timed = pq.read_table(extracted).filter(
        pc.is_in(pc.field("title"), pa.array([t for t in far if t.startswith("timed")]))
    )
    assert timed.num_rows == len(FAR) and timed.schema.field("start_datetime").type.unit == "ms"
    source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table(
            {
                "external_ref": timed.column("meeting_id"),
                "title": timed.column("title"),
                "start": timed.column("start_datetime"),
                "end": timed.column("end_datetime"),
                "participants": pa.array(["far@example.com"] * timed.num_rows),
            }
        ),
        source,
    )
    target = make_emulator(meetings=0)
    run = run_load(target, monkeypatch, capsys, str(source))
    assert run.code == 0, run.err
    loaded = {m["title"]: m for m in make_raw(target).list_all()}
    for title in (t for t in far if t.startswith("timed")):
        sent, back = far[title], loaded[title]
        for side in ("start", "end"):
            assert to_ns(back[side]["datetime"]) == to_ns(sent[side]["datetime"]), (title, side)
