"""The durable ledger: what happened to each external_ref, kept in SQLite so that a re-run does each row once.

One row per external_ref (its ledger key, see :func:`~.rows.ref_key`) in ``refs``::

    state        in_flight   claimed and maybe sent; the outcome is not known yet
                 created     Attio made the meeting during a load      -> done, skipped on re-runs
                 found       Attio already had the meeting             -> done, skipped on re-runs
                 failed      Attio refused it, or it failed after all retries; sent again on a re-run
    maybe_sent   1 once a send of the row went out (set durably right before the POST, after its rate-limit
                 wait) and its outcome is not known (in_flight, or a failure such as a dropped connection):
                 the loader looks for the meeting before it sends the row again. A claim keeps the value an
                 earlier run left, so a row claimed but never sent is not looked for (a look-alike meeting
                 made by someone else would be taken for it)
    meeting_id   the meeting of a done row (indexed: a lookup never takes a meeting another ref owns)
    fingerprint  a hash of the body last claimed, kept, to tell a row that changed since it was loaded
    claimed_at   when this ref was first claimed; tells found from created (see runner.py)
    run_fields   per-field hashes (:func:`~.rows.field_fingerprints`) of the first row of the ref in the
                 run that last claimed it: a later row of that run repeating the ref with the same
                 meeting is a duplicate, with another meeting a conflict (held here, not in memory)
    loaded_fields, links   the per-field hashes and the linked records of the body the meeting now holds:
                 ``--sync`` compares a row with them (links only changed: PATCH/PUT; else replace)
    op, old_meeting_id, op_links   a sync step recorded before it is sent and cleared when it is done:
                 ``update`` (PATCH/PUT to ``op_links``), ``replace`` (create the new meeting, delete old_meeting_id; on
                 find-or-create the delete comes first), ``delete`` (--delete-missing). A run that finds
                 one pending finishes it (a DELETE whose answer was lost is checked with a GET)
    seen_run     the last run whose input held the ref (--delete-missing deletes the created ones not seen)

in ``settings`` the ``ref_rule``: how the last load made each row's external_ref (see :meth:`Ledger.check_ref_rule`),
and in ``deleted`` every meeting a sync deleted for a ref that left the input (the ref's row goes), and in
``sent`` every distinct body sent while the ref is not done: a row edited between runs may have been
created with an earlier body, so the lookup searches for each of them. They are dropped once the row is
done (or failed with no send that may have been carried out).

Claims are committed per small group before their rows are sent; ``maybe_sent`` and the body sent are
committed right before each POST (:meth:`Ledger.sending`), and the outcome after the answer. WAL mode with
``synchronous=NORMAL`` survives a crash or a kill of the loader; ``durable=True`` (``synchronous=FULL``)
also survives a power cut. One load at a time owns a ledger: an exclusive lock on ``<ledger>.lock`` is
held while it is open.
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
from .ledgerbase import SqliteLedger, guarded
from .rows import Prepared, differing_fields, field_fingerprints

__all__ = ["Claim", "Ledger", "body_fingerprint", "ref_rule_refusal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (
    key         TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'created', 'found', 'failed')),
    maybe_sent  INTEGER NOT NULL DEFAULT 1,
    meeting_id  TEXT,
    row_number  INTEGER,
    run_id      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    fingerprint TEXT,
    error       TEXT,
    claimed_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    run_fields  TEXT,
    loaded_fields TEXT,
    links       TEXT,
    op          TEXT,
    old_meeting_id TEXT,
    op_links    TEXT,
    seen_run    TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    source      TEXT,
    started_at  REAL NOT NULL,
    finished_at REAL,
    summary     TEXT
);
CREATE TABLE IF NOT EXISTS sent (
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (key, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deleted (
    key         TEXT NOT NULL,
    meeting_id  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    deleted_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_meeting_id ON refs (meeting_id) WHERE meeting_id IS NOT NULL;
"""

DONE = ("created", "found")



