"""Seeded meetings that look real, as a pure function of (number of meetings, seed).

The columns that filters and ordering need (ids, start/end, participants' people, deals) are drawn
with NumPy in one go, so a million meetings take a few seconds and little memory; everything else
(title, description, statuses, organizer, created_at) is drawn as small columns too, and a meeting's
JSON is assembled from them only when it is served: ``SeedData.render_bytes`` renders a whole page in
one vectorised pass (render.py), byte for byte what ``orjson.dumps(SeedData.render(i))`` gives;
``render`` stays as the plain reference. Meetings span 2024-01-01 .. 2026-12-31 in many timezones, with
extra weight on the days US and EU clocks change; about 12 % are all-day (some multi-day), 5 % share
their start with the previous one, some have no participants, a few have dozens, and titles include
accents, CJK and emoji.
"""

from __future__ import annotations

import hashlib
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .timeutil import DAY_MS, HOUR_MS, day_ms, render_datetime, render_nanos
from .zones import FIRST_DAY, N_DAYS, TIMEZONES, noon_offsets_ms

if TYPE_CHECKING:
    from .render import PageRenderer

__all__ = [
    "NAMESPACE",
    "RecordIds",
    "SeedData",
    "generate",
    "hex_uuids",
    "key_order",
    "link",
    "object_id",
    "record_id",
    "record_ids",
    "uuid_bytes",
]

NAMESPACE = uuid.UUID("2d0e4c1a-8a55-4f43-9c1e-6b7f0f3d9a11")
_TZ_WEIGHTS = np.array([4, 6, 18, 6, 10, 3, 1, 10, 6, 6, 2, 4, 1, 3, 2, 1, 3, 1, 2, 1, 1], dtype=float)
# Days on which clocks change: US, then EU, then Australia/New Zealand.
DST_DAYS = tuple(
    date.fromisoformat(d)
    for d in """2024-03-10 2024-11-03 2025-03-09 2025-11-02 2026-03-08 2026-11-01
    2024-03-31 2024-10-27 2025-03-30 2025-10-26 2026-03-29 2026-10-25
    2024-04-07 2024-10-06 2025-04-06 2025-10-05""".split()
)
_FIRST = tuple(
    """alice bob carla dmitri emma farid grace hiro ines jonas kemi liam mei noah olga pablo quinn
    rosa sven tariq uma victor wen ximena yusuf zoe anais bjorn chidi dana""".split()
)
_LAST = tuple(
    """smith garcia muller dubois rossi tanaka kim nguyen okafor silva kowalski novak jensen haddad
    ivanova chen patel obrien schmidt lopez""".split()
)
_COMPANY_DOMAINS = tuple(
    """acme.com globex.io initech.co.uk umbrella.de hooli.com stark.industries wayne-enterprises.com
    soylent.fr tyrell.jp cyberdyne.ai wonka.ch vandelay.com massive-dynamic.com aperture.science
    oscorp.net dunder-mifflin.com""".split()
)
_PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "icloud.com")
_TITLES = (
    "Weekly sync",
    "Onboarding Session",
    "Quarterly business review",
    "Intro call",
    "Demo",
    "Réunion d'équipe",
    "Besprechung: Vertragsverlängerung",
    "会议",
    "プロジェクト定例",
    "Kick-off 🚀",
    "1:1",
    "Pricing discussion",
    "Renewal — next steps",
    "Coffee ☕",
    "Board meeting",
    "Offsite",
    "Retro 🔁",
    "Reunión de planificación",
    "Security review",
    "Standup",
)
_DESCRIPTIONS = (
    "Agenda: intros, goals, next steps.",
    "Dial-in details in the calendar invite.",
    'Bring the Q3 numbers.\nSecond line with a tab\tand "quotes".',
    "Notes: ✅ contract sent",
    "Discussing the rollout plan für Europa.",
)
_ROOMS = ("Conference Room B", "Zoom Room 3", "Salle Lumière")
_STATUSES = ("accepted", "tentative", "declined", "pending")
MAX_SUFFIX = 500  # titles are numbered 1 .. MAX_SUFFIX - 1 (or not at all)
_ACTORS = ("system", "workspace-member", "api-token", "app")


