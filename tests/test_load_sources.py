"""Sources stream every format to the same rows: CSV encodings and delimiters, Parquet, .xlsx, DataFrame, Arrow."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.errors import ConfigError
from connector.load import LoadConfig, load_sync
from connector.load.sources import open_source

HEADER = ["external_ref", "title", "start", "end", "participants"]
ROWS = [
    ["r-1", "Café réunion", "2027-01-05T10:00:00Z", "2027-01-05T11:00:00Z", "ana@acme.com; bob@acme.com"],
    ["r-2", "Zürich sync", "2027-01-06T10:00:00Z", "2027-01-06T10:30:00Z", "ana@acme.com"],
]


def write_csv(path: Path, delimiter: str, encoding: str, rows: list[list[str]] = ROWS) -> Path:
    lines = [delimiter.join(HEADER)] + [delimiter.join(f'"{c}"' if delimiter in c else c for c in r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(",", "utf-8"), (",", "utf-8-sig"), (";", "cp1252"), ("\t", "latin-1"), ("|", "utf-16"), (";", "utf-8-sig")],
    ids=["comma-utf8", "comma-bom", "semicolon-cp1252", "tab-latin1", "pipe-utf16", "semicolon-bom"],
)
def test_csv_encodings_and_delimiters_are_detected(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = write_csv(tmp_path / "in.csv", delimiter, encoding)
    with open_source(path) as src:
        assert src.headers == HEADER
        batches = list(src.batches(1))
    assert [b.row_numbers for b in batches] == [[2], [3]]
    assert [list(b.rows[0]) for b in batches] == ROWS


def test_csv_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(",".join(HEADER) + "\n\n" + ",".join(ROWS[0]).replace("; ", ";") + "\n")
    with open_source(path) as src:
        (batch,) = list(src.batches(10))
    assert batch.row_numbers == [3]


def test_explicit_encoding_wins_and_a_wrong_one_is_explained(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", ",", "cp1252")
    with pytest.raises(ConfigError, match="row 2: line 2 has bytes that are not valid utf-8; set \\[source\\] encoding"):
        with open_source(path, encoding="utf-8") as src:
            list(src.batches(10))


def expected_titles(report_bodies: tuple) -> list[str]:
    return [b["data"]["title"] for b in report_bodies]


def test_parquet_xlsx_dataframe_and_arrow_give_the_same_bodies(tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS, columns=HEADER)
    frame["start"] = pd.to_datetime(frame["start"])  # typed timestamps, as a real export would have
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp_path / "in.parquet")
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(HEADER)
    for row in ROWS:
        book.active.append([row[0], row[1], datetime(2027, 1, int(row[2][8:10]), 10, 0), row[3], row[4]])
    book.save(tmp_path / "in.xlsx")
    config = LoadConfig(dry_run=True)
    reports = {
        "csv": load_sync(write_csv(tmp_path / "in.csv", ",", "utf-8"), config),
        "parquet": load_sync(tmp_path / "in.parquet", config),
        "xlsx": load_sync(tmp_path / "in.xlsx", config),
        "frame": load_sync(frame, config),
        "arrow": load_sync(table, config),
    }
    for name, report in reports.items():
        assert (report.rows, report.rejected) == (2, 0), name
        bodies = [b["data"] for b in report.sample_bodies]
        assert [b["title"] for b in bodies] == ["Café réunion", "Zürich sync"], name
        start = datetime.fromisoformat(bodies[0]["start"]["datetime"])
        assert start == datetime(2027, 1, 5, 10, tzinfo=timezone.utc), name


def test_dataframe_rows_are_numbered_from_one_and_nan_is_blank() -> None:
    frame = pd.DataFrame(ROWS, columns=HEADER)
    frame.loc[1, "title"] = float("nan")
    report = load_sync(frame, LoadConfig(dry_run=True))
    assert report.rejected == 1
    assert (report.errors[0]["row_number"], report.errors[0]["column"]) == (2, "title")


def test_unreadable_inputs_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(tmp_path / "missing.csv")
    (tmp_path / "old.xls").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"save it as \.xlsx or CSV"):
        open_source(tmp_path / "old.xls")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        open_source(tmp_path / "empty.csv")
    with pytest.raises(ConfigError, match="cannot load from dict"):
        open_source({"a": 1})
