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

import itertools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

import anyio

from ..client import MeetingReader
from ..http import answer_times
from ..models import MeetingQuery
from .streams import MEETINGS, Converter, Stream
from .tasks import first_error

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "KEYS_PER_SECOND",
    "KEY_UNIT",
    "Plan",
    "Probe",
    "Window",
    "auto_slices",
    "busy_cursors",
    "discover_range",
    "from_key",
    "plan_windows",
    "reversed_windows",
    "round_weights",
    "split_windows",
    "to_key",
]

# Windows in rounds: the first round has a window per cursor, and the windows of the next rounds start as
# cursors free up, in output order. A file is written in that order while the run goes, so the last
# round's windows are what is left to write after the last page; and every window costs about half a
# request over the minimum: the part of its last page beyond its range (0.85 when the meetings that cross
# a window's start were fetched and dropped too: ~75 of a page at 300k meetings over three years, before
# windows were read from the top down: :func:`reversed_windows`). Hence:
# - the rounds shrink (ROUND_SHARES of the range of starts) for a short tail;
# - the first round's windows grow from 1 to FIRST_ROUND_RAMP (in output order), so that they end in
#   output order and the file is written as they do, not in one flood once the slowest is done (a flood
#   of 85 % of the rows held the cursors up 0.7 s in one run);
# - once the first round runs, only the cursors that keep the read budget busy (:func:`busy_cursors`) go
#   on, and the later rounds have a window for each of them: the cursors beyond are headroom for the
#   ramp-up, and a window each would cost requests, not save time.
# Uneven data is evened out by splits (:mod:`.split`). bench/pace.py, 300k at page 200 (23-31 cursors),
# alternating runs under load on 2 December 2026: three rounds of a window per cursor cost 66-78 requests
# over the 1,500 pages (80-97 windows with the splits); these rounds 53-69 (65-75 windows). Shares of
# (0.70, 0.22, 0.08) held 43k rows to write until the last page (the last round-2 windows start as the
# largest first-round ones end, and run to the end); (0.80, 0.14, 0.06) 20-23k (the tree before: 17k).
ROUND_SHARES = (0.80, 0.14, 0.06)
FIRST_ROUND_RAMP = 2.0
WINDOWS_PER_SLICE = len(ROUND_SHARES)
# Cursors per (read rate x round trip): those a run opens (jitter, our own CPU per page, the ramp-up) and
# those that keep the budget busy once running (fewer running: a freed cursor splits a running window).
CURSOR_HEADROOM = 1.5
BUSY_HEADROOM = 1.1
# An auto-sliced run sizes its windows by the meetings its range probe estimates: a window of fewer pages
# than this costs more than ~10 % over its pages (bench/pace.py's 60k at page 200: 60-87 windows for 300
# pages before, 40-47 after). Cursors without a window split running ones, only while the budget needs them.
MIN_WINDOW_PAGES = 8
MAX_SLICES = 64


