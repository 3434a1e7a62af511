"""Validation of list parameters and POST bodies, following openapi-meetings.json plus the July limits.

Failures raise :class:`Invalid` with zod-style ``validation_errors`` (``code``, ``path``,
``message``); the first error's message becomes the response's ``message``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import orjson
from multidict import MultiMapping

from .timeutil import OutOfRange, day_ms, parse_date, parse_input_datetime, parse_rfc3339, zone

__all__ = [
    "Invalid",
    "ListQuery",
    "NewMeeting",
    "body_data",
    "decode_cursor",
    "encode_cursor",
    "field_error",
    "parse_list",
    "parse_post",
]

LIMITS = {"title": 1000, "description": 10000, "participants": 500, "linked_records": 50}
STATUSES = ("accepted", "tentative", "declined", "pending")
PROVIDERS = ("google", "microsoft")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
LIST_PARAMS = (
    "limit",
    "cursor",
    "linked_object",
    "linked_record_id",
    "participants",
    "sort",
    "ends_from",
    "starts_before",
    "timezone",
)


class Invalid(Exception):
    """A 400 ``validation_type``; ``errors`` is the ``validation_errors`` list."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def field_error(code: str, path: Sequence[str | int], message: str) -> dict[str, Any]:
    """One item of ``validation_errors``."""
    return {"code": code, "path": path, "message": message}


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# ---- GET /v2/meetings ---------------------------------------------------------------------
@dataclass(frozen=True)
class ListQuery:
    limit: int
    after: tuple[int, str] | None  # (sort ms, meeting id) of the last meeting seen
    linked: tuple[str, str] | None  # (object slug or ID, record id)
    participants: tuple[str, ...]
    descending: bool
    ends_from: int | None
    starts_before: int | None
    timezone: str
    filter_hash: str


def parse_list(params: MultiMapping[str]) -> ListQuery:
    """The list query of ``params``; :class:`Invalid` (every problem found) when they are not valid."""
    cursors = params.getall("cursor", ())
    # a client pages through the same filters many times: they are checked once per distinct set
    query, errors = _filters((len(cursors) > 1, *(tuple(params.getall(n, ())) for n in _FILTER_PARAMS)))
    if errors:
        raise Invalid([dict(e) for e in errors])
    if not cursors:
        return query
    return replace(query, after=decode_cursor(cursors[0], query.filter_hash))


_FILTER_PARAMS = tuple(n for n in LIST_PARAMS if n != "cursor")


@lru_cache(maxsize=1024)
def _filters(key: tuple[Any, ...]) -> tuple[ListQuery, tuple[dict[str, Any], ...]]:
    """The query (without a cursor) and the errors of one set of filter values (``parse_list``'s key)."""
    many_cursors, *values = key
    values.insert(LIST_PARAMS.index("cursor"), ("", "") if many_cursors else ())
    errors: list[dict[str, Any]] = []
    one: dict[str, str] = {}
    for name, given in zip(LIST_PARAMS, values, strict=True):
        if len(given) > 1:
            errors.append(field_error("invalid_type", [name], f"Parameter {name} may be given only once."))
        elif given:
            one[name] = given[0]
    limit = 50
    if "limit" in one:
        text = one["limit"]
        if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= 200:
            errors.append(
                field_error("invalid_type", ["limit"], "limit must be an integer between 1 and 200.")
            )
        else:
            limit = int(text)
    sort = one.get("sort", "start_asc")
    if sort not in ("start_asc", "start_desc"):
        errors.append(
            field_error("invalid_enum_value", ["sort"], "sort must be one of 'start_asc', 'start_desc'.")
        )
    linked = None
    obj, rid = one.get("linked_object"), one.get("linked_record_id")
    if obj is not None and rid is None:
        errors.append(
            field_error(
                "custom", ["linked_record_id"], "linked_record_id is required when linked_object is given."
            )
        )
    if rid is not None and obj is None:
        errors.append(
            field_error(
                "custom", ["linked_object"], "linked_object is required when linked_record_id is given."
            )
        )
    if obj is not None and not obj:
        errors.append(field_error("too_small", ["linked_object"], "linked_object must not be empty."))
    if rid is not None and not is_uuid(rid):
        errors.append(field_error("invalid_string", ["linked_record_id"], "linked_record_id must be a UUID."))
    if obj and rid is not None and is_uuid(rid):
        linked = (obj, rid.lower())
    emails = tuple(sorted({e.strip().lower() for e in one.get("participants", "").split(",") if e.strip()}))
    tz = one.get("timezone", "UTC")
    if zone(tz) is None:
        errors.append(
            field_error(
                "invalid_string", ["timezone"], f"timezone must be a valid IANA timezone, got {tz!r}."
            )
        )
    bounds: dict[str, int | None] = {"ends_from": None, "starts_before": None}
    for name in bounds:
        if name in one:
            try:
                bounds[name] = parse_rfc3339(one[name])
            except ValueError:
                errors.append(
                    field_error(
                        "invalid_string", [name], f"{name} must be an RFC 3339 timestamp with an offset."
                    )
                )
    fingerprint = orjson.dumps([linked, emails, sort, bounds["ends_from"], bounds["starts_before"], tz])
    filter_hash = hashlib.sha256(fingerprint).hexdigest()[:16]
    query = ListQuery(
        limit=limit,
        after=None,
        linked=linked,
        participants=emails,
        descending=sort == "start_desc",
        ends_from=bounds["ends_from"],
        starts_before=bounds["starts_before"],
        timezone=tz,
        filter_hash=filter_hash,
    )
    return query, tuple(errors)


