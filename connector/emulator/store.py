"""The meetings and their indexes: ordered keys, posting lists, and the find-or-create registry.

Order. Every meeting has one integer key ``(sort_ms + 2**52) << 128 | meeting_id`` that orders by
start, ties broken by the meeting ID (as a 128-bit number, which is the order of its hex string).
The sort key of a timed meeting is its UTC start; of an all-day meeting, its start date at 00:00
UTC. ``start_desc`` is the exact reverse. A cursor holds the key of the last meeting returned.

Windows. ``starts_before``/``ends_from`` are applied exactly per meeting (all-day dates judged at
00:00 in the query's timezone, end date exclusive), but only over a key range found by bisection:
``[ends_from - longest meeting - 17 h, starts_before + 16 h)``; the hours cover every UTC offset
(-12 h .. +14 h, historic local mean times up to ±16 h) plus a DST hour. Page cost therefore
depends on the page size and on the meetings near the window's edges, not on the data set's size.

Filters. ``participants`` (any of the emails, case-insensitive) and the linked record filter use
posting lists (sorted keys and rows per email / per (object slug, record ID)); when both are given
the union of their lists is walked (the contract's OR), merged in key order.

Serialized meetings. A page's missing meetings are rendered in one batch and cached (oldest out
first) up to ``CACHE_BYTES``; ``prerender()`` (``EmulatorConfig.prerender``, CLI ``--prerender``)
renders every seeded meeting at start-up into compact blobs, so that benchmarks measure the client
and not the rendering (at 1M meetings: about 1.9 GB more and some 15 s more start-up).
"""

from __future__ import annotations

import bisect
import gc
import heapq
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from .seed import SeedData, generate, object_id, record_id
from .timeutil import HOUR_MS, local_midnight_ms

__all__ = ["MeetingStore", "Posting", "Window", "make_key", "split_key"]

_OFF = 1 << 52
_ID_MASK = (1 << 128) - 1
# Serialized meetings are kept up to this many bytes (about 400k meetings of ~1.9 kB); rendering a
# page's meetings in one batch is fast, so the cache only saves that last bit of work.
CACHE_BYTES = 768 * 1024 * 1024
_ENTRY_OVERHEAD = 120  # bytes object header, dict slot and key, roughly
_CHUNK = 8192  # prerendered meetings per blob
KNOWN_OBJECTS = ("people", "companies", "deals", "users", "workspaces")


def make_key(sort_ms: int, meeting_uuid_int: int) -> int:
    return ((sort_ms + _OFF) << 128) | meeting_uuid_int


def split_key(key: int) -> tuple[int, int]:
    return (key >> 128) - _OFF, key & _ID_MASK


