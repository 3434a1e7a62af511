"""The seeded time zones as tables: when each one changes its UTC offset, and its offset at local noon.

ZoneInfo answers one instant at a time; the seeded data and the page renderer need millions of
answers, so each zone's offset changes within the seeded range (a week either side included) are
found once, and a batch of instants is then looked up with one ``searchsorted``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from .timeutil import DAY_MS, HOUR_MS, day_ms, zone

__all__ = [
    "FIRST_DAY",
    "N_DAYS",
    "RANGE_HI",
    "RANGE_LO",
    "TIMEZONES",
    "TZ_STRIDE",
    "noon_offsets_ms",
    "offset_table",
]

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
# UTC instants the tables cover; anything outside is rendered by the slow path.
RANGE_LO = day_ms(FIRST_DAY) - 7 * DAY_MS
RANGE_HI = day_ms(FIRST_DAY) + (N_DAYS + 7) * DAY_MS
TZ_STRIDE = 1 << 42  # > any epoch ms of the range, so that tz * stride + ms orders by (tz, ms)


def _offset_suffix(offset_ms: int) -> bytes:
    sign = "-" if offset_ms < 0 else "+"
    minutes, ms = divmod(abs(offset_ms), 60_000)
    if ms:
        raise ValueError("sub-minute UTC offsets are rendered by the slow path")
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}".encode()


@lru_cache(maxsize=1)
def offset_table() -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Per timezone, the UTC instants at which its offset changes (within the range).

    Returns sorted ``tz * TZ_STRIDE + instant`` keys, the offset (ms) from each key on, and the
    rendered suffix ('Z' for no zone and UTC, else '+HH:MM') from each key on.
    """
    keys: list[int] = []
    offsets: list[int] = []
    suffixes: list[bytes] = []
    step = 7 * DAY_MS  # these zones change clocks at most twice a year, never twice within a week

    def offset_at(tz: Any, ms: int) -> int:
        off = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).astimezone(tz).utcoffset()
        return round(off.total_seconds() * 1000) if off else 0

    for t, name in enumerate(TIMEZONES):
        tz = zone(name)
        if tz is None or name in ("UTC", "Etc/UTC"):
            keys.append(t * TZ_STRIDE)
            offsets.append(0)
            suffixes.append(b"Z")
            continue
        ms = RANGE_LO
        current = offset_at(tz, ms)
        keys.append(t * TZ_STRIDE)
        offsets.append(current)
        suffixes.append(_offset_suffix(current))
        while ms < RANGE_HI:
            nxt = offset_at(tz, ms + step)
            if nxt != current:  # the change lies in (ms, ms + step]: bisect to the millisecond
                a, b = ms, ms + step
                while b - a > 1:
                    mid = (a + b) // 2
                    if offset_at(tz, mid) == current:
                        a = mid
                    else:
                        b = mid
                keys.append(t * TZ_STRIDE + b)
                offsets.append(nxt)
                suffixes.append(_offset_suffix(nxt))
                current = nxt
            ms += step
    return np.array(keys, dtype=np.int64), np.array(offsets, dtype=np.int64), suffixes


def offsets_at(tz: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """The UTC offset (ms) of zone ``tz[k]`` (an index into TIMEZONES) at instant ``ms[k]`` (in range)."""
    keys, offsets, _ = offset_table()
    found: np.ndarray = offsets[np.searchsorted(keys, tz * TZ_STRIDE + ms, "right") - 1]
    return found


@lru_cache(maxsize=1)
def noon_offsets_ms() -> np.ndarray:
    """UTC offset (ms) at local noon, per timezone and day of the seeded range.

    Noon is far from every clock change, so the offset at the instant ``noon - offset`` settles
    after a step or two.
    """
    tz = np.repeat(np.arange(len(TIMEZONES), dtype=np.int64), N_DAYS)
    noon = np.tile(
        day_ms(FIRST_DAY) + np.arange(N_DAYS, dtype=np.int64) * DAY_MS + 12 * HOUR_MS, len(TIMEZONES)
    )
    offset = offsets_at(tz, noon)
    for _ in range(3):
        settled = offsets_at(tz, noon - offset)
        if (settled == offset).all():
            return offset.reshape(len(TIMEZONES), N_DAYS)
        offset = settled
    raise AssertionError("local noon's UTC offset did not settle")
