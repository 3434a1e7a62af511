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


# ----------------------------------------------------- a bad value rejects its row; the load goes on

HEADER = ["external_ref", "title", "description", "start", "end", "timezone", "is_all_day", "participants"]


def good_row(i: int) -> list[str]:
    return [f"ok-{i}", f"Good {i}", "", f"2031-03-0{i}T10:00:00", f"2031-03-0{i}T11:00:00", "Europe/Berlin", "",
            f"guest{i}@example.org"]


BAD_ROWS = [
    # family 5: a boolean cell that is no boolean
    pytest.param({"is_all_day": "nein"}, "is_all_day", "'nein' is not true/false", id="bool-nein"),
    pytest.param({"is_all_day": "maybe"}, "is_all_day", "'maybe' is not true/false", id="bool-maybe"),
    # family 6: addresses Attio would not take
    pytest.param({"participants": "['a@example.com"}, "participants", "is not an email address: has '['", id="email-bracket"),
    pytest.param({"participants": "mailto:a@b.com"}, "participants", "is not an email address: has ':'", id="email-mailto"),
    pytest.param({"participants": "a@b.com>"}, "participants", "is not an email address: the domain 'b.com>'", id="email-gt"),
    pytest.param({"participants": "x" * 300_000 + "@b.com"}, "participants", "at most 254", id="email-300KB"),
    # family 7: times outside the years 1-9999
    pytest.param({"start": "9999-12-31T23:00-05:00", "end": "9999-12-31T23:30-05:00"}, "start",
                 "outside the years 0001-9999 once converted to UTC", id="after-9999"),
    pytest.param({"start": "0001-01-01T00:00+01:00", "end": "0001-01-01T01:00+01:00"}, "start",
                 "outside the years 0001-9999 once converted to UTC", id="before-0001"),
    pytest.param({"start": "9999-12-31", "end": ""}, "start", "past the last date there is", id="all-day-last-date"),
    # family 8: control characters, clocks skipping forward
    pytest.param({"title": "Kick\x00off"}, "title", "contains a NUL character (U+0000) at character 5", id="nul-title"),
    pytest.param({"description": "bell\x07"}, "description", "contains a control character (U+0007)", id="bell"),
    pytest.param({"start": "2031-03-30T02:30:00", "end": "2031-03-30T04:00:00"}, "start",
                 "02:30 on 2031-03-30 does not exist in Europe/Berlin (clocks skip forward)", id="dst-gap"),
    # family 9: names that are no timezone
    pytest.param({"timezone": "America"}, "timezone", "'America' is not a known IANA timezone name", id="tz-folder"),
    pytest.param({"timezone": "posixrules"}, "timezone", "'posixrules' is not a known IANA timezone name", id="tz-posixrules"),
    pytest.param({"timezone": "../../etc/passwd"}, "timezone", "is not a known IANA timezone name", id="tz-dot-dot"),
    pytest.param({"timezone": "z" * 300}, "timezone", "is not a known IANA timezone name", id="tz-300-characters"),
]


@pytest.mark.parametrize(("change", "column", "reason"), BAD_ROWS)
def test_a_bad_row_among_good_rows_is_rejected_and_the_good_rows_are_created(
    make_emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any, change: dict, column: str, reason: str
) -> None:
    emu = make_emulator(meetings=0)
    bad = dict(zip(HEADER, good_row(9), strict=True)) | {"external_ref": "bad-1"} | change
    rows = [good_row(1), [bad[h] for h in HEADER], good_row(2), good_row(3)]
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    assert main(["load", str(path), "--base-url", emu.url, "-q", "--json"]) == 1  # rows rejected, nothing aborted
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["created"], report["rejected"], report["failed"], report["aborted"]) == (4, 3, 1, 0, None)
    with open(tmp_path / "in.results.csv", newline="", encoding="utf-8") as f:
        results = {int(r["row_number"]): r for r in csv.DictReader(f)}
    assert sorted(results) == [2, 3, 4, 5]
    assert (results[3]["outcome"], results[3]["column"]) == ("rejected", column)
    assert reason in results[3]["error"] and len(results[3]["error"]) < 400
    assert sorted(m["title"] for m in emu.emulator.store.created) == ["Good 1", "Good 2", "Good 3"]
    assert emu.emulator.stats.count(status=500) == 0 and emu.emulator.stats.count(method="POST") == 3


def test_parquet_list_columns_are_read_as_lists(make_emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    record = "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"
    table = pa.table({
        "external_ref": ["p-1", "p-2", "p-3"],
        "title": ["Two guests", "A bad guest", "No links"],
        "start": ["2031-04-01T10:00:00Z", "2031-04-02T10:00:00Z", "2031-04-03T10:00:00Z"],
        "end": ["2031-04-01T11:00:00Z", "2031-04-02T11:00:00Z", "2031-04-03T11:00:00Z"],
        "participants": pa.array(
            [["ana@example.org", "Bo <bo@example.org>"], ["ana@example.org", "['cy@example.org'"], ["di@example.org"]],
            type=pa.list_(pa.string()),
        ),
        "linked_records": pa.array([[f"companies:{record}"], [], None], type=pa.list_(pa.string())),
    })
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    emu = make_emulator(meetings=0)
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    assert main(["load", str(path), "--base-url", emu.url, "-q", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["rejected"]) == (2, 1)
    created = {m["title"]: m for m in emu.emulator.store.created}
    assert [p["email_address"] for p in created["Two guests"]["participants"]] == ["ana@example.org", "bo@example.org"]
    links = {(lr["object_slug"], lr["record_id"]) for lr in created["Two guests"]["linked_records"]}
    assert ("companies", record) in links
    assert [p["email_address"] for p in created["No links"]["participants"]] == ["di@example.org"]
    with open(tmp_path / "in.results.csv", newline="", encoding="utf-8") as f:
        bad = [r for r in csv.DictReader(f) if r["outcome"] == "rejected"]
    assert [(r["row_number"], r["column"]) for r in bad] == [("2", "participants")]
    assert "\"['cy@example.org'\" is not an email address" in bad[0]["error"]
