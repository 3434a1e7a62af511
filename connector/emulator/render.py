"""Seeded meetings straight to JSON bytes, a page at a time, in one vectorised pass.

``PageRenderer(seed_data).render(rows)`` gives, for each row i, exactly
``orjson.dumps(seed_data.render(i))`` (the plain reference in seed.py), and ``render_joined`` the
same joined by commas, as a page's body, without building a dict per meeting. A meeting's JSON is a
sequence of pieces (* the meeting's own, + rows of a per-person or per-deal matrix, the rest shared)::

    head+ID+title*  description+is_all_day  start*  offset+zone  end*  offset+zone
    status, person+ (per participant)  room  person link+ (per person)  company links  deal link+
    created_at*  actor type  actor ID*

The few shared pieces (descriptions, zones with their offsets, statuses, companies, rooms, actor
types) are bytes objects in one table. Pieces per person, deal and title are rows of NUL-padded
uint8 matrices: a page gathers a few hundred rows from tens of megabytes, and dense rows cost
fewer cache misses than as many scattered objects. A meeting's own pieces (UUIDs, timestamps from
small lookup tables) are formatted for the whole page at once into such matrices. Which piece
goes where (participants deduplicated per meeting in order of appearance, the organiser,
companies in order of first appearance, separators) is computed with NumPy over the page's
participant slots; matrix rows become bytes objects (trailing NULs dropped) in one object array
with the shared pieces, and the page is one ``b"".join``. Its cost depends on its meetings and
their participants, not on the size of the data set.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from .seed import _ACTORS, _DESCRIPTIONS, _ROOMS, _STATUSES, _TITLES, MAX_SUFFIX, SeedData, link, uuid_bytes
from .timeutil import DAY_MS, day_ms, render_datetime
from .zones import FIRST_DAY, N_DAYS, RANGE_HI, RANGE_LO, TIMEZONES, TZ_STRIDE, offset_table

__all__ = ["PageRenderer"]

_DIGITS2 = np.frombuffer(b"".join(f"{i:02d}".encode() for i in range(100)), dtype=np.uint8).reshape(100, 2)


def _put2(out: np.ndarray, col: int, values: np.ndarray) -> None:
    out[:, col : col + 2] = _DIGITS2[values]


def _timestamps(secs: np.ndarray, nanos: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`` (an ``(m, 29)`` uint8 matrix) of epoch seconds and nanoseconds.

    Years must be 1000-9999 (the seeded data spans 2023-2027).
    """
    days, rem = np.divmod(secs, 86_400)
    # days -> civil date (H. Hinnant's algorithm, proleptic Gregorian)
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.empty((len(secs), 29), dtype=np.uint8)
    out[:, [4, 7]] = ord("-")
    out[:, 10] = ord("T")
    out[:, [13, 16]] = ord(":")
    out[:, 19] = ord(".")
    _put2(out, 0, year // 100)
    _put2(out, 2, year % 100)
    _put2(out, 5, month)
    _put2(out, 8, day)
    hours, rem = np.divmod(rem, 3600)
    _put2(out, 11, hours)
    _put2(out, 14, rem // 60)
    _put2(out, 17, rem % 60)
    _put2(out, 20, nanos // 10_000_000)
    _put2(out, 22, nanos // 100_000 % 100)
    _put2(out, 24, nanos // 1000 % 100)
    _put2(out, 26, nanos // 10 % 100)
    out[:, 28] = nanos % 10 + ord("0")
    return out


def _rows(matrix: np.ndarray) -> np.ndarray:
    """The rows of a uint8 matrix as one-element items (``V<width>``), for one-dimensional takes."""
    matrix = np.ascontiguousarray(matrix)
    return matrix.view(f"V{matrix.shape[1]}").ravel()


def _pick(rows: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The rows ``which`` of ``_rows(matrix)``, as a uint8 matrix again."""
    return rows.take(which).view(np.uint8).reshape(len(which), rows.dtype.itemsize)


class _Clock:
    """Small lookup tables for timestamps: dates by day (the seeded range and a margin), ``HH:MM:SS`` by
    second of the day, three digits by value; days outside go through ``_timestamps``."""

    def __init__(self) -> None:
        first = (day_ms(FIRST_DAY) - 400 * DAY_MS) // DAY_MS
        days = np.arange(first, first + N_DAYS + 800, dtype=np.int64)
        self.first_day = int(first)
        self.dates = _rows(_timestamps(days * 86_400, np.zeros_like(days))[:, :10])
        seconds = np.arange(86_400, dtype=np.int64)
        self.times = _rows(_timestamps(seconds, seconds * 0)[:, 10:20])  # "THH:MM:SS."
        self.thousands = _rows(
            np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), np.uint8).reshape(1000, 3)
        )
        self.layout = np.dtype([("date", "V10"), ("time", "V10"), ("ms", "V3"), ("us", "V3"), ("ns", "V3")])

    def stamps(self, secs: np.ndarray, nanos: np.ndarray) -> np.ndarray:
        """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`` (an ``(m, 29)`` matrix) of epoch seconds and nanoseconds."""
        days, second = np.divmod(secs, 86_400)
        days -= self.first_day
        if len(days) and (days.min() < 0 or days.max() >= len(self.dates)):
            return _timestamps(secs, nanos)
        out = np.empty(len(secs), dtype=self.layout)
        out["date"] = self.dates.take(days)
        out["time"] = self.times.take(second)
        millis, rest = np.divmod(nanos, 1_000_000)
        micros, rest = np.divmod(rest, 1000)
        out["ms"] = self.thousands.take(millis)
        out["us"] = self.thousands.take(micros)
        out["ns"] = self.thousands.take(rest)
        return out.view(np.uint8).reshape(len(secs), 29)


@lru_cache(maxsize=1)
def _clock() -> _Clock:
    return _Clock()


class _Table:
    """The pieces: one list of bytes, filled block by block; ``at[name]`` is a block's first index."""

    def __init__(self, pieces: list[bytes] | None = None, at: dict[str, int] | None = None) -> None:
        self.pieces = [b""] if pieces is None else list(pieces)  # index 0: a meeting's own pieces
        self.at = {} if at is None else dict(at)

    def add(self, name: str, *pieces: bytes) -> None:
        self.at[name] = len(self.pieces)
        self.pieces.extend(pieces)

    def array(self) -> np.ndarray:
        out = np.empty(len(self.pieces), dtype=object)
        out[:] = self.pieces
        return out


@lru_cache(maxsize=1)
def _shared_table() -> _Table:
    """The pieces every data set shares: descriptions, zones and their offsets, statuses, rooms, actors."""
    dumps = orjson.dumps
    t = _Table()
    t.add(  # index (description + 1) * 2 + is_all_day; description -1 is none
        "DESC",
        *(
            b',"description":' + dumps(d) + flag
            for d in ("", *_DESCRIPTIONS)
            for flag in (
                b',"is_all_day":false,"start":{"datetime":"',
                b',"is_all_day":true,"start":{"date":"',
            )
        ),
    )
    t.add("MID_DAY", b'"},"end":{"date":"')
    t.add("END_DAY", b'"},"participants":[')
    keys, _, suffixes = offset_table()
    zones = [dumps(z) for z in TIMEZONES]
    tz_of = (keys // TZ_STRIDE).tolist()
    mid, end = b'},"end":{"datetime":"', b'},"participants":['
    # offset suffix + zone, per offset-table entry; then per zone without a suffix (for the slow path)
    t.add("SUF_START", *(x + b'","timezone":' + zones[z] + mid for x, z in zip(suffixes, tz_of, strict=True)))
    t.add("SUF_END", *(x + b'","timezone":' + zones[z] + end for x, z in zip(suffixes, tz_of, strict=True)))
    t.add("BARE_START", *(b'","timezone":' + z + mid for z in zones))
    t.add("BARE_END", *(b'","timezone":' + z + end for z in zones))
    # a participant is a status (index status * 2 + not first; status 4 is the organiser), then a person
    organizer = b'{"status":"accepted","is_organizer":true,'
    t.add(
        "STATUS",
        *(
            sep + (b'{"status":"' + st.encode() + b'","is_organizer":false,' if st else organizer)
            for st in (*_STATUSES, None)
            for sep in (b"", b",")
        ),
    )
    room = {"status": "accepted", "is_organizer": False, "email_address": None}
    t.add("ROOM", *(sep + dumps(room | {"name": r}) for r in _ROOMS for sep in (b"", b",")))
    t.add("LINKS", _OPEN_LINKS)  # the list's opening, for a meeting without people
    t.add("ACTOR", *(a.encode() + b'","id":"' for a in _ACTORS))
    return t


_OPEN_LINKS = b'],"linked_records":['


@lru_cache(maxsize=1)
def _title_rows() -> np.ndarray:
    """Every title (row ``title * MAX_SUFFIX + suffix``) as JSON, for ``_pick``."""
    dumps = orjson.dumps
    return _rows(_padded([dumps(f"{x} #{k}" if k else x) for x in _TITLES for k in range(MAX_SUFFIX)]))


def _padded(pieces: Sequence[bytes]) -> np.ndarray:
    """Byte strings (JSON: no NUL in them) as the rows of a uint8 matrix, NUL-padded on the right."""
    width = max(map(len, pieces), default=0) or 1
    return np.array(pieces, dtype=f"S{width}").view(np.uint8).reshape(len(pieces), width)


def _links(slug: str, record_ids: list[str], before: bytes) -> list[bytes]:
    """``before + orjson.dumps(link(slug, rid))`` for every record ID, built as one matrix."""
    if not record_ids:
        return []
    head, tail = orjson.dumps(link(slug, "-")).split(b'"-"')
    rids = np.array(record_ids, dtype="S36").view(np.uint8).reshape(-1, 36)
    return _texts(_matrix(len(record_ids), before + head + b'"', rids, b'"' + tail))


def _put(out: np.ndarray, *parts: bytes | np.ndarray) -> None:
    """Write constant bytes and ``(m, k)`` uint8 columns side by side from the left of ``out``."""
    at = 0
    for p in parts:
        if isinstance(p, bytes):
            out[:, at : at + len(p)] = np.frombuffer(p, dtype=np.uint8)
            at += len(p)
        else:
            out[:, at : at + p.shape[1]] = p
            at += p.shape[1]


def _matrix(m: int, *parts: bytes | np.ndarray) -> np.ndarray:
    """An ``(m, width)`` uint8 matrix of constant bytes and ``(m, k)`` uint8 columns, side by side."""
    out = np.empty((m, sum(len(p) if isinstance(p, bytes) else p.shape[1] for p in parts)), dtype=np.uint8)
    _put(out, *parts)
    return out


def _texts(matrix: np.ndarray) -> list[bytes]:
    """The rows of a uint8 matrix as bytes, trailing NULs dropped."""
    matrix = np.ascontiguousarray(matrix)
    return matrix.view(f"S{matrix.shape[1]}").ravel().tolist()


class PageRenderer:
    """Renders the seeded meetings of one data set; build once (well under a second at 1M meetings)."""

    def __init__(self, s: SeedData) -> None:
        self.s = s
        dumps = orjson.dumps
        self._head = b'{"id":{"workspace_id":' + dumps(s.workspace_id) + b',"meeting_id":"'
        self._keys, self._offsets, _ = offset_table()
        shared = _shared_table()
        t = _Table(shared.pieces, shared.at)
        # per person and per deal, pieces as rows of NUL-padded matrices (denser in memory than
        # objects, and so cheaper to gather); the first person's link opens the list of links
        ids = s.record_ids()
        self._persons = _rows(_padded([b'"email_address":' + dumps(e) + b',"name":null}' for e in s.emails]))
        self._plinks = _rows(
            _padded(_links("people", ids.people, _OPEN_LINKS) + _links("people", ids.people, b","))
        )
        self._dlinks = _rows(_padded(_links("deals", ids.deals, b"") + _links("deals", ids.deals, b",")))
        self._titles = _title_rows()
        t.add("CLINK", *_links("companies", ids.companies, b","))
        self.table = t.array()
        self._at = ix = t.at
        self._pool = max(len(s.emails), 1)
        self._n_companies = max(len(s.companies), 1)
        self._n_deals = len(ids.deals)
        self._clock = _clock()

        # per meeting: its title's row, and the shared pieces of its description, actor and room
        d = s.detail_arrays()
        self._per_meeting = np.stack(
            (
                d["title"].astype(np.int32) * MAX_SUFFIX + d["suffix"],  # a row of _titles
                ix["DESC"] + (d["description"].astype(np.int32) + 1) * 2 + s.all_day,
                ix["ACTOR"] + d["actor"].astype(np.int32),
                np.where(d["room"] >= 0, ix["ROOM"] + d["room"].astype(np.int32) * 2, -1),
            ),
            axis=1,
        ).astype(np.int32)
        # per meeting, its start and end in local time, and the pieces that follow them
        n = s.n
        moments = np.concatenate((s.start_ms, s.end_ms))
        inside = (moments >= RANGE_LO) & (moments < RANGE_HI)
        tz2 = np.concatenate((s.tz_idx, s.tz_idx)).astype(np.int64)
        at = np.searchsorted(self._keys, tz2 * TZ_STRIDE + np.where(inside, moments, RANGE_LO), "right") - 1
        day2 = np.concatenate((s.all_day, s.all_day))
        self._local = np.where(day2, moments, moments + self._offsets[at]).reshape(2, n)
        self._follow = np.stack(
            (  # int32: piece indexes
                np.where(
                    s.all_day,
                    ix["MID_DAY"],
                    np.where(inside[:n], ix["SUF_START"] + at[:n], ix["BARE_START"] + tz2[:n]),
                ),
                np.where(
                    s.all_day,
                    ix["END_DAY"],
                    np.where(inside[n:], ix["SUF_END"] + at[n:], ix["BARE_END"] + tz2[n:]),
                ),
            )
        ).astype(np.int32)
        self._bare = bool((~inside & ~day2).any())
        # per participant slot, its status; the organiser's own slots say 4
        counts = np.diff(s.part_off)
        org = d["organizer"].astype(np.int64)
        org_person = np.full(s.n, -1, dtype=np.int64)
        has_org = (org >= 0) & (counts > 0)
        org_person[has_org] = s.part_person[s.part_off[:-1][has_org] + org[has_org]]
        is_org = s.part_person == np.repeat(org_person, counts)
        self._status = np.where(is_org, len(_STATUSES), d["status"]).astype(np.int8)
        self._created_before, self._created_ns = d["created_before"], d["created_ns"]

    def render(self, rows: Sequence[int] | np.ndarray) -> list[bytes]:
        """``orjson.dumps(seed_data.render(i))`` for each row i, byte for byte."""
        if not len(rows):
            return []
        flat, base, size = self._pieces(rows, comma=False)
        join = b"".join
        return [join(flat[a:b]) for a, b in zip(base.tolist(), (base + size).tolist(), strict=True)]

    def render_joined(
        self, rows: Sequence[int] | np.ndarray, before: bytes = b"", after: bytes = b""
    ) -> bytes:
        """``before + b",".join(self.render(rows)) + after``, joined once."""
        if not len(rows):
            return before + after
        flat, _, _ = self._pieces(rows, comma=True)
        flat[0] = before + flat[0]
        flat.append(after)
        return b"".join(flat)

    def _pieces(
        self, rows: Sequence[int] | np.ndarray, comma: bool
    ) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """The pieces of the meetings in order; meeting k is ``flat[base[k] : base[k] + size[k]]``.

        With ``comma``, every meeting but the first starts with a comma.
        """
        m = len(rows)
        s, ix = self.s, self._at
        idx = np.asarray(rows, dtype=np.int64)
        title, desc, actor, room = self._per_meeting[idx].T
        all_day = s.all_day[idx]
        start = s.start_ms[idx]

        # ---- participants: one entry per slot, then the first of each (meeting, person) in slot order
        first_slot = s.part_off[idx]
        count = s.part_off[idx + 1] - first_slot
        meeting_of = np.arange(m).repeat(count)
        slot = np.arange(len(meeting_of)) + (first_slot - (count.cumsum() - count)).repeat(count)
        pp = s.part_person[slot].astype(np.int64)
        keep = _firsts(meeting_of * self._pool + pp, usually_unique=True)
        pk, pslot = meeting_of, slot
        if keep is not None:
            pk, pp, pslot = meeting_of[keep], pp[keep], slot[keep]
        n_people = np.bincount(pk, minlength=m)
        rank = np.arange(len(pk)) - (n_people.cumsum() - n_people)[pk]
        not_first = rank > 0
        ck = s.person_company[pp].astype(np.int64)
        valid = ck >= 0
        ck, cm = ck[valid], pk[valid]
        keep = _firsts(cm * self._n_companies + ck)
        if keep is not None:
            ck, cm = ck[keep], cm[keep]
        n_companies = np.bincount(cm, minlength=m)
        crank = np.arange(len(cm)) - (n_companies.cumsum() - n_companies)[cm]
        deal = s.deal[idx].astype(np.int64)
        has_deal = deal >= 0
        has_room = room >= 0
        some_people = n_people > 0

        # ---- times: local start and end (tables built at start-up), created_at, then text
        local = self._local[:, idx].ravel()
        day2 = np.concatenate((all_day, all_day))
        follow = self._follow[:, idx]
        bare = np.zeros(2 * m, dtype=bool)  # outside the offset tables: rendered one by one below
        if self._bare:
            moments = np.concatenate((start, s.end_ms[idx]))
            bare = ~((moments >= RANGE_LO) & (moments < RANGE_HI)) & ~day2
        created = (start - self._created_before[idx]) * 1_000_000 + self._created_ns[idx]
        secs, nanos = np.divmod(created, 1_000_000_000)
        text = self._clock.stamps(
            np.concatenate((local // 1000, secs)), np.concatenate((local % 1000 * 1_000_000, nanos))
        )

        # ---- which piece goes where: per meeting 6 + 3 (5 of them its own, left 0 here), 2 per
        # participant, the room, 1 per link (or the links' bare opening)
        size = 9 + 2 * n_people + has_room + np.maximum(n_people, 1) + n_companies + has_deal
        base = size.cumsum() - size
        people_at = base + 6
        room_at = people_at + 2 * n_people
        links_at = room_at + has_room
        clinks_at = links_at + np.maximum(n_people, 1)
        deal_at = clinks_at + n_companies
        tail_at = deal_at + has_deal
        order = np.zeros(int(size.sum()), dtype=np.int64)
        order[base + 1] = desc
        order[base + 3] = follow[0]
        order[base + 5] = follow[1]
        order[people_at[pk] + 2 * rank] = ix["STATUS"] + self._status[pslot].astype(np.int64) * 2 + not_first
        order[room_at[has_room]] = room[has_room] + some_people[has_room]
        order[links_at[~some_people]] = ix["LINKS"]
        order[clinks_at[cm] + crank] = ix["CLINK"] + ck
        order[tail_at + 1] = actor
        pieces = self.table[order]

        # ---- each meeting's own pieces, as rows of NUL-padded matrices: head, ID and title; start;
        # end; created_at and what follows up to the actor's type; the actor's ID
        hi, lo = s.id_hi[idx], s.id_lo[idx]
        ids = uuid_bytes(
            np.concatenate((hi, hi ^ np.uint64(0x5A5A_0000_0000_0000))),
            np.concatenate((lo, lo ^ np.uint64(0x0000_0000_A5A5_A5A5))),
        )
        head = b"," * comma + self._head
        heads = np.empty((m, len(head) + 47 + self._titles.dtype.itemsize), dtype=np.uint8)
        _put(heads, head, ids[:m], b'"},"title":', _pick(self._titles, title))
        times = np.ascontiguousarray(text[: 2 * m, :23])
        times[day2, 10:] = 0  # a date: trailing NULs are dropped
        tails = np.empty((m, 76), dtype=np.uint8)
        _put(tails, b'],"created_at":"', text[2 * m :], b'Z","created_by_actor":{"type":"')
        actor_ids = np.empty((m, 39), dtype=np.uint8)
        _put(actor_ids, ids[m:], b'"}}')
        # and the pieces of people and deals, rows of their tables
        deal_row = some_people[has_deal] * self._n_deals + deal[has_deal]
        for at_, rows_ in (
            (base, heads),
            (np.concatenate((base + 2, base + 4)), times),
            (tail_at, tails),
            (tail_at + 2, actor_ids),
            (people_at[pk] + 2 * rank + 1, _pick(self._persons, pp)),
            (links_at[pk] + rank, _pick(self._plinks, not_first * self._pool + pp)),
            (deal_at[has_deal], _pick(self._dlinks, deal_row)),
        ):
            pieces[at_] = rows_.view(f"S{rows_.shape[1]}")[:, 0]  # bytes objects, trailing NULs dropped
        flat = pieces.tolist()
        for k in np.flatnonzero(bare).tolist():
            row, end = int(idx[k % m]), k >= m
            moment = int((s.end_ms if end else s.start_ms)[row])
            flat[int(base[k % m]) + (4 if end else 2)] = render_datetime(
                moment, TIMEZONES[s.tz_idx[row]]
            ).encode()
        if comma:
            flat[0] = flat[0][1:]
        return flat, base, size


def _firsts(keys: np.ndarray, usually_unique: bool = False) -> np.ndarray | None:
    """Mask of the first occurrence of each value of ``keys``; None if every value occurs once."""
    if usually_unique:
        ordered = np.sort(keys)
        if not (ordered[1:] == ordered[:-1]).any():
            return None
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    keep = np.zeros(len(keys), dtype=bool)
    keep[order[first]] = True
    return keep
