"""Time slicing: split a query's time range into windows whose cursors can run concurrently.

A meeting belongs to the window that holds its start (its *start key*): the UTC start of a timed
meeting, or 00:00 of an all-day meeting's start date in the query's timezone, which is how Attio's
``starts_before`` judges it. With boundaries ``b_1 < ... < b_{n-1}`` window ``k`` asks the API for

    ends_from = max(E, b_k)         (a meeting starting at or after b_k ends at or after it)
    starts_before = min(S, b_{k+1})

and keeps, client side, only meetings whose start key is ``>= b_k``; the first window keeps all it
gets (that includes meetings that started before ``E`` and end after it). Every meeting of the whole
query is therefore returned by exactly one window, whatever the participants/linked-record filters
(which the API combines with OR between them but AND with the time window).

Boundaries are whole seconds, so the API (millisecond precision) and this module compare alike. Start
keys are epoch milliseconds (int64): Attio's precision, and every year 0001-9999 fits.

A window may also carry ``keep_before`` (set when :mod:`.split` hands the rest of a running window to a
new cursor): it then keeps only starts before it, and its cursor stops once the API's order is past it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..models import MeetingQuery

__all__ = ["Window", "auto_slices", "discover_range", "meeting_start_key", "plan_windows", "split_windows", "to_ms"]

# Windows per concurrent cursor: more windows than cursors even out uneven data (more meetings in recent
# months) so that no cursor is left running alone at the end; each window also ends on a partly filled
# page, so more windows cost requests. Two per cursor balances the two.
WINDOWS_PER_SLICE = 2
MAX_SLICES = 64


@dataclass(frozen=True)
class Window:
    """One time window of a sliced extract: the API query bounds, and the start keys it keeps.

    It keeps starts in ``[keep_from, keep_before)``; None on either side means no limit there (the
    query's own bounds apply).
    """

    index: int
    ends_from: datetime | None
    starts_before: datetime | None
    keep_from: datetime | None
    keep_before: datetime | None = None

    def query(self, base: MeetingQuery) -> MeetingQuery:
        """The base query restricted to this window."""
        if self.ends_from == base.ends_from and self.starts_before == base.starts_before:
            return base
        return base.replace(ends_from=self.ends_from, starts_before=self.starts_before)

    @property
    def keep_from_ms(self) -> int | None:
        """``keep_from`` as epoch milliseconds."""
        return to_ms(self.keep_from)

    @property
    def keep_before_ms(self) -> int | None:
        """``keep_before`` as epoch milliseconds."""
        return to_ms(self.keep_before)

    def order_key(self) -> tuple[bool, datetime]:
        """Sorts windows by the starts they hold (windows partition the start axis)."""
        return (self.keep_from is not None, self.keep_from or datetime.min.replace(tzinfo=UTC))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint file."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "index": self.index,
            "ends_from": iso(self.ends_from),
            "starts_before": iso(self.starts_before),
            "keep_from": iso(self.keep_from),
            "keep_before": iso(self.keep_before),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """The window back from :meth:`to_dict`."""
        def parse(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value is not None else None

        return cls(int(data["index"]), parse(data["ends_from"]), parse(data["starts_before"]), parse(data["keep_from"]),
                   parse(data.get("keep_before")))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime | None) -> int | None:
    """Epoch milliseconds of an aware datetime (floored; no float rounding): the unit of every start key."""
    if value is None:
        return None
    return (value - _EPOCH) // timedelta(milliseconds=1)


def meeting_start_key(meeting: dict[str, Any], tz_name: str) -> datetime:
    """The start of a meeting dict as the API's time filters see it (all-day: 00:00 in ``tz_name``)."""
    start = meeting["start"]
    if meeting.get("is_all_day") or "date" in start:
        day = date.fromisoformat(start["date"])
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name)).astimezone(UTC)
    return datetime.fromisoformat(start["datetime"]).astimezone(UTC)


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def split_windows(query: MeetingQuery, lo: datetime, hi: datetime, count: int, *, by_start: bool = False) -> list[Window]:
    """``count`` windows (fewer if the range is too short) covering every meeting of ``query``.

    ``lo``/``hi`` only place the inner boundaries (the first and last windows are open-ended as far as
    the query allows), so any range gives an exact result; a good one gives balanced windows.
    ``by_start``: the first window too keeps only starts ``>= ends_from`` (``window="start"``).
    """
    first_keep = query.ends_from if by_start else None
    lo = max(lo, query.ends_from) if query.ends_from else lo
    hi = min(hi, query.starts_before) if query.starts_before else hi
    span = (hi - lo).total_seconds()
    bounds: list[datetime] = []
    if count > 1 and span >= 2:
        step = span / count
        for k in range(1, count):
            b = _floor_second(lo + timedelta(seconds=step * k))
            if b > lo and (not bounds or b > bounds[-1]) and b < hi:
                bounds.append(b)
    if not bounds:
        return [Window(0, query.ends_from, query.starts_before, first_keep)]
    windows = [Window(0, query.ends_from, bounds[0], first_keep)]
    for k, b in enumerate(bounds, start=1):
        upper = bounds[k] if k < len(bounds) else query.starts_before
        windows.append(Window(k, b, upper, b))
    return windows


