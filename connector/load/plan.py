"""The plan of a ``--sync`` dry run: what a real run would do to each row, read from the ledger, nothing sent.

The ledger is opened read-only (no lock is taken, nothing is written; a missing ledger plans every row as a
create). Each valid row is classified as :mod:`.sync` would: ``create``, ``unchanged``, ``update``,
``replace`` or ``skip`` (a found meeting whose content changed); with ``--delete-missing``, the meetings
this ledger created whose external_ref is not among the rows are planned as ``delete``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .ledger import body_fingerprint
from .rows import Prepared, differing_fields, field_fingerprints

__all__ = ["SyncPlan"]


class SyncPlan:
    """Classifies rows against a ledger, read-only."""

    def __init__(self, ledger: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if ledger is not None and ledger.exists():
            self._db = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)

    def classify(self, item: Prepared) -> tuple[str, str | None, str]:
        """``(step, meeting_id, what differs)`` of a valid row."""
        row = None
        if self._db is not None:
            row = self._db.execute(
                "SELECT state, meeting_id, loaded_fields, fingerprint, op FROM refs WHERE key = ?",
                (item.key,),
            ).fetchone()
        if row is None or row[0] not in ("created", "found"):
            return "create", None, ""
        state, meeting_id, loaded, fingerprint, op = row
        if op in ("update", "replace"):
            return op, meeting_id, "finishing an interrupted run's step"
        if loaded is None and fingerprint == body_fingerprint(item.body)[1]:
            # loaded before the ledger kept per-field hashes: the same body is unchanged, as in a real run
            return "unchanged", meeting_id, ""
        changes = differing_fields(json.loads(loaded) if loaded else {}, field_fingerprints(item.body))
        if not changes:
            return "unchanged", meeting_id, ""
        if changes == ["linked_records"]:
            return "update", meeting_id, "linked_records changed"
        return ("replace" if state == "created" else "skip"), meeting_id, ", ".join(changes) + " changed"

    def missing(self, seen: Path) -> tuple[list[tuple[str, str]], int]:
        """``(key, meeting_id)`` of the created meetings whose ref is not in the ``refs`` table of the SQLite
        file ``seen`` (the dry run's scratch ledger), and how many meetings the ledger created."""
        if self._db is None:
            return [], 0
        self._db.execute("ATTACH DATABASE ? AS seen", (f"{seen.resolve().as_uri()}?mode=ro",))
        try:
            created = "FROM refs WHERE state = 'created' AND meeting_id IS NOT NULL"
            total = self._db.execute(f"SELECT COUNT(*) {created}").fetchone()[0]
            gone = self._db.execute(
                f"SELECT key, meeting_id {created} AND key NOT IN (SELECT key FROM seen.refs) ORDER BY key"
            ).fetchall()
        finally:
            self._db.execute("DETACH DATABASE seen")
        return [tuple(g) for g in gone], total

    def close(self) -> None:
        """Close the ledger."""
        if self._db is not None:
            self._db.close()
            self._db = None
