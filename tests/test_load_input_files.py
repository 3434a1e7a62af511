"""Input files that are not what they seem, or break part-way: every row is loaded and in the results, or the
error names it; a file refused up front sends and writes nothing (exit 2); one that breaks part-way finishes
the rows before the break, prints the summary and exits 5; a re-run of the fixed file loads the rest."""

from __future__ import annotations

import csv
import io
import os
import random
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from load_helpers import HEADER, csv_text, meeting_rows, posts, result_rows, run_load, write_rows

from connector.client import AttioClient
from connector.config import ClientConfig, RateLimits, RetryPolicy
from connector.load import LoadConfig, load
from connector.load.sources import MAX_ROW_LINES


def created_refs(emu: Any) -> set[str]:
    """The external_refs of the meetings the load created (keyed ("ref", value) by the emulator); none twice."""
    counts = emu.emulator.store.count_by_external_ref()
    assert all(n == 1 for n in counts.values()), "a meeting was created twice"
    return {key[1] for key in counts}


def ledger_states(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM refs GROUP BY state").fetchall())


def assert_broke_at(run: Any, source: Path, row: int, reason: str) -> None:
    """Exit 5, the summary printed, and the message naming the file and the first row not read."""
    assert run.code == 5, (run.out, run.err)
    assert f"input broke: {source}: row {row}: " in run.out and reason in run.out
    assert "the rows before it were loaded and are in the results" in run.out
    assert run.out.startswith("load: ")  # the summary


# ------------------------------------------------------------------------ a quote that never closes


def _unclosed_at(rows: list[list[str]], index: int) -> str:
    """CSV text whose data row ``index`` opens a quote in its title that never closes."""
    text = csv_text(rows)
    assert f"\nref-{index},Meeting " in text
    return text.replace(f"\nref-{index},Meeting ", f'\nref-{index},"Meeting ', 1)


@pytest.mark.parametrize(
    ("n_rows", "bad_index", "multiline_before"),
    [(40, 1, False), (40, 25, True), (40, 39, False), (3000, 1, False)],
    ids=["row-3-of-40", "row-27-after-multiline-cells", "last-row", "row-3-of-3000"],
)
def test_a_quote_that_never_closes_stops_at_its_row_after_loading_the_rows_before(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    n_rows: int,
    bad_index: int,
    multiline_before: bool,
) -> None:
    rows = meeting_rows(n_rows)
    if multiline_before:  # quoted cells with line breaks: physical lines and spreadsheet rows differ
        for row in rows[:bad_index:3]:
            row[1] += "\nsecond line\nthird line"
    source = tmp_path / "in.csv"
    source.write_text(_unclosed_at(rows, bad_index))
    run = run_load(emulator, monkeypatch, capsys, str(source))
    bad_row = bad_index + 2
    assert_broke_at(run, source, bad_row, "never closes")
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, bad_row))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(bad_index)}


def test_a_quote_spanning_an_implausible_number_of_lines_stops_there(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = meeting_rows(3)
    text = _unclosed_at(rows, 2) + "\n".join(f"line {i}" for i in range(MAX_ROW_LINES + 10)) + '"\n'
    source = tmp_path / "in.csv"
    source.write_text(text)
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert_broke_at(run, source, 4, f"does not close within {MAX_ROW_LINES:,} lines")
    assert sorted(result_rows(tmp_path / "in.results.csv")) == [2, 3]


def test_an_unclosed_quote_in_the_header_sends_nothing(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'external_ref,"title,start,end,participants\n' + csv_text(meeting_rows(3)).split("\n", 1)[1]
    )
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 2 and f"{source}: row 1: a quoted cell opened on line 1 never closes" in run.err
    assert posts(emulator) == 0 and not (tmp_path / "in.results.csv").exists()


def test_closed_multiline_quotes_load_every_row(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = meeting_rows(30)
    for row in rows[::2]:
        row[1] += '\nwith "quotes", commas\nand lines'
    source = write_rows(tmp_path / "in.csv", rows)
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 0, run.out + run.err
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, 32))


