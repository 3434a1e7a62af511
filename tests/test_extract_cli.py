"""``python -m connector extract``: flags -> library -> report -> exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from connector.cli import main


def test_readme_first_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["extract", "--emulator", "--emulator-meetings", "500", "--output", "meetings.parquet"]) == 0
    out = capsys.readouterr().out
    for label in ("rows        500", "pages", "requests", "retries", "429s", "seconds", "rows/s", "output      meetings.parquet"):
        assert label in out
    assert pq.read_metadata(tmp_path / "meetings.parquet").num_rows == 500


def test_filters_json_report_and_csv(emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    out = tmp_path / "m.csv"
    code = main([
        "extract", "--base-url", emulator.url, "--output", str(out), "--ends-from", "2020-01-01", "--timezone", "Asia/Tokyo",
        "--sort", "start_desc", "--page-size", "50", "--slices", "3", "--json", "--read-rate", "0",
    ])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output"] == str(out) and report["output_format"] == "csv" and report["slices"] == 3
    assert report["filters"]["timezone"] == "Asia/Tokyo" and report["filters"]["sort"] == "start_desc"
    assert pacsv.read_csv(out).num_rows == report["rows"] == 300
    assert emulator.token not in out.read_text() and emulator.token not in json.dumps(report)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--linked-object", "deals"], "linked_object/linked_record_id", id="lone-linked-object"),
        pytest.param(["--participants", "not-an-email"], "participants", id="bad-email"),
        pytest.param(["--ends-from", "yesterday"], "ends_from", id="bad-time"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "x")
    assert main(["extract", "--output", str(tmp_path / "m.parquet"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_page_size_flag_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["extract", "--output", "x.parquet", "--page-size", "500"])
    assert info.value.code == 2
    assert "--page-size: Attio pages hold at most 200 meetings" in capsys.readouterr().err


def test_slices_flag_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["extract", "--output", "x.parquet", "--slices", "0"])
    assert info.value.code == 2
    assert "--slices" in capsys.readouterr().err


def test_window_flag_keeps_meetings_starting_in_the_range(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from extract_helpers import brute_force, span_ns, to_ns

    from connector import MeetingQuery

    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    bounds = ["--ends-from", "2025-06-01T00:00:00Z", "--starts-before", "2025-09-01T00:00:00Z", "--timezone", "Asia/Tokyo"]
    for window in ("overlap", "start"):
        args = ["extract", "--base-url", emulator.url, "--output", str(tmp_path / f"{window}.parquet"), "--read-rate", "0",
                "--quiet", "--slices", "3", "--page-size", "7", "--window", window, *bounds]
        assert main(args) == 0
    query = MeetingQuery(ends_from="2025-06-01T00:00:00Z", starts_before="2025-09-01T00:00:00Z", timezone="Asia/Tokyo")
    overlap = brute_force(emulator.emulator.store.all_meetings(), query)
    start = {k for k, m in overlap.items() if span_ns(m, "Asia/Tokyo")[0] >= to_ns("2025-06-01T00:00:00Z")}
    assert sorted(pq.read_table(tmp_path / "overlap.parquet").column("meeting_id").to_pylist()) == sorted(overlap)
    assert sorted(pq.read_table(tmp_path / "start.parquet").column("meeting_id").to_pylist()) == sorted(start)
    assert start and start <= set(overlap)
