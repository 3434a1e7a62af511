"""The limiter's promise: never more than the budget in any one-second window, whatever the arrival pattern."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pyarrow.parquet as pq
import pytest
import redis
from extract_helpers import client_config
from hypothesis import given, settings
from hypothesis import strategies as st
from load_helpers import meeting_rows, write_rows
from redis_helpers import RedisServer, free_port, redis_server
from trio.testing import MockClock

from connector import AttioClient, RateLimitError, RateLimitStoreError
from connector.cli import main
from connector.config import RateLimits, RetryPolicy
from connector.ratelimit import (
    PEER_TTL,
    RateLimiter,
    RedisBudget,
    WindowBudget,
    budget_key,
    smoothing_period,
)

__all__ = ["redis_server"]  # the fixture, imported for pytest


def max_in_any_window(times: list[float], period: float) -> int:
    """The largest number of grants in a half-open window [t, t + period) starting at any grant.

    Grants a whole window apart are computed by adding periods, so the edge is judged with a nanosecond
    of slack for floating-point rounding.
    """
    times = sorted(times)
    return max((bisect.bisect_left(times, t + period - 1e-9) - i for i, t in enumerate(times)), default=0)


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(min_value=0.3, max_value=250),
    gaps=st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=600),
    pauses=st.lists(st.tuples(st.integers(0, 599), st.floats(0, 2)), max_size=5),
)
def test_budget_never_exceeded_in_any_window(
    rate: float, gaps: list[float], pauses: list[tuple[int, float]]
) -> None:
    budget = WindowBudget(rate)
    now, not_before, grants = 0.0, 0.0, []
    pause_at = dict(pauses)
    for i, gap in enumerate(gaps):
        now += gap
        if i in pause_at:
            not_before = max(not_before, now + pause_at[i])
        at = budget.reserve(now, not_before)
        assert at >= now and at >= not_before
        grants.append(at)
    assert grants == sorted(grants), "grants are first come, first served"
    assert max_in_any_window(grants, 1.0) <= max(1, int(rate)), grants
    if rate < 1:
        assert all(b - a >= 1 / rate - 1e-9 for a, b in itertools.pairwise(grants))


def test_budget_grants_at_full_rate_when_asked_all_at_once() -> None:
    budget = WindowBudget(90, period=1.0)
    grants = [budget.reserve(0.0) for _ in range(270)]
    assert grants[:90] == [0.0] * 90
    assert grants[90] == pytest.approx(1.0) and grants[180] == pytest.approx(2.0)
    assert max_in_any_window(grants, 1.0) == 90


def test_budget_is_spread_evenly() -> None:
    budget = WindowBudget(96)
    grants = [budget.reserve(0.0) for _ in range(192)]
    assert (budget.capacity, budget.period) == (1, pytest.approx(1 / 96))
    assert grants[0] == 0.0 and grants[1] == pytest.approx(1 / 96)
    assert max_in_any_window(grants, 1.0) == 96 and max_in_any_window(grants, 0.25) == 24
    assert smoothing_period(24) == pytest.approx(1 / 24) and smoothing_period(0.5) == 1.0


def most_in_a_wall_clock_second(times: list[float]) -> int:
    """The most requests that fall in one of Attio's fixed seconds [n, n + 1)."""
    counts: dict[int, int] = {}
    for t in times:
        counts[math.floor(t)] = counts.get(math.floor(t), 0) + 1
    return max(counts.values(), default=0)


def jitter_tolerance(rate: int) -> float:
    """The spread of delays (grant to Attio's count) under which evenly spaced grants never put more than 100
    requests in one of Attio's seconds: those counted in [n, n + 1) were granted within 1 + spread seconds,
    and at most ``rate * (1 + spread)`` grants fit there."""
    return (100 - rate) / rate


@settings(max_examples=300, deadline=None)
@given(
    rate=st.sampled_from([96, 97, 98]),
    count=st.integers(1, 400),
    gaps=st.lists(st.floats(min_value=0, max_value=0.05), min_size=1, max_size=30),
    delays=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60),
    phase=st.floats(min_value=0, max_value=1),
    late_from=st.floats(min_value=0, max_value=4),
)
def test_even_grants_stay_within_attios_seconds_while_the_jitter_is_within_tolerance(
    rate: int, count: int, gaps: list[float], delays: list[float], phase: float, late_from: float
) -> None:
    budget, now, counted = WindowBudget(rate), phase, []
    spread = jitter_tolerance(rate) * (1 - 1e-6)
    for i in range(count):  # the arrival gaps and the delays repeat: any pattern, kept small for shrinking
        now += gaps[i % len(gaps)]
        at = budget.reserve(now)
        # Sent late, on a slow way, counted late: any mix within the spread, and the worst case too: those
        # granted from ``late_from`` to the end of its second are as late as can be (into the next second).
        late = late_from <= at < math.floor(late_from) + 1
        counted.append(at + (1.0 if late else delays[i % len(delays)]) * spread)
    assert most_in_a_wall_clock_second(counted) <= 100


