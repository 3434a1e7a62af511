"""The results file: one row per input row, written as the load goes (CSV or Parquet).

Columns: ``row_number``, ``external_ref``, ``outcome`` (created, found, rejected, failed, skipped; with
``--sync`` also updated, replaced, unchanged and deleted), ``meeting_id``, ``error`` (``type/code:
message``), ``column`` (the input column of a rejected row), ``attempts`` and ``old_meeting_id`` (the
meeting a sync replaced or deleted). A meeting deleted by ``--delete-missing`` has a line with no
row number. Rows appear in the order they finish, not in input order.

A CSV results file is written after every group of rows, whole lines only, so after an interruption it is
valid up to its last line; a write that fails (disk full) is cut back to the last whole line and raises a
:class:`~connector.errors.ResultsError` naming the file. A re-run (which skips what the ledger says is done)
writes a complete one. Its text cells that a
spreadsheet would run as a formula (``=HYPERLINK(...)`` in an external_ref) get a leading ``'``
(:func:`~connector.csvsafe.neutralise_cell`); a Parquet results file keeps exact values. A Parquet results
file is written to ``<name>.part`` in row groups of 10,000 and renamed when the load ends (also on Ctrl-C);
one that cannot be written is removed, leaving ``<name>`` as it was.

Only ``.csv`` and ``.parquet``/``.pq`` names are accepted, and an existing file is replaced only when it is
empty or a results file (one this tool wrote), unless ``--overwrite`` says so: :func:`check_results_path`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from ..csvsafe import neutralise_cell
from ..errors import ConfigError, ResultsError
from ..paths import refuse_symlink

__all__ = [
    "MEETING_RESULTS",
    "RESULT_COLUMNS",
    "ResultWriter",
    "ResultsLayout",
    "RowResult",
    "check_results_path",
    "is_results_file",
    "open_results",
    "results_format",
]

Format = Literal["csv", "parquet"]
SUFFIXES: dict[str, Format] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

Outcome = Literal[
    "created", "found", "updated", "replaced", "deleted", "unchanged", "skipped", "rejected", "failed"
]


@dataclass(frozen=True, slots=True)
class RowResult:
    """What happened to one input row (or, with no ``row_number``, to a meeting whose row left the input)."""

    row_number: int | None
    external_ref: str | None
    outcome: Outcome
    meeting_id: str | None = None
    error: str | None = None
    column: str | None = None
    attempts: int = 0
    old_meeting_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


RESULT_COLUMNS = tuple(f.name for f in fields(RowResult))


@dataclass(frozen=True)
class ResultsLayout:
    """The columns of a results file and their Arrow types (``pyarrow`` type factory names); a result is a
    dataclass whose fields are these columns, in order. ``load`` writes :data:`MEETING_RESULTS`."""

    columns: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(name for name, _ in self.columns)


MEETING_RESULTS = ResultsLayout(
    (
        ("row_number", "int64"),
        ("external_ref", "string"),
        ("outcome", "string"),
        ("meeting_id", "string"),
        ("error", "string"),
        ("column", "string"),
        ("attempts", "int32"),
        ("old_meeting_id", "string"),
    )
)


class ResultWriter:
    """Writes :class:`RowResult` s; :meth:`flush` makes them visible, :meth:`close` completes the file."""

    path: Path | None = None

    def write(self, result: Any) -> None:
        """Add one result (a :class:`RowResult`, or the dataclass of the writer's layout)."""

    def flush(self) -> None:
        """Push what was written to the file."""

    def close(self) -> None:
        """Finish the file."""


def _cannot_write(path: Path, exc: BaseException) -> ResultsError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ResultsError(f"results file {path} cannot be written: {reason}")


class CsvResults(ResultWriter):
    """A UTF-8 CSV results file, written per group of rows and always in whole lines."""

    def __init__(self, path: Path, layout: ResultsLayout = MEETING_RESULTS) -> None:
        self.path: Path = path
        try:
            self._file: io.FileIO | None = io.FileIO(path, "w")
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        self._lines = io.StringIO()
        self._writer = csv.writer(self._lines)
        self._size = 0  # bytes of whole lines in the file
        self._writer.writerow(layout.names)
        self.flush()

    def write(self, result: Any) -> None:
        self._writer.writerow([neutralise_cell(v) if isinstance(v, str) else "" if v is None else v for v in astuple(result)])

    def flush(self) -> None:
        data = self._lines.getvalue().encode("utf-8")
        if not data or self._file is None:
            return
        self._lines.seek(0)
        self._lines.truncate()
        try:
            view = memoryview(data)
            while view:
                view = view[self._file.write(view) or 0 :]
        except BaseException as exc:
            # A file that ends mid-line (disk full, Ctrl-C between two short writes) is cut back to its last whole line.
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._size)
            self._file.close()
            self._file = None
            if isinstance(exc, OSError):
                raise _cannot_write(self.path, exc) from None
            raise
        self._size += len(data)

    def close(self) -> None:
        if self._file is not None:
            self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


