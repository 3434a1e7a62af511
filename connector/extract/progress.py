"""How far an extract has got: rows, pages, and the share of its time range that its cursors have covered.

Attio gives no count, but every window is a range ``[lo, hi)`` of start keys read in the API's order, so
how far its cursor has got (the sort key of the last meeting it read, its *position*) says how much of
the window is behind it::

    covered(window) = (position - lo) / (hi - lo)        start_asc
                      (hi - position) / (hi - lo)        start_desc;   1 when the window is done

The open sides of the first and last windows are bounded by the probed range of starts (the first and
last meeting). The windows are weighed by the meetings they are expected to hold:

    rows share   rows read / rows expected, where every window expects its rows read plus its time left at
                 its density: exact once it is done, else its rows per second of start time read so far;
                 a window that has read nothing yet takes the mean density of its nearest neighbours in time
                 that have. So sparse early years weigh what they hold, not how long they last.
    time share   before any window has read a meeting: covered time / total length, every second alike.

With one window the two agree: one cursor cannot know what lies ahead of it, so its share is by time.
Measured on the emulator with meetings 20x denser at the end of ten years than at the start, runs of 4
and 8 slices: the rows share was off the true share of rows by 5 points on average over the run, the
time share by 10 (start_desc) to 20 (start_asc). A dense stretch in a window not started yet stays
unknown until it starts; the share then waits (it never goes back) until the rows catch up.

With a child stream (call recordings), meetings are read only as fast as their recordings are, a
bounded backlog ahead, so the share done is the meetings' share times the part of the meetings read so
far whose children are done: ``covered * scanned / (scanned + backlog)``.

:func:`covered_fraction` is the pure computation; :class:`ProgressTracker` is the one place in a run that
keeps the positions and hands out :class:`ExtractProgress` values after every page (never going back,
1.0 exactly when, and only when, every window is done).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .checkpoint import WindowState
from .slices import Window, to_key

__all__ = ["ExtractProgress", "ProgressFn", "ProgressTracker", "Reach", "covered_fraction", "kept_range", "share_of"]

ProgressFn = Callable[[int, int], None]  # (rows, pages) of one page: the older, simpler callback

BELOW_ONE = 0.99  # the most a run that is not finished reports (a bar rounding to whole percents shows 99%)


@dataclass(frozen=True)
class ExtractProgress:
    """Where an extract stands, after a page: counted as the report counts them.

    ``rows``: rows so far, those of a resumed checkpoint included; ``pages``: pages fetched by this run;
    ``covered``: the share of the time range done, 0.0 to 1.0 (1.0 only once the extract has fetched everything).
    With call-recording tables: ``meetings_scanned``, meetings whose recordings were looked for (or that
    were skipped as future meetings), and ``recordings`` found by this run.
    """

    rows: int
    pages: int
    covered: float
    meetings_scanned: int = 0
    recordings: int = 0


@dataclass(frozen=True)
class Reach:
    """How far one window's cursor has got: the API sort key (a start key) of the last meeting read, rows kept, done;
    ``descending``: the order the window is read in, when it may differ from the run's (a reversed window)."""

    position: int | None = None
    rows: int = 0
    done: bool = False
    descending: bool | None = None


def kept_range(window: Window, span: tuple[int, int] | None) -> tuple[int | None, int | None]:
    """The window's range of kept start keys; open sides bounded by the probed ``span`` (without one, the
    query's ``ends_from``: the first window of an overlap query also holds a few earlier starts)."""
    lo = window.keep_from_key
    hi = window.keep_before_key if window.keep_before is not None else to_key(window.starts_before)
    if span is None:
        return (lo if lo is not None else to_key(window.ends_from)), hi
    return (span[0] if lo is None else max(lo, span[0])), (span[1] if hi is None else min(hi, span[1]))


def covered_fraction(
    windows: Iterable[tuple[Window, Reach]], *, span: tuple[int, int] | None = None, descending: bool = False
) -> float:
    """The share of the extract done, 0.0 to 1.0, from every window and how far its cursor has got.

    ``span``: the probed range of start keys, (first, last + 1 s). 1.0 exactly when every window is done
    (and for no windows); otherwise at most ``BELOW_ONE``. Windows whose length cannot be known (an open side and
    no span) count by done windows only.
    """
    return share_of([(*kept_range(w, span), reach) for w, reach in windows], descending=descending)


def share_of(items: Sequence[tuple[int | None, int | None, Reach]], *, descending: bool = False) -> float:
    """:func:`covered_fraction` over windows given by their kept ranges ``(lo, hi, reach)`` as start keys."""
    done = sum(1 for _, _, reach in items if reach.done)
    if done == len(items):
        return 1.0
    windows: list[tuple[int, int, Reach]] = []  # (lo, length, reach) in time order
    for lo, hi, reach in items:
        if lo is None or hi is None:
            return min(done / len(items), BELOW_ONE)  # no length to weigh it by
        windows.append((lo, max(hi - lo, 0), reach))
    windows.sort(key=lambda w: w[0])
    total = sum(length for _, length, _ in windows)
    if total <= 0:
        return min(done / len(items), BELOW_ONE)
    covered = [_covered(lo, length, reach, descending) for lo, length, reach in windows]
    density = [_density(length, behind, reach) for (_, length, reach), behind in zip(windows, covered, strict=True)]
    if all(d is None for d in density):  # nothing read yet: by time
        return min(max(sum(covered) / total, 0.0), BELOW_ONE)
    read = expected = 0.0
    for (_, length, reach), behind, d in zip(windows, covered, _from_neighbours(density), strict=True):
        read += reach.rows
        expected += reach.rows if reach.done else reach.rows + d * (length - behind)
    return min(read / expected, BELOW_ONE) if expected > 0 else min(sum(covered) / total, BELOW_ONE)