@pytest.mark.parametrize("rate", [96, 97, 98])
def test_past_the_jitter_tolerance_a_second_can_hold_more_than_100(rate: int) -> None:
    # The read budget's default stays at 96 (docs/contract-choices.md): it absorbs 41.7 ms of spread between
    # requests on their way to Attio's count; 98 would absorb only 20.4 ms.
    spread = jitter_tolerance(rate) * 1.01
    budget = WindowBudget(rate)
    grants = [budget.reserve(1 - spread) for _ in range(3 * rate)]
    counted = [g + (spread if g < 1 else 0.0) for g in grants]  # the first ones slowed just into second 1
    assert most_in_a_wall_clock_second(counted) == 101
    assert round(jitter_tolerance(rate) * 1000, 1) == {96: 41.7, 97: 30.9, 98: 20.4}[rate]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "anyio_backend", [pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}), id="fake-clock")]
)
async def test_limiter_shares_one_budget_and_pauses_everyone_after_a_429() -> None:
    # Trio's MockClock is the limiter's clock (anyio's time) and its sleeps' clock: whenever every task waits,
    # time jumps to the next wake-up, so the start times below are the grants' own, whatever the machine's load.
    limiter = RateLimiter(RateLimits(reads_per_second=10, writes_per_second=5, max_in_flight=100))
    started: list[tuple[str, float]] = []

    async def request(kind: str) -> None:
        async with limiter.slot(kind):  # type: ignore[arg-type]
            started.append((kind, anyio.current_time()))

    t0 = anyio.current_time()
    limiter.pause("read", 0.3)
    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(request, "read")
        for _ in range(6):
            tg.start_soon(request, "write")
    reads = [t - t0 for kind, t in started if kind == "read"]
    writes = [t - t0 for kind, t in started if kind == "write"]
    assert reads == pytest.approx([0.3 + k / 10 for k in range(25)]), "the pause held every reader, then 10/s"
    assert writes == pytest.approx([k / 5 for k in range(6)]), "a read pause does not hold writes: 5/s from 0"
    assert max_in_any_window(reads, 1.0) == 10 and max_in_any_window(writes, 1.0) == 5


