"""Input readers that stream: CSV, Parquet, Excel ``.xlsx``, a pandas DataFrame or an Arrow table.

Every source yields :class:`Batch` es of at most ``batch_size`` rows, so memory is set by the batch size,
never by the file size. Row numbers are what a person sees: in CSV and ``.xlsx`` files the spreadsheet row
(the header is row 1, so the first data row is row 2; a cell with line breaks is still one row); in Parquet
files, DataFrames and Arrow tables the 1-based position of the row among the data rows.

A file that cannot be read at all (not a regular file, binary, the wrong encoding) raises a
:class:`~connector.errors.ConfigError` when it is opened. A file that breaks part-way (bytes not in its
encoding, a quote that never closes, a damaged row group) yields every row before the break, then raises a
:class:`~connector.errors.BrokenInputError` naming the first row it could not read.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BrokenInputError, ConfigError

__all__ = ["Batch", "FlaggedRow", "Source", "describe_bytes", "open_source"]

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 16
# csv refuses fields over 128 KiB by default; a description is at most 10,000 characters, so allow
# generous cells, yet still fail on a runaway unclosed quote instead of reading the whole file into one field.
FIELD_LIMIT = 1 << 24
csv.field_size_limit(FIELD_LIMIT)
# A row whose quoted cells span more lines or characters than this is a quote that never closed (a
# description has at most 10,000 characters), not a meeting: stop there, naming the row, rather than read
# the rest of the file into one cell. (The character bound is below the csv module's field limit.)
MAX_ROW_LINES = 10_000
MAX_ROW_CHARS = FIELD_LIMIT // 2
# Undecodable bytes, read with errors="surrogateescape", become these lone surrogates.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")

# File signatures of formats that are not text, as "looks like ..." (first match wins).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.xls or .doc)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio or video file"),
    (b"\x1aE\xdf\xa3", "a WebM or MKV video"),
)
_HINTS = {
    "a Parquet file": "; name it .parquet to load it",
    "an Excel workbook (.xlsx)": "; name it .xlsx to load it",
    "an old Office file (.xls or .doc)": "; save it as .xlsx or CSV",
    "text (CSV?)": "; name it .csv to load it as CSV",
}


def describe_bytes(head: bytes) -> str | None:
    """What the first bytes of a file look like when they are not plain text ("a PNG image"), else None."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            if magic == b"PK\x03\x04" and b"xl/" in head:
                return "an Excel workbook (.xlsx)"
            return what
    # Signatures that do not start the file: a box size, then "ftyp"; "RIFF", a size, then the kind.
    if head[4:8] == b"ftyp":
        return "an MP4 or MOV video (or audio) file"
    if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"AVI "):
        return "a WAV audio file" if head[8:12] == b"WAVE" else "an AVI video"
    return None


def _looks_like(head: bytes) -> str:
    """What a file's first bytes look like, for an error: a known format, empty, text or binary."""
    if not head:
        return "an empty file"
    what = describe_bytes(head)
    if what is not None:
        return what
    if b"\x00" in head:
        return _nul_reason(head)
    return "text (CSV?)"


def _nul_reason(sample: bytes) -> str:
    """Text with NUL bytes: UTF-16 without a byte-order mark (NULs beside ASCII letters), else binary."""
    even, odd = sample[0::2], sample[1::2]
    if odd and odd.count(0) > len(odd) // 4 and even.count(0) < len(even) // 20 + 1:
        return 'UTF-16 (little-endian) without a byte-order mark: set encoding = "utf-16-le" in the mapping\'s [source]'
    if even and even.count(0) > len(even) // 4 and odd.count(0) < len(odd) // 20 + 1:
        return 'UTF-16 (big-endian) without a byte-order mark: set encoding = "utf-16-be" in the mapping\'s [source]'
    return "a binary file (it has NUL bytes)"


def _one_line(exc: BaseException) -> str:
    """A third-party error's text on one line (pyarrow's span several)."""
    return " ".join(str(exc).split())


