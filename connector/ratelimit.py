"""Client-side rate limiting: read and write budgets shared by every task of one client, plus an in-flight cap.

The budget is a sliding window: at most ``capacity`` requests start in any window of ``period`` seconds
(by default one grant every 1/rate seconds, so traffic is smooth), hence at most the rate in any second.
That is strictly stronger than Attio's fixed per-second windows, so a client within its budget never
meets a 429 of its own making. A request whose turn came while the event loop was held up (woken more
than :data:`LATE_GRANT` after its grant) queues once more rather than go with every other late one at once. A 429 (someone else used the budget, or Attio lowered it) pauses every
task of the client until the server's ``Retry-After``, not only the task that got it.

:class:`WindowBudget` is the pure core (time in, time out) so that its guarantee can be property-tested;
:class:`RateLimiter` puts it to work with anyio.

Shared budget (``rate_limit_url``): several processes or machines using one token share its read budget,
write budget, call-recording create budget and 429 pauses through Redis (:class:`RedisBudget`). Each kind of request is one Redis hash,
keyed by a SHA-256 of the API root and the token (never the token), holding the next free grant time and
the end of any pause. One Lua call *reserves* a grant: ``at = max(now, next, paused); next = at + 1/rate``,
and the caller sleeps until ``at``; a caller that slept checks once more whether a 429 paused everyone
meanwhile (the local limiter's rule). Times come from Redis' own clock (``TIME``), so hosts whose clocks
disagree still space their requests evenly. Each process sharing a budget is one of its *peers* (a sorted
set beside the hash, refreshed and counted by every reservation, expiring :data:`PEER_TTL` after the last,
left on close or when done with it): :meth:`RateLimiter.share` is the budget divided among them, which an
extract plans its cursors for (:func:`read_share`) and grows as peers leave
(:meth:`RateLimiter.share_changed`).

Why own Lua rather than a library (measured with ``bench/shared_budget.py``, 4 processes x 32 tasks on
one Redis, budget 96/s; figures in docs/scaling.md): pyrate-limiter 4.5's Redis GCRA and
``limits``' moving window answer *try now?*; a refused caller sleeps and asks again, so under contention
each grant costs several Redis calls and waking callers race in bursts at the window edge, and both take
the time from the client's clock (pyrate-limiter's Redis bucket says so in a TODO). Neither knows a shared
pause after a 429, which would need a second key and a second call anyway. A reservation is one call per
request, first come first served, evenly spaced, on one clock, and it is the same rule as
:class:`WindowBudget` with a capacity of one, so the window promise above carries over.

Redis down or unreachable: a clear error, not a fallback. At the start the client pings Redis and stops
with :class:`~connector.errors.RateLimitStoreError` (exit 4) naming the URL without its password; a Redis
lost mid-run fails the request like a dropped connection (retried by the retry policy, then exit 4). A Redis
that answers but refuses the URL's password or database number is a configuration error (exit 2). A
local fallback would have to guess how many processes share the token: guessing high is the 429 storm
the shared budget exists to prevent, guessing low silently slows every worker, and neither is visible.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, get_args

import anyio

from .config import RateLimits, masked_url
from .errors import ConfigError, RateLimitStoreError

if TYPE_CHECKING:
    from .client import MeetingReader

__all__ = [
    "PEER_TTL",
    "RateLimiter",
    "RedisBudget",
    "RequestKind",
    "WindowBudget",
    "budget_key",
    "read_share",
    "smoothing_period",
]

# "write-recordings": creating a call recording, which Attio limits to 1 request/s on its own (CONTRACT.md §13).
RequestKind = Literal["read", "write", "write-recordings"]


def smoothing_period(rate: float) -> float:
    """Even spacing: one grant every ``1 / floor(rate)`` seconds (one per second below a rate of 1).

    Bursts are what earn 429s at full budget: Attio counts per wall-clock second, and jitter on the way
    can carry part of a burst into the next second. Evenly spaced requests reach Attio evenly, and any
    one-second window still holds at most ``floor(rate)`` grants.
    """
    return 1.0 / math.floor(rate) if rate >= 1 else 1.0


class WindowBudget:
    """At most ``capacity`` grants in any half-open window of ``period`` seconds; grants in FIFO order."""

    def __init__(self, rate: float, period: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if period is None:
            period = smoothing_period(rate)
        if rate * period >= 1:
            self.capacity = math.floor(rate * period)
            self.period = period
        else:  # slower than one per period: one grant every 1/rate seconds
            self.capacity = 1
            self.period = 1.0 / rate
        self._grants: deque[float] = deque(maxlen=self.capacity)

    def reserve(self, now: float, not_before: float = 0.0) -> float:
        """Record a grant and return its time: the earliest moment >= ``now`` that keeps the window promise."""
        at = max(now, not_before)
        if self._grants:
            at = max(at, self._grants[-1])  # FIFO: never before an earlier grant
            if len(self._grants) == self.capacity:
                at = max(at, self._grants[0] + self.period)
        self._grants.append(at)
        return at


def budget_key(base_url: str, token: str) -> str:
    """The Redis key prefix of one token's budgets: a SHA-256 of the API root and the token, never the token."""
    digest = hashlib.sha256(f"{base_url}\n{token}".encode()).hexdigest()
    return f"connector:budget:{digest}"


