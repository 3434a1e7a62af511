"""The meetings and their indexes: the seeded order, posting lists, and the find-or-create registry.

Order. Every meeting has one integer key ``(sort_ms + 2**52) << 128 | meeting_id`` that orders by
start, ties broken by the meeting ID (as a 128-bit number, which is the order of its hex string).
The sort key of a timed meeting is its UTC start; of an all-day meeting, its start date at 00:00
UTC. ``start_desc`` is the exact reverse. A cursor holds the key of the last meeting returned.
Seeded rows come in key order (see ``seed.generate``), so a key is found by bisection on the
NumPy column of starts, then on the IDs of equal starts; meetings created by POST keep Python-int
keys in small sorted lists beside them.

Windows. ``starts_before``/``ends_from`` are applied exactly per meeting (all-day dates judged at
00:00 in the query's timezone, end date exclusive), but only over a key range found by bisection:
``[ends_from - longest meeting - 17 h, starts_before + 16 h)``; the hours cover every UTC offset
(-12 h .. +14 h, historic local mean times up to ±16 h) plus a DST hour. Candidates are tested a
growing chunk at a time with NumPy. Page cost therefore depends on the page size and on the
meetings near the window's edges, not on the data set's size.

Filters. ``participants`` (any of the emails, case-insensitive) and the linked record filter use
posting lists: per email (and its person record), company and deal, the sorted rows of its seeded
meetings (all of them in one CSR array), plus the keys and rows of created meetings. When several
lists are given their union is walked (the contract's OR), merged in key order.

Serialized meetings. A page's seeded meetings are rendered when it is served, in one batch
(render.py), straight into the page's body; nothing is cached, so memory does not grow with the
pages served and a page costs the same the first time and the next. ``prerender()``
(``EmulatorConfig.prerender``, CLI ``--prerender``) renders every seeded meeting at start-up into
compact blobs instead (at 1M meetings: about 1.9 GB more).

Changes (PATCH/PUT linked records, DELETE). A deleted seeded meeting is marked in a NumPy mask that
every walk over seeded rows applies; a seeded meeting whose links change is moved out of the seeded
columns: marked like a deleted one and stored again, with the same ID and key, beside the meetings
created by POST. Those are plain dicts, re-indexed or removed in place.
"""

from __future__ import annotations

import bisect
import gc
import heapq
from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal, overload

import numpy as np
import orjson

from .seed import SeedData, generate, object_id
from .timeutil import HOUR_MS, local_midnight_ms

__all__ = ["MeetingStore", "Posting", "Window", "make_key", "split_key"]

_OFF = 1 << 52
_ID_MASK = (1 << 128) - 1
_HALF = (1 << 64) - 1
_CHUNK = 8192  # prerendered meetings per blob
_MAX_SCAN = 1 << 16  # candidates tested at once, at most
KNOWN_OBJECTS = ("people", "companies", "deals", "users", "workspaces")
_NO_ROWS = np.empty(0, dtype=np.int32)
_FAR = 1 << 60  # epoch ms far beyond the years 0001-9999


def make_key(sort_ms: int, meeting_uuid_int: int) -> int:
    return ((sort_ms + _OFF) << 128) | meeting_uuid_int


def split_key(key: int) -> tuple[int, int]:
    return (key >> 128) - _OFF, key & _ID_MASK


class Posting:
    """The meetings of one filter value, in key order.

    ``seeded``: the rows of its seeded meetings (sorted: seeded rows are in key order), or None for
    all of them; ``keys``/``rows``: meetings created by POST (sorted keys, and their rows).
    """

    __slots__ = ("keys", "rows", "seeded")

    def __init__(self, seeded: np.ndarray | None = _NO_ROWS) -> None:
        self.seeded = seeded
        self.keys: list[int] = []
        self.rows: list[int] = []

    def insert(self, key: int, row: int) -> None:
        at = bisect.bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.rows.insert(at, row)