@dataclass(frozen=True)
class Window:
    """One time window of a sliced extract: the API query bounds, and the start keys it keeps.

    It keeps starts in ``[keep_from, keep_before)``; None on either side means no limit there (the
    query's own bounds apply). ``reverse``: read against the query's order (:func:`reversed_windows`); its
    rows are turned back into output order when they are delivered.
    """

    index: int
    ends_from: datetime | None
    starts_before: datetime | None
    keep_from: datetime | None
    keep_before: datetime | None = None
    reverse: bool = False

    def descending(self, sort: str) -> bool:
        """Whether this window is read ``start_desc`` in a query sorted by ``sort``."""
        return (sort == "start_desc") != self.reverse

    def query(self, base: MeetingQuery) -> MeetingQuery:
        """The base query restricted to this window, in the order the window is read."""
        if self.reverse:
            sort = "start_asc" if base.sort == "start_desc" else "start_desc"
            return base.replace(ends_from=self.ends_from, starts_before=self.starts_before, sort=sort)
        if self.ends_from == base.ends_from and self.starts_before == base.starts_before:
            return base
        return base.replace(ends_from=self.ends_from, starts_before=self.starts_before)

    @property
    def keep_from_key(self) -> int | None:
        """``keep_from`` as a start key (:func:`to_key`)."""
        return to_key(self.keep_from)

    @property
    def keep_before_key(self) -> int | None:
        """``keep_before`` as a start key (:func:`to_key`)."""
        return to_key(self.keep_before)

    def split_at(
        self, at: datetime, index: int, *, descending: bool, base_ends_from: datetime | None
    ) -> tuple[Window, Window]:
        """(this window narrowed, the new window ``index``) when its cursor hands the far side of ``at`` on.

        ``descending``: the order this window is read in. ``start_asc``: this window keeps ``[.., at)``, the
        new one ``[at, ..)`` with ``ends_from`` at least ``at``, read ``start_desc`` (it starts at a boundary:
        :func:`reversed_windows`); ``start_desc``: mirrored (this window keeps ``[at, ..)``, the new one
        ``[.., at)``, read as this one is).
        """
        if descending:
            return replace(self, keep_from=at), replace(self, index=index, starts_before=at, keep_before=None)
        upper = self.keep_before if self.keep_before is not None else self.starts_before
        ends_from = at if base_ends_from is None else max(base_ends_from, at)
        new = replace(
            self, index=index, ends_from=ends_from, starts_before=upper, keep_from=at, keep_before=None,
            reverse=not self.reverse,
        )  # fmt: skip
        return replace(self, keep_before=at), new

    def order_key(self) -> tuple[bool, datetime]:
        """Sorts windows by the starts they hold (windows partition the start axis)."""
        return (self.keep_from is not None, self.keep_from or datetime.min.replace(tzinfo=UTC))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint file."""
        return dict(_window_dict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """The window back from :meth:`to_dict`."""

        def parse(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value is not None else None

        return cls(
            int(data["index"]),
            parse(data["ends_from"]),
            parse(data["starts_before"]),
            parse(data["keep_from"]),
            parse(data.get("keep_before")),
            bool(data.get("reverse", False)),  # checkpoints written before reversed windows have none
        )


@lru_cache(maxsize=4096)
def _window_dict(window: Window) -> dict[str, Any]:
    # Cached: every commit saves every window (~150 in a sliced run at Attio's pace), and formatting
    # their datetimes each time cost ~2 ms of the event loop per commit (bench/extract.py, page 200).
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "index": window.index,
        "ends_from": iso(window.ends_from),
        "starts_before": iso(window.starts_before),
        "keep_from": iso(window.keep_from),
        "keep_before": iso(window.keep_before),
        "reverse": window.reverse,
    }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Start keys are int64 epoch milliseconds: KEY_UNIT is the one place in the engine that says so.
KEY_UNIT = timedelta(milliseconds=1)
KEYS_PER_SECOND = timedelta(seconds=1) // KEY_UNIT


@overload
def to_key(value: datetime) -> int: ...
@overload
def to_key(value: None) -> None: ...
@overload
def to_key(value: datetime | None) -> int | None: ...
def to_key(value: datetime | None) -> int | None:
    """The start key of an aware datetime: whole :data:`KEY_UNIT` since the epoch (floored; no float rounding)."""
    if value is None:
        return None
    return (value - _EPOCH) // KEY_UNIT


def from_key(key: int) -> datetime:
    """The aware UTC datetime of a start key (the inverse of :func:`to_key`)."""
    return _EPOCH + key * KEY_UNIT


def _floor_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def round_weights(slices: int, busy: int, *, descending: bool, pages: float | None = None) -> list[float]:
    """Relative time spans of the windows of :data:`ROUND_SHARES` in output order, reversed for ``descending``
    (time order): up to ``slices`` windows in the first round growing to :data:`FIRST_ROUND_RAMP` times the
    first, up to ``busy`` equal ones in each later round; fewer where a round's share of the ``pages``
    estimated would give windows of less than :data:`MIN_WINDOW_PAGES` (at least one a round)."""
    caps = [slices] + [busy] * (len(ROUND_SHARES) - 1)
    if pages is not None:
        caps = [
            max(1, min(cap, round(share * pages / MIN_WINDOW_PAGES)))
            for share, cap in zip(ROUND_SHARES, caps, strict=True)
        ]
    first = caps[0]
    ramp = [1 + (FIRST_ROUND_RAMP - 1) * i / max(1, first - 1) for i in range(first)]
    weights = [ROUND_SHARES[0] * w / sum(ramp) for w in ramp]
    for share, count in zip(ROUND_SHARES[1:], caps[1:], strict=True):
        weights += [share / count] * count
    return weights[::-1] if descending else weights


def split_windows(
    query: MeetingQuery,
    lo: datetime,
    hi: datetime,
    count: int,
    *,
    by_start: bool = False,
    weights: Sequence[float] | None = None,
) -> list[Window]:
    """``count`` windows (fewer if the range is too short) covering every meeting of ``query``.

    ``lo``/``hi`` only place the inner boundaries (the first and last windows are open-ended as far as
    the query allows), so any range gives an exact result; a good one gives balanced windows.
    ``by_start``: the first window too keeps only starts ``>= ends_from`` (``window="start"``).
    ``weights``: the windows' relative spans in time order (``count`` of them; default equal).
    """
    first_keep = query.ends_from if by_start else None
    lo = max(lo, query.ends_from) if query.ends_from else lo
    hi = min(hi, query.starts_before) if query.starts_before else hi
    span = (hi - lo).total_seconds()
    if weights is None:
        weights = [1.0] * count
    if len(weights) != count:
        raise ValueError("give one weight per window")
    edges = list(itertools.accumulate(weights))
    bounds: list[datetime] = []
    if count > 1 and span >= 2:
        for k in range(1, count):
            b = _floor_second(lo + timedelta(seconds=span * edges[k - 1] / edges[-1]))
            if b > lo and (not bounds or b > bounds[-1]) and b < hi:
                bounds.append(b)
    if not bounds:
        return [Window(0, query.ends_from, query.starts_before, first_keep)]
    windows = [Window(0, query.ends_from, bounds[0], first_keep)]
    for k, b in enumerate(bounds, start=1):
        upper = bounds[k] if k < len(bounds) else query.starts_before
        windows.append(Window(k, b, upper, b))
    return windows


@dataclass(frozen=True)
class Probe:
    """What the range probe found: the query's first and last start + 1 s (None: it has no meeting), the
    measured round trip, the meetings estimated (None from a one-meeting page), and its page in the query's
    own order (rows and next cursor): the query's first page, hence the first of the first window in output
    order (:func:`plan_windows`)."""

    span: tuple[datetime, datetime] | None
    rtt: float
    estimate: float | None
    page: tuple[pa.RecordBatch | None, str | None]


async def discover_range(
    client: MeetingReader,
    query: MeetingQuery,
    stream: Stream = MEETINGS,
    *,
    limit: int = 1,
    converter: Converter | None = None,
) -> Probe:
    """The range of the query's starts and the first page read in its own order (:class:`Probe`).

    Two requests sent together find the range cheaply: ``limit`` meetings in the query's own order (with
    ``limit`` = the query's page size, that page is the query's first: data, not a probe) and one meeting
    the other way; the quicker one's duration is the measured round trip used to choose the number of
    slices (a one-meeting answer: a page's decoding would count in it on a busy machine). With ``limit`` >
    1 the starts the page spans give the density at that end of the range, hence an estimate of the
    meetings in it (exact when that page holds them all). The starts are the stream's start keys (all-day
    meetings: 00:00 in the query's timezone), as the windows keep them. ``converter``: the run's, which
    then notes the page's unknown fields.
    """
    converter = converter or stream.converter()
    keys: dict[str, Any] = {}
    rtts: list[float] = []
    own = query.sort
    other = "start_asc" if own == "start_desc" else "start_desc"
    pages: dict[str, tuple[pa.RecordBatch | None, str | None]] = {}

    async def probe(sort: str, size: int) -> None:
        # To the answer, not to its decoding, which waits for Arrow's import at a run's start (deferred.py).
        with answer_times() as answered:
            began = time.perf_counter()
            pages[sort] = batch, _ = await stream.read_page(
                client, query.replace(limit=size, sort=sort), None, converter
            )
        rtts.append((answered[-1] if answered else time.perf_counter()) - began)
        keys[sort] = (
            stream.start_keys(batch, query.timezone) if batch is not None and batch.num_rows else None
        )

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(probe, own, limit)
            tg.start_soon(probe, other, 1)
    except BaseExceptionGroup as group:
        leaf = first_error(group)
        raise leaf.with_traceback(leaf.__traceback__) from None
    page, mine, theirs, rtt = pages[own], keys[own], keys[other], min(rtts)
    if mine is None or theirs is None:
        return Probe(None, rtt, None, page)
    lo = from_key(min(int(mine.min()), int(theirs.min())))
    hi = max(from_key(max(int(mine.max()), int(theirs.max()))), lo) + timedelta(seconds=1)
    estimate: float | None = None
    if limit > 1:
        dense, start = mine, lo
        if query.ends_from is not None and own != "start_desc":
            # In start order the page begins with the meetings that started before ends_from and end after it,
            # days or weeks before the rest: counted in the density, their few starts stretched the page's span
            # (a window from 2024-10-01 at 400k meetings: ~11k estimated of ~100k, hence 7 cursors, not 22).
            inside = mine[mine >= to_key(query.ends_from)]
            if len(inside) > 1:
                dense, start = inside, max(lo, query.ends_from)
        spanned = max(int(dense.max()) - int(dense.min()), KEYS_PER_SECOND)
        exact = len(mine) < limit  # the first page holds them all
        before = len(mine) - len(dense)  # started before ends_from: all of them are on this first page
        estimate = (
            float(len(mine))
            if exact
            else max(float(len(mine)), before + len(dense) * (to_key(hi) - to_key(start)) / spanned)
        )
    return Probe((lo, hi), rtt, estimate, page)


def auto_slices(reads_per_second: float, rtt: float, max_in_flight: int) -> int:
    """Enough concurrent cursors to keep the read budget busy: budget x round trip, with headroom.

    One cursor makes at most 1/rtt requests per second; ``reads_per_second * rtt`` cursors fill the
    budget, and half as many again (:data:`CURSOR_HEADROOM`) absorb jitter and our own per-page CPU time.
    Without a budget the extract is CPU bound and two cursors keep both sides of the connection busy.
    """
    if reads_per_second <= 0:
        wanted = 2
    else:
        wanted = math.ceil(reads_per_second * max(rtt, 0.0) * CURSOR_HEADROOM)
    return max(1, min(wanted, max_in_flight, MAX_SLICES))


def busy_cursors(slices: int, *, auto: bool) -> int:
    """Of ``slices`` cursors, how many keep the read budget busy: the windows of a later round, and the running
    cursors below which a freed one splits a running window. Chosen slices are all meant to be busy."""
    if not auto:
        return slices
    return max(1, min(slices, math.ceil(slices * BUSY_HEADROOM / CURSOR_HEADROOM)))


@dataclass(frozen=True)
class Plan:
    """An extract's windows, its cursors at once (``slices``), those that keep the budget busy (``busy``), the
    range of starts found (None when not probed), and the first window's first page when the probe read it
    (``first``: that window's index, the page's rows and next cursor)."""

    windows: list[Window]
    slices: int
    busy: int
    span: tuple[datetime, datetime] | None
    first: tuple[int, pa.RecordBatch | None, str | None] | None = None


def _asking_for_the_query(windows: list[Window], query: MeetingQuery, *, descending: bool) -> list[Window]:
    """The windows, the first in output order asking the API for the whole query's range (keeping its own
    starts, as a split's running side does): the range probe's page of the query is then its first page."""
    windows = list(windows)
    at = -1 if descending else 0
    w = windows[at]
    if descending:  # the latest starts: the query asks from the query's ends_from, keeps from its boundary
        windows[at] = replace(w, ends_from=query.ends_from)
    elif w.starts_before != query.starts_before:
        windows[at] = replace(w, starts_before=query.starts_before, keep_before=w.starts_before)
    return windows


def reversed_windows(windows: list[Window], query: MeetingQuery) -> list[Window]:
    """The windows, those of a ``start_asc`` query that start at a boundary of their own read ``start_desc``.

    The API bounds a query's starts from below only through ``ends_from``, so a window read in start order
    from a boundary ``b`` first gets every meeting that started before ``b`` and ends after it: fetched and
    dropped (all-day and multi-day meetings cross every boundary of their days; ~80 at 300k meetings over
    three years, 0.4 of a page per window). Read from its top down, the window's cursor stops at the first page
    that reaches below ``b`` (:func:`~.split.past_window`), so only that page's part below ``b`` is lost, as
    a partly filled last page would be. The first window in output order keeps the meetings that started
    before the query's ``ends_from`` (they are the query's) and is read in order (it holds the range
    probe's page); a ``start_desc`` query's windows already end at their lower boundary.
    """
    if query.sort == "start_desc" or len(windows) < 2:
        return windows
    first = min(range(len(windows)), key=lambda i: windows[i].order_key())
    return [w if i == first else replace(w, reverse=True) for i, w in enumerate(windows)]


async def plan_windows(
    client: MeetingReader,
    query: MeetingQuery,
    slices: int | None,
    *,
    reads_per_second: float | Callable[[], Awaitable[float]],
    max_in_flight: int,
    by_start: bool = False,
    probe: bool = False,
    converter: Converter | None = None,
) -> Plan:
    """The plan of an extract: its windows, cursors and range of starts.

    ``slices`` 1 means one cursor over the query unchanged; None chooses from the measured round trip and
    ``reads_per_second`` (or what it returns, asked once the probe has answered: a share of a shared budget).
    The range guides later splits of open-ended windows and measures progress; ``probe``: find it with
    one slice too. The probe reads the query's first page, which is the first page of the first window
    in output order (no request of the run is a probe but the one meeting of the range's other end).
    """
    single = [Window(0, query.ends_from, query.starts_before, query.ends_from if by_start else None)]
    if slices == 1 and not probe:
        return Plan(single, 1, 1, None)
    auto = slices is None
    found = await discover_range(client, query, limit=query.limit, converter=converter)
    descending = query.sort == "start_desc"

    def planned(windows: list[Window], n: int, busy: int) -> Plan:
        windows = reversed_windows(_asking_for_the_query(windows, query, descending=descending), query)
        first = windows[-1 if descending else 0].index
        return Plan(windows, n, busy, found.span, (first, *found.page))

    if found.span is None:
        return planned(single, 1, 1)
    (lo, hi), estimate = found.span, found.estimate if auto else None
    if slices == 1:
        return planned(single, 1, 1)
    if slices is None:
        rate = reads_per_second if isinstance(reads_per_second, int | float) else await reads_per_second()
        n = auto_slices(rate, found.rtt, max_in_flight)
    else:
        n = slices
    n = max(1, min(n, MAX_SLICES))
    pages = estimate / query.limit if estimate is not None else None
    if n == 1 or (pages is not None and pages <= 1):
        return planned(split_windows(query, lo, hi, 1, by_start=by_start), 1, 1)
    busy = busy_cursors(n, auto=auto)
    weights = round_weights(n, busy, descending=descending, pages=pages)
    windows = split_windows(query, lo, hi, len(weights), by_start=by_start, weights=weights)
    n = min(n, len(windows))
    return planned(windows, n, min(busy, n))
