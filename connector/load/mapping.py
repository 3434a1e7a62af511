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
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..models import PARTICIPANT_STATUSES, PROVIDERS, is_valid_timezone

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
_DEFAULTABLE = ("timezone", "participant_status", "duration_minutes", "description", "is_all_day", "provider", "title")


@dataclass(frozen=True)
class ParticipantColumn:
    """One column of participant emails, with the status its participants get (None: the row's status)."""

    column: str
    status: str | None = None


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
        for name in self.columns:
            if name not in FIELDS or name == "participants":
                raise ConfigError(f"{self.origin}: [columns] {name!r} is not a meeting field; use one of {', '.join(FIELDS)}")
        for name in self.defaults:
            if name not in _DEFAULTABLE:
                raise ConfigError(f"{self.origin}: [defaults] {name!r} is unknown; use one of {', '.join(_DEFAULTABLE)}")
        tz = self.defaults.get("timezone")
        if tz is not None and (not isinstance(tz, str) or not is_valid_timezone(tz)):
            raise ConfigError(f"{self.origin}: [defaults] timezone {tz!r} is not an IANA timezone name")
        statuses = [self.defaults.get("participant_status")] + [p.status for p in self.participants]
        for status in statuses:
            if status is not None and status not in PARTICIPANT_STATUSES:
                raise ConfigError(
                    f"{self.origin}: participant status {status!r} must be one of {', '.join(PARTICIPANT_STATUSES)}"
                )
        minutes = self.defaults.get("duration_minutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0):
            raise ConfigError(f"{self.origin}: [defaults] duration_minutes must be a positive number")
        provider = self.defaults.get("provider")
        if provider is not None and provider not in PROVIDERS:
            raise ConfigError(f"{self.origin}: [defaults] provider must be google or microsoft")
        if self.all_day_end not in ("exclusive", "inclusive"):
            raise ConfigError(f"{self.origin}: [formats] all_day_end must be 'exclusive' or 'inclusive'")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigError(f"{self.origin}: [source] delimiter must be one character, e.g. ';' or '\\t'")

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
        raise ConfigError(f"{table}: {name} must be a column name or a list of column names")
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
            raise ConfigError(f"{origin}: [columns] participants entry {item!r} must be a column name or {{column, status}}")
    return tuple(out)


_SECTIONS = {"source", "columns", "defaults", "external_ref", "formats"}


def load_mapping(path: str | Path) -> Mapping:
    """Read a TOML mapping file; :class:`~connector.errors.ConfigError` names what is wrong."""
    path = Path(path)
    origin = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"mapping file {origin} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from None
    return mapping_from_dict(data, origin=origin)


def mapping_from_dict(data: MappingABC[str, Any], *, origin: str = "<mapping>") -> Mapping:
    """Build a :class:`Mapping` from the parsed TOML structure (also handy from Python)."""
    unknown = set(data) - _SECTIONS
    if unknown:
        raise ConfigError(f"{origin}: unknown section(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(_SECTIONS))}")
    source = dict(data.get("source", {}))
    columns_in = dict(data.get("columns", {}))
    ref = dict(data.get("external_ref", {}))
    formats = dict(data.get("formats", {}))
    for table, known, got in (
        ("source", {"encoding", "delimiter", "sheet"}, source),
        ("external_ref", {"columns", "prefix"}, ref),
        ("formats", {"datetime", "day_first", "all_day_end"}, formats),
    ):
        if set(got) - known:
            raise ConfigError(f"{origin}: [{table}] has unknown key(s) {', '.join(sorted(set(got) - known))}")
    participants = _participants(origin, columns_in.pop("participants")) if "participants" in columns_in else ()
    columns = {name: _columns(f"{origin}: [columns]", name, value) for name, value in columns_in.items()}
    fmt = formats.get("datetime", [])
    fmt = [fmt] if isinstance(fmt, str) else fmt
    if not isinstance(fmt, list) or not all(isinstance(f, str) for f in fmt):
        raise ConfigError(f"{origin}: [formats] datetime must be a strptime format or a list of them")
    return Mapping(
        columns=columns,
        participants=participants,
        defaults=dict(data.get("defaults", {})),
        ref_columns=_columns(f"{origin}: [external_ref]", "columns", ref["columns"]) if "columns" in ref else (),
        ref_prefix=str(ref.get("prefix", "")),
        encoding=source.get("encoding"),
        delimiter=source.get("delimiter"),
        sheet=source.get("sheet"),
        datetime_formats=tuple(fmt),
        day_first=bool(formats.get("day_first", False)),
        all_day_end=formats.get("all_day_end", "exclusive"),
        origin=origin,
    )