@pytest.mark.anyio
@pytest.mark.parametrize(
    "anyio_backend", [pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}), id="fake-clock")]
)
async def test_requests_woken_late_queue_again_rather_than_go_at_once() -> None:
    """An event loop held up for 0.3 s (Arrow's import holding the GIL) wakes every request due meanwhile at
    the same moment; sent together, they would land in one of Attio's seconds beside the requests on time.
    They queue again instead: the starts stay a whole interval apart, and every request still goes."""
    import trio

    limiter = RateLimiter(RateLimits(reads_per_second=10, max_in_flight=100))
    started: list[float] = []

    async def request() -> None:
        async with limiter.slot("read"):
            started.append(anyio.current_time())

    async def hold_up_the_loop() -> None:
        await anyio.sleep(0.45)
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, MockClock)
        clock.jump(0.3)  # the requests due at 0.5, 0.6 and 0.7 s wake at 0.75 s

    t0 = anyio.current_time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(hold_up_the_loop)
        for _ in range(20):
            tg.start_soon(request)
    starts = sorted(t - t0 for t in started)
    assert len(starts) == 20
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.1 - 1e-9, starts
    assert starts[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert starts[-3:] == pytest.approx([2.0, 2.1, 2.2]), "the late three queued behind the others"


async def peak_in_flight(limiter: RateLimiter, expected: int, tasks: int = 40) -> int:
    """The most of ``tasks`` requests inside ``limiter``'s slots at once; each holds its slot until ``expected``
    have entered (then they all go), so a cap above ``expected`` shows in the peak."""
    inside = peak = entered = 0
    release = anyio.Event()

    async def request() -> None:
        nonlocal inside, peak, entered
        async with limiter.slot("read"):
            inside += 1
            entered += 1
            peak = max(peak, inside)
            if entered >= expected:
                release.set()
            await release.wait()
            inside -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(tasks):
            tg.start_soon(request)
    assert entered == tasks
    return peak


@pytest.mark.anyio
async def test_in_flight_cap_holds() -> None:
    assert (
        await peak_in_flight(RateLimiter(RateLimits(reads_per_second=0, max_in_flight=3)), 3, tasks=10) == 3
    )


# ------------------------------------------------------------------------------- shared budget (Redis)


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


@pytest.mark.anyio
async def test_reservations_from_two_processes_queue_on_one_clock(redis_server: RedisServer) -> None:
    first, second = RedisBudget(redis_server.url, "k"), RedisBudget(redis_server.url, "k")
    await first.open()
    await second.open()
    try:
        # One grant every 10 s: six callers of two budgets get waits of about 0, 10, ..., 50 s, whoever asks.
        waits = await asyncio.gather(*(b.reserve("read", 10.0) for b in [first, second] * 3))
        for k, wait in enumerate(sorted(waits)):
            assert wait is not None and 10 * k - 1 <= wait <= 10 * k + 1, sorted(waits)
        assert await first.reserve("write", 10.0) == pytest.approx(0, abs=0.5), "reads and writes are apart"
        assert await second.reserve("read", 10.0, confirm=True) is None, "no pause: a grant taken stands"
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.anyio
async def test_processes_on_one_budget_each_plan_for_their_share_of_it(redis_server: RedisServer) -> None:
    limits = RateLimits(reads_per_second=96, writes_per_second=24)
    a, b, c = (RateLimiter(limits, shared=RedisBudget(redis_server.url, "k")) for _ in range(3))
    elsewhere = RateLimiter(limits, shared=RedisBudget(redis_server.url, "another-token"))
    for limiter in (a, b, c, elsewhere):
        await limiter.open()
    store = _redis(redis_server.url)
    try:
        assert await RateLimiter(limits).share("read") == 96, "a local budget is all this process's"
        assert await a.share("read") == 96, "alone so far"
        assert await b.share("read") == 48
        async with c.slot("read"):  # a grant taken is a heartbeat: c counts as a peer from then on
            pass
        assert await a.share("read") == 32
        assert await elsewhere.share("read") == 96, "another token's budget has peers of its own"
        assert await c.share("write") == 24, "readers are no writers' peers"
        # A peer whose heartbeat ran out (a killed process) counts no more, and is dropped.
        now = store.time()
        store.zadd("k:read:peers", {"gone": now[0] * 1_000_000 + now[1] - 1})
        assert await a.share("read") == 32 and store.zscore("k:read:peers", "gone") is None
        ttl = store.pttl("k:read:peers")
        assert 0 < ttl <= PEER_TTL * 1000, "the peers themselves expire once all are gone"
        await b.aclose()
        assert await a.share("read") == 48, "a closed budget leaves its peers"
        assert store.zcard("k:write:peers") == 1
        await c.aclose()
        assert store.exists("k:write:peers", "k:read:peers") == 1
    finally:
        for limiter in (a, b, c, elsewhere):
            await limiter.aclose()


@pytest.mark.anyio
async def test_a_pause_held_by_one_limiter_holds_every_other(redis_server: RedisServer) -> None:
    limits = RateLimits(reads_per_second=0, writes_per_second=0)
    one, other = (RateLimiter(limits, shared=RedisBudget(redis_server.url, "k")) for _ in range(2))
    await one.open()
    await other.open()
    try:
        await one.hold("read", 30)
        await one.hold("read", 5)  # a shorter pause never cuts a longer one
        assert 29 <= (await other.shared.reserve("read", 0) or 0) <= 30  # type: ignore[union-attr]
        assert 29 <= (await other.shared.reserve("read", 0, confirm=True) or 0) <= 30  # type: ignore[union-attr]
        assert await other.shared.reserve("write", 0) == 0  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="finite"):
            await one.hold("read", math.inf)
    finally:
        await one.aclose()
        await other.aclose()


@pytest.mark.anyio
async def test_a_429_pauses_the_shared_budget_under_a_hash_of_the_token(
    emulator: Any, redis_server: RedisServer
) -> None:
    config = client_config(emulator, rate_limit_url=redis_server.url, retry=RetryPolicy(max_attempts=1))
    emulator.emulator.faults.script(["429"])
    async with AttioClient(config) as client:
        with pytest.raises(RateLimitError):
            await client.list_page()
        assert client.stats.rate_limited == 1
        await client.list_page()
    store = _redis(redis_server.url)
    key = budget_key(emulator.url, emulator.token)
    assert sorted(store.keys("*")) == [f"{key}:read"]
    budget = store.hgetall(f"{key}:read")
    assert set(budget) == {"next", "paused"}, "the 429's pause is in Redis, for every process"
    assert emulator.token not in key and all(emulator.token not in value for value in budget.values())


@pytest.mark.anyio
async def test_redis_lost_mid_run_fails_the_request_clearly(emulator: Any, redis_server: RedisServer) -> None:
    config = client_config(
        emulator, rate_limit_url=redis_server.url, retry=RetryPolicy(max_attempts=2, initial_delay=0)
    )
    async with AttioClient(config) as client:
        await client.list_page()
        sent = emulator.emulator.stats.requests
        redis_server.stop()
        with pytest.raises(
            RateLimitStoreError, match=rf"shared rate budget at redis://127\.0\.0\.1:{redis_server.port}/0"
        ):
            await client.list_page()
        assert client.stats.retries == 1, "retried like a dropped connection"
    assert emulator.emulator.stats.requests == sent, "nothing is sent without a grant"