@pytest.mark.parametrize(
    ("opened", "closed"),
    [(2, 4), (0, 1), (10, 25), (28, 29)],
    ids=["two-rows-swallowed", "first-row", "fifteen-rows", "last-rows"],
)
def test_a_quote_that_closes_rows_later_rejects_its_row_naming_the_lines(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    opened: int,
    closed: int,
) -> None:
    # The title of row `opened` starts a quote that only closes inside the title of row `closed`: the rows
    # between read as one cell, and the row would take row `closed`'s times. Nothing of it may be sent.
    rows = meeting_rows(30)
    lines = csv_text(rows).splitlines(keepends=True)
    first, last = opened + 1, closed + 1  # +1: the header line
    lines[first] = lines[first].replace(f"Meeting ref-{opened}", f'"Meeting ref-{opened}', 1)
    lines[last] = lines[last].replace(f"Meeting ref-{closed}", f'Meeting ref-{closed}"', 1)
    source = tmp_path / "in.csv"
    source.write_text("".join(lines), encoding="utf-8")
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 1, run.out + run.err
    results = result_rows(tmp_path / "in.results.csv")
    bad = results[opened + 2]
    assert bad["outcome"] == "rejected" and bad["column"] == "title"
    assert f"opened on line {first + 1} runs to line {last + 1}" in bad["error"]
    assert {r["outcome"] for n, r in results.items() if n != opened + 2} == {"created"}
    assert posts(emulator) == len(results) - 1


# ---------------------------------------------------------------------- bad bytes part-way through


def _with_bad_byte(rows: list[list[str]], index: int, *, in_multiline: bool) -> bytes:
    """UTF-8 CSV bytes with a cp1252 ``é`` in data row ``index``, after the first 64 KiB."""
    for i, row in enumerate(rows):
        row[1] += " " + "x" * 60  # makes the file long enough that the byte is past the encoding sample
        if i % 5 == 0:
            row.append("notes\nspanning\nlines")
        else:
            row.append("")
    rows[index][1] = rows[index][1] + "\nline two" if in_multiline else rows[index][1]
    text = csv_text(rows, [*HEADER, "notes"])
    marker = f"Meeting ref-{index} "
    head, tail = text.split(marker, 1)
    return (head + marker).encode() + b"caf\xe9 " + tail.encode()


@pytest.mark.parametrize(
    ("n_rows", "bad_index", "in_multiline"),
    [(1200, 1000, False), (1200, 1100, True), (1200, 1199, False)],
    ids=["row-1002", "row-1102-in-a-multiline-cell", "last-row"],
)
def test_bytes_not_in_the_encoding_after_the_sample_stop_at_their_exact_row(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    n_rows: int,
    bad_index: int,
    in_multiline: bool,
) -> None:
    data = _with_bad_byte(meeting_rows(n_rows), bad_index, in_multiline=in_multiline)
    assert data.index(b"\xe9") > 1 << 16
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    run = run_load(emulator, monkeypatch, capsys, str(source), "--concurrency", "20")
    bad_row = bad_index + 2
    assert_broke_at(run, source, bad_row, "has bytes that are not valid utf-8; set [source] encoding")
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, bad_row))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(bad_index)}
    assert ledger_states(tmp_path / "in.ledger.sqlite") == {"created": bad_index}  # nothing left in flight


def test_a_broken_file_fixed_and_run_again_loads_the_rest_once(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = meeting_rows(1000)
    data = _with_bad_byte([r[:] for r in rows], 900, in_multiline=False)
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    assert run_load(emulator, monkeypatch, capsys, str(source)).code == 5
    source.write_bytes(data.replace(b"caf\xe9", "café".encode()))  # the fix
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 0, run.out + run.err
    assert "load: 1000 rows: 100 created, 0 found, 0 rejected, 0 failed, 900 skipped" in run.out
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, 1002))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(1000)}


# ----------------------------------------------------------------------- damaged Parquet and .xlsx


