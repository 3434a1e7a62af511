"""Mistakes and mishaps of a new user trying the tool adversarially (December 2026, second trial): a full disk, a
folder it may not write in, a Ctrl-C; each once ended in a misleading line, an internal error, a half-written
file or a file left behind. Now: one line naming the file or flag, the documented exit code, nothing half-written.

A full disk is stood in for by ``RLIMIT_FSIZE`` on the CLI's process: a write past the limit fails with EFBIG
("File too large") as one past the free space fails with ENOSPC, through the same code.
"""

from __future__ import annotations

import csv
import hashlib
import os
import resource
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from load_helpers import HEADER, meeting_rows, result_rows, write_rows

from connector.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _limit_file_size(kib: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))

    return preexec


def cli(emu: Any, cwd: Path, *args: str, file_kib: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m connector ARGS`` in its own process against ``emu``, its files limited to ``file_kib`` KiB."""
    env = os.environ | {"ATTIO_API_KEY": emu.token}
    return subprocess.run(
        [sys.executable, "-m", "connector", *args, "--base-url", emu.url, "--write-rate", "0", "-q"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=None if file_kib is None else _limit_file_size(file_kib),
    )


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, err
    return lines[0]


def long_rows(n: int) -> list[list[str]]:
    """Rows with long titles, so that a few hundred KiB of ledger come quickly."""
    return [[ref, title + " " + "x" * 200, *rest] for ref, title, *rest in meeting_rows(n)]


def test_a_disk_full_under_the_ledger_says_so_and_the_rerun_loads_every_row_once(
    make_emulator: Any, tmp_path: Path
) -> None:
    # Once: "error: ledger in.ledger.sqlite: cannot commit - no transaction is active" (the cleanup's commit hid
    # the disk error), and rows whose send was stopped by the ledger were written as failed "transport/LedgerError".
    emu = make_emulator(meetings=0)
    n = 600
    write_rows(tmp_path / "in.csv", long_rows(n))
    run = cli(emu, tmp_path, "load", "in.csv", file_kib=300)
    assert run.returncode == 2, run.stderr
    # SQLite says "disk I/O error" for EFBIG (a write that stops at the limit), "database or disk is full" for ENOSPC.
    assert one_line(run.stderr) in {
        f"error: ledger in.ledger.sqlite: {reason} (hint: check the ledger file, its directory and the free "
        "disk space; run the same command again)"
        for reason in ("disk I/O error", "database or disk is full")
    }
    done = result_rows(tmp_path / "in.results.csv")
    assert 0 < len(done) < n
    assert {r["outcome"] for r in done.values()} == {"created"}, "a ledger error is no row's failure"

    run = cli(emu, tmp_path, "load", "in.csv")
    assert run.returncode == 0, run.stderr
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, n + 2))
    titles = Counter(m["title"] for m in emu.emulator.store.all_meetings())
    assert len(titles) == n and set(titles.values()) == {1}


def bad_rows(n: int) -> list[list[str]]:
    """Rows each rejected with a long reason of its own (no compression shrinks it): the results file grows
    while the ledger stays small."""
    return [
        [ref, title, f"not a date {hashlib.sha256(ref.encode()).hexdigest()}", *rest]
        for ref, title, _, *rest in meeting_rows(n)
    ]


@pytest.mark.parametrize("dry_run", [False, True], ids=["load", "dry-run"])
def test_a_disk_full_under_the_results_file_cuts_it_to_whole_lines_and_names_it(
    make_emulator: Any, tmp_path: Path, dry_run: bool
) -> None:
    # Once: "error: [Errno 27] File too large (hint: check the path and its permissions)", the results file ending
    # mid-line; during a load an "internal error: ExceptionGroup" (exit 70).
    emu = make_emulator(meetings=0)
    write_rows(tmp_path / "in.csv", bad_rows(3000))
    dry = ["--dry-run", "--results", "in.results.csv"] if dry_run else []
    run = cli(emu, tmp_path, "load", "in.csv", *dry, file_kib=100)
    assert run.returncode == 2, run.stderr
    assert one_line(run.stderr) == (
        "error: results file in.results.csv cannot be written: File too large (hint: check the free disk space "
        "and that the folder may be written, or give --results another place; then run the same command again)"
    )
    text = (tmp_path / "in.results.csv").read_bytes()
    assert text.endswith(b"\r\n") and len(text) <= 100 * 1024
    with open(tmp_path / "in.results.csv", newline="", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert all(r["outcome"] == "rejected" and r["column"] == "start" for r in lines)
    assert len({r["row_number"] for r in lines}) == len(lines)


def test_a_disk_full_under_a_parquet_results_file_leaves_the_earlier_one_and_no_part(
    make_emulator: Any, tmp_path: Path
) -> None:
    # Once: "error: internal error: ArrowInvalid: Operation on closed file" (exit 70) and in.results.parquet.part left.
    import pyarrow.parquet as pq

    emu = make_emulator(meetings=0)
    write_rows(tmp_path / "in.csv", meeting_rows(3))
    assert cli(emu, tmp_path, "load", "in.csv", "--results", "in.results.parquet").returncode == 0
    earlier = (tmp_path / "in.results.parquet").read_bytes()
    write_rows(tmp_path / "in.csv", bad_rows(12_000))  # more than a row group of 10,000 results
    run = cli(emu, tmp_path, "load", "in.csv", "--results", "in.results.parquet", file_kib=200)
    assert run.returncode == 2, run.stderr
    assert one_line(run.stderr).startswith("error: results file in.results.parquet cannot be written: ")
    assert (tmp_path / "in.results.parquet").read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.ledger.sqlite", "in.results.parquet"]
    assert pq.read_table(tmp_path / "in.results.parquet").num_rows == 3


def test_a_parquet_results_file_is_not_one_row_group_per_row(make_emulator: Any, tmp_path: Path) -> None:
    # Once: every momentary lull of the load wrote a row group: 297 groups and 414 kB for 300 rows.
    import pyarrow.parquet as pq

    emu = make_emulator(meetings=0)
    write_rows(tmp_path / "in.csv", meeting_rows(300))
    assert cli(emu, tmp_path, "load", "in.csv", "--results", "in.results.parquet").returncode == 0
    results = pq.ParquetFile(tmp_path / "in.results.parquet")
    assert (results.metadata.num_rows, results.metadata.num_row_groups) == (300, 1)


def test_a_results_file_in_a_folder_that_cannot_be_written_names_the_file(
    make_emulator: Any, tmp_path: Path
) -> None:
    # Once: "error: [Errno 2] No such file or directory: '/proc/r.csv' (hint: check the path and its permissions)".
    emu = make_emulator(meetings=0)
    write_rows(tmp_path / "in.csv", meeting_rows(2))
    run = cli(emu, tmp_path, "load", "in.csv", "--results", "/proc/r.csv")
    assert run.returncode == 2, run.stderr
    assert one_line(run.stderr).startswith("error: results file /proc/r.csv cannot be written: ")
    assert emu.emulator.stats.count(method="POST") == 0


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/O", "rediss://:pw@127.0.0.1:6379/0/extra", "redis://h/-1"]
)
def test_a_rate_limit_url_whose_database_is_no_number_is_refused_before_anything_is_sent(
    make_emulator: Any, tmp_path: Path, url: str
) -> None:
    # Once: redis://host:6379/O (a letter O) was taken as database 0 and the load ran on a budget nobody shared.
    emu = make_emulator(meetings=0)
    write_rows(tmp_path / "in.csv", meeting_rows(2))
    run = cli(emu, tmp_path, "load", "in.csv", "--rate-limit-url", url)
    assert run.returncode == 2, run.stderr
    assert one_line(run.stderr).startswith(
        "error: invalid --rate-limit-url: the database after the host must be "
    )
    assert "pw" not in run.stderr
    assert emu.emulator.stats.count(method="POST") == 0


def test_a_transcript_the_sidecar_names_but_the_folder_lacks_gets_a_rejected_line(
    make_emulator: Any, tmp_path: Path
) -> None:
    # Once: a sidecar row whose file was missing (or was no transcript: call.mp3) was silently dropped; the run
    # said nothing of it and exited 0.
    emu = make_emulator(meetings=3, recording_share=0.0, recording_write_rate=0.0)
    meetings = [m["id"]["meeting_id"] for m in emu.emulator.store.all_meetings()]
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "kickoff.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n<v Ana>Hello</v>\n", "utf-8"
    )
    (folder / "call.mp3").write_bytes(b"ID3\x03\x00\x00\x00" + bytes(200))
    with open(tmp_path / "sidecar.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [
                ["file", "meeting_id"],
                ["kickoff.vtt", meetings[0]],
                ["review.vtt", meetings[1]],
                ["call.mp3", meetings[2]],
            ]
        )
    (tmp_path / "rec.toml").write_text('[meeting]\nsidecar = "sidecar.csv"\n', encoding="utf-8")
    args = [
        "load-recordings",
        "calls",
        "--mapping",
        "rec.toml",
        "--results",
        "r.csv",
        "--recording-rate",
        "0",
    ]
    run = cli(emu, tmp_path, *args)
    assert run.returncode == 1, run.stderr
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        lines = {r["input"]: r for r in csv.DictReader(f)}
    assert lines["kickoff.vtt"]["outcome"] == "created"
    assert (lines["review.vtt"]["outcome"], lines["review.vtt"]["meeting_id"]) == ("rejected", meetings[1])
    assert (
        lines["review.vtt"]["reason"]
        == "sidecar sidecar.csv row 3 names this file, but calls has no file of that name"
    )
    assert lines["call.mp3"]["reason"] == (
        "sidecar sidecar.csv row 4 names this file, but it is not a transcript (.vtt, .srt) or a table of "
        "segments (.csv, .tsv, .parquet)"
    )


@pytest.mark.parametrize(("suffix", "delimiter"), [(".csv", ","), (".csv", ";"), (".xlsx", "")])
def test_a_title_line_above_the_header_row_is_named_as_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
    delimiter: str,
) -> None:
    # Once: "no column for title, start, participants, external_ref; the file has: Meetings export, December"
    # with advice to write a mapping, when the header was simply on row 3, under a title line and a blank one.
    import openpyxl

    rows = [["Meetings export, December"], [], HEADER, *meeting_rows(2)]
    path = tmp_path / f"in{suffix}"
    if delimiter == ",":
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([[*row, *[""] * (len(HEADER) - len(row))] if row else [] for row in rows])
    elif delimiter:  # the title line has no ';': the delimiter guessed from it is wrong for the rest
        path.write_text("\n".join(";".join(row) for row in rows) + "\n", encoding="utf-8")
    else:
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    monkeypatch.chdir(tmp_path)
    assert main(["load", path.name, "--dry-run", "-q"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"error: in{suffix}: row 3 looks like the header row ('Meetings export, December' was read as the header: "
        "the first row that is not blank is); delete the rows above row 3 (hint: check the arguments and "
        "configuration)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("kind", ["text", "other-db", "empty"])
def test_a_sync_dry_run_on_a_ledger_that_is_not_one_is_refused_and_the_file_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Once: "error: internal error: DatabaseError: file is not a database" (or "no such table: refs"), exit 70.
    import sqlite3

    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "in.csv", meeting_rows(2))
    ledger = tmp_path / "crm.db"
    if kind == "text":
        ledger.write_text("[load]\nconcurrency = 4\n")
    elif kind == "other-db":
        with sqlite3.connect(ledger) as db:
            db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        db.close()
    else:
        ledger.write_bytes(b"")
    before = ledger.read_bytes()
    code = main(["load", "in.csv", "--dry-run", "--sync", "--delete-missing", "--ledger", "crm.db", "-q"])
    err = capsys.readouterr().err
    if kind == "empty":  # an empty file is an empty ledger: every row planned as a create
        assert code == 0 and not err, err
    else:
        line = one_line(err)
        assert code == 2
        assert line.startswith("error: ledger crm.db ")
        assert "is an SQLite database of something else" in line or "file is not a database" in line
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db", "in.csv"]


@pytest.mark.parametrize(
    ("name", "head", "what"),
    [
        ("zoom.srt", b"\x00\x00\x00\x18ftypmp42", "an MP4 or MOV video (or audio) file"),
        ("call.vtt", b"ID3\x03\x00\x00\x00", "an MP3 audio file"),
        ("teams.vtt", b"RIFF\x24\x00\x00\x00WAVEfmt ", "a WAV audio file"),
    ],
)
def test_a_recording_named_like_a_transcript_is_rejected_as_what_it_looks_like(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    head: bytes,
    what: str,
) -> None:
    # Once: "line 1: byte 0x93 is not UTF-8 (transcripts are read as UTF-8)" for a video saved as zoom.srt.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / name).write_bytes(head + bytes(range(128, 256)) * 8)
    meeting = "5d2f1e3a-7b8c-4d9e-8f0a-1b2c3d4e5f60"
    (tmp_path / "sidecar.csv").write_text(f"file,meeting_id\n{name},{meeting}\n", encoding="utf-8")
    (tmp_path / "rec.toml").write_text('[meeting]\nsidecar = "sidecar.csv"\n', encoding="utf-8")
    code = main(
        ["load-recordings", "calls", "--mapping", "rec.toml", "--dry-run", "--results", "r.csv", "-q"]
    )
    assert code == 1, capsys.readouterr().err
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        (line,) = list(csv.DictReader(f))
    assert (line["input"], line["outcome"]) == (name, "rejected")
    assert line["reason"] == (
        f"it looks like {what}, not a transcript: give the .vtt or .srt text file (or a table of segments)"
    )


def test_a_workspace_name_one_typo_away_suggests_the_one_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "in.csv", meeting_rows(1))
    (tmp_path / "c.toml").write_text(
        '[workspaces.acme]\ntoken_env = "ACME_TOKEN"\n[workspaces.globex]\ntoken_env = "GLOBEX_TOKEN"\n'
    )
    assert main(["--config", "c.toml", "load", "in.csv", "--workspace", "Acme", "--dry-run"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "error: --workspace 'Acme': config file c.toml has no such [workspaces.NAME] table (did you mean 'acme'?) "
        "(known: acme, globex) (hint: check the arguments and configuration)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "in.csv"]


@pytest.mark.parametrize(
    "slices",
    [
        pytest.param([], id="auto"),
        # one window's part file (1,000 meetings) passes the limit before the output does
        pytest.param(["--slices", "1"], id="part-file-first"),
    ],
)
@pytest.mark.parametrize("name", ["m.csv", "m.jsonl"])
def test_a_disk_full_under_an_extracts_output_names_it_and_resume_completes(
    make_emulator: Any, tmp_path: Path, name: str, slices: list[str]
) -> None:
    # Once: "error: [Errno 27] Error writing bytes to file. Detail: [errno 27] File too large (hint: check the path
    # and its permissions)": Arrow's words, naming no file.
    emu = make_emulator(meetings=1000)
    run = cli(emu, tmp_path, "extract", "--output", name, *slices, file_kib=200)
    assert run.returncode == 2, run.stderr
    line = one_line(run.stderr)
    assert f"output {name} cannot be written: File too large" in line and "free disk space" in line, line
    assert not (tmp_path / name).exists(), "nothing half-written under the output's name"
    again = cli(emu, tmp_path, "extract", "--output", name, "--resume")
    assert again.returncode == 0, again.stderr
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    read = pacsv.read_csv if name.endswith(".csv") else pajson.read_json
    ids = read(tmp_path / name).column("meeting_id").to_pylist()
    assert len(ids) == len(set(ids)) == 1000, "every meeting once"
