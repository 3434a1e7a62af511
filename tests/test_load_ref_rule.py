"""A load whose mapping makes external_refs another way than the ledger's must not create every meeting again.

Through the real CLI against the emulator on the create-only contract (where a second meeting per row is a
duplicate nobody cleans up): a changed key column or hash, and another file's ledger with another key, stop
before anything is sent; a renamed column holding the same refs and a file of new rows with the same key go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.load_helpers import HEADER, meeting_rows, posts, result_rows, run_load, write_rows


def _mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def loaded(
    make_emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Any:
    """An emulator on the create-only contract and a ledger that loaded 5 rows keyed by the external_ref column."""
    emu = make_emulator(meetings=0, contract="create-only")
    source = write_rows(tmp_path / "meetings.csv", meeting_rows(5))
    first = run_load(emu, monkeypatch, capsys, str(source), "--contract", "create-only")
    assert first.code == 0, first.err
    assert posts(emu) == 5
    return emu


def test_a_changed_key_column_stops_before_sending(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The same meetings exported again without their id column, keyed by a hash of two columns instead.
    sheet = write_rows(tmp_path / "sheet.csv", [row[1:] for row in meeting_rows(5)], HEADER[1:])
    mapping = _mapping(tmp_path / "m.toml", '[external_ref]\ncolumns = ["title", "start"]\n')
    results = tmp_path / "again.csv"
    run = run_load(
        loaded,
        monkeypatch,
        capsys,
        str(sheet),
        "--mapping",
        str(mapping),
        "--contract",
        "create-only",
        "--ledger",
        str(tmp_path / "meetings.ledger.sqlite"),
        "--results",
        str(results),
    )
    assert run.code == 2
    (line,) = [x for x in run.err.splitlines() if x.startswith("error:")]
    assert "holds 5 meetings loaded with external_ref from column 'external_ref'" in line
    assert "external_ref hashed from columns 'title', 'start'" in line
    assert "--ledger NEW_FILE" in line
    assert posts(loaded) == 5  # nothing sent
    assert not results.exists() or not result_rows(results)


def test_another_files_ledger_with_another_key_stops(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = ["Event ID", *HEADER[1:]]
    other = write_rows(tmp_path / "other.csv", meeting_rows(3, prefix="evt"), header)
    mapping = _mapping(tmp_path / "m.toml", '[columns]\nexternal_ref = "Event ID"\n')
    run = run_load(
        loaded,
        monkeypatch,
        capsys,
        str(other),
        "--mapping",
        str(mapping),
        "--contract",
        "create-only",
        "--ledger",
        str(tmp_path / "meetings.ledger.sqlite"),
    )
    assert run.code == 2
    assert "this load takes external_ref from column 'Event ID'" in run.err
    assert posts(loaded) == 5


def test_a_renamed_column_with_the_same_refs_goes_on(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = ["Event ID", *HEADER[1:]]
    renamed = write_rows(tmp_path / "renamed.csv", meeting_rows(6), header)  # the 5 loaded rows and a new one
    mapping = _mapping(tmp_path / "m.toml", '[columns]\nexternal_ref = "Event ID"\n')
    results = tmp_path / "renamed-results.csv"
    run = run_load(
        loaded,
        monkeypatch,
        capsys,
        str(renamed),
        "--mapping",
        str(mapping),
        "--contract",
        "create-only",
        "--ledger",
        str(tmp_path / "meetings.ledger.sqlite"),
        "--results",
        str(results),
    )
    assert run.code == 0, run.err
    outcomes = [r["outcome"] for _, r in sorted(result_rows(results).items())]
    assert outcomes == ["skipped"] * 5 + ["created"]
    assert posts(loaded) == 6
    # The ledger now keeps the new name: the next run under it needs no overlap to go on.
    newer = write_rows(tmp_path / "newer.csv", meeting_rows(2, prefix="new"), header)
    run = run_load(
        loaded,
        monkeypatch,
        capsys,
        str(newer),
        "--mapping",
        str(mapping),
        "--contract",
        "create-only",
        "--ledger",
        str(tmp_path / "meetings.ledger.sqlite"),
    )
    assert run.code == 0, run.err
    assert posts(loaded) == 8


def test_new_rows_under_the_same_key_go_on(
    loaded: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    week2 = write_rows(tmp_path / "week2.csv", meeting_rows(4, prefix="week2"))
    run = run_load(
        loaded,
        monkeypatch,
        capsys,
        str(week2),
        "--contract",
        "create-only",
        "--ledger",
        str(tmp_path / "meetings.ledger.sqlite"),
    )
    assert run.code == 0, run.err
    assert posts(loaded) == 9
