"""The request values of the meetings API, validated before anything is sent.

:class:`MeetingQuery` holds the filters of ``GET /v2/meetings``; :func:`validate_meeting_body` checks a
find-or-create body against the contract (``../shared/attio``) and returns it normalised.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yarl import URL

from .errors import InvalidArgumentError
from .schema import input_limits, participant_statuses, schema_document

__all__ = [
    "LIMITS",
    "MAX_URL_BYTES",
    "PARTICIPANT_STATUSES",
    "MeetingQuery",
    "format_timestamp",
    "is_valid_email",
    "is_valid_timezone",
    "is_valid_uuid",
    "validate_meeting_body",
]

Sort = Literal["start_asc", "start_desc"]
# One schema, one place: the input rules come from schemas/meeting.json (CONTRACT.md §2, §10).
PARTICIPANT_STATUSES = participant_statuses()
PROVIDERS = tuple(schema_document()["input"]["external_ref_providers"])
LIMITS = input_limits() | {"page_size": schema_document()["input"]["page_size"]["max"]}

MEETINGS_PATH = "/v2/meetings"  # list, find-or-create, and (with /ID) get
# A list call's URL (path and query string, cursor included) stays under this many bytes: front ends
# commonly refuse a request line over 8 KB (nginx's and aiohttp's default; Attio documents no figure).
MAX_URL_BYTES = 8000
CURSOR_ROOM = 512  # of MAX_URL_BYTES, kept for the cursor of the next pages (the emulator's take ~150)
_WIDEST_TIME = "2026-01-01T00:00:00.000000+05:45"
_CURSOR = "c" * CURSOR_ROOM

_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


def is_valid_email(value: str) -> bool:
    """True for an address of the form local@domain.tld (no spaces, one @)."""
    return bool(_EMAIL.match(value))


def is_valid_uuid(value: str) -> bool:
    """True for a canonical UUID string."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def is_valid_timezone(name: str) -> bool:
    """True for an IANA timezone name known to this Python."""
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def format_timestamp(value: datetime) -> str:
    """RFC 3339 with an offset; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _as_datetime(name: str, value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value
    if isinstance(value, date):
        raise InvalidArgumentError(name, "give a datetime, not a date")
    try:
        parsed = datetime.fromisoformat(str(value).replace("z", "Z"))
    except ValueError:
        raise InvalidArgumentError(name, f"{value!r} is not an ISO 8601 / RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class MeetingQuery:
    """Filters of ``GET /v2/meetings``. Invalid combinations fail here, before any request.

    ``ends_from`` is inclusive (meetings ending at or after it), ``starts_before`` exclusive; naive
    datetimes are UTC. ``timezone`` only affects how all-day meetings are judged against the window.
    ``participants`` keeps meetings with at least one of the emails; Attio OR-combines it with the
    linked-record filter.
    """

    limit: int = 200
    linked_object: str | None = None
    linked_record_id: str | None = None
    participants: tuple[str, ...] = ()
    sort: Sort = "start_asc"
    ends_from: datetime | None = None
    starts_before: datetime | None = None
    timezone: str = "UTC"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.participants, str):
            object.__setattr__(self, "participants", tuple(p.strip() for p in self.participants.split(",") if p.strip()))
        else:
            object.__setattr__(self, "participants", tuple(self.participants))
        object.__setattr__(self, "ends_from", _as_datetime("ends_from", self.ends_from))
        object.__setattr__(self, "starts_before", _as_datetime("starts_before", self.starts_before))
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= LIMITS["page_size"]:
            raise InvalidArgumentError("limit", f"must be an integer from 1 to 200, got {self.limit!r}")
        if (self.linked_object is None) != (self.linked_record_id is None):
            raise InvalidArgumentError(
                "linked_object/linked_record_id", "give both linked_object and linked_record_id, or neither"
            )
        if self.linked_object is not None and not self.linked_object.strip():
            raise InvalidArgumentError("linked_object", "must not be empty")
        if self.linked_record_id is not None and not is_valid_uuid(self.linked_record_id):
            raise InvalidArgumentError("linked_record_id", f"{self.linked_record_id!r} is not a UUID")
        for email in self.participants:
            if not is_valid_email(email):
                raise InvalidArgumentError("participants", f"{email!r} is not an email address")
        if self.sort not in ("start_asc", "start_desc"):
            raise InvalidArgumentError("sort", f"must be start_asc or start_desc, got {self.sort!r}")
        if not is_valid_timezone(self.timezone):
            raise InvalidArgumentError("timezone", f"{self.timezone!r} is not an IANA timezone name")
        if self.ends_from and self.starts_before and self.ends_from >= self.starts_before:
            raise InvalidArgumentError("ends_from/starts_before", "ends_from must be before starts_before")
        self._check_url_length()

    def _check_url_length(self) -> None:
        """Refuse filters whose URL a server would refuse (414), naming how many participants fit.

        Measured with the widest time window and sort (an extract's slices add them) and a cursor of
        CURSOR_ROOM bytes, so that no later page of any slice can grow past MAX_URL_BYTES.
        """
        widest = {"sort": "start_desc", "ends_from": _WIDEST_TIME, "starts_before": _WIDEST_TIME, "cursor": _CURSOR}
        params = self.to_params() | widest
        size = _url_bytes(params)
        if size <= MAX_URL_BYTES:
            return
        if not self.participants:
            raise InvalidArgumentError(
                "query", f"the request URL would be up to {size:,} bytes, over the {MAX_URL_BYTES:,} this client sends"
            )
        # The longest prefix of the participants that fits, by bisection (each step encodes one URL).
        fit, over = 0, len(self.participants)
        while over - fit > 1:
            middle = (fit + over) // 2
            if _url_bytes(params | {"participants": ",".join(self.participants[:middle])}) <= MAX_URL_BYTES:
                fit = middle
            else:
                over = middle
        raise InvalidArgumentError(
            "participants",
            f"{len(self.participants)} emails make the request URL up to {size:,} bytes, over the {MAX_URL_BYTES:,} "
            f"this client sends (servers commonly refuse more than 8 KB): {fit} of these emails fit in one query. "
            "Split the list over several runs and de-duplicate by meeting_id",
        )

    def replace(self, **changes: Any) -> MeetingQuery:
        """A copy with some filters changed (validated again)."""
        return replace(self, **changes)

    def to_params(self) -> dict[str, str]:
        """The query string parameters, as Attio expects them (defaults left out)."""
        params: dict[str, str] = {"limit": str(self.limit)}
        if self.linked_object is not None and self.linked_record_id is not None:
            params["linked_object"] = self.linked_object
            params["linked_record_id"] = self.linked_record_id
        if self.participants:
            params["participants"] = ",".join(self.participants)
        if self.sort != "start_asc":
            params["sort"] = self.sort
        if self.ends_from is not None:
            params["ends_from"] = format_timestamp(self.ends_from)
        if self.starts_before is not None:
            params["starts_before"] = format_timestamp(self.starts_before)
        if self.timezone != "UTC":
            params["timezone"] = self.timezone
        params.update(self.extra)
        return params

    def describe(self) -> dict[str, str]:
        """The filters as plain strings, for reports and Parquet metadata."""
        params = self.to_params()
        params.setdefault("sort", self.sort)
        params.setdefault("timezone", self.timezone)
        return params


def _url_bytes(params: Mapping[str, str]) -> int:
    """The length of the request target (path and query) of a list call, encoded as aiohttp sends it."""
    return len(URL(MEETINGS_PATH).update_query(params).raw_path_qs)


# ----------------------------------------------------------------------------- find-or-create body


def _fail(path: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(path, reason)


def _check_moment(path: str, value: Any, all_day: bool) -> tuple[dict[str, Any], datetime | date]:
    if not isinstance(value, Mapping):
        raise _fail(path, "must be an object {datetime, timezone} or {date}")
    if all_day:
        if set(value) != {"date"} or not isinstance(value["date"], str):
            raise _fail(path, "an all-day meeting needs {date: 'YYYY-MM-DD'} and nothing else")
        try:
            day = date.fromisoformat(value["date"])
        except ValueError:
            raise _fail(f"{path}.date", f"{value['date']!r} is not a YYYY-MM-DD date") from None
        return {"date": day.isoformat()}, day
    if "datetime" not in value or not set(value) <= {"datetime", "timezone"}:
        raise _fail(path, "a timed meeting needs {datetime, timezone?} and nothing else")
    raw, tz = value["datetime"], value.get("timezone")
    if not isinstance(raw, str):
        raise _fail(f"{path}.datetime", "must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise _fail(f"{path}.datetime", f"{raw!r} is not an ISO 8601 datetime") from None
    if tz is not None and (not isinstance(tz, str) or not is_valid_timezone(tz)):
        raise _fail(f"{path}.timezone", f"{tz!r} is not an IANA timezone name (Attio would silently use UTC)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz) if tz else timezone.utc)
    out: dict[str, Any] = {"datetime": raw}
    if "timezone" in value:
        out["timezone"] = tz
    return out, moment


def _check_participant(path: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise _fail(path, "must be an object")
    email, name = item.get("email_address"), item.get("name")
    if email is None and not name:
        raise _fail(f"{path}.email_address", "is required (or a name, on the post-July API)")
    if email is not None and (not isinstance(email, str) or not is_valid_email(email)):
        raise _fail(f"{path}.email_address", f"{email!r} is not an email address")
    organizer = item.get("is_organizer")
    if organizer in ("true", "false"):
        organizer = organizer == "true"
    if not isinstance(organizer, bool):
        raise _fail(f"{path}.is_organizer", "must be true or false")
    status = item.get("status")
    if status not in PARTICIPANT_STATUSES:
        raise _fail(f"{path}.status", f"must be one of {', '.join(PARTICIPANT_STATUSES)}, got {status!r}")
    out: dict[str, Any] = {"is_organizer": organizer, "status": status}
    if email is not None:
        out["email_address"] = email
    if name:
        out["name"] = name
    return out


def _check_external_ref(ref: Any) -> str | dict[str, Any]:
    if isinstance(ref, str):
        if not ref:
            raise _fail("external_ref", "must not be empty")
        return ref
    if not isinstance(ref, Mapping):
        raise _fail("external_ref", "must be a string or {ical_uid, provider, is_recurring, original_start_time?}")
    if not isinstance(ref.get("ical_uid"), str) or not ref["ical_uid"]:
        raise _fail("external_ref.ical_uid", "is required")
    if ref.get("provider") not in PROVIDERS:
        raise _fail("external_ref.provider", f"must be google or microsoft, got {ref.get('provider')!r}")
    if not isinstance(ref.get("is_recurring"), bool):
        raise _fail("external_ref.is_recurring", "must be true or false")
    out = {"ical_uid": ref["ical_uid"], "provider": ref["provider"], "is_recurring": ref["is_recurring"]}
    if ref.get("original_start_time") is not None:
        _as_datetime("external_ref.original_start_time", ref["original_start_time"])
        out["original_start_time"] = ref["original_start_time"]
    return out


def validate_meeting_body(meeting: Mapping[str, Any], *, require_external_ref: bool = True) -> dict[str, Any]:
    """Check a find-or-create meeting (the ``data`` object) against the contract; return it normalised.

    Raises :class:`~connector.errors.InvalidArgumentError` naming the field (``participants[2].status``).
    """
    if not isinstance(meeting, Mapping):
        raise _fail("data", "must be an object")
    title, description = meeting.get("title"), meeting.get("description", "")
    if not isinstance(title, str) or not title.strip():
        raise _fail("title", "is required")
    if len(title) > LIMITS["title"]:
        raise _fail("title", f"is {len(title)} characters; Attio allows {LIMITS['title']}")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise _fail("description", "must be a string")
    if len(description) > LIMITS["description"]:
        raise _fail("description", f"is {len(description)} characters; Attio allows {LIMITS['description']}")
    all_day = meeting.get("is_all_day")
    if not isinstance(all_day, bool):
        raise _fail("is_all_day", "must be true or false")
    start, start_at = _check_moment("start", meeting.get("start"), all_day)
    end, end_at = _check_moment("end", meeting.get("end"), all_day)
    if end_at <= start_at:
        raise _fail("end", "must be after start")
    participants = meeting.get("participants")
    if not isinstance(participants, Sequence) or isinstance(participants, str | bytes):
        raise _fail("participants", "must be a list")
    if not participants:
        raise _fail("participants", "No participants were provided.")
    if len(participants) > LIMITS["participants"]:
        raise _fail("participants", f"has {len(participants)} entries; Attio allows {LIMITS['participants']}")
    body: dict[str, Any] = {
        "title": title,
        "description": description,
        "start": start,
        "end": end,
        "is_all_day": all_day,
        "participants": [_check_participant(f"participants[{i}]", p) for i, p in enumerate(participants)],
    }
    linked = meeting.get("linked_records")
    if linked is not None:
        if not isinstance(linked, Sequence) or isinstance(linked, str | bytes):
            raise _fail("linked_records", "must be a list")
        if len(linked) > LIMITS["linked_records"]:
            raise _fail("linked_records", f"has {len(linked)} entries; Attio allows {LIMITS['linked_records']}")
        records = []
        for i, rec in enumerate(linked):
            if not isinstance(rec, Mapping) or not isinstance(rec.get("object"), str) or not rec["object"]:
                raise _fail(f"linked_records[{i}].object", "is required (an object slug or UUID)")
            if not isinstance(rec.get("record_id"), str) or not is_valid_uuid(rec["record_id"]):
                raise _fail(f"linked_records[{i}].record_id", f"{rec.get('record_id')!r} is not a UUID")
            records.append({"object": rec["object"], "record_id": rec["record_id"]})
        body["linked_records"] = records
    ref = meeting.get("external_ref")
    if ref is None:
        if require_external_ref:
            raise _fail("external_ref", "is required for find-or-create")
    else:
        body["external_ref"] = _check_external_ref(ref)
    return body


def emails_of(participants: Iterable[Mapping[str, Any]]) -> list[str]:
    """The email addresses of a participants list, lower-cased, in order."""
    return [p["email_address"].lower() for p in participants if p.get("email_address")]
