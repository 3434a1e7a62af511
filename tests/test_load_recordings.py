"""load-recordings end to end: the real CLI against the emulator over loopback, with the emulator's own view of
each meeting's recordings (raw HTTP) as the oracle.

Exactly once is tested the ways it can break: a second run, a create whose answer is lost after the server
carried it out (the emulator's ``drop_after_commit`` and ``truncate`` faults), a SIGKILL of the CLI mid-run,
and a recording with the same transcript already on the meeting.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from extract_helpers import kill_when
from load_helpers import meeting_rows, write_rows
from redis_helpers import RedisServer, redis_server

from connector.cli import main
from connector.client import SyncAttioClient
from connector.config import ClientConfig, RateLimits, Secret
from connector.load.recordings.inputs import RecordingInput, read_inputs
from connector.load.recordings.mapping import load_recordings_mapping
from connector.ratelimit import budget_key

__all__ = ["redis_server"]  # the fixture, imported for pytest

ROOT = Path(__file__).resolve().parents[1]
# Rate limits off on both sides (the 1/s budget has its own test below); no seeded recordings unless asked.
FAST = {"meetings": 40, "recording_share": 0.0, "recording_write_rate": 0.0}
CLIENT_FAST = ["--recording-rate", "0", "--read-rate", "0", "--write-rate", "0"]


@pytest.fixture
def emu(make_emulator: Any) -> Any:
    """40 meetings, no seeded recordings, no rate limits (:data:`FAST`)."""
    return make_emulator(**FAST)


def vtt(i: int, n: int = 3) -> str:
    cues = "".join(
        f"{k + 1}\n00:00:{2 * k:02d}.{i % 1000:03d} --> 00:00:{2 * k + 1:02d}.500\n"
        f"<v {'Ana Díaz' if k % 2 else 'Bob Lee'}>call {i} — line {k} 予算 😀\nsecond line</v>\n\n"
        for k in range(n)
    )
    return "WEBVTT\n\n" + cues


def srt(i: int) -> str:
    return f"1\n00:00:00,000 --> 00:00:01,250\nChloé: srt {i}\n\n2\n00:00:01,300 --> 00:00:04,000\nDan: bye {i}\n"


def make_inputs(
    folder: Path, meetings: list[str], n_vtt: int, *, extra: dict[str, str] | None = None
) -> Path:
    """``n_vtt`` VTT files, one SRT and a CSV of two recordings in ``folder``, each on its own meeting; a
    sidecar and a mapping beside the folder. Returns the mapping path."""
    folder.mkdir()
    sidecar = [["file", "meeting_id"]]
    for i in range(n_vtt):
        (folder / f"call-{i:03d}.vtt").write_text(vtt(i), encoding="utf-8")
        sidecar.append([f"call-{i:03d}.vtt", meetings[i]])
    (folder / "zoom.srt").write_text(srt(1), encoding="utf-8")
    sidecar.append(["zoom.srt", meetings[n_vtt]])
    with open(folder / "gong.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ["recording", "meeting_id", "speaker", "email", "start", "end", "speech"],
                ["g1", meetings[n_vtt + 1], "Erin", "erin@acme.com", "0", "1.5", 'Hello, "quoted"'],
                ["g1", meetings[n_vtt + 1], "Farid", "", "1.5", "00:00:03.25", "Hi Erin"],
                ["g2", meetings[n_vtt + 2], "Erin", "", "0.001", "0.002", "one segment"],
            ]
        )
    for name, meeting in (extra or {}).items():
        (folder / name).write_text(vtt(99), encoding="utf-8")
        sidecar.append([name, meeting])
    with open(folder.parent / "sidecar.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(sidecar)
    mapping = folder.parent / "recordings.toml"
    mapping.write_text(
        '[meeting]\nsidecar = "sidecar.csv"\n\n[transcripts]\nspeaker_prefix = true\n', encoding="utf-8"
    )
    return mapping


def meeting_ids(emu: Any) -> list[str]:
    return [m["id"]["meeting_id"] for m in emu.emulator.store.all_meetings()]


def recordings_on(raw: Any, meeting_id: str) -> dict[str, list[dict[str, Any]] | None]:
    """The emulator's recordings of a meeting, by ID, with their transcript segments (GET, raw HTTP)."""
    out = {}
    for rec in raw.list_all(f"/v2/meetings/{meeting_id}/call_recordings"):
        rid = rec["id"]["call_recording_id"]
        got = raw.get(f"/v2/meetings/{meeting_id}/call_recordings/{rid}")
        assert got.status == 200, got.body
        transcript = got.json()["data"]["transcript"]
        out[rid] = transcript["segments"] if transcript else None
    return out


