"""``python -m connector load``: the README walkthrough, dry run, exit codes and one-line errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copy(SAMPLES / "meetings_export.csv", tmp_path)
    return tmp_path / "meetings_export.csv", SAMPLES / "meetings_mapping.toml"


def test_walkthrough_dry_run_prints_summary_and_bodies_and_sends_nothing(sample: tuple[Path, Path], capsys: Any) -> None:
    source, mapping = sample
    code = main(["load", str(source), "--mapping", str(mapping), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1  # the sample has bad rows on purpose
    assert out.startswith("dry run (nothing sent): 51 rows: 43 valid, 7 rejected, 1 duplicates")
    assert "row 46, column 'Event ID': invalid_row: external_ref CAL-2027-1044 repeats row 45 with different content" in out
    assert "row 22, column 'Time Zone': invalid_row: 'Europe/Pariss' is not a known IANA timezone name" in out
    assert '"external_ref": "CAL-2027-1001"' in out
    assert not (source.parent / "meetings_export.ledger.sqlite").exists()


def test_walkthrough_load_against_the_emulator(emulator: Any, sample: tuple[Path, Path], monkeypatch: Any, capsys: Any) -> None:
    source, mapping = sample
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    args = ["load", str(source), "--mapping", str(mapping), "--base-url", emulator.url, "-q", "--json"]
    assert main(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("rows", "created", "rejected", "skipped", "failed")} == {
        "rows": 51, "created": 43, "rejected": 7, "skipped": 1, "failed": 0,
    }
    with open(source.parent / "meetings_export.results.csv", newline="") as f:
        results = list(csv.DictReader(f))
    assert sorted(int(r["row_number"]) for r in results) == list(range(2, 53))
    by_row = {int(r["row_number"]): r for r in results}
    assert by_row[52]["error"] == "duplicate: external_ref repeats row 31; sent once"  # the same meeting twice
    assert (by_row[46]["outcome"], by_row[46]["column"]) == ("rejected", "Event ID")  # another meeting, same ref
    assert main(args) == 1  # still 1: the same seven rows are still invalid
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["skipped"], again["requests"]) == (0, 44, 0)


def test_a_clean_file_exits_0(emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    path = tmp_path / "ok.csv"
    path.write_text(
        "External_Ref;Title;Start;End;Participants\n"
        "x-1;Sync;2031-02-03T10:00:00Z;2031-02-03T10:30:00Z;a@acme.com,b@acme.com\n",
        encoding="utf-8-sig",
    )
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    assert main(["load", str(path), "--base-url", emulator.url, "-q"]) == 0
    assert "1 created, 0 found, 0 rejected, 0 failed, 0 skipped" in capsys.readouterr().out


def test_a_bad_mapping_is_one_line_with_exit_2(sample: tuple[Path, Path], tmp_path: Path, capsys: Any) -> None:
    source, _ = sample
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\ntitle = "Nope"\n')
    assert main(["load", str(source), "--mapping", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "column 'Nope' (for title) is not in the file" in err
    assert len(err.strip().splitlines()) == 1
