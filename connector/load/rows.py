"""One input row -> a validated find-or-create body, or a :class:`~connector.errors.RowError` naming the column.

:class:`RowMapper` binds a :class:`~.mapping.Mapping` to the headers of a file once (a mapped column that
is missing fails the whole load up front), then maps each row. Every check Attio would make is made here
first, so that an invalid row is rejected with its row number, input column and reason and never sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import ConfigError, InvalidArgumentError, RowError, shown
from ..models import (
    LIMITS,
    PARTICIPANT_STATUSES,
    PROVIDERS,
    control_character,
    email_problem,
    is_valid_uuid,
    range_problem,
    validate_meeting_body,
)
from ..timezones import is_valid_timezone
from .mapping import DEFAULT_COLUMNS, Mapping, ParticipantColumn
from .sources import Batch, FlaggedRow
from .values import (
    cell_items,
    cell_text,
    is_blank,
    parse_bool,
    parse_emails,
    parse_linked_records,
    parse_moment,
)

__all__ = ["Prepared", "Rejected", "RowMapper", "differing_fields", "field_fingerprints", "ref_key", "ref_label"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A valid row: its number, the ledger key of its external_ref, and the body to send."""

    row_number: int
    key: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid row: its number, its external_ref when known, and the error."""

    row_number: int
    key: str | None
    error: RowError


def ref_key(ref: str | dict[str, Any]) -> str:
    """The ledger key of an external_ref: the string itself, or ``ical:`` + canonical JSON of the object."""
    if isinstance(ref, str):
        return ref
    return "ical:" + json.dumps(ref, sort_keys=True, separators=(",", ":"))


def ref_label(ref: str | dict[str, Any]) -> str:
    """An external_ref as a person reads it: the string, or ``ical_uid <uid>``."""
    return ref if isinstance(ref, str) else f"ical_uid {ref.get('ical_uid')}"


# The fields of a body compared to tell a repeated external_ref with the same meeting from another one.
_COMPARED = ("title", "description", "is_all_day", "start", "end", "participants", "linked_records")


def field_fingerprints(body: dict[str, Any]) -> dict[str, str]:
    """A short hash of each compared field of a validated body, in a canonical form.

    Participants (by email) and linked records are sorted first: the same people listed in another
    order are the same meeting. Two bodies are the same meeting when their fingerprints are equal.
    """
    out = {}
    for name in _COMPARED:
        value = body.get(name)
        if name == "participants" and value:
            value = sorted(value, key=lambda p: (str(p.get("email_address")), json.dumps(p, sort_keys=True)))
        elif name == "linked_records" and value:
            value = sorted(value, key=lambda link: json.dumps(link, sort_keys=True))
        elif name == "linked_records":
            value = []
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        out[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return out


def differing_fields(first: dict[str, str], later: dict[str, str]) -> list[str]:
    """The fields whose fingerprints differ, in body order."""
    return [name for name in _COMPARED if first.get(name) != later.get(name)]


# Fields whose cell may be a list (a Parquet list column): each element is one address or one link.
_LIST_FIELDS = frozenset({"participants", "organizer", "linked_records"})


class _Reject(Exception):
    def __init__(self, field: str, reason: str, column: str | None = None) -> None:
        self.field, self.reason, self.column = field, reason, column


class RowMapper:
    """Turns rows of one source into :class:`Prepared` or :class:`Rejected` values."""

    def __init__(self, mapping: Mapping, headers: Sequence[str], source_name: str = "<input>") -> None:
        self.mapping = mapping
        self.source_name = source_name
        self.headers = list(headers)
        index: dict[str, int] = {}
        for i, header in enumerate(self.headers):
            index.setdefault(header.strip().lower(), i)
        self._index = index
        # field -> [(column index, header as written in the file)]
        self._cols: dict[str, list[tuple[int, str]]] = {}
        for name, columns in mapping.columns.items():
            self._cols[name] = [self._find(name, c) for c in columns]
        for name in DEFAULT_COLUMNS:
            if name not in self._cols and name != "participants" and name in index:
                self._cols[name] = [(index[name], self.headers[index[name]])]
        participants = mapping.participants or (
            (ParticipantColumn(self.headers[index["participants"]]),) if "participants" in index else ()
        )
        self._participants = [(self._find("participants", p.column), p.status) for p in participants]
        self._ref_cols = [self._find("external_ref", c) for c in mapping.ref_columns]
        self._check_required()
        self._check_repeated_headers()

    def _find(self, field: str, column: str) -> tuple[int, str]:
        i = self._index.get(column.strip().lower())
        if i is None:
            raise ConfigError(
                f"{self.source_name}: column {column!r} (for {field}) is not in the file; "
                f"its columns are: {', '.join(self.headers)}"
            )
        return i, self.headers[i]

    def _check_required(self) -> None:
        missing = []
        if "title" not in self._cols and not self.mapping.defaults.get("title"):
            missing.append("title")
        if "start" not in self._cols and "date" not in self._cols:
            missing.append("start")
        if not self._participants and "organizer" not in self._cols:
            missing.append("participants")
        if "external_ref" not in self._cols and not self._ref_cols and "ical_uid" not in self._cols:
            missing.append("external_ref")
        if missing:
            raise ConfigError(
                f"{self.source_name}: no column for {', '.join(missing)}; the file has: {', '.join(self.headers)}. "
                "Name the columns like the defaults or map them in a mapping file ([columns], [external_ref] columns)"
            )

    def _check_repeated_headers(self) -> None:
        """A header written twice: an error when the load reads it (only the first would be read), else a warning."""
        read = {i for cols in self._cols.values() for i, _ in cols}
        read |= {i for (i, _), _ in self._participants} | {i for i, _ in self._ref_cols}
        positions: dict[str, list[int]] = {}
        for i, header in enumerate(self.headers):
            if header.strip():
                positions.setdefault(header.strip().lower(), []).append(i)
        for places in positions.values():
            if len(places) < 2:
                continue
            name = self.headers[places[0]]
            where = ", ".join(str(i + 1) for i in places[:-1]) + f" and {places[-1] + 1}"
            if places[0] in read:
                raise ConfigError(
                    f"{self.source_name}: column {name!r} appears {len(places)} times (columns {where}) and the load "
                    "reads it: rename or remove the extra columns so that it is clear which one to load"
                )
            log.warning("%s: column %r appears %d times (columns %s); it is not loaded", self.source_name, name, len(places), where)

    # ------------------------------------------------------------------------------------ per row

    def map_batch(self, batch: Batch) -> list[Prepared | Rejected]:
        """Map every row of a batch."""
        return [self.map_row(n, cells) for n, cells in zip(batch.row_numbers, batch.rows, strict=True)]

    def map_row(self, row_number: int, cells: Sequence[Any]) -> Prepared | Rejected:
        """Map one row; never raises for bad data."""
        key: str | None = None
        try:
            if len(cells) > len(self.headers) and any(not is_blank(c) for c in cells[len(self.headers) :]):
                raise _Reject(
                    "",
                    f"has {len(cells)} cells but the header has {len(self.headers)} (a delimiter inside an unquoted cell?)",
                )
            ref = self._external_ref(cells)
            key = ref_key(ref)
            if isinstance(cells, FlaggedRow):
                index, reason = cells.problem
                raise _Reject("", reason, column=self.headers[index] if index < len(self.headers) else None)
            body = self._body(cells)
            body["external_ref"] = ref
            try:
                body = validate_meeting_body(body)
            except InvalidArgumentError as exc:  # a safety net: the checks above should have caught it
                root = exc.argument.split("[")[0].split(".")[0]
                raise _Reject(root, f"{exc.argument} {exc.reason}") from None
            return Prepared(row_number, key, body)
        except _Reject as rej:
            column = rej.column or self._column_of(rej.field)
            return Rejected(row_number, key, RowError(rej.reason, file=self.source_name, row=row_number, column=column))

    def ref_column(self, ref: str | dict[str, Any] | None = None) -> str | None:
        """The input column an external_ref was read from (the first key column of a derived one)."""
        if isinstance(ref, dict) and "ical_uid" in self._cols:
            return self._cols["ical_uid"][0][1]
        if "external_ref" in self._cols:
            return self._cols["external_ref"][0][1]
        if self._ref_cols:
            return self._ref_cols[0][1]
        cols = self._cols.get("ical_uid")
        return cols[0][1] if cols else "external_ref"

    @property
    def ref_rule(self) -> str:
        """How this mapping makes each row's external_ref, as a person reads it (kept in the ledger: a load
        whose rule differs and whose rows the ledger does not know would create every meeting again)."""
        parts = []
        if "ical_uid" in self._cols:
            parts.append(f"ical_uid from column {self._cols['ical_uid'][0][1]!r}")
        if "external_ref" in self._cols:
            parts.append(f"external_ref from column {self._cols['external_ref'][0][1]!r}")
        if self._ref_cols:
            names = ", ".join(repr(column) for _, column in self._ref_cols)
            prefix = f" with prefix {self.mapping.ref_prefix!r}" if self.mapping.ref_prefix else ""
            parts.append(f"external_ref hashed from columns {names}{prefix}")
        return "; ".join(parts)

    def _column_of(self, field: str) -> str | None:
        if field == "participants" and self._participants:
            return self._participants[0][0][1]
        if field == "start" and "start" not in self._cols and "date" in self._cols:
            field = "date"
        cols = self._cols.get(field)
        return cols[0][1] if cols else (field or None)

    def _get(self, cells: Sequence[Any], field: str) -> Any:
        """The cell of a field (typed as read), a space-joined text for a multi-column field, or None."""
        cols = self._cols.get(field)
        if not cols:
            return None
        present = [(cells[i], column) for i, column in cols if i < len(cells) and not is_blank(cells[i])]
        for value, column in present:
            self._check_cell(field, column, value)
        if not present:
            return None
        if len(cols) == 1:
            return present[0][0]
        return " ".join(cell_text(value) for value, _ in present)

    @staticmethod
    def _check_cell(field: str, column: str, value: Any) -> None:
        """Refuse what no field can take: a list or struct where one value belongs, and control characters."""
        items = cell_items(value)
        if items is not None and field not in _LIST_FIELDS:
            raise _Reject(field, f"holds a list of {len(items)} values; {field} takes one value", column)
        if isinstance(value, dict) and field not in _LIST_FIELDS:
            raise _Reject(field, f"holds a structure of {len(value)} fields; {field} takes one value", column)
        for text in items if items is not None else [value]:
            if isinstance(text, str) and (problem := control_character(text)):
                raise _Reject(field, f"{problem}; remove it from the cell", column)

    def _text(self, cells: Sequence[Any], field: str) -> str | None:
        value = self._get(cells, field)
        return None if value is None else cell_text(value)

    def _external_ref(self, cells: Sequence[Any]) -> str | dict[str, Any]:
        uid = self._text(cells, "ical_uid")
        if uid:
            provider = (self._text(cells, "provider") or self.mapping.defaults.get("provider") or "").lower()
            if provider not in PROVIDERS:
                raise _Reject("provider", f"{shown(provider)} is not a calendar provider (google or microsoft)")
            recurring = self._get(cells, "is_recurring")
            try:
                is_recurring = parse_bool(recurring) if recurring is not None else False
            except ValueError as exc:
                raise _Reject("is_recurring", str(exc)) from None
            ref: dict[str, Any] = {"ical_uid": uid, "provider": provider, "is_recurring": is_recurring}
            original = self._get(cells, "original_start_time")
            if original is not None:
                ref["original_start_time"] = self._timestamp(cells, "original_start_time", original)[0]
            return ref
        text = self._text(cells, "external_ref")
        if text:
            return text
        if self._ref_cols:
            parts = [cell_text(cells[i]) if i < len(cells) and not is_blank(cells[i]) else "" for i, _ in self._ref_cols]
            if not any(parts):
                raise _Reject("external_ref", "the external_ref key columns are all empty", self._ref_cols[0][1])
            digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
            return self.mapping.ref_prefix + digest
        raise _Reject("external_ref", "external_ref is required (or derive one: [external_ref] columns in the mapping)")

    def _timezone(self, cells: Sequence[Any]) -> str | None:
        tz = self._text(cells, "timezone")
        if tz is not None:
            if not is_valid_timezone(tz):
                raise _Reject("timezone", f"{shown(tz)} is not a known IANA timezone name (Attio would silently use UTC)")
            return tz
        return self.mapping.defaults.get("timezone")

    def _moment(self, field: str, value: Any) -> datetime | date:
        try:
            return parse_moment(value, formats=self.mapping.datetime_formats, day_first=self.mapping.day_first)
        except ValueError as exc:
            raise _Reject(field, str(exc)) from None

    def _timestamp(self, cells: Sequence[Any], field: str, value: Any) -> tuple[str, datetime]:
        moment = self._moment(field, value)
        if not isinstance(moment, datetime):
            raise _Reject(field, f"{shown(cell_text(value))} has no time of day but the meeting is not all-day")
        tz = self._timezone(cells)
        if moment.tzinfo is None:
            moment = _localize(field, moment, tz)
        problem = range_problem(moment, tz)
        if problem:
            raise _Reject(field, f"{shown(cell_text(value))} {problem}")
        moment = _to_ms(moment)
        return _iso(moment), moment

    def _body(self, cells: Sequence[Any]) -> dict[str, Any]:
        title = self._text(cells, "title") or self.mapping.defaults.get("title")
        if not title:
            raise _Reject("title", "title is required")
        if len(title) > LIMITS["title"]:
            raise _Reject("title", f"title is {len(title)} characters; Attio allows {LIMITS['title']}")
        description = self._text(cells, "description") or self.mapping.defaults.get("description") or ""
        if len(description) > LIMITS["description"]:
            raise _Reject("description", f"description is {len(description)} characters; Attio allows {LIMITS['description']}")
        body: dict[str, Any] = {"title": title, "description": description}
        body.update(self._times(cells))
        body["participants"] = self._participant_list(cells)
        linked = self._linked(cells)
        if linked:
            body["linked_records"] = linked
        return body

    def _times(self, cells: Sequence[Any]) -> dict[str, Any]:
        flag = self._get(cells, "is_all_day")
        try:
            all_day: bool | None = parse_bool(flag) if flag is not None else self.mapping.defaults.get("is_all_day")
        except ValueError as exc:
            raise _Reject("is_all_day", str(exc)) from None
        day = self._get(cells, "date")
        start_field = "date" if day is not None else "start"
        raw_start = day if day is not None else self._get(cells, "start")
        if raw_start is None:
            raise _Reject("start", "start is required")
        start = self._moment(start_field, raw_start)
        if all_day is None:
            all_day = day is not None or not isinstance(start, datetime)
        raw_end = self._get(cells, "end")
        if all_day:
            first = start.date() if isinstance(start, datetime) else start
            end_field = "end"
            if raw_end is None:
                end_field, last = start_field, first
            else:
                end = self._moment("end", raw_end)
                last = end.date() if isinstance(end, datetime) else end
            if raw_end is None or self.mapping.all_day_end == "inclusive" or last == first:
                # One day, or the last day written inclusively: the exclusive end is the day after.
                if last == date.max:
                    raise _Reject(end_field, f"an all-day meeting on {last} would end on the day after, past the last date there is")
                last += timedelta(days=1)
            if last <= first:
                raise _Reject("end", "end must be after start")
            return {"is_all_day": True, "start": {"date": first.isoformat()}, "end": {"date": last.isoformat()}}
        tz = self._timezone(cells)
        start_text, start_at = self._timestamp(cells, start_field, raw_start)
        if raw_end is not None:
            end_text, end_at = self._timestamp(cells, "end", raw_end)
        else:
            end_at = self._end_by_duration(cells, raw_start, start_at, tz)
            end_text = _iso(end_at)
        if end_at <= start_at:
            raise _Reject("end", "end must be after start")
        start_out: dict[str, Any] = {"datetime": start_text}
        end_out: dict[str, Any] = {"datetime": end_text}
        if tz:
            start_out["timezone"] = end_out["timezone"] = tz
        return {"is_all_day": False, "start": start_out, "end": end_out}

    def _end_by_duration(self, cells: Sequence[Any], raw_start: Any, start_at: datetime, tz: str | None) -> datetime:
        length, field = self._duration(cells)
        try:
            end_at = _to_ms(start_at + length)
            problem = range_problem(end_at, tz)
        except OverflowError:
            problem = "ends after the year 9999"
        if problem:
            raise _Reject(field, f"{shown(cell_text(raw_start))} plus {_minutes(length)} minutes {problem}")
        return end_at

    def _duration(self, cells: Sequence[Any]) -> tuple[timedelta, str]:
        """The meeting's length and the field it came from (``duration``, or ``end`` for the default)."""
        raw = self._get(cells, "duration")
        if raw is None:
            default = self.mapping.default_duration
            if default is None:
                raise _Reject("end", "end is required (or map a duration column, or set [defaults] duration_minutes)")
            return default, "end"
        text = cell_text(raw).lower().removesuffix("min").removesuffix("m").strip()
        try:
            if ":" in text:
                hours, minutes = text.split(":", 1)
                length = timedelta(hours=int(hours), minutes=int(minutes))
            elif not math.isfinite(float(text)):
                raise ValueError(text)
            else:
                length = timedelta(minutes=float(text))
        except ValueError:
            raise _Reject("duration", f"{shown(cell_text(raw))} is not a duration in minutes (e.g. 45 or 1:30)") from None
        except OverflowError:
            raise _Reject("duration", f"{shown(cell_text(raw))} minutes is longer than any calendar can hold") from None
        if length <= timedelta(0):
            raise _Reject("duration", f"{shown(cell_text(raw))} is not a positive duration")
        return length, "duration"

    def _participant_list(self, cells: Sequence[Any]) -> list[dict[str, Any]]:
        status = (self._text(cells, "participant_status") or "").lower() or self.mapping.defaults.get(
            "participant_status", "accepted"
        )
        if status not in PARTICIPANT_STATUSES:
            raise _Reject("participant_status", f"{shown(status)} is not a participant status ({', '.join(PARTICIPANT_STATUSES)})")
        organizer = None
        raw_organizer = self._get(cells, "organizer")
        if raw_organizer is not None:
            emails = _emails("organizer", None, raw_organizer)
            if len(emails) != 1:
                raise _Reject("organizer", f"{shown(cell_text(raw_organizer))} is not one email address")
            organizer = emails[0].lower()
        people: dict[str, dict[str, Any]] = {}
        if organizer:
            people[organizer] = {"email_address": organizer, "is_organizer": True, "status": status}
        for (i, column), column_status in self._participants:
            value = cells[i] if i < len(cells) else None
            if is_blank(value):
                continue
            self._check_cell("participants", column, value)
            for email in _emails("participants", column, value):
                people.setdefault(
                    email.lower(), {"email_address": email.lower(), "is_organizer": False, "status": column_status or status}
                )
        if not people:
            raise _Reject("participants", "no participants: give at least one email address")
        if len(people) > LIMITS["participants"]:
            raise _Reject("participants", f"{len(people)} participants; Attio allows {LIMITS['participants']}")
        return list(people.values())

    def _linked(self, cells: Sequence[Any]) -> list[dict[str, str]]:
        raw = self._get(cells, "linked_records")
        if raw is None:
            return []
        try:
            pairs = parse_linked_records(raw)
        except ValueError as exc:
            raise _Reject("linked_records", str(exc)) from None
        if len(pairs) > LIMITS["linked_records"]:
            raise _Reject("linked_records", f"{len(pairs)} linked records; Attio allows {LIMITS['linked_records']}")
        out = []
        for obj, record_id in pairs:
            if not is_valid_uuid(record_id.lower()):
                raise _Reject("linked_records", f"record_id {shown(record_id)} (of {shown(obj)}) is not a UUID")
            out.append({"object": obj, "record_id": record_id.lower()})
        return out