class ParquetResults(ResultWriter):
    """A Parquet results file, one row group per ``group_size`` results, renamed into place on close."""

    def __init__(self, path: Path, group_size: int = 10_000, layout: ResultsLayout = MEETING_RESULTS) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path: Path = path
        self._part = path.with_name(path.name + ".part")
        self._pa = pa
        self._names = layout.names
        self._schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in layout.columns])
        try:
            self._writer: Any = pq.ParquetWriter(self._part, self._schema)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        self._rows: list[tuple[Any, ...]] = []
        self._group_size = group_size

    def write(self, result: Any) -> None:
        self._rows.append(astuple(result))
        if len(self._rows) >= self._group_size:
            self._write_group()

    def flush(self) -> None:
        """Nothing to do: the file is seen whole or not at all (a row group per flush would bloat it)."""

    def _write_group(self) -> None:
        if not self._rows or self._writer is None:
            return
        columns = list(zip(*self._rows, strict=True))
        table = self._pa.table(dict(zip(self._names, columns, strict=True)), schema=self._schema)
        self._rows = []
        try:
            self._writer.write_table(table)
        except (OSError, self._pa.ArrowException) as exc:
            self._discard()
            raise _cannot_write(self.path, exc) from None

    def _discard(self) -> None:
        """Drop the unfinished ``.part`` (this writer's own file); the results path stays as it was."""
        writer, self._writer = self._writer, None
        with contextlib.suppress(OSError, self._pa.ArrowException):
            writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._part)

    def close(self) -> None:
        if self._writer is None:
            return
        try:
            self._write_group()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                os.replace(self._part, self.path)
        except (OSError, self._pa.ArrowException) as exc:
            self._discard()
            raise _cannot_write(self.path, exc) from None


def results_format(path: Path) -> Format:
    """The format a results path names by its suffix; a ConfigError for any other suffix."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"results file {path}: the name must end in .csv or .parquet (the results are written as CSV or Parquet, "
            f"never as {path.suffix or 'a file without a suffix'})"
        )
    return fmt


RESULTS_HEAD_BYTES = 256  # the header of a CSV results file starts within it
RESULTS_TAIL_BYTES = 64 * 1024  # the footer of a Parquet results file fits in it


def is_results_file(fmt: Format, size: int, head: bytes, tail: bytes, layout: ResultsLayout = MEETING_RESULTS) -> bool:
    """True when a file of ``size`` bytes starting with ``head`` (up to :data:`RESULTS_HEAD_BYTES`) and ending
    with ``tail`` (up to :data:`RESULTS_TAIL_BYTES`) is empty or a results file of ``layout`` (its first three
    columns): the rule for local files and store objects alike."""
    names = layout.names
    if size == 0:
        return True
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return tuple(pq.read_schema(pa.BufferReader(tail)).names[:3]) == names[:3]
        except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
            return False
    return head.removeprefix(b"\xef\xbb\xbf").startswith(",".join(names[:3]).encode())


def _is_results_file(path: Path, fmt: Format, layout: ResultsLayout) -> bool:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(RESULTS_HEAD_BYTES)
            f.seek(max(0, size - RESULTS_TAIL_BYTES))
            tail = f.read()
    except OSError:
        return False
    return is_results_file(fmt, size, head, tail, layout)


def check_results_path(path: Path, layout: ResultsLayout = MEETING_RESULTS, *, overwrite: bool = False) -> Format:
    """The results format of ``path``; a ConfigError if its suffix is unknown, it is not a regular file, or it
    exists and is not a results file and ``overwrite`` is False (so a mistyped ``--results`` never overwrites
    someone's file)."""
    fmt = results_format(path)
    refuse_symlink(path, "results file")
    if path.is_dir():
        raise ConfigError(f"results file {path} is a directory; give a file name ending in .csv or .parquet")
    if path.exists() and not path.is_file():
        raise ConfigError(f"results file {path} is not a regular file; give a file name ending in .csv or .parquet")
    if path.exists() and not overwrite and not _is_results_file(path, fmt, layout):
        raise ConfigError(
            f"results file {path} exists and is not a results file of this tool; it was left as it is: "
            "choose another --results path, or pass --overwrite to replace it"
        )
    return fmt


def open_results(
    path: str | Path | None, *, fmt: Format | None = None, layout: ResultsLayout = MEETING_RESULTS
) -> ResultWriter:
    """A writer for ``path`` (format from ``fmt`` or the suffix: ``.csv``, ``.parquet``/``.pq``); None writes nothing."""
    if path is None:
        return ResultWriter()
    path = Path(path)
    fmt = fmt or results_format(path)
    return ParquetResults(path, layout=layout) if fmt == "parquet" else CsvResults(path, layout)