def expected(folder: Path, mapping: Path) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Input label -> (meeting, the segments Attio should hold), from the files (through the parsers)."""
    rules = load_recordings_mapping(mapping)
    out = {}
    for path in sorted(folder.iterdir()):
        for item in read_inputs(path, rules):
            assert isinstance(item, RecordingInput), item
            assert item.meeting is not None
            segments = [
                {"speech": s.speech, "start_time": s.start, "end_time": s.end, "speaker": {"name": s.speaker}}
                for s in item.segments
            ]
            out[item.label] = (item.meeting.value, segments)
    return out


def run_cli(
    emu: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    verbose: bool = False,
) -> tuple[int, str, str]:
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    code = main(
        [*(["-vv"] if verbose else []), "load-recordings", *args, "--base-url", emu.url, *CLIENT_FAST, "-q"]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def load_calls(
    emu: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    *extra: str,
    verbose: bool = False,
) -> tuple[int, str, str]:
    """The CLI on ``make_inputs``' folder and mapping, results in ``tmp_path/results.csv``."""
    args = [
        str(tmp_path / "calls"),
        "--mapping",
        str(tmp_path / "recordings.toml"),
        "--results",
        str(tmp_path / "results.csv"),
    ]
    return run_cli(emu, monkeypatch, capsys, *args, *extra, verbose=verbose)


