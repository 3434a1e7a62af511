"""Processes on one shared read budget plan for their shares, grow as peers leave, and leave it when done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
from connector.http import first_send
from connector.ratelimit import budget_key

__all__ = ["redis_server"]  # the fixture, imported for pytest


@asynccontextmanager
async def planned_run(emu: Any, redis_server: RedisServer, limit: int) -> AsyncIterator[ExtractRun]:
    """An extract of pages of ``limit`` planned on the emulator token's shared budget (96 reads/s, 32 in flight)."""
    limits = RateLimits(reads_per_second=96, max_in_flight=32)
    async with AttioClient(client_config(emu, limits=limits, rate_limit_url=redis_server.url)) as client:
        run = ExtractRun(client, ExtractConfig(query=MeetingQuery(limit=limit)))
        await run.plan()
        yield run


async def delivered_ids(run: ExtractRun) -> list[str]:
    """The meeting ids a planned run delivers."""
    return [i async for _, batch in run.deliveries() for i in batch.column("meeting_id").to_pylist()]


@pytest.mark.anyio
async def test_an_extract_on_a_shared_budget_opens_cursors_for_its_share(
    make_emulator: Any, redis_server: RedisServer
) -> None:
    # 300 ms a request at 96 reads/s: alone, an extract of ~400 pages wants its 32 cursors in flight (or as
    # many windows of at least MIN_WINDOW_PAGES as its range probe's estimate allows); with 63 other
    # processes on the token's budget it plans for its share, 1.5 reads/s (a few cursors, hence few
    # windows, even if a loaded machine makes the measured round trip seconds long).
    emu = make_emulator(meetings=4000, latency_ms=300)
    async with planned_run(emu, redis_server, 10) as run:
        alone = run.slices
    async with other_peers(redis_server, emu, 63), planned_run(emu, redis_server, 10) as run:
        shared = run.slices
    assert alone >= 16 and shared < alone / 2, (alone, shared)
    assert emu.emulator.stats.count(status=429) == 0


@pytest.mark.anyio
async def test_an_extract_opens_more_cursors_when_its_peers_leave(
    make_emulator: Any, redis_server: RedisServer
) -> None:
    # 15 other processes share the budget when it plans: a few cursors for its share (6 reads/s). They leave
    # before its cursors start; its next grant counts it alone, and it opens cursors for all of the budget.
    emu = make_emulator(meetings=2000, latency_ms=400)
    async with other_peers(redis_server, emu, 15) as others, planned_run(emu, redis_server, 50) as run:
        planned = run.slices
        for other in others:
            await other.aclose()
        ids = await delivered_ids(run)
    assert 1 < planned < 16 and run.slices == 32, (planned, run.slices)
    assert len(ids) == len(set(ids)) == 2000, (
        "every meeting once, across the windows split for the new cursors"
    )
    assert emu.emulator.stats.count(status=429) == 0


@pytest.mark.anyio
async def test_an_extract_leaves_the_budgets_peers_when_its_cursors_end(
    make_emulator: Any, redis_server: RedisServer
) -> None:
    # Three peers share the budget throughout (heartbeats that outlast the run, however slow the machine): it
    # plans for a quarter of it and keeps to that. Its last page fetched, it leaves the peers at once, while
    # its client is still open (writing the output): the others' next grants count one peer fewer.
    emu = make_emulator(meetings=3000, latency_ms=200)
    peers = f"{budget_key(emu.url, emu.token)}:read:peers"
    store = redis.Redis.from_url(redis_server.url, decode_responses=True)
    seconds, micros = store.time()
    store.zadd(peers, {f"peer-{n}": (seconds + 3600) * 1_000_000 + micros for n in range(3)})
    async with planned_run(emu, redis_server, 10) as run:
        planned = run.slices
        limiter = run.client.limiter
        assert limiter is not None and limiter.shared is not None
        ids = await delivered_ids(run)
        assert store.zscore(peers, limiter.shared.peer) is None, (
            "done with the read budget: its peers have its part"
        )
        assert store.zcard(peers) == 3
    assert run.slices == planned, "the share did not change"
    assert len(ids) == len(set(ids)) == 3000, "every meeting once"
    assert emu.emulator.stats.count(status=429) == 0


@pytest.mark.anyio
async def test_an_extract_counts_the_peers_that_joined_while_its_range_probe_was_out(
    make_emulator: Any, redis_server: RedisServer
) -> None:
    # Processes started together join the budget within a round trip of each other: 15 others join once this
    # extract's probe has been granted and sent (1 s a request), and it plans for its share of the 16, not for
    # all of the budget as a count taken before the probe would (32 cursors).
    emu = make_emulator(meetings=4000, latency_ms=1000)
    limits = RateLimits(reads_per_second=96, max_in_flight=32)
    async with AttioClient(client_config(emu, limits=limits, rate_limit_url=redis_server.url)) as client:
        run = ExtractRun(client, ExtractConfig(query=MeetingQuery(limit=10)))

        async def others_join(sent: anyio.Event) -> None:
            await sent.wait()
            async with other_peers(redis_server, emu, 15):
                await planned.wait()

        planned = anyio.Event()
        with first_send() as sent:
            async with anyio.create_task_group() as tg:
                tg.start_soon(others_join, sent)
                await run.plan()
                planned.set()
    assert 1 < run.slices < 16, run.slices
    assert emu.emulator.stats.count(status=429) == 0
