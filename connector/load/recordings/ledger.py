"""The recordings ledger: what happened to each transcript input, in SQLite, so that a re-run creates nothing twice.

One row per input label (``call.vtt``, ``segments.csv#rec-7``) in ``recordings``::

    state              in_flight        claimed; a create may be under way, the outcome is not known yet
                       created          this loader created the recording          -> done, skipped on re-runs
                       already_present  the meeting had a recording with this very transcript -> done
                       failed           refused, or failed after every retry; looked at again on a re-run
    maybe_sent         1 once a create went out and its answer is not known (committed right before the POST,
                       after its rate-limit wait): the next look treats a matching recording made since the
                       claim as this one's
    meeting_id, fingerprint   what the input named last (:func:`~connector.transcripts.transcript_fingerprint`)
    call_recording_id  the recording of a done input
    claimed_at         when the input was first claimed: tells *created* (after a lost answer) from *already_present*

and in ``sent`` each (meeting, fingerprint) a create was sent with while the input was not done: an input
edited between runs may have been created with its earlier transcript, so a look matches each of them.

Same discipline as the meetings ledger (:mod:`connector.load.ledger`): WAL, the intent committed before the
request, the outcome after the answer; one run at a time holds ``<ledger>.lock``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..ledgerbase import SqliteLedger, guarded

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


class RecordingsLedger(SqliteLedger):
    """The SQLite ledger of one recordings load; exclusive while open (a second run gets a ConfigError at once)."""

    table = "recordings"
    schema = _SCHEMA
    done = DONE
    command = "load-recordings"

    def _write(self, sql: str, *params: Any) -> None:
        # Autocommit: each statement is durable when it returns (the rate is 1 create a second).
        self._conn.execute(sql, params)

    @guarded
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

    @guarded
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

    @guarded
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
        columns = {"call_recording_id": call_recording_id}
        self._record_outcome(
            key, state, attempts=attempts, maybe_sent=maybe_sent, error=error, columns=columns
        )
