"""Reading one cell: text, booleans, datetimes and dates in the common spreadsheet formats, email lists.

Each parser raises ``ValueError`` with a reason a person can act on; :mod:`.rows` adds row and column.
A cell may also hold a list (a Parquet ``list<string>`` column, a DataFrame cell holding a list): the
email and linked-record parsers take each element as one value.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any

from ..errors import shown

__all__ = [
    "BOOL_FALSE",
    "BOOL_TRUE",
    "cell_items",
    "cell_text",
    "is_blank",
    "parse_bool",
    "parse_emails",
    "parse_linked_records",
    "parse_moment",
]

# Tried after ISO 8601, in this order; the day-first variants replace the US ones with day_first.
_US = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%y %H:%M", "%m/%d/%y %I:%M %p")
_US_DATES = ("%m/%d/%Y", "%m/%d/%y")
_OTHER = (
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%d %B %Y %H:%M",
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
    "%b %d %Y %H:%M",
    "%d-%b-%Y %H:%M",
    "%Y-%m-%d %I:%M %p",
)
_OTHER_DATES = ("%Y/%m/%d", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y")


# ISO 8601 as spreadsheets write it, with a single-digit month, day or hour (2027-6-7 9:00): zero-padded,
# then read as ISO 8601 (offsets, fractions and Z included).
_LOOSE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:([T ])(\d{1,2}):(\d{2})(.*))?", re.IGNORECASE)
# "9:05AM", "9:05 a.m.": the form strptime's %p reads is "9:05 AM".
_AM_PM = re.compile(r"(\d)\s*([ap])\.?\s*m\.?$", re.IGNORECASE)


def _padded_iso(text: str) -> str | None:
    match = _LOOSE_ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, sep, hour, minute, rest = match.groups()
    out = f"{year}-{int(month):02d}-{int(day):02d}"
    if sep:
        out += f"T{int(hour):02d}:{minute}{rest}"
    return out


def _swap(fmt: str) -> str:
    return fmt.replace("%m/%d", "%d/%m")


def cell_items(value: Any) -> list[Any] | None:
    """The elements of a list cell (Python list or tuple, one-dimensional NumPy array), or None for a scalar."""
    if isinstance(value, list | tuple):
        return list(value)
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 0) == 1:
        return list(value.tolist())
    return None


def is_blank(value: Any) -> bool:
    """True for an empty cell: None, NaN/NaT, whitespace-only text, or a list of such."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    items = cell_items(value)
    if items is not None:
        return all(is_blank(item) for item in items)
    if isinstance(value, dict):
        return not value
    # pandas.NaT and pandas.NA are neither; they compare unequal to themselves or refuse bool().
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def cell_text(value: Any) -> str:
    """A cell as stripped text (numbers without a spurious ``.0``, datetimes in ISO form)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if hasattr(value, "item") and cell_items(value) is None:  # numpy scalars
        return cell_text(value.item())
    return str(value).strip()


# The words a true/false cell may hold (compared without case); anything else is a rejected row, so that
# "nein" or "maybe" never counts as true.
BOOL_TRUE = frozenset({"true", "yes", "y", "1", "x", "t", "on", "all day", "all-day"})
BOOL_FALSE = frozenset({"false", "no", "n", "0", "f", "off"})


def parse_bool(value: Any) -> bool:
    """A boolean cell (:data:`BOOL_TRUE`, :data:`BOOL_FALSE`, Excel's TRUE/FALSE, 1/0); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str) and cell_items(value) is None:
        return parse_bool(value.item())
    text = cell_text(value).lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    raise ValueError(f"{shown(cell_text(value))} is not true/false (use true/false, yes/no or 1/0)")


def parse_moment(value: Any, *, formats: tuple[str, ...] = (), day_first: bool = False) -> datetime | date:
    """A datetime (naive when the text had no offset) or, for a date-only cell, a date.

    ISO 8601 first (also with a single-digit month, day or hour: ``2027-6-7 9:00``), then ``formats``,
    then the common spreadsheet formats (US month/day order unless ``day_first``); hours, months and
    days may have one digit (``6/17/2027 9:05 AM``, ``17.6.2027 9:00``). Typed cells (Excel, Parquet,
    pandas) are taken as they are.
    """
    if isinstance(value, datetime):
        if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
            plain: datetime = value.to_pydatetime()
            return plain
        return value
    if isinstance(value, date):
        return value
    text = cell_text(value)
    if not text:
        raise ValueError("is empty")
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        pass
    padded = _padded_iso(text)
    if padded is not None:
        try:
            return date.fromisoformat(padded) if len(padded) == 10 else datetime.fromisoformat(padded.replace("z", "Z"))
        except ValueError:
            pass
    text = _AM_PM.sub(lambda m: f"{m.group(1)} {m.group(2).upper()}M", text)
    datetimes = formats + tuple(_swap(f) if day_first else f for f in _US) + _OTHER
    for fmt in datetimes:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    for fmt in tuple(_swap(f) if day_first else f for f in _US_DATES) + _OTHER_DATES:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if day_first and any(_parses(text, fmt) for fmt in _US + _US_DATES):
        raise ValueError(f"{shown(text)} is month-first but the mapping says day_first (day/month/year): use one order per file")
    raise ValueError(f"{shown(text)} is not a date or datetime (use ISO 8601, e.g. 2027-11-27T14:00:00+01:00)")


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


# One address of a cell: quoted text and <...> may hold the separators (`"Smith, Ana" <ana@acme.com>`).
_ADDRESS_PART = re.compile(r'(?:"[^"]*"?|<[^>]*>?|[^;,\n"<]+)+')
_NAME_ADDR = re.compile(r"(.*)<([^<>]*)>", re.DOTALL)


def _address(text: str) -> str:
    """The address of one ``addr``, ``Name <addr>``, ``'addr'`` or ``"addr"``; not validated."""
    text = text.strip()
    match = _NAME_ADDR.fullmatch(text)
    if match:
        return match.group(2).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def parse_emails(value: Any) -> list[str]:
    """The addresses of a cell, separated by ``;``, ``,`` or line breaks; ``Name <addr>`` gives ``addr``.

    A list cell gives one address per element (an element may be ``Name <addr>``, or a participant
    struct of an extract with ``email_address``). Not validated: that is :func:`connector.models.email_problem`.
    """
    items = cell_items(value)
    if items is None:
        return [_address(part) for part in _ADDRESS_PART.findall(cell_text(value)) if part.strip()]
    out = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            if is_blank(item.get("email_address")):
                raise ValueError(f"participant {number} of the list has no email_address")
            item = item["email_address"]
        if not is_blank(item):
            out.append(_address(cell_text(item)))
    return out


def _linked_pair(text: str) -> tuple[str, str]:
    obj, sep, record_id = text.strip().rpartition(":")
    if not sep or not obj.strip() or not record_id.strip():
        raise ValueError(f"{shown(text.strip())} is not object:record_id (e.g. companies:5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10)")
    return obj.strip(), record_id.strip()


def parse_linked_records(value: Any) -> list[tuple[str, str]]:
    """``object:record_id`` pairs separated by ``;``; ValueError names the first malformed pair.

    A list cell gives one pair per element: ``object:record_id`` text, or a struct with ``record_id`` and
    ``object`` (or an extract's ``object_slug``/``object_id``).
    """
    items = cell_items(value)
    if items is None:
        return [_linked_pair(part) for part in cell_text(value).split(";") if part.strip()]
    out = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            obj = next((item[k] for k in ("object", "object_slug", "object_id") if not is_blank(item.get(k))), None)
            if obj is None or is_blank(item.get("record_id")):
                raise ValueError(f"linked record {number} of the list needs object (or object_slug) and record_id")
            out.append((cell_text(obj), cell_text(item["record_id"])))
        elif not is_blank(item):
            out.append(_linked_pair(cell_text(item)))
    return out
