"""The durable ledger: what happened to each external_ref, kept in SQLite so that a re-run does each row once.

One row per external_ref (its ledger key, see :func:`~.rows.ref_key`)::

    state        in_flight   claimed and maybe sent; the outcome is not known yet
                 created     Attio made the meeting during a load      -> done, skipped on re-runs
                 found       Attio already had the meeting             -> done, skipped on re-runs
                 failed      Attio refused it, or it failed after all retries; sent again on a re-run
    maybe_sent   1 when the last send may have been carried out without an answer (in_flight, or a failure
                 such as a dropped connection): on a create-only API the loader looks for the meeting
                 before it sends such a row again
    body         the body as sent, kept until the row is done, to find the meeting it may have made
    fingerprint  a hash of that body, kept, to tell a row that changed since it was loaded
    claimed_at   when this ref was first claimed; tells found from created (see runner.py)

The in-flight mark of a row is committed before the row is sent (claims are committed per small group),
and the outcome right after the answer. WAL mode with ``synchronous=NORMAL`` survives a crash or a kill
of the loader; ``durable=True`` (``synchronous=FULL``) also survives a power cut.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from .rows import Prepared

__all__ = ["Claim", "Ledger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (
    key         TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'created', 'found', 'failed')),
    maybe_sent  INTEGER NOT NULL DEFAULT 1,
    meeting_id  TEXT,
    row_number  INTEGER,
    run_id      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    body        TEXT,
    fingerprint TEXT,
    error       TEXT,
    claimed_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    source      TEXT,
    started_at  REAL NOT NULL,
    finished_at REAL,
    summary     TEXT
);
"""

DONE = ("created", "found")


@dataclass(frozen=True, slots=True)
class Claim:
    """What the ledger says about a valid row before it is sent.

    ``action``: ``send`` (new, or an earlier run's failure or unfinished row), ``done`` (an earlier run
    finished it), ``duplicate`` (an earlier row of this run has the same external_ref).
    """

    item: Prepared
    action: Literal["send", "done", "duplicate"]
    state: str | None = None
    meeting_id: str | None = None
    first_row: int | None = None
    maybe_sent: bool = False
    sent_body: dict[str, Any] | None = None
    claimed_at: float = 0.0
    attempts: int = 0
    changed: bool = False


class Ledger:
    """The SQLite ledger of one load target. Use from one thread (the event loop's)."""

    def __init__(self, path: str | Path, *, durable: bool = False, keep_bodies: bool = True) -> None:
        self.path = Path(path)
        self.keep_bodies = keep_bodies
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"ledger {self.path} cannot be used: {exc}") from None
        self._open_tx = False

    def _begin(self) -> None:
        if not self._open_tx:
            self._db.execute("BEGIN IMMEDIATE")
            self._open_tx = True

    def commit(self) -> None:
        """Make everything recorded so far durable."""
        if self._open_tx:
            self._db.execute("COMMIT")
            self._open_tx = False

    def close(self) -> None:
        """Commit and close."""
        if self._db is not None:
            self.commit()
            self._db.close()

    def start_run(self, run_id: str, source: str) -> None:
        """Note that a run began (for people reading the ledger)."""
        self._begin()
        self._db.execute("INSERT INTO runs (run_id, source, started_at) VALUES (?, ?, ?)", (run_id, source, time.time()))
        self.commit()

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        """Store a run's summary."""
        self._begin()
        self._db.execute(
            "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?",
            (time.time(), json.dumps(summary, default=str), run_id),
        )
        self.commit()

    def claim(self, items: Sequence[Prepared], run_id: str) -> list[Claim]:
        """Claim rows for this run in one transaction, committed before the call returns."""
        now = time.time()
        claims = []
        self._begin()
        try:
            for item in items:
                claims.append(self._claim_one(item, run_id, now))
            self.commit()
        except BaseException:
            self._db.execute("ROLLBACK")
            self._open_tx = False
            raise
        return claims

    def _claim_one(self, item: Prepared, run_id: str, now: float) -> Claim:
        row = self._db.execute(
            "SELECT state, maybe_sent, meeting_id, row_number, run_id, body, claimed_at, attempts, fingerprint"
            " FROM refs WHERE key = ?",
            (item.key,),
        ).fetchone()
        body = fingerprint = None
        if self.keep_bodies:
            body = json.dumps(item.body, sort_keys=True, separators=(",", ":"))
            fingerprint = hashlib.sha256(body.encode()).hexdigest()[:24]
        if row is None:
            self._db.execute(
                "INSERT INTO refs (key, state, maybe_sent, row_number, run_id, body, fingerprint, claimed_at, updated_at)"
                " VALUES (?, 'in_flight', 1, ?, ?, ?, ?, ?, ?)",
                (item.key, item.row_number, run_id, body, fingerprint, now, now),
            )
            return Claim(item, "send", claimed_at=now)
        state, maybe_sent, meeting_id, first_row, owner, sent, claimed_at, attempts, old_fingerprint = row
        if owner == run_id:
            return Claim(item, "duplicate", state=state, meeting_id=meeting_id, first_row=first_row)
        if state in DONE:
            changed = fingerprint is not None and old_fingerprint is not None and fingerprint != old_fingerprint
            self._db.execute("UPDATE refs SET run_id = ?, row_number = ? WHERE key = ?", (run_id, item.row_number, item.key))
            return Claim(item, "done", state=state, meeting_id=meeting_id, changed=changed)
        # An earlier run's unfinished or failed row: this run takes it over. The body sent before comes back
        # in the claim (the runner looks for the meeting it may have made before sending the row again);
        # the ledger now holds the body this run will send.
        self._db.execute(
            "UPDATE refs SET run_id = ?, row_number = ?, state = 'in_flight', maybe_sent = 1, body = ?, fingerprint = ?, updated_at = ?"
            " WHERE key = ?",
            (run_id, item.row_number, body, fingerprint, now, item.key),
        )
        return Claim(
            item,
            "send",
            state=state,
            maybe_sent=bool(maybe_sent),
            sent_body=json.loads(sent) if sent else None,
            claimed_at=claimed_at,
            attempts=attempts,
        )

    def record(
        self,
        key: str,
        state: Literal["created", "found", "failed"],
        *,
        meeting_id: str | None = None,
        attempts: int = 0,
        maybe_sent: bool = False,
        error: str | None = None,
    ) -> None:
        """Record a row's outcome (committed by the next :meth:`commit`)."""
        self._begin()
        done = state in DONE
        self._db.execute(
            "UPDATE refs SET state = ?, meeting_id = ?, attempts = ?, maybe_sent = ?, error = ?, updated_at = ?,"
            " body = CASE WHEN ? THEN NULL ELSE body END WHERE key = ?",
            (state, meeting_id, attempts, int(maybe_sent and not done), error, time.time(), done, key),
        )

    def meeting_id(self, key: str) -> str | None:
        """The meeting ID recorded for a key, if any."""
        row = self._db.execute("SELECT meeting_id FROM refs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        """How many refs are in each state (for tests and people)."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM refs GROUP BY state").fetchall())