def _check_file(path: Path) -> None:
    """A ConfigError saying what is true unless ``path`` is a regular file this process can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise ConfigError(f"input file {path} is a symlink to {os.readlink(path)}, which does not exist") from None
        raise ConfigError(f"input file {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"input file {path} is a symlink loop (it leads back to itself)") from None
        raise ConfigError(f"input file {path} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"input {path} is a directory, not a file; give the file to load")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise ConfigError(f"input {path} is {kind}, not a regular file; save the data to a file and load that")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"input file {path} cannot be read: {exc.strerror}") from None


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows of one read: their row numbers and their cells, aligned with the source's headers."""

    row_numbers: list[int]
    rows: list[Sequence[Any]]


class FlaggedRow(list[Any]):
    """A row's cells with a problem the reader found: ``problem`` is (cell index, reason); the row is rejected."""

    problem: tuple[int, str]


class Source:
    """A readable input: ``headers`` and :meth:`batches`."""

    name: str = "<input>"
    headers: list[str]
    headers_hint: str | None = None  # where the headers came from, when that may be why a column is missing

    def batches(self, size: int) -> Iterator[Batch]:  # pragma: no cover - interface
        """Yield the rows in batches of at most ``size``; a BrokenInputError after the rows before a break."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ CSV


def _in_batches(numbered_rows: Iterator[tuple[int, Sequence[Any]]], size: int) -> Iterator[Batch]:
    """Group (row number, cells) pairs into Batches of ``size`` rows; the rows before a break come first."""
    numbers: list[int] = []
    rows: list[Sequence[Any]] = []
    try:
        for number, row in numbered_rows:
            numbers.append(number)
            rows.append(row)
            if len(rows) >= size:
                yield Batch(numbers, rows)
                numbers, rows = [], []
    except BrokenInputError:
        if rows:
            yield Batch(numbers, rows)
        raise
    if rows:
        yield Batch(numbers, rows)


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV sample: from a BOM, else UTF-8 if it decodes, else cp1252 (else latin-1)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line into the most cells (comma on a tie)."""
    best, cells = ",", 0
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([header_line], delimiter=delimiter), []))
        if count > cells:
            best, cells = delimiter, count
    return best


