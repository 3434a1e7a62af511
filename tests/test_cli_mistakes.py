"""Plausible path mistakes end in one line naming the path and the flag, exit 2, nothing sent or written.

(Each of these once ended in "internal error" or a bare errno message.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from load_helpers import meeting_rows, posts, run_load, write_rows

from connector.cli import main


def _line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "internal error" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger", "."], "ledger . is a folder; give --ledger a file name"),
        (["--ledger", "{d}/folder"], "ledger {d}/folder is a folder; give --ledger a file name"),
        (["--results", "{d}/folder/"], "results file {d}/folder is a folder; give --results a file name"),
    ],
    ids=["ledger-dot", "ledger-folder", "results-folder"],
)
def test_a_folder_for_a_file_the_load_writes(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    before = sorted(p.name for p in tmp_path.iterdir())
    run = run_load(emulator, monkeypatch, capsys, str(source), *(a.format(d=tmp_path) for a in args))
    assert run.code == 2 and _line(run.err).startswith(f"error: {message.format(d=tmp_path)}")
    assert posts(emulator) == 0 and sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "folder").iterdir()) == []


@pytest.mark.parametrize("folder", [".", "/"])
def test_a_folder_as_the_load_input(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    folder: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_load(emulator, monkeypatch, capsys, folder)
    assert run.code == 2 and _line(run.err).startswith(f"error: input {folder} is a directory, not a file")
    assert list(tmp_path.iterdir()) == [] and posts(emulator) == 0


@pytest.mark.parametrize(
    ("flag", "what"), [("--output", "output"), ("--checkpoint", "checkpoint")], ids=["output", "checkpoint"]
)
def test_an_extract_path_under_a_file(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    what: str,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    target = notes / "m.parquet"
    paths = {"--output": str(tmp_path / "m.parquet"), flag: str(target)}
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    code = main(["extract", "--base-url", emulator.url, "-q", *(x for kv in paths.items() for x in kv)])
    line = _line(capsys.readouterr().err)
    assert code == 2 and line.startswith(
        f"error: {what} {target} cannot be written: {notes} is a file, not a folder"
    )
    assert f"fix {flag}" in line and notes.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert emulator.emulator.stats.count(method="GET") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "m.csv", "--partition-by", "start_month"], "--partition-by: only the parquet format"),
        (["--output", "m.txt"], "--output: 'm.txt' has the suffix .txt"),
        (["--output", "m.parquet", "--csv-formulas", "keep"], "--csv-formulas is for CSV output only"),
    ],
    ids=["partitioned-csv", "unknown-suffix", "csv-option-for-parquet"],
)
def test_an_output_option_error_names_the_flag(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTIO_API_KEY", "unused")
    assert main(["extract", *args]) == 2
    assert _line(capsys.readouterr().err).startswith(f"error: {message}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["seg.csv", "new.csv"], ids=["an-input", "a-new-file"])
def test_load_recordings_results_inside_the_input_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    segments = b"recording,meeting_id,start,end,speech\ng1,abc,0,1,hi\n"
    (folder / "seg.csv").write_bytes(segments)
    results = folder / name
    monkeypatch.setenv("ATTIO_API_KEY", "unused")
    assert main(["load-recordings", str(folder), "--results", str(results), "--overwrite", "--dry-run"]) == 2
    line = _line(capsys.readouterr().err)
    assert line.startswith(f"error: the results file {results} is inside the input folder {folder}")
    assert "--results" in line and (folder / "seg.csv").read_bytes() == segments
    assert sorted(p.name for p in folder.iterdir()) == ["seg.csv"]
