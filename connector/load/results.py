"""The results file: one row per input row, written as the load goes (CSV or Parquet).

Columns: ``row_number``, ``external_ref``, ``outcome`` (created, found, rejected, failed, skipped),
``meeting_id``, ``error`` (``type/code: message``), ``column`` (the input column of a rejected row) and
``attempts``. Rows appear in the order they finish, not in input order.

A CSV results file is flushed after every group of rows, so after an interruption it is valid up to its
last line; a re-run (which skips what the ledger says is done) writes a complete one. A Parquet results
file is written to ``<name>.part`` and renamed when the load ends (also on Ctrl-C).
"""

from __future__ import annotations

import csv
import os
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Literal

__all__ = ["RESULT_COLUMNS", "ResultWriter", "RowResult", "open_results"]

Outcome = Literal["created", "found", "rejected", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class RowResult:
    """What happened to one input row."""

    row_number: int
    external_ref: str | None
    outcome: Outcome
    meeting_id: str | None = None
    error: str | None = None
    column: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


RESULT_COLUMNS = tuple(f.name for f in fields(RowResult))


class ResultWriter:
    """Writes :class:`RowResult` s; :meth:`flush` makes them visible, :meth:`close` completes the file."""

    path: Path | None = None

    def write(self, result: RowResult) -> None:
        """Add one result."""

    def flush(self) -> None:
        """Push what was written to the file."""

    def close(self) -> None:
        """Finish the file."""


class CsvResults(ResultWriter):
    """A UTF-8 CSV results file, flushed per group of rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(RESULT_COLUMNS)

    def write(self, result: RowResult) -> None:
        self._writer.writerow(["" if v is None else v for v in astuple(result)])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class ParquetResults(ResultWriter):
    """A Parquet results file, one row group per ``group_size`` results, renamed into place on close."""

    def __init__(self, path: Path, group_size: int = 10_000) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self._part = path.with_name(path.name + ".part")
        self._pa = pa
        self._schema = pa.schema(
            [
                ("row_number", pa.int64()),
                ("external_ref", pa.string()),
                ("outcome", pa.string()),
                ("meeting_id", pa.string()),
                ("error", pa.string()),
                ("column", pa.string()),
                ("attempts", pa.int32()),
            ]
        )
        self._writer = pq.ParquetWriter(self._part, self._schema)
        self._rows: list[tuple[Any, ...]] = []
        self._group_size = group_size

    def write(self, result: RowResult) -> None:
        self._rows.append(astuple(result))
        if len(self._rows) >= self._group_size:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            columns = list(zip(*self._rows, strict=True))
            self._writer.write_table(self._pa.table(dict(zip(RESULT_COLUMNS, columns, strict=True)), schema=self._schema))
            self._rows = []

    def close(self) -> None:
        if self._writer is not None:
            self.flush()
            self._writer.close()
            self._writer = None
            os.replace(self._part, self.path)


def open_results(path: str | Path | None, *, fmt: Literal["csv", "parquet"] | None = None) -> ResultWriter:
    """A writer for ``path`` (format from ``fmt`` or the suffix: ``.parquet``/``.pq``, else CSV); None writes nothing."""
    if path is None:
        return ResultWriter()
    path = Path(path)
    fmt = fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    return ParquetResults(path) if fmt == "parquet" else CsvResults(path)
