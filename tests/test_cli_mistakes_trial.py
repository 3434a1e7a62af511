"""Mistakes a new user made in a trial of the docs (December 2026): each once ended in a confusing line, a file the
tool had no business creating, or a silent surprise; now one line naming the flag, file or key, exit 2.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
from load_helpers import HEADER, meeting_rows, posts, result_rows, run_load, write_rows

from connector.cli import main


def _line(err: str) -> str:
    lines = err.strip().splitlines()
    assert lines and "internal error" not in err and "Traceback" not in err, err
    return lines[-1]


@pytest.mark.parametrize("dry_run", [False, True], ids=["load", "dry-run"])
def test_a_ledger_that_is_a_pipe_is_refused_and_nothing_lands_beside_it(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dry_run: bool,
) -> None:
    # Once: "ledger fifo cannot be used: disk I/O error", and for /dev/full a /dev/full-journal left behind.
    monkeypatch.chdir(tmp_path)
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    os.mkfifo(tmp_path / "pipe")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [str(source), "--ledger", "pipe", *(["--dry-run"] if dry_run else [])]
    run = run_load(emulator, monkeypatch, capsys, *args)
    assert run.code == 2
    assert _line(run.err) == (
        "error: ledger pipe is not a regular file (a device or a pipe); give --ledger a file name; "
        "nothing was sent or written (hint: check the arguments and configuration)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before and posts(emulator) == 0


def test_max_errors_that_is_no_whole_number_names_the_flag_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Once: "argument --max-errors: invalid _count value: '1.5'", and from a config file the self-contradicting
    # "max_errors must be a string or a number, got a string 'x'".
    monkeypatch.chdir(tmp_path)
    write_rows(tmp_path / "in.csv", meeting_rows(1))
    with pytest.raises(SystemExit) as info:
        main(["load", "in.csv", "--dry-run", "--max-errors", "1.5"])
    assert info.value.code == 2
    assert _line(capsys.readouterr().err).endswith(
        "argument --max-errors: expected a whole number, got '1.5'"
    )
    (tmp_path / "c.toml").write_text('[load]\nmax_errors = "x"\n')
    assert main(["--config", "c.toml", "load", "in.csv", "--dry-run"]) == 2
    assert _line(capsys.readouterr().err) == (
        "error: config file c.toml: [load] max_errors: expected a whole number, got 'x' "
        "(hint: check the arguments and configuration)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "in.csv"]


def test_output_dash_is_refused_rather_than_written_to_a_file_named_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTIO_API_KEY", "unused")
    with pytest.raises(SystemExit) as info:
        main(["extract", "--output", "-", "--format", "csv"])
    assert info.value.code == 2
    assert _line(capsys.readouterr().err).endswith(
        "argument --output/-o: '-' (standard output) is not supported: the output is published whole at the end; "
        "give a file name, e.g. meetings.csv"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_workbook_whose_first_sheet_is_not_the_meetings_names_the_other_sheets(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import openpyxl

    monkeypatch.chdir(tmp_path)
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["exported from the calendar"])
    sheet = book.create_sheet("Meetings")
    for row in [HEADER, *meeting_rows(2)]:
        sheet.append(row)
    book.save(tmp_path / "export.xlsx")
    run = run_load(emulator, monkeypatch, capsys, "export.xlsx")
    assert run.code == 2 and _line(run.err).endswith(
        "(hint: the first worksheet, 'Notes', was read; the workbook also has 'Meetings': choose one with "
        'sheet = "..." under [source] in the mapping)'
    )
    assert posts(emulator) == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["export.xlsx"]
    (tmp_path / "m.toml").write_text('[source]\nsheet = "Meetings"\n')
    run = run_load(emulator, monkeypatch, capsys, "export.xlsx", "--mapping", "m.toml")
    assert run.code == 0, run.err
    assert [r["outcome"] for r in result_rows(tmp_path / "export.results.csv").values()] == [
        "created",
        "created",
    ]


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "config",
            '[extract]\noutputt = "m.parquet"\n',
            "error: config file c.toml: [extract] has unknown key 'outputt' (did you mean 'output'?); known keys:",
        ),
        (
            "mapping",
            '[columns]\ntitel = "Subject"\n',
            "error: c.toml: [columns] 'titel' is not a meeting field (did you mean 'title'?); use one of",
        ),
        (
            "mapping",
            '[colums]\ntitle = "Subject"\n',
            "error: c.toml: unknown section(s) colums (did you mean 'columns'?); use columns,",
        ),
        (
            "recordings",
            '[speaker]\n"Ana" = "ana@example.com"\n',
            "error: c.toml: unknown table [speaker] (did you mean 'speakers'?); known:",
        ),
        (
            "recordings",
            '[columns]\nspeach = "text"\n',
            "error: c.toml: [columns] has unknown key 'speach' (did you mean 'speech'?); known keys:",
        ),
    ],
    ids=["config-key", "mapping-field", "mapping-section", "recordings-table", "recordings-key"],
)
def test_a_typo_in_a_key_suggests_the_key_meant(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    file: str,
    text: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTIO_API_KEY", "unused")
    write_rows(tmp_path / "in.csv", meeting_rows(1))
    (tmp_path / "c.toml").write_text(text)
    argv = {
        "config": ["--config", "c.toml", "extract"],
        "mapping": ["load", "in.csv", "--mapping", "c.toml", "--dry-run"],
        "recordings": ["load-recordings", "in.csv", "--mapping", "c.toml", "--dry-run"],
    }[file]
    assert main(argv) == 2
    assert _line(capsys.readouterr().err).startswith(message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "in.csv"]


@pytest.mark.parametrize(
    ("flag", "path", "why"),
    [
        ("--results", "missing/r.csv", "the folder missing does not exist"),
        ("--results", "notes.txt/r.csv", "the folder notes.txt is a file, not a folder"),
        ("--ledger", "missing/l.sqlite", "the folder missing does not exist"),
    ],
    ids=["results-in-no-folder", "results-under-a-file", "ledger-in-no-folder"],
)
def test_a_results_or_ledger_path_in_no_folder_names_the_flag_before_anything_is_written(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    path: str,
    why: str,
) -> None:
    # Once: "error: [Errno 2] No such file or directory: 'missing/r.csv'", after the ledger had been created.
    monkeypatch.chdir(tmp_path)
    source = write_rows(tmp_path / "in.csv", meeting_rows(2))
    (tmp_path / "notes.txt").write_text("mine\n")
    run = run_load(emulator, monkeypatch, capsys, str(source), flag, path)
    assert run.code == 2
    assert _line(run.err).startswith(
        f"error: {'results file' if flag == '--results' else 'ledger'} {path} cannot be written: {why}; fix {flag}; "
        "nothing was sent or written"
    )
    assert posts(emulator) == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_broken_transcripts_are_each_rejected_with_their_reason_and_the_rest_still_load(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    meeting = emulator.emulator.store.all_meetings()[0]["id"]["meeting_id"]
    calls = tmp_path / "calls"
    calls.mkdir()
    files = {
        "empty.vtt": "",
        "no-cues.vtt": "WEBVTT\n\nNOTE exported, nothing said\n",
        "bad-time.srt": "1\n00:00:01,000 --> 00:00:0x,000\nAna: hi\n",
        "good.vtt": "WEBVTT\n\n00:00.000 --> 00:02.000\n<v Ana>Hello.</v>\n",
        "segments.csv": f"call,meeting_id,speaker,start,end,text\ng1,{meeting},Ana,0,1,hi\n",
    }
    for name, text in files.items():
        (calls / name).write_text(text)
    (tmp_path / "sidecar.csv").write_text("file,meeting_id\n" + "".join(f"{n},{meeting}\n" for n in files))
    (tmp_path / "m.toml").write_text(
        '[meeting]\nsidecar = "sidecar.csv"\n[columns]\nrecording = "call"\nmeeting_id = "meeting_id"\n'
        'speaker = "speaker"\nemail = "email"\nstart = "start"\nend = "end"\nspeech = "text"\n'
        '[speakers]\n"Ana" = "ana@example.com"\n'
    )
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    code = main(["load-recordings", "calls", "--mapping", "m.toml", "--base-url", emulator.url, "-q"])
    assert code == 1, capsys.readouterr().err
    with open(tmp_path / "calls.recordings.results.csv", newline="", encoding="utf-8") as f:
        outcomes = {r["input"]: (r["outcome"], r["reason"]) for r in csv.DictReader(f)}
    assert outcomes == {
        "bad-time.srt": ("rejected", "line 2: malformed timestamp '00:00:0x,000' (expected hh:mm:ss,ttt)"),
        "empty.vtt": (
            "rejected",
            "line 1: the file is empty: a WebVTT file starts with a 'WEBVTT' line, then its cues",
        ),
        "good.vtt": ("created", ""),
        "no-cues.vtt": ("rejected", "an empty transcript: no speech in it"),
        "segments.csv": (
            "rejected",
            "row 1, column 'email': no column 'email' for email (the header has 'call', 'meeting_id', "
            "'speaker', 'start', 'end', 'text')",
        ),
    }
    assert sorted(p.name for p in calls.iterdir()) == sorted(files)
