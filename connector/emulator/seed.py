"""Seeded meetings that look real, as a pure function of (number of meetings, seed).

The columns that filters and ordering need (ids, start/end, participants' people, deals) are drawn
with NumPy in one go, so a million meetings take a few seconds and little memory; everything else
(title, description, statuses, organizer, created_at) is drawn as small columns too, and a meeting's
JSON is assembled from them only when it is first served: ``SeedData.render_bytes`` renders a whole
page in one pass (dates, times and IDs with NumPy, per-timezone offset tables instead of ZoneInfo,
prebuilt byte fragments for people, companies, deals and titles), byte for byte what
``orjson.dumps(SeedData.render(i))`` gives; ``render`` stays as the plain reference. Meetings span 2024-01-01 .. 2026-12-31 in many timezones, with
extra weight on the days US and EU clocks change; about 12 % are all-day (some multi-day), 5 % share
their start with the previous one, some have no participants, a few have dozens, and titles include
accents, CJK and emoji.
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from .timeutil import DAY_MS, HOUR_MS, day_ms, render_datetime, render_nanos, zone

__all__ = ["NAMESPACE", "SeedData", "generate", "object_id", "record_id"]

NAMESPACE = uuid.UUID("2d0e4c1a-8a55-4f43-9c1e-6b7f0f3d9a11")
FIRST_DAY = date(2024, 1, 1)
N_DAYS = (date(2026, 12, 31) - FIRST_DAY).days + 1

# None renders as UTC with "timezone": null (a meeting whose zone Attio does not know).
TIMEZONES: tuple[str | None, ...] = (
    None,
    *"""UTC America/New_York America/Chicago America/Los_Angeles America/Sao_Paulo America/St_Johns
    Europe/London Europe/Paris Europe/Berlin Europe/Kyiv Asia/Kolkata Asia/Kathmandu Asia/Tokyo
    Asia/Shanghai Asia/Tehran Australia/Sydney Australia/Lord_Howe Pacific/Auckland
    Pacific/Kiritimati Pacific/Pago_Pago""".split(),
)
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
_ACTORS = ("system", "workspace-member", "api-token", "app")


@lru_cache(maxsize=1024)
def object_id(slug: str) -> str:
    """The deterministic object UUID for an object slug."""
    return str(uuid.uuid5(NAMESPACE, f"object:{slug}"))


@lru_cache(maxsize=262_144)
def record_id(slug: str, key: str) -> str:
    """The deterministic record UUID of e.g. a person (key = email) or a company (key = domain)."""
    return str(uuid.uuid5(NAMESPACE, f"{slug}:{key}"))


def _uuid_str(hi: int, lo: int) -> str:
    h = f"{(hi << 64) | lo:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class SeedData:
    """Column arrays of the seeded meetings; ``render(i)`` builds meeting i in the API's shape."""

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
        self._created_before = self.details["created_before"].astype(np.int64)
        self._created_ns = self.details["created_ns"].astype(np.int64)
        self.details = {}  # the array copies (and the two NumPy columns above) are all rendering needs
        # array views: indexing them yields plain ints, much faster than NumPy scalars when rendering
        self._start = array("q", self.start_ms.astype(np.int64).tobytes())
        self._end = array("q", self.end_ms.astype(np.int64).tobytes())
        self._tz = array("b", self.tz_idx.astype(np.int8).tobytes())
        self._all_day = bytes(self.all_day.astype(np.uint8).tobytes())
        self._off = array("q", self.part_off.astype(np.int64).tobytes())
        self._person = array("i", self.part_person.astype(np.int32).tobytes())
        self._deal = array("i", self.deal.astype(np.int32).tobytes())
        self._company = array("i", self.person_company.astype(np.int32).tobytes())

        self._fragments: _Fragments | None = _Fragments(self)  # built now, not on the first request
        _offset_table()

    def meeting_id(self, i: int) -> str:
        return _uuid_str(int(self.id_hi[i]), int(self.id_lo[i]))

    def people(self, i: int) -> list[int]:
        """Distinct participant people of meeting i, in order of appearance."""
        return list(dict.fromkeys(self._person[self._off[i] : self._off[i + 1]]))

    def deal_id(self, k: int) -> str:
        return record_id("deals", f"{self.seed}:{k}")

    def render_bytes(self, rows: Sequence[int]) -> list[bytes]:
        """``orjson.dumps(self.render(i))`` for each row i, byte for byte, in one batched pass."""
        if not rows:
            return []
        f = self._fragments
        if f is None:
            f = self._fragments = _Fragments(self)
        d = self._details
        idx = np.fromiter(rows, dtype=np.int64, count=len(rows))
        start, end = self.start_ms[idx], self.end_ms[idx]
        tz = self.tz_idx[idx].astype(np.int64)
        tz_list = tz.tolist()
        all_day = self.all_day[idx].tolist()
        timed = not all(all_day)
        starts = _render_datetimes(start, tz) if timed else []
        ends = _render_datetimes(end, tz) if timed else []
        days = (
            np.datetime_as_string(
                np.concatenate((start, end)).astype("datetime64[ms]").astype("datetime64[D]")
            )
            .astype("S")
            .tolist()
        )
        m = len(idx)
        created = (start - self._created_before[idx]) * 1_000_000 + self._created_ns[idx]
        created_at = np.datetime_as_string(created.astype("datetime64[ns]"), unit="ns").astype("S").tolist()
        hi, lo = self.id_hi[idx], self.id_lo[idx]
        meeting_ids = _uuid_bytes(hi, lo)
        actor_ids = _uuid_bytes(hi ^ np.uint64(0x5A5A_0000_0000_0000), lo ^ np.uint64(0x0000_0000_A5A5_A5A5))
        person, off, company, deal = self._person, self._off, self._company, self._deal
        organizers, statuses, rooms = d["organizer"], d["status"], d["room"]
        titles, suffixes, descriptions, actors = d["title"], d["suffix"], d["description"], d["actor"]
        person_frag, person_link, company_link = f.person, f.person_link, f.company_link
        status_frag, organizer_frag, zones = f.status, f.organizer, f.zones
        out: list[bytes] = []
        for k, i in enumerate(rows):
            if all_day[k]:
                moments = b'{"date":"' + days[k] + b'"},"end":{"date":"' + days[m + k] + b'"}'
            else:
                z = zones[tz_list[k]]
                moments = (
                    b'{"datetime":"'
                    + starts[k]
                    + b'","timezone":'
                    + z
                    + b'},"end":{"datetime":"'
                    + ends[k]
                    + b'","timezone":'
                    + z
                    + b"}"
                )
            a, b = off[i], off[i + 1]
            org_slot = organizers[i]
            organizer = person[a + org_slot] if org_slot >= 0 and b > a else -1
            parts: list[bytes] = []
            links: list[bytes] = []
            people: dict[int, None] = {}
            for slot in range(a, b):
                p = person[slot]
                if p in people:
                    continue
                people[p] = None
                parts.append(
                    (organizer_frag if p == organizer else status_frag[statuses[slot]]) + person_frag[p]
                )
                links.append(person_link[p])
            if rooms[i] >= 0:
                parts.append(f.room[rooms[i]])
            if people:
                for c in dict.fromkeys([company[p] for p in people]):
                    if c >= 0:
                        links.append(company_link[c])
            if deal[i] >= 0:
                links.append(f.deal(self, deal[i]))
            out.append(
                b"".join(
                    (
                        f.head,
                        meeting_ids[k],
                        b'"},"title":',
                        f.title(titles[i], suffixes[i]),
                        b',"description":',
                        f.descriptions[descriptions[i]],
                        b',"is_all_day":true,"start":' if all_day[k] else b',"is_all_day":false,"start":',
                        moments,
                        b',"participants":[',
                        b",".join(parts),
                        b'],"linked_records":[',
                        b",".join(links),
                        b'],"created_at":"',
                        created_at[k],
                        f.actors[actors[i]],
                        actor_ids[k],
                        b'"}}',
                    )
                )
            )
        return out

    def render(self, i: int) -> dict[str, Any]:
        d = self._details
        start, end = self._start[i], self._end[i]
        all_day = bool(self._all_day[i])
        if all_day:
            start_v: dict[str, Any] = {"date": _iso_day(start)}
            end_v: dict[str, Any] = {"date": _iso_day(end)}
        else:
            tz = TIMEZONES[self._tz[i]]
            start_v = {"datetime": render_datetime(start, tz), "timezone": tz}
            end_v = {"datetime": render_datetime(end, tz), "timezone": tz}
        lo, hi = self._off[i], self._off[i + 1]
        org_slot = d["organizer"][i]
        organizer = self._person[lo + org_slot] if org_slot >= 0 and hi > lo else -1
        participants: list[dict[str, Any]] = []
        people: dict[int, None] = {}
        for slot in range(lo, hi):
            p = self._person[slot]
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
        linked = [_link("people", record_id("people", self.emails[p])) for p in people]
        for c in dict.fromkeys(self._company[p] for p in people):
            if c >= 0:
                linked.append(_link("companies", record_id("companies", self.companies[c])))
        if self._deal[i] >= 0:
            linked.append(_link("deals", self.deal_id(self._deal[i])))
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


