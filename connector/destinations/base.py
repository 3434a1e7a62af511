"""What the database sinks share: write modes, the table's columns and their check, the window rule, atomicity.

One run is one transaction, opened by ``open()`` and committed by ``commit()``:

    open     connect; BEGIN; refuse an incompatible table (columns named); create it if missing, its comment
             recording the schema version; replace: DELETE every row; replace-window: DELETE the rows that
             start in the window
    write    convert the batch (one thread), then, on another: merge: DELETE the rows whose key (meeting_id;
             a child table's: call_recording_id) is in the batch; then the batch, in bulk (Arrow-native)
    commit   what the dialect does last (PostgreSQL: index a table it created); COMMIT
    abort    ROLLBACK

Several tables of one extract share one transaction (:meth:`DatabaseSink.share_transaction`): the first
sink's connection, threads and COMMIT, so every table changes at once or none does.

A run killed at any point (SIGKILL included) leaves its transaction uncommitted, and the database drops it:
the table is as it was before the run, or, once COMMIT returned, as after it. Readers see the old rows
until then (DELETE, not TRUNCATE: no lock that blocks them).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..deferred import deferred
from ..errors import ConfigError, DestinationError, InvalidArgumentError
from ..schema import SCHEMA_VERSION
from .urls import DatabaseURL, TableName

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = [
    "COMMENT_PREFIX",
    "WRITE_MODES",
    "DatabaseSink",
    "StartWindow",
    "check_write_mode",
    "scalar_kind",
    "table_comment",
]

WRITE_MODES = ("replace", "append", "merge", "replace-window")
COMMENT_PREFIX = "attio-connector meeting schema "  # + the version: the table's comment records what wrote it


def check_write_mode(mode: str) -> str:
    """``mode`` if it is a write mode, else InvalidArgumentError naming them."""
    if mode not in WRITE_MODES:
        raise InvalidArgumentError("write_mode", f"must be one of {', '.join(WRITE_MODES)}, got {mode!r}")
    return mode


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class StartWindow:
    """The rows ``replace-window`` replaces: those that start in [starts_from, starts_before).

    The rule of ``--window start``: a timed meeting by its UTC start, an all-day meeting by 00:00 of its
    start date in ``timezone``; an open side is unbounded.
    """

    starts_from: datetime | None
    starts_before: datetime | None
    timezone: str = "UTC"

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> StartWindow:
        """The window of the extract that wrote ``metadata`` (its filters), refused unless it is ``--window start``."""
        if metadata.get("connector.window") != "start":
            raise ConfigError(
                "--write-mode replace-window needs --window start: with 'overlap' the extract holds meetings that "
                "started before the window, which replace-window would not delete; nothing was changed"
            )
        filters = json.loads(metadata.get("connector.filters") or "{}")
        window = cls(
            _instant(filters.get("ends_from")),
            _instant(filters.get("starts_before")),
            filters.get("timezone", "UTC"),
        )
        if window.starts_from is None and window.starts_before is None:
            raise ConfigError(
                "--write-mode replace-window needs a window: give --ends-from and/or --starts-before; nothing was changed"
            )
        return window

    def _first_day(self, bound: datetime) -> date:
        """The first date whose 00:00 in the timezone is at or after ``bound``."""
        zone = ZoneInfo(self.timezone)
        day = bound.astimezone(zone).date()
        return day if datetime.combine(day, time(0), zone) >= bound else day + timedelta(days=1)

    def predicate(self) -> str:
        """SQL (PostgreSQL and DuckDB) true for a row that starts in the window; literals are typed values."""

        def instant(value: datetime) -> str:
            return f"CAST('{value.astimezone(ZoneInfo('UTC')).isoformat()}' AS TIMESTAMP WITH TIME ZONE)"

        timed = ["NOT is_all_day"]
        dated = ["is_all_day"]
        if self.starts_from is not None:
            timed.append(f"start_datetime >= {instant(self.starts_from)}")
            dated.append(f"start_date >= DATE '{self._first_day(self.starts_from).isoformat()}'")
        if self.starts_before is not None:
            timed.append(f"start_datetime < {instant(self.starts_before)}")
            dated.append(f"start_date < DATE '{self._first_day(self.starts_before).isoformat()}'")
        return f"(({' AND '.join(timed)}) OR ({' AND '.join(dated)}))"


@dataclass(frozen=True)
class Column:
    """A column of the table: its name and type as the database reports it (``information_schema``)."""

    name: str
    type: str


def _same(type_text: str) -> str:
    """A type as compared: without the quotes a database puts around some field names (DuckDB: "name")."""
    return type_text.replace('"', "").upper()


def table_comment(schema: pa.Schema) -> str:
    """What a new table's comment records: the schema file and version that wrote it (``attio-connector meeting schema 2.0.0``)."""
    meta = schema.metadata or {}
    name = meta.get(b"connector.schema", b"meeting").decode()
    version = meta.get(b"connector.schema_version", SCHEMA_VERSION.encode()).decode()
    return f"attio-connector {name} schema {version}"


