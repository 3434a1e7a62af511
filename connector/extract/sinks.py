"""Where extracted RecordBatches go: Parquet (a file or a dataset by start month), CSV, JSON Lines, a callable.

The one sink interface (:class:`Sink`) is ``open(schema, metadata)``, ``write(batch)`` any number of
times, then ``commit()`` (returns where the output is, or None) or ``abort()``. The engine calls them in
that order, one at a time.

Atomic publish and resume are defined at that interface. A sink whose output appears only at
``commit()`` (and which ``abort()`` leaves as it was) says so by also being an :class:`AtomicSink`:
it names the local file where its run's checkpoint goes by default (``default_checkpoint()``) and what
its ``open()`` stages (``staging_name()``, recorded in the checkpoint before ``open()`` so that what a
killed run staged is known to be the extract's own). The engine then gives it checkpoint and resume
with no code of its own: every batch is committed to a part file in local scratch beside the
checkpoint, and the parts are written to the sink in output order while the run goes (a window's parts
once every window before it is done); a resumed run opens the sink afresh and writes it again from the
parts, fetching only what is missing. An atomic sink's ``open``/``write``/``commit``/``abort`` run in a
worker thread (one at a time), so writing overlaps fetching. Files are atomic sinks, and so are object
stores (:class:`~connector.storage.ObjectStoreSink`, a file sink in local scratch); database tables
implement the same two methods. Any other sink (:class:`CallableSink`) gets each
batch as it is fetched, on the event loop; with a checkpoint, a batch counts as delivered once
``write`` returns.

File sinks write under a temporary name (``PATH.partial``, created only if nothing is there) and rename
it onto ``PATH`` only in ``commit()``, so an interrupted run never leaves a partial file at ``PATH`` and
an existing file at ``PATH`` is replaced in one step. An existing file is replaced only when it is
recognisably an extract's output (:func:`is_extract_output`: empty, a Parquet file with the
``connector.schema_version`` key, a CSV whose header or JSON Lines whose first record has exactly the
columns of one of the extract's tables), or when the sink was made with ``overwrite=True``
(``--overwrite``); anything else is refused before the first request and checked again just before
the rename. A partitioned Parquet sink publishes month by
month into its folder (:mod:`.dataset`).
The metadata (schema version, filters, extraction time) goes into Parquet's key-value metadata; it
never holds the access token (the extract never gives it to a sink).
"""

from __future__ import annotations

import contextlib
import csv
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import orjson

from ..csvsafe import neutralise_array
from ..deferred import deferred
from ..errors import ConfigError, InvalidArgumentError
from ..paths import refuse_symlink, remove_path
from .checkpoint import default_checkpoint_path
from .dataset import PART_FILE, Coverage, Partitioning, check_dataset, publish_dataset

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
else:
    pa = deferred("pyarrow")
    pc = deferred("pyarrow.compute")
    pacsv = deferred("pyarrow.csv")
    pq = deferred("pyarrow.parquet")

__all__ = [
    "FORMATS",
    "OWN_HEAD_BYTES",
    "OWN_TAIL_BYTES",
    "AtomicSink",
    "CallableSink",
    "CsvSink",
    "FileSink",
    "JsonlSink",
    "ParquetSink",
    "Sink",
    "is_extract_output",
    "sink_for_path",
]

FORMATS = ("parquet", "csv", "jsonl")
CSV_FORMULAS = ("escape", "keep")
ROW_GROUP_ROWS = 16_384  # large enough for scans; the buffer of one row group is the largest piece of an extract's memory
OWN_HEAD_BYTES = 64 * 1024  # a CSV header or first JSON Lines record of an extract (a first record can be long)
OWN_TAIL_BYTES = 256 * 1024  # a Parquet footer (schema and key-value metadata) of an extract is a few KiB


def _table_columns() -> list[frozenset[str]]:
    from .streams import TABLES  # the schemas load lazily; the sinks are imported by modules streams imports

    return [frozenset(t.arrow_schema().names) for t in TABLES.values()]


def _first_line(head: bytes) -> str | None:
    line, newline, _ = head.removeprefix(b"\xef\xbb\xbf").partition(b"\n")
    if not newline and len(head) >= OWN_HEAD_BYTES:
        return None  # longer than any first line of ours
    try:
        return line.rstrip(b"\r").decode()
    except UnicodeDecodeError:
        return None


