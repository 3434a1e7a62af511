"""load --sync: update links, replace changed meetings, delete removed ones; exactly once under faults."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from sync_helpers import assert_attio_matches, export, write
from test_load import ROOT, client_config

from connector.cli import main
from connector.client import AttioClient
from connector.errors import ConfigError
from connector.load import LoadConfig, load

CHANGES = {1: "links", 2: "unlink", 3: "title", 4: "start", 5: "participants"}


def results(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def by_ref(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out = {r["external_ref"]: r for r in rows}
    assert len(out) == len(rows), "a ref is in the results twice"
    return out


async def sync(emu: Any, source: Path, client: Any = None, **config: Any) -> Any:
    config = {"contract": "create-only", "sync": True, **config}
    if client is not None:
        return await load(source, client, LoadConfig(**config))
    async with AttioClient(client_config(emu)) as owned:
        return await load(source, owned, LoadConfig(**config))


@pytest.mark.anyio
@pytest.mark.parametrize("contract", ["create-only", "find-or-create"])
async def test_sync_updates_links_replaces_changed_rows_and_deletes_removed_ones(
    make_emulator: Any, tmp_path: Path, contract: str
) -> None:
    emu = make_emulator(meetings=0, contract=contract)
    source = tmp_path / "m.csv"
    first = export(12)
    report = await sync(emu, write(source, first), contract=contract)
    assert report.created == 12 and report.ok, report.format()
    ids = {r["external_ref"]: r["meeting_id"] for r in results(tmp_path / "m.results.csv")}

    second = export(12, changed=CHANGES, removed={9, 10}, new=2)
    stats = emu.emulator.stats
    stats.reset()
    report = await sync(emu, write(source, second), contract=contract, delete_missing=True, max_delete=0.5)
    assert report.ok, report.format()
    assert (report.created, report.updated, report.replaced, report.deleted, report.unchanged) == (
        2,
        2,
        3,
        2,
        5,
    )
    assert report.rows == len(second)
    lines = by_ref(results(tmp_path / "m.results.csv"))
    assert {ref: r["outcome"] for ref, r in lines.items()} == {
        **{f"s-{i}": "unchanged" for i in (0, 6, 7, 8, 11)},
        "s-1": "updated",
        "s-2": "updated",
        "s-3": "replaced",
        "s-4": "replaced",
        "s-5": "replaced",
        "s-9": "deleted",
        "s-10": "deleted",
        "s-12": "created",
        "s-13": "created",
    }
    for ref in ("s-1", "s-2"):
        assert lines[ref]["meeting_id"] == ids[ref]
    for ref in ("s-3", "s-4", "s-5"):
        assert lines[ref]["old_meeting_id"] == ids[ref] and lines[ref]["meeting_id"] not in ("", ids[ref])
    for ref in ("s-9", "s-10"):
        assert lines[ref]["row_number"] == "" and lines[ref]["old_meeting_id"] == ids[ref]
    assert_attio_matches(emu, second)
    # the writes a sync needs: 2 creates, 3 replaces (create + delete), 2 deletes, 2 link updates; no GET for
    # an unchanged row (one GET for the row whose links were dropped: its PUT keeps Attio's own links)
    writes = Counter(
        m for (m, _, s), n in stats.responses.items() for _ in range(n) if m != "GET" and s == 200
    )
    assert writes == {"POST": 5, "DELETE": 5, "PATCH": 1, "PUT": 1}
    assert stats.count(method="GET", route="/v2/meetings/{meeting_id}") == 1

    # the same export again: all unchanged, nothing sent
    stats.reset()
    report = await sync(emu, source, contract=contract, delete_missing=True)
    assert report.unchanged == len(second) and report.ok and stats.count(method="GET") == 0
    assert stats.requests == 0


@pytest.mark.anyio
async def test_without_sync_nothing_changes(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    source = tmp_path / "m.csv"
    async with AttioClient(client_config(emu)) as client:
        await load(write(source, export(6)), client, LoadConfig())
        emu.emulator.stats.reset()
        report = await load(write(source, export(6, changed=CHANGES, removed={0})), client, LoadConfig())
    assert report.skipped == 5 and report.updated == report.replaced == report.deleted == 0
    assert emu.emulator.stats.requests == 0
    assert_attio_matches(emu, export(6))


@pytest.mark.anyio
async def test_the_guard_stops_a_truncated_export_from_deleting(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(10)))
    report = await sync(emu, write(source, export(7)), delete_missing=True)  # 3 of 10 gone: over 20 %
    assert report.delete_guard and report.deleted == 0 and not report.ok
    assert "3 of the 10" in report.aborted
    assert emu.emulator.stats.count(method="DELETE") == 0
    assert_attio_matches(emu, export(10))
    report = await sync(emu, source, delete_missing=True, max_delete=0.3)
    assert report.deleted == 3 and report.ok
    assert_attio_matches(emu, export(7))


@pytest.mark.anyio
async def test_delete_missing_never_deletes_a_meeting_the_ledger_did_not_create(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(meetings=0, contract="find-or-create")
    async with AttioClient(client_config(emu)) as client:
        other = await client.find_or_create_meeting(
            {**_body(export(1)[0]), "external_ref": "s-0"}  # Attio has it already: the load finds it
        )
        source = tmp_path / "m.csv"
        # created a moment before the load: found, with no allowance for clock skew
        report = await sync(emu, write(source, export(3)), client, contract="find-or-create", clock_skew=0)
        assert (report.found, report.created) == (1, 2)
        report = await sync(
            emu,
            write(source, export(3, removed={0})),
            client,
            contract="find-or-create",
            delete_missing=True,
            max_delete=1.0,
            clock_skew=0,
        )
    assert report.deleted == 0 and report.ok
    assert emu.emulator.store.get(other["id"]["meeting_id"]) is not None


def _body(row: list[str]) -> dict[str, Any]:
    _ref, title, start, end, people, organizer, description, _links = row
    return {
        "title": title,
        "description": description,
        "is_all_day": False,
        "start": {"datetime": start},
        "end": {"datetime": end},
        "participants": [
            {"email_address": e, "is_organizer": e == organizer, "status": "accepted"}
            for e in [*people.split(";"), organizer]
        ],
    }


@pytest.mark.anyio
async def test_a_rejected_row_keeps_its_meeting(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(5)))
    data = export(5)
    data[2][2] = "not a time"
    report = await sync(emu, write(source, data), delete_missing=True, max_delete=1.0)
    assert report.rejected == 1 and report.deleted == 0
    assert_attio_matches(emu, export(5))


def ledger_ops(path: Path) -> list[tuple[str, str | None, str | None]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT key, op, old_meeting_id FROM refs WHERE op IS NOT NULL ORDER BY key"
        ).fetchall()
    finally:
        db.close()


FAULTS = ["drop_after_commit", "truncate", "500", "429", "drop"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("contract", "fault"),
    [
        *(("create-only", f) for f in FAULTS),
        ("find-or-create", "drop_after_commit"),
        ("find-or-create", "500"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
async def test_a_fault_on_any_sync_write_ends_with_one_meeting_per_row(
    make_emulator: Any, tmp_path: Path, contract: str, fault: str, method: str
) -> None:
    emu = make_emulator(meetings=0, contract=contract)
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(12)), contract=contract)
    second = export(12, changed=CHANGES, removed={9, 10}, new=2)
    emu.emulator.faults.script([fault, fault], method=method)
    report = await sync(emu, write(source, second), contract=contract, delete_missing=True, max_delete=0.5)
    assert emu.emulator.stats.faults[fault] >= 1
    if not report.ok:  # a step left pending is finished by the next run
        report = await sync(emu, source, contract=contract, delete_missing=True, max_delete=0.5)
    assert report.ok and report.failed == 0, report.format()
    assert_attio_matches(emu, second)
    assert ledger_ops(tmp_path / "m.ledger.sqlite") == []


async def _wait_for_writes(emu: Any, count: int) -> None:
    # The emulator serves from another thread and offers no event for "n writes answered": poll, bounded.
    with anyio.fail_after(60):
        while sum(emu.emulator.stats.count(method=m) for m in ("POST", "PUT", "PATCH", "DELETE")) < count:  # noqa: ASYNC110
            await anyio.sleep(0.002)


KINDS = ("links", "unlink", "title", "start", "participants")


@pytest.mark.parametrize(
    ("sig", "after", "contract"),
    [
        ("KILL", 3, "create-only"),
        ("KILL", 12, "create-only"),
        ("KILL", 25, "create-only"),
        ("KILL", 12, "find-or-create"),
        ("TERM", 10, "create-only"),
    ],
)
def test_a_killed_sync_is_finished_by_the_next_run(
    make_emulator: Any, tmp_path: Path, sig: str, after: int, contract: str
) -> None:
    emu = make_emulator(meetings=0, contract=contract, latency_ms=30)
    source = tmp_path / "m.csv"
    anyio.run(partial(sync, emu, write(source, export(40)), contract=contract))
    second = export(40, changed={i: KINDS[i % 5] for i in range(30)}, removed={30, 31, 32, 33}, new=4)
    write(source, second)
    emu.emulator.stats.reset()
    args = ["--sync", "--delete-missing", "--max-delete", "25", "--contract", contract]
    cmd = [
        sys.executable,
        "-m",
        "connector",
        "load",
        str(source),
        "--base-url",
        emu.url,
        *args,
        "--concurrency",
        "6",
        "-q",
    ]
    env = os.environ | {"ATTIO_API_KEY": emu.token}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        anyio.run(_wait_for_writes, emu, after)
        proc.send_signal(getattr(signal, "SIG" + sig))
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (-signal.SIGKILL if sig == "KILL" else 130), err
    if sig == "KILL":  # killed mid-way: steps were recorded and not finished
        assert ledger_ops(tmp_path / "m.ledger.sqlite")
    rerun = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_attio_matches(emu, second)
    assert ledger_ops(tmp_path / "m.ledger.sqlite") == []
    # the rerun's results hold every row of the input, each once
    lines = results(tmp_path / "m.results.csv")
    assert sorted(int(r["row_number"]) for r in lines if r["row_number"]) == list(range(2, len(second) + 2))


def test_dry_run_prints_the_plan_and_sends_nothing(
    make_emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    anyio.run(sync, emu, write(source, export(12)))
    second = export(12, changed=CHANGES, removed={9, 10}, new=2)
    write(source, second)
    emu.emulator.stats.reset()
    ledger = (tmp_path / "m.ledger.sqlite").read_bytes()
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    args = [
        "load",
        str(source),
        "--sync",
        "--delete-missing",
        "--max-delete",
        "50",
        "--dry-run",
        "--results",
        str(tmp_path / "plan.csv"),
        "--json",
        "-q",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["plan"] == {"unchanged": 5, "update": 2, "replace": 3, "delete": 2, "create": 2}
    assert report["plan_sample"]["replace"] == ["s-3", "s-4", "s-5"]
    assert report["plan_sample"]["delete"] == ["s-10", "s-9"]
    lines = by_ref(results(tmp_path / "plan.csv"))
    assert lines["s-3"]["error"] == "dry run: would replace (title changed)"
    notes = [line["error"] for line in lines.values()]
    assert notes.count("dry run: unchanged, nothing to send") == 5
    assert lines["s-9"]["row_number"] == "" and lines["s-9"]["old_meeting_id"]
    assert emu.emulator.stats.requests == 0
    assert (tmp_path / "m.ledger.sqlite").read_bytes() == ledger
    # the text form: counts, then the first refs of each kind; over the guard: exit 6, a real run deletes none
    assert (
        main(["load", str(source), "--sync", "--delete-missing", "--max-delete", "10", "--dry-run", "-q"])
        == 6
    )
    out = capsys.readouterr().out
    assert "plan: 5 unchanged, 2 to update, 3 to replace, 2 to create, 2 to delete" in out
    assert "  replace: s-3, s-4, s-5" in out and "a real run deletes none" in out
    assert emu.emulator.stats.requests == 0
    assert_attio_matches(emu, export(12))


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_sync_dry_run_leaves_no_trace_beside_the_ledger(
    make_emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    """A dry run must leave the folder as it was: no ``-wal``/``-shm`` beside the WAL ledger, no lock file."""
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    write(source, export(6))
    assert main(["load", str(source), "--sync", "--contract", "create-only", "--base-url", emu.url, "-q"]) == 0
    capsys.readouterr()
    write(source, export(6, changed={1: "title"}, removed={5}))
    before = _listing(tmp_path)
    assert set(before) == {"m.csv", "m.ledger.sqlite", "m.results.csv"}
    dry = ["load", str(source), "--sync", "--delete-missing", "--max-delete", "50", "--dry-run", "--json", "-q"]
    assert main(dry) == 0
    assert json.loads(capsys.readouterr().out)["plan"] == {"unchanged": 4, "replace": 1, "delete": 1}
    assert _listing(tmp_path) == before

    # While a load holds the ledger its -wal and -shm are there: the dry run reads through them (the WAL holds
    # a step the main file lacks) and leaves the ledger and its WAL as they were.
    db = sqlite3.connect(tmp_path / "m.ledger.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("UPDATE refs SET loaded_fields = NULL, fingerprint = 'other' WHERE key = 's-0'")
        running = _listing(tmp_path)
        assert {"m.ledger.sqlite-wal", "m.ledger.sqlite-shm"} <= set(running)
        assert main(dry) == 0
        assert json.loads(capsys.readouterr().out)["plan"] == {"unchanged": 3, "replace": 2, "delete": 1}
        after = _listing(tmp_path)
        assert set(after) == set(running)
        assert {k: after[k] for k in ("m.ledger.sqlite", "m.ledger.sqlite-wal")} == {
            k: running[k] for k in ("m.ledger.sqlite", "m.ledger.sqlite-wal")
        }
    finally:
        db.close()


def test_delete_missing_needs_sync(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    source = write(tmp_path / "m.csv", export(2))
    monkeypatch.setenv("ATTIO_API_KEY", "unused")
    assert main(["load", str(source), "--delete-missing", "--dry-run", "-q"]) == 2
    err = capsys.readouterr().err
    assert "error: --delete-missing needs --sync" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as stop:  # argparse's own usage error
        main(["load", str(source), "--sync", "--max-delete", "120", "--dry-run", "-q"])
    assert stop.value.code == 2
    assert "--max-delete" in capsys.readouterr().err


class Killed(BaseException):
    """Stands in for SIGKILL."""


class KillAfterPost:
    """Delegates to a real client; the POST is carried out, then the loader 'dies' before it hears the answer."""

    def __init__(self, client: AttioClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        await self._client.find_or_create_meeting(body, **kwargs)
        raise Killed


@pytest.mark.anyio
@pytest.mark.parametrize("delete_missing", [True, False])
async def test_a_row_removed_after_its_replace_was_killed_leaves_no_extra_meeting(
    make_emulator: Any, tmp_path: Path, delete_missing: bool
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(4)))
    async with AttioClient(client_config(emu)) as client:
        with pytest.raises(BaseExceptionGroup) as info:  # row 2's new meeting is made, its answer never heard
            await sync(
                emu, write(source, export(4, changed={2: "title"})), KillAfterPost(client), concurrency=1
            )
        assert info.group_contains(Killed)
        assert ledger_ops(tmp_path / "m.ledger.sqlite")[0][:2] == ("s-2", "replace")
        assert len(emu.emulator.store.all_meetings()) == 5
        final = export(4, removed={2})
        report = await sync(emu, write(source, final), client, delete_missing=delete_missing, max_delete=0.5)
    assert report.ok, report.format()
    if delete_missing:
        assert report.deleted == 1
        assert_attio_matches(emu, final)
    else:  # the replace is undone: row 2 keeps its first meeting until --delete-missing
        assert_attio_matches(emu, export(4))
    assert ledger_ops(tmp_path / "m.ledger.sqlite") == []


@pytest.mark.anyio
async def test_a_row_removed_after_its_create_was_killed_is_deleted(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(4)))
    async with AttioClient(client_config(emu)) as client:
        with pytest.raises(BaseExceptionGroup) as info:
            await sync(emu, write(source, export(4, new=1)), KillAfterPost(client), concurrency=1)
        assert info.group_contains(Killed)
        assert len(emu.emulator.store.all_meetings()) == 5
        report = await sync(emu, write(source, export(4)), client, delete_missing=True, max_delete=0.5)
    assert report.ok and report.deleted == 1, report.format()
    assert_attio_matches(emu, export(4))


@pytest.mark.anyio
async def test_an_update_whose_answers_were_lost_is_settled_when_the_row_changes_back(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(4)))
    emu.emulator.faults.script(
        ["drop_after_commit"] * 6, method="PATCH"
    )  # every retry carried out, none heard
    report = await sync(emu, write(source, export(4, changed={1: "links"})))
    assert report.failed == 1 and emu.emulator.faults.pending == 0
    assert [op[:2] for op in ledger_ops(tmp_path / "m.ledger.sqlite")] == [("s-1", "update")]
    # the row goes back to its first links: the company the lost PATCH linked must go
    report = await sync(emu, write(source, export(4)))
    assert report.ok and report.updated == 1, report.format()
    assert_attio_matches(emu, export(4))
    assert ledger_ops(tmp_path / "m.ledger.sqlite") == []


@pytest.mark.anyio
async def test_a_meeting_deleted_in_attio_is_made_again_when_its_row_changes(
    make_emulator: Any, tmp_path: Path, make_raw: Any
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(3)))
    gone = by_ref(results(tmp_path / "m.results.csv"))["s-1"]["meeting_id"]
    assert make_raw(emu).request("DELETE", "/v2/meetings/" + gone).status == 200
    report = await sync(emu, write(source, export(3, changed={1: "links"})))
    assert report.ok and report.replaced == 1, report.format()
    line = by_ref(results(tmp_path / "m.results.csv"))["s-1"]
    assert line["old_meeting_id"] == gone and line["meeting_id"] not in ("", gone)
    assert_attio_matches(emu, export(3, changed={1: "links"}))


@pytest.mark.anyio
async def test_a_ledger_of_another_version_is_refused_and_left_as_it_was(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    async with AttioClient(client_config(emu)) as client:
        await load(write(source, export(3)), client, LoadConfig(contract="create-only"))
    ledger = tmp_path / "m.ledger.sqlite"
    db = sqlite3.connect(ledger)  # as a ledger written before --sync existed
    for column in ("loaded_fields", "links", "op", "old_meeting_id", "op_links", "seen_run"):
        db.execute(f"ALTER TABLE refs DROP COLUMN {column}")
    db.execute("DROP TABLE deleted")
    db.commit()
    db.close()
    posts = emu.emulator.stats.count(method="POST")
    with pytest.raises(ConfigError, match=rf"^ledger {re.escape(str(ledger))} was written by another version"):
        await sync(emu, write(source, export(3, changed={1: "links"})))
    assert emu.emulator.stats.count(method="POST") == posts, "nothing was sent"
    db = sqlite3.connect(ledger)
    assert "seen_run" not in {row[1] for row in db.execute("PRAGMA table_info(refs)")}, "not upgraded"
    assert "deleted" not in {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["title", "links"])
async def test_a_row_edited_after_its_create_was_killed_gets_its_new_content(
    make_emulator: Any, tmp_path: Path, how: str
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(4)))
    async with AttioClient(client_config(emu)) as client:
        with pytest.raises(BaseExceptionGroup) as info:  # row 4 is created from its first body, unheard
            await sync(emu, write(source, export(4, new=1)), KillAfterPost(client), concurrency=1)
        assert info.group_contains(Killed)
        final = export(4, new=1, changed={4: how})
        report = await sync(emu, write(source, final), client)
    assert report.ok and (report.replaced, report.updated) == ((1, 0) if how == "title" else (0, 1)), (
        report.format()
    )
    assert_attio_matches(emu, final)


class KillAfterDelete(KillAfterPost):
    """The DELETE is carried out, then the loader 'dies' before it hears the answer."""

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        return await self._client.find_or_create_meeting(body, **kwargs)

    async def delete_meeting(self, meeting_id: str, **kwargs: Any) -> None:
        await self._client.delete_meeting(meeting_id, **kwargs)
        raise Killed


@pytest.mark.anyio
@pytest.mark.parametrize("carried_out", [True, False])
async def test_a_row_back_in_the_input_after_an_unfinished_delete_has_its_meeting(
    make_emulator: Any, tmp_path: Path, carried_out: bool
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    await sync(emu, write(source, export(5)))
    async with AttioClient(client_config(emu)) as client:
        if carried_out:  # deleted, the answer never heard
            with pytest.raises(BaseExceptionGroup) as info:
                await sync(
                    emu, write(source, export(5, removed={4})), KillAfterDelete(client), delete_missing=True
                )
            assert info.group_contains(Killed)
        else:  # every DELETE refused with a 500 (not carried out), so the step stays pending
            emu.emulator.faults.script(["500"] * 40, method="DELETE")
            report = await sync(emu, write(source, export(5, removed={4})), client, delete_missing=True)
            assert report.failed == 1
            emu.emulator.faults.clear()
        assert [op[:2] for op in ledger_ops(tmp_path / "m.ledger.sqlite")] == [("s-4", "delete")]
        report = await sync(emu, write(source, export(5)), client, delete_missing=True)
    assert report.ok, report.format()
    assert (report.replaced, report.unchanged) == ((1, 4) if carried_out else (0, 5))
    assert_attio_matches(emu, export(5))
    assert ledger_ops(tmp_path / "m.ledger.sqlite") == []