def test_redis_unreachable_at_start_is_one_line_exit_4_without_the_password(
    emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    code = main(
        [
            "extract",
            "--base-url",
            emulator.url,
            "--output",
            str(tmp_path / "m.parquet"),
            "--rate-limit-url",
            url,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and len(err) == 1, err
    assert f"redis://***@127.0.0.1:{url.rsplit(':', 1)[1]}" in err[0] and "CONNECTOR_RATE_LIMIT_URL" in err[0]
    assert "hunter2" not in err[0] and emulator.token not in err[0]
    assert emulator.emulator.stats.requests == 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("127.0.0.1:{port}/99", "DB index is out of range"),
        ("ops:pw-secret-9@127.0.0.1:{port}/0", "username-password"),
    ],
)
def test_a_redis_that_refuses_the_urls_database_or_password_is_exit_2(
    emulator: Any,
    redis_server: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    reason: str,
) -> None:
    # Redis answers and refuses: a mistake in the URL, which no retry fixes (exit 4 would say "wait").
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = "redis://" + path.format(port=redis_server.port)
    out = tmp_path / "m.parquet"
    code = main(["extract", "--base-url", emulator.url, "--output", str(out), "--rate-limit-url", url])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and reason in err[0], err
    assert "pw-secret-9" not in err[0] and "refused the connection" in err[0]
    assert emulator.emulator.stats.requests == 0 and not out.exists()


# Four quarters of the emulator's 2024-2026: disjoint windows of one workspace.
QUARTERS = [
    ("2024-01-01", "2024-10-01"),
    ("2024-10-01", "2025-07-01"),
    ("2025-07-01", "2026-04-01"),
    ("2026-04-01", "2027-01-01"),
]


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_four_processes_share_one_budget_without_a_429(
    make_emulator: Any, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Each process alone would send 96 reads/s: together 384/s, 429s galore against the emulator's 125.
    # Shared, they send 96/s: the 30 % headroom absorbs an emulator thread that a loaded machine stalls (it
    # counts requests when it gets to them, so a stall bunches them into one of its seconds); a budget that
    # leaked even a third more than its share would still draw 429s here.
    emu = make_emulator(meetings=3000, read_rate=125, latency_ms=150)
    env = os.environ | {"ATTIO_API_KEY": emu.token, "CONNECTOR_RATE_LIMIT_URL": redis_server.url}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "connector",
                "extract",
                "--base-url",
                emu.url,
                "--output",
                str(tmp_path / f"q{i}.parquet"),
                "--window",
                "start",
                "--ends-from",
                start,
                "--starts-before",
                end,
                "--page-size",
                "10",
                "--json",
                "--quiet",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, (start, end) in enumerate(QUARTERS)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    assert emu.emulator.stats.count(status=429) == 0
    assert [r["rate_limited"] for r in reports] == [0, 0, 0, 0]
    assert sum(r["requests"] for r in reports) == emu.emulator.stats.count(method="GET") > 300
    ids = [
        i
        for n in range(4)
        for i in pq.read_table(tmp_path / f"q{n}.parquet", columns=["meeting_id"])
        .column("meeting_id")
        .to_pylist()
    ]
    assert len(ids) == len(set(ids)) == 3000, "every meeting once, across the four windows"


def test_a_rate_limit_url_flag_that_is_no_redis_url_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "t0ken")
    out = str(tmp_path / "m.parquet")
    assert main(["extract", "--output", out, "--rate-limit-url", "http://:pw-1@redis:6379"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "invalid --rate-limit-url: must be a Redis URL" in err[0] and "pw-1" not in err[0]
    )


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_two_loads_share_one_write_budget_without_a_429(
    make_emulator: Any, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Each load alone would send 24 writes/s: together 48/s, far over the emulator's 32 (a third of headroom over
    # the shared 24/s, as the four-process read test keeps, so that a starved machine's late arrivals stay inside).
    emu = make_emulator(write_rate=32, latency_ms=150)
    env = os.environ | {"ATTIO_API_KEY": emu.token, "CONNECTOR_RATE_LIMIT_URL": redis_server.url}
    procs = []
    for name in ("a", "b"):
        source = write_rows(tmp_path / f"{name}.csv", meeting_rows(80, prefix=name))
        cmd = [sys.executable, "-m", "connector", "load", str(source), "--base-url", emu.url, "-q", "--json"]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        report = json.loads(out)
        assert (report["created"], report["rate_limited"]) == (80, 0)
    assert emu.emulator.stats.count(status=429) == 0
    assert emu.emulator.stats.count(method="POST") == 160, "every row sent once, none retried"