def encode_cursor(sort_ms: int, meeting_id: str, filter_hash: str) -> str:
    raw = orjson.dumps({"v": 1, "s": sort_ms, "id": meeting_id, "f": filter_hash})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, filter_hash: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        data = None
    if (
        not isinstance(data, dict)
        or data.get("v") != 1
        or not isinstance(data.get("s"), int)
        or not is_uuid(data.get("id"))
    ):
        raise Invalid([field_error("invalid_string", ["cursor"], "cursor is not a valid pagination cursor.")])
    if data.get("f") != filter_hash:
        raise Invalid(
            [field_error("custom", ["cursor"], "cursor was issued for different filter parameters.")]
        )
    return data["s"], data["id"]


# ---- POST /v2/meetings --------------------------------------------------------------------
@dataclass(frozen=True)
class NewMeeting:
    data: dict[str, Any]
    start: tuple[int, str | None]  # epoch ms (all-day: date at 00:00 UTC), timezone for rendering
    end: tuple[int, str | None]
    ref: Any  # normalized external_ref or None


def _moment(
    value: Any, all_day: bool | None, path: list[str | int], errors: list[dict[str, Any]]
) -> tuple[int, str | None] | None:
    if not isinstance(value, dict):
        errors.append(field_error("invalid_type", path, f"{path[-1]} must be an object."))
        return None
    if all_day is None:
        return None
    allowed = {"date"} if all_day else {"datetime", "timezone"}
    extra = sorted(set(value) - allowed)
    if extra:
        form = "{date}" if all_day else "{datetime, timezone}"
        errors.append(
            field_error(
                "unrecognized_keys",
                path,
                f"{path[-1]} has unexpected key(s) {extra}; is_all_day={str(all_day).lower()} needs {form}.",
            )
        )
        return None
    if all_day:
        text = value.get("date")
        try:
            if not isinstance(text, str):
                raise ValueError
            return day_ms(parse_date(text)), None
        except ValueError:
            errors.append(
                field_error("invalid_string", [*path, "date"], f"{path[-1]}.date must be a YYYY-MM-DD date.")
            )
            return None
    tz_name = value.get("timezone")
    if tz_name is not None and not isinstance(tz_name, str):
        errors.append(
            field_error("invalid_type", [*path, "timezone"], f"{path[-1]}.timezone must be a string or null.")
        )
        return None
    tz = zone(tz_name)  # an invalid timezone is treated as UTC
    text = value.get("datetime")
    try:
        if not isinstance(text, str):
            raise ValueError
        ms = parse_input_datetime(text, tz)
    except OutOfRange:
        errors.append(
            field_error(
                "invalid_date",
                [*path, "datetime"],
                f"{path[-1]}.datetime is outside the years 0001-9999 (in UTC or in its timezone).",
            )
        )
        return None
    except ValueError:
        errors.append(
            field_error(
                "invalid_string", [*path, "datetime"], f"{path[-1]}.datetime must be an ISO 8601 datetime."
            )
        )
        return None
    return ms, (tz_name if tz is not None else None)