def _emails(field: str, column: str | None, value: Any) -> list[str]:
    """The valid addresses of a cell; the first bad one rejects the row with the reason."""
    try:
        emails = parse_emails(value)
    except ValueError as exc:
        raise _Reject(field, str(exc), column) from None
    for email in emails:
        problem = email_problem(email)
        if problem:
            raise _Reject(field, f"{shown(email)} is not an email address: {problem}", column)
    return emails


def _localize(field: str, moment: datetime, tz: str | None) -> datetime:
    """A wall-clock time in ``tz`` (UTC when None) as an aware datetime.

    A time that clocks skip in spring does not exist: rejected. A time that occurs twice in autumn takes
    its first occurrence (``fold=0``, the offset before the change), as most calendars do.
    """
    if tz is None:
        return moment.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(tz)
    local = moment.replace(tzinfo=zone)
    try:
        round_trip = local.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        return local  # outside the years 1-9999: range_problem says so
    if round_trip != moment:
        clock = moment.strftime("%H:%M:%S" if moment.second or moment.microsecond else "%H:%M")
        raise _Reject(field, f"{clock} on {moment.date()} does not exist in {tz} (clocks skip forward)")
    return local


def _minutes(length: timedelta) -> str:
    minutes = length.total_seconds() / 60
    return f"{minutes:g}"


def _to_ms(moment: datetime) -> datetime:
    """Truncate to milliseconds: Attio keeps no more, and the reconciliation lookup compares what was sent."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    """ISO 8601 with milliseconds only when there are any; UTC as ``Z``.

    RFC 3339 offsets are whole minutes: a local mean time offset (``+00:53:28`` in Europe/Prague before 1891)
    is sent as the same instant in UTC.
    """
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = moment.astimezone(timezone.utc)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text