class Window:
    """The time window of a list query, in epoch ms; ``tz`` judges all-day meetings."""

    __slots__ = ("ends_from", "starts_before", "tz")

    def __init__(self, ends_from: int | None, starts_before: int | None, tz: str) -> None:
        self.ends_from, self.starts_before, self.tz = ends_from, starts_before, tz


class MeetingStore:
    """All meetings (seeded and created); ``all_meetings()``/``get()`` give the API's JSON shape."""

    def __init__(self, n: int, seed: int, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.seed_data: SeedData = generate(n, seed, workspace_id)
        self.created: list[dict[str, Any]] = []  # meetings created by POST, in order (deleted ones too)
        self.external_refs: Counter[Any] = Counter()  # normalized external_ref -> meetings created with it
        self._by_ref: dict[Any, int] = {}
        self._posted: dict[int, dict[str, Any]] = {}  # row -> meeting, for rows >= n
        self._posted_ids: dict[str, int] = {}
        self._posted_spans: dict[int, tuple[int, int, bool]] = {}  # row -> (sort ms, end ms, all-day)
        self._next_row = n  # rows are never reused: a deleted meeting's row stays free
        self._ref_of: dict[int, Any] = {}  # row -> the external_ref it holds in _by_ref
        self._gone: np.ndarray | None = None  # seeded rows deleted or moved (see "Changes" above)
        self._gone_count = 0
        self._blobs: list[tuple[bytes, array[int]]] = []  # prerendered seeded meetings, per chunk
        self._postings: dict[str, Posting] = {}  # built on first use from the seeded groups below
        self._windows: dict[tuple[int, int], tuple[int, int]] = {}  # see _window_rows
        self._slugs_by_id = {object_id(s): s for s in KNOWN_OBJECTS}
        enabled = gc.isenabled()
        gc.disable()  # many long-lived objects: collecting while building only costs time
        try:
            self._build(self.seed_data)
            self.seed_data.renderer()  # built now, not on the first request
        finally:
            if enabled:
                gc.enable()
            gc.freeze()  # and keep later collections from walking them again

    # ---- building -------------------------------------------------------------------------
    def _build(self, s: SeedData) -> None:
        n = s.n
        # seeded rows are in key order already (generate() sorts them)
        self._start, self._end, self._all_day = s.start_ms, s.end_ms, s.all_day
        by_id = np.argsort(s.id_hi)
        his = s.id_hi[by_id]
        if n > 1 and (his[1:] == his[:-1]).any():
            by_id = np.lexsort((s.id_lo, s.id_hi))
            his = s.id_hi[by_id]
        self._id_sorted = (his, s.id_lo[by_id], by_id)  # ID lookup for seeded rows
        self.max_duration_ms = int((s.end_ms - s.start_ms).max()) if n else 0
        self.all = Posting(None)
        # posting lists of the seeded meetings: person p is group p, then companies, then deals
        ids = s.record_ids()
        self._lists, self._bounds = _seeded_lists(s, len(ids.deals))
        people, companies = len(s.emails), len(s.companies)
        names = dict(zip(["e:" + e for e in s.emails], range(people), strict=True))
        names.update(zip(["r:people:" + r for r in ids.people], range(people), strict=True))
        names.update(
            zip(["r:companies:" + r for r in ids.companies], range(people, people + companies), strict=True)
        )
        names.update(
            zip(
                ["r:deals:" + r for r in ids.deals],
                range(people + companies, len(self._bounds) - 1),
                strict=True,
            )
        )
        self._groups = names

    # ---- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.seed_data.n - self._gone_count + len(self._posted)

    def meeting(self, row: int) -> dict[str, Any]:
        if row < self.seed_data.n:
            return self.seed_data.render(row)
        return self._posted[row]

    def meeting_bytes(self, row: int) -> bytes:
        return self.meetings_bytes([row])[0]

    def meetings_bytes(self, rows: list[int]) -> list[bytes]:
        """The serialized meetings of ``rows``: prerendered, or rendered now in one batch."""
        n = self.seed_data.n
        if self._blobs:
            return [self._prerendered(r) if r < n else orjson.dumps(self._posted[r]) for r in rows]
        seeded = [r for r in rows if r < n]
        if len(seeded) == len(rows):
            return self.seed_data.render_bytes(rows)
        fresh = iter(self.seed_data.render_bytes(seeded))
        return [next(fresh) if r < n else orjson.dumps(self._posted[r]) for r in rows]

    def meetings_json(self, rows: list[int], before: bytes = b"", after: bytes = b"") -> bytes:
        """``before + b",".join(self.meetings_bytes(rows)) + after``: a list page's body.

        Seeded meetings are rendered straight into it (one join, no list of meetings) unless they
        are prerendered or ``meetings_bytes`` was replaced (say, by a test serving altered meetings).
        """
        n = self.seed_data.n
        if type(self).meetings_bytes is _MEETINGS_BYTES and not self._blobs and (not rows or max(rows) < n):
            return self.seed_data.renderer().render_joined(rows, before, after)
        return b"".join((before, b",".join(self.meetings_bytes(rows)), after))

    def _prerendered(self, row: int) -> bytes:
        blob, offsets = self._blobs[row // _CHUNK]
        j = row % _CHUNK
        return blob[offsets[j] : offsets[j + 1]]

    def prerender(self) -> None:
        """Render every seeded meeting now, into compact blobs (about 1.9 kB a meeting)."""
        s, blobs = self.seed_data, []
        for first in range(0, s.n, _CHUNK):
            rendered = s.render_bytes(range(first, min(first + _CHUNK, s.n)))
            offsets = array("q", [0])
            total = 0
            for data in rendered:
                total += len(data)
                offsets.append(total)
            blobs.append((b"".join(rendered), offsets))
        self._blobs = blobs

    def row_of(self, meeting_id: str) -> int | None:
        row = self._posted_ids.get(meeting_id)
        if row is not None:
            return row
        found = self.seeded_row_of(meeting_id)
        return None if found is None or (self._gone is not None and self._gone[found]) else found

    def seeded_row_of(self, meeting_id: str) -> int | None:
        """The seeded row a meeting ID was given, whether or not the meeting was moved or deleted since."""
        value = int(meeting_id.replace("-", ""), 16)
        hi, lo = np.uint64(value >> 64), np.uint64(value & ((1 << 64) - 1))
        his, los, rows = self._id_sorted
        i = int(np.searchsorted(his, hi, "left"))
        while i < len(his) and his[i] == hi:
            if los[i] == lo:
                return int(rows[i])
            i += 1
        return None

    def get(self, meeting_id: str) -> dict[str, Any] | None:
        """The meeting with this ID in the API's JSON shape, or None."""
        row = self.row_of(meeting_id.lower())
        return None if row is None else orjson.loads(self.meeting_bytes(row))

    def all_meetings(self) -> list[dict[str, Any]]:
        """Every meeting in ``start_asc`` order, exactly as the API returns them."""
        rows = self.ordered_rows()
        return [
            orjson.loads(b)
            for k in range(0, len(rows), 1000)
            for b in self.meetings_bytes(rows[k : k + 1000])
        ]

    def ordered_rows(self) -> list[int]:
        """The rows of every meeting in ``start_asc`` order."""
        seeded = np.arange(self.seed_data.n)
        if self.all.keys:
            before = [self._seeded_bisect(key, right=False) for key in self.all.keys]
            seeded = np.insert(seeded, before, self.all.rows)
        if self._gone is not None:
            n = self.seed_data.n
            seeded = seeded[(seeded >= n) | ~self._gone[np.minimum(seeded, n - 1)]]
        return seeded.tolist()

    def count_by_external_ref(self) -> Counter[Any]:
        """How many meetings were created per normalized external_ref (a count > 1 is a duplicate)."""
        return Counter(self.external_refs)

    @overload
    def posting(self, name: str, create: Literal[True]) -> Posting: ...
    @overload
    def posting(self, name: str, create: bool = False) -> Posting | None: ...
    def posting(self, name: str, create: bool = False) -> Posting | None:
        """The posting list of ``e:EMAIL`` or ``r:SLUG:RECORD_ID``; None if no meeting has it (unless ``create``)."""
        posting = self._postings.get(name)
        if posting is None:
            group = self._groups.get(name)
            if group is not None:
                posting = Posting(self._lists[self._bounds[group] : self._bounds[group + 1]])
            elif create:
                posting = Posting()
            else:
                return None
            self._postings[name] = posting
        return posting

    # ---- windows and pages ----------------------------------------------------------------
    def span(self, row: int, tz: str) -> tuple[int, int]:
        """(start, end) in epoch ms as the time filters see them."""
        if row < self.seed_data.n:
            s = self.seed_data
            start, end, all_day = int(s.start_ms[row]), int(s.end_ms[row]), bool(s.all_day[row])
        else:
            start, end, all_day = self._posted_spans[row]
        if all_day:
            return local_midnight_ms(start, tz), local_midnight_ms(end, tz)
        return start, end

    def key_bounds(self, w: Window) -> tuple[int, int]:
        """Key range [lo, hi) that holds every meeting that can fall in the window."""
        lo = 0
        hi = 1 << 250
        if w.ends_from is not None:
            lo = make_key(w.ends_from - self.max_duration_ms - 17 * HOUR_MS, 0)
        if w.starts_before is not None:
            hi = make_key(w.starts_before + 16 * HOUR_MS, 0)
        return lo, hi

    def in_window(self, row: int, w: Window) -> bool:
        if w.ends_from is None and w.starts_before is None:
            return True
        start, end = self.span(row, w.tz)
        if w.starts_before is not None and start >= w.starts_before:
            return False
        return not (w.ends_from is not None and end < w.ends_from)

    def _seeded_in_window(self, rows: np.ndarray, w: Window) -> np.ndarray | None:
        """``in_window`` for many seeded rows at once (in key order, either way); None when all are in."""
        # a start 17 h inside both bounds settles it (the end follows the start, offsets are smaller);
        # the rows are in start order, so their first and last starts bound every other
        starts = self._start
        first, last = int(starts[rows[0]]), int(starts[rows[-1]])
        if (w.ends_from is None or min(first, last) >= w.ends_from + 17 * HOUR_MS) and (
            w.starts_before is None or max(first, last) < w.starts_before - 17 * HOUR_MS
        ):
            return None
        start = starts[rows]
        end = self._end[rows]
        days = np.flatnonzero(self._all_day[rows])
        if len(days):  # all-day: the dates' midnights in the query's timezone
            values, where = np.unique(np.concatenate((start[days], end[days])), return_inverse=True)
            local = np.array([local_midnight_ms(v, w.tz) for v in values.tolist()], dtype=np.int64)[where]
            start[days], end[days] = local[: len(days)], local[len(days) :]
        keep = np.ones(len(rows), dtype=bool)
        if w.starts_before is not None:
            keep &= start < w.starts_before
        if w.ends_from is not None:
            keep &= end >= w.ends_from
        return keep

    def _seeded_bisect(self, key: int, right: bool) -> int:
        """How many seeded meetings have a key below ``key`` (``right``: at most ``key``)."""
        sort_ms, id_int = split_key(key)
        if not -_FAR < sort_ms < _FAR:  # beyond every meeting (and beyond what int64 bisection takes)
            return 0 if sort_ms < 0 else len(self._start)
        starts = self._start
        a, b = int(np.searchsorted(starts, sort_ms, "left")), int(np.searchsorted(starts, sort_ms, "right"))
        if a == b:
            return a
        hi, lo = np.uint64(id_int >> 64), np.uint64(id_int & _HALF)
        his = self.seed_data.id_hi[a:b]
        c, d = a + int(np.searchsorted(his, hi, "left")), a + int(np.searchsorted(his, hi, "right"))
        if c == d:
            return c
        return c + int(np.searchsorted(self.seed_data.id_lo[c:d], lo, "right" if right else "left"))

    def _window_rows(self, lo: int, hi: int) -> tuple[int, int]:
        """``_seeded_bisect`` of a window's key bounds; a client asks for the same window page after page,
        and seeded keys never change, so each pair is bisected once (the cache is kept small)."""
        found = self._windows.get((lo, hi))
        if found is None:
            if len(self._windows) >= 4096:
                self._windows.clear()
            found = self._windows[lo, hi] = (
                self._seeded_bisect(lo, right=False),
                self._seeded_bisect(hi, right=False),
            )
        return found

    def _seeded_key(self, row: int) -> int:
        s = self.seed_data
        return make_key(int(s.start_ms[row]), (int(s.id_hi[row]) << 64) | int(s.id_lo[row]))

    def page(
        self, postings: list[Posting], w: Window, after: int | None, descending: bool, limit: int
    ) -> tuple[list[int], int | None]:
        """Up to ``limit`` rows after the cursor key, and the key to continue from (None at the end)."""
        lo, hi = self.key_bounds(w)
        below_lo, below_hi = self._window_rows(lo, hi)
        # seeded rows from first to stop (exclusive) in walking order: the cursor and the window bound them
        if descending:
            first = below_hi
            if after is not None:
                first = min(first, self._seeded_bisect(after, right=False))
            stop = below_lo
        else:
            first = below_lo
            if after is not None:
                first = max(first, self._seeded_bisect(after, right=True))
            stop = below_hi
        seeded = [p.seeded for p in postings if p.seeded is None or len(p.seeded)]
        created = [p for p in postings if p.keys]
        if len(seeded) == 1 and not created:  # one list of seeded meetings: no keys needed
            found = self._seeded_page(seeded[0], first, stop, w, descending, limit + 1)
            rows = found[:limit].tolist()
            return rows, self._seeded_key(rows[-1]) if len(found) > limit else None
        # the general case: seeded rows and created keys merged in key order, as tokens that sort
        # alike: (row, 1, 0) for a seeded meeting, (seeded meetings before it, 0, key) for a created one
        walks: list[Iterator[tuple[tuple[int, int, int], int]]] = [
            self._seeded_walk(p, first, stop, w, descending) for p in seeded
        ]
        walks += [self._created_walk(p, lo, hi, after, w, descending) for p in created]
        merged = walks[0] if len(walks) == 1 else heapq.merge(*walks, reverse=descending)
        out: list[tuple[tuple[int, int, int], int]] = []
        last = None
        for token, row in merged:
            if token == last:
                continue  # the same meeting in two lists
            last = token
            if len(out) == limit:
                row, seeded_flag, key = out[-1][0]
                return [r for _, r in out], self._seeded_key(row) if seeded_flag else key
            out.append((token, row))
        return [r for _, r in out], None

    def _chunks(
        self, seeded: np.ndarray | None, first: int, stop: int, w: Window, descending: bool, size: int
    ) -> Iterator[np.ndarray]:
        """In-window rows of a seeded list, a growing chunk of candidates at a time, in walking order."""
        if seeded is not None:  # bounds on rows -> bounds on indexes into the list
            first = int(np.searchsorted(seeded, first, "left"))
            stop = int(np.searchsorted(seeded, stop, "left"))
        check = w.ends_from is not None or w.starts_before is not None
        while (first > stop) if descending else (first < stop):
            if descending:
                nxt = max(first - size, stop)
                candidates = (np.arange(nxt, first) if seeded is None else seeded[nxt:first])[::-1]
            else:
                nxt = min(first + size, stop)
                candidates = np.arange(first, nxt) if seeded is None else seeded[first:nxt]
            if check and len(candidates):
                keep = self._seeded_in_window(candidates, w)
                if keep is not None:
                    candidates = candidates[keep]
            if self._gone is not None:
                candidates = candidates[~self._gone[candidates]]
            yield candidates
            first, size = nxt, min(2 * size, _MAX_SCAN)

    def _seeded_page(
        self, seeded: np.ndarray | None, first: int, stop: int, w: Window, descending: bool, want: int
    ) -> np.ndarray:
        found: list[np.ndarray] = []
        total = 0
        for chunk in self._chunks(seeded, first, stop, w, descending, want):
            found.append(chunk)
            total += len(chunk)
            if total >= want:
                break
        if len(found) == 1:
            return found[0][:want]
        return np.concatenate(found)[:want] if found else _NO_ROWS

    def _seeded_walk(
        self, seeded: np.ndarray | None, first: int, stop: int, w: Window, descending: bool
    ) -> Iterator[tuple[tuple[int, int, int], int]]:
        for chunk in self._chunks(seeded, first, stop, w, descending, 64):
            for row in chunk.tolist():
                yield (row, 1, 0), row

    def _created_walk(
        self, p: Posting, lo: int, hi: int, after: int | None, w: Window, descending: bool
    ) -> Iterator[tuple[tuple[int, int, int], int]]:
        keys, rows = p.keys, p.rows
        if descending:
            i = bisect.bisect_left(keys, hi if after is None else min(hi, after)) - 1
            stop = bisect.bisect_left(keys, lo)
            step = -1
        else:
            i = bisect.bisect_left(keys, lo)
            if after is not None:
                i = max(i, bisect.bisect_right(keys, after))
            stop = bisect.bisect_left(keys, hi) - 1
            step = 1
        while (i >= stop) if descending else (i <= stop):
            if self.in_window(rows[i], w):
                yield (self._seeded_bisect(keys[i], right=False), 0, keys[i]), rows[i]
            i += step

    # ---- writing --------------------------------------------------------------------------
    def find_by_ref(self, ref: Any) -> dict[str, Any] | None:
        row = self._by_ref.get(ref)
        return None if row is None else self.meeting(row)

    def add(self, meeting: dict[str, Any], sort_ms: int, end_ms: int, ref: Any = None) -> None:
        """Store a meeting created by POST and index it; ``ref`` is its normalized external_ref."""
        row = self._insert(meeting, sort_ms, end_ms)
        self.created.append(meeting)
        if ref is not None:
            self.external_refs[ref] += 1
            if ref not in self._by_ref:
                self._by_ref[ref] = row
                self._ref_of[row] = ref

    def _insert(self, meeting: dict[str, Any], sort_ms: int, end_ms: int) -> int:
        row = self._next_row
        self._next_row += 1
        self._posted[row] = meeting
        self._posted_ids[meeting["id"]["meeting_id"]] = row
        self._posted_spans[row] = (sort_ms, end_ms, bool(meeting["is_all_day"]))
        self.max_duration_ms = max(self.max_duration_ms, end_ms - sort_ms)
        key = self._posted_key(row)
        self.all.insert(key, row)
        for name in _names(meeting):
            self.posting(name, create=True).insert(key, row)
        return row

    def _posted_key(self, row: int) -> int:
        return make_key(
            self._posted_spans[row][0], int(self._posted[row]["id"]["meeting_id"].replace("-", ""), 16)
        )

    def is_system(self, row: int) -> bool:
        """True for a meeting Attio's calendar sync made (``created_by_actor.type == "system"``)."""
        if row < self.seed_data.n:
            return self.seed_data.by_calendar_sync(row)
        return bool(self._posted[row]["created_by_actor"].get("type") == "system")

    def _mark_gone(self, row: int) -> None:
        if self._gone is None:
            self._gone = np.zeros(self.seed_data.n, dtype=bool)
        self._gone[row] = True
        self._gone_count += 1

    def _unindex(self, row: int) -> None:
        key = self._posted_key(row)
        for posting in [self.all, *(self._postings[name] for name in _names(self._posted[row]))]:
            at = bisect.bisect_left(posting.keys, key)
            del posting.keys[at], posting.rows[at]

    def delete(self, row: int) -> None:
        """Remove a meeting; a find-or-create POST with its external_ref creates a new one afterwards."""
        if row < self.seed_data.n:
            self._mark_gone(row)
            return
        self._unindex(row)
        meeting = self._posted.pop(row)
        del self._posted_ids[meeting["id"]["meeting_id"]], self._posted_spans[row]
        ref = self._ref_of.pop(row, None)
        if ref is not None:
            del self._by_ref[ref]

    def set_links(self, row: int, links: list[dict[str, str]]) -> dict[str, Any]:
        """Give a meeting these linked records (``object_slug``, ``object_id``, ``record_id``); its new JSON."""
        if row < self.seed_data.n:  # move it out of the seeded columns (see "Changes" above)
            meeting = self.meeting(row)
            start, end, _ = self._seeded_span(row)
            self._mark_gone(row)
            row = self._insert(meeting, start, end)
        self._unindex(row)
        meeting = self._posted[row]
        meeting["linked_records"] = links
        key = self._posted_key(row)
        self.all.insert(key, row)
        for name in _names(meeting):
            self.posting(name, create=True).insert(key, row)
        return meeting

    def _seeded_span(self, row: int) -> tuple[int, int, bool]:
        s = self.seed_data
        return int(s.start_ms[row]), int(s.end_ms[row]), bool(s.all_day[row])

    def object_slug_for(self, value: str) -> str | None:
        """The slug for an object slug or object ID; None for an unknown object ID."""
        if value in self._slugs_by_id:
            return self._slugs_by_id[value]
        return None if _looks_like_uuid(value) else value

    def remember_object(self, slug: str) -> str:
        oid = object_id(slug)
        self._slugs_by_id[oid] = slug
        return oid


_MEETINGS_BYTES = MeetingStore.meetings_bytes


def _seeded_lists(s: SeedData, n_deals: int) -> tuple[np.ndarray, list[int]]:
    """Every seeded posting list in one array: per person, then per company, then per deal, the rows
    of its meetings in order, each once; and where each list starts (one more bound at the end)."""
    n, people, companies = s.n, len(s.emails), len(s.companies)
    if companies > 62:
        raise ValueError("at most 62 companies: one bit each in an int64")
    counts = np.diff(s.part_off)
    row_of_slot = np.repeat(np.arange(n, dtype=np.int64), counts)
    # people: sort (person, row) pairs; a person twice in a meeting counts once
    shift = max(n.bit_length(), 1)
    pairs = (s.part_person.astype(np.int64) << shift) | row_of_slot
    pairs.sort()
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:] != pairs[:-1]
    pairs = pairs[first]
    sizes = [np.bincount(pairs >> shift, minlength=people)]
    lists = [pairs & ((1 << shift) - 1)]
    # companies (16): a bit per company per meeting, then each company's meetings
    per_meeting = np.zeros(n, dtype=np.int64)
    some = counts > 0  # reduceat over the meetings with participants: each runs to the next one's
    if some.any():
        bit = np.where(
            s.person_company >= 0, np.left_shift(1, np.maximum(s.person_company, 0).astype(np.int64)), 0
        )
        per_meeting[some] = np.bitwise_or.reduceat(bit[s.part_person], s.part_off[:-1][some])
    for c in range(companies):
        lists.append(np.flatnonzero(per_meeting & (1 << c)))
        sizes.append(np.array([len(lists[-1])]))
    # deals: a meeting has at most one
    has_deal = np.flatnonzero(s.deal >= 0)
    deal = s.deal[has_deal]
    lists.append(has_deal[np.argsort(deal, kind="stable")])
    sizes.append(np.bincount(deal, minlength=n_deals))
    bounds = np.concatenate(([0], np.cumsum(np.concatenate(sizes))))
    positions = np.empty(int(bounds[-1]), dtype=np.int32)
    at = 0
    for part in lists:
        positions[at : at + len(part)] = part
        at += len(part)
    return positions, bounds.tolist()


def _names(meeting: dict[str, Any]) -> set[str]:
    """The posting lists a stored meeting belongs to: its participants' emails and its linked records."""
    names = {"e:" + p["email_address"] for p in meeting["participants"] if p["email_address"]}
    names |= {f"r:{lr['object_slug']}:{lr['record_id']}" for lr in meeting["linked_records"]}
    return names


def _looks_like_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4
