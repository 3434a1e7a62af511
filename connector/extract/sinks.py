"""Where extracted RecordBatches go: Parquet (a file or a dataset by start month), CSV, JSON Lines, a callable.

A sink is ``open(schema, metadata)``, ``write(batch)`` any number of times, then ``commit()`` (returns the
output path) or ``abort()``. File sinks write under a temporary name (``PATH.partial``) and rename it
onto ``PATH`` only in ``commit()``, so an interrupted run never leaves a partial file at ``PATH``.
The metadata (schema version, filters, extraction time) goes into Parquet's key-value metadata; it
never holds the access token (the extract never gives it to a sink).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import InvalidArgumentError

__all__ = [
    "FORMATS",
    "CallableSink",
    "CsvSink",
    "FileSink",
    "JsonlSink",
    "ParquetSink",
    "Sink",
    "sink_for_path",
]

FORMATS = ("parquet", "csv", "jsonl")
ROW_GROUP_ROWS = 32_768  # large enough for scans, small enough to keep the peak RSS of a 1M-row extract low


class Sink(Protocol):
    """What :func:`~connector.extract.extract` writes to."""

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None: ...

    def write(self, batch: pa.RecordBatch) -> None: ...

    def commit(self) -> str | None: ...

    def abort(self) -> None: ...


class CallableSink:
    """Hands every RecordBatch to ``fn(batch)``; no files. With a checkpoint, a batch is committed once ``fn`` returns."""

    def __init__(self, fn: Callable[[pa.RecordBatch], Any]) -> None:
        self.fn = fn

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Nothing to open."""

    def write(self, batch: pa.RecordBatch) -> None:
        """Call the function."""
        self.fn(batch)

    def commit(self) -> str | None:
        """Nothing to commit."""
        return None

    def abort(self) -> None:
        """Nothing to clean up."""