def incompatibility(
    table: str, found: Sequence[Column], wanted: Sequence[Column], comment: str | None, writes: str = ""
) -> str | None:
    """Why the existing table cannot take the rows (the columns named), or None when it can."""
    have = {c.name: c.type for c in found}
    want = {c.name: c.type for c in wanted}
    problems = [f"{n} is missing" for n in want if n not in have]
    problems += [
        f"{n} is {have[n]}, expected {want[n]}"
        for n in want
        if n in have and _same(have[n]) != _same(want[n])
    ]
    writes = writes or COMMENT_PREFIX + SCHEMA_VERSION
    kind = writes.removeprefix("attio-connector ").split(" schema ")[0]
    problems += [f"{n} is not a {kind} column" for n in have if n not in want]
    if not problems:
        return None
    recorded = (
        comment.removeprefix("attio-connector ")
        if comment and comment.startswith("attio-connector ")
        else None
    )
    version = (
        f" (written by {recorded}; this connector writes {writes.removeprefix('attio-connector ')})"
        if recorded
        else ""
    )
    return f"table {table} has an incompatible schema{version}: {'; '.join(problems)}"


def scalar_kind(kind: pa.DataType) -> str | None:
    """The name a dialect's type table knows an Arrow scalar type by; None for lists and structs.

    Names: string, boolean, date, timestamptz, timestamp, int64, int32, float64 (else ConfigError).
    """
    checks = (
        ("string", pa.types.is_string(kind) or pa.types.is_large_string(kind)),
        ("boolean", pa.types.is_boolean(kind)),
        ("date", pa.types.is_date(kind)),
        ("timestamptz", pa.types.is_timestamp(kind) and kind.tz is not None),
        ("timestamp", pa.types.is_timestamp(kind)),
        ("int64", pa.types.is_int64(kind)),
        ("int32", pa.types.is_int32(kind)),
        ("float64", pa.types.is_float64(kind)),
    )
    for name, matches in checks:
        if matches:
            return name
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return None
    raise ConfigError(f"no database type for the Arrow type {kind}")


def stored_type(kind: pa.DataType) -> pa.DataType:
    """The Arrow type a database receives: timestamps in microseconds (its timestamptz), the rest as they are."""
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", tz=kind.tz)
    if pa.types.is_list(kind):
        return pa.list_(
            pa.field(kind.value_field.name, stored_type(kind.value_type), kind.value_field.nullable)
        )
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, stored_type(f.type), f.nullable) for f in kind])
    return kind


def stored_batch(batch: pa.RecordBatch) -> pa.Table:
    """``batch`` with :func:`stored_type` columns (nanoseconds cut to microseconds, as documented)."""
    schema = pa.schema([pa.field(f.name, stored_type(f.type), f.nullable) for f in batch.schema])
    return pa.Table.from_batches([batch]).cast(schema, safe=False)