def results_of(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_input = {r["input"]: r for r in rows}
    assert len(by_input) == len(rows), "an input is in the results twice"
    return by_input


def assert_exactly_once(
    raw: Any, want: dict[str, tuple[str, list[dict[str, Any]]]], results: dict[str, dict[str, str]]
) -> None:
    """Each input has exactly one recording on its meeting, holding its transcript, and the results name it."""
    for label, (meeting, segments) in want.items():
        on_meeting = recordings_on(raw, meeting)
        same = [rid for rid, got in on_meeting.items() if got == segments]
        assert len(same) == 1, (label, len(same))
        assert results[label]["call_recording_id"] == same[0], label
        assert results[label]["meeting_id"] == meeting


# ------------------------------------------------------------------------------------------- tests


def test_created_recordings_equal_the_input_transcripts_and_a_rerun_sends_nothing(
    emu: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = make_raw(emu)
    mapping = make_inputs(tmp_path / "calls", meeting_ids(emu), 3)
    results = tmp_path / "results.csv"
    code, out, err = load_calls(emu, monkeypatch, capsys, tmp_path)
    assert code == 0, out + err
    first = results_of(results)
    want = expected(tmp_path / "calls", mapping)
    assert (
        set(first)
        == set(want)
        == {"call-000.vtt", "call-001.vtt", "call-002.vtt", "zoom.srt", "gong.csv#g1", "gong.csv#g2"}
    )
    assert {r["outcome"] for r in first.values()} == {"created"}
    assert_exactly_once(raw, want, first)
    assert emu.emulator.stats.count(method="POST") == 6
    assert "6 created, 0 already present, 0 rejected, 0 failed" in out

    code, out, _ = load_calls(emu, monkeypatch, capsys, tmp_path, "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["created"], report["already_present"], report["requests"]) == (0, 6, 0)
    assert {r["outcome"] for r in results_of(results).values()} == {"already_present"}
    assert emu.emulator.stats.count(method="POST") == 6

    # An input edited after it was loaded is not sent again (a create cannot update), and says so.
    (tmp_path / "calls" / "zoom.srt").write_text(srt(2), encoding="utf-8")
    code, _, _ = load_calls(emu, monkeypatch, capsys, tmp_path)
    assert code == 0
    note = results_of(results)["zoom.srt"]["reason"]
    assert (
        note
        == "loaded by an earlier run; the input changed since (meeting or transcript) and was not sent again"
    )
    assert emu.emulator.stats.count(method="POST") == 6


def test_a_recording_with_the_same_transcript_already_on_the_meeting_is_not_created_again(
    make_emulator: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Seeded recordings too (the look reads them all), and one made before the run through the client.
    emu = make_emulator(meetings=40, recording_share=0.5, recording_write_rate=0.0)
    ids = meeting_ids(emu)
    mapping = make_inputs(tmp_path / "calls", ids, 2)
    want = expected(tmp_path / "calls", mapping)
    meeting, segments = want["call-001.vtt"]
    config = ClientConfig(token=Secret(emu.token), base_url=emu.url, limits=RateLimits(0, 0, 8, 0))
    with SyncAttioClient(config) as client:
        made = client.create_call_recording(meeting, segments)
        assert [r for p in client.list_call_recordings(meeting) for r in p.recordings][-1]["id"] == made["id"]
    before = emu.emulator.stats.count(method="POST")
    results = tmp_path / "results.csv"
    code, out, err = load_calls(emu, monkeypatch, capsys, tmp_path)
    assert code == 0, out + err
    rows = results_of(results)
    assert rows["call-001.vtt"]["outcome"] == "already_present"
    assert rows["call-001.vtt"]["call_recording_id"] == made["id"]["call_recording_id"]
    assert rows["call-001.vtt"]["reason"] == "the meeting already has a recording with this transcript"
    assert emu.emulator.stats.count(method="POST") - before == len(want) - 1
    assert_exactly_once(make_raw(emu), want, rows)


@pytest.mark.parametrize("fault", ["drop_after_commit", "truncate"])
def test_a_lost_create_answer_makes_no_duplicate(
    emu: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    mapping = make_inputs(tmp_path / "calls", meeting_ids(emu), 2)
    emu.emulator.faults.script([fault], method="POST")  # the first create is carried out, its answer lost
    results = tmp_path / "results.csv"
    code, out, err = load_calls(emu, monkeypatch, capsys, tmp_path, "--concurrency", "1")
    assert code == 0, out + err
    assert emu.emulator.faults.pending == 0
    rows = results_of(results)
    assert {r["outcome"] for r in rows.values()} == {"created"}
    assert (
        rows["call-000.vtt"]["reason"]
        == "the answer to a create was lost; the recording was found on the meeting"
    )
    want = expected(tmp_path / "calls", mapping)
    assert_exactly_once(make_raw(emu), want, rows)
    assert emu.emulator.stats.count(method="POST") == len(want)  # the lost one was not sent again


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_sigkill_mid_run_then_rerun_creates_each_recording_exactly_once(
    emu: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sig: int,
) -> None:
    """Killed, or stopped by Ctrl-C (exit 130, one line, results valid up to the inputs done), then run again."""
    mapping = make_inputs(tmp_path / "calls", meeting_ids(emu), 30)
    ledger, results = tmp_path / "ledger.sqlite", tmp_path / "results.csv"
    args = [
        "load-recordings",
        str(tmp_path / "calls"),
        "--mapping",
        str(mapping),
        "--ledger",
        str(ledger),
        "--results",
        str(results),
        "-q",
        "--base-url",
        emu.url,
        "--read-rate",
        "0",
        "--recording-rate",
        "2",  # ~16 s for the 33 inputs: the kill after the 5th lands mid-run even on a starved machine
    ]
    env = {**os.environ, "ATTIO_API_KEY": emu.token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def created() -> bool:  # a few creates recorded in the ledger (6: the results file may trail it by one)
        if not ledger.exists():
            return False
        with sqlite3.connect(ledger) as db:
            try:
                return (
                    db.execute("SELECT COUNT(*) FROM recordings WHERE state = 'created'").fetchone()[0] >= 6
                )
            except sqlite3.OperationalError:  # the table is not made yet
                return False

    kill_when(proc, created, sig=sig)
    killed_at = emu.emulator.stats.count(method="POST")
    assert 5 <= killed_at < 33
    if sig == signal.SIGINT:
        err = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("error: interrupted"), err
        done = results_of(results)  # a valid CSV: every line an input that finished
        assert 5 <= len(done) <= killed_at and {r["outcome"] for r in done.values()} <= {"created"}

    code, out, err = load_calls(emu, monkeypatch, capsys, tmp_path, "--ledger", str(ledger))
    assert code == 0, out + err
    rows = results_of(results)
    want = expected(tmp_path / "calls", mapping)
    assert set(rows) == set(want)
    assert {r["outcome"] for r in rows.values()} <= {"created", "already_present"}
    assert_exactly_once(make_raw(emu), want, rows)
    assert emu.emulator.stats.count(method="POST") == len(want)


def test_unknown_meeting_and_bad_inputs_are_rejected_and_the_token_is_in_no_output(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "0f0f0f0f-0000-4000-8000-000000000000"
    make_inputs(tmp_path / "calls", meeting_ids(emu), 1, extra={"nowhere.vtt": unknown})
    (tmp_path / "calls" / "broken.srt").write_text(
        "1\n00:00:05,000 --> 00:00:01,000\nA: b\n", encoding="utf-8"
    )
    with open(tmp_path / "sidecar.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(["broken.srt", meeting_ids(emu)[20]])
    results, ledger = tmp_path / "results.csv", tmp_path / "ledger.sqlite"
    code, out, err = load_calls(emu, monkeypatch, capsys, tmp_path, "--ledger", str(ledger), verbose=True)
    assert code == 1
    rows = results_of(results)
    assert rows["nowhere.vtt"]["outcome"] == "rejected"
    assert rows["nowhere.vtt"]["reason"] == f"meeting {unknown} not found in Attio (404 not_found)"
    assert rows["broken.srt"]["outcome"] == "rejected"
    assert (
        rows["broken.srt"]["reason"] == "line 2: the cue ends (00:00:01,000) before it starts (00:00:05,000)"
    )
    assert sum(r["outcome"] == "created" for r in rows.values()) == 4
    assert f"rejected: nowhere.vtt: meeting {unknown} not found" in out
    for text in (out, err, results.read_text(encoding="utf-8")):
        assert emu.token not in text
    for path in tmp_path.iterdir():
        if path.is_file():
            assert emu.token.encode() not in path.read_bytes(), path


def test_external_ref_through_the_meetings_ledger(
    emu: Any,
    make_raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    meetings_csv = write_rows(tmp_path / "meetings.csv", meeting_rows(2, prefix="ev"))
    assert (
        main(
            ["load", str(meetings_csv), "--base-url", emu.url, "--write-rate", "0", "--read-rate", "0", "-q"]
        )
        == 0
    )
    capsys.readouterr()
    with open(tmp_path / "meetings.results.csv", newline="", encoding="utf-8") as f:
        loaded = {r["external_ref"]: r["meeting_id"] for r in csv.DictReader(f)}
    folder = tmp_path / "calls"
    folder.mkdir()
    for ref in ("ev-0", "ev-1", "ev-9"):
        (folder / f"{ref}.vtt").write_text(vtt(int(ref[-1])), encoding="utf-8")
    mapping = tmp_path / "r.toml"
    mapping.write_text(
        "[meeting]\nfilename_pattern = '^(?P<external_ref>ev-[0-9]+)\\.vtt$'\n"
        'meetings_ledger = "meetings.ledger.sqlite"\n',
        encoding="utf-8",
    )
    results = tmp_path / "results.csv"
    code, _, _ = run_cli(
        emu, monkeypatch, capsys, str(folder), "--mapping", str(mapping), "--results", str(results)
    )
    assert code == 1
    rows = results_of(results)
    for ref in ("ev-0", "ev-1"):
        assert (rows[f"{ref}.vtt"]["outcome"], rows[f"{ref}.vtt"]["meeting_id"]) == ("created", loaded[ref])
        assert rows[f"{ref}.vtt"]["call_recording_id"] in recordings_on(make_raw(emu), loaded[ref])
    assert rows["ev-9.vtt"]["outcome"] == "rejected"
    assert (
        "external_ref 'ev-9' (file name 'ev-9.vtt') is not a loaded meeting in" in rows["ev-9.vtt"]["reason"]
    )


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_the_default_recording_budget_meets_no_429_at_attios_one_per_second(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The emulator enforces Attio's 1 create/s; the client's default budget must never earn a 429 from it.
    emu = make_emulator(meetings=40, recording_share=0.0, recording_write_rate=1.0)
    mapping = make_inputs(tmp_path / "calls", meeting_ids(emu), 1)
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    code = main(
        [
            "load-recordings",
            str(tmp_path / "calls"),
            "--mapping",
            str(mapping),
            "--base-url",
            emu.url,
            "--results",
            str(tmp_path / "r.csv"),
            "--json",
            "-q",
            "--concurrency",
            "4",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["created"], report["rate_limited"], report["retries"]) == (4, 0, 0)
    assert emu.emulator.stats.count(status=429) == 0


def test_client_create_validates_before_sending_and_delete_removes(emu: Any) -> None:
    meeting = meeting_ids(emu)[0]
    config = ClientConfig(token=Secret(emu.token), base_url=emu.url, limits=RateLimits(0, 0, 8, 0))
    segment = {"speech": "hi", "start_time": 1.0, "end_time": 0.5, "speaker": {"name": "A"}}
    with SyncAttioClient(config) as client:
        with pytest.raises(ValueError, match=r"transcript\[0\]\.end_time"):
            client.create_call_recording(meeting, [segment])
        assert emu.emulator.stats.count(method="POST") == 0
        made = client.create_call_recording(meeting, [segment | {"end_time": 2.0}])
        rid = made["id"]["call_recording_id"]
        assert client.get_call_recording(meeting, rid)["transcript"]["segments"] == [
            segment | {"end_time": 2.0}
        ]
        client.delete_call_recording(meeting, rid)
        assert [r for p in client.list_call_recordings(meeting) for r in p.recordings] == []


def test_creates_take_their_own_budget_in_the_shared_redis(
    emu: Any, redis_server: RedisServer
) -> None:
    import redis

    meeting = meeting_ids(emu)[0]
    config = ClientConfig(token=Secret(emu.token), base_url=emu.url, rate_limit_url=redis_server.url)
    segment = {"speech": "hi", "start_time": 0.0, "end_time": 1.0, "speaker": {"name": "A"}}
    with SyncAttioClient(config) as client:
        client.create_call_recording(meeting, [segment])
    key = budget_key(emu.url, emu.token)
    keys = {k.decode() for k in redis.Redis.from_url(redis_server.url).keys(f"{key}:*")}
    assert keys == {f"{key}:write-recordings"}  # the create used its own bucket, not the write one


def test_a_quota_refusal_stops_the_load_with_exit_3(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 403 quota_exceeded: every later create would be refused too, so the load stops (as on a refused token).
    emu = make_emulator(**FAST, recording_quota=2)
    make_inputs(tmp_path / "calls", meeting_ids(emu), 2)
    code, _, err = load_calls(emu, monkeypatch, capsys, tmp_path, "--concurrency", "1")
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and "quota_exceeded" in err and emu.token not in err
    rows = results_of(tmp_path / "results.csv")
    assert [r["outcome"] for r in rows.values()] == ["created", "created"]
    assert emu.emulator.stats.count(method="POST") == 3


def test_a_lost_answer_whose_recording_is_still_processing_is_never_sent_twice(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Created recordings stay `processing` (no transcript to compare) for an hour: the input whose answer was
    # lost cannot be matched, so it fails with the reason and keeps its mark; a re-run sends nothing for it either.
    emu = make_emulator(**FAST | {"recording_delay_s": 3600.0})
    make_inputs(tmp_path / "calls", meeting_ids(emu), 1)
    emu.emulator.faults.script(["drop_after_commit"], method="POST")
    for _ in range(2):
        code, _, _ = load_calls(emu, monkeypatch, capsys, tmp_path, "--concurrency", "1")
        assert code == 1
        rows = results_of(tmp_path / "results.csv")
        assert rows["call-000.vtt"]["outcome"] == "failed"
        assert (
            "is still processing, so its transcript cannot be compared yet" in rows["call-000.vtt"]["reason"]
        )
        assert emu.emulator.stats.count(method="POST") == 4  # call-000 once, and the three others
    assert {r["outcome"] for k, r in rows.items() if k != "call-000.vtt"} == {"already_present"}