class Posting:
    """Keys (sorted) and the rows they belong to."""

    __slots__ = ("keys", "rows")

    def __init__(self, keys: list[int] | None = None, rows: list[int] | None = None) -> None:
        self.keys = keys if keys is not None else []
        self.rows = rows if rows is not None else []

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
        self.created: list[dict[str, Any]] = []  # meetings created by POST, in order
        self.external_refs: Counter[Any] = Counter()  # normalized external_ref -> meetings created with it
        self._by_ref: dict[Any, int] = {}
        self._posted: dict[int, dict[str, Any]] = {}  # row -> meeting, for rows >= n
        self._posted_ids: dict[str, int] = {}
        self._cache: OrderedDict[int, bytes] = OrderedDict()  # serialized meetings, oldest first
        self._cache_bytes = 0
        self._blobs: list[tuple[bytes, array[int]]] = []  # prerendered seeded meetings, per chunk
        self._postings: dict[str, Posting] = {}
        self._slugs_by_id = {object_id(s): s for s in KNOWN_OBJECTS}
        enabled = gc.isenabled()
        gc.disable()  # millions of long-lived objects: collecting while building only costs time
        try:
            self._build(self.seed_data)
        finally:
            if enabled:
                gc.enable()
            gc.freeze()  # and keep later collections from walking them again

    # ---- building -------------------------------------------------------------------------
    def _build(self, s: SeedData) -> None:
        n = s.n
        self._start = array("q", s.start_ms.tobytes())
        self._end = array("q", s.end_ms.tobytes())
        self._all_day = bytearray(s.all_day.astype(np.uint8).tobytes())
        self.max_duration_ms = int((s.end_ms - s.start_ms).max()) if n else 0
        order = np.lexsort((s.id_lo, s.id_hi, s.start_ms))
        starts, his, los = s.start_ms[order].tolist(), s.id_hi[order].tolist(), s.id_lo[order].tolist()
        keys = [((st + _OFF) << 128) | (h << 64) | lo for st, h, lo in zip(starts, his, los, strict=True)]
        rows = order.tolist()
        self.all = Posting(keys, rows)
        keys_obj, rows_obj = np.array(keys, dtype=object), np.array(rows, dtype=object)
        # id lookup for seeded rows: sorted by (hi, lo)
        by_id = np.lexsort((s.id_lo, s.id_hi))
        self._id_sorted = (s.id_hi[by_id], s.id_lo[by_id], by_id)
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        counts = np.diff(s.part_off)
        part_row = np.repeat(np.arange(n, dtype=np.int64), counts)
        part_pos = pos[part_row]
        people = self._group(s.part_person.astype(np.int64), part_pos, n, keys_obj, rows_obj)
        for p, posting in people.items():
            email = s.emails[p]
            self._postings["e:" + email] = posting
            self._postings["r:people:" + record_id("people", email)] = posting
        comp = s.person_company[s.part_person]
        mask = comp >= 0
        for c, posting in self._group(
            comp[mask].astype(np.int64), part_pos[mask], n, keys_obj, rows_obj
        ).items():
            self._postings["r:companies:" + record_id("companies", s.companies[c])] = posting
        has_deal = np.flatnonzero(s.deal >= 0)
        for d, posting in self._group(
            s.deal[has_deal].astype(np.int64), pos[has_deal], n, keys_obj, rows_obj
        ).items():
            self._postings["r:deals:" + s.deal_id(d)] = posting

    @staticmethod
    def _group(
        group: np.ndarray, positions: np.ndarray, n: int, keys: np.ndarray, rows: np.ndarray
    ) -> dict[int, Posting]:
        """Posting lists per group value from (group, order position) pairs, duplicates dropped."""
        if not len(group):
            return {}
        combined = np.sort(group * max(n, 1) + positions)
        combined = combined[np.concatenate(([True], combined[1:] != combined[:-1]))]
        g, p = np.divmod(combined, max(n, 1))
        bounds = np.flatnonzero(np.diff(g)) + 1
        starts = np.concatenate(([0], bounds)).tolist()
        ends = [*bounds.tolist(), len(g)]
        all_keys, all_rows = keys[p].tolist(), rows[p].tolist()
        return {int(g[a]): Posting(all_keys[a:b], all_rows[a:b]) for a, b in zip(starts, ends, strict=True)}

    # ---- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.all.keys)

    def meeting(self, row: int) -> dict[str, Any]:
        if row < self.seed_data.n:
            return self.seed_data.render(row)
        return self._posted[row]

    def meeting_bytes(self, row: int) -> bytes:
        return self.meetings_bytes([row])[0]

    def meetings_bytes(self, rows: list[int]) -> list[bytes]:
        """The serialized meetings of ``rows``: prerendered, cached, or rendered now in one batch."""
        n = self.seed_data.n
        if self._blobs:
            out: list[bytes | None] = [self._prerendered(r) if r < n else None for r in rows]
        else:
            get = self._cache.get
            out = [get(r) for r in rows]
        missing = [k for k, b in enumerate(out) if b is None]
        if missing:
            seeded = [rows[k] for k in missing if rows[k] < n]
            fresh = dict(zip(seeded, self.seed_data.render_bytes(seeded), strict=True))
            for k in missing:
                row = rows[k]
                data = fresh.get(row)
                if data is None:
                    data = orjson.dumps(self._posted[row])
                out[k] = data
                self._remember(row, data)
        return out  # type: ignore[return-value]

    def _remember(self, row: int, data: bytes) -> None:
        cache = self._cache
        if row in cache:
            return
        cache[row] = data
        self._cache_bytes += len(data) + _ENTRY_OVERHEAD
        while self._cache_bytes > CACHE_BYTES and cache:
            _, old = cache.popitem(last=False)  # O(1); deleting dict's first key is not
            self._cache_bytes -= len(old) + _ENTRY_OVERHEAD

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
        self._cache.clear()
        self._cache_bytes = 0

    def row_of(self, meeting_id: str) -> int | None:
        row = self._posted_ids.get(meeting_id)
        if row is not None:
            return row
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
        rows = self.all.rows
        return [
            orjson.loads(b)
            for k in range(0, len(rows), 1000)
            for b in self.meetings_bytes(rows[k : k + 1000])
        ]

    def count_by_external_ref(self) -> Counter[Any]:
        """How many meetings were created per normalized external_ref (a count > 1 is a duplicate)."""
        return Counter(self.external_refs)

    def posting(self, name: str) -> Posting | None:
        return self._postings.get(name)

    # ---- windows and pages ----------------------------------------------------------------
    def span(self, row: int, tz: str) -> tuple[int, int]:
        """(start, end) in epoch ms as the time filters see them."""
        if self._all_day[row]:
            return local_midnight_ms(self._start[row], tz), local_midnight_ms(self._end[row], tz)
        return self._start[row], self._end[row]

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

    def page(
        self, postings: list[Posting], w: Window, after: int | None, descending: bool, limit: int
    ) -> tuple[list[int], int | None]:
        """Up to ``limit`` rows after the cursor key, and the key to continue from (None at the end)."""
        lo, hi = self.key_bounds(w)
        iters = [self._walk(p, lo, hi, after, descending) for p in postings]
        merged: Iterator[tuple[int, int]] = (
            iters[0] if len(iters) == 1 else heapq.merge(*iters, reverse=descending)
        )
        out: list[tuple[int, int]] = []
        last = None
        for key, row in merged:
            if key == last:
                continue
            last = key
            if self.in_window(row, w):
                if len(out) == limit:
                    return [r for _, r in out], out[-1][0]
                out.append((key, row))
        return [r for _, r in out], None

    @staticmethod
    def _walk(p: Posting, lo: int, hi: int, after: int | None, descending: bool) -> Iterator[tuple[int, int]]:
        keys, rows = p.keys, p.rows
        if descending:
            i = bisect.bisect_left(keys, hi if after is None else min(hi, after)) - 1
            stop = bisect.bisect_left(keys, lo)
            while i >= stop:
                yield keys[i], rows[i]
                i -= 1
        else:
            i = bisect.bisect_left(keys, lo)
            if after is not None:
                i = max(i, bisect.bisect_right(keys, after))
            stop = bisect.bisect_left(keys, hi)
            while i < stop:
                yield keys[i], rows[i]
                i += 1

    # ---- writing --------------------------------------------------------------------------
    def find_by_ref(self, ref: Any) -> dict[str, Any] | None:
        row = self._by_ref.get(ref)
        return None if row is None else self.meeting(row)

    def add(self, meeting: dict[str, Any], sort_ms: int, end_ms: int, ref: Any = None) -> None:
        """Store a meeting created by POST and index it; ``ref`` is its normalized external_ref."""
        row = self.seed_data.n + len(self._posted)
        mid = meeting["id"]["meeting_id"]
        key = make_key(sort_ms, int(mid.replace("-", ""), 16))
        self._posted[row] = meeting
        self._posted_ids[mid] = row
        self._start.append(sort_ms)
        self._end.append(end_ms)
        self._all_day.append(1 if meeting["is_all_day"] else 0)
        self.max_duration_ms = max(self.max_duration_ms, end_ms - sort_ms)
        self.all.insert(key, row)
        names = {"e:" + p["email_address"] for p in meeting["participants"] if p["email_address"]}
        names |= {f"r:{lr['object_slug']}:{lr['record_id']}" for lr in meeting["linked_records"]}
        seen: set[int] = set()
        for name in sorted(names):
            posting = self._postings.get(name)
            if posting is None:
                posting = self._postings[name] = Posting()
                if name.startswith("e:"):  # a person record shares its email's list
                    self._postings["r:people:" + record_id("people", name[2:])] = posting
            if id(posting) not in seen:
                seen.add(id(posting))
                posting.insert(key, row)
        self.created.append(meeting)
        if ref is not None:
            self.external_refs[ref] += 1
            self._by_ref.setdefault(ref, row)

    def object_slug_for(self, value: str) -> str | None:
        """The slug for an object slug or object ID; None for an unknown object ID."""
        if value in self._slugs_by_id:
            return self._slugs_by_id[value]
        return None if _looks_like_uuid(value) else value

    def remember_object(self, slug: str) -> str:
        oid = object_id(slug)
        self._slugs_by_id[oid] = slug
        return oid


def _looks_like_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4