async def discover_range(client: Any, query: MeetingQuery) -> tuple[datetime, datetime, float] | None:
    """(first start key, last start key + 1 s, round-trip seconds) of the query's meetings; None if none.

    Two one-meeting requests (``start_asc`` and ``start_desc``) find the range cheaply; their duration
    is the measured round trip used to choose the number of slices.
    """
    began = time.perf_counter()
    first = await client.list_page(query.replace(limit=1, sort="start_asc"))
    rtt = time.perf_counter() - began
    if not first.meetings:
        return None
    began = time.perf_counter()
    last = await client.list_page(query.replace(limit=1, sort="start_desc"))
    rtt = min(rtt, time.perf_counter() - began)
    if not last.meetings:
        return None
    lo = meeting_start_key(first.meetings[0], query.timezone)
    hi = meeting_start_key(last.meetings[0], query.timezone) + timedelta(seconds=1)
    return lo, max(hi, lo + timedelta(seconds=1)), rtt


def auto_slices(reads_per_second: float, rtt: float, max_in_flight: int) -> int:
    """Enough concurrent cursors to keep the read budget busy: budget x round trip, with headroom.

    One cursor makes at most 1/rtt requests per second; ``reads_per_second * rtt`` cursors fill the
    budget, and half as many again absorb jitter and our own per-page CPU time. Without a budget the
    extract is CPU bound and two cursors keep both sides of the connection busy.
    """
    if reads_per_second <= 0:
        wanted = 2
    else:
        wanted = math.ceil(reads_per_second * max(rtt, 0.0) * 1.5)
    return max(1, min(wanted, max_in_flight, MAX_SLICES))


async def plan_windows(
    client: Any, query: MeetingQuery, slices: int | None, *, reads_per_second: float, max_in_flight: int,
    by_start: bool = False, probe: bool = False,
) -> tuple[list[Window], int, tuple[datetime, datetime] | None]:
    """The windows of an extract, the number of concurrent cursors, and the range of starts found.

    ``slices`` 1 means one cursor over the query unchanged; None chooses from the measured round trip.
    The range (None when not probed) guides later splits of open-ended windows and measures progress;
    ``probe``: find it with one slice too.
    """
    single = [Window(0, query.ends_from, query.starts_before, query.ends_from if by_start else None)]
    if slices == 1 and not probe:
        return single, 1, None
    found = await discover_range(client, query)
    if found is None:
        return single, 1, None
    lo, hi, rtt = found
    if slices == 1:
        return single, 1, (lo, hi)
    n = slices if slices is not None else auto_slices(reads_per_second, rtt, max_in_flight)
    n = max(1, min(n, MAX_SLICES))
    windows = split_windows(query, lo, hi, n * WINDOWS_PER_SLICE if n > 1 else 1, by_start=by_start)
    return windows, min(n, len(windows)), (lo, hi)