def _decode_sample(path: Path, sample: bytes, encoding: str) -> str:
    """The sample as text in ``encoding``; a ConfigError when that encoding cannot be this file's."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"{path}: unknown encoding {encoding!r}") from None
    boms = {"utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)}
    if sample and codec.name in boms and not sample.startswith(boms[codec.name]):
        looks = _nul_reason(sample) if b"\x00" in sample else "text with no NUL bytes: leave encoding out to detect it"
        raise ConfigError(f'{path}: encoding "{encoding}" needs a byte-order mark and the file has none; it looks like {looks}')
    text = codec.incrementaldecoder("replace").decode(sample, final=False).lstrip("\ufeff")
    # A stray NUL in a cell is that row's problem (the row is rejected with its reason); many NULs mean
    # the file is not text in this encoding at all.
    if text.count("\x00") > max(8, len(text) // 200):
        raise ConfigError(f"{path}: not readable as {encoding} text: it looks like {_nul_reason(sample)}")
    return text


class CsvSource(Source):
    """A CSV file with a header row, in any common encoding and delimiter."""

    def __init__(self, path: Path, *, encoding: str | None = None, delimiter: str | None = None, **_: Any) -> None:
        self.name = str(path)
        self._raw = open(path, "rb")
        try:
            sample = self._raw.read(SAMPLE_BYTES)
            self._raw.seek(0)
            what = describe_bytes(sample)
            if what is not None:
                raise ConfigError(f"{path}: looks like {what}, not CSV text{_HINTS.get(what, '')}")
            self.encoding = encoding or detect_encoding(sample)
            text_sample = _decode_sample(path, sample, self.encoding)
            # Bad bytes become lone surrogates, found line by line, so an error names the row that holds them.
            self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, errors="surrogateescape", newline="")
            self.delimiter = delimiter or detect_delimiter(text_sample.splitlines()[0] if text_sample else "")
            self._line = 0  # spreadsheet rows read
            self._physical = 0  # lines of text read (a quoted cell may hold line breaks)
            self._row_start = 1  # the line on which the row being read begins
            self._row_chars = 0
            self._ended = False
            self._reader = csv.reader(self._lines(), delimiter=self.delimiter)
            header = self._next()
        except BaseException:
            self._raw.close()
            raise
        if header is None or not any(cell.strip() for cell in header):
            self._raw.close()
            raise ConfigError(f"{path}: the file is empty or its first row is not a header")
        self.headers = [cell.strip() for cell in header]

    def _broken(self, reason: str) -> BrokenInputError:
        return BrokenInputError(reason, file=self.name, row=self._line + 1)

    def _lines(self) -> Iterator[str]:
        """The file's lines, counted, for the csv reader; stops at bytes not in the encoding and runaway quotes."""
        try:
            for line in self._text:
                self._physical += 1
                if not line.isascii() and _ESCAPED_BYTE.search(line):
                    raise self._broken(
                        f"line {self._physical} has bytes that are not valid {self.encoding}; "
                        "set [source] encoding in the mapping (e.g. cp1252)"
                    )
                self._row_chars += len(line)
                if self._physical - self._row_start >= MAX_ROW_LINES or self._row_chars > MAX_ROW_CHARS:
                    raise self._broken(
                        f"a quoted cell opened on line {self._row_start} does not close within {MAX_ROW_LINES:,} lines "
                        f"or {MAX_ROW_CHARS >> 20} MiB (a quote that never closes?); close the quote"
                    )
                yield line
        except UnicodeDecodeError:  # e.g. a broken UTF-16 pair: the decoder reads ahead, so the row is a lower bound
            raise self._broken(
                f"the text from line {self._physical + 1} on is not valid {self.encoding}; "
                "set [source] encoding in the mapping"
            ) from None
        self._ended = True

    def _next(self) -> list[str] | None:
        self._row_start, self._row_chars = self._physical + 1, 0
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise self._broken(f"cannot be read as CSV: {exc}") from None
        if self._ended:
            # The csv module ends a quoted cell at the end of the file without a word: everything after the
            # opening quote would be one cell, and the rows in it never loaded.
            raise self._broken(
                f"a quoted cell opened on line {self._row_start} never closes: the rest of the file "
                f"({self._physical - self._row_start + 1} lines) would be one cell; close the quote"
            )
        self._line += 1
        if self._physical > self._row_start and hasattr(self, "headers"):
            return self._swallowed(row)
        return row

    def _swallowed(self, row: list[str]) -> list[str]:
        """``row``, flagged when a cell that spans lines holds lines that parse as whole rows of their own.

        A quote that closes lines later than meant (``"Two,...`` three rows on) reads the rows between as
        one cell, and the row would be sent with another row's later cells: reject it instead, naming the lines.
        """
        width = len(self.headers)
        if width < 2:
            return row
        for index, cell in enumerate(row):
            if "\n" not in cell and "\r" not in cell:
                continue
            lines = cell.splitlines()
            cells = [len(next(csv.reader([line], delimiter=self.delimiter), [])) for line in lines]
            # Rows read into the cell: a whole one inside it, or the rest of its own row on its first line
            # and the start of a later row on its last.
            inside = sum(count >= width for count in cells[1:-1])
            straddles = cells[0] >= width - index and cells[-1] >= index + 1
            if inside or straddles:
                flagged = FlaggedRow(row)
                flagged.problem = (
                    index,
                    f"the quoted cell opened on line {self._row_start} runs to line {self._physical} and holds "
                    "what look like the cells of other rows: a quote probably closes later than meant; fix the "
                    f"quotes (lines {self._row_start}-{self._physical} were not loaded)",
                )
                return flagged
        return row

    def batches(self, size: int) -> Iterator[Batch]:
        def numbered() -> Iterator[tuple[int, Sequence[Any]]]:
            while (row := self._next()) is not None:
                # A blank line is no input row (it still counts as a spreadsheet row).
                if row and any(row):
                    yield self._line, row

        return _in_batches(numbered(), size)

    def close(self) -> None:
        self._raw.close()