# Microseconds on Redis' clock. KEYS: the budget's hash, its peers. ARGV: interval (us), mode ('reserve' or
# 'confirm'), this process's peer id, the peer TTL (us). Returns {wait in us, or -1 from 'confirm' when no
# pause began meanwhile (go now, the grant taken before still stands); the peers, 0 from 'confirm'}. A
# reservation is also the heartbeat of this process as a peer and its count of peers: no background task,
# no extra round trip, and a process hears of a peer that came or left with its next grant.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'next', 'paused')
local paused = tonumber(v[2]) or 0
if ARGV[2] == 'confirm' and paused <= now then
  return {-1, 0}
end
local peers = 0
if ARGV[2] == 'reserve' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))
  redis.call('ZADD', KEYS[2], string.format('%.0f', now + tonumber(ARGV[4])), ARGV[3])
  redis.call('PEXPIRE', KEYS[2], math.floor(tonumber(ARGV[4]) / 1000))
  peers = redis.call('ZCARD', KEYS[2])
end
local at = math.max(now, tonumber(v[1]) or 0, paused)
redis.call('HSET', KEYS[1], 'next', string.format('%.0f', at + tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[1], math.floor((at - now) / 1000) + 60000)
return {at - now, peers}
"""

# ARGV: pause (us). Every reservation of this kind waits until then; a shorter pause never cuts a longer one.
_PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused')) or 0
if untl > paused then
  redis.call('HSET', KEYS[1], 'paused', string.format('%.0f', untl))
  redis.call('PEXPIRE', KEYS[1], math.floor((untl - now) / 1000) + 60000)
end
return 0
"""


# KEYS: the peers of one budget (a sorted set: peer id -> expiry, us on Redis' clock). ARGV: this process's
# peer id, the TTL (us). Drops the expired, (re)registers this process, returns how many share the budget.
_PEERS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000))
return redis.call('ZCARD', KEYS[1])
"""

# A process counts as a peer of a budget for this long after its last reservation (or its count of peers).
PEER_TTL = 10.0

# How late a grant (shared or not) may still be used. Grants are sent within this much of their time, so a
# wall-clock second holds at most ``floor(rate) * (1 + LATE_GRANT) + 1`` of them: 98 at the default 96 reads/s
# (a local request late a second time goes anyway, so that a loop late at every turn still sends).
LATE_GRANT = 0.025


class RedisBudget:
    """One token's read and write budgets and 429 pauses, shared through Redis by every process using it.

    Redis errors become :class:`~connector.errors.RateLimitStoreError`, naming the URL without credentials.
    """

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        # This process among the budget's peers: random, so that no host name or pid goes to Redis.
        self.peer = uuid.uuid4().hex
        self._redis: Any = None
        self._reserve: Any = None
        self._pause: Any = None
        self._peers: Any = None
        self._errors: tuple[type[Exception], ...] = (OSError,)  # with redis' own errors once imported
        # The peers of each budget as the latest reservation or count saw them, and who waits for a change.
        self._counted: dict[RequestKind, int] = {}
        self._recount: dict[RequestKind, anyio.Event] = {}

    def __repr__(self) -> str:
        return f"RedisBudget(url={masked_url(self.url)!r})"

    def _error(self, exc: Exception) -> RateLimitStoreError:
        return RateLimitStoreError(
            f"the shared rate budget at {masked_url(self.url)} cannot be used: {type(exc).__name__}"
            + (f" ({exc})" if "://" not in str(exc) and "@" not in str(exc) else "")
        )

    async def open(self) -> None:
        """Connect and ping; a Redis that cannot be reached is a clear error now, not a slow one later."""
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import AuthenticationError, RedisError, ResponseError
        except ImportError:
            raise ConfigError(
                "rate_limit_url needs the redis package: pip install 'connector[redis]'"
            ) from None
        self._errors = (RedisError, OSError)
        try:
            self._redis = aioredis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=10)
        except ValueError as exc:  # redis-py's message for a bad URL names no credentials
            raise ConfigError(f"rate_limit_url {masked_url(self.url)!r} is not a Redis URL: {exc}") from None
        self._reserve = self._redis.register_script(_RESERVE_LUA)
        self._pause = self._redis.register_script(_PAUSE_LUA)
        self._peers = self._redis.register_script(_PEERS_LUA)
        try:
            # One round trip: the ping, and the scripts loaded now rather than at their first call (an EVALSHA
            # that Redis answers NOSCRIPT, then SCRIPT LOAD, then EVALSHA again: two more round trips before
            # the first grant, on a CPU that four processes starting together keep busy).
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.ping()
                for script in (self._reserve, self._pause, self._peers):
                    pipe.script_load(script.script)
                await pipe.execute()
        except (AuthenticationError, ResponseError) as exc:
            # Redis answered, and refused what the URL asks (a password, a database number it does not have):
            # a configuration mistake that waiting will not fix. Redis' own message names no credentials.
            await self.aclose()
            raise ConfigError(
                f"the shared rate budget at {masked_url(self.url)} refused the connection: {exc}"
                " (check the password and the database number in the URL)"
            ) from None
        except (RedisError, OSError) as exc:
            await self.aclose()
            raise self._error(exc) from None

    async def leave(self, kind: RequestKind) -> None:
        """Leave the peers of the ``kind`` budget now (done with it); a later reservation joins them again."""
        await self._run(lambda client: client.zrem(self._peers_key(kind), self.peer))

    async def aclose(self) -> None:
        """Leave the budget's peers and close the connection pool."""
        if self._redis is not None:
            client, self._redis = self._redis, None
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for kind in get_args(RequestKind):
                        pipe.zrem(self._peers_key(kind), self.peer)
                    await pipe.execute()
            except self._errors:
                pass  # a Redis gone by now forgets this peer anyway when its TTL runs out
            finally:
                await client.aclose()

    def _peers_key(self, kind: RequestKind) -> str:
        """The sorted set of the processes sharing this budget of ``kind`` (beside its hash)."""
        return f"{self.key}:{kind}:peers"

    async def _call(self, script: Any, keys: list[str], *args: Any) -> Any:
        return await self._run(lambda client: script(keys=keys, args=list(args), client=client))

    async def _run(self, call: Callable[[Any], Awaitable[Any]]) -> Any:
        """``call(the Redis client)``, its errors translated (the one place that does)."""
        if self._redis is None:
            raise RateLimitStoreError("the shared rate budget is closed")
        try:
            return await call(self._redis)
        except self._errors as exc:
            raise self._error(exc) from None

    def _count(self, kind: RequestKind, peers: int) -> None:
        """Note how many peers Redis counted; wake whoever waits for a change (:meth:`recount`)."""
        if peers and peers != self._counted.get(kind):
            self._counted[kind] = peers
            waiting = self._recount.pop(kind, None)
            if waiting is not None:
                waiting.set()

    async def reserve(self, kind: RequestKind, interval: float, *, confirm: bool = False) -> float | None:
        """Seconds until this caller's grant (after any pause); with ``confirm``, None when no pause began."""
        wait, peers = await self._call(
            self._reserve,
            [f"{self.key}:{kind}", self._peers_key(kind)],
            round(interval * 1e6),
            "confirm" if confirm else "reserve",
            self.peer,
            round(PEER_TTL * 1e6),
        )
        self._count(kind, int(peers))
        return None if int(wait) < 0 else int(wait) / 1e6

    async def peers(self, kind: RequestKind) -> int:
        """How many processes share this budget of ``kind`` now, this one included (and registered by asking).

        A peer is a process that reserved a grant, or asked this, within the last :data:`PEER_TTL` seconds
        and has not closed its budget since.
        """
        peers = int(await self._call(self._peers, [self._peers_key(kind)], self.peer, round(PEER_TTL * 1e6)))
        self._count(kind, peers)
        return peers

    def counted(self, kind: RequestKind) -> int:
        """The peers of the ``kind`` budget as the latest reservation or count saw them (0: none yet)."""
        return self._counted.get(kind, 0)

    async def recount(self, kind: RequestKind, known: int) -> int:
        """Wait until a reservation of ``kind`` (or a count) sees other than ``known`` peers; return how many.

        Every reservation counts the peers, so a process hears of one that came or left with its next grant.
        """
        while self._counted.get(kind, known) == known:
            await self._recount.setdefault(kind, anyio.Event()).wait()
        return self._counted[kind]

    async def pause(self, kind: RequestKind, seconds: float) -> None:
        """Hold every process's requests of this kind for ``seconds``."""
        await self._call(self._pause, [f"{self.key}:{kind}"], round(seconds * 1e6))


