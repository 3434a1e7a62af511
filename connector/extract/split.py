"""Dynamic work splitting: when too few cursors would be left busy, halve the largest running window.

At the end of a sliced extract a few cursors still run on the fullest windows while the others sit
idle, and the read budget goes unused. So when a cursor finishes and fewer cursors than keep the budget
busy run or wait (the run's ``busy``, :mod:`.slices`), the running window with the most rows left (rows/s
of start time seen so far x time left) is split at ``m``, the midpoint (whole seconds) between the last
start it has seen and its end:

    start_asc:  the running cursor keeps [its position, m) and stops once the API's order is past m;
                the new window [m, b) gets a fresh cursor (ends_from = max(E, m), starts_before =
                min(S, b)) and keeps starts >= m, read start_desc from b down (a window starting at a
                boundary: :func:`~.slices.reversed_windows`).
    start_desc: mirrored: the running cursor keeps [m, its position]; the new window takes [a, m).

"start_asc" and "start_desc" are the order the window is read in: a reversed window of a start_asc query
is split as start_desc.

Every row the running cursor has already seen is on its side of ``m``, so each meeting is still kept by
exactly one window (the one whose range holds its start key). The :class:`Splitter` only chooses the
window and ``m``; the run applies the split through :meth:`~.checkpoint.Checkpoint.split`, which changes
both windows of the checkpoint in one step on the event loop, and a resumed run continues every window,
split or not. Start keys are in the unit of :data:`~.slices.KEYS_PER_SECOND`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..deferred import deferred
from ..models import MeetingQuery
from .checkpoint import WindowState
from .slices import KEY_UNIT, KEYS_PER_SECOND, to_key

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")

__all__ = ["Splitter", "past_window", "sort_key_of_last"]

_SECOND = KEYS_PER_SECOND
_DAY = 86_400 * _SECOND
_UNIT = {10**9: "ns", 10**6: "us", 10**3: "ms", 1: "s"}[KEYS_PER_SECOND]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_FIRST_DAY = (datetime.min - _EPOCH_NAIVE).days
_LAST_DAY = (datetime.max - _EPOCH_NAIVE).days


@dataclass
class _Seen:
    """What one cursor of this run has seen: the start keys' extent and the rows it kept."""

    first: int
    pos: int
    rows: int = 0


