"""Dynamic work splitting: when a cursor finishes and no window waits, halve the largest running window.

At the end of a sliced extract a few cursors still run on the fullest windows while the others sit
idle, and the read budget goes unused. So when a cursor finishes and no window is waiting for a slot,
the running window with the most rows left (rows/s of start time seen so far x time left) is split at
``m``, the midpoint (whole seconds) between the last start it has seen and its end:

    start_asc:  the running cursor keeps [its position, m) and stops once the API's order is past m;
                the new window [m, b) gets a fresh cursor (ends_from = max(E, m), starts_before =
                min(S, b)) and keeps starts >= m.
    start_desc: mirrored: the running cursor keeps [m, its position]; the new window takes [a, m).

Every row the running cursor has already seen is on its side of ``m``, so each meeting is still kept by
exactly one window (the one whose range holds its start key). The split changes two windows of the
checkpoint together (under the checkpoint's lock); a resumed run continues every window, split or not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from .checkpoint import WindowState
from .slices import to_ms

__all__ = ["Splitter", "past_window", "sort_key_of_last"]

_SECOND = 1000  # start keys are epoch ms
_DAY = 86_400 * _SECOND
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
    """(largest east offset, largest west offset) in ms of ``tz_name`` within two days of ``day``."""
    zone = ZoneInfo(tz_name)
    days = [min(max(day + d, _FIRST_DAY), _LAST_DAY) for d in range(-2, 3)]  # within the years 0001-9999
    offsets = [zone.utcoffset(_EPOCH_NAIVE + timedelta(days=d)) for d in days]
    ms = [o // timedelta(milliseconds=1) for o in offsets if o is not None]
    return max([0, *ms]), max([0, *(-x for x in ms)])


def sort_key_of_last(batch: pa.RecordBatch) -> int:
    """The API's sort key of a batch's last meeting: its UTC start, or 00:00 UTC of an all-day start date."""
    i = batch.num_rows - 1
    if batch.column("is_all_day")[i].as_py():
        return int(batch.column("start_date").cast(pa.int32())[i].as_py()) * _DAY
    return int(batch.column("start_datetime").cast(pa.int64())[i].as_py())


def past_window(state: WindowState, batch: pa.RecordBatch, tz_name: str, descending: bool) -> bool:
    """True when no later page of this cursor can hold a start key the window keeps.

    The API orders all-day meetings by 00:00 UTC but the window judges them by 00:00 in ``tz_name``;
    the zone's offset around the bound is the margin that makes the early stop exact.
    """
    window = state.window
    bound = window.keep_from_ms if descending else window.keep_before_ms
    if bound is None or not batch.num_rows:
        return False
    last = sort_key_of_last(batch)
    east, west = _offset_margins(tz_name, bound // _DAY)
    return last + west < bound if descending else last - east >= bound


class Splitter:
    """Tracks the running cursors' progress and splits the largest running window on demand.

    ``registry`` is the list of every window's state (the checkpoint's, so new windows are saved with
    it); ``lock`` guards it against a checkpoint save running in a worker thread.
    """

    def __init__(
        self,
        registry: list[WindowState],
        *,
        query: Any,
        span: tuple[datetime, datetime] | None,
        lock: Any = None,
    ) -> None:
        self.registry = registry
        self.descending = query.sort == "start_desc"
        self.tz = query.timezone
        self.min_rows = 2 * query.limit  # a split costs a partial page or two: not worth it for less
        self.base_ends_from = query.ends_from
        self.base_starts_before = query.starts_before
        self.span = (to_ms(span[0]), to_ms(span[1])) if span else None
        self.lock = lock if lock is not None else contextlib.nullcontext()
        self.seen: dict[int, _Seen] = {}
        self.splits = 0

    # ------------------------------------------------------------------------------- progress
    def _bounds(self, state: WindowState) -> tuple[int | None, int | None]:
        """The window's kept start range in ms, open sides narrowed by the probed range if known."""
        w = state.window
        lo = w.keep_from_ms
        hi = w.keep_before_ms if w.keep_before is not None else to_ms(w.starts_before)
        if self.span is not None:
            lo = self.span[0] if lo is None else max(lo, self.span[0])
            hi = self.span[1] if hi is None else min(hi, self.span[1])
        return lo, hi

    def observe(self, state: WindowState, keys: np.ndarray, kept: int) -> None:
        """Record a page of ``state``'s cursor: the start keys returned and how many rows it kept."""
        if not len(keys):
            return
        lo, hi = self._bounds(state)
        edge = int(keys.min()) if self.descending else int(keys.max())
        seen = self.seen.get(state.window.index)
        if seen is None:
            start = hi if self.descending else lo
            first = edge if start is None else (max(start, edge) if self.descending else min(start, edge))
            seen = self.seen[state.window.index] = _Seen(first=first, pos=edge)
        seen.pos = min(seen.pos, edge) if self.descending else max(seen.pos, edge)
        seen.rows += kept

    def finished(self, state: WindowState) -> None:
        self.seen.pop(state.window.index, None)

    # ---------------------------------------------------------------------------------- split
    def _candidate(self, state: WindowState) -> tuple[float, int] | None:
        """(estimated rows left, split point in ms) for a running window, or None if not worth it."""
        seen = self.seen.get(state.window.index)
        lo, hi = self._bounds(state)
        if seen is None or state.done or seen.rows == 0:
            return None
        if self.descending:
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
        if not ok or left < 2 * _SECOND:
            return None
        estimate = seen.rows * left / max(covered, _SECOND)
        return (estimate, m) if estimate >= self.min_rows else None

    def split(self, running: list[WindowState]) -> WindowState | None:
        """Split the running window with the most rows left; the new window's state, or None."""
        best: tuple[float, int, WindowState] | None = None
        for state in running:
            found = self._candidate(state)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], found[1], state)
        if best is None:
            return None
        _, m_ms, state = best
        m = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=m_ms)
        w = state.window
        with self.lock:
            index = max(s.window.index for s in self.registry) + 1
            if self.descending:
                new = replace(w, index=index, starts_before=m, keep_before=None)
                state.window = replace(w, keep_from=m)
            else:
                upper = w.keep_before if w.keep_before is not None else w.starts_before
                ends_from = m if self.base_ends_from is None else max(self.base_ends_from, m)
                new = replace(w, index=index, ends_from=ends_from, starts_before=upper, keep_from=m, keep_before=None)
                state.window = replace(w, keep_before=m)
            fresh = WindowState(new)
            self.registry.append(fresh)
        self.splits += 1
        return fresh

