"""Client-side rate limiting: read and write budgets shared by every task of one client, plus an in-flight cap.

The budget is a sliding window: at most ``capacity`` requests start in any window of ``period`` seconds
(by default one grant every 1/rate seconds, so traffic is smooth), hence at most the rate in any second.
That is strictly stronger than Attio's fixed per-second windows, so a client within its budget never
meets a 429 of its own making. A 429 (someone else used the budget, or Attio lowered it) pauses every
task of the client until the server's ``Retry-After``, not only the task that got it.

:class:`WindowBudget` is the pure core (time in, time out) so that its guarantee can be property-tested;
:class:`RateLimiter` puts it to work with anyio.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal

import anyio

from .config import RateLimits

__all__ = ["RateLimiter", "RequestKind", "WindowBudget", "smoothing_period"]

RequestKind = Literal["read", "write"]


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


class RateLimiter:
    """Budgets for reads and writes, a cap on requests in flight, and a shared pause after a 429."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] | None = None) -> None:
        self.limits = limits
        self._clock = clock or anyio.current_time
        self._budgets: dict[str, WindowBudget | None] = {
            "read": WindowBudget(limits.reads_per_second) if limits.reads_per_second else None,
            "write": WindowBudget(limits.writes_per_second) if limits.writes_per_second else None,
        }
        self._paused_until = {"read": 0.0, "write": 0.0}
        self._in_flight = anyio.CapacityLimiter(limits.max_in_flight)
        self.waited_seconds = 0.0

    def pause(self, kind: RequestKind, seconds: float) -> None:
        """Hold every request of this kind for ``seconds`` (called on a 429 with the server's Retry-After)."""
        if not math.isfinite(seconds):
            raise ValueError("a pause must be finite")
        until = self._clock() + max(0.0, seconds)
        self._paused_until[kind] = max(self._paused_until[kind], until)

    async def _wait_turn(self, kind: RequestKind) -> None:
        budget = self._budgets[kind]
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
                self.waited_seconds += at - now
                await anyio.sleep(at - now)
            # A 429 may have paused us while we slept: take a new turn after the pause. The old grant
            # stays counted, which only makes the window stricter.
            if self._paused_until[kind] <= self._clock():
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
