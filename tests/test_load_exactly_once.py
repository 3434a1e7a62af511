"""Exactly once on a create-only API: the loader never relies on the server to de-duplicate.

Each test reproduces a way a row could get two meetings (or two rows one meeting) against the emulator in
create-only mode, over loopback HTTP.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from extract_helpers import kill_when
from test_load import (
    ROOT,
    client_config,
    meetings_by_title,
    read_results,
    rows,
    write_csv,
)

from connector.cli import main
from connector.client import AttioClient, SyncAttioClient
from connector.config import ClientConfig
from connector.errors import ConfigError
from connector.load import LoadConfig, load
from connector.load.ledger import Ledger
from connector.load.mapping import Mapping
from connector.load.rows import Prepared, RowMapper

HEADER = ["external_ref", "title", "start", "end", "participants", "organizer", "description", "linked_records"]
COMPANY = "companies:5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"
OTHER_COMPANY = "companies:6f4c2c5b-1d8f-4b4f-8c2a-3e7a2dab8f21"


def row(ref: str, title: str = "Standup", start: str = "2031-01-06T09:00:00Z", description: str = "", linked: str = "") -> list[str]:
    end = start[:11] + "09:30:00Z"
    return [ref, title, start, end, "a@example.org", "host@acme.com", description, linked]


class FaultBefore:
    """A client that scripts one emulator fault right before its ``n``-th POST (so it hits exactly that one)."""

    def __init__(self, client: AttioClient, emu: Any, n: int, kind: str) -> None:
        self._client, self._emu, self._n, self._kind = client, emu, n, kind
        self.stats, self.config = client.stats, client.config

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        self._n -= 1
        if self._n == 0:
            self._emu.emulator.faults.script([self._kind], method="POST")
        return await self._client.find_or_create_meeting(body, **kwargs)

    def list_meetings(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.list_meetings(*args, **kwargs)


class Killed(BaseException):
    """Stands in for SIGKILL."""


class KillAfterPost:
    """The POST is carried out, then the loader 'dies' before it hears the answer."""

    def __init__(self, client: AttioClient) -> None:
        self._client, self.stats = client, client.stats

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        await self._client.find_or_create_meeting(body, **kwargs)
        raise Killed

    def list_meetings(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.list_meetings(*args, **kwargs)


class KillOnLookup:
    """The loader 'dies' in its reconciliation lookup, before sending anything."""

    def __init__(self, client: AttioClient) -> None:
        self.stats = client.stats

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        raise AssertionError("a row that may have been created was sent without a lookup")

    async def list_meetings(self, *args: Any, **kwargs: Any) -> Any:
        raise Killed
        yield  # pragma: no cover - makes this an async generator


def created_titles(emu: Any) -> Counter[str]:
    return Counter(m["title"] for m in emu.emulator.store.created)


# ------------------------------------------------------------------------------------------- bug 1


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["drop_after_commit", "truncate"])
@pytest.mark.parametrize("contract", [None, "find-or-create", "create-only"])
async def test_any_contract_setting_on_a_create_only_api_makes_no_duplicate(
    make_emulator: Any, tmp_path: Path, contract: str | None, fault: str
) -> None:
    # The server carries the POST out, the answer is lost; whatever --contract says, no second meeting.
    emu = make_emulator(meetings=0, contract="create-only")
    emu.emulator.faults.script([fault], method="POST")
    config = LoadConfig(concurrency=1) if contract is None else LoadConfig(concurrency=1, contract=contract)
    async with AttioClient(client_config(emu)) as client:
        report = await load(write_csv(tmp_path / "m.csv", rows(3)), client, config)
    assert emu.emulator.faults.pending == 0
    assert (report.created, report.found, report.failed) == (3, 0, 0), report.format()
    assert created_titles(emu) == {f"Meeting ref-{i}": 1 for i in range(3)}
    assert report.requests - report.writes >= 1  # the lookup before the second send


# ------------------------------------------------------------------------------------------- bug 2


def body_of(data: list[str]) -> dict[str, Any]:
    mapper = RowMapper(Mapping(), HEADER)
    item = mapper.map_row(2, data)
    assert isinstance(item, Prepared)
    return item.body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("existing", "ours"),
    [
        (row("other", description="team A"), row("r1", description="team B")),
        (row("other", linked=COMPANY), row("r1", linked=OTHER_COMPANY)),
        (row("other"), row("r1", linked=COMPANY)),
    ],
    ids=["description", "other_linked_record", "missing_linked_record"],
)
async def test_a_look_alike_meeting_is_not_taken_for_the_row(
    make_emulator: Any, tmp_path: Path, existing: list[str], ours: list[str]
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = write_csv(tmp_path / "m.csv", [ours], HEADER)
    async with AttioClient(client_config(emu)) as client:
        # Same title, times and participants, made outside this ledger (another tool, a colleague's load).
        other = await client.find_or_create_meeting(body_of(existing))
        # Our POST is dropped before the server sees it: the lookup runs and must not take the other one.
        report = await load(source, FaultBefore(client, emu, 1, "drop"), LoadConfig(concurrency=1, contract="create-only"))
    assert (report.created, report.found, report.failed) == (1, 0, 0), report.format()
    (result,) = read_results(tmp_path / "m.results.csv")
    assert result["meeting_id"] != other["id"]["meeting_id"]
    assert len(emu.emulator.store.created) == 2


@pytest.mark.anyio
async def test_two_identical_rows_with_different_refs_get_two_meetings(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = write_csv(tmp_path / "m.csv", [row("r1"), row("r2")], HEADER)
    async with AttioClient(client_config(emu)) as client:
        # r2's POST is dropped unseen; its lookup finds r1's meeting, which the ledger holds for r1.
        report = await load(source, FaultBefore(client, emu, 2, "drop"), LoadConfig(concurrency=1, contract="create-only"))
    assert (report.created, report.failed) == (2, 0), report.format()
    results = {r["external_ref"]: r for r in read_results(tmp_path / "m.results.csv")}
    assert results["r1"]["meeting_id"] != results["r2"]["meeting_id"]
    assert len(emu.emulator.store.created) == 2


@pytest.mark.anyio
async def test_a_meeting_with_more_linked_records_than_sent_still_matches(make_emulator: Any, tmp_path: Path) -> None:
    # Attio links participants' people (and companies) itself: the sent records need only be among them.
    emu = make_emulator(meetings=0, contract="create-only")
    emu.emulator.faults.script(["drop_after_commit"], method="POST")
    source = write_csv(tmp_path / "m.csv", [row("r1", description="d", linked=COMPANY)], HEADER)
    async with AttioClient(client_config(emu)) as client:
        report = await load(source, client, LoadConfig(concurrency=1, contract="create-only"))
    (meeting,) = emu.emulator.store.created
    assert len(meeting["linked_records"]) > 1
    assert report.created == 1 and report.failed == 0


# ------------------------------------------------------------------------------------------- bug 3


def test_the_mapper_sends_milliseconds_at_most() -> None:
    mapper = RowMapper(Mapping(), ["external_ref", "title", "start", "end", "participants"])
    item = mapper.map_row(2, ["r", "t", "2031-01-06T09:00:00.000250Z", "2031-01-06T10:30:00.123456+01:00", "a@b.org"])
    assert isinstance(item, Prepared)
    assert item.body["start"] == {"datetime": "2031-01-06T09:00:00Z"}
    assert item.body["end"] == {"datetime": "2031-01-06T10:30:00.123+01:00"}


@pytest.mark.anyio
@pytest.mark.parametrize("start", ["2031-01-06T09:00:00.000250Z", "2031-01-06T09:00:00.123456Z"])
async def test_microsecond_timestamps_do_not_defeat_the_lookup(make_emulator: Any, tmp_path: Path, start: str) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    emu.emulator.faults.script(["drop_after_commit"], method="POST")
    source = write_csv(tmp_path / "m.csv", [row("r1", start=start)], HEADER)
    async with AttioClient(client_config(emu)) as client:
        report = await load(source, client, LoadConfig(concurrency=1, contract="create-only"))
    assert (report.created, report.failed) == (1, 0)
    assert len(emu.emulator.store.created) == 1


# ------------------------------------------------------------------------------------------- bug 4


@pytest.mark.anyio
@pytest.mark.parametrize("contract", ["find-or-create", "create-only"])
async def test_a_row_edited_between_runs_is_found_by_the_body_first_sent(
    make_emulator: Any, tmp_path: Path, contract: str
) -> None:
    emu = make_emulator(meetings=0, contract="create-only")
    source = tmp_path / "m.csv"
    config = LoadConfig(concurrency=1, contract=contract)
    async with AttioClient(client_config(emu)) as client:
        # Run 1 creates v1 and dies before the answer; run 2 (row edited: title and time) dies in its lookup;
        # run 3 must still find v1, in v1's time window, rather than create v2.
        for title, start, wrap in [
            ("v1", "2031-01-06T09:00:00Z", KillAfterPost),
            ("v2", "2031-01-07T09:00:00Z", KillOnLookup),
        ]:
            write_csv(source, [row("r1", title=title, start=start)], HEADER)
            with pytest.raises(BaseExceptionGroup) as info:
                await load(source, wrap(client), config)
            assert info.group_contains(Killed)
        report = await load(source, client, config)
    assert (report.created, report.failed) == (1, 0), report.format()
    (meeting,) = emu.emulator.store.created
    assert meeting["title"] == "v1"
    (result,) = read_results(tmp_path / "m.results.csv")
    assert result["meeting_id"] == meeting["id"]["meeting_id"]
    ledger = sqlite3.connect(tmp_path / "m.ledger.sqlite")
    assert ledger.execute("SELECT COUNT(*) FROM sent").fetchone()[0] == 0  # bodies dropped once done
    ledger.close()


# ------------------------------------------------------------------------------------------- bug 5


def test_sigterm_stops_the_load_like_ctrl_c(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0, contract="create-only", latency_ms=40)
    n = 60
    source = write_csv(tmp_path / "m.csv", rows(n))
    results = tmp_path / "out.parquet"
    env = os.environ | {"ATTIO_API_KEY": emu.token}
    cmd = [sys.executable, "-m", "connector", "load", str(source), "--base-url", emu.url, "--contract", "create-only",
           "--concurrency", "6", "--results", str(results), "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        anyio.run(_wait_for_posts, emu, 10)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.part"))
    import pyarrow.parquet as pq

    done = pq.read_table(results).column("row_number").to_pylist()
    assert 0 < len(done) < n and len(set(done)) == len(done)
    ledger = sqlite3.connect(tmp_path / "m.ledger.sqlite")
    assert ledger.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()[0] == 0
    ledger.close()

    async def rerun() -> Any:
        async with AttioClient(client_config(emu)) as client:
            return await load(source, client, LoadConfig(contract="create-only", results_path=results))

    report = anyio.run(rerun)
    assert report.failed == 0 and report.created + report.skipped == n
    assert meetings_by_title(emu) == {f"Meeting ref-{i}": 1 for i in range(n)}
    assert sorted(pq.read_table(results).column("row_number").to_pylist()) == list(range(2, n + 2))


async def _wait_for_posts(emu: Any, count: int) -> None:
    # The emulator serves from another thread and offers no event for "n requests answered": poll, bounded.
    with anyio.fail_after(60):
        while emu.emulator.stats.count(method="POST") < count:  # noqa: ASYNC110
            await anyio.sleep(0.005)


# ------------------------------------------------------------------------------------------- bug 6


def test_a_second_load_on_the_same_ledger_is_refused_with_exit_2(
    emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    source = write_csv(tmp_path / "m.csv", rows(2))
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    busy = Ledger(tmp_path / "m.ledger.sqlite")  # stands in for a load running in another process
    try:
        assert main(["load", str(source), "--base-url", emulator.url, "-q"]) == 2
        err = capsys.readouterr().err
        assert "is in use by another load" in err and len(err.strip().splitlines()) == 1
        assert emulator.emulator.stats.count(method="POST") == 0
        with pytest.raises(ConfigError, match="in use by another load"):
            anyio.run(_load_once, emulator, source)
    finally:
        busy.close()
    assert main(["load", str(source), "--base-url", emulator.url, "-q"]) == 0  # free again once closed


async def _load_once(emu: Any, source: Path) -> Any:
    async with AttioClient(client_config(emu)) as client:
        return await load(source, client, LoadConfig())




# ------------------------------------------------------------------------------------------- bug 7


@pytest.mark.parametrize("contract", ["find-or-create", "create-only"])
def test_a_killed_load_marks_maybe_sent_only_rows_it_sent_and_the_rerun_creates_the_others(
    make_emulator: Any, tmp_path: Path, monkeypatch: Any, capsys: Any, contract: str
) -> None:
    """Rows are claimed in groups ahead of their sends: a kill leaves rows claimed but never sent. Those must
    not look "maybe sent", or the next run would look for them and adopt a look-alike meeting made by hand."""
    emu = make_emulator(meetings=0, contract=contract)
    n = 40
    source = write_csv(tmp_path / "m.csv", rows(n))
    ledger_path = tmp_path / "m.ledger.sqlite"
    env = os.environ | {"ATTIO_API_KEY": emu.token}
    # 2 writes/s: the kill after the 4th POST lands with the first claim group (16 rows) mostly unsent.
    cmd = [sys.executable, "-m", "connector", "load", str(source), "--base-url", emu.url, "--contract", contract,
           "--write-rate", "2", "--concurrency", "4", "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when(proc, lambda: emu.emulator.stats.count(method="POST") >= 4)

    sent = {title.removeprefix("Meeting ") for title in meetings_by_title(emu)}
    with sqlite3.connect(ledger_path) as db:
        states = {key: (state, maybe) for key, state, maybe in db.execute("SELECT key, state, maybe_sent FROM refs")}
        unsent_bodies = db.execute(
            "SELECT COUNT(*) FROM sent JOIN refs USING (key) WHERE refs.maybe_sent = 0"
        ).fetchone()[0]
    assert 4 <= len(sent) < n, (sent, states)
    maybe = {ref for ref, (_, flag) in states.items() if flag}
    # The one POST that may have been on its way when the kill came is the only row maybe sent and not seen.
    assert len(maybe - sent) <= 1, (maybe, sent)
    never_sent = sorted(ref for ref, (state, flag) in states.items() if state == "in_flight" and not flag)
    assert never_sent and not set(never_sent) & sent, states
    assert unsent_bodies == 0  # nothing to look for was kept for them

    # Someone makes a meeting just like one of the never-sent rows by hand (another external_ref).
    hand = never_sent[0]
    i = int(hand.removeprefix("ref-"))
    body = {
        "external_ref": f"by-hand-{i}",
        "title": f"Meeting ref-{i}",
        "description": "",
        "start": {"datetime": rows(n)[i][2]},
        "end": {"datetime": rows(n)[i][3]},
        "is_all_day": False,
        "participants": [
            {"email_address": "host@acme.com", "is_organizer": True, "status": "accepted"},
            {"email_address": f"guest{i % 3}@example.org", "is_organizer": False, "status": "accepted"},
        ],
    }
    with SyncAttioClient(ClientConfig(token=emu.token, base_url=emu.url)) as client:
        by_hand = client.find_or_create_meeting(body)["id"]["meeting_id"]

    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    code = main(["load", str(source), "--base-url", emu.url, "--contract", contract, "--write-rate", "0", "-q"])
    assert code == 0, capsys.readouterr().err
    results = {r["external_ref"]: r for r in read_results(tmp_path / "m.results.csv")}
    assert results[hand]["outcome"] == "created" and results[hand]["meeting_id"] != by_hand
    counts = meetings_by_title(emu)
    assert counts.pop(f"Meeting {hand}") == 2  # the hand-made one and the row's own
    assert counts == {f"Meeting ref-{k}": 1 for k in range(n) if k != i}