class _Writer:
    """One thread that applies items in order; at most one waits. Its first error is raised to the caller."""

    def __init__(self, apply: Callable[[Any], None]) -> None:
        self._apply = apply
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="connector-db-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._apply(item)
                except BaseException as exc:  # handed to the extract's thread, which aborts the run
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: Any) -> None:
        self._raise()
        self._queue.put(item)

    def finish(self) -> None:
        """Wait for every batch to be applied; raise the first error."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def stop(self) -> None:
        """Let the batch being applied finish, drop the rest, and end the thread."""
        self._error = self._error or _Stopped()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join()


class _Stopped(Exception):
    """The run was aborted: batches still queued are not applied."""


class DatabaseSink:
    """Base of the database sinks: a :class:`~connector.extract.sinks.Sink` that writes one table in one transaction.

    Subclasses give the dialect: connecting, the column types, bulk ingestion, error translation.
    """

    format = ""

    def __init__(
        self,
        url: DatabaseURL,
        table: str | TableName = "meetings",
        write_mode: str = "replace",
        *,
        key: str = "meeting_id",
    ) -> None:
        self.url = url
        self.table = table if isinstance(table, TableName) else TableName.parse(table)
        self.write_mode = check_write_mode(write_mode)
        self.key = key  # the column merge replaces rows by
        self._conn: Any = None
        self._writers: list[_Writer] = []  # converting, then applying: each on its own thread
        self._leader: DatabaseSink | None = None
        self._followers: list[DatabaseSink] = []

    def share_transaction(self, leader: DatabaseSink) -> None:
        """Write in ``leader``'s transaction (same database): opened after it, committed by it.

        This sink's ``open`` uses the leader's connection, its batches go through the leader's threads
        (so the connection is used by one thread at a time), and its ``commit`` leaves the last statements
        and the COMMIT to the leader's (call that last); a rollback of the leader undoes this table's too.
        """
        if type(leader) is not type(self) or leader.url.url != self.url.url:
            raise ConfigError("tables share a transaction only in one database")
        self._leader = leader
        leader._followers.append(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.redacted!r}, table={str(self.table)!r}, write_mode={self.write_mode!r})"

    @property
    def target(self) -> str:
        """Where the rows go, printable (no password)."""
        return f"{self.url.redacted} table {self.table}"

    # ------------------------------------------------------------------ dialect
    def _connect(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:
        if self._leader is not None:  # the connection is the leader's to close
            self._conn = None
            return
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # the connection may already be gone; nothing to release then
                pass
            self._conn = None

    def _execute(self, sql: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _existing(self) -> tuple[list[Column], str | None] | None:  # pragma: no cover - abstract
        """The table's columns and comment, or None when there is no such table."""
        raise NotImplementedError

    def _column_type(self, field: pa.Field) -> str:  # pragma: no cover - abstract
        """The SQL type of a column, spelled as ``information_schema.columns`` reports it."""
        raise NotImplementedError

    def _convert(self, batch: pa.RecordBatch) -> pa.Table:
        """The batch as the database receives it (runs on its own thread, beside the ingestion of the one before)."""
        return stored_batch(batch)

    def _ingest(self, table: pa.Table) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _delete_ids(self, table: pa.Table) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _before_commit(self) -> None:
        """The last statements of the transaction, once every batch is in (none by default)."""

    def _adopt(self, leader: DatabaseSink) -> None:
        """Take what the leader's connection set up (a shared transaction); the default takes nothing."""

    def _check_privileges(self, exists: bool) -> None:
        """Refuse early (DestinationError) when the user may not write the table; the default checks nothing."""

    def _translate(self, exc: BaseException) -> BaseException:
        """A driver's error as a DestinationError (no password in it); other errors as they are."""
        return exc

    def _begin(self) -> None:
        self._execute("BEGIN")

    def _commit(self) -> None:
        self._execute("COMMIT")

    def _rollback(self) -> None:
        self._execute("ROLLBACK")

    # ------------------------------------------------------------------ shared
    def _wanted(self, schema: pa.Schema) -> list[Column]:
        return [Column(f.name, self._column_type(f)) for f in schema]

    def _check_table(self, schema: pa.Schema) -> bool:
        """True when the table exists (and fits ``schema``); DestinationError naming the columns when it does not fit."""
        existing = self._existing()
        if existing is None:
            return False
        columns, comment = existing
        problem = incompatibility(
            str(self.table), columns, self._wanted(schema), comment, table_comment(schema)
        )
        if problem is not None:
            error = DestinationError(f"{self.target}: {problem}; nothing was changed")
            error.hint = "write to another --table, or drop or rename the table yourself (the connector never alters a table)"
            raise error
        return True

    def _guarded(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (DestinationError, ConfigError):
            raise
        except Exception as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from None

    def check_destination(self, schema: pa.Schema | None = None) -> None:
        """Before anything is fetched: connect, and refuse an incompatible table or missing privileges.

        Raises DestinationUnreachableError / DestinationError; changes nothing.
        """
        from ..schema import meeting_arrow_schema

        schema = schema or meeting_arrow_schema()
        try:
            self._conn = self._guarded(self._connect)
            exists = self._guarded(self._check_table, schema)
            self._guarded(self._check_privileges, exists)
        finally:
            self._close()

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Connect and begin the run's transaction: check or create the table, delete what the mode replaces."""
        window = StartWindow.from_metadata(metadata) if self.write_mode == "replace-window" else None
        if self._leader is not None:
            if self._leader._conn is None:
                raise RuntimeError("open the leader of a shared transaction first")
            self._conn = self._leader._conn
            self._adopt(self._leader)
            self._guarded(self._prepare, schema, window)  # a failure aborts the run: the leader rolls back
            return
        self._conn = self._guarded(self._connect)
        try:
            self._guarded(self._begin)
            self._guarded(self._prepare, schema, window)
        except BaseException:
            self.abort()
            raise
        # Items are (sink, batch): the tables sharing this transaction go through these two threads too.
        applier = _Writer(lambda item: item[0]._apply(item[1]))
        self._writers = [
            _Writer(lambda item: applier.put((item[0], item[0]._guarded(item[0]._convert, item[1])))),
            applier,
        ]

    def _prepare(self, schema: pa.Schema, window: StartWindow | None) -> None:
        exists = self._check_table(schema)
        self._check_privileges(exists)
        if not exists:
            if self.table.schema:
                self._execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema_sql()}")
            columns = ", ".join(f'"{c.name}" {c.type}' for c in self._wanted(schema))
            self._execute(f"CREATE TABLE {self._table_sql()} ({columns})")
            self._execute(f"COMMENT ON TABLE {self._table_sql()} IS '{table_comment(schema)}'")
            self._after_create()
        elif self.write_mode == "replace":
            self._execute(f"DELETE FROM {self._table_sql()}")
        elif window is not None:
            self._execute(f"DELETE FROM {self._table_sql()} WHERE {window.predicate()}")

    def _table_sql(self) -> str:
        """The table's name in SQL, quoted (and qualified where the database needs it)."""
        return self.table.sql()

    def _schema_sql(self) -> str:
        return f'"{self.table.schema}"'

    def _after_create(self) -> None:
        """Indexes a new table gets (none by default)."""

    def write(self, batch: pa.RecordBatch) -> None:
        """Hand the batch to the sink's threads, which convert it and add its rows to the transaction (merge:
        replacing rows with the same key) while the extract fetches the next pages; a batch is converted
        while the one before is ingested, and this waits while one more is pending. A table sharing a
        transaction uses the leader's threads."""
        if not batch.num_rows:
            return
        owner = self._leader or self
        assert owner._writers, "open() first"
        owner._writers[0].put((self, batch))

    def _apply(self, table: pa.Table) -> None:
        if self.write_mode == "merge":
            self._guarded(self._delete_ids, table)
        self._guarded(self._ingest, table)

    def commit(self) -> str:
        """Write what is pending, then commit: the table changes now, all at once (sharing a transaction: at the
        leader's commit, every table's last statements first)."""
        if self._leader is not None:  # the leader's threads apply this table's batches, then it commits
            return self.target
        try:
            for writer in self._writers:  # in order: the converter hands its last batch on before it ends
                writer.finish()
            self._writers = []
            for sink in (*self._followers, self):
                sink._guarded(sink._before_commit)
            self._guarded(self._commit)
        except BaseException:
            self.abort()
            raise
        self._close()
        return self.target

    def abort(self) -> None:
        """Roll the transaction back (the table is as before the run) and disconnect."""
        if self._leader is not None:  # the leader's threads stop and it rolls back
            return
        for writer in self._writers:  # the converter first: it may wait on the applier's queue
            writer.stop()
        self._writers = []
        if self._conn is not None:
            try:
                self._rollback()
            except Exception:  # a lost connection has rolled back already
                pass
        self._close()