# ------------------------------------------------------------------------------------------ Arrow-like


class ArrowSource(Source):
    """An Arrow table or a Parquet file, read record batch by record batch."""

    def __init__(self, table: Any = None, *, parquet: Path | None = None, **_: Any) -> None:
        if parquet is not None:
            import pyarrow.parquet as pq

            self.name = str(parquet)
            try:
                self._file: Any = pq.ParquetFile(parquet)
                self.headers = list(self._file.schema_arrow.names)
            except Exception as exc:  # pyarrow raises ArrowInvalid/OSError subclasses for a bad file
                with open(parquet, "rb") as f:
                    head = f.read(SAMPLE_BYTES)
                what = _looks_like(head)
                looks = "" if head.startswith(b"PAR1") else f"; it looks like {what}{_HINTS.get(what, '')}"
                raise ConfigError(f"{parquet}: not a readable Parquet file ({_one_line(exc)}){looks}") from None
        else:
            self.name = "<arrow table>"
            self._file = None
            self._table = table
            self.headers = list(table.schema.names)

    def batches(self, size: int) -> Iterator[Batch]:
        offset = 1
        for batch in self._record_batches(size):
            try:
                rows = _rows_of(batch)
            except (UnicodeDecodeError, ValueError):  # a damaged cell (pyarrow's ArrowInvalid is a ValueError)
                yield from self._rows_before_damage(batch, offset)
            yield Batch(list(range(offset, offset + len(rows))), rows)
            offset += len(rows)

    def _rows_before_damage(self, batch: Any, offset: int) -> Iterator[Batch]:
        """The rows of ``batch`` before its first damaged cell, then a BrokenInputError naming that cell."""
        good: list[Sequence[Any]] = []
        for i in range(batch.num_rows):
            row = batch.slice(i, 1)
            for name, column in zip(batch.schema.names, row.columns, strict=True):
                try:
                    column.to_pylist()
                except (UnicodeDecodeError, ValueError) as exc:
                    if good:
                        yield Batch(list(range(offset, offset + len(good))), good)
                    reason = f"column {name!r} cannot be read ({_one_line(exc)})"
                    raise BrokenInputError(reason, file=self.name, row=offset + i) from None
            good.extend(_rows_of(row))
        raise AssertionError("a batch that failed to convert converted row by row")  # pragma: no cover

    def _record_batches(self, size: int) -> Iterator[Any]:
        """Record batches; a Parquet file is read one row group at a time, so a damaged one is named by its first row."""
        if self._file is None:
            yield from self._table.to_batches(max_chunksize=size)
            return
        import pyarrow as pa

        offset = 1
        for group in range(self._file.num_row_groups):
            try:
                for batch in self._file.iter_batches(batch_size=size, row_groups=[group]):
                    yield batch
                    offset += batch.num_rows
            except (OSError, pa.ArrowException) as exc:
                reason = f"row group {group + 1} of {self._file.num_row_groups} cannot be read ({_one_line(exc)})"
                raise BrokenInputError(reason, file=self.name, row=offset) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _rows_of(batch: Any) -> list[Sequence[Any]]:
    """The rows of an Arrow record batch as tuples of Python values."""
    return list(zip(*(column.to_pylist() for column in batch.columns), strict=True))


class DataFrameSource(Source):
    """A pandas DataFrame, read in slices (row numbers count from 1, whatever the index)."""

    def __init__(self, frame: Any, **_: Any) -> None:
        self.name = "<DataFrame>"
        self._frame = frame
        self.headers = [str(c) for c in frame.columns]

    def batches(self, size: int) -> Iterator[Batch]:
        for start in range(0, len(self._frame), size):
            part = self._frame.iloc[start : start + size]
            rows: list[Sequence[Any]] = list(part.itertuples(index=False, name=None))
            yield Batch(list(range(start + 1, start + 1 + len(rows))), rows)


# ----------------------------------------------------------------------------------------------- Excel


