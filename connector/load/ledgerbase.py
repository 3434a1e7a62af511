"""What the two ledgers share (meetings: :mod:`.ledger`, recordings: :mod:`.recordings.ledger`).

One SQLite file per ledger, in WAL mode, held exclusively while open (an exclusive lock on
``<ledger>.lock``, beside the file the path leads to); its tables made on first use, refused when the
file is another program's database. A key's outcome is recorded in the ledger's own table; once the
key is done, or failed with no send that may have been carried out, its ``sent`` rows go (there is
nothing of it to look for later). Every sqlite3 error of a ledger method becomes a :class:`LedgerError`
naming the file.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError, LedgerError
from ..locks import FileLock

__all__ = ["SqliteLedger", "guarded", "ledger_lock"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _columns(db: sqlite3.Connection, table: str) -> frozenset[str]:
    return frozenset(row[1] for row in db.execute(f"PRAGMA table_info({table})"))


def ledger_lock(path: str | Path) -> FileLock:
    """The lock a run holds on the ledger at ``path``: ``<ledger>.lock`` beside the file a symlink leads to."""
    target = Path(os.path.realpath(path))
    return FileLock(target.with_name(target.name + ".lock"), remove=True)


def guarded(func: _F) -> _F:
    """Turn sqlite3 errors into a :class:`LedgerError` naming the file (not a traceback)."""

    @functools.wraps(func)
    def wrapper(self: SqliteLedger, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


class SqliteLedger:
    """The SQLite file of a ledger; subclasses name their ``table`` (whose rows have ``key``, ``state``,
    ``maybe_sent``, ``attempts``, ``error``, ``updated_at``), the ``schema`` that makes it, its ``done``
    states and the ``command`` that owns it (for messages)."""

    table: ClassVar[str]
    schema: ClassVar[str]
    done: ClassVar[tuple[str, ...]]
    command: ClassVar[str]

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._file_lock = ledger_lock(self.path)
        self._take_lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self.check_file(self._db, self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(self.schema)
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"ledger {self.path} cannot be used: {exc}") from None
        except ConfigError:
            self.close()
            raise

    @classmethod
    def check_file(cls, db: sqlite3.Connection, path: Path) -> bool:
        """Whether the file ``db`` reads holds a ledger (False: no tables yet); a ConfigError when it is another
        program's database or another version's ledger (sqlite3.Error when it is no database at all)."""
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        # Someone's database: adding our tables to it would change it.
        if tables and cls.table not in tables:
            raise ConfigError(
                f"ledger {path} is an SQLite database of something else (tables: "
                f"{', '.join(sorted(tables)[:5])}); give {cls.command} a ledger of its own (--ledger NEW_FILE)"
            )
        if tables and _columns(db, cls.table) != cls._expected_columns():
            # An unreleased 0.x upgrades no ledgers: refused, unchanged.
            raise ConfigError(
                f"ledger {path} was written by another version of the connector; give {cls.command} "
                "a new ledger (--ledger NEW_FILE)"
            )
        return bool(tables)

    @classmethod
    def _expected_columns(cls) -> frozenset[str]:
        """The columns this version's schema gives the ledger's table."""
        db = sqlite3.connect(":memory:")
        try:
            db.executescript(cls.schema)
            return _columns(db, cls.table)
        finally:
            db.close()

    def _take_lock(self) -> None:
        try:
            taken = self._file_lock.acquire()
        except OSError as exc:
            raise ConfigError(
                f"ledger {self.path} cannot be used: cannot open {self._file_lock.path}: {exc.strerror}"
            ) from None
        if not taken:
            raise ConfigError(
                f"ledger {self.path} is in use by another {self.command}; wait for it to finish "
                f"(or give this {self.command} its own --ledger)"
            )

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise LedgerError(f"ledger {self.path} is closed")
        return self._db

    def _begin(self) -> None:
        # SQLite's own flag, not a copy: a failed COMMIT (disk full) may have rolled the transaction back.
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")

    @guarded
    def commit(self) -> None:
        """Make everything recorded so far durable (outside a transaction each statement already is)."""
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Commit, close and release the lock."""
        try:
            if self._db is not None:
                try:
                    self.commit()
                finally:
                    self._db.close()
                    self._db = None
        finally:
            self._file_lock.release()

    @guarded
    def start_run(self, run_id: str, source: str) -> None:
        """Note that a run began (for people reading the ledger)."""
        self._begin()
        self._conn.execute(
            "INSERT INTO runs (run_id, source, started_at) VALUES (?, ?, ?)", (run_id, source, time.time())
        )
        self.commit()

    @guarded
    def finish_run(self, run_id: str, summary: Mapping[str, Any] | str) -> None:
        """Store a run's summary (a mapping, or JSON text)."""
        text = summary if isinstance(summary, str) else json.dumps(summary, default=str)
        self._begin()
        self._conn.execute(
            "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?", (time.time(), text, run_id)
        )
        self.commit()

    @guarded
    def counts(self) -> dict[str, int]:
        """How many keys are in each state (for tests and people)."""
        return dict(self._conn.execute(f"SELECT state, COUNT(*) FROM {self.table} GROUP BY state").fetchall())

    def _record_outcome(
        self,
        key: str,
        state: str,
        *,
        attempts: int,
        maybe_sent: bool,
        error: str | None,
        columns: Mapping[str, Any],
    ) -> None:
        """Set ``key``'s outcome and ``columns``; a done key, or a failed one with no send that may have been
        carried out, forgets its sent bodies. (Callers are :func:`guarded`.)"""
        maybe_sent = maybe_sent and state not in self.done
        values = {"state": state, **columns, "attempts": attempts, "maybe_sent": int(maybe_sent), "error": error,
                  "updated_at": time.time()}  # fmt: skip
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._conn.execute(f"UPDATE {self.table} SET {assignments} WHERE key = ?", (*values.values(), key))
        if not maybe_sent:
            self._conn.execute("DELETE FROM sent WHERE key = ?", (key,))
