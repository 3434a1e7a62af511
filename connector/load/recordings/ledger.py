"""The recordings ledger: what happened to each transcript input, in SQLite, so that a re-run creates nothing twice.

One row per input label (``call.vtt``, ``segments.csv#rec-7``) in ``recordings``::

    state              in_flight        claimed; a create may be under way, the outcome is not known yet
                       created          this loader created the recording          -> done, skipped on re-runs
                       already_present  the meeting had a recording with this very transcript -> done
                       failed           refused, or failed after every retry; looked at again on a re-run
    maybe_sent         1 once a create was about to be sent and its answer is not known (committed before
                       the POST): the next look treats a matching recording made since the claim as this one's
    meeting_id, fingerprint   what the input named last (:func:`~connector.transcripts.transcript_fingerprint`)
    call_recording_id  the recording of a done input
    claimed_at         when the input was first claimed: tells *created* (after a lost answer) from *already_present*

and in ``sent`` each (meeting, fingerprint) a create was sent with while the input was not done: an input
edited between runs may have been created with its earlier transcript, so a look matches each of them.

Same discipline as the meetings ledger (:mod:`connector.load.ledger`): WAL, the intent committed before the
request, the outcome after the answer; one run at a time holds ``<ledger>.lock``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ...errors import ConfigError, LedgerError
from ...locks import FileLock

__all__ = ["RecordingClaim", "RecordingsLedger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    key               TEXT PRIMARY KEY,
    meeting_id        TEXT NOT NULL,
    fingerprint       TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('in_flight', 'created', 'already_present', 'failed')),
    maybe_sent        INTEGER NOT NULL DEFAULT 0,
    call_recording_id TEXT,
    run_id            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    claimed_at        REAL NOT NULL,
    updated_at        REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sent (
    key         TEXT NOT NULL,
    meeting_id  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (key, meeting_id, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    source      TEXT,
    started_at  REAL NOT NULL,
    finished_at REAL,
    summary     TEXT
);
"""