@lru_cache(maxsize=1024)
def object_id(slug: str) -> str:
    """The deterministic object UUID for an object slug."""
    return str(uuid.uuid5(NAMESPACE, f"object:{slug}"))


@lru_cache(maxsize=262_144)
def record_id(slug: str, key: str) -> str:
    """The deterministic record UUID of e.g. a person (key = email) or a company (key = domain)."""
    return str(uuid.uuid5(NAMESPACE, f"{slug}:{key}"))


def record_ids(slug: str, keys: Sequence[str]) -> list[str]:
    """``record_id(slug, key)`` for every key, in one pass (about 1 µs each rather than 15)."""
    if not keys:
        return []
    prefix, sha1 = NAMESPACE.bytes + f"{slug}:".encode(), hashlib.sha1
    raw = np.frombuffer(b"".join([sha1(prefix + k.encode()).digest()[:16] for k in keys]), dtype=np.uint8)
    raw = raw.reshape(-1, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5, as uuid.uuid5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return [b.decode() for b in hex_uuids(raw).view("S36").ravel().tolist()]


_HEX2 = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)


def hex_uuids(raw: np.ndarray) -> np.ndarray:
    """Canonical UUID text (an ``(m, 36)`` uint8 matrix) of an ``(m, 16)`` uint8 matrix of UUID bytes."""
    m = len(raw)
    hexed = _HEX2.take(raw.ravel()).view(np.uint8).reshape(m, 32)
    out = np.empty((m, 36), dtype=np.uint8)
    out[:, [8, 13, 18, 23]] = ord("-")
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return out