def _link(slug: str, rid: str) -> dict[str, str]:
    return {"object_slug": slug, "object_id": object_id(slug), "record_id": rid}


def _iso_day(ms: int) -> str:
    return date.fromordinal(ms // DAY_MS + date(1970, 1, 1).toordinal()).isoformat()


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


@lru_cache(maxsize=1)
def _utc_offsets_ms() -> np.ndarray:
    """UTC offset (ms) at local noon, per timezone and day of the seeded range."""
    table = np.zeros((len(TIMEZONES), N_DAYS), dtype=np.int64)
    for t, name in enumerate(TIMEZONES):
        tz = zone(name)
        if tz is None:
            continue
        for d in range(N_DAYS):
            day = date.fromordinal(FIRST_DAY.toordinal() + d)
            off = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
            table[t, d] = int(off.total_seconds()) * 1000 if off else 0
    return table


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
    offsets = _utc_offsets_ms()  # cached: read-only
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
    details = {
        "title": rng.integers(0, len(_TITLES), n).astype(np.int8),
        "suffix": np.where(rng.random(n) < 0.3, rng.integers(1, 500, n), 0).astype(np.int16),
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


# ---- fast rendering: a batch of meetings straight to JSON bytes ----------------------------------
# ``SeedData.render_bytes`` gives exactly ``orjson.dumps(render(i))`` for each row, but draws the
# dates, times and IDs of the whole batch with NumPy and pastes prebuilt byte fragments together.

_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)
_UUID_SLOTS = np.array([*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)])
# UTC instants covered by the offset tables; anything outside falls back to ``render_datetime``.
_RANGE_LO = day_ms(FIRST_DAY) - 7 * DAY_MS
_RANGE_HI = day_ms(FIRST_DAY) + (N_DAYS + 7) * DAY_MS
_TZ_STRIDE = 1 << 42  # > any epoch ms of the range, so that tz * stride + ms orders by (tz, ms)