@lru_cache(maxsize=256)
def _offset_margins(tz_name: str, day: int) -> tuple[int, int]:
    """(largest east offset, largest west offset) as start keys of ``tz_name`` within two days of ``day``."""
    zone = ZoneInfo(tz_name)
    days = [min(max(day + d, _FIRST_DAY), _LAST_DAY) for d in range(-2, 3)]  # within the years 0001-9999
    offsets = [zone.utcoffset(_EPOCH_NAIVE + timedelta(days=d)) for d in days]
    keys = [o // KEY_UNIT for o in offsets if o is not None]
    return max([0, *keys]), max([0, *(-x for x in keys)])


def sort_key_of_last(batch: pa.RecordBatch, *, flipped: bool = False) -> int:
    """The API's sort key of a batch's last meeting: its UTC start, or 00:00 UTC of an all-day start date;
    ``flipped``: the batch holds its rows last to first, so the last one read is its first."""
    i = 0 if flipped else batch.num_rows - 1
    # One slot cast, not the column: this runs on the event loop for every page.
    if batch.column("is_all_day")[i].as_py():
        return int(batch.column("start_date").slice(i, 1).cast(pa.int32())[0].as_py()) * _DAY
    last = batch.column("start_datetime").slice(i, 1)
    return int(last.cast(pa.timestamp(_UNIT, "UTC")).cast(pa.int64())[0].as_py())


def past_window(
    state: WindowState, batch: pa.RecordBatch, tz_name: str, descending: bool, *, flipped: bool = False
) -> bool:
    """True when no later page of this cursor can hold a start key the window keeps (``flipped``: the page's
    rows are last to first).

    The API orders all-day meetings by 00:00 UTC but the window judges them by 00:00 in ``tz_name``;
    the zone's offset around the bound is the margin that makes the early stop exact.
    """
    window = state.window
    bound = window.keep_from_key if descending else window.keep_before_key
    if bound is None or not batch.num_rows:
        return False
    last = sort_key_of_last(batch, flipped=flipped)
    east, west = _offset_margins(tz_name, bound // _DAY)
    return last + west < bound if descending else last - east >= bound


class Splitter:
    """Tracks the running cursors' progress and chooses where to split the largest running window."""

    def __init__(self, *, query: MeetingQuery, span: tuple[datetime, datetime] | None) -> None:
        self.sort = query.sort  # each window is read in its own order (Window.descending)
        self.min_rows = 2 * query.limit  # a split costs a partial page or two: not worth it for less
        self.span = (to_key(span[0]), to_key(span[1])) if span else None
        self.ends_from = to_key(query.ends_from)
        self.seen: dict[int, _Seen] = {}

    # ------------------------------------------------------------------------------- progress
    def _bounds(self, state: WindowState) -> tuple[int | None, int | None]:
        """The window's kept start range as keys, open sides narrowed by the probed range if known."""
        w = state.window
        lo = w.keep_from_key
        hi = w.keep_before_key if w.keep_before is not None else to_key(w.starts_before)
        if self.span is not None:
            lo = self.span[0] if lo is None else max(lo, self.span[0])
            hi = self.span[1] if hi is None else min(hi, self.span[1])
        return lo, hi

    def observe(self, state: WindowState, keys: np.ndarray, kept: int) -> None:
        """Record a page of ``state``'s cursor: the start keys returned and how many rows it kept."""
        if not len(keys):
            return
        lo, hi = self._bounds(state)
        descending = state.window.descending(self.sort)
        edge = int(keys.min()) if descending else int(keys.max())
        seen = self.seen.get(state.window.index)
        if seen is None:
            start = hi if descending else lo
            first = edge if start is None else (max(start, edge) if descending else min(start, edge))
            seen = self.seen[state.window.index] = _Seen(first=first, pos=edge)
        seen.pos = min(seen.pos, edge) if descending else max(seen.pos, edge)
        seen.rows += kept

    def finished(self, state: WindowState) -> None:
        self.seen.pop(state.window.index, None)

    # ---------------------------------------------------------------------------------- split
    def _candidate(self, state: WindowState) -> tuple[float, int] | None:
        """(estimated rows left, split point as a key) for a running window, or None if not worth it."""
        seen = self.seen.get(state.window.index)
        lo, hi = self._bounds(state)
        if seen is None or state.done or seen.rows == 0:
            return None
        if state.window.descending(self.sort):
            if lo is None:
                return None
            left, covered = seen.pos - lo, seen.first - seen.pos
            m = (lo + left // 2) // _SECOND * _SECOND
            ok = lo < m <= seen.pos
        else:
            if hi is None:
                return None
            left, covered = hi - seen.pos, seen.pos - seen.first
            m = (seen.pos + left // 2) // _SECOND * _SECOND
            ok = seen.pos < m < hi
        if not ok or left < 2 * _SECOND or not self._valid(state, m):
            return None
        estimate = seen.rows * left / max(covered, _SECOND)
        return (estimate, m) if estimate >= self.min_rows else None

    def _valid(self, state: WindowState, m: int) -> bool:
        """Whether the new window of a split at ``m`` asks the API for a time range (ends_from before starts_before).

        A window split before may already end before the query's ``ends_from`` (the first window keeps the
        meetings that started earlier), and a window that ends before it cannot be split again.
        """
        w = state.window
        if w.descending(self.sort):
            floor = to_key(w.ends_from)
            return floor is None or floor < m
        upper = w.keep_before_key if w.keep_before is not None else to_key(w.starts_before)
        return upper is None or max(m, self.ends_from if self.ends_from is not None else m) < upper

    def choose(self, running: Sequence[WindowState]) -> tuple[WindowState, datetime] | None:
        """The running window with the most rows left and where to split it (whole seconds), or None."""
        best: tuple[float, int, WindowState] | None = None
        for state in running:
            found = self._candidate(state)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], found[1], state)
        if best is None:
            return None
        _, at, state = best
        return state, _EPOCH + timedelta(seconds=at // _SECOND)