def uuid_bytes(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Canonical UUID text (an ``(m, 36)`` uint8 matrix) of 128-bit values given as two uint64 halves."""
    halves = np.empty((len(hi), 2), dtype=">u8")
    halves[:, 0], halves[:, 1] = hi, lo
    return hex_uuids(halves.view(np.uint8).reshape(-1, 16))


class _Columns(NamedTuple):
    start: array[int]
    end: array[int]
    tz: array[int]
    all_day: bytes
    off: array[int]
    person: array[int]
    deal: array[int]
    company: array[int]


class RecordIds(NamedTuple):
    """Record IDs of a data set's people (by email index), companies and deals."""

    people: list[str]
    companies: list[str]
    deals: list[str]


def _uuid_str(hi: int, lo: int) -> str:
    h = f"{(hi << 64) | lo:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class SeedData:
    """Column arrays of the seeded meetings, row i being the i-th in the listing's order (start, then
    ID); ``render(i)`` builds meeting i in the API's shape."""

    n: int
    seed: int
    workspace_id: str
    id_hi: np.ndarray
    id_lo: np.ndarray
    start_ms: np.ndarray  # sort key: UTC start; all-day: the start date at 00:00 UTC
    end_ms: np.ndarray
    all_day: np.ndarray
    tz_idx: np.ndarray
    part_off: np.ndarray  # participants of meeting i are part_person[part_off[i]:part_off[i+1]]
    part_person: np.ndarray
    deal: np.ndarray  # -1 = no deal linked
    emails: list[str]
    person_company: np.ndarray  # company index per person, -1 for personal mail domains
    companies: list[str]  # company domains

    details: dict[str, np.ndarray]  # per-meeting draws used only when rendering

    def __post_init__(self) -> None:
        codes = {1: "b", 2: "h", 4: "i", 8: "q"}
        self._details = {k: array(codes[v.dtype.itemsize], v.tobytes()) for k, v in self.details.items()}
        self.details = {}  # the array copies are all rendering needs
        self._renderer: PageRenderer | None = None  # built on first use
        self._record_ids: RecordIds | None = None

    @cached_property
    def _plain(self) -> _Columns:
        """Array copies of the columns ``render`` reads: indexing them yields plain ints, much faster
        than NumPy scalars (built on the first reference render)."""
        return _Columns(
            start=array("q", self.start_ms.astype(np.int64).tobytes()),
            end=array("q", self.end_ms.astype(np.int64).tobytes()),
            tz=array("b", self.tz_idx.astype(np.int8).tobytes()),
            all_day=bytes(self.all_day.astype(np.uint8).tobytes()),
            off=array("q", self.part_off.astype(np.int64).tobytes()),
            person=array("i", self.part_person.astype(np.int32).tobytes()),
            deal=array("i", self.deal.astype(np.int32).tobytes()),
            company=array("i", self.person_company.astype(np.int32).tobytes()),
        )

    def meeting_id(self, i: int) -> str:
        return _uuid_str(int(self.id_hi[i]), int(self.id_lo[i]))

    def people(self, i: int) -> list[int]:
        """Distinct participant people of meeting i, in order of appearance."""
        c = self._plain
        return list(dict.fromkeys(c.person[c.off[i] : c.off[i + 1]]))

    def by_calendar_sync(self, i: int) -> bool:
        """True when meeting i stands for one Attio's calendar sync made (its actor type is ``system``)."""
        return _ACTORS[self._details["actor"][i]] == "system"

    def deal_id(self, k: int) -> str:
        return record_id("deals", f"{self.seed}:{k}")

    def render_bytes(self, rows: Sequence[int] | np.ndarray) -> list[bytes]:
        """``orjson.dumps(self.render(i))`` for each row i, byte for byte, in one batched pass."""
        return self.renderer().render(rows)

    def renderer(self) -> PageRenderer:
        """The batched renderer (``render.PageRenderer``) of this data set, built on first use."""
        if self._renderer is None:
            from .render import PageRenderer  # render.py builds on this module's vocabulary

            self._renderer = PageRenderer(self)
        return self._renderer

    def detail_arrays(self) -> dict[str, np.ndarray]:
        """The rendering-only columns as NumPy views (no copies) of the arrays ``render`` reads."""
        dtypes = {"b": np.int8, "h": np.int16, "i": np.int32, "q": np.int64}
        return {k: np.frombuffer(v, dtype=dtypes[v.typecode]) for k, v in self._details.items()}

    def record_ids(self) -> RecordIds:
        """The record IDs of every person (by ``emails`` index), company and deal, computed once."""
        if self._record_ids is None:
            n_deals = int(self.deal.max()) + 1 if len(self.deal) and self.deal.max() >= 0 else 0
            self._record_ids = RecordIds(
                people=record_ids("people", self.emails),
                companies=record_ids("companies", self.companies),
                deals=record_ids("deals", [f"{self.seed}:{k}" for k in range(n_deals)]),
            )
        return self._record_ids

    def render(self, i: int) -> dict[str, Any]:
        d, c = self._details, self._plain
        start, end = c.start[i], c.end[i]
        all_day = bool(c.all_day[i])
        if all_day:
            start_v: dict[str, Any] = {"date": _iso_day(start)}
            end_v: dict[str, Any] = {"date": _iso_day(end)}
        else:
            tz = TIMEZONES[c.tz[i]]
            start_v = {"datetime": render_datetime(start, tz), "timezone": tz}
            end_v = {"datetime": render_datetime(end, tz), "timezone": tz}
        lo, hi = c.off[i], c.off[i + 1]
        org_slot = d["organizer"][i]
        organizer = c.person[lo + org_slot] if org_slot >= 0 and hi > lo else -1
        participants: list[dict[str, Any]] = []
        people: dict[int, None] = {}
        for slot in range(lo, hi):
            p = c.person[slot]
            if p in people:
                continue
            people[p] = None
            participants.append(
                {
                    "status": "accepted" if p == organizer else _STATUSES[d["status"][slot]],
                    "is_organizer": p == organizer,
                    "email_address": self.emails[p],
                    "name": None,
                }
            )
        room = d["room"][i]
        if room >= 0:
            participants.append(
                {"status": "accepted", "is_organizer": False, "email_address": None, "name": _ROOMS[room]}
            )
        linked = [link("people", record_id("people", self.emails[p])) for p in people]
        for k in dict.fromkeys(c.company[p] for p in people):
            if k >= 0:
                linked.append(link("companies", record_id("companies", self.companies[k])))
        if c.deal[i] >= 0:
            linked.append(link("deals", self.deal_id(c.deal[i])))
        title = _TITLES[d["title"][i]]
        if d["suffix"][i]:
            title = f"{title} #{d['suffix'][i]}"
        desc = d["description"][i]
        created_ns = (start - d["created_before"][i]) * 1_000_000 + d["created_ns"][i]
        hi_id, lo_id = int(self.id_hi[i]), int(self.id_lo[i])
        return {
            "id": {"workspace_id": self.workspace_id, "meeting_id": _uuid_str(hi_id, lo_id)},
            "title": title,
            "description": _DESCRIPTIONS[desc] if desc >= 0 else "",
            "is_all_day": all_day,
            "start": start_v,
            "end": end_v,
            "participants": participants,
            "linked_records": linked,
            "created_at": render_nanos(created_ns),
            "created_by_actor": {
                "type": _ACTORS[d["actor"][i]],
                "id": _uuid_str(hi_id ^ 0x5A5A_0000_0000_0000, lo_id ^ 0x0000_0000_A5A5_A5A5),
            },
        }


def link(slug: str, rid: str) -> dict[str, str]:
    return {"object_slug": slug, "object_id": object_id(slug), "record_id": rid}


def _iso_day(ms: int) -> str:
    return date.fromordinal(ms // DAY_MS + date(1970, 1, 1).toordinal()).isoformat()


def key_order(start: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The permutation that sorts meetings by (start, ID).

    One argsort of start (37 bits above the earliest) and the ID's top 26 bits usually settles it;
    only if two meetings tie on that (about never) does it sort by all of start, hi and lo.
    """
    if len(start):
        span = start - start.min()
        if span.max() < (1 << 37):
            key = (span << 26) | (hi >> np.uint64(38)).astype(np.int64)
            order = np.argsort(key)
            ordered = key[order]
            if not (ordered[1:] == ordered[:-1]).any():
                return order
    return np.lexsort((lo, hi, start))


def _people_pool(size: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray, list[str]]:
    domains = _COMPANY_DOMAINS + _PERSONAL_DOMAINS
    first = rng.integers(0, len(_FIRST), size)
    last = rng.integers(0, len(_LAST), size)
    dom = rng.integers(0, len(domains), size)
    emails: list[str] = []
    seen: set[str] = set()
    for f, la, d in zip(first.tolist(), last.tolist(), dom.tolist(), strict=True):
        base = f"{_FIRST[f]}.{_LAST[la]}"
        email, k = f"{base}@{domains[d]}", 1
        while email in seen:
            k += 1
            email = f"{base}{k}@{domains[d]}"
        seen.add(email)
        emails.append(email)
    company = np.where(dom < len(_COMPANY_DOMAINS), dom, -1).astype(np.int32)
    return emails, company, list(_COMPANY_DOMAINS)


def generate(n: int, seed: int, workspace_id: str) -> SeedData:
    """Draw the columns of ``n`` meetings from ``seed`` (same inputs, same meetings)."""
    rng = np.random.default_rng([seed, 0xA771])
    ids = rng.integers(0, 2**64, size=(n, 2), dtype=np.uint64, endpoint=False)
    hi = (ids[:, 0] & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    lo = (ids[:, 1] & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)

    day = rng.integers(0, N_DAYS, n)
    dst = rng.random(n) < 0.03
    dst_days = np.array([(d - FIRST_DAY).days for d in DST_DAYS])
    day[dst] = dst_days[rng.integers(0, len(dst_days), int(dst.sum()))]
    all_day = rng.random(n) < 0.12
    tz_idx = rng.choice(len(TIMEZONES), n, p=_TZ_WEIGHTS / _TZ_WEIGHTS.sum()).astype(np.int8)
    local_ms = (rng.integers(6, 22, n) * 60 + rng.choice([0, 15, 30, 45], n)) * 60_000
    offsets = noon_offsets_ms()  # cached: read-only
    base = day_ms(FIRST_DAY) + day.astype(np.int64) * DAY_MS
    start = np.where(all_day, base, base + local_ms - offsets[tz_idx, day])
    minutes = rng.choice([15, 30, 30, 30, 45, 60, 60, 60, 90, 120, 180, 240, 480], n)
    long_timed = rng.random(n) < 0.005
    minutes[long_timed] = rng.integers(26 * 60, 50 * 60, int(long_timed.sum()))
    days = np.where(rng.random(n) < 0.85, 1, rng.integers(2, 6, n))
    ties = np.flatnonzero(rng.random(n) < 0.05)
    ties = ties[ties > 0]
    for col in (start, all_day, tz_idx):
        col[ties] = col[ties - 1]
    end = np.where(all_day, start + days * DAY_MS, start + minutes.astype(np.int64) * 60_000)

    pool = int(min(max(n // 40, 60), 30_000))
    emails, person_company, companies = _people_pool(pool, rng)
    counts = rng.choice([0, 1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 8, 12], n)
    crowd = rng.random(n) < 0.002
    counts[crowd] = rng.integers(40, 121, int(crowd.sum()))
    part_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=part_off[1:])
    part_person = rng.integers(0, pool, int(part_off[-1])).astype(np.int32)
    deal = np.where(rng.random(n) < 0.25, rng.integers(0, max(n // 20, 5), n), -1).astype(np.int32)
    details: dict[str, np.ndarray] = {
        "title": rng.integers(0, len(_TITLES), n).astype(np.int8),
        "suffix": np.where(rng.random(n) < 0.3, rng.integers(1, MAX_SUFFIX, n), 0).astype(np.int16),
        "description": np.where(rng.random(n) < 0.6, rng.integers(0, len(_DESCRIPTIONS), n), -1).astype(
            np.int8
        ),
        "organizer": np.where(rng.random(n) < 0.85, (rng.random(n) * counts).astype(np.int32), -1).astype(
            np.int32
        ),
        "status": rng.integers(0, len(_STATUSES), int(part_off[-1])).astype(np.int8),
        "room": np.where(rng.random(n) < 0.03, rng.integers(0, len(_ROOMS), n), -1).astype(np.int8),
        "created_before": rng.integers(HOUR_MS, 60 * DAY_MS, n).astype(np.int64),
        "created_ns": rng.integers(0, 1_000_000, n).astype(np.int32),
        "actor": rng.integers(0, len(_ACTORS), n).astype(np.int8),
    }
    # Rows in the listing's order (start, then ID): a page of seeded meetings is a run of consecutive
    # rows, so that rendering it reads memory in order.
    order = key_order(start, hi, lo)
    counts = counts[order]
    slots = np.repeat(part_off[:-1][order] - (np.cumsum(counts) - counts), counts) + np.arange(
        int(part_off[-1])
    )
    part_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=part_off[1:])
    part_person, details["status"] = part_person[slots], details["status"][slots]
    hi, lo, start, end, all_day, tz_idx, deal = (
        c[order] for c in (hi, lo, start, end, all_day, tz_idx, deal)
    )
    details = {k: v if k == "status" else v[order] for k, v in details.items()}
    return SeedData(
        n=n,
        seed=seed,
        workspace_id=workspace_id,
        id_hi=hi,
        id_lo=lo,
        start_ms=start.astype(np.int64),
        end_ms=end.astype(np.int64),
        all_day=all_day,
        tz_idx=tz_idx,
        part_off=part_off,
        part_person=part_person,
        deal=deal,
        emails=emails,
        details=details,
        person_company=person_company,
        companies=companies,
    )
