"""Loads against the emulator: every row once in the results, no duplicate meeting under faults or kills."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from connector.client import AttioClient
from connector.config import ClientConfig, RateLimits, RetryPolicy
from connector.load import LoadConfig, load

CONTRACTS = ["find-or-create", "create-only"]
HEADER = ["external_ref", "title", "start", "end", "participants", "organizer"]
ROOT = Path(__file__).resolve().parents[1]


def rows(n: int, prefix: str = "ref") -> list[list[str]]:
    base = datetime(2031, 1, 6, 9, 0)
    out = []
    for i in range(n):
        start = base + timedelta(hours=3 * i)
        out.append([
            f"{prefix}-{i}", f"Meeting {prefix}-{i}", start.isoformat() + "Z",
            (start + timedelta(minutes=30)).isoformat() + "Z", f"guest{i % 3}@example.org", "host@acme.com",
        ])
    return out


def write_csv(path: Path, data: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *data])
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def client_config(emu: Any, **limits: Any) -> ClientConfig:
    return ClientConfig(
        token=emu.token,
        base_url=emu.url,
        timeout=5,
        retry=RetryPolicy(max_attempts=6, initial_delay=0.01, max_delay=0.05),
        limits=RateLimits(reads_per_second=0, writes_per_second=0, **limits),
    )


async def run(emu: Any, source: Any, client: Any = None, **config: Any) -> Any:
    if client is not None:
        return await load(source, client, LoadConfig(**config))
    async with AttioClient(client_config(emu)) as owned:
        return await load(source, owned, LoadConfig(**config))


def meetings_by_title(emu: Any, prefix: str = "Meeting ") -> Counter[str]:
    return Counter(m["title"] for m in emu.emulator.store.all_meetings() if m["title"].startswith(prefix))


def assert_each_row_once(results: list[dict[str, str]], n_rows: int) -> None:
    numbers = sorted(int(r["row_number"]) for r in results)
    assert numbers == list(range(2, n_rows + 2))


@pytest.mark.anyio
async def test_load_creates_each_row_once_and_a_rerun_skips_them(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=10)
    source = write_csv(tmp_path / "m.csv", rows(12))
    report = await run(emu, source)
    assert (report.rows, report.created, report.found, report.failed) == (12, 12, 0, 0)
    assert report.ok and report.writes == 12
    results = read_results(tmp_path / "m.results.csv")
    assert_each_row_once(results, 12)
    assert {r["outcome"] for r in results} == {"created"}
    by_ref = emu.emulator.store.count_by_external_ref()
    assert all(by_ref[("ref", f"ref-{i}")] == 1 for i in range(12))
    ids = {r["external_ref"]: r["meeting_id"] for r in results}
    assert emu.emulator.store.get(ids["ref-3"])["title"] == "Meeting ref-3"

    posts = emu.emulator.stats.count(method="POST")
    again = await run(emu, source)
    assert (again.skipped, again.created, again.requests) == (12, 0, 0)
    assert emu.emulator.stats.count(method="POST") == posts
    rerun = read_results(tmp_path / "m.results.csv")
    assert {r["external_ref"]: r["meeting_id"] for r in rerun} == ids


@pytest.mark.anyio
async def test_a_meeting_that_already_exists_is_found(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(3)
    async with AttioClient(client_config(emu)) as client:
        pre = await client.find_or_create_meeting({
            "external_ref": "ref-1", "title": "Meeting ref-1", "description": "", "is_all_day": False,
            "start": {"datetime": data[1][2]}, "end": {"datetime": data[1][3]},
            "participants": [{"email_address": "host@acme.com", "is_organizer": True, "status": "accepted"}],
        })
        # Found means: created before this load claimed the row (less the clock-skew allowance).
        report = await run(emu, write_csv(tmp_path / "m.csv", data), client, clock_skew=0.0)
    assert (report.created, report.found) == (2, 1)
    found = [r for r in read_results(tmp_path / "m.results.csv") if r["outcome"] == "found"]
    assert [(r["external_ref"], r["meeting_id"]) for r in found] == [("ref-1", pre["id"]["meeting_id"])]


@pytest.mark.anyio
async def test_bad_rows_are_rejected_and_duplicates_sent_once(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(7)
    data[1][4] = "not-an-email"
    data[2][3] = data[2][2]  # end == start
    data[3][1] = ""
    data[5] = list(data[4])  # the same meeting again
    data[6][0] = data[0][0]  # repeats ref-0, but another meeting
    report = await run(emu, write_csv(tmp_path / "m.csv", data))
    assert (report.created, report.rejected, report.skipped) == (2, 4, 1)
    assert not report.ok
    results = {int(r["row_number"]): r for r in read_results(tmp_path / "m.results.csv")}
    assert_each_row_once(list(results.values()), 7)
    assert (results[3]["column"], results[3]["error"]) == ("participants", "invalid_row: 'not-an-email' is not an email address: has no @")
    assert (results[4]["column"], results[4]["error"]) == ("end", "invalid_row: end must be after start")
    assert (results[5]["column"], results[5]["error"]) == ("title", "invalid_row: title is required")
    assert results[7]["outcome"] == "skipped"
    assert results[7]["error"] == "duplicate: external_ref repeats row 6; sent once"
    assert (results[8]["outcome"], results[8]["column"], results[8]["error"]) == (
        "rejected",
        "external_ref",
        "invalid_row: external_ref ref-0 repeats row 2 with different content (title, start, end differ); "
        "give each meeting its own ref",
    )
    assert emu.emulator.stats.count(method="POST") == 2
    assert meetings_by_title(emu) == {"Meeting ref-0": 1, "Meeting ref-4": 1}


@pytest.mark.anyio
async def test_a_repeated_ref_is_told_apart_again_on_a_rerun(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(3)
    source = write_csv(tmp_path / "m.csv", [*data, list(data[1]), [data[2][0], *rows(5)[4][1:]]])
    first = await run(emu, source)
    assert (first.created, first.skipped, first.rejected) == (3, 1, 1)
    # Rows 2-4 are done now; their repeats are still told apart by content, against this run's first row.
    again = await run(emu, source)
    assert (again.created, again.skipped, again.rejected, again.requests) == (0, 4, 1, 0)
    results = {int(r["row_number"]): r for r in read_results(tmp_path / "m.results.csv")}
    assert results[5]["error"] == "duplicate: external_ref repeats row 3; sent once"
    assert results[6]["error"].startswith("invalid_row: external_ref ref-2 repeats row 4 with different content (title,")


@pytest.mark.anyio
async def test_dry_run_tells_a_duplicate_from_a_conflicting_ref(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(3)
    data[0][4] = "ana@example.org; ben@example.org"
    same = [*data[0][:4], "Ben <ben@example.org>; ana@example.org", data[0][5]]  # same people, another order
    other = [data[1][0], "Another meeting", *data[1][2:]]
    async with AttioClient(client_config(emu)) as client:
        report = await load(write_csv(tmp_path / "m.csv", [*data, same, other]), client,
                            LoadConfig(dry_run=True, results_path=tmp_path / "dry.csv"))
    assert (report.rows, report.rejected, report.skipped) == (5, 1, 1)
    results = {int(r["row_number"]): r for r in read_results(tmp_path / "dry.csv")}
    assert results[5]["error"] == "duplicate: external_ref repeats row 2; would be sent once"
    assert results[6]["outcome"] == "rejected" and results[6]["column"] == "external_ref"
    assert results[6]["error"] == (
        "invalid_row: external_ref ref-1 repeats row 3 with different content (title differ); give each meeting its own ref"
    )
    assert report.errors[0]["row_number"] == 6
    assert emu.emulator.stats.requests == 0


@pytest.mark.anyio
async def test_dry_run_sends_nothing(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(5)
    data[0][4] = "bad@"
    async with AttioClient(client_config(emu)) as client:
        report = await load(write_csv(tmp_path / "m.csv", data), client, LoadConfig(dry_run=True))
    assert report.dry_run and (report.rows, report.rejected) == (5, 1)
    assert len(report.sample_bodies) == 3 and report.sample_bodies[0]["data"]["external_ref"] == "ref-1"
    assert emu.emulator.stats.requests == 0
    assert not (tmp_path / "m.ledger.sqlite").exists()


@pytest.mark.anyio
@pytest.mark.parametrize("contract", CONTRACTS)
@pytest.mark.parametrize(
    "faults", [["429", "429"], ["500", "503"], ["drop"], ["drop_after_commit"], ["truncate", "drop_after_commit", "500"]]
)
async def test_faults_lose_no_row_and_create_no_duplicate(
    make_emulator: Any, tmp_path: Path, contract: str, faults: list[str]
) -> None:
    emu = make_emulator(meetings=0, contract=contract)
    emu.emulator.faults.script(faults, method="POST")
    report = await run(emu, write_csv(tmp_path / "m.csv", rows(8)), contract=contract, concurrency=4)
    assert (report.created, report.found, report.failed, report.rejected) == (8, 0, 0, 0), report.format()
    assert emu.emulator.faults.pending == 0
    assert_each_row_once(read_results(tmp_path / "m.results.csv"), 8)
    assert meetings_by_title(emu) == {f"Meeting ref-{i}": 1 for i in range(8)}


@pytest.mark.anyio
async def test_a_row_failing_after_every_retry_is_failed_with_the_api_error(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    emu.emulator.faults.script(["500"] * 6, method="POST")
    async with AttioClient(client_config(emu)) as client:
        report = await run(emu, write_csv(tmp_path / "m.csv", rows(1)), client, concurrency=1)
    assert (report.failed, report.created) == (1, 0)
    (result,) = read_results(tmp_path / "m.results.csv")
    assert result["outcome"] == "failed"
    assert result["error"] == "api_error/internal_server_error: An unexpected error occurred."
    # The next run sends it again and it goes through.
    again = await run(emu, tmp_path / "m.csv")
    assert again.created == 1 and meetings_by_title(emu) == {"Meeting ref-0": 1}


@pytest.mark.anyio
async def test_max_errors_stops_the_load_early(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = rows(40)
    for row in data[:5]:
        row[1] = ""
    report = await run(emu, write_csv(tmp_path / "m.csv", data), max_errors=2, batch_size=10)
    assert report.aborted is not None and "--max-errors" in report.aborted
    assert report.rejected == 3 and report.rows < 40 and not report.ok


class Killed(BaseException):
    """Stands in for SIGKILL: raised after the POST was carried out, before its answer is recorded."""


class KillAfter:
    """A client whose ``n``-th find-or-create is carried out by the server, then the loader 'dies'."""

    def __init__(self, client: AttioClient, n: int) -> None:
        self._client, self._n, self.stats = client, n, client.stats

    async def find_or_create_meeting(self, body: Any, **kwargs: Any) -> Any:
        meeting = await self._client.find_or_create_meeting(body, **kwargs)
        self._n -= 1
        if self._n == 0:
            raise Killed
        return meeting

    def list_meetings(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.list_meetings(*args, **kwargs)


@pytest.mark.anyio
@pytest.mark.parametrize("contract", CONTRACTS)
async def test_a_killed_run_resumed_creates_no_duplicate(make_emulator: Any, tmp_path: Path, contract: str) -> None:
    emu = make_emulator(meetings=0, contract=contract)
    source = write_csv(tmp_path / "m.csv", rows(10))
    async with AttioClient(client_config(emu)) as client:
        with pytest.raises(BaseExceptionGroup) as info:
            await load(source, KillAfter(client, 4), LoadConfig(contract=contract, concurrency=2))
        assert info.group_contains(Killed)
    ledger = sqlite3.connect(tmp_path / "m.ledger.sqlite")
    in_flight = ledger.execute("SELECT COUNT(*) FROM refs WHERE state = 'in_flight'").fetchone()[0]
    ledger.close()
    assert in_flight >= 1  # at least the killed row: carried out by Attio, unknown to the ledger

    report = await run(emu, source, contract=contract)
    assert report.failed == 0 and report.created + report.found + report.skipped == 10
    assert meetings_by_title(emu) == {f"Meeting ref-{i}": 1 for i in range(10)}
    assert_each_row_once(read_results(tmp_path / "m.results.csv"), 10)
    if contract == "create-only":
        assert report.requests - report.writes >= 1  # looked before re-sending


@pytest.mark.parametrize("contract", CONTRACTS)
def test_sigkill_midway_then_rerun_creates_no_duplicate(make_emulator: Any, tmp_path: Path, contract: str) -> None:
    emu = make_emulator(meetings=0, contract=contract, latency_ms=40)
    n = 60
    source = write_csv(tmp_path / "m.csv", rows(n))
    env = os.environ | {"ATTIO_API_KEY": emu.token}
    cmd = [sys.executable, "-m", "connector", "load", str(source), "--base-url", emu.url, "--contract", contract,
           "--concurrency", "6", "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it once a few meetings exist (bounded: the whole load would take about 2 s).
        anyio.run(_wait_for_posts, emu, 10)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert 0 < len(meetings_by_title(emu)) < n, "the kill came too late to test anything"

    report = anyio.run(_rerun, emu, source, contract)
    assert report.failed == 0 and report.rejected == 0
    assert meetings_by_title(emu) == {f"Meeting ref-{i}": 1 for i in range(n)}
    assert_each_row_once(read_results(tmp_path / "m.results.csv"), n)


async def _rerun(emu: Any, source: Path, contract: str) -> Any:
    return await run(emu, source, contract=contract)


async def _wait_for_posts(emu: Any, count: int) -> None:
    # The emulator serves from another thread and offers no event for "n requests answered": poll, bounded.
    with anyio.fail_after(60):
        while emu.emulator.stats.count(method="POST") < count:  # noqa: ASYNC110
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_parquet_results_file(make_emulator: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    emu = make_emulator(meetings=0)
    data = rows(4)
    data[2][1] = ""
    report = await run(emu, write_csv(tmp_path / "m.csv", data), results_path=tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == [
        "row_number", "external_ref", "outcome", "meeting_id", "error", "column", "attempts", "old_meeting_id"
    ]
    assert sorted(table.column("row_number").to_pylist()) == [2, 3, 4, 5]
    assert Counter(table.column("outcome").to_pylist()) == {"created": 3, "rejected": 1}
    assert report.results_path == tmp_path / "out.parquet"


@pytest.mark.anyio
async def test_a_row_attio_refuses_is_failed_with_its_type_code_and_message(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    data = [[*row, ""] for row in rows(2)]
    data[0][-1] = "8a1f2b3c-0000-4000-8000-000000000000:5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"  # unknown object ID
    report = await run(emu, write_csv(tmp_path / "m.csv", data, [*HEADER, "linked_records"]))
    assert (report.failed, report.created) == (1, 1)
    failed = [r for r in read_results(tmp_path / "m.results.csv") if r["outcome"] == "failed"]
    assert failed[0]["row_number"] == "2"
    assert failed[0]["error"] == (
        'invalid_request_error/validation_type: Object with slug or ID "8a1f2b3c-0000-4000-8000-000000000000" was not found.'
    )


@pytest.mark.anyio
async def test_a_bad_token_stops_the_load_with_the_error_itself(make_emulator: Any, tmp_path: Path) -> None:
    from connector.errors import AuthenticationError

    emu = make_emulator(meetings=0)
    async with AttioClient(client_config(emu).with_(token="wrong")) as client:
        with pytest.raises(AuthenticationError):
            await load(write_csv(tmp_path / "m.csv", rows(3)), client, LoadConfig())


@pytest.mark.anyio
@pytest.mark.parametrize("concurrency", [1, 3], ids=["one-worker", "three-workers"])
async def test_attio_unreachable_stops_the_load_after_one_failed_row_per_worker(tmp_path: Path, concurrency: int) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = ClientConfig(
        token="t",
        base_url=f"http://127.0.0.1:{port}",
        timeout=5,
        retry=RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02),
        limits=RateLimits(reads_per_second=0, writes_per_second=0),
    )
    source = write_csv(tmp_path / "m.csv", rows(40))
    async with AttioClient(config) as client:
        report = await load(source, client, LoadConfig(concurrency=concurrency))
    assert report.unreachable and not report.ok
    assert report.aborted is not None and report.aborted.startswith("Attio unreachable")
    # Stopped, not waited out: the rows still in the results stream when it stops are in the ledger as failed.
    assert report.created == report.found == 0 and 1 <= report.failed < 40
    results = read_results(tmp_path / "m.results.csv")
    assert len(results) == report.rows and {r["outcome"] for r in results} == {"failed"}
    assert all(r["error"].startswith("transport/ConnectError") for r in results)


@pytest.mark.anyio
async def test_failures_that_are_attio_refusing_rows_do_not_stop_the_load(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=0)
    bad = "8a1f2b3c-0000-4000-8000-000000000000:5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"  # unknown object: a 400
    data = [[*row, bad] for row in rows(12)]
    report = await run(emu, write_csv(tmp_path / "m.csv", data, [*HEADER, "linked_records"]), concurrency=2)
    assert (report.failed, report.unreachable, report.aborted) == (12, False, None)
