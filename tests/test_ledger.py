"""The load's SQLite ledger (connector/load/ledger.py) on its own: what a claim says across runs, what survives
a crash, the lock, and refusing a database that is not a ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from load_helpers import HEADER, meeting_rows

from connector.errors import ConfigError, ConnectorError, LedgerError
from connector.load.ledger import Ledger, body_fingerprint
from connector.load.mapping import Mapping
from connector.load.rows import Prepared, RowMapper


def prepared(n: int) -> list[Prepared]:
    """``n`` valid rows (rows 2, 3, ...) as the loader prepares them."""
    mapper = RowMapper(Mapping(), HEADER, "in.csv")
    items = [mapper.map_row(i + 2, row) for i, row in enumerate(meeting_rows(n))]
    assert all(isinstance(item, Prepared) for item in items)
    return items  # type: ignore[return-value]


def test_a_row_done_by_one_run_is_done_for_the_next(tmp_path: Path) -> None:
    path = tmp_path / "m.ledger.sqlite"
    first, second = prepared(2)
    ledger = Ledger(path)
    try:
        assert [c.action for c in ledger.claim([first, second], "run-1")] == ["send", "send"]
        ledger.record(first.key, "created", meeting_id="m-1", attempts=1, body=first.body)
        ledger.record(second.key, "failed", attempts=3, error="HTTP 500")
    finally:
        ledger.close()
    ledger = Ledger(path)  # a later run, another process
    try:
        done, again = ledger.claim([first, second], "run-2")
        assert (done.action, done.meeting_id, done.changes) == ("done", "m-1", ())
        assert (again.action, again.maybe_sent) == ("send", False), (
            "a failure that sent nothing is sent again"
        )
        assert ledger.counts() == {"created": 1, "in_flight": 1}
        assert ledger.meeting_id(first.key) == "m-1" and ledger.meeting_id("no-such-ref") is None
        assert ledger.owned_by_other("m-1", second.key) and not ledger.owned_by_other("m-1", first.key)
    finally:
        ledger.close()


def test_a_send_cut_off_without_an_answer_keeps_the_body_it_sent(tmp_path: Path) -> None:
    path = tmp_path / "m.ledger.sqlite"
    (item,) = prepared(1)
    ledger = Ledger(path)
    ledger.claim([item], "run-1")
    ledger.sending(item.key, item.body)
    ledger._db.close()  # type: ignore[union-attr]  # the process dies mid-POST: no record, no close
    ledger._db = None
    ledger.close()
    ledger = Ledger(path)
    try:
        (claim,) = ledger.claim([item], "run-2")
        assert claim.action == "send" and claim.maybe_sent, "the lost POST may have been carried out"
        assert claim.sent_bodies == (item.body,), "so the next run looks for the meeting it would have made"
    finally:
        ledger.close()


def test_a_row_claimed_but_never_sent_is_not_maybe_sent_and_a_claim_keeps_an_earlier_send(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.ledger.sqlite"
    sent, unsent = prepared(2)
    ledger = Ledger(path)
    ledger.claim([sent, unsent], "run-1")
    ledger.sending(sent.key, sent.body)
    ledger._db.close()  # type: ignore[union-attr]  # killed: one row's POST went out, the other's never did
    ledger._db = None
    ledger.close()
    for run in ("run-2", "run-3"):  # run-2 is killed too, before it sends anything
        ledger = Ledger(path)
        try:
            again, fresh = ledger.claim([sent, unsent], run)
            assert (again.maybe_sent, again.sent_bodies) == (True, (sent.body,))
            assert (fresh.action, fresh.maybe_sent, fresh.sent_bodies) == ("send", False, ())
            assert ledger.sent_bodies(unsent.key) == []
        finally:
            ledger.close()


def test_a_database_that_is_not_a_ledger_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(
        ConfigError,
        match=r"ledger .*crm\.sqlite is an SQLite database of something else \(tables: customers\)",
    ):
        Ledger(path)
    assert path.read_bytes() == before
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == [
            "customers"
        ]
    db.close()


def test_body_fingerprints_ignore_key_order() -> None:
    text, fingerprint = body_fingerprint({"title": "a", "is_all_day": False})
    assert (text, fingerprint) == body_fingerprint({"is_all_day": False, "title": "a"})
    assert text == '{"is_all_day":false,"title":"a"}' and len(fingerprint) == 24
    assert body_fingerprint({"title": "b", "is_all_day": False})[1] != fingerprint


def test_a_ledger_reached_through_a_symlink_is_the_same_ledger(tmp_path: Path) -> None:
    # Two loads on one ledger (one through a symlink) ran at once: on create-only, 173 of 200 rows twice.
    busy = Ledger(tmp_path / "m.ledger.sqlite")
    (tmp_path / "link.sqlite").symlink_to("m.ledger.sqlite")
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    try:
        for spelling in (tmp_path / "link.sqlite", tmp_path / "linked" / "m.ledger.sqlite"):
            with pytest.raises(ConfigError, match="in use by another load"):
                Ledger(spelling)
    finally:
        busy.close()


def test_a_failing_ledger_raises_a_connector_error_naming_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    assert ledger._db is not None
    ledger._db.close()  # any sqlite3 error will do: here "cannot operate on a closed database"
    with pytest.raises(LedgerError, match=r"ledger .*l\.sqlite") as info:
        ledger.counts()
    assert isinstance(info.value, ConnectorError)
    ledger._db = None
    ledger.close()