def _parquet(path: Path, n: int, group: int) -> Path:
    columns = list(zip(*meeting_rows(n), strict=True))
    pq.write_table(pa.table(dict(zip(HEADER, columns, strict=True))), path, row_group_size=group)
    return path


def _damage_row_group(path: Path, group: int) -> None:
    data = bytearray(path.read_bytes())
    row_group = pq.ParquetFile(path).metadata.row_group(group)
    for c in range(row_group.num_columns):
        offset = row_group.column(c).data_page_offset
        data[offset + 4 : offset + 40] = b"\xff" * 36
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("group", "bad_group"), [(50, 0), (50, 2), (40, 4)], ids=["first-group", "third-group", "last-group"]
)
def test_a_damaged_parquet_row_group_stops_at_its_first_row_naming_the_file(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    group: int,
    bad_group: int,
) -> None:
    source = _parquet(tmp_path / "in.parquet", 200, group)
    _damage_row_group(source, bad_group)
    run = run_load(emulator, monkeypatch, capsys, str(source), "--batch-size", "16")
    first_bad = bad_group * group + 1
    assert_broke_at(run, source, first_bad, f"row group {bad_group + 1} of")
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(1, first_bad))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(first_bad - 1)}


def test_the_library_reports_a_broken_input_with_the_results(emulator: Any, tmp_path: Path) -> None:
    source = _parquet(tmp_path / "in.parquet", 120, 40)
    _damage_row_group(source, 1)
    config = ClientConfig(
        token=emulator.token,
        base_url=emulator.url,
        retry=RetryPolicy(initial_delay=0.01, max_delay=0.05),
        limits=RateLimits(reads_per_second=0, writes_per_second=0),
    )

    async def main() -> Any:
        async with AttioClient(config) as client:
            return await load(source, client, LoadConfig(results_path=tmp_path / "r.parquet"))

    import anyio

    report = anyio.run(main)
    assert not report.ok and report.input_error is not None
    assert report.input_error.startswith(f"{source}: row 41: row group 2 of 3 cannot be read")
    assert (report.rows, report.created) == (40, 40)
    assert "input broke: " in report.format() and report.to_dict()["input_error"] == report.input_error
    assert sorted(pq.read_table(tmp_path / "r.parquet").column("row_number").to_pylist()) == list(
        range(1, 41)
    )


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    book.save(path)
    return path


def _edit_sheet(good: Path, out: Path, edit: Any) -> Path:
    """A copy of the workbook ``good`` at ``out`` with its first sheet's XML passed through ``edit``."""
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, edit(data) if item.filename == "xl/worksheets/sheet1.xml" else data)
    return out


@pytest.mark.parametrize("bad_row", [2, 80, 150], ids=["first-data-row", "row-80", "last-row"])
def test_a_damaged_xlsx_sheet_stops_after_the_rows_it_could_read(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bad_row: int,
) -> None:
    def damage(data: bytes) -> bytes:
        at = data.index(f'<row r="{bad_row}"'.encode())
        return data[:at] + b"<row <<not xml" + data[at:]

    source = _edit_sheet(_xlsx(tmp_path / "good.xlsx", meeting_rows(149)), tmp_path / "in.xlsx", damage)
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 5, run.out + run.err
    assert f"input broke: {source}: row " in run.out and "the worksheet cannot be read after row" in run.out
    first_unread = int(run.out.split(f"{source}: row ", 1)[1].split(":", 1)[0])
    assert first_unread <= bad_row  # streaming XML: the break is named at or before the damaged row
    results = result_rows(tmp_path / "in.results.csv")
    assert sorted(results) == list(range(2, first_unread))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(first_unread - 2)}


