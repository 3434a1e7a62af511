"""Time helpers: epoch milliseconds in, Attio's rendering out, and strict parsing of inputs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..timezones import zone as known_zone

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "MAX_MS",
    "MIN_MS",
    "OutOfRange",
    "date_from_day_ms",
    "day_ms",
    "local_midnight_ms",
    "parse_date",
    "parse_input_datetime",
    "parse_rfc3339",
    "render_datetime",
    "render_nanos",
    "zone",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# RFC 3339 date-time: a 'T' (or space), seconds required, optional fraction, offset required.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
# The same, with the offset optional: POST bodies may send a local time plus a timezone.
_INPUT_DT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# The instants a datetime can hold: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
MIN_MS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
MAX_MS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


class OutOfRange(ValueError):
    """A datetime that is valid text but no instant of the years 0001-9999 (in UTC or its timezone)."""


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo | None:
    """The ZoneInfo for a known IANA name (see :mod:`connector.timezones`), or None for a missing or unknown one."""
    return known_zone(name)


def _ms(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _offset(text: str | None) -> int | None:
    """Offset in minutes of 'Z', '+05:30' or '+0530'; None when absent."""
    if not text:
        return None
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * (hours * 60 + minutes)


def _fraction_us(text: str | None) -> int:
    return int((text[1:] + "000000")[:6]) if text else 0


def parse_rfc3339(text: str) -> int:
    """Epoch ms of an RFC 3339 timestamp (offset required); ValueError otherwise."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError("not an RFC 3339 timestamp")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if s == 60:
        raise ValueError("leap seconds are not supported")
    offset = _offset(m.group(8)) or 0
    naive = datetime(y, mo, d, h, mi, s, _fraction_us(m.group(7)))
    return _ms(naive.replace(tzinfo=UTC)) - offset * 60_000


def parse_input_datetime(text: str, tz: ZoneInfo | None) -> int:
    """Epoch ms of a POSTed datetime: an offset wins; without one, ``tz`` (or UTC) applies.

    :class:`OutOfRange` when the instant, or its local time in ``tz`` (how it is rendered), falls outside
    the years 0001-9999: Attio could neither store nor render it.
    """
    m = _INPUT_DT.match(text)
    if not m:
        raise ValueError("not an ISO 8601 datetime")
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    s = int(m.group(6) or 0)
    naive = datetime(y, mo, d, h, mi, s, _fraction_us(m.group(7)))
    offset = _offset(m.group(8))
    try:
        if offset is not None:
            ms = _ms(naive.replace(tzinfo=UTC)) - offset * 60_000
        else:
            ms = _ms(naive.replace(tzinfo=tz or UTC))
        if not MIN_MS <= ms <= MAX_MS:
            raise OverflowError
        if tz is not None:
            (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)
    except OverflowError:
        raise OutOfRange("outside the years 0001-9999") from None
    return ms


def parse_date(text: str) -> date:
    """A calendar date in YYYY-MM-DD form; ValueError otherwise."""
    m = _DATE.match(text)
    if not m:
        raise ValueError("not a YYYY-MM-DD date")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def day_ms(d: date) -> int:
    """Epoch ms of the date at 00:00 UTC (the sort key of an all-day meeting)."""
    return (d.toordinal() - _EPOCH_ORDINAL) * DAY_MS


def date_from_day_ms(ms: int) -> date:
    return date.fromordinal(ms // DAY_MS + _EPOCH_ORDINAL)


@lru_cache(maxsize=65536)
def local_midnight_ms(day: int, tz_name: str) -> int:
    """Epoch ms of 00:00 local time in ``tz_name`` on the date whose UTC midnight is ``day`` ms."""
    tz = zone(tz_name)
    if tz is None:
        return day
    d = date_from_day_ms(day)
    return _ms(datetime(d.year, d.month, d.day, tzinfo=tz))


def render_datetime(ms: int, tz_name: str | None) -> str:
    """Attio's output form: millisecond precision; 'Z' without a zone or in UTC, else the zone's offset."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    tz = zone(tz_name)
    if tz is None or tz_name in ("UTC", "Etc/UTC"):
        return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return dt.astimezone(tz).isoformat(timespec="milliseconds")


def render_nanos(ns: int) -> str:
    """An epoch-nanosecond instant as ``YYYY-MM-DDTHH:MM:SS.fffffffffZ``."""
    secs, frac = divmod(ns, 1_000_000_000)
    dt = _EPOCH_NAIVE + timedelta(seconds=secs)
    return f"{dt.isoformat()}.{frac:09d}Z"