def _uuid_bytes(hi: np.ndarray, lo: np.ndarray) -> list[bytes]:
    """The canonical UUID strings (as bytes) of 128-bit values given as two uint64 halves."""
    halves = np.empty((len(hi), 2), dtype=">u8")
    halves[:, 0], halves[:, 1] = hi, lo
    hexed = _HEX[halves.view(np.uint8).reshape(-1, 16)].reshape(-1, 32)
    out = np.full((len(hi), 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_SLOTS] = hexed
    return out.view("S36").ravel().tolist()


def _offset_suffix(offset_ms: int) -> bytes:
    sign = "-" if offset_ms < 0 else "+"
    minutes, ms = divmod(abs(offset_ms), 60_000)
    if ms:
        raise ValueError("sub-minute UTC offsets are rendered by the slow path")
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}".encode()


@lru_cache(maxsize=1)
def _offset_table() -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Per timezone, the UTC instants at which its offset changes (within the seeded range).

    Returns sorted ``tz * _TZ_STRIDE + instant`` keys, the offset (ms) from each key on, and the
    rendered suffix ('Z' for no zone and UTC, else '+HH:MM') from each key on.
    """
    keys: list[int] = []
    offsets: list[int] = []
    suffixes: list[bytes] = []
    step = DAY_MS // 2  # clocks change at most twice a year; never twice within 12 hours

    def offset_at(tz: Any, ms: int) -> int:
        off = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).astimezone(tz).utcoffset()
        return round(off.total_seconds() * 1000) if off else 0

    for t, name in enumerate(TIMEZONES):
        tz = zone(name)
        if tz is None or name in ("UTC", "Etc/UTC"):
            keys.append(t * _TZ_STRIDE)
            offsets.append(0)
            suffixes.append(b"Z")
            continue
        ms = _RANGE_LO
        current = offset_at(tz, ms)
        keys.append(t * _TZ_STRIDE)
        offsets.append(current)
        suffixes.append(_offset_suffix(current))
        while ms < _RANGE_HI:
            nxt = offset_at(tz, ms + step)
            if nxt != current:  # the change lies in (ms, ms + step]: bisect to the millisecond
                a, b = ms, ms + step
                while b - a > 1:
                    mid = (a + b) // 2
                    if offset_at(tz, mid) == current:
                        a = mid
                    else:
                        b = mid
                keys.append(t * _TZ_STRIDE + b)
                offsets.append(nxt)
                suffixes.append(_offset_suffix(nxt))
                current = nxt
            ms += step
    return np.array(keys, dtype=np.int64), np.array(offsets, dtype=np.int64), suffixes


def _render_datetimes(ms: np.ndarray, tz: np.ndarray) -> list[bytes]:
    """``render_datetime(ms[k], TIMEZONES[tz[k]])`` for every k, as bytes."""
    keys, offsets, suffixes = _offset_table()
    inside = (ms >= _RANGE_LO) & (ms < _RANGE_HI)
    at = np.searchsorted(keys, tz * _TZ_STRIDE + np.where(inside, ms, _RANGE_LO), "right") - 1
    local = np.datetime_as_string((ms + offsets[at]).astype("datetime64[ms]"), unit="ms").astype("S")
    out = [d + suffixes[a] for d, a in zip(local.tolist(), at.tolist(), strict=True)]
    if not inside.all():
        for k in np.flatnonzero(~inside).tolist():
            out[k] = render_datetime(int(ms[k]), TIMEZONES[tz[k]]).encode()
    return out


class _Fragments:
    """Prebuilt JSON fragments of one data set (people, companies, deals, titles, ...)."""

    def __init__(self, s: SeedData) -> None:
        dumps = orjson.dumps
        self.head = b'{"id":{"workspace_id":' + dumps(s.workspace_id) + b',"meeting_id":"'
        self.person = [b'"email_address":' + dumps(e) + b',"name":null}' for e in s.emails]
        self.person_link = [dumps(_link("people", record_id("people", e))) for e in s.emails]
        self.company_link = [dumps(_link("companies", record_id("companies", c))) for c in s.companies]
        self.deal_link: dict[int, bytes] = {}
        self.status = [b'{"status":"' + st.encode() + b'","is_organizer":false,' for st in _STATUSES]
        self.organizer = b'{"status":"accepted","is_organizer":true,'
        self.room = [
            dumps({"status": "accepted", "is_organizer": False, "email_address": None, "name": r})
            for r in _ROOMS
        ]
        self.titles: dict[tuple[int, int], bytes] = {}
        self.descriptions = [*(dumps(d) for d in _DESCRIPTIONS), b'""']  # index -1: none
        self.actors = [b'Z","created_by_actor":{"type":"' + a.encode() + b'","id":"' for a in _ACTORS]
        self.zones = [dumps(z) for z in TIMEZONES]

    def title(self, t: int, suffix: int) -> bytes:
        got = self.titles.get((t, suffix))
        if got is None:
            got = self.titles[(t, suffix)] = orjson.dumps(f"{_TITLES[t]} #{suffix}" if suffix else _TITLES[t])
        return got

    def deal(self, s: SeedData, k: int) -> bytes:
        got = self.deal_link.get(k)
        if got is None:
            got = self.deal_link[k] = orjson.dumps(_link("deals", s.deal_id(k)))
        return got
