"""A load whose mapping makes external_refs another way than the ledger's must not create every meeting again.

Through the real CLI against the emulator on the create-only contract (where a second meeting per row is a
duplicate nobody cleans up): a changed key column or hash, and another file's ledger with another key, stop
before anything is sent; a renamed column holding the same refs and a file of new rows with the same key go on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.load_helpers import HEADER, CliRun, meeting_rows, posts, result_rows, run_load, write_rows

ID_HEADER = ["Event ID", *HEADER[1:]]
Rerun = Callable[..., CliRun]


@pytest.fixture
def emu(make_emulator: Any) -> Any:
    return make_emulator(meetings=0, contract="create-only")


@pytest.fixture
def rerun(
    emu: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Rerun:
    """After a first load of 5 rows keyed by the external_ref column: a load of ``source`` on that ledger,
    with ``mapping`` (TOML text) if given."""
    first = run_load(
        emu,
        monkeypatch,
        capsys,
        str(write_rows(tmp_path / "meetings.csv", meeting_rows(5))),
        "--contract",
        "create-only",
    )
    assert first.code == 0, first.err
    assert posts(emu) == 5

    def again(source: Path, mapping: str | None = None, *args: str) -> CliRun:
        extra = ["--contract", "create-only", "--ledger", str(tmp_path / "meetings.ledger.sqlite"), *args]
        if mapping is not None:
            (tmp_path / "m.toml").write_text(mapping, encoding="utf-8")
            extra += ["--mapping", str(tmp_path / "m.toml")]
        return run_load(emu, monkeypatch, capsys, str(source), *extra)

    return again


def test_a_changed_key_column_stops_before_sending(emu: Any, rerun: Rerun, tmp_path: Path) -> None:
    # The same meetings exported again without their id column, keyed by a hash of two columns instead.
    sheet = write_rows(tmp_path / "sheet.csv", [row[1:] for row in meeting_rows(5)], HEADER[1:])
    results = tmp_path / "again.csv"
    run = rerun(sheet, '[external_ref]\ncolumns = ["title", "start"]\n', "--results", str(results))
    assert run.code == 2
    (line,) = [x for x in run.err.splitlines() if x.startswith("error:")]
    assert "holds 5 meetings loaded with external_ref from column 'external_ref'" in line
    assert "external_ref hashed from columns 'title', 'start'" in line
    assert "--ledger NEW_FILE" in line
    assert posts(emu) == 5  # nothing sent
    assert not results.exists() or not result_rows(results)


def test_another_files_ledger_with_another_key_stops(emu: Any, rerun: Rerun, tmp_path: Path) -> None:
    other = write_rows(tmp_path / "other.csv", meeting_rows(3, prefix="evt"), ID_HEADER)
    run = rerun(other, '[columns]\nexternal_ref = "Event ID"\n')
    assert run.code == 2
    assert "this load takes external_ref from column 'Event ID'" in run.err
    assert posts(emu) == 5


def test_a_renamed_column_with_the_same_refs_goes_on(emu: Any, rerun: Rerun, tmp_path: Path) -> None:
    renamed = write_rows(
        tmp_path / "renamed.csv", meeting_rows(6), ID_HEADER
    )  # the 5 loaded rows and a new one
    results = tmp_path / "renamed-results.csv"
    run = rerun(renamed, '[columns]\nexternal_ref = "Event ID"\n', "--results", str(results))
    assert run.code == 0, run.err
    outcomes = [r["outcome"] for _, r in sorted(result_rows(results).items())]
    assert outcomes == ["skipped"] * 5 + ["created"]
    assert posts(emu) == 6
    # The ledger now keeps the new name: the next run under it needs no overlap to go on.
    run = rerun(
        write_rows(tmp_path / "newer.csv", meeting_rows(2, prefix="new"), ID_HEADER),
        '[columns]\nexternal_ref = "Event ID"\n',
    )
    assert run.code == 0, run.err
    assert posts(emu) == 8


def test_new_rows_under_the_same_key_go_on(emu: Any, rerun: Rerun, tmp_path: Path) -> None:
    run = rerun(write_rows(tmp_path / "week2.csv", meeting_rows(4, prefix="week2")))
    assert run.code == 0, run.err
    assert posts(emu) == 9


@pytest.mark.parametrize("sync", [False, True], ids=["dry-run", "sync-dry-run"])
def test_a_dry_run_stops_as_the_real_run_would(emu: Any, rerun: Rerun, tmp_path: Path, sync: bool) -> None:
    """The dry run is where a changed mapping should show: it reads the ledger and refuses with the same
    message, and leaves the ledger as it was (the next real run still refuses, a matching one still goes on)."""
    ledger = tmp_path / "meetings.ledger.sqlite"
    before = ledger.read_bytes()
    sheet = write_rows(tmp_path / "sheet.csv", [row[1:] for row in meeting_rows(5)], HEADER[1:])
    hashed = '[external_ref]\ncolumns = ["title", "start"]\n'
    run = rerun(sheet, hashed, "--dry-run", *(["--sync"] if sync else []))
    assert run.code == 2, run.out + run.err
    (line,) = [x for x in run.err.splitlines() if x.startswith("error:")]
    assert "holds 5 meetings loaded with external_ref from column 'external_ref'" in line
    assert ledger.read_bytes() == before
    assert posts(emu) == 5
    ok = rerun(write_rows(tmp_path / "week2.csv", meeting_rows(4, prefix="week2")), None, "--dry-run")
    assert ok.code == 0, ok.out + ok.err
    assert posts(emu) == 5