def _participants(value: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    path: list[str | int] = ["data", "participants"]
    if not isinstance(value, list):
        errors.append(field_error("invalid_type", path, "participants must be an array."))
        return []
    if not value:
        errors.append(field_error("too_small", path, "No participants were provided."))
    if len(value) > LIMITS["participants"]:
        errors.append(
            field_error("too_big", path, f"participants may hold at most {LIMITS['participants']} items.")
        )
    out = []
    for i, p in enumerate(value):
        at: list[str | int] = [*path, i]
        if not isinstance(p, dict):
            errors.append(field_error("invalid_type", at, "Each participant must be an object."))
            continue
        email, name = p.get("email_address"), p.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            errors.append(field_error("invalid_string", [*at, "name"], "name must be a non-empty string."))
        if email is None and name is None:
            errors.append(
                field_error("invalid_type", [*at, "email_address"], "email_address is required (or a name).")
            )
        elif email is not None and (not isinstance(email, str) or not _EMAIL.match(email.strip())):
            errors.append(
                field_error(
                    "invalid_string", [*at, "email_address"], "email_address must be an email address."
                )
            )
        org = p.get("is_organizer")
        if org not in (True, False, "true", "false"):
            errors.append(
                field_error(
                    "invalid_type", [*at, "is_organizer"], "is_organizer must be a boolean or 'true'/'false'."
                )
            )
        if p.get("status") not in STATUSES:
            errors.append(
                field_error("invalid_enum_value", [*at, "status"], f"status must be one of {list(STATUSES)}.")
            )
        out.append(
            {
                "status": p.get("status"),
                "is_organizer": org in (True, "true"),
                "email_address": email.strip().lower() if isinstance(email, str) else None,
                "name": name if isinstance(name, str) else None,
            }
        )
    return out


def _linked(value: Any, errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    path: list[str | int] = ["data", "linked_records"]
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(field_error("invalid_type", path, "linked_records must be an array."))
        return []
    if len(value) > LIMITS["linked_records"]:
        errors.append(
            field_error("too_big", path, f"linked_records may hold at most {LIMITS['linked_records']} items.")
        )
    out = []
    for i, lr in enumerate(value):
        if not isinstance(lr, dict) or not isinstance(lr.get("object"), str) or not lr["object"]:
            errors.append(
                field_error("invalid_type", [*path, i, "object"], "object must be an object slug or ID.")
            )
            continue
        if not is_uuid(lr.get("record_id")):
            errors.append(field_error("invalid_string", [*path, i, "record_id"], "record_id must be a UUID."))
            continue
        out.append((lr["object"], lr["record_id"].lower()))
    return out


def _external_ref(value: Any, errors: list[dict[str, Any]]) -> Any:
    path: list[str | int] = ["data", "external_ref"]
    if isinstance(value, str):
        if not value:
            errors.append(field_error("too_small", path, "external_ref must not be empty."))
        return ("ref", value)
    if not isinstance(value, dict):
        errors.append(
            field_error("invalid_type", path, "external_ref must be a string or an iCal reference object.")
        )
        return None
    uid, provider, recurring = value.get("ical_uid"), value.get("provider"), value.get("is_recurring")
    if not isinstance(uid, str):
        errors.append(field_error("invalid_type", [*path, "ical_uid"], "ical_uid must be a string."))
    if provider not in PROVIDERS:
        errors.append(
            field_error(
                "invalid_enum_value", [*path, "provider"], "provider must be 'google' or 'microsoft'."
            )
        )
    if not isinstance(recurring, bool):
        errors.append(field_error("invalid_type", [*path, "is_recurring"], "is_recurring must be a boolean."))
    original = value.get("original_start_time")
    original_ms = None
    if original is not None:
        try:
            original_ms = parse_rfc3339(original) if isinstance(original, str) else None
            if original_ms is None:
                raise ValueError
        except ValueError:
            errors.append(
                field_error(
                    "invalid_string",
                    [*path, "original_start_time"],
                    "original_start_time must be a timestamp with an offset.",
                )
            )
    return ("ical", uid, provider, original_ms)


def parse_links(body: bytes) -> list[tuple[str, str]]:
    """The ``(object, record_id)`` pairs of a PATCH/PUT body ``{"data": {"linked_records": [...]}}``."""
    value = body_data(body).get("linked_records")
    errors: list[dict[str, Any]] = []
    if value is None:
        errors.append(
            field_error(
                "invalid_type", ["data", "linked_records"], "linked_records is required and must be an array."
            )
        )
    links = _linked(value, errors)
    if errors:
        raise Invalid(errors)
    return links


def body_data(body: bytes) -> dict[str, Any]:
    """The ``data`` object of a JSON request body."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid([field_error("invalid_json", [], "Body is not valid JSON.")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise Invalid([field_error("invalid_type", ["data"], "Body must be an object with a data object.")])
    data: dict[str, Any] = doc["data"]
    return data


def parse_post(body: bytes, find_or_create: bool) -> NewMeeting:
    data = body_data(body)
    errors: list[dict[str, Any]] = []
    for key in ("title", "description"):
        v = data.get(key)
        if not isinstance(v, str):
            errors.append(
                field_error("invalid_type", ["data", key], f"{key} is required and must be a string.")
            )
        elif len(v) > LIMITS[key]:
            errors.append(
                field_error("too_big", ["data", key], f"{key} may be at most {LIMITS[key]} characters.")
            )
    all_day = data.get("is_all_day")
    if not isinstance(all_day, bool):
        errors.append(
            field_error(
                "invalid_type", ["data", "is_all_day"], "is_all_day is required and must be a boolean."
            )
        )
        all_day = None
    start = _moment(data.get("start"), all_day, ["data", "start"], errors)
    end = _moment(data.get("end"), all_day, ["data", "end"], errors)
    if start and end and end[0] <= start[0]:
        errors.append(field_error("custom", ["data", "end"], "end must be after start."))
    participants = _participants(data.get("participants"), errors)
    linked = _linked(data.get("linked_records"), errors)
    ref = None
    if find_or_create and data.get("external_ref") is not None:
        ref = _external_ref(data["external_ref"], errors)
    if errors:
        raise Invalid(errors)
    assert start is not None and end is not None
    clean = {
        "title": data["title"],
        "description": data["description"],
        "is_all_day": all_day,
        "participants": participants,
        "linked_records": linked,
    }
    return NewMeeting(data=clean, start=start, end=end, ref=ref)
