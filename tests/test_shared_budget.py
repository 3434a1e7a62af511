"""Processes on one shared read budget keep to their shares as peers come and go, and leave it when done."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest
import redis
from extract_helpers import client_config
from redis_helpers import RedisServer, other_peers, redis_server

from connector import AttioClient, MeetingQuery
from connector.config import RateLimits
from connector.extract import ExtractConfig
from connector.extract.run import ExtractRun
from connector.ratelimit import SHARE_HEADROOM, RateLimiter, RedisBudget, budget_key

__all__ = ["redis_server"]  # the fixture, imported for pytest


@pytest.mark.anyio
async def test_an_extract_follows_its_share_down_as_peers_come_and_leaves_the_budget_when_done(
    make_emulator: Any, redis_server: RedisServer
) -> None:
    # Alone when it plans, it plans cursors for the whole budget (~300 pages: 29 cursors at 200 ms, more on a
    # loaded machine); 3 peers come before its cursors start. Its first grant counts them: it goes on with
    # cursors for a quarter of the budget, not all of them.
    emu = make_emulator(meetings=3000, latency_ms=200)
    limits = RateLimits(reads_per_second=96, max_in_flight=32)
    config = client_config(emu, limits=limits, rate_limit_url=redis_server.url)
    peers = f"{budget_key(emu.url, emu.token)}:read:peers"
    store = redis.Redis.from_url(redis_server.url, decode_responses=True)
    async with AttioClient(config) as client:
        run = ExtractRun(client, ExtractConfig(query=MeetingQuery(limit=10)))
        await run.plan()
        planned = run.slices
        async with other_peers(redis_server, emu, 3):
            ids = [i async for _, batch in run.deliveries() for i in batch.column("meeting_id").to_pylist()]
            assert client.limiter is not None and client.limiter.shared is not None
            me = client.limiter.shared.peer
            assert store.zscore(peers, me) is None, "done with the read budget: its peers have its part now"
            assert store.zcard(peers) == 3
    assert planned >= 16 and run.slices <= math.ceil(planned / 4), (planned, run.slices)
    assert len(ids) == len(set(ids)) == 3000, "every meeting once"
    assert emu.emulator.stats.count(status=429) == 0


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
async def test_a_process_holds_its_part_of_the_in_flight_cap_on_a_shared_budget(
    redis_server: RedisServer,
) -> None:
    # 4 peers on the budget: of 16 slots a process holds ceil(16 x SHARE_HEADROOM / 4) at once, so that one
    # with more tasks than its peers does not take more of the budget (grants go first come first served).
    limits = RateLimits(reads_per_second=0, max_in_flight=16)
    limiter = RateLimiter(limits, shared=RedisBudget(redis_server.url, "k"))
    others = [RedisBudget(redis_server.url, "k") for _ in range(3)]
    await limiter.open()
    try:
        for other in others:
            await other.open()
            await other.peers("read")
        assert limiter.shared is not None and await limiter.shared.peers("read") == 4
        part = math.ceil(16 * SHARE_HEADROOM / 4)
        assert part < 16 and await peak_in_flight(limiter, part) == part
        for other in others:
            await other.aclose()
        await peak_in_flight(limiter, 1, tasks=1)  # a grant counts the peers again: alone now
        assert await peak_in_flight(limiter, 16) == 16, "alone, all of its cap"
        assert await peak_in_flight(RateLimiter(limits), 16) == 16, "a budget of its own: all of its cap"
    finally:
        await limiter.aclose()
        for other in others:
            await other.aclose()