def _covered(lo: int, length: int, reach: Reach, descending: bool) -> int:
    """How much of the window's start keys (in key units) its cursor has put behind it."""
    if reach.done:
        return length
    if reach.position is None:
        return 0
    if reach.descending is not None:
        descending = reach.descending
    behind = lo + length - reach.position if descending else reach.position - lo
    return min(max(behind, 0), length)


def _density(length: int, behind: int, reach: Reach) -> float | None:
    """Rows per key unit of start time: exact for a done window, else as read so far; None when nothing is read yet."""
    if reach.done:
        return reach.rows / length if length else None
    return reach.rows / behind if reach.rows and behind else None


def _from_neighbours(values: list[float | None]) -> list[float]:
    """Each missing value from the nearest known values on either side (their mean when both exist)."""
    left: list[float | None] = []
    last: float | None = None
    for v in values:
        last = v if v is not None else last
        left.append(last)
    out: list[float] = [0.0] * len(values)
    last = None
    for i in range(len(values) - 1, -1, -1):
        v = values[i]
        if v is not None:
            out[i] = last = v
        else:
            a = left[i]
            out[i] = (a + last) / 2 if a is not None and last is not None else (a if a is not None else last or 0.0)
    return out


class ProgressTracker:
    """A run's progress: rows, pages, and every window's :class:`Reach`, updated after each page.

    The reaches start from ``windows`` (a resumed checkpoint's positions, rows and done windows); the run
    passes its windows as they are now (splits add some) to :meth:`start` and :meth:`page`.
    ``progress(rows, pages)`` gets every page's counts; ``on_progress`` an :class:`ExtractProgress` before
    the first page and after every page.
    """

    def __init__(
        self,
        windows: Sequence[WindowState],
        *,
        span: tuple[datetime, datetime] | None = None,
        descending: bool = False,
        progress: ProgressFn | None = None,
        on_progress: Callable[[ExtractProgress], object] | None = None,
    ) -> None:
        self.span = (to_key(span[0]), to_key(span[1])) if span is not None else None
        self.descending = descending
        self.progress, self.on_progress = progress, on_progress
        self.reach = {s.window.index: Reach(s.position, s.rows, s.done, self._descending(s)) for s in windows}
        self.rows = sum(s.rows for s in windows)
        self.pages = 0
        self.covered = 0.0
        self.scanned = self.recordings = 0
        self._children: tuple[int, int] | None = None  # (scanned, backlog) of a child stream
        self._finished = False  # a child stream's last parent is done
        self._meetings = 0.0  # the meetings' own share
        self._ranges: dict[int, tuple[Window, int | None, int | None]] = {}  # a split replaces a window

    def _descending(self, state: WindowState) -> bool:
        return self.descending != state.window.reverse

    def _range(self, window: Window) -> tuple[int | None, int | None]:
        cached = self._ranges.get(window.index)
        if cached is None or cached[0] is not window:
            cached = self._ranges[window.index] = (window, *kept_range(window, self.span))
        return cached[1], cached[2]

    def fraction(self, windows: Sequence[WindowState]) -> float:
        """The covered share now (:func:`covered_fraction` over ``windows``)."""
        empty = Reach()
        items = [(*self._range(s.window), self.reach.get(s.window.index, empty)) for s in windows]
        return share_of(items, descending=self.descending)

    def value(self) -> ExtractProgress:
        return ExtractProgress(self.rows, self.pages, self.covered, self.scanned, self.recordings)

    def _share(self) -> float:
        if self._children is None:
            return self._meetings
        if self._finished:
            return 1.0
        scanned, backlog = self._children
        return min(self._meetings * scanned / max(scanned + backlog, 1), BELOW_ONE)

    def start(self, windows: Sequence[WindowState], children: tuple[int, int] | None = None) -> None:
        """Report where the run starts (0.0, or what a resumed checkpoint has done); ``children``: a child
        stream's (scanned, backlog)."""
        self._children = children
        if children is not None:
            self.scanned = children[0]
        if self.on_progress is not None:
            self._meetings = self.fraction(windows)
            self.covered = self._share()
            self.on_progress(self.value())

    def found(self, recordings: int) -> None:
        """A parent's children are fetched: ``recordings`` more found (reported at the next commit)."""
        self.recordings += recordings

    def fanned(self, scanned: int, backlog: int, *, finished: bool = False) -> None:
        """A child commit: ``scanned`` parents done in all, ``backlog`` pending; ``finished``: nothing is left
        (only then is the share 1.0)."""
        self._children = (scanned, backlog)
        self._finished = finished
        self.scanned = scanned
        if self.on_progress is not None:
            self.covered = max(self.covered, self._share())
            self.on_progress(self.value())

    def page(self, windows: Sequence[WindowState], state: WindowState, rows: int, position: int | None, done: bool) -> None:
        """One page of ``state``'s cursor: ``rows`` kept, the cursor now at ``position``, ``done`` if it was the last."""
        self.rows += rows
        self.pages += 1
        if self.progress is not None:
            self.progress(rows, 1)
        if self.on_progress is None:
            return
        index = state.window.index
        self.reach[index] = Reach(position, self.reach.get(index, Reach()).rows + rows, done, self._descending(state))
        self._meetings = self.fraction(windows)
        self.covered = max(self.covered, self._share())  # estimates may dip; the share shown never goes back
        self.on_progress(self.value())
