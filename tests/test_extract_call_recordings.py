"""Call recordings and transcript segments as child streams of the extract: the tables equal what the emulator
serves (brute force over its HTTP API), the edge recordings land as documented, resume after SIGKILL is
exact, no token or video_url reaches any file, and the default ``--tables meetings`` is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from extract_helpers import (
    assert_table_matches,
    brute_force,
    checkpoint_has,
    client_config,
    kill_when,
    span_ns,
)
from objectstore_helpers import moto_fixture, s3_fixture  # noqa: F401 - fixtures
from recording_helpers import (
    VIDEO_HOST,
    assert_recordings_match,
    emu_fixture,  # noqa: F401 - the fixture 'emu'
    leaked,
)

from connector import AttioClient, MeetingQuery
from connector.cli import main
from connector.errors import InvalidArgumentError
from connector.extract import CallableSink, ExtractConfig, extract, extract_tables
from connector.extract.streams import TABLES, check_tables

ALL = "meetings,call_recordings,transcript_segments"
CHILDREN = "call_recordings,transcript_segments"


def _cli(emu: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    return main(["extract", "--base-url", emu.url, "--quiet", "--slices", "2", *args])


def _future_bounds(meetings: list[dict[str, Any]], before: datetime, after: datetime) -> tuple[int, int]:
    """How many meetings surely start after ``after`` and how many may start after ``before``."""
    starts = [span_ns(m, "UTC")[0] for m in meetings]
    return (
        sum(s > after.timestamp() * 1e9 for s in starts),
        sum(s > before.timestamp() * 1e9 for s in starts),
    )


def test_three_tables_equal_what_the_emulator_serves(
    make_raw: Any,
    make_emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = make_emulator(meetings=150, seed=11)
    out = tmp_path / "attio"
    before = datetime.now(UTC)
    assert _cli(emu, monkeypatch, "--output", str(out), "--tables", ALL, "--json") == 0
    after = datetime.now(UTC)
    report = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == [
        "call_recordings.parquet",
        "meetings.parquet",
        "transcript_segments.parquet",
    ]
    served = make_raw(emu).all_call_recordings()
    recordings, segments = (
        pq.read_table(out / "call_recordings.parquet"),
        pq.read_table(out / "transcript_segments.parquet"),
    )
    assert_recordings_match(recordings, segments, served)
    meetings = emu.emulator.store.all_meetings()
    assert_table_matches(pq.read_table(out / "meetings.parquet"), brute_force(meetings, MeetingQuery()))
    assert report["tables"] == {
        "meetings": 150,
        "call_recordings": len(served),
        "transcript_segments": segments.num_rows,
    }
    assert report["meetings_scanned"] == 150
    low, high = _future_bounds(meetings, before, after)
    assert low <= report["skipped_future_meetings"] <= high and high > 0  # the data set has future meetings
    assert pq.read_schema(out / "call_recordings.parquet").metadata[b"connector.schema_version"] == b"1.0.0"


def test_edge_recordings_land_as_documented(make_raw: Any, make_emulator: Any, tmp_path: Path) -> None:
    """4,000 segments, transcript null, processing and failed: each as the README says."""
    emu = make_emulator(meetings=150, seed=11)
    raw = make_raw(emu)
    past = min(emu.emulator.store.all_meetings(), key=lambda m: span_ns(m, "UTC")[0])  # long past: fanned out
    mid = past["id"]["meeting_id"]
    segments = [{"speech": f"wörd {i} 🎙", "start_time": i * 0.5, "end_time": i * 0.5 + 0.25, "speaker": {"name": f"S{i % 3}"}}
                for i in range(4000)]  # fmt: skip
    created = raw.request(
        "POST", f"/v2/meetings/{mid}/call_recordings", body={"data": {"transcript": segments}}
    )
    assert created.status == 200, created.body
    made = created.json()["data"]["id"]["call_recording_id"]
    empty = raw.request("POST", f"/v2/meetings/{mid}/call_recordings", body={"data": {}})  # transcript: null
    assert empty.status == 200, empty.body
    served = raw.all_call_recordings()
    out = tmp_path / "out"

    tables = _extract(emu, tmp_path, out)
    assert_recordings_match(tables["call_recordings"], tables["transcript_segments"], served)
    recs = {r["call_recording_id"]: r for r in tables["call_recordings"].to_pylist()}
    segs = tables["transcript_segments"].filter(
        pa.compute.equal(tables["transcript_segments"]["call_recording_id"], made)
    )
    assert segs.num_rows == 4000 and segs["segment_index"].to_pylist() == list(range(4000))
    assert segs["start_seconds"].to_pylist()[3999] == 1999.5 and segs["speech"][1].as_py() == "wörd 1 🎙"
    assert recs[made]["status"] == "completed" and recs[made]["raw_transcript"].startswith(
        "[00:00] S0: wörd 0"
    )
    null_id = empty.json()["data"]["id"]["call_recording_id"]
    assert recs[null_id]["raw_transcript"] is None
    assert null_id not in set(tables["transcript_segments"]["call_recording_id"].to_pylist())
    by_status = {s: [r for r in served if r["status"] == s] for s in ("processing", "failed", "completed")}
    assert all(by_status.values()), "the seeded data has every status"
    for rec in by_status["failed"] + by_status["processing"]:
        if rec["transcript"] is None:
            assert recs[rec["id"]["call_recording_id"]]["raw_transcript"] is None
    assert any(r["transcript"] is None for r in by_status["completed"])  # completed, but no transcript


def _extract(emu: Any, tmp_path: Path, out: Path) -> dict[str, pa.Table]:
    import anyio

    async def run() -> dict[str, pa.Table]:
        async with AttioClient(client_config(emu)) as client:
            return await extract_tables(
                client, ExtractConfig(slices=2), tables=["call_recordings", "transcript_segments"]
            )

    return anyio.run(run)


def test_sigkill_midway_then_resume_is_exact_and_nothing_leaks(
    make_raw: Any, make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(meetings=150, seed=11, latency_ms=25)
    out = tmp_path / "attio"
    args = ["extract", "--base-url", emu.url, "--output", str(out), "--tables", ALL, "--format", "jsonl",
            "--slices", "2", "--page-size", "20", "--max-in-flight", "4", "--quiet"]  # fmt: skip
    env = {**os.environ, "ATTIO_API_KEY": emu.token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = out / "meetings.jsonl.tables.checkpoint.json"

    def recordings(data: dict[str, Any]) -> int:
        return data["fanout"]["tables"]["call_recordings"]["rows"]

    kill_when(proc, checkpoint_has(checkpoint, 30, committed=recordings))
    state = json.loads(checkpoint.read_text())
    assert state["fanout"]["pending"], "killed with meetings whose recordings are still to fetch"
    assert not (out / "call_recordings.jsonl").exists()
    video = VIDEO_HOST.encode()
    assert leaked(tmp_path, [emu.token.encode(), video]) == []  # the checkpoint and its part files too
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    assert main([*args[:-1], "--resume", "--quiet"]) == 0
    assert not checkpoint.exists()
    served = make_raw(emu).all_call_recordings()
    assert any(r["video_url"] for r in served), "the emulator serves video links"
    recordings_table = pa.Table.from_pylist(
        [json.loads(line) for line in (out / "call_recordings.jsonl").read_text().splitlines()]
    )
    segments_table = pa.Table.from_pylist(
        [json.loads(line) for line in (out / "transcript_segments.jsonl").read_text().splitlines()]
    )
    recordings_table = recordings_table.cast(TABLES["call_recordings"].arrow_schema().remove_metadata())
    segments_table = segments_table.cast(TABLES["transcript_segments"].arrow_schema().remove_metadata())
    assert_recordings_match(recordings_table, segments_table, served)
    assert leaked(tmp_path, [emu.token.encode(), video]) == []


def test_no_video_url_reaches_any_output(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for fmt in ("parquet", "csv", "jsonl"):
        out = tmp_path / fmt
        assert _cli(emu, monkeypatch, "--output", str(out), "--tables", ALL, "--format", fmt) == 0
        assert (out / f"transcript_segments.{fmt}").stat().st_size > 0
    assert leaked(tmp_path, [emu.token.encode(), VIDEO_HOST.encode(), b"video_url", b"signature="]) == []


def test_default_tables_output_is_unchanged(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli(emu, monkeypatch, "--output", str(tmp_path / "default.parquet")) == 0
    assert _cli(emu, monkeypatch, "--output", str(tmp_path / "named.parquet"), "--tables", "meetings") == 0
    default, named = pq.read_table(tmp_path / "default.parquet"), pq.read_table(tmp_path / "named.parquet")
    assert_table_matches(default, brute_force(emu.emulator.store.all_meetings(), MeetingQuery()))
    assert named.equals(default)
    keys = set(pq.read_schema(tmp_path / "default.parquet").metadata)
    assert {k for k in keys if k.startswith(b"connector.")} == {
        b"connector.schema", b"connector.schema_version", b"connector.filters", b"connector.extracted_at",
        b"connector.slices", b"connector.windows", b"connector.window",
    }  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.parquet", "named.parquet"]


def test_children_without_meetings_fetch_meetings_but_do_not_write_them(
    make_raw: Any, emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "attio"
    assert (
        _cli(emu, monkeypatch, "--output", str(out), "--tables", CHILDREN, "--include-future-meetings") == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["call_recordings.parquet", "transcript_segments.parquet"]
    served = make_raw(emu).all_call_recordings()
    assert_recordings_match(
        pq.read_table(out / "call_recordings.parquet"),
        pq.read_table(out / "transcript_segments.parquet"),
        served,
    )
    single = tmp_path / "recordings.csv"  # one table: --output is its file
    assert _cli(emu, monkeypatch, "--output", str(single), "--tables", "call_recordings") == 0
    assert sorted(pa.csv.read_csv(single)["call_recording_id"].to_pylist()) == sorted(
        r["id"]["call_recording_id"] for r in served
    )  # raw transcripts span lines, quoted; rows in the order meetings finished


@pytest.mark.anyio
async def test_python_api_one_sink_per_table_and_the_report(make_raw: Any, emu: Any) -> None:
    got: dict[str, list[pa.RecordBatch]] = {"call_recordings": [], "meetings": []}
    async with AttioClient(client_config(emu)) as client:
        report = await extract(
            client, ExtractConfig(slices=2, include_future_meetings=True),
            {t: CallableSink(got[t].append) for t in got}, tables=["meetings", "call_recordings"],
        )  # fmt: skip
        with pytest.raises(InvalidArgumentError, match="one sink per table"):
            await extract(
                client, ExtractConfig(), CallableSink(print), tables=["meetings", "call_recordings"]
            )
    served = make_raw(emu).all_call_recordings()
    assert sum(b.num_rows for b in got["call_recordings"]) == len(served) == report.tables["call_recordings"]
    assert (
        report.tables["meetings"] == 60
        and report.skipped_future_meetings == 0
        and report.meetings_scanned == 60
    )
    assert "call_recordings" in report.format() and "60 scanned" in report.format()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("meetings,recordings", "unknown table 'recordings'", id="unknown"),
        pytest.param("", "unknown table ''", id="empty"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        check_tables(value)
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", "--output", "x.parquet", "--tables", value])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_flags_that_do_not_fit_several_tables_are_refused(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _cli(
            emulator,
            monkeypatch,
            "--output",
            str(tmp_path / "ds"),
            "--tables",
            ALL,
            "--partition-by",
            "start_month",
        )
        == 2
    )
    assert "--partition-by is for the meetings table alone" in capsys.readouterr().err
    recordings = (
        "--output",
        str(tmp_path / "ds"),
        "--tables",
        "call_recordings",
        "--partition-by",
        "start_month",
    )
    assert _cli(emulator, monkeypatch, *recordings) == 2
    assert "--partition-by is for the meetings table alone" in capsys.readouterr().err
    assert (
        _cli(emulator, monkeypatch, "--output", str(tmp_path / "m.parquet"), "--include-future-meetings") == 2
    )
    assert "--include-future-meetings is for call_recordings" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_tables_in_order_each_once() -> None:
    assert check_tables("transcript_segments, meetings,transcript_segments") == (
        "meetings",
        "transcript_segments",
    )
    assert check_tables(None) == ("meetings",)


def test_several_tables_to_an_object_store_folder(
    make_raw: Any,
    s3: Any,
    emu: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    url = s3.url("attio/calls")
    assert _cli(emu, monkeypatch, "--output", url, "--tables", CHILDREN, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert s3.keys() == ["attio/calls/call_recordings.parquet", "attio/calls/transcript_segments.parquet"]
    assert report["outputs"] == {t: f"{url}/{t}.parquet" for t in CHILDREN.split(",")}
    served = make_raw(emu).all_call_recordings()
    recordings, segments = (pq.read_table(io.BytesIO(s3.get(k))) for k in s3.keys())
    assert_recordings_match(recordings, segments, served)


def test_docs_show_the_recording_schemas() -> None:
    from connector.schema import schema_markdown, stream_schema

    page = (Path(__file__).resolve().parent.parent / "docs" / "reference" / "schemas.md").read_text()
    for name in ("call_recording.json", "transcript_segment.json"):
        assert schema_markdown(stream_schema(name)) in page


@pytest.mark.anyio
async def test_progress_counts_meetings_scanned_and_recordings_found(
    make_raw: Any, emu: Any
) -> None:
    seen: list[Any] = []
    config = ExtractConfig(slices=2, include_future_meetings=True, on_progress=seen.append)
    async with AttioClient(client_config(emu)) as client:
        await extract_tables(client, config, tables=["call_recordings"])
    served = make_raw(emu).all_call_recordings()
    shares = [p.covered for p in seen]
    assert shares == sorted(shares) and shares[-1] == 1.0 and all(s < 1.0 for s in shares[:-1])
    assert seen[-1].meetings_scanned == 60 and seen[-1].recordings == len(served)
    assert [p.meetings_scanned for p in seen] == sorted(p.meetings_scanned for p in seen)
