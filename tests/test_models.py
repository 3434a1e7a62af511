"""Arguments are checked before any request: every rule of the list query and the find-or-create body."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone

import pytest
from yarl import URL

from connector import InvalidArgumentError, MeetingQuery, validate_meeting_body
from connector.config import ClientConfig, Secret
from connector.models import CURSOR_ROOM, MAX_URL_BYTES, control_character, range_problem

RECORD = "891dcbfc-9141-415d-9b2a-2238a6cc012d"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"limit": 0}, "limit", id="limit-0"),
        pytest.param({"limit": 201}, "limit", id="limit-201"),
        pytest.param({"limit": True}, "limit", id="limit-bool"),
        pytest.param({"linked_object": "people"}, "linked_object/linked_record_id", id="object-alone"),
        pytest.param({"linked_record_id": RECORD}, "linked_object/linked_record_id", id="record-alone"),
        pytest.param({"linked_object": "people", "linked_record_id": "nope"}, "linked_record_id", id="record-not-uuid"),
        pytest.param({"linked_object": " ", "linked_record_id": RECORD}, "linked_object", id="object-blank"),
        pytest.param({"participants": ("ana@acme.com", "bob")}, "participants", id="bad-email"),
        pytest.param({"sort": "title"}, "sort", id="bad-sort"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="bad-timezone"),
        pytest.param({"ends_from": "yesterday"}, "ends_from", id="bad-ends-from"),
        pytest.param(
            {"ends_from": datetime(2025, 2, 1), "starts_before": datetime(2025, 1, 1)},
            "ends_from/starts_before",
            id="empty-window",
        ),
    ],
)
def test_query_rejects_invalid_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        MeetingQuery(**kwargs)
    assert info.value.argument == argument
    assert isinstance(info.value, ValueError)


def test_query_params_are_rfc3339_and_complete() -> None:
    query = MeetingQuery(
        limit=10,
        linked_object="companies",
        linked_record_id=RECORD,
        participants="ana@acme.com, bob@example.org",
        sort="start_desc",
        ends_from=datetime(2025, 3, 9, 12, 0),  # naive: UTC
        starts_before=datetime(2025, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        timezone="America/New_York",
    )
    assert query.to_params() == {
        "limit": "10",
        "linked_object": "companies",
        "linked_record_id": RECORD,
        "participants": "ana@acme.com,bob@example.org",
        "sort": "start_desc",
        "ends_from": "2025-03-09T12:00:00Z",
        "starts_before": "2025-03-10T09:30:00-05:00",
        "timezone": "America/New_York",
    }
    assert MeetingQuery().to_params() == {"limit": "200"}


def good_body() -> dict:
    return {
        "title": "Quarterly review",
        "description": "",
        "start": {"datetime": "2025-03-09T14:00:00", "timezone": "America/New_York"},
        "end": {"datetime": "2025-03-09T15:00:00", "timezone": "America/New_York"},
        "is_all_day": False,
        "participants": [{"email_address": "ana@acme.com", "is_organizer": "true", "status": "accepted"}],
        "linked_records": [{"object": "companies", "record_id": RECORD}],
        "external_ref": "crm-42",
    }


def test_valid_body_is_normalised() -> None:
    body = validate_meeting_body(good_body())
    assert body["participants"][0]["is_organizer"] is True
    assert body["external_ref"] == "crm-42"
    all_day = good_body() | {"is_all_day": True, "start": {"date": "2025-06-03"}, "end": {"date": "2025-06-04"}}
    assert validate_meeting_body(all_day)["start"] == {"date": "2025-06-03"}
    ical = good_body() | {"external_ref": {"ical_uid": "abc@google.com", "provider": "google", "is_recurring": False}}
    assert validate_meeting_body(ical)["external_ref"]["provider"] == "google"


def _set(path: str, value: object) -> dict:
    body = copy.deepcopy(good_body())
    target = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("body", "argument"),
    [
        pytest.param(_set("title", KeyError), "title", id="no-title"),
        pytest.param(_set("title", "x" * 1001), "title", id="title-too-long"),
        pytest.param(_set("description", "x" * 10001), "description", id="description-too-long"),
        pytest.param(_set("is_all_day", "no"), "is_all_day", id="all-day-not-bool"),
        pytest.param(_set("is_all_day", True), "start", id="all-day-with-datetimes"),
        pytest.param(_set("start", {"date": "2025-03-09"}), "start", id="date-on-timed"),
        pytest.param(_set("start.datetime", "9 March"), "start.datetime", id="bad-datetime"),
        pytest.param(_set("start.timezone", "Europe/Atlantis"), "start.timezone", id="bad-timezone"),
        pytest.param(_set("start.extra", 1), "start", id="extra-key"),
        pytest.param(_set("end.datetime", "2025-03-09T13:00:00"), "end", id="end-before-start"),
        pytest.param(_set("participants", []), "participants", id="no-participants"),
        pytest.param(_set("participants", [good_body()["participants"][0]] * 501), "participants", id="501-participants"),
        pytest.param(_set("participants.0.email_address", "ana(at)acme"), "participants[0].email_address", id="bad-email"),
        pytest.param(_set("participants.0.status", "maybe"), "participants[0].status", id="bad-status"),
        pytest.param(_set("participants.0.is_organizer", "yes"), "participants[0].is_organizer", id="bad-organizer"),
        pytest.param(_set("linked_records.0.record_id", "42"), "linked_records[0].record_id", id="bad-record-id"),
        pytest.param(_set("linked_records", [{"object": "people", "record_id": RECORD}] * 51), "linked_records", id="51-links"),
        pytest.param(_set("external_ref", ""), "external_ref", id="empty-ref"),
        pytest.param(_set("external_ref", KeyError), "external_ref", id="no-ref"),
        pytest.param(
            _set("external_ref", {"ical_uid": "x", "provider": "yahoo", "is_recurring": False}),
            "external_ref.provider",
            id="bad-provider",
        ),
        # Names that are no timezone, times outside the years 1-9999, addresses Attio would not take,
        # control characters.
        pytest.param(_set("start.timezone", "America"), "start.timezone", id="timezone-folder"),
        pytest.param(_set("start.timezone", "posixrules"), "start.timezone", id="timezone-posixrules"),
        pytest.param(_set("start.timezone", "a" * 300), "start.timezone", id="timezone-300-characters"),
        pytest.param(_set("start", {"datetime": "9999-12-31T23:00:00-05:00"}), "start.datetime", id="after-9999"),
        pytest.param(_set("start", {"datetime": "0001-01-01T00:00:00+01:00"}), "start.datetime", id="before-0001"),
        pytest.param(_set("end", {"datetime": "9999-12-31T22:00:00Z", "timezone": "Asia/Tokyo"}), "end.datetime",
                     id="after-9999-in-its-zone"),
        pytest.param(_set("participants.0.email_address", "mailto:ana@acme.com"), "participants[0].email_address",
                     id="mailto"),
        pytest.param(_set("participants.0.email_address", "['ana@acme.com"), "participants[0].email_address",
                     id="list-repr"),
        pytest.param(_set("participants.0.email_address", "x" * 5_000_000 + "@acme.com"),
                     "participants[0].email_address", id="5MB-email"),
        pytest.param(_set("title", "Quarterly\x00review"), "title", id="nul-in-title"),
        pytest.param(_set("description", "a\x1bb"), "description", id="escape-in-description"),
        pytest.param(_set("external_ref", "crm\x00-42"), "external_ref", id="nul-in-ref"),
    ],
)
def test_body_rules(body: dict, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_meeting_body(body)
    assert info.value.argument == argument


def test_body_errors_quote_long_values_briefly() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_meeting_body(_set("participants.0.email_address", "x" * 5_000_000 + "@acme.com"))
    assert len(str(info.value)) < 300 and "at most 254" in str(info.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("a\x00b", "contains a NUL character (U+0000) at character 2", id="nul"),
        pytest.param("\x01", "contains a control character (U+0001) at character 1", id="soh"),
        pytest.param("ab\x7f", "contains a control character (U+007F) at character 3", id="delete"),
        pytest.param("tab\tline\ncr\r", None, id="tab-newline-return-allowed"),
        pytest.param("Grüße – 会議", None, id="unicode-allowed"),
    ],
)
def test_control_characters(text: str, problem: str | None) -> None:
    assert control_character(text) == problem


@pytest.mark.parametrize(
    ("moment", "tz", "problem"),
    [
        pytest.param(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), None,
                     "is outside the years 0001-9999 once converted to UTC", id="after-9999"),
        pytest.param(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), None,
                     "is outside the years 0001-9999 once converted to UTC", id="before-0001"),
        pytest.param(datetime(9999, 12, 31, 22, tzinfo=timezone.utc), "Asia/Tokyo",
                     "is outside the years 0001-9999 once converted to Asia/Tokyo", id="in-its-zone"),
        pytest.param(datetime(9999, 12, 31, 22, tzinfo=timezone.utc), "America/New_York", None, id="edge-fine"),
    ],
)
def test_range_problem(moment: datetime, tz: str | None, problem: str | None) -> None:
    assert range_problem(moment, tz) == problem


def test_secret_never_shows() -> None:
    config = ClientConfig(token="sk-live-very-secret", base_url="http://127.0.0.1:1/")
    assert "very-secret" not in repr(config) and "very-secret" not in str(config.token)
    assert isinstance(config.token, Secret) and config.token.reveal() == "sk-live-very-secret"
    assert config.base_url == "http://127.0.0.1:1"
    with pytest.raises(InvalidArgumentError):
        ClientConfig(base_url="ftp://example.com")


# ------------------------------------------------------------------------------ request URL length


def emails(count: int, length: int = 22) -> tuple[str, ...]:
    """``count`` distinct addresses of ``length`` characters each."""
    return tuple(f"{i:05d}{'x' * (length - 17)}@example.com" for i in range(count))


def fit_of(error: InvalidArgumentError) -> int:
    match = re.search(r"(\d+) of these emails fit in one query", str(error))
    assert match, str(error)
    return int(match.group(1))


@pytest.mark.parametrize(
    ("participants", "others"),
    [
        pytest.param(emails(600), {}, id="600-short"),
        pytest.param(emails(200, length=60), {}, id="200-long"),
        pytest.param(emails(400, length=30), {"linked_object": "people", "linked_record_id": RECORD,
                                               "timezone": "America/Argentina/ComodRivadavia"}, id="with-link-and-zone"),
        pytest.param(tuple(f"b{i}+{{%&}}{i}@example.com" for i in range(400)), {}, id="percent-encoded"),
    ],
)
def test_a_participant_list_too_long_for_a_url_names_how_many_fit(participants, others) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        MeetingQuery(participants=participants, **others)
    assert info.value.argument == "participants" and f"{len(participants)} emails" in str(info.value)
    fit = fit_of(info.value)
    assert 0 < fit < len(participants)
    longest = MeetingQuery(participants=participants[:fit], **others)  # exactly the number named fits...
    with pytest.raises(InvalidArgumentError):
        MeetingQuery(participants=participants[: fit + 1], **others)  # ...and one more does not
    # Whatever time window and sort an extract's slices add, with a cursor, the URL stays under the limit.
    sliced = longest.replace(
        sort="start_desc", ends_from="2026-01-01T00:00:00.123456+05:45", starts_before="2026-02-01T00:00:00.654321-09:30"
    )
    url = URL("/v2/meetings").update_query(sliced.to_params() | {"cursor": "c" * CURSOR_ROOM})
    assert len(url.raw_path_qs) <= MAX_URL_BYTES


def test_other_over_long_filters_are_refused_too() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        MeetingQuery(extra={"note": "x" * MAX_URL_BYTES})
    assert info.value.argument == "query" and "bytes" in str(info.value)
