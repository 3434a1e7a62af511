"""The column mapping: which input column feeds which meeting field, and the defaults for the rest.

A file whose headers are the default names (:data:`DEFAULT_COLUMNS`) needs no mapping. A mapping file is
TOML (examples in ``sample_configs/``)::

    [source]                       # how to read the file (all optional)
    encoding = "utf-8"             # default: detected (BOM, UTF-8, else cp1252)
    delimiter = ";"                # default: detected from the header line (, ; tab |)
    sheet = "Meetings"             # .xlsx: the worksheet (default: the first)

    [columns]                      # meeting field = input column header (matched case-insensitively)
    external_ref = "Event ID"
    title = "Subject"
    start = ["Start Date", "Start Time"]   # a list joins the cells with a space
    participants = ["Required", { column = "Optional", status = "tentative" }]

    [defaults]
    timezone = "Europe/London"     # for datetimes without an offset and no timezone column (default UTC)
    duration_minutes = 30          # end = start + duration when there is no end
    participant_status = "accepted"

    [external_ref]                 # when the sheet has no id: a stable hash of these columns
    columns = ["Subject", "Start Date", "Organizer"]
    prefix = "sheet-"

    [formats]
    datetime = ["%d/%m/%Y %H:%M"]  # extra strptime formats, tried before the built-in ones
    day_first = true               # 03/04/2027 is 3 April (default: 4 March, US order)
    all_day_end = "exclusive"      # or "inclusive": how an all-day end date counts

Every value is checked for its TOML type: booleans are TOML booleans (``day_first = true``, never
``"no"``, which would be a non-empty string), numbers are numbers, names are strings. A mistake is a
:class:`~connector.errors.ConfigError` naming the file, the table and the key.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from ..config import read_toml, toml_type
from ..errors import ConfigError, did_you_mean, shown
from ..models import LIMITS, PARTICIPANT_STATUSES, PROVIDERS, control_character
from ..timezones import is_valid_timezone

__all__ = ["DEFAULT_COLUMNS", "FIELDS", "Mapping", "ParticipantColumn", "load_mapping"]

# The meeting fields a column can feed. The first block are the default column names.
DEFAULT_COLUMNS = (
    "external_ref",
    "title",
    "description",
    "start",
    "end",
    "timezone",
    "is_all_day",
    "participants",
    "organizer",
    "participant_status",
    "linked_records",
)
EXTRA_FIELDS = ("duration", "date", "ical_uid", "provider", "is_recurring", "original_start_time")
FIELDS = DEFAULT_COLUMNS + EXTRA_FIELDS


@dataclass(frozen=True)
class ParticipantColumn:
    """One column of participant emails, with the status its participants get (None: the row's status)."""

    column: str
    status: str | None = None


def _check(origin: str, key: str, value: Any, ok: bool, expected: str) -> None:
    """One mistake, one line: ``m.toml: [formats] day_first must be true or false ..., got a string 'no'``."""
    if not ok:
        raise ConfigError(f"{origin}: {key} must be {expected}, got {toml_type(value)} {shown(value)}")


def _text_ok(value: Any, limit: int | None = None) -> bool:
    return isinstance(value, str) and control_character(value) is None and (limit is None or len(value) <= limit)


def _duration_ok(minutes: Any) -> bool:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not math.isfinite(minutes) or minutes <= 0:
        return False
    try:
        timedelta(minutes=minutes)
    except OverflowError:
        return False
    return True


def _encoding_ok(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    try:
        codec = codecs.lookup(name)
        # bytes-to-bytes codecs (base64, zlib, hex) and str-to-str ones (rot13) are no text encodings;
        # idna, punycode and undefined cannot decode with the error handlers the CSV reader uses
        for errors in ("replace", "surrogateescape"):
            codec.incrementaldecoder(errors).decode(b"a", final=False)
    except (LookupError, TypeError, ValueError, AssertionError):
        return False
    return getattr(codec, "_is_text_encoding", True)


_BOOLEAN = "true or false (a TOML boolean, without quotes)"
_STATUSES = f"one of {', '.join(PARTICIPANT_STATUSES)}"
_TEXT = "text without control characters"

# The keys of [defaults] -> (is the value right, what it must be)
_DEFAULT_RULES: dict[str, tuple[Any, str]] = {
    "timezone": (is_valid_timezone, "an IANA timezone name such as 'Europe/London'"),
    "participant_status": (lambda v: v in PARTICIPANT_STATUSES, _STATUSES),
    "duration_minutes": (_duration_ok, "a positive number of minutes"),
    "description": (lambda v: _text_ok(v, LIMITS["description"]), f"{_TEXT}, at most {LIMITS['description']} characters"),
    "is_all_day": (lambda v: isinstance(v, bool), _BOOLEAN),
    "provider": (lambda v: v in PROVIDERS, " or ".join(PROVIDERS)),
    "title": (lambda v: _text_ok(v, LIMITS["title"]) and bool(v.strip()), f"{_TEXT}, 1 to {LIMITS['title']} characters"),
}


@dataclass(frozen=True)
class Mapping:
    """How input rows become meetings. ``Mapping()`` is the default: columns named like the fields."""

    columns: MappingABC[str, tuple[str, ...]] = field(default_factory=dict)
    participants: tuple[ParticipantColumn, ...] = ()
    defaults: MappingABC[str, Any] = field(default_factory=dict)
    ref_columns: tuple[str, ...] = ()
    ref_prefix: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    datetime_formats: tuple[str, ...] = ()
    day_first: bool = False
    all_day_end: Literal["exclusive", "inclusive"] = "exclusive"
    origin: str = "<defaults>"

    def __post_init__(self) -> None:
        origin = self.origin
        for name in self.columns:
            if name not in FIELDS or name == "participants":
                raise ConfigError(
                    f"{origin}: [columns] {name!r} is not a meeting field{did_you_mean(name, FIELDS)}; "
                    f"use one of {', '.join(FIELDS)}"
                )
        for name, value in self.defaults.items():
            if name not in _DEFAULT_RULES:
                raise ConfigError(f"{origin}: [defaults] {name!r} is unknown; use one of {', '.join(_DEFAULT_RULES)}")
            rule, expected = _DEFAULT_RULES[name]
            _check(origin, f"[defaults] {name}", value, rule(value), expected)
        for p in self.participants:
            _check(origin, f"[columns] participants status of {p.column!r}", p.status,
                   p.status is None or p.status in PARTICIPANT_STATUSES, _STATUSES)
        delimiter, sheet = self.delimiter, self.sheet
        for key, value, ok, expected in (
            ("[source] encoding", self.encoding, self.encoding is None or _encoding_ok(self.encoding),
             "the name of a text encoding, e.g. 'utf-8', 'cp1252' or 'latin-1'"),
            ("[source] delimiter", delimiter,
             delimiter is None or (isinstance(delimiter, str) and len(delimiter) == 1 and delimiter not in "\"\r\n"),
             "one character other than a quote or line break, e.g. ';' or '\\t'"),
            ("[source] sheet", sheet, sheet is None or (isinstance(sheet, str) and bool(sheet.strip())),
             "the name of a worksheet"),
            ("[formats] datetime", self.datetime_formats, all(isinstance(f, str) and f for f in self.datetime_formats),
             "a strptime format or a list of them"),
            ("[formats] day_first", self.day_first, isinstance(self.day_first, bool), _BOOLEAN),
            ("[formats] all_day_end", self.all_day_end, self.all_day_end in ("exclusive", "inclusive"),
             "'exclusive' or 'inclusive'"),
            ("[external_ref] prefix", self.ref_prefix, _text_ok(self.ref_prefix), _TEXT),
        ):
            _check(origin, key, value, ok, expected)

    @property
    def default_duration(self) -> timedelta | None:
        """The default meeting length when a row has no end."""
        minutes = self.defaults.get("duration_minutes")
        return timedelta(minutes=minutes) if minutes else None

    def source_options(self) -> dict[str, Any]:
        """Reading options for :func:`connector.load.sources.open_source`."""
        return {"encoding": self.encoding, "delimiter": self.delimiter, "sheet": self.sheet}


def _columns(table: str, name: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{table} {name} must be a column name or a list of column names, got {toml_type(value)} {shown(value)}")
    return tuple(v.strip() for v in items)


def _participants(origin: str, value: Any) -> tuple[ParticipantColumn, ...]:
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{origin}: [columns] participants must be a column, a list of columns or of {{column, status}}")
    out = []
    for item in items:
        if isinstance(item, str) and item.strip():
            out.append(ParticipantColumn(item.strip()))
        elif isinstance(item, dict) and isinstance(item.get("column"), str) and set(item) <= {"column", "status"}:
            out.append(ParticipantColumn(item["column"].strip(), item.get("status")))
        else:
            raise ConfigError(f"{origin}: [columns] participants entry {shown(item)} must be a column name or {{column, status}}")
    return tuple(out)


# Each table of a mapping file and its keys (None: any meeting field, checked by Mapping).
_SECTIONS: dict[str, tuple[str, ...] | None] = {
    "source": ("encoding", "delimiter", "sheet"),
    "columns": None,
    "defaults": None,
    "external_ref": ("columns", "prefix"),
    "formats": ("datetime", "day_first", "all_day_end"),
}


def load_mapping(path: str | Path) -> Mapping:
    """Read a TOML mapping file; :class:`~connector.errors.ConfigError` names what is wrong."""
    return mapping_from_dict(read_toml(Path(path), "mapping file"), origin=str(path))


def _tables(origin: str, data: Any) -> dict[str, dict[str, Any]]:
    """The document's tables; anything but a table of known tables with known keys is refused."""
    if not isinstance(data, MappingABC):
        raise ConfigError(f"{origin}: a mapping is a table of the tables {', '.join(_SECTIONS)}, got {toml_type(data)}")
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown section(s) {', '.join(sorted(map(str, unknown)))}"
            f"{did_you_mean(str(min(map(str, unknown))), _SECTIONS)}; use {', '.join(sorted(_SECTIONS))} "
            "(a key above the first [table] is a top-level key: put it under its table)"
        )
    tables = {}
    for name, keys in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, MappingABC):
            hint = f"write [{name}] once" if toml_type(table) == "an array of tables" else f"write it as a [{name}] table"
            raise ConfigError(f"{origin}: {name} must be a table, got {toml_type(table)} ({hint})")
        if keys is not None and set(table) - set(keys):
            raise ConfigError(
                f"{origin}: [{name}] has unknown key(s) {', '.join(sorted(set(table) - set(keys)))}; use {', '.join(keys)}"
            )
        tables[name] = dict(table)
    return tables


def mapping_from_dict(data: MappingABC[str, Any], *, origin: str = "<mapping>") -> Mapping:
    """Build a :class:`Mapping` from the parsed TOML structure (also handy from Python)."""
    tables = _tables(origin, data)
    source, columns_in, ref, formats = tables["source"], tables["columns"], tables["external_ref"], tables["formats"]
    participants = _participants(origin, columns_in.pop("participants")) if "participants" in columns_in else ()
    columns = {name: _columns(f"{origin}: [columns]", name, value) for name, value in columns_in.items()}
    fmt = formats.get("datetime", [])
    fmt = [fmt] if isinstance(fmt, str) else fmt
    if not isinstance(fmt, list) or not all(isinstance(f, str) for f in fmt):
        raise ConfigError(f"{origin}: [formats] datetime must be a strptime format or a list of them, got {toml_type(fmt)}")
    return Mapping(
        columns=columns,
        participants=participants,
        defaults=tables["defaults"],
        ref_columns=_columns(f"{origin}: [external_ref]", "columns", ref["columns"]) if "columns" in ref else (),
        ref_prefix=ref.get("prefix", ""),
        encoding=source.get("encoding"),
        delimiter=source.get("delimiter"),
        sheet=source.get("sheet"),
        datetime_formats=tuple(fmt),
        day_first=formats.get("day_first", False),
        all_day_end=formats.get("all_day_end", "exclusive"),
        origin=origin,
    )
