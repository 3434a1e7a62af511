"""Arguments are checked before any request: every rule of the list query and the find-or-create body."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone

import pytest
from yarl import URL

from connector import InvalidArgumentError, MeetingQuery, validate_meeting_body
from connector.config import ClientConfig, Secret
from connector.models import CURSOR_ROOM, MAX_URL_BYTES

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
    ],
)
def test_body_rules(body: dict, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        validate_meeting_body(body)
    assert info.value.argument == argument


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
        pytest.param(tuple(f"b{i}+ä{i}@exämple.com" for i in range(400)), {}, id="percent-encoded"),
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
