"""Server-side rate limits: fixed one-second windows aligned to the wall clock, like Attio.

Reads and writes have separate budgets. Over budget, the answer is 429 with ``Retry-After`` set to
the HTTP-date of the next whole second, which is always strictly after the moment of the request.
A budget of ``rate`` requests/s allows ``max(1, floor(rate))`` requests per window; 0 is no limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

__all__ = ["WindowLimiter", "admit_all", "next_second_http_date"]


def next_second_http_date(now: float) -> str:
    """The HTTP-date of the next whole second after ``now`` (strictly later)."""
    return format_datetime(datetime.fromtimestamp(math.floor(now) + 1, UTC), usegmt=True)


class WindowLimiter:
    """Counts requests per wall-clock second; ``admit()`` returns None or the Retry-After value."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.time) -> None:
        self.budget = max(1, math.floor(rate)) if rate > 0 else 0
        self._clock = clock
        self._window = -1
        self._used = 0

    def admit(self) -> str | None:
        refused = self.refusal()
        if refused is None and self.budget:
            self._used += 1
        return refused

    def refusal(self) -> str | None:
        """The Retry-After value if a request now would be refused, else None (nothing is counted)."""
        if not self.budget:
            return None
        window = math.floor(self._clock())
        if window != self._window:
            self._window, self._used = window, 0
        return None if self._used < self.budget else next_second_http_date(window)


def admit_all(limiters: Sequence[WindowLimiter]) -> str | None:
    """Admit a request that several budgets limit: counted in each if all have room, in none otherwise
    (a refused request was not carried out); returns None or the Retry-After value."""
    for limiter in limiters:
        refused = limiter.refusal()
        if refused is not None:
            return refused
    for limiter in limiters:
        limiter.admit()
    return None