def ref_rule_refusal(db: sqlite3.Connection, path: Path, rule: str, keys: Sequence[str]) -> str | None:
    """Why a load making external_refs by ``rule`` must not use the ledger ``db`` reads, or None when it may.

    Refused: the ledger's refs were made another way (``settings.ref_rule``) and none of ``keys``, the first
    rows' refs, is done in it, so every row would be created again as another meeting. When any of them is
    done, the rule changed in name only (a renamed column). Read-only, so that a dry run asks it too.
    """
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'").fetchone():
        return None  # a ledger from before the rule was kept: nothing to compare with
    row = db.execute("SELECT value FROM settings WHERE name = 'ref_rule'").fetchone()
    if row is None or row[0].casefold() == rule.casefold() or not keys:
        return None
    done = db.execute("SELECT count(*) FROM refs WHERE state IN ('created', 'found')").fetchone()[0]
    marks = ",".join("?" * len(keys))
    known = db.execute(
        f"SELECT count(*) FROM refs WHERE state IN ('created', 'found') AND key IN ({marks})", tuple(keys)
    ).fetchone()[0]
    if not done or known:
        return None
    return (
        f"ledger {path} holds {done} meetings loaded with {row[0]}; this load takes {rule}, and none "
        f"of its first {len(keys)} rows is in the ledger: each would be created again as another meeting. "
        "Load with the mapping used before, or give a new ledger (--ledger NEW_FILE) to load them as new"
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """What the ledger says about a valid row before it is sent.

    ``action``: ``send`` (new, or an earlier run's failure or unfinished row), ``done`` (an earlier run
    finished it; ``changes`` names the fields that differ from what the meeting holds, ``links`` are the
    linked records it was given), ``duplicate`` (an earlier row of this run, ``first_row``, has the same external_ref and
    the same meeting), ``conflict`` (an earlier row of this run has the same external_ref but another
    meeting: ``differs`` names the fields that differ; the row must not be sent).
    """

    item: Prepared
    action: Literal["send", "done", "duplicate", "conflict"]
    state: str | None = None
    meeting_id: str | None = None
    first_row: int | None = None
    maybe_sent: bool = False
    sent_bodies: tuple[dict[str, Any], ...] = ()
    claimed_at: float = 0.0
    attempts: int = 0
    changed: bool = False
    differs: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    links: tuple[dict[str, Any], ...] = ()
    op: str | None = None
    old_meeting_id: str | None = None
    op_links: tuple[dict[str, Any], ...] = ()


class Ledger(SqliteLedger):
    """The SQLite ledger of one load target. Use from one thread (the event loop's).

    Opening it takes an exclusive lock for as long as it is open: a second load on the same ledger gets a
    :class:`~connector.errors.ConfigError` at once instead of "database is locked" halfway through.
    ``fingerprints=False`` (a dry run's scratch ledger, which only finds repeated refs) skips the body hashes.
    """

    table = "refs"
    schema = _SCHEMA
    done = DONE
    command = "load"

    def __init__(self, path: str | Path, *, durable: bool = False, fingerprints: bool = True) -> None:
        self.fingerprints = fingerprints
        # Per key claimed to be sent, until its outcome is recorded: the body and its canonical text, fingerprint
        # and per-field hashes, so that sending() and record() of that same body do not encode it again.
        self._texts: dict[str, tuple[dict[str, Any], str, str, str]] = {}
        super().__init__(path, durable=durable)

    @guarded
    def check_ref_rule(self, rule: str, keys: Sequence[str]) -> None:
        """Refuse a load whose external_refs are made another way than the ledger's and match none of its refs.

        Every ref would be new, so every row would be created again as another meeting: a changed mapping
        (another column, other hash columns or prefix) or another file's ledger. ``keys`` are the first rows'
        refs: when any is done in the ledger the rule changed in name only (a renamed column) and is kept.
        """
        db = self._conn
        refusal = ref_rule_refusal(db, self.path, rule, keys)
        if refusal is not None:
            raise ConfigError(refusal)
        row = db.execute("SELECT value FROM settings WHERE name = 'ref_rule'").fetchone()
        if row is None or row[0] != rule:
            self._begin()
            db.execute("INSERT OR REPLACE INTO settings (name, value) VALUES ('ref_rule', ?)", (rule,))
            self.commit()

    @guarded
    def claim(self, items: Sequence[Prepared], run_id: str) -> list[Claim]:
        """Claim rows for this run in one transaction, committed before the call returns."""
        now = time.time()
        claims = []
        self.commit()  # the outcomes recorded so far are kept, whatever becomes of this claim
        self._begin()
        try:
            for item in items:
                claims.append(self._claim_one(item, run_id, now))
            self.commit()
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        return claims

    def _claim_one(self, item: Prepared, run_id: str, now: float) -> Claim:
        db = self._conn
        row = db.execute(
            "SELECT state, maybe_sent, meeting_id, row_number, run_id, claimed_at, attempts, fingerprint,"
            " run_fields, loaded_fields, links, op, old_meeting_id, op_links FROM refs WHERE key = ?",
            (item.key,),
        ).fetchone()
        text, fingerprint = body_fingerprint(item.body) if self.fingerprints else (None, None)
        fields = field_fingerprints(item.body)
        fields_text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        if row is None:
            db.execute(
                "INSERT INTO refs (key, state, maybe_sent, row_number, run_id, fingerprint, claimed_at, updated_at,"
                " run_fields, seen_run) VALUES (?, 'in_flight', 0, ?, ?, ?, ?, ?, ?, ?)",
                (item.key, item.row_number, run_id, fingerprint, now, now, fields_text, run_id),
            )
            self._keep_texts(item, text, fingerprint, fields_text)
            return Claim(item, "send", claimed_at=now)
        (state, maybe_sent, meeting_id, first_row, owner, claimed_at, attempts, old_fingerprint, first_fields,
         loaded_text, links_text, op, old_meeting_id, op_links) = row
        if owner == run_id:
            differs = differing_fields(json.loads(first_fields), fields) if first_fields else []
            if differs:
                return Claim(item, "conflict", state=state, first_row=first_row, differs=tuple(differs))
            return Claim(item, "duplicate", state=state, meeting_id=meeting_id, first_row=first_row)
        if state in DONE:
            changed = fingerprint is not None and old_fingerprint is not None and fingerprint != old_fingerprint
            if loaded_text is not None:
                changes = differing_fields(json.loads(loaded_text), fields)
            else:  # done without the body it holds recorded: what changed is unknown
                changes = differing_fields({}, fields) if changed else []
                if not changed:
                    loaded_text, links_text = fields_text, _links_text(item.body)
            db.execute(
                "UPDATE refs SET run_id = ?, row_number = ?, run_fields = ?, seen_run = ?, loaded_fields = ?, links = ?"
                " WHERE key = ?",
                (run_id, item.row_number, fields_text, run_id, loaded_text, links_text, item.key),
            )
            return Claim(
                item,
                "done",
                state=state,
                meeting_id=meeting_id,
                changed=changed,
                changes=tuple(changes),
                links=tuple(json.loads(links_text)) if links_text else (),
                op=op,
                old_meeting_id=old_meeting_id,
                op_links=tuple(json.loads(op_links)) if op_links else (),
            )
        # An earlier run's unfinished or failed row: this run takes it over. Every body sent for it before
        # comes back in the claim (the runner looks for the meeting any of them may have made before sending
        # the row again); maybe_sent stays as that run left it until this run's own send (sending()).
        sent = [b for (b,) in db.execute("SELECT body FROM sent WHERE key = ?", (item.key,))]
        db.execute(
            "UPDATE refs SET run_id = ?, row_number = ?, state = 'in_flight',"
            " fingerprint = ?, updated_at = ?, run_fields = ?, seen_run = ? WHERE key = ?",
            (run_id, item.row_number, fingerprint, now, fields_text, run_id, item.key),
        )
        self._keep_texts(item, text, fingerprint, fields_text)
        return Claim(
            item,
            "send",
            state=state,
            maybe_sent=bool(maybe_sent),
            sent_bodies=tuple(json.loads(b) for b in sent) if maybe_sent else (),
            claimed_at=claimed_at,
            attempts=attempts,
            meeting_id=meeting_id if op == "replace" else None,
            op=op,
            old_meeting_id=old_meeting_id,
        )

    def _keep_texts(self, item: Prepared, text: str | None, fingerprint: str | None, fields_text: str) -> None:
        if text is not None and fingerprint is not None:
            self._texts[item.key] = (item.body, text, fingerprint, fields_text)

    def _kept_texts(self, key: str, body: dict[str, Any]) -> tuple[str, str, str] | None:
        """The claim's text, fingerprint and per-field hashes of ``body`` when it is the very body claimed."""
        kept = self._texts.get(key)
        return kept[1:] if kept is not None and kept[0] is body else None

    @guarded
    def sending(self, key: str, body: dict[str, Any]) -> None:
        """Record, durably, that a POST of ``body`` for this row goes out now (called right before it is sent):
        from here on the row may have a meeting, to be looked for before it is sent again."""
        kept = self._kept_texts(key, body)
        text, fingerprint = kept[:2] if kept is not None else body_fingerprint(body)
        self._begin()
        self._conn.execute("INSERT OR IGNORE INTO sent (key, fingerprint, body) VALUES (?, ?, ?)", (key, fingerprint, text))
        self._conn.execute("UPDATE refs SET maybe_sent = 1, updated_at = ? WHERE key = ?", (time.time(), key))
        self.commit()

    @guarded
    def record(
        self,
        key: str,
        state: Literal["created", "found", "failed"],
        *,
        meeting_id: str | None = None,
        attempts: int = 0,
        maybe_sent: bool = False,
        error: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Record a row's outcome (committed by the next :meth:`commit`); ``body``: what a done row's meeting holds."""
        self._begin()
        columns = {"meeting_id": meeting_id}
        self._record_outcome(key, state, attempts=attempts, maybe_sent=maybe_sent, error=error, columns=columns)
        if state in DONE and body is not None:
            self._loaded(key, body)
        self._texts.pop(key, None)

    @guarded
    def owned_by_other(self, meeting_id: str, key: str) -> bool:
        """True when the ledger recorded this meeting for another key (a lookup must not take it)."""
        row = self._conn.execute("SELECT 1 FROM refs WHERE meeting_id = ? AND key != ? LIMIT 1", (meeting_id, key)).fetchone()
        return row is not None

    @guarded
    def meeting_id(self, key: str) -> str | None:
        """The meeting ID recorded for a key, if any."""
        row = self._conn.execute("SELECT meeting_id FROM refs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------------------ sync steps

    def _loaded(self, key: str, body: dict[str, Any]) -> None:
        kept = self._kept_texts(key, body)
        fields = kept[2] if kept is not None else json.dumps(field_fingerprints(body), sort_keys=True, separators=(",", ":"))
        self._conn.execute("UPDATE refs SET loaded_fields = ?, links = ? WHERE key = ?", (fields, _links_text(body), key))

    def _set_op(
        self, key: str, op: str | None, old_meeting_id: str | None = None, links: list[dict[str, Any]] | None = None
    ) -> None:
        self._conn.execute(
            "UPDATE refs SET op = ?, old_meeting_id = ?, op_links = ?, updated_at = ? WHERE key = ?",
            (op, old_meeting_id, None if links is None else _links_text({"linked_records": links}), time.time(), key),
        )

    @guarded
    def begin(
        self,
        key: str,
        op: Literal["update", "replace", "delete"],
        old_meeting_id: str | None = None,
        *,
        links: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record, durably, a sync step about to be sent (``old_meeting_id``: the meeting a replace or delete
        removes; ``links``: the links an update gives the meeting)."""
        self._begin()
        self._set_op(key, op, old_meeting_id, links)
        self.commit()

    @guarded
    def resend(self, item: Prepared, old_meeting_id: str | None) -> float:
        """Make a done row a row to send again with its new body, durably, before the POST of a replace
        (``old_meeting_id`` still to delete afterwards, or None when it is deleted already); its claim time.
        (The send itself is noted by :meth:`sending`.)"""
        now = time.time()
        fingerprint = body_fingerprint(item.body)[1]
        self._begin()
        self._conn.execute(
            "UPDATE refs SET state = 'in_flight', fingerprint = ?, claimed_at = ?, updated_at = ?,"
            " op = ?, old_meeting_id = ?, meeting_id = CASE WHEN ? IS NULL THEN NULL ELSE meeting_id END WHERE key = ?",
            (fingerprint, now, now, "replace" if old_meeting_id else None, old_meeting_id, old_meeting_id, item.key),
        )
        self.commit()
        return now

    @guarded
    def updated(self, key: str, body: dict[str, Any]) -> None:
        """A PATCH/PUT is done: the meeting now holds ``body``'s linked records."""
        self._begin()
        self._loaded(key, body)
        self._conn.execute("UPDATE refs SET fingerprint = ? WHERE key = ?", (body_fingerprint(body)[1], key))
        self._set_op(key, None)

    @guarded
    def old_deleted(self, key: str) -> None:
        """The old meeting of a replace is gone (the new one, if made, is the ref's meeting already); also: a
        pending delete is dropped (its row is back in the input and its meeting still there)."""
        self._begin()
        self._set_op(key, None)

    @guarded
    def removed(self, key: str, meeting_id: str, run_id: str) -> None:
        """The meeting of a ref that left the input is deleted: log it and forget the ref."""
        self._begin()
        self._conn.execute(
            "INSERT INTO deleted (key, meeting_id, run_id, deleted_at) VALUES (?, ?, ?, ?)",
            (key, meeting_id, run_id, time.time()),
        )
        self.forget(key)

    @guarded
    def forget(self, key: str) -> None:
        """Drop a ref that left the input and has no meeting (any more)."""
        self._begin()
        self._conn.execute("DELETE FROM refs WHERE key = ?", (key,))
        self._conn.execute("DELETE FROM sent WHERE key = ?", (key,))

    @guarded
    def step_failed(self, key: str, error: str, *, keep: bool) -> None:
        """A sync step failed: ``keep`` leaves it pending for the next run, else it is dropped (refused for good)."""
        self._begin()
        self._conn.execute("UPDATE refs SET error = ?, updated_at = ? WHERE key = ?", (error, time.time(), key))
        if not keep:
            self._set_op(key, None)

    @guarded
    def sent_bodies(self, key: str) -> list[dict[str, Any]]:
        """Every body claimed for sending while the ref was not done (what a lost POST may have created)."""
        return [json.loads(b) for (b,) in self._conn.execute("SELECT body FROM sent WHERE key = ?", (key,))]

    @guarded
    def undo_replace(self, key: str, old_meeting_id: str) -> None:
        """A replace whose create was never confirmed is dropped: the old meeting is the ref's again."""
        self._begin()
        self._conn.execute(
            "UPDATE refs SET state = 'created', meeting_id = ?, maybe_sent = 0, op = NULL, old_meeting_id = NULL,"
            " updated_at = ? WHERE key = ?",
            (old_meeting_id, time.time(), key),
        )
        self._conn.execute("DELETE FROM sent WHERE key = ?", (key,))
        self.commit()

    @guarded
    def mark_seen(self, keys: Sequence[str], run_id: str) -> None:
        """Note refs of rows this run read but could not send (rejected): still in the input, not to delete."""
        self._begin()
        self._conn.executemany("UPDATE refs SET seen_run = ? WHERE key = ?", [(run_id, k) for k in keys])

    @guarded
    def unseen(self, run_id: str) -> tuple[list[tuple[str, str, str | None]], int]:
        """What a sync of a whole input still has to do for refs this run did not see, and how many meetings this
        ledger created. Each step is ``(key, meeting_id, op)``: a pending ``delete``/``replace`` to finish, an
        ``undo`` of a replace whose create was never confirmed (``meeting_id``: the old meeting), or, only for
        --delete-missing, a meeting this ledger created whose ref left the input (op None) or a row that left
        it while a send of it may have created one (``lost``: the meeting is looked for)."""
        db = self._conn
        total = db.execute("SELECT COUNT(*) FROM refs WHERE state = 'created' AND meeting_id IS NOT NULL").fetchone()[0]
        steps = db.execute(
            "SELECT key, CASE WHEN op IS NULL THEN meeting_id ELSE old_meeting_id END,"
            " CASE WHEN op = 'replace' AND state NOT IN ('created', 'found') THEN 'undo'"
            " WHEN op IS NULL AND state NOT IN ('created', 'found') THEN 'lost' ELSE op END FROM refs"
            " WHERE (seen_run IS NULL OR seen_run != ?) AND ("
            " (op IN ('delete', 'replace') AND old_meeting_id IS NOT NULL)"
            " OR (op IS NULL AND state = 'created' AND meeting_id IS NOT NULL)"
            " OR (op IS NULL AND state IN ('in_flight', 'failed') AND maybe_sent = 1)) ORDER BY key",
            (run_id,),
        ).fetchall()
        return [tuple(step) for step in steps], total


def body_fingerprint(body: dict[str, Any]) -> tuple[str, str]:
    """A body as the ledger keeps it (canonical JSON) and its fingerprint."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()[:24]


def _links_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("linked_records") or [], sort_keys=True, separators=(",", ":"))