@pytest.mark.parametrize("kind", ["parquet", "xlsx", "csv"])
def test_random_damage_never_ends_in_an_internal_error_or_a_lost_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """Seeded damage (cut off, overwritten bytes, a flipped byte): exit 0/1 with every row in the results, 2
    with no results at all, or 5 with exactly the rows before the one named."""
    clean = tmp_path / f"clean.{kind}"
    rows = meeting_rows(120)
    if kind == "parquet":
        _parquet(clean, 120, 30)
    elif kind == "xlsx":
        _xlsx(clean, rows)
    else:  # past the 64 KiB the encoding is guessed from, so that a damaged byte may break it part-way
        write_rows(clean, [[*row, "n" * 600] for row in rows], [*HEADER, "notes"])
    data = clean.read_bytes()
    first = 1 if kind == "parquet" else 2
    rnd = random.Random(f"damage-{kind}")
    codes = []
    for k in range(12):
        damaged = bytearray(data)
        at = rnd.randrange(len(data))
        if k % 3 == 0:
            damaged = damaged[:at]
        elif k % 3 == 1:
            damaged[at : at + 8] = bytes(rnd.randrange(256) for _ in range(8))
        else:
            damaged[at] ^= 0xFF
        source = tmp_path / f"d{k}.{kind}"
        source.write_bytes(bytes(damaged))
        results = tmp_path / f"d{k}.results.csv"
        run = run_load(None, monkeypatch, capsys, str(source), "--dry-run", "--results", str(results))
        assert run.code in (0, 1, 2, 5), (k, run.err)
        codes.append(run.code)
        if run.code == 2:
            assert run.err.startswith(f"error: {source}") or f"{source}" in run.err
            assert len(run.err.strip().splitlines()) == 1 and not results.exists()
            continue
        numbers = sorted(result_rows(results))
        if run.code == 5:
            named = int(run.out.split(f"input broke: {source}: row ", 1)[1].split(":", 1)[0])
            assert numbers == list(range(first, named))
        else:  # damage the reader cannot see (a cut between rows, a changed letter): the rows it read, in order
            assert numbers == list(range(first, first + len(numbers)))
    assert 5 in codes, codes  # the sweep did break a file part-way


# ------------------------------------------------------------ files that are not what they seem (exit 2)


def _utf16(text: str, codec: str) -> bytes:
    return text.encode(codec)


