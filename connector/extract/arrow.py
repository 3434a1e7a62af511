"""Pages of meetings (parsed JSON) -> Arrow ``RecordBatch`` in the schema of ``schemas/meeting.json``.

One pass over the page's dicts fills plain column lists; Arrow then builds and types every column at
once (timestamps with offsets are parsed by Arrow's ISO 8601 cast, in C++). A meeting is held as a
Python object only while its page is converted.

Drift: a key Attio adds later is ignored and reported once (``MeetingConverter.ignored_fields`` and a
log warning); a missing required key, a null where the schema forbids one, or a value of the wrong
type raises :class:`~connector.errors.SchemaError` naming the meeting and the field.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from ..errors import SchemaError
from ..schema import meeting_arrow_schema

__all__ = ["MeetingConverter", "concat_batches", "empty_batch", "start_keys", "timestamp_value"]

log = logging.getLogger(__name__)

_TOP = frozenset(
    {"id", "title", "description", "is_all_day", "start", "end", "participants", "linked_records", "created_at", "created_by_actor"}
)
_NESTED = {
    "participants": frozenset({"email_address", "name", "is_organizer", "status"}),
    "linked_records": frozenset({"object_slug", "object_id", "record_id"}),
    "start": frozenset({"datetime", "timezone", "date"}),
    "end": frozenset({"datetime", "timezone", "date"}),
    "created_by_actor": frozenset({"type", "id"}),
    "id": frozenset({"meeting_id", "workspace_id"}),
}
_EPOCH_DAY_MS = 86_400 * 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _meeting_id(meeting: Any) -> str:
    try:
        return str(meeting["id"]["meeting_id"])
    except (KeyError, TypeError, IndexError):
        return "<no id>"


def _shape_problem(meeting: Any) -> str:
    """Which field has the wrong JSON shape (only called once a page failed to convert)."""
    if not isinstance(meeting, dict):
        return f"the meeting is a {type(meeting).__name__}, not an object"
    for name in ("id", "start", "end"):
        if not isinstance(meeting.get(name), dict):
            return f"{name!r} must be an object, got {meeting.get(name)!r}"
    for name in ("participants", "linked_records"):
        value = meeting.get(name)
        if not isinstance(value, list):
            return f"{name!r} must be a list, got {value!r}"
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                return f"'{name}[{i}]' must be an object, got {item!r}"
    actor = meeting.get("created_by_actor")
    if actor is not None and not isinstance(actor, dict):
        return f"'created_by_actor' must be an object or null, got {actor!r}"
    return "unexpected JSON shape"


class MeetingConverter:
    """Turns lists of meeting dicts into RecordBatches of :func:`~connector.schema.meeting_arrow_schema`."""

    def __init__(self, schema: pa.Schema | None = None) -> None:
        self.schema = schema or meeting_arrow_schema()
        self.ignored_fields: set[str] = set()
        self._types = {f.name: f.type for f in self.schema}
        self._participant = self._types["participants"]
        self._linked = self._types["linked_records"]

    # ------------------------------------------------------------------------------------ drift
    def _note_unknown(self, where: str, keys: Any, known: frozenset[str]) -> None:
        for key in keys:
            if key not in known:
                name = f"{where}.{key}" if where else key
                if name not in self.ignored_fields:
                    self.ignored_fields.add(name)
                    log.warning("ignoring field %r that the meeting schema does not know (Attio added it?)", name)

    def _check_nested(self, meeting: dict[str, Any]) -> None:
        # Nested keys are checked on one meeting per page: cheap, and drift shows on every meeting.
        for where, known in _NESTED.items():
            value = meeting.get(where)
            items = value if isinstance(value, list) else [value]
            for item in items[:1]:
                if isinstance(item, dict) and not item.keys() <= known:
                    self._note_unknown(where, item.keys(), known)

    # ------------------------------------------------------------------------------------ errors
    @staticmethod
    def _missing(meeting: Any, exc: BaseException) -> SchemaError:
        if isinstance(exc, KeyError):
            reason = f"lacks the required field {exc.args[0]!r}"
        else:
            reason = f"has a field of the wrong shape: {_shape_problem(meeting)}"
        return SchemaError(f"meeting {_meeting_id(meeting)} {reason}")

    def _array(
        self,
        name: str,
        values: list[Any],
        type_: pa.DataType,
        meetings: Sequence[Any],
        *,
        nullable: bool,
        offsets: list[int] | None = None,
        cast: bool = False,
    ) -> pa.Array:
        """Build one column; on a bad value, name the meeting and field."""
        exact = cast and pa.types.is_timestamp(type_)
        try:
            arr = pa.array(values, pa.string()).cast(type_) if cast else pa.array(values, type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arr = _exact_timestamps(values, type_) if exact else None
        if arr is not None and (nullable or arr.null_count == 0):
            return arr
        for i, value in enumerate(values):
            bad = value is None and not nullable
            why = ""
            if not bad and value is not None:
                try:
                    if exact:
                        timestamp_value(value, type_.unit)
                    else:
                        pa.array([value], pa.string()).cast(type_) if cast else pa.array([value], type_)
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    bad = True
                except (ValueError, TypeError) as exc:
                    bad, why = True, f": {exc}"
            if bad:
                row = i if offsets is None else bisect.bisect_right(offsets, i) - 1
                what = "is null" if value is None else f"has the invalid value {value!r}"
                raise SchemaError(f"meeting {_meeting_id(meetings[row])}: field {name!r} {what} (expected {type_}{why})")
        raise SchemaError(f"a page of meetings has a field {name!r} that does not fit {type_}")  # pragma: no cover

    # ----------------------------------------------------------------------------------- convert
    def convert(self, meetings: Sequence[dict[str, Any]]) -> pa.RecordBatch:
        """One RecordBatch holding these meetings, in order."""
        mid: list[Any] = []
        wid: list[Any] = []
        title: list[Any] = []
        desc: list[Any] = []
        all_day: list[Any] = []
        s_dt: list[Any] = []
        s_d: list[Any] = []
        s_tz: list[Any] = []
        e_dt: list[Any] = []
        e_d: list[Any] = []
        e_tz: list[Any] = []
        p_off = [0]
        p_email: list[Any] = []
        p_name: list[Any] = []
        p_org: list[Any] = []
        p_status: list[Any] = []
        l_off = [0]
        l_slug: list[Any] = []
        l_oid: list[Any] = []
        l_rid: list[Any] = []
        created: list[Any] = []
        a_type: list[Any] = []
        a_id: list[Any] = []
        n_p = n_l = 0
        if meetings:
            self._check_nested(meetings[0])
        for m in meetings:
            try:
                ident = m["id"]
                mid.append(ident["meeting_id"])
                wid.append(ident["workspace_id"])
                title.append(m["title"])
                desc.append(m["description"])
                all_day.append(m["is_all_day"])
                s = m["start"]
                if "date" in s:
                    s_dt.append(None)
                    s_d.append(s["date"])
                    s_tz.append(None)
                else:
                    s_dt.append(s["datetime"])
                    s_d.append(None)
                    s_tz.append(s.get("timezone"))
                e = m["end"]
                if "date" in e:
                    e_dt.append(None)
                    e_d.append(e["date"])
                    e_tz.append(None)
                else:
                    e_dt.append(e["datetime"])
                    e_d.append(None)
                    e_tz.append(e.get("timezone"))
                parts = m["participants"]
                for p in parts:
                    p_email.append(p["email_address"])
                    p_name.append(p.get("name"))
                    p_org.append(p["is_organizer"])
                    p_status.append(p["status"])
                n_p += len(parts)
                p_off.append(n_p)
                links = m["linked_records"]
                for r in links:
                    l_slug.append(r["object_slug"])
                    l_oid.append(r["object_id"])
                    l_rid.append(r["record_id"])
                n_l += len(links)
                l_off.append(n_l)
                created.append(m["created_at"])
                actor = m["created_by_actor"]
                if actor is None:
                    a_type.append(None)
                    a_id.append(None)
                else:
                    a_type.append(actor.get("type"))
                    a_id.append(actor.get("id"))
            except (KeyError, TypeError, AttributeError) as exc:
                raise self._missing(m, exc) from None
            if len(m) > 10:  # cheap drift test: more keys than the schema knows
                self._note_unknown("", m.keys(), _TOP)
        return self._assemble(
            meetings,
            [mid, wid, title, desc, all_day, s_dt, s_d, s_tz, e_dt, e_d, e_tz],
            (p_off, p_email, p_name, p_org, p_status),
            (l_off, l_slug, l_oid, l_rid),
            (created, a_type, a_id),
        )

    def _assemble(
        self,
        meetings: Sequence[Any],
        flat: list[list[Any]],
        parts: tuple[list[Any], ...],
        links: tuple[list[Any], ...],
        tail: tuple[list[Any], ...],
    ) -> pa.RecordBatch:
        fields = list(self.schema)
        arrays: list[pa.Array] = []
        for field, values in zip(fields[:11], flat, strict=True):
            is_time = pa.types.is_timestamp(field.type) or pa.types.is_date(field.type)
            arrays.append(self._array(field.name, values, field.type, meetings, nullable=field.nullable, cast=is_time))
        for col_name, (offsets, *columns) in (("participants", parts), ("linked_records", links)):
            list_type = self._types[col_name]
            children = [
                self._array(f"{col_name}.{child.name}", vals, child.type, meetings, nullable=child.nullable, offsets=offsets)
                for child, vals in zip(list_type.value_type, columns, strict=True)
            ]
            struct = pa.StructArray.from_arrays(children, fields=list(list_type.value_type))
            arrays.append(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct, type=list_type))
        for field, values in zip(fields[13:], tail, strict=True):
            is_time = pa.types.is_timestamp(field.type)
            arrays.append(self._array(field.name, values, field.type, meetings, nullable=field.nullable, cast=is_time))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def empty_batch(schema: pa.Schema | None = None) -> pa.RecordBatch:
    """A RecordBatch with no rows."""
    schema = schema or meeting_arrow_schema()
    return pa.RecordBatch.from_pylist([], schema=schema)


def concat_batches(batches: Sequence[pa.RecordBatch], schema: pa.Schema | None = None) -> pa.RecordBatch:
    """One RecordBatch from several (copies the data once)."""
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return empty_batch(schema)
    return pa.concat_batches(list(batches))


_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d)(?::(\d\d))?)"
)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def timestamp_value(text: str, unit: str) -> int:
    """Epoch ``unit`` (s, ms, us, ns) of an RFC 3339 timestamp, exactly; ValueError saying why not.

    Arrow's cast covers Attio's usual text; this covers the rest it refuses: offsets with seconds (a
    zone's local mean time before ~1890, e.g. ``+00:53:28``, which Python's ``isoformat`` writes too).
    A fraction finer than ``unit`` or an instant ``unit`` cannot hold in int64 is refused, not rounded.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("the time of day is out of range")
    seconds = (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60 + second
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60 + int(m.group(12) or 0)
        seconds -= -offset if m.group(9) == "-" else offset
    per_second = _PER_SECOND[unit]
    units, finer = divmod(int((m.group(7) or "").ljust(9, "0")), 1_000_000_000 // per_second)
    if finer:
        raise ValueError(f"it is more precise than the column's unit ({unit})")
    value = seconds * per_second + units
    if not -(2**63) <= value < 2**63:
        held = " (1677-09-21 to 2262-04-11)" if unit == "ns" else ""
        raise ValueError(f"it is outside the instants the column can hold{held}")
    return value


def _exact_timestamps(values: list[Any], type_: pa.TimestampType) -> pa.Array | None:
    """The column parsed by :func:`timestamp_value` (None values stay null); None if any value fails."""
    try:
        ints = [None if v is None else timestamp_value(v, type_.unit) for v in values]
    except (ValueError, TypeError):
        return None
    return pa.array(ints, pa.int64()).cast(type_)


@lru_cache(maxsize=65_536)
def _local_midnight_ms(days: int, tz_name: str) -> int:
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name))
    return (local - _EPOCH) // timedelta(milliseconds=1)


def start_keys(batch: pa.RecordBatch, tz_name: str) -> np.ndarray:
    """Each meeting's start as epoch milliseconds, as the API's time filters see it.

    Timed meetings: their UTC start. All-day meetings: 00:00 of the start date in ``tz_name`` (the
    query's timezone), which is how ``starts_before`` judges them. Milliseconds hold every year
    0001-9999 in an int64 (nanoseconds stop at 1677 and 2262).
    """
    timed = batch.column("start_datetime").cast(pa.int64()).fill_null(0).to_numpy()
    all_day = batch.column("is_all_day").to_numpy(zero_copy_only=False)
    if not all_day.any():
        return timed
    keys = timed.copy()
    days = batch.column("start_date").cast(pa.int32()).fill_null(0).to_numpy()
    idx = np.flatnonzero(all_day)
    if tz_name in ("UTC", "Etc/UTC"):
        keys[idx] = days[idx].astype(np.int64) * _EPOCH_DAY_MS
    else:
        keys[idx] = [_local_midnight_ms(int(d), tz_name) for d in days[idx]]
    return keys
