"""The request values of the meetings API, validated before anything is sent.

:class:`MeetingQuery` holds the filters of ``GET /v2/meetings``; :func:`validate_meeting_body` checks a
find-or-create body against the contract (``../shared/attio``) and returns it normalised.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from yarl import URL

from . import defaults
from .errors import InvalidArgumentError, shown
from .schema import input_limits, participant_statuses, schema_document
from .timezones import is_valid_timezone

__all__ = [
    "LIMITS",
    "MAX_URL_BYTES",
    "PARTICIPANT_STATUSES",
    "MeetingQuery",
    "control_character",
    "email_problem",
    "format_timestamp",
    "is_valid_email",
    "is_valid_timezone",
    "is_valid_uuid",
    "range_problem",
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


# An address as RFC 5322 writes it in the dot-atom form, ASCII only: no quoted local part ("a"@b), no
# IP-literal domain, no comments; a domain of dotted host-name labels ending in a top-level domain. This
# refuses what spreadsheets leave around addresses (brackets, quotes, "mailto:") instead of sending it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_LOCAL_BAD = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_DOMAIN_BAD = re.compile(r"[^A-Za-z0-9.-]")
MAX_EMAIL, MAX_LOCAL = 254, 64  # RFC 5321 (with RFC 3696 errata): the path limit less its brackets; local part


def email_problem(value: object) -> str | None:
    """Why ``value`` is not an email address Attio would take (a short reason), or None when it is one.

    ``local@domain.tld``: one ``@``; the local part letters, digits and ``!#$%&'*+/=?^_`{|}~-`` between
    single dots (at most 64 characters); the domain host-name labels (letters, digits, inner hyphens, at
    most 63 each) with a dot, ending in a top-level domain; at most 254 characters in all.
    """
    if not isinstance(value, str):
        return "is not text"
    if len(value) > MAX_EMAIL:
        return f"is {len(value)} characters long; an email address has at most {MAX_EMAIL}"
    if value.count("@") != 1:
        return "has no @" if "@" not in value else "has more than one @"
    local, domain = value.split("@")
    if not local:
        return "has nothing before the @"
    if len(local) > MAX_LOCAL:
        return f"has {len(local)} characters before the @; at most {MAX_LOCAL} are allowed"
    if not _LOCAL.fullmatch(local):
        bad = _LOCAL_BAD.search(local)
        if bad:
            return f"has {bad.group()!r} before the @, where only ASCII letters, digits and .!#$%&'*+/=?^_`{{|}}~- may stand"
        return "has a dot first, last or doubled before the @"
    labels = domain.split(".")
    if len(labels) < 2:
        return f"the domain {shown(domain)} has no dot (e.g. example.com)"
    if not all(_LABEL.fullmatch(label) for label in labels):
        bad = _DOMAIN_BAD.search(domain)
        if bad:
            return f"the domain {shown(domain)} has {bad.group()!r}, which a host name cannot hold"
        return f"the domain {shown(domain)} has an empty part, or a part that starts or ends with '-' or is over 63 characters"
    if not _TLD.fullmatch(labels[-1]):
        return f"the domain {shown(domain)} does not end in a top-level domain"
    return None


def is_valid_email(value: object) -> bool:
    """True for an address :func:`email_problem` finds nothing wrong with."""
    return email_problem(value) is None


# C0 control characters and DEL, except tab, line feed and carriage return: never meant in a title or an
# address, and a NUL cuts text short in many systems downstream.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character(text: str) -> str | None:
    """A phrase naming the first control character of ``text`` and where it is, or None when it has none."""
    match = _CONTROL.search(text)
    if match is None:
        return None
    char = match.group()
    name = "a NUL character (U+0000)" if char == "\0" else f"a control character (U+{ord(char):04X})"
    return f"contains {name} at character {match.start() + 1}"


def is_valid_uuid(value: str) -> bool:
    """True for a canonical UUID string."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def range_problem(moment: datetime, tz: str | None = None) -> str | None:
    """Why an aware datetime cannot be sent, or None: it must stay within the years 0001-9999 in UTC,
    and in ``tz``, the zone Attio renders it in (neither Attio's store nor Python can hold it otherwise)."""
    try:
        moment.astimezone(timezone.utc)
    except OverflowError:
        return "is outside the years 0001-9999 once converted to UTC"
    if tz:
        try:
            moment.astimezone(ZoneInfo(tz))
        except OverflowError:
            return f"is outside the years 0001-9999 once converted to {tz}"
    return None


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

    limit: int = defaults.PAGE_SIZE
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
                raise InvalidArgumentError("participants", f"{shown(email)} is not an email address: {email_problem(email)}")
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
        raise _fail(f"{path}.timezone", f"{shown(tz)} is not an IANA timezone name (Attio would silently use UTC)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz) if tz else timezone.utc)
    problem = range_problem(moment, tz)
    if problem:
        raise _fail(f"{path}.datetime", f"{shown(raw)} {problem}")
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
    if email is not None and (problem := email_problem(email)):
        raise _fail(f"{path}.email_address", f"{shown(email)} is not an email address: {problem}")
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
        if problem := control_character(ref):
            raise _fail("external_ref", problem)
        return ref
    if not isinstance(ref, Mapping):
        raise _fail("external_ref", "must be a string or {ical_uid, provider, is_recurring, original_start_time?}")
    if not isinstance(ref.get("ical_uid"), str) or not ref["ical_uid"]:
        raise _fail("external_ref.ical_uid", "is required")
    if problem := control_character(ref["ical_uid"]):
        raise _fail("external_ref.ical_uid", problem)
    if ref.get("provider") not in PROVIDERS:
        raise _fail("external_ref.provider", f"must be google or microsoft, got {ref.get('provider')!r}")
    if not isinstance(ref.get("is_recurring"), bool):
        raise _fail("external_ref.is_recurring", "must be true or false")
    out = {"ical_uid": ref["ical_uid"], "provider": ref["provider"], "is_recurring": ref["is_recurring"]}
    if ref.get("original_start_time") is not None:
        _as_datetime("external_ref.original_start_time", ref["original_start_time"])
        out["original_start_time"] = ref["original_start_time"]
    return out


def validate_linked_records(linked: Any) -> list[dict[str, str]]:
    """``linked_records`` of a POST, PATCH or PUT body as ``[{object, record_id}]``; InvalidArgumentError if malformed."""
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
    return records


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
    for name, text in (("title", title), ("description", description)):
        problem = control_character(text)
        if problem:
            raise _fail(name, problem)
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
        body["linked_records"] = validate_linked_records(linked)
    ref = meeting.get("external_ref")
    if ref is None:
        if require_external_ref:
            raise _fail("external_ref", "is required for find-or-create")
    else:
        body["external_ref"] = _check_external_ref(ref)
    return body