DONE = ("created", "already_present")
_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(func: _F) -> _F:
    def wrapper(self: RecordingsLedger, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from exc

    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class RecordingClaim:
    """What the ledger says about an input before anything is sent.

    ``done``: an earlier run finished it (``call_recording_id``, ``changed`` when it now names another meeting or
    transcript). Otherwise it is to be looked for and sent: ``maybe_sent`` when an earlier create may have been
    carried out, and ``fingerprints``, every transcript sent to this meeting for it (the current one included).
    """

    key: str
    done: bool
    state: str | None
    meeting_id: str
    call_recording_id: str | None
    claimed_at: float
    maybe_sent: bool
    fingerprints: frozenset[str]
    attempts: int = 0
    changed: bool = False


class RecordingsLedger:
    """The SQLite ledger of one recordings load; exclusive while open (a second run gets a ConfigError at once)."""

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        target = Path(os.path.realpath(self.path))
        self._lock = FileLock(target.with_name(target.name + ".lock"), remove=True)
        self._db: sqlite3.Connection | None = None
        try:
            taken = self._lock.acquire()
        except OSError as exc:
            raise ConfigError(
                f"ledger {self.path} cannot be used: cannot open {self._lock.path}: {exc.strerror}"
            ) from None
        if not taken:
            raise ConfigError(
                f"ledger {self.path} is in use by another load-recordings; wait for it to finish"
            )
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            tables = {
                row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if tables and "recordings" not in tables:  # someone else's database (a meetings ledger, say)
                raise ConfigError(
                    f"ledger {self.path} is an SQLite database of something else (tables: {', '.join(sorted(tables)[:5])}); "
                    "give load-recordings a ledger of its own (--ledger NEW_FILE)"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"ledger {self.path} cannot be used: {exc}") from None
        except ConfigError:
            self.close()
            raise

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise LedgerError(f"ledger {self.path} is closed")
        return self._db

    def close(self) -> None:
        """Close the database and release the lock."""
        try:
            if self._db is not None:
                self._db.close()
                self._db = None
        finally:
            self._lock.release()

    def _write(self, sql: str, *params: Any) -> None:
        # Autocommit: each statement is durable when it returns (the rate is 1 create a second).
        self._conn.execute(sql, params)

    @_guarded
    def start_run(self, run_id: str, source: str) -> None:
        """Note that a run began."""
        self._write(
            "INSERT INTO runs (run_id, source, started_at) VALUES (?, ?, ?)", run_id, source, time.time()
        )

    @_guarded
    def finish_run(self, run_id: str, summary: str) -> None:
        """Store a run's summary (JSON text)."""
        self._write(
            "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?", time.time(), summary, run_id
        )

    @_guarded
    def claim(self, key: str, meeting_id: str, fingerprint: str, run_id: str) -> RecordingClaim:
        """Claim an input for this run: done already, or to be looked for and sent."""
        now = time.time()
        row = self._conn.execute(
            "SELECT state, meeting_id, fingerprint, call_recording_id, claimed_at, maybe_sent, attempts"
            " FROM recordings WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            self._write(
                "INSERT INTO recordings (key, meeting_id, fingerprint, state, run_id, claimed_at, updated_at)"
                " VALUES (?, ?, ?, 'in_flight', ?, ?, ?)",
                key,
                meeting_id,
                fingerprint,
                run_id,
                now,
                now,
            )
            return RecordingClaim(key, False, None, meeting_id, None, now, False, frozenset({fingerprint}))
        state, old_meeting, old_fingerprint, recording_id, claimed_at, maybe_sent, attempts = row
        if state in DONE:
            changed = (old_meeting, old_fingerprint) != (meeting_id, fingerprint)
            return RecordingClaim(
                key, True, state, old_meeting, recording_id, claimed_at, False, frozenset(), attempts, changed
            )
        self._write(
            "UPDATE recordings SET meeting_id = ?, fingerprint = ?, state = 'in_flight', run_id = ?, updated_at = ?"
            " WHERE key = ?",
            meeting_id,
            fingerprint,
            run_id,
            now,
            key,
        )
        sent = {
            f
            for (f,) in self._conn.execute(
                "SELECT fingerprint FROM sent WHERE key = ? AND meeting_id = ?", (key, meeting_id)
            )
        }
        return RecordingClaim(
            key,
            False,
            state,
            meeting_id,
            None,
            claimed_at,
            bool(maybe_sent),
            frozenset(sent | {fingerprint}),
            attempts,
        )

    @_guarded
    def sending(self, key: str, meeting_id: str, fingerprint: str, attempts: int) -> None:
        """Record, durably, that a create of this input is about to be sent."""
        self._write(
            "INSERT OR IGNORE INTO sent (key, meeting_id, fingerprint) VALUES (?, ?, ?)",
            key,
            meeting_id,
            fingerprint,
        )
        self._write(
            "UPDATE recordings SET maybe_sent = 1, attempts = ?, updated_at = ? WHERE key = ?",
            attempts,
            time.time(),
            key,
        )

    @_guarded
    def record(
        self,
        key: str,
        state: Literal["created", "already_present", "failed"],
        *,
        call_recording_id: str | None = None,
        attempts: int = 0,
        maybe_sent: bool = False,
        error: str | None = None,
    ) -> None:
        """Record an input's outcome; a done input, or a failed one with no create that may have been carried
        out, forgets its sent transcripts (there is nothing of it to look for later)."""
        maybe_sent = maybe_sent and state == "failed"
        self._write(
            "UPDATE recordings SET state = ?, call_recording_id = ?, attempts = ?, maybe_sent = ?, error = ?,"
            " updated_at = ? WHERE key = ?",
            state,
            call_recording_id,
            attempts,
            int(maybe_sent),
            error,
            time.time(),
            key,
        )
        if not maybe_sent:
            self._write("DELETE FROM sent WHERE key = ?", key)

    @_guarded
    def counts(self) -> dict[str, int]:
        """How many inputs are in each state (for tests and people)."""
        return dict(self._conn.execute("SELECT state, COUNT(*) FROM recordings GROUP BY state").fetchall())
