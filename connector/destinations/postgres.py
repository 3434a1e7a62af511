"""PostgreSQL: meetings into a table by binary COPY from Arrow (ADBC's ``adbc-driver-postgresql``, libpq).

Why ADBC: it streams an Arrow batch as PostgreSQL's binary COPY in C. Measured on 200k meetings into one
table (``bench/destinations.py``'s notes): ADBC about 1.8x the rows/s of psycopg's COPY fed by pyarrow's CSV
writer, and a row-at-a-time binary COPY from Python (psycopg ``write_row``) is slower still.

Types: instants ``timestamp with time zone`` (microseconds: Attio's nanoseconds are cut), dates ``date``,
``participants`` and ``linked_records`` as ``jsonb`` arrays of objects (query them with
``jsonb_array_elements``). The JSON text is built column at a time (:mod:`.jsontext`) and sent in jsonb's
binary COPY form (a version byte, 1, then the text), so the server parses it once, straight into the table.

Credentials: libpq's own conventions (``PGPASSWORD``, ``~/.pgpass``, ``PGSERVICE``...); a password in the
URL is accepted and never printed (errors, reports and reprs show the URL with ``***``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..deferred import deferred
from ..errors import ConfigError, DestinationError, DestinationUnreachableError
from .base import Column, DatabaseSink, scalar_kind, stored_batch
from .jsontext import json_text
from .urls import DatabaseURL, TableName, parse_database_url, url_password

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = ["PostgresSink"]

_IDS = "_connector_merge_ids"
APPLICATION_NAME = "attio-connector"
CONNECT_TIMEOUT_S = "10"
_JSONB_VERSION = "\x01"  # jsonb's binary input: a version byte, then the JSON text
_LOST = ("08", "57P")  # connection exceptions, operator intervention (server shut down)
_LOST_SIGNS = (
    "could not connect",
    "connection to server",
    "failed to connect",
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "connection refused",
)
_QUERY = re.compile(r"Failed to execute query '.*?': ", re.S)


def _adbc() -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError:
        raise ConfigError(
            "a postgresql:// output needs the postgres extra: pip install 'connector[postgres]'"
        ) from None
    return dbapi


_SCALARS = {
    "string": "text",
    "boolean": "boolean",
    "date": "date",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "int64": "bigint",
    "int32": "integer",
    "float64": "double precision",
}


def postgres_type(kind: pa.DataType) -> str:
    """PostgreSQL's type for an Arrow type, as ``information_schema.columns.data_type`` shows it (nested: jsonb)."""
    scalar = scalar_kind(kind)
    return "jsonb" if scalar is None else _SCALARS[scalar]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _driver_url(url: str) -> str:
    """The URL for libpq, with an application name (to find the session) and a connect timeout unless given."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    given = {k for k, _ in params}
    params += [
        (k, v)
        for k, v in (("application_name", APPLICATION_NAME), ("connect_timeout", CONNECT_TIMEOUT_S))
        if k not in given
    ]
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(params), parts.fragment))


class PostgresSink(DatabaseSink):
    """Write the extract into ``table`` (``schema.table``) of the PostgreSQL database of ``url``, with a write mode."""

    format = "postgresql"

    def __init__(
        self,
        url: str | DatabaseURL,
        table: str | TableName = "meetings",
        write_mode: str = "replace",
        *,
        key: str = "meeting_id",
    ) -> None:
        parsed = parse_database_url(url) if isinstance(url, str) else url
        if parsed is None or parsed.kind != "postgresql":
            raise ConfigError("not a postgresql:// URL")
        super().__init__(parsed, table, write_mode, key=key)
        self._dbapi = _adbc()
        self._ids_table = False
        self._index_at_commit = False  # a table this run created gets its index just before COMMIT

    def _connect(self) -> Any:
        self._ids_table = False
        self._index_at_commit = False
        return self._dbapi.connect(_driver_url(self.url.url))

    def _execute(self, sql: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(sql)

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql)
            rows: list[tuple[Any, ...]] = cur.fetchall()
            return rows

    def _begin(self) -> None:
        """ADBC's DB-API connection is in a transaction from the first statement (autocommit is off)."""

    def _commit(self) -> None:
        self._conn.commit()

    def _rollback(self) -> None:
        self._conn.rollback()

    def _regclass(self) -> str:
        return _literal(self._table_sql())

    def _existing(self) -> tuple[list[Column], str | None] | None:
        schema = _literal(self.table.schema) if self.table.schema else "current_schema()"
        found = self._rows(
            f"SELECT obj_description(to_regclass({self._regclass()}), 'pg_class'), to_regclass({self._regclass()}) IS NOT NULL"
        )
        if not found or not found[0][1]:
            return None
        columns = self._rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = {schema} AND table_name = {_literal(self.table.table)} ORDER BY ordinal_position"
        )
        return [Column(n, t) for n, t in columns], found[0][0]

    def _column_type(self, field: pa.Field) -> str:
        return postgres_type(field.type)

    def _check_privileges(self, exists: bool) -> None:
        if exists:
            needed = ["INSERT"] + ([] if self.write_mode == "append" else ["DELETE"])
            missing = [
                p
                for p in needed
                if not self._rows(f"SELECT has_table_privilege({self._regclass()}, '{p}')")[0][0]
            ]
            what = f"{' and '.join(missing)} on table {self.table}"
        elif (
            self.table.schema
            and self._rows(f"SELECT to_regnamespace({_literal(self.table.schema)}) IS NOT NULL")[0][0]
        ):
            missing = (
                []
                if self._rows(f"SELECT has_schema_privilege({_literal(self.table.schema)}, 'CREATE')")[0][0]
                else ["x"]
            )
            what = f"CREATE on schema {self.table.schema} (to create table {self.table.table})"
        elif self.table.schema:
            missing = (
                []
                if self._rows("SELECT has_database_privilege(current_database(), 'CREATE')")[0][0]
                else ["x"]
            )
            what = f"CREATE on the database (to create schema {self.table.schema})"
        else:
            missing = (
                [] if self._rows("SELECT has_schema_privilege(current_schema(), 'CREATE')")[0][0] else ["x"]
            )
            what = f"CREATE on the schema the table would go in (to create table {self.table.table})"
        if missing:
            user = self._rows("SELECT current_user")[0][0]
            error = DestinationError(
                f"{self.target}: user {user} has no permission: it needs {what}; nothing was changed"
            )
            error.hint = "grant the privilege named, or write to a table the user may write"
            raise error

    def _after_create(self) -> None:
        if self.write_mode == "merge":
            self._index()  # merge looks up every batch's IDs as it goes
        else:
            self._index_at_commit = True  # one sorted build at the end: ~3x less server time than row by row

    def _index(self) -> None:
        self._execute(f'CREATE INDEX ON {self._table_sql()} ("{self.key}")')  # merge and lookups by ID

    def _before_commit(self) -> None:
        if self._index_at_commit:
            self._index()

    def _convert(self, batch: pa.RecordBatch) -> pa.Table:
        table = stored_batch(batch)
        for i, field in enumerate(table.schema):
            if postgres_type(field.type) == "jsonb":
                table = table.set_column(i, field.name, json_text(table.column(i), _JSONB_VERSION))
        return table

    def _ingest(self, table: pa.Table) -> None:
        with self._conn.cursor() as cur:
            cur.adbc_ingest(self.table.table, table, mode="append", db_schema_name=self.table.schema)

    def _delete_ids(self, table: pa.Table) -> None:
        ids = pa.table({"id": table.column(self.key)})
        temp = f"{_IDS}_{re.sub(r'[^a-z0-9_]', '_', self.table.table.lower())}"  # one per table of a shared transaction
        with self._conn.cursor() as cur:
            if not self._ids_table:
                cur.execute(f"CREATE TEMPORARY TABLE {temp} (id text) ON COMMIT DROP")
                self._ids_table = True
            else:
                cur.execute(f"TRUNCATE {temp}")
            cur.adbc_ingest(temp, ids, mode="append", temporary=True)
            cur.execute(f'DELETE FROM {self._table_sql()} t USING {temp} i WHERE t."{self.key}" = i.id')

    def _translate(self, exc: BaseException) -> BaseException:
        if not isinstance(exc, self._dbapi.Error):
            return exc
        state = getattr(exc, "sqlstate", None) or ""
        text = str(exc)
        password = url_password(self.url.url)
        if password:
            text = text.replace(password, "***")
        first = text.splitlines()[0] if text else type(exc).__name__
        for prefix in ("[libpq] ", "IO: ", "INVALID_STATE: ", "INTERNAL: "):
            first = first.replace(prefix, "")
        first = _QUERY.sub(
            "", first
        )  # the statement is ours, not the user's: the server's reason is what tells
        low = text.lower()
        if state.startswith("28") or "password authentication failed" in low or "no password supplied" in low:
            error = DestinationError(
                f"{self.target}: the server refused the login: {first}; nothing was changed"
            )
            error.hint = "check the user and the password (PGPASSWORD, ~/.pgpass, or the URL)"
            return error
        if state == "3D000" or ("database" in low and "does not exist" in low):
            return DestinationError(f"{self.target}: {first}; nothing was changed")
        if state == "42501":
            return DestinationError(f"{self.target}: no permission: {first}; nothing was changed")
        if state.startswith(_LOST) or any(sign in low for sign in _LOST_SIGNS):
            return DestinationUnreachableError(f"{self.target}: {first}")
        return DestinationError(f"{self.target}: {first}; nothing was changed")