class FileSink:
    """Base of the file sinks: a staging path renamed onto ``path`` at commit."""

    format: str = ""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.staging = self.path.with_name(self.path.name + ".partial")
        self._opened = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove(self.staging)  # left over from a killed run
        self._opened = True

    def _publish(self) -> str:
        if self.path.is_dir() and not self.staging.is_dir():
            raise InvalidArgumentError("output", f"{self.path} is a directory")
        if self.staging.is_dir():
            _remove(self.path)
        os.replace(self.staging, self.path)
        return str(self.path)

    def abort(self) -> None:
        """Remove the staging file; ``path`` is untouched."""
        self._close_quietly()
        _remove(self.staging)

    def _close_quietly(self) -> None:  # pragma: no cover - overridden
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _with_metadata(schema: pa.Schema, metadata: Mapping[str, str]) -> pa.Schema:
    merged = dict(schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    return schema.with_metadata(merged)


class ParquetSink(FileSink):
    """Parquet, zstd, large row groups; ``partition_by="start_month"`` writes a Hive-partitioned dataset.

    The dataset is a directory ``PATH/start_month=2027-11/part-0.parquet`` (all-day meetings by their
    start date, others by their UTC start); it is staged as ``PATH.partial/`` and renamed as a whole.
    """

    format = "parquet"

    def __init__(
        self,
        path: str | os.PathLike[str],
        partition_by: Literal["start_month"] | None = None,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        compression: str = "zstd",
    ) -> None:
        super().__init__(path)
        if partition_by not in (None, "start_month"):
            raise InvalidArgumentError("partition_by", f"must be None or 'start_month', got {partition_by!r}")
        self.partition_by = partition_by
        self.row_group_rows = row_group_rows
        self.compression = compression
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._months: dict[str, tuple[pq.ParquetWriter, int]] = {}
        self._files = 0

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._schema = _with_metadata(schema, metadata)
        if self.partition_by:
            self.staging.mkdir(parents=True)
        else:
            self._writer = self._new_writer(self.staging)

    def _new_writer(self, path: Path) -> pq.ParquetWriter:
        assert self._schema is not None
        return pq.ParquetWriter(str(path), self._schema, compression=self.compression, write_statistics=True)

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer the batch; write a row group whenever enough rows are buffered."""
        if not batch.num_rows:
            return
        if self.partition_by:
            self._write_partitioned(batch)
            return
        self._buffer.append(batch)
        self._buffered += batch.num_rows
        if self._buffered >= self.row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buffer and self._writer is not None:
            table = pa.Table.from_batches(self._buffer)
            self._writer.write_table(table, row_group_size=max(self.row_group_rows, table.num_rows))
        self._buffer, self._buffered = [], 0

    def _write_partitioned(self, batch: pa.RecordBatch) -> None:
        months = start_months(batch)
        for month in pc.unique(months).to_pylist():
            key = month or "__HIVE_DEFAULT_PARTITION__"
            part = batch.filter(pc.equal(months, month)) if month is not None else batch.filter(pc.is_null(months))
            if key not in self._months:
                folder = self.staging / f"start_month={key}"
                folder.mkdir(parents=True, exist_ok=True)
                self._months[key] = (self._new_writer(folder / "part-0.parquet"), 0)
            writer, _ = self._months[key]
            writer.write_batch(part)

    def commit(self) -> str:
        """Close the file(s) and rename them onto the output path."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for writer, _ in self._months.values():
            writer.close()
        self._months.clear()
        return self._publish()

    def _close_quietly(self) -> None:
        self._buffer, self._buffered = [], 0
        writers = [self._writer] if self._writer is not None else []
        writers += [w for w, _ in self._months.values()]
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.close()
        self._writer = None
        self._months.clear()


def start_months(batch: pa.RecordBatch) -> pa.Array:
    """``YYYY-MM`` of each meeting's start: the start date (all-day) or the UTC start."""
    timed = pc.strftime(batch.column("start_datetime"), format="%Y-%m")
    dated = pc.strftime(batch.column("start_date").cast(pa.timestamp("s")), format="%Y-%m")
    return pc.if_else(batch.column("is_all_day"), dated, timed)


def _plain_columns(batch: pa.RecordBatch) -> dict[str, Any]:
    """Columns made text-friendly: timestamps as RFC 3339 (``...Z``, nanoseconds kept), dates as ISO."""
    out: dict[str, Any] = {}
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            out[field.name] = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_date(field.type):
            out[field.name] = column.cast(pa.string())
        else:
            out[field.name] = column
    return out


class CsvSink(FileSink):
    """CSV with a header; ``participants`` and ``linked_records`` as JSON text, times as RFC 3339."""

    format = "csv"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._writer: pacsv.CSVWriter | None = None
        self._file: Any = None

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._file = open(self.staging, "wb")
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        self._writer = pacsv.CSVWriter(self._file, self._text_table(empty).schema)

    @staticmethod
    def _text_table(batch: pa.RecordBatch) -> pa.Table:
        cols = _plain_columns(batch)
        for name in ("participants", "linked_records"):
            cols[name] = pa.array([orjson.dumps(v).decode() for v in batch.column(name).to_pylist()], pa.string())
        return pa.table(cols)

    def write(self, batch: pa.RecordBatch) -> None:
        """Append the rows."""
        assert self._writer is not None
        self._writer.write_table(self._text_table(batch))

    def commit(self) -> str:
        """Close and rename onto the output path."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._file.close()
        self._file = None
        return self._publish()

    def _close_quietly(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None


class JsonlSink(FileSink):
    """JSON Lines: one meeting per line, columns as in the schema, times as RFC 3339 strings."""

    format = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._file: Any = None

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._file = open(self.staging, "wb")

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one line per row."""
        rows = pa.table(_plain_columns(batch)).to_pylist()
        self._file.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))

    def commit(self) -> str:
        """Close and rename onto the output path."""
        self._file.close()
        self._file = None
        return self._publish()

    def _close_quietly(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def sink_for_path(
    path: str | os.PathLike[str], format: str | None = None, *, partition_by: Literal["start_month"] | None = None
) -> FileSink:
    """The file sink for ``format``, or for the path's suffix (.parquet, .csv, .jsonl/.ndjson)."""
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        format = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(suffix, suffix) or "parquet"
        if format not in FORMATS:
            raise InvalidArgumentError(
                "output", f"{os.fspath(path)!r} has the suffix .{suffix}; use .parquet, .csv or .jsonl, or pass --format"
            )
    if format == "parquet":
        return ParquetSink(path, partition_by=partition_by)
    if partition_by is not None:
        raise InvalidArgumentError("partition_by", "only the parquet format can be partitioned")
    if format == "csv":
        return CsvSink(path)
    if format == "jsonl":
        return JsonlSink(path)
    raise InvalidArgumentError("format", f"must be one of {', '.join(FORMATS)}, got {format!r}")
