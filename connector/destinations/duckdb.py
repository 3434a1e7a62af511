"""DuckDB: meetings into a table of a DuckDB file, by DuckDB's own Arrow scan (no row-by-row INSERT).

Types: instants ``TIMESTAMP WITH TIME ZONE`` (DuckDB keeps microseconds with a time zone, so Attio's
nanoseconds are cut to microseconds), dates ``DATE``, ``participants`` and ``linked_records`` DuckDB's native
``STRUCT(...)[]`` (LIST of STRUCT). The run is one transaction on the file (see :mod:`.base`); DuckDB lets
one process at a time open a file for writing, so the file is busy for other processes while the extract runs.

Memory: the run's connection sets DuckDB's ``memory_limit`` to :data:`MEMORY_LIMIT`, so the rows of the
open transaction (~1.1 KB a meeting in DuckDB's memory) spill to DuckDB's temporary file instead of growing
the process: measured with ``bench/destinations.py``, 100k meetings, peak RSS of the extract ~575 MB before
(DuckDB's default limit is 80 % of the machine's memory; a batch registered as a view also stayed alive
until COMMIT), ~310 MB at 64MB and ~283 MB at 32MB, about the Parquet extract's. The price is spilling:
~2x the sink's CPU while writing (on its own threads, beside the fetch) and a slower COMMIT. DuckDB's
settings belong to the database instance, so another connection to the same file in the same process
shares the limit while the run lasts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..deferred import deferred
from ..errors import ConfigError, DestinationError
from .base import Column, DatabaseSink, scalar_kind
from .urls import DatabaseURL, TableName, parse_database_url

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = ["DuckDBSink"]

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
# DuckDB's buffer pool for the run (measured in the module docstring); 400k meetings, replace and merge, run in it.
MEMORY_LIMIT = "32MB"


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ConfigError(
            "a duckdb:// output needs the duckdb extra: pip install 'connector[duckdb]'"
        ) from None
    return duckdb


_SCALARS = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "timestamp": "TIMESTAMP",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "float64": "DOUBLE",
}


def duckdb_type(kind: pa.DataType) -> str:
    """DuckDB's type for an Arrow type, spelled as ``information_schema.columns`` shows it."""
    scalar = scalar_kind(kind)
    if scalar is not None:
        return _SCALARS[scalar]
    if pa.types.is_struct(kind):
        fields = ", ".join(
            f"{f.name if _PLAIN.match(f.name) else chr(34) + f.name + chr(34)} {duckdb_type(f.type)}"
            for f in kind
        )
        return f"STRUCT({fields})"
    return duckdb_type(kind.value_type) + "[]"


def _is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts with DuckDB's file header (the magic ``DUCK`` at byte 8)."""
    # Some DuckDB builds open a CSV or other file without error and write nowhere, so the header is checked first.
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == b"DUCK"


class DuckDBSink(DatabaseSink):
    """Write the extract into ``table`` of the DuckDB file of ``url`` (``duckdb:///path.duckdb``), with a write mode."""

    format = "duckdb"

    def __init__(
        self,
        url: str | DatabaseURL,
        table: str | TableName = "meetings",
        write_mode: str = "replace",
        *,
        key: str = "meeting_id",
    ) -> None:
        parsed = parse_database_url(url) if isinstance(url, str) else url
        if parsed is None or parsed.kind != "duckdb":
            raise ConfigError(f"{url!r} is not a duckdb:// URL")
        super().__init__(parsed, table, write_mode, key=key)
        assert parsed.path is not None
        self.path = Path(parsed.path)
        self._catalog = ""  # the file's catalog name, known once connected
        self._order: list[str] | None = None  # an existing table's columns, in its order
        self._duckdb = _duckdb()

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._duckdb.connect(str(self.path))
        conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self._catalog = conn.execute("SELECT current_database()").fetchone()[0].replace('"', '""')
        return conn

    def _adopt(self, leader: DatabaseSink) -> None:
        assert isinstance(leader, DuckDBSink)
        self._catalog = leader._catalog  # the file's catalog name, known to the leader's connection

    def check_destination(self, schema: pa.Schema | None = None) -> None:
        """Refuse an incompatible table or a file in use; a file that does not exist yet is not created here."""
        if self.path.is_dir():
            raise DestinationError(
                f"{self.target}: {self.path} is a folder, not a DuckDB file; nothing was changed"
            )
        if self.path.exists():
            if self.path.stat().st_size and not _is_duckdb_file(self.path):
                raise DestinationError(
                    f"{self.target}: {self.path} is not a DuckDB database (another kind of file); nothing was changed"
                )
            super().check_destination(schema)

    def _table_sql(self) -> str:
        # Qualified by the catalog: a file named attio.duckdb is catalog "attio", which a schema "attio" would clash with.
        return f'{self._schema_sql()}."{self.table.table}"'

    def _schema_sql(self) -> str:
        return f'"{self._catalog}"."{self.table.schema or "main"}"'

    def _execute(self, sql: str) -> None:
        self._conn.execute(sql)

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._conn.execute(sql, params or []).fetchall()
        return rows

    def _existing(self) -> tuple[list[Column], str | None] | None:
        schema = self.table.schema or "main"
        found = self._rows(
            "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? "
            "AND table_name = ?",
            [schema, self.table.table],
        )
        if not found:
            self._order = None
            return None
        columns = self._rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, self.table.table],
        )
        self._order = [n for n, _ in columns]
        return [Column(n, t) for n, t in columns], found[0][0]

    def _column_type(self, field: pa.Field) -> str:
        return duckdb_type(field.type)

    def _begin(self) -> None:
        self._conn.begin()

    def _commit(self) -> None:
        self._conn.commit()

    def _rollback(self) -> None:
        self._conn.rollback()

    def _ingest(self, table: pa.Table) -> None:
        if self._order is not None and self._order != table.column_names:
            table = table.select(self._order)  # an existing table's own column order
        self._conn.from_arrow(table).insert_into(self._table_sql())

    def _delete_ids(self, table: pa.Table) -> None:
        ids = self._conn.from_arrow(pa.table({"id": table.column(self.key)}))
        ids.query(
            "connector_ids",
            f'DELETE FROM {self._table_sql()} WHERE "{self.key}" IN (SELECT id FROM connector_ids)',
        )

    def _translate(self, exc: BaseException) -> BaseException:
        duckdb = self._duckdb
        if isinstance(exc, duckdb.IOException):
            text = str(exc)
            if "lock" in text.lower():
                reason = (
                    "the file is in use by another process (DuckDB lets one process write a file at a time)"
                )
            elif isinstance(exc.__cause__, PermissionError) or "permission" in text.lower():
                reason = "no permission to write the file"
            else:
                reason = text.splitlines()[0]
            return DestinationError(f"{self.target}: {reason}; nothing was changed")
        if isinstance(exc, PermissionError):
            return DestinationError(
                f"{self.target}: no permission to write {os.fspath(self.path)}; nothing was changed"
            )
        if isinstance(exc, duckdb.Error):
            return DestinationError(f"{self.target}: {str(exc).splitlines()[0]}; nothing was changed")
        return exc
