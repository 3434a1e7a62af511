"""The limiter's promise: never more than the budget in any one-second window, whatever the arrival pattern."""

from __future__ import annotations

import bisect
import itertools

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import RateLimits
from connector.ratelimit import RateLimiter, WindowBudget, smoothing_period


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
def test_budget_never_exceeded_in_any_window(rate: float, gaps: list[float], pauses: list[tuple[int, float]]) -> None:
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


@pytest.mark.anyio
async def test_limiter_shares_one_budget_and_pauses_everyone_after_a_429() -> None:
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
    assert len(reads) == 25 and len(writes) == 6
    assert min(reads) >= 0.3 - 1e-3, "the pause held every reader"
    # Measured start times may lag their grants by a scheduler tick; the window is judged with that slack.
    assert max_in_any_window(reads, 0.98) <= 10
    assert max_in_any_window(writes, 0.98) <= 5
    assert min(writes) < 0.3, "a read pause does not hold writes"


@pytest.mark.anyio
async def test_in_flight_cap_holds() -> None:
    limiter = RateLimiter(RateLimits(reads_per_second=0, writes_per_second=0, max_in_flight=3))
    inside = peak = 0
    release = anyio.Event()
    entered = 0

    async def request() -> None:
        nonlocal inside, peak, entered
        async with limiter.slot("read"):
            inside += 1
            entered += 1
            peak = max(peak, inside)
            if entered >= 3:
                release.set()
            await release.wait()
            inside -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(request)
    assert peak == 3 and entered == 10
