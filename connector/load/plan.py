"""The plan of a ``--sync`` dry run: what a real run would do to each row, read from the ledger, nothing sent.

The ledger is read, never written, and the dry run leaves nothing beside it: SQLite makes ``-wal``/``-shm``
files for any connection to a WAL database, even a read-only one, so a ledger no load holds (its lock is
taken for the dry run, and released) with no ``-wal`` (closed cleanly: all of it is in the file) is read as
an immutable file; one a load holds, or that a killed load left with its ``-wal``, is read through the
files already there. A missing ledger plans every row as a create. Each valid row is classified as :mod:`.sync` would: ``create``, ``unchanged``, ``update``,
``replace`` or ``skip`` (a found meeting whose content changed); with ``--delete-missing``, the meetings
this ledger created whose external_ref is not among the rows are planned as ``delete``. Every dry run (with
``--sync`` or not) also asks the ledger the question a real run asks first: whether its refs are made the way
the ledger's were (:meth:`SyncPlan.check_ref_rule`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..locks import FileLock
from .ledger import Ledger, body_fingerprint, ref_rule_refusal
from .ledgerbase import ledger_lock
from .rows import Prepared, differing_fields, field_fingerprints

__all__ = ["SyncPlan"]


class SyncPlan:
    """Classifies rows against a ledger, read-only."""

    def __init__(self, ledger: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        self._lock: FileLock | None = None
        self._path = ledger
        if ledger is None or not ledger.exists():
            return
        lock = ledger_lock(ledger)
        try:
            free = lock.acquire()
        except OSError:  # a lock file that cannot be made: read it as any reader would
            free = False
        if free:
            self._lock = lock  # no load can start on it (and write) until close()
        target = ledger.resolve()
        immutable = free and not target.with_name(target.name + "-wal").exists()
        try:
            self._db = sqlite3.connect(
                f"{target.as_uri()}?mode=ro{'&immutable=1' if immutable else ''}", uri=True
            )
            if not Ledger.check_file(self._db, ledger):  # an empty file: nothing loaded yet
                self._db.close()
                self._db = None
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"ledger {ledger} cannot be used: {exc}") from None
        except BaseException:
            self.close()
            raise

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

    def check_ref_rule(self, rule: str, keys: Sequence[str]) -> None:
        """Refuse, as a real load would (:meth:`.ledger.Ledger.check_ref_rule`), refs made another way than
        the ledger's that match none of its done refs."""
        if self._db is None or self._path is None:
            return
        if (refusal := ref_rule_refusal(self._db, self._path, rule, keys)) is not None:
            raise ConfigError(refusal)

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
        """Close the ledger and release its lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
