"""Input readers that stream: CSV, Parquet, Excel ``.xlsx``, a pandas DataFrame or an Arrow table.

Every source yields :class:`Batch` es of at most ``batch_size`` rows, so memory is set by the batch size,
never by the file size. Row numbers are what a person sees: in CSV and ``.xlsx`` files the spreadsheet row
(the header is row 1, so the first data row is row 2); in Parquet files, DataFrames and Arrow tables the
1-based position of the row among the data rows.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["Batch", "Source", "open_source"]

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 16
# csv refuses fields over 128 KiB by default; a description is at most 10,000 characters, so allow
# generous cells, yet still fail on a runaway unclosed quote instead of reading the whole file into one field.
csv.field_size_limit(1 << 24)


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows of one read: their row numbers and their cells, aligned with the source's headers."""

    row_numbers: list[int]
    rows: list[Sequence[Any]]


class Source:
    """A readable input: ``headers``, ``total_rows`` (None when unknown) and :meth:`batches`."""

    name: str = "<input>"
    headers: list[str]
    total_rows: int | None = None

    def batches(self, size: int) -> Iterator[Batch]:  # pragma: no cover - interface
        """Yield the rows in batches of at most ``size``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ CSV


def _in_batches(numbered_rows: Iterator[tuple[int, Sequence[Any]]], size: int) -> Iterator[Batch]:
    """Group (row number, cells) pairs into Batches of ``size`` rows."""
    numbers: list[int] = []
    rows: list[Sequence[Any]] = []
    for number, row in numbered_rows:
        numbers.append(number)
        rows.append(row)
        if len(rows) >= size:
            yield Batch(numbers, rows)
            numbers, rows = [], []
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


class CsvSource(Source):
    """A CSV file with a header row, in any common encoding and delimiter."""

    def __init__(self, path: Path, *, encoding: str | None = None, delimiter: str | None = None, **_: Any) -> None:
        self.name = str(path)
        self._raw = open(path, "rb")
        try:
            sample = self._raw.read(SAMPLE_BYTES)
            self._raw.seek(0)
            self.encoding = encoding or detect_encoding(sample)
            try:
                self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, newline="")
            except LookupError:
                raise ConfigError(f"{path}: unknown encoding {self.encoding!r}") from None
            text_sample = sample.decode(self.encoding, errors="replace").lstrip("\ufeff")
            self.delimiter = delimiter or detect_delimiter(text_sample.splitlines()[0] if text_sample else "")
            self._reader = csv.reader(self._text, delimiter=self.delimiter)
            self._line = 0
            header = self._next()
        except BaseException:
            self._raw.close()
            raise
        if header is None or not any(cell.strip() for cell in header):
            self._raw.close()
            raise ConfigError(f"{path}: the file is empty or its first row is not a header")
        self.headers = [cell.strip() for cell in header]

    def _next(self) -> list[str] | None:
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{self.name}: the text after row {self._line} is not valid {self.encoding}; "
                "set [source] encoding in the mapping (e.g. cp1252)"
            ) from None
        except csv.Error as exc:
            raise ConfigError(f"{self.name}: row {self._line + 1} cannot be read as CSV: {exc}") from None
        self._line += 1
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
            except Exception as exc:  # pyarrow raises ArrowInvalid/OSError subclasses for a bad file
                raise ConfigError(f"{parquet}: not a readable Parquet file ({exc})") from None
            self.headers = list(self._file.schema_arrow.names)
            self.total_rows = self._file.metadata.num_rows
        else:
            self.name = "<arrow table>"
            self._file = None
            self._table = table
            self.headers = list(table.schema.names)
            self.total_rows = table.num_rows

    def batches(self, size: int) -> Iterator[Batch]:
        record_batches = (
            self._file.iter_batches(batch_size=size) if self._file is not None else self._table.to_batches(max_chunksize=size)
        )
        offset = 1
        for batch in record_batches:
            columns = [column.to_pylist() for column in batch.columns]
            rows: list[Sequence[Any]] = list(zip(*columns, strict=True))
            yield Batch(list(range(offset, offset + len(rows))), rows)
            offset += len(rows)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class DataFrameSource(Source):
    """A pandas DataFrame, read in slices (row numbers count from 1, whatever the index)."""

    def __init__(self, frame: Any, **_: Any) -> None:
        self.name = "<DataFrame>"
        self._frame = frame
        self.headers = [str(c) for c in frame.columns]
        self.total_rows = len(frame)

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
        self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        if sheet is not None and sheet not in self._book.sheetnames:
            self._book.close()
            raise ConfigError(f"{path}: no worksheet {sheet!r}; it has {', '.join(self._book.sheetnames)}")
        self._sheet = self._book[sheet] if sheet else self._book.worksheets[0]
        self._rows = enumerate(self._sheet.iter_rows(values_only=True), start=1)
        for _number, row in self._rows:  # the first non-empty row is the header
            if any(cell is not None and str(cell).strip() for cell in row):
                cells = ["" if cell is None else str(cell).strip() for cell in row]
                while cells and not cells[-1]:
                    cells.pop()
                self.headers = cells
                break
        else:
            self._book.close()
            raise ConfigError(f"{path}: the worksheet is empty")

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
        if not path.is_file():
            raise ConfigError(f"input file {path} does not exist")
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