def is_extract_output(format: str, size: int, head: bytes, tail: bytes) -> bool:
    """True when a file of ``size`` bytes whose first bytes are ``head`` (up to :data:`OWN_HEAD_BYTES`) and last
    bytes ``tail`` (up to :data:`OWN_TAIL_BYTES`) is what an extract to ``format`` writes, so replacing it loses
    nothing the user made: an empty file; Parquet with the ``connector.schema_version`` metadata key (of any
    version); CSV whose header, or JSON Lines whose first record, has exactly the columns of one of the
    extract's tables. The same rule for local files and objects (:mod:`connector.storage`)."""
    if size == 0:
        return True
    if format == "parquet":
        try:
            metadata = pq.read_schema(pa.BufferReader(tail)).metadata or {}
        except (OSError, pa.ArrowException):
            return False
        return b"connector.schema_version" in metadata
    line = _first_line(head)
    if not line:
        return False
    if format == "csv":
        names = next(csv.reader([line]), [])
        return len(names) == len(set(names)) and frozenset(names) in _table_columns()
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and frozenset(record) in _table_columns()


class Sink(Protocol):
    """What :func:`~connector.extract.extract` writes to."""

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Get ready for batches of ``schema``; ``metadata`` goes with them (a Parquet file's key-value metadata)."""
        ...

    def write(self, batch: pa.RecordBatch) -> None:
        """Take one batch, in output order."""
        ...

    def commit(self) -> str | None:
        """Every batch was written: publish them; return where they went (a path, a table), if anywhere."""
        ...

    def abort(self) -> None:
        """The extract failed or was cancelled: drop what was written, leaving the destination as it was."""
        ...


@runtime_checkable
class AtomicSink(Sink, Protocol):
    """A sink that publishes only at ``commit()``: the engine checkpoints and resumes it (module docstring)."""

    def default_checkpoint(self) -> Path:
        """The local checkpoint file of an extract into this sink when none is given (its parts go beside it)."""
        ...

    def staging_name(self) -> str:
        """What ``open()`` stages, recorded in the checkpoint before ``open()`` is called.

        An absolute local path (file sinks) is removed by the extract when a later run discards the
        checkpoint; any other name (a table, an object key) is never touched by the extract: the sink's
        ``open()`` replaces what it staged before.
        """
        ...


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


class FileSink(ABC):
    """Base of the file sinks: a staging path renamed onto ``path`` at commit; an existing file at ``path`` is
    replaced only if it is an extract's output or ``overwrite`` is True (module docstring)."""

    format: str = ""

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        if not os.fspath(path):
            raise InvalidArgumentError("output", "the path is empty")
        self.path = Path(path)
        if self.path.name in ("", ".."):  # "." or "..": name it, so that its staging path sits beside it
            self.path = Path(os.path.abspath(self.path))
        if not self.path.name:
            raise InvalidArgumentError("output", f"{os.fspath(path)!r} has no name to write beside (a root folder)")
        self.staging = self.path.with_name(self.path.name + ".partial")
        self.overwrite = overwrite
        self._opened = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def default_checkpoint(self) -> Path:
        """``PATH.checkpoint.json``."""
        return default_checkpoint_path(self.path)

    def staging_name(self) -> str:
        """The absolute staging path, ``PATH.partial``."""
        return str(self.staging.absolute())

    @abstractmethod
    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""

    @abstractmethod
    def write(self, batch: pa.RecordBatch) -> None:
        """Write one batch to the staging path."""

    @abstractmethod
    def commit(self) -> str:
        """Finish the staging copy and publish it onto ``path``; return where it went."""

    @property
    def is_folder(self) -> bool:
        """True when the output is a folder (a partitioned dataset), not one file."""
        return False

    def check_destination(self) -> None:
        """Refuse (ConfigError) an output path this sink could only write by destroying what is there."""
        if self.path.is_dir():
            error = ConfigError(f"output {self.path} is a folder; nothing was changed")
            error.hint = "name a file for the output (a folder is written only with --partition-by start_month)"
            raise error
        self._check_replaceable()

    def _check_replaceable(self) -> None:
        """Refuse a file at ``path`` that is not an extract's output (unless ``overwrite``), and anything that is
        not a regular file (a device or a pipe: a rename would put a file in its place)."""
        refuse_symlink(self.path, "output")
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigError(f"output {self.path} cannot be checked: {exc.strerror}; nothing was changed") from None
        if not os.path.isfile(self.path):
            error = ConfigError(f"output {self.path} is not a regular file; nothing was changed")
            error.hint = "name a file for the output"
            raise error
        if self.overwrite:
            return
        try:
            with open(self.path, "rb") as f:
                head = f.read(OWN_HEAD_BYTES)
                f.seek(max(0, st.st_size - OWN_TAIL_BYTES))
                tail = f.read()
        except OSError as exc:
            raise ConfigError(f"output {self.path} cannot be read: {exc.strerror}; nothing was changed") from None
        if not is_extract_output(self.format, st.st_size, head, tail):
            error = ConfigError(
                f"output {self.path} exists and is not a {self.format} file this tool wrote; nothing was changed"
            )
            error.hint = "pass --overwrite to replace it, or choose another --output"
            raise error

    def _prepare(self) -> None:
        """Create the staging file, only if nothing is there (a leftover is the extract's to remove first)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.is_folder:
            self.staging.mkdir()
        else:
            os.close(os.open(self.staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        self._opened = True

    def _publish(self) -> str:
        self._check_replaceable()  # again: a file may have appeared there while the extract ran
        os.replace(self.staging, self.path)
        self._opened = False
        return str(self.path)

    def abort(self) -> None:
        """Remove the staging file (if this sink made it); ``path`` is untouched."""
        self._close_quietly()
        if self._opened:
            remove_path(self.staging)
            self._opened = False

    def _close_quietly(self) -> None:  # pragma: no cover - overridden  # noqa: B027 (a hook, empty by default)
        pass


def _with_metadata(schema: pa.Schema, metadata: Mapping[str, str]) -> pa.Schema:
    merged = dict(schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    return schema.with_metadata(merged)


class ParquetSink(FileSink):
    """Parquet, zstd, large row groups; ``partition_by`` (``"start_month"``, ``"workspace_id"`` or
    ``"workspace_id,start_month"``) writes a Hive-partitioned dataset.

    The dataset is a directory ``PATH/start_month=2027-11/part-0.parquet`` (all-day meetings by their
    start date, others by their UTC start; ``workspace_id=...`` folders outside them); it is staged as
    ``PATH.partial/`` and published partition by partition into ``PATH``, replacing or merging only the
    partitions the run covers (see :mod:`.dataset`); other files in ``PATH`` are left alone.
    """

    format = "parquet"

    def __init__(
        self,
        path: str | os.PathLike[str],
        partition_by: str | Partitioning | None = None,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        compression: str = "zstd",
        overwrite: bool = False,
    ) -> None:
        super().__init__(path, overwrite=overwrite)
        self.partitioning = Partitioning.parse(partition_by) if partition_by is not None else None
        self.row_group_rows = row_group_rows
        self.compression = compression
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._parts: dict[tuple[str, ...], pq.ParquetWriter] = {}
        self._coverage = Coverage()

    @property
    def is_folder(self) -> bool:
        """True when partitioned: the output is a dataset folder."""
        return self.partitioning is not None

    def check_destination(self) -> None:
        """Refuse a file where the folder goes, or a folder whose months this extract did not write."""
        if self.is_folder:
            assert self.partitioning is not None
            check_dataset(self.path, self.partitioning)
        else:
            super().check_destination()

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._schema = _with_metadata(schema, metadata)
        self._coverage = Coverage.from_metadata(metadata)  # which months this run holds in full
        if not self.is_folder:
            self._writer = self._new_writer(self.staging)

    def _new_writer(self, path: Path) -> pq.ParquetWriter:
        assert self._schema is not None
        return pq.ParquetWriter(str(path), self._schema, compression=self.compression, write_statistics=True)

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer the batch; write a row group whenever enough rows are buffered."""
        if not batch.num_rows:
            return
        if self.partitioning is not None:
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
        assert self.partitioning is not None
        for leaf, part in self.partitioning.split(batch):
            if leaf not in self._parts:
                folder = self.staging / self.partitioning.folder(leaf)
                folder.mkdir(parents=True, exist_ok=True)
                self._parts[leaf] = self._new_writer(folder / PART_FILE)
            self._parts[leaf].write_batch(part)

    def commit(self) -> str:
        """Close the file(s) and rename them onto the output path."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for writer in self._parts.values():
            writer.close()
        self._parts.clear()
        if self.partitioning is not None:
            publish_dataset(
                self.staging, self.path, self._coverage, self.partitioning,
                compression=self.compression, row_group_rows=self.row_group_rows,
            )  # fmt: skip
            self._opened = False
            return str(self.path)
        return self._publish()

    def _close_quietly(self) -> None:
        self._buffer, self._buffered = [], 0
        writers = [self._writer] if self._writer is not None else []
        writers += list(self._parts.values())
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.close()
        self._writer = None
        self._parts.clear()


def _plain_columns(batch: pa.RecordBatch) -> dict[str, Any]:
    """Columns made text-friendly: timestamps as RFC 3339 (``...Z``, with the column's fraction: ms, or ns for created_at), dates as ISO."""
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
    """CSV with a header; nested columns (``participants``, ``linked_records``) as JSON text, times as RFC 3339.

    ``formulas="escape"`` (the default) puts a ``'`` before every text cell that a spreadsheet would run
    as a formula (``=``, ``+``, ``-``, ``@``, tab, CR: :mod:`connector.csvsafe`); ``"keep"`` writes the
    text exactly as Attio has it, for programs that read the file.
    """

    format = "csv"

    def __init__(
        self, path: str | os.PathLike[str], *, formulas: Literal["escape", "keep"] = "escape", overwrite: bool = False
    ) -> None:
        super().__init__(path, overwrite=overwrite)
        if formulas not in CSV_FORMULAS:
            raise InvalidArgumentError("csv_formulas", f"must be one of {', '.join(CSV_FORMULAS)}, got {formulas!r}")
        self.formulas = formulas
        self._writer: pacsv.CSVWriter | None = None
        self._file: Any = None

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._file = open(self.staging, "wb")  # the file _prepare just made
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        self._writer = pacsv.CSVWriter(self._file, self._text_table(empty).schema)

    def _text_table(self, batch: pa.RecordBatch) -> pa.Table:
        cols = _plain_columns(batch)
        for field in batch.schema:  # nested columns (a meeting's participants, linked_records) as JSON text
            if pa.types.is_list(field.type) or pa.types.is_struct(field.type):
                values = batch.column(field.name).to_pylist()
                cols[field.name] = pa.array([orjson.dumps(v).decode() for v in values], pa.string())
        if self.formulas == "escape":
            cols = {name: neutralise_array(column) for name, column in cols.items()}
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

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        super().__init__(path, overwrite=overwrite)
        self._file: Any = None

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start writing to the staging path."""
        self._prepare()
        self._file = open(self.staging, "wb")  # the file _prepare just made

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
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    partition_by: str | Partitioning | None = None,
    csv_formulas: Literal["escape", "keep"] | None = None,
    overwrite: bool = False,
) -> FileSink:
    """The file sink for ``format``, or for the path's suffix (.parquet, .csv, .jsonl/.ndjson).

    ``csv_formulas`` applies to CSV only (see :class:`CsvSink`; default ``"escape"``): given for another
    format it is refused, not ignored. ``overwrite``: replace an existing file even when it is not an
    extract's output (see :func:`is_extract_output`); a partitioned dataset has its own rule (:mod:`.dataset`).
    """
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        format = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(suffix, suffix) or "parquet"
        if format not in FORMATS:
            raise InvalidArgumentError(
                "output", f"{os.fspath(path)!r} has the suffix .{suffix}; use .parquet, .csv or .jsonl, or pass --format"
            )
    if csv_formulas is not None and format != "csv":
        raise InvalidArgumentError(
            "csv_formulas", f"--csv-formulas is for CSV output only, and {os.fspath(path)!r} is written as {format}"
        )
    if overwrite and partition_by is not None:
        raise InvalidArgumentError(
            "overwrite", "--overwrite is for a single output file; a --partition-by dataset replaces only the "
            "partition files an extract wrote (move any other file in their place away)"
        )
    if format == "parquet":
        return ParquetSink(path, partition_by=partition_by, overwrite=overwrite)
    if partition_by is not None:
        raise InvalidArgumentError("partition_by", "only the parquet format can be partitioned")
    if format == "csv":
        return CsvSink(path, formulas=csv_formulas or "escape", overwrite=overwrite)
    if format == "jsonl":
        return JsonlSink(path, overwrite=overwrite)
    raise InvalidArgumentError("format", f"must be one of {', '.join(FORMATS)}, got {format!r}")