class RateLimiter:
    """Budgets for reads, writes and call-recording creates, a cap on requests in flight, and a pause after a 429.

    With ``shared`` (a :class:`RedisBudget`), the budgets and the pause are those in Redis, shared with
    every other process using the token; the in-flight cap stays per process.
    """

    def __init__(
        self, limits: RateLimits, clock: Callable[[], float] | None = None, shared: RedisBudget | None = None
    ) -> None:
        self.limits = limits
        self.shared = shared
        self._clock = clock or anyio.current_time
        rates = {kind: self.rate(kind) for kind in get_args(RequestKind)}
        self._budgets: dict[str, WindowBudget | None] = {
            kind: WindowBudget(rate) if rate else None for kind, rate in rates.items()
        }
        self._paused_until = dict.fromkeys(self._budgets, 0.0)
        self._in_flight = anyio.CapacityLimiter(limits.max_in_flight)

    def rate(self, kind: RequestKind) -> float:
        """The whole budget of ``kind`` per second (0: unlimited)."""
        limits = self.limits
        return float(
            {
                "read": limits.reads_per_second,
                "write": limits.writes_per_second,
                "write-recordings": limits.recording_writes_per_second,
            }[kind]
        )

    async def share(self, kind: RequestKind) -> float:
        """This process's share of the ``kind`` budget per second: all of it, or its part among the peers.

        What an extract plans its cursors for: four processes on one budget each plan for a quarter of it,
        so they open a quarter of the windows (each window costs a partly filled last page).
        """
        rate = self.rate(kind)
        if self.shared is None or not rate:
            return rate
        return rate / max(1, await self.shared.peers(kind))

    async def share_changed(self, kind: RequestKind, share: float) -> float:
        """Wait until this process's :meth:`share` of the ``kind`` budget is no longer ``share`` (a peer came or
        left, as this process's reservations see it); return the new share. Only for a shared budget."""
        rate = self.rate(kind)
        if self.shared is None or not rate:
            raise RuntimeError("a budget of this process alone, or none: its share never changes")
        return rate / await self.shared.recount(kind, max(1, round(rate / share)))

    async def leave(self, kind: RequestKind) -> None:
        """Done with the ``kind`` budget for now: on a shared one, its peers take this process's part at once
        (their next grant counts one peer fewer), not once it has closed or its heartbeat has run out."""
        if self.shared is not None:
            await self.shared.leave(kind)

    async def open(self) -> None:
        """Connect to the shared budget, if there is one."""
        if self.shared is not None:
            await self.shared.open()

    async def aclose(self) -> None:
        """Disconnect from the shared budget, if there is one."""
        if self.shared is not None:
            await self.shared.aclose()

    def pause(self, kind: RequestKind, seconds: float) -> None:
        """Hold every request of this kind in this process for ``seconds``."""
        if not math.isfinite(seconds):
            raise ValueError("a pause must be finite")
        until = self._clock() + max(0.0, seconds)
        self._paused_until[kind] = max(self._paused_until[kind], until)

    async def hold(self, kind: RequestKind, seconds: float) -> None:
        """After a 429: pause every request of this kind for ``seconds``, in every process sharing the budget."""
        if self.shared is None:
            self.pause(kind, seconds)
        elif not math.isfinite(seconds):
            raise ValueError("a pause must be finite")
        else:
            await self.shared.pause(kind, max(0.0, seconds))

    async def _wait_shared_turn(self, shared: RedisBudget, kind: RequestKind) -> None:
        budget = self._budgets[kind]
        interval = budget.period / budget.capacity if budget is not None else 0.0
        wait = await shared.reserve(kind, interval)
        while wait is not None and wait > 0:
            due = self._clock() + wait
            await anyio.sleep(wait)
            # Another process may have met a 429 while we slept: then wait out its pause with a new grant.
            wait = await shared.reserve(kind, interval, confirm=True)
            if wait is None and self._clock() - due > LATE_GRANT:
                # Woken late (a busy CPU, a GC pause): sent now, this request would bunch up with the
                # grants after it in one of Attio's seconds. It gives up its turn and queues again.
                wait = await shared.reserve(kind, interval)

    async def _wait_turn(self, kind: RequestKind) -> None:
        if self.shared is not None:
            await self._wait_shared_turn(self.shared, kind)
            return
        budget = self._budgets[kind]
        requeued = False
        while True:
            now = self._clock()
            paused = self._paused_until[kind]
            if budget is None:
                if paused <= now:
                    return
                at = paused
            else:
                at = budget.reserve(now, paused)
            if at > now:
                await anyio.sleep(at - now)
            # A 429 may have paused us while we slept: take a new turn after the pause. The old grant
            # stays counted, which only makes the window stricter.
            if self._paused_until[kind] > self._clock():
                continue
            if budget is not None and not requeued and self._clock() - at > LATE_GRANT:
                # Woken late (the event loop held up: Arrow's import or a collection holding the GIL), every
                # request due meanwhile would go at once and could fill one of Attio's seconds past its
                # budget (a 429 pauses them all). As a shared grant does, it gives up its turn and queues
                # again, once: a loop that is late at every turn (a saturated CPU) still sends.
                requeued = True
                continue
            return

    @asynccontextmanager
    async def slot(self, kind: RequestKind) -> AsyncIterator[None]:
        """Take a free in-flight slot, then a turn in the budget of ``kind``; hold the slot while inside.

        The slot comes first so that a request starts right at its granted time: waiting for a slot after
        the grant could bunch delayed requests together and break the window promise.
        """
        async with self._in_flight:
            await self._wait_turn(kind)
            yield


async def read_share(client: MeetingReader) -> float:
    """The reads per second an extract by ``client`` plans its cursors for: its :meth:`RateLimiter.share` of
    the read budget now. An extract asks once its range probe has answered: the probe's grant made it a peer,
    and peers started with it have had that round trip to become theirs. Peers that finish first leave their
    part to those still running, which hear of it with their next grant and open more
    (:class:`~connector.extract.run.ExtractRun`).

    A reader without a limiter (a caller's own, whose ``limiter`` is None) plans for its configured read rate.
    """
    limiter = client.limiter
    if limiter is None:
        return float(client.config.limits.reads_per_second)
    return await limiter.share("read")