class ExcelSource(Source):
    """An ``.xlsx`` workbook read in openpyxl's streaming mode; needs the ``excel`` extra."""

    def __init__(self, path: Path, *, sheet: str | None = None, **_: Any) -> None:
        try:
            import openpyxl
        except ModuleNotFoundError:
            raise ConfigError(
                "reading .xlsx files needs openpyxl: pip install 'connector[excel]' (or save the sheet as CSV)"
            ) from None
        self.name = str(path)
        with open(path, "rb") as f:
            head = f.read(SAMPLE_BYTES)
        if not head.startswith(b"PK\x03\x04"):
            what = _looks_like(head)
            raise ConfigError(f"{path}: not an .xlsx workbook: it looks like {what}{_HINTS.get(what, '')}")
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl lets zipfile, KeyError and XML parser errors through for a bad file
            raise ConfigError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__}: {_one_line(exc)})") from None
        if sheet is not None and sheet not in self._book.sheetnames:
            self._book.close()
            raise ConfigError(f"{path}: no worksheet {sheet!r}; it has {', '.join(self._book.sheetnames)}")
        self._sheet = self._book[sheet] if sheet else self._book.worksheets[0]
        # In streaming mode openpyxl reads only the rows and columns the sheet's <dimension> claims, and
        # workbooks written by other tools often carry a stale one (e.g. "A1"): the rest of the rows and
        # columns would be dropped without a word. Forget it and read every row that is there.
        self._sheet.reset_dimensions()
        others = [name for name in self._book.sheetnames if name != self._sheet.title]
        if sheet is None and others:
            self.headers_hint = (
                f"the first worksheet, {self._sheet.title!r}, was read; the workbook also has "
                f"{', '.join(map(repr, others))}: choose one with sheet = \"...\" under [source] in the mapping"
            )
        self._rows = self._numbered()
        try:
            for _number, row in self._rows:  # the first non-empty row is the header
                if any(cell is not None and str(cell).strip() for cell in row):
                    cells = ["" if cell is None else str(cell).strip() for cell in row]
                    while cells and not cells[-1]:
                        cells.pop()
                    self.headers = cells
                    break
            else:
                raise ConfigError(f"{path}: the worksheet is empty")
        except BaseException:
            self._book.close()
            raise

    def _numbered(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """(row number, cells) of the sheet; a BrokenInputError naming the row after the last one read."""
        last = 0
        try:
            for last, row in enumerate(self._sheet.iter_rows(values_only=True), start=1):
                yield last, row
        except Exception as exc:  # openpyxl lets zipfile and XML parser errors through for a damaged sheet
            reason = f"the worksheet cannot be read after row {last} ({type(exc).__name__}: {_one_line(exc)})"
            raise BrokenInputError(reason, file=self.name, row=last + 1) from None

    def batches(self, size: int) -> Iterator[Batch]:
        filled = (
            (number, row)
            for number, row in self._rows
            if any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in row)
        )
        return _in_batches(filled, size)

    def close(self) -> None:
        self._book.close()


def open_source(source: Any, *, encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None) -> Source:
    """Open a path (``.csv``/``.tsv``/``.txt``, ``.parquet``/``.pq``, ``.xlsx``), a DataFrame or an Arrow table."""
    if isinstance(source, str | Path):
        path = Path(source)
        _check_file(path)
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return ArrowSource(parquet=path)
        if suffix in (".xlsx", ".xlsm"):
            return ExcelSource(path, sheet=sheet)
        if suffix == ".xls":
            raise ConfigError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or CSV")
        return CsvSource(path, encoding=encoding, delimiter=delimiter or ("\t" if suffix == ".tsv" else None))
    module = type(source).__module__
    if module.startswith("pandas"):
        return DataFrameSource(source)
    if module.startswith("pyarrow") and hasattr(source, "schema"):
        import pyarrow as pa

        return ArrowSource(pa.Table.from_batches([source]) if isinstance(source, pa.RecordBatch) else source)
    raise ConfigError(f"cannot load from {type(source).__name__}: give a file path, a pandas DataFrame or an Arrow table")