CSV = csv_text(meeting_rows(3))
NOT_WHAT_THEY_SEEM = [
    ("empty.xlsx", b"", "not an .xlsx workbook: it looks like an empty file"),
    ("csv-named.xlsx", CSV.encode(), "not an .xlsx workbook: it looks like text (CSV?); name it .csv"),
    ("png-named.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(64), "not an .xlsx workbook: it looks like a PNG image"),
    ("zip-not-a-book.xlsx", None, "not a readable .xlsx workbook"),
    ("garbage.parquet", bytes(range(256)) * 4, "not a readable Parquet file"),
    ("empty.parquet", b"", "not a readable Parquet file"),
    ("csv-named.parquet", CSV.encode(), "it looks like text (CSV?); name it .csv"),
    ("truncated.parquet", None, "not a readable Parquet file"),
    ("png.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "looks like a PNG image, not CSV text"),
    ("parquet-named.csv", None, "looks like a Parquet file, not CSV text; name it .parquet"),
    ("book-named.csv", None, "looks like an Excel workbook (.xlsx), not CSV text; name it .xlsx"),
    ("archive.csv", b"PK\x03\x04" + bytes(100), "looks like a zip archive, not CSV text"),
    ("pdf.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "looks like a PDF document"),
    (
        "binary.csv",
        b"external_ref\x00\x01\x02\x03\xff\xfe" * 20,
        "looks like a binary file (it has NUL bytes)",
    ),
    (
        "utf16le-no-bom.csv",
        _utf16(CSV, "utf-16-le"),
        'UTF-16 (little-endian) without a byte-order mark: set encoding = "utf-16-le"',
    ),
    (
        "utf16be-no-bom.csv",
        _utf16(CSV, "utf-16-be"),
        'UTF-16 (big-endian) without a byte-order mark: set encoding = "utf-16-be"',
    ),
]


def _make_odd_file(tmp_path: Path, name: str, content: bytes | None) -> Path:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    elif name == "zip-not-a-book.xlsx":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "not a workbook")
    elif name == "truncated.parquet":
        _parquet(tmp_path / "whole.parquet", 50, 10)
        path.write_bytes((tmp_path / "whole.parquet").read_bytes()[:700])
    elif name == "parquet-named.csv":
        _parquet(path, 5, 5)
    elif name == "book-named.csv":
        _xlsx(tmp_path / "b.xlsx", meeting_rows(2)).rename(path)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"), NOT_WHAT_THEY_SEEM, ids=[c[0] for c in NOT_WHAT_THEY_SEEM]
)
def test_a_file_that_is_not_what_its_name_says_is_refused_saying_what_it_looks_like(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    source = _make_odd_file(tmp_path, name, content)
    before = set(tmp_path.iterdir())
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 2, run.out + run.err
    assert run.err.startswith(f"error: {source}") and message in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert posts(emulator) == 0 and set(tmp_path.iterdir()) == before  # no results, no ledger


@pytest.mark.parametrize(
    ("encoding", "content", "message"),
    [
        (
            "utf-16",
            CSV.encode("utf-8"),
            'encoding "utf-16" needs a byte-order mark and the file has none; it looks like text',
        ),
        (
            "utf-16",
            CSV.encode("utf-16-le"),
            "needs a byte-order mark and the file has none; it looks like UTF-16 (little-endian)",
        ),
        ("utf-32", CSV.encode("utf-16-be"), 'encoding "utf-32" needs a byte-order mark'),
        (
            "utf-8",
            CSV.encode("utf-16-le"),
            "not readable as utf-8 text: it looks like UTF-16 (little-endian)",
        ),
    ],
    ids=["utf16-on-utf8", "utf16-no-bom", "utf32-no-bom", "utf8-on-utf16"],  # unknown codecs: test_load_mapping
)
def test_a_mapping_encoding_that_cannot_be_the_files_is_refused(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    encoding: str,
    content: bytes,
    message: str,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    mapping = tmp_path / "m.toml"
    mapping.write_text(f'[source]\nencoding = "{encoding}"\n')
    run = run_load(emulator, monkeypatch, capsys, str(source), "--mapping", str(mapping))
    assert run.code == 2 and run.err.startswith(f"error: {source}: ") and message in run.err
    assert posts(emulator) == 0 and not (tmp_path / "in.results.csv").exists()


def test_utf16_without_bom_loads_once_its_encoding_is_named(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(csv_text(meeting_rows(5)).encode("utf-16-le"))
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nencoding = "utf-16-le"\n')
    run = run_load(emulator, monkeypatch, capsys, str(source), "--mapping", str(mapping))
    assert run.code == 0, run.err
    assert sorted(result_rows(tmp_path / "in.results.csv")) == [2, 3, 4, 5, 6]


# ---------------------------------------------------------------------- inputs that are not files


def _not_a_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "in.csv"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink-loop":
        path.symlink_to(tmp_path / "other.csv")
        (tmp_path / "other.csv").symlink_to(path)
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "gone.csv")
    elif kind == "under-a-file":  # open() fails for root too (a chmod 0 file root would read)
        path.write_text(CSV)
        path = path / "in.csv"
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("directory", "is a directory, not a file"),
        ("fifo", "is a FIFO (named pipe), not a regular file"),
        ("symlink-loop", "is a symlink loop"),
        ("dangling-symlink", "is a symlink to"),
        ("missing", "does not exist"),
        ("under-a-file", "cannot be read: Not a directory"),
    ],
)
def test_an_input_that_is_not_a_readable_file_says_what_it_is(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    source = _not_a_file(tmp_path, kind)
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(tmp_path / "r.csv"))
    assert run.code == 2 and str(source) in run.err and message in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert posts(emulator) == 0 and not (tmp_path / "r.csv").exists()


# ------------------------------------------------------------------------------ repeated headers


@pytest.mark.parametrize(
    ("header", "mapping", "message"),
    [
        ([*HEADER, "title"], None, "column 'title' appears 2 times (columns 2 and 6)"),
        ([*HEADER, "Title"], None, "column 'title' appears 2 times (columns 2 and 6)"),
        (["Participants", *HEADER], None, "column 'Participants' appears 2 times (columns 1 and 6)"),
        (
            [*HEADER, "Subject", "Subject"],
            '[columns]\ntitle = "Subject"\n',
            "column 'Subject' appears 2 times (columns 6 and 7)",
        ),
        (
            [*HEADER, "k", "k", "k"],
            '[external_ref]\ncolumns = ["k"]\n',
            "column 'k' appears 3 times (columns 6, 7 and 8)",
        ),
    ],
    ids=["default-title", "title-in-another-case", "participants", "mapped-subject", "ref-key-three-times"],
)
def test_a_repeated_header_the_load_reads_is_refused_naming_both_columns(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    header: list[str],
    mapping: str | None,
    message: str,
) -> None:
    rows = [row + ["x"] * (len(header) - len(HEADER)) for row in meeting_rows(3)]
    if header[0] == "Participants":
        rows = [["a@acme.com", *row[:5]] for row in rows]
    source = write_rows(tmp_path / "in.csv", rows, header)
    args = [str(source)]
    if mapping is not None:
        (tmp_path / "m.toml").write_text(mapping)
        args += ["--mapping", str(tmp_path / "m.toml")]
    run = run_load(emulator, monkeypatch, capsys, *args)
    assert run.code == 2 and f"error: {source}: {message} and the load reads it" in run.err
    assert posts(emulator) == 0 and not (tmp_path / "in.results.csv").exists()


@pytest.mark.parametrize(
    "extra", [["notes", "notes"], ["Notes", "notes", "NOTES"]], ids=["twice", "three-cases"]
)
def test_a_repeated_header_the_load_does_not_read_is_only_warned_about(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    extra: list[str],
) -> None:
    rows = [row + ["a"] * len(extra) for row in meeting_rows(4)]
    source = write_rows(tmp_path / "in.csv", rows, [*HEADER, *extra])
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 0, run.err
    # The CLI logs warnings to stderr; under pytest its log records go to caplog instead.
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{source}: column {extra[0]!r} appears {len(extra)} times (columns 6" in warning
    assert warning.endswith("it is not loaded")
    assert sorted(result_rows(tmp_path / "in.results.csv")) == [2, 3, 4, 5]


def test_csv_module_reads_the_fixture_as_written() -> None:
    """The helper's CSV is what the csv module reads back (so the tests above build the files they mean)."""
    rows = meeting_rows(3)
    rows[1][1] += '\nline "two", three'
    assert list(csv.reader(io.StringIO(csv_text(rows), newline=""))) == [HEADER, *rows]


def test_with_json_the_report_carries_the_break_and_stderr_says_it(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    source = tmp_path / "in.csv"
    source.write_text(_unclosed_at(meeting_rows(10), 6))
    run = run_load(emulator, monkeypatch, capsys, str(source), "--json")
    assert run.code == 5
    report = json.loads(run.out)
    assert report["ok"] is False and (report["rows"], report["created"]) == (6, 6)
    assert report["input_error"].startswith(f"{source}: row 8: a quoted cell opened on line 8 never closes")
    assert run.err == f"error: input broke: {report['input_error']}\n"


def test_an_xlsx_with_a_stale_dimension_loads_every_row_and_column(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tools that write .xlsx files without updating the sheet's <dimension> (here it claims A1:B3) must not
    make a streaming read stop at the third row or the second column."""
    def stale(data: bytes) -> bytes:
        start = data.index(b"<dimension ")
        end = data.index(b">", start) + 1
        return data[:start] + b'<dimension ref="A1:B3"/>' + data[end:]

    source = _edit_sheet(_xlsx(tmp_path / "good.xlsx", meeting_rows(60)), tmp_path / "in.xlsx", stale)
    run = run_load(emulator, monkeypatch, capsys, str(source))
    assert run.code == 0, run.out + run.err
    assert sorted(result_rows(tmp_path / "in.results.csv")) == list(range(2, 62))
    assert created_refs(emulator) == {f"ref-{i}" for i in range(60)}
