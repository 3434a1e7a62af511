"""POST /v2/meetings on the emulator: find-or-create, create-only, the live shape, validation."""

from __future__ import annotations

import copy

import pytest

RID = "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"
BODY = {
    "title": "Onboarding Session",
    "description": "Getting you up to speed.",
    "is_all_day": False,
    "start": {"datetime": "2027-11-27T14:00:00Z", "timezone": "America/New_York"},
    "end": {"datetime": "2027-11-27T15:00:00Z", "timezone": "America/New_York"},
    "participants": [
        {"email_address": "Alice@Acme.COM", "is_organizer": True, "status": "accepted"},
        {"email_address": "bob@example.org", "is_organizer": "false", "status": "tentative"},
    ],
    "linked_records": [{"object": "companies", "record_id": RID}],
    "external_ref": "crm-meeting-1",
}


def body(**changes) -> dict:
    data = copy.deepcopy(BODY) | changes
    return {"data": {k: v for k, v in data.items() if v is not ...}}


def test_created_meeting_has_the_live_shape(emulator, raw) -> None:
    resp = raw.post(body())
    assert resp.status == 200
    m = resp.json()["data"]
    assert m["start"] == {"datetime": "2027-11-27T09:00:00.000-05:00", "timezone": "America/New_York"}
    assert m["end"] == {"datetime": "2027-11-27T10:00:00.000-05:00", "timezone": "America/New_York"}
    assert m["participants"] == [
        {"status": "accepted", "is_organizer": True, "email_address": "alice@acme.com", "name": None},
        {"status": "tentative", "is_organizer": False, "email_address": "bob@example.org", "name": None},
    ]
    assert m["linked_records"][0]["object_slug"] == "companies" and m["linked_records"][0]["record_id"] == RID
    assert [lr["object_slug"] for lr in m["linked_records"]] == ["companies", "people", "people"]
    assert len(m["created_at"]) == len("2023-01-01T15:00:00.000000000Z") and m["created_at"].endswith("Z")
    assert m["created_by_actor"]["type"] == "api-token" and "emulator-token" not in str(m)
    assert m["id"]["workspace_id"] == emulator.config.workspace_id
    assert emulator.emulator.store.created == [m]
    # it is now listed, found by its participants, its links and its window, and by id
    mid = m["id"]["meeting_id"]
    assert raw.get(f"/v2/meetings/{mid}").json()["data"] == m
    assert [x["id"]["meeting_id"] for x in raw.list_all(participants="ALICE@acme.com")] == [mid]
    assert mid in [
        x["id"]["meeting_id"] for x in raw.list_all(linked_object="companies", linked_record_id=RID)
    ]
    window = {"ends_from": "2027-11-27T15:00:00Z", "starts_before": "2027-11-27T14:00:00.001Z"}
    assert [x["id"]["meeting_id"] for x in raw.list_all(**window)] == [mid]
    assert len(raw.list_all(limit=200)) == 301


def test_find_or_create_returns_the_stored_meeting_unchanged(emulator, raw) -> None:
    first = raw.post(body()).json()["data"]
    again = raw.post(
        body(
            title="Changed title",
            participants=[{"email_address": "carol@x.io", "is_organizer": True, "status": "pending"}],
        )
    )
    assert again.status == 200 and again.json()["data"] == first
    other = raw.post(body(external_ref="crm-meeting-2")).json()["data"]
    assert other["id"] != first["id"]
    store = emulator.emulator.store
    assert len(store.created) == 2 and max(store.count_by_external_ref().values()) == 1


def test_ical_external_ref_matches_uid_provider_and_original_start(emulator, raw) -> None:
    ref = {
        "ical_uid": "abc@google.com",
        "provider": "google",
        "is_recurring": True,
        "original_start_time": "2027-11-27T14:00:00Z",
    }
    first = raw.post(body(external_ref=ref)).json()["data"]
    same = raw.post(
        body(external_ref=ref | {"original_start_time": "2027-11-27T15:00:00+01:00", "is_recurring": False})
    )
    assert same.json()["data"] == first
    assert raw.post(body(external_ref=ref | {"provider": "microsoft"})).json()["data"]["id"] != first["id"]
    assert (
        raw.post(body(external_ref=ref | {"original_start_time": "2027-12-04T14:00:00Z"})).json()["data"][
            "id"
        ]
        != first["id"]
    )
    assert len(emulator.emulator.store.created) == 3


def test_body_without_external_ref_always_creates(emulator, raw) -> None:
    a = raw.post(body(external_ref=...)).json()["data"]
    b = raw.post(body(external_ref=...)).json()["data"]
    assert a["id"] != b["id"] and len(emulator.emulator.store.created) == 2


def test_create_only_duplicates_and_ignores_external_ref(make_emulator, make_raw) -> None:
    emu = make_emulator(contract="create-only")
    raw = make_raw(emu)
    a = raw.post(body()).json()["data"]
    b = raw.post(body()).json()["data"]
    assert a["id"] != b["id"]
    c = raw.post(body(external_ref=""))  # ignored, not validated
    assert c.status == 200
    assert len(emu.emulator.store.created) == 3


def test_post_july_body_with_named_participants(raw) -> None:
    resp = raw.post(
        body(
            external_ref=...,
            participants=[
                {"name": "Room 4B", "is_organizer": False, "status": "accepted"},
                {
                    "email_address": "dana@acme.com",
                    "name": "Dana",
                    "is_organizer": True,
                    "status": "accepted",
                },
            ],
        )
    )
    assert resp.status == 200
    parts = resp.json()["data"]["participants"]
    assert parts[0] == {"status": "accepted", "is_organizer": False, "email_address": None, "name": "Room 4B"}
    assert parts[1]["name"] == "Dana"


@pytest.mark.parametrize(
    ("start", "end", "want_start"),
    [
        (
            {"datetime": "2027-11-27T14:00:00", "timezone": "Europe/Paris"},
            {"datetime": "2027-11-27T15:00:00", "timezone": "Europe/Paris"},
            {"datetime": "2027-11-27T14:00:00.000+01:00", "timezone": "Europe/Paris"},
        ),
        (
            {"datetime": "2027-11-27T14:00:00.123456+02:00"},
            {"datetime": "2027-11-27T15:00:00Z"},
            {"datetime": "2027-11-27T12:00:00.123Z", "timezone": None},
        ),
        (
            {"datetime": "2027-11-27T14:00:00", "timezone": "Not/AZone"},
            {"datetime": "2027-11-27T15:00:00Z", "timezone": None},
            {"datetime": "2027-11-27T14:00:00.000Z", "timezone": None},
        ),
        (
            {"datetime": "2027-11-27T14:00:00Z", "timezone": "UTC"},
            {"datetime": "2027-11-27T15:00:00Z"},
            {"datetime": "2027-11-27T14:00:00.000Z", "timezone": "UTC"},
        ),
    ],
    ids=["local-time-in-zone", "offset-no-zone", "invalid-zone-is-utc", "utc"],
)
def test_datetime_inputs(raw, start, end, want_start) -> None:
    resp = raw.post(body(start=start, end=end, external_ref=...))
    assert resp.status == 200, resp.body
    assert resp.json()["data"]["start"] == want_start


def test_all_day_meeting(raw) -> None:
    m = raw.post(body(is_all_day=True, start={"date": "2027-06-03"}, end={"date": "2027-06-05"})).json()[
        "data"
    ]
    assert (m["is_all_day"], m["start"], m["end"]) == (True, {"date": "2027-06-03"}, {"date": "2027-06-05"})


P = {"email_address": "a@b.co", "is_organizer": False, "status": "accepted"}
INVALID = [
    ("no-participants", {"participants": []}, ["data", "participants"], "No participants were provided."),
    ("missing-participants", {"participants": ...}, ["data", "participants"], None),
    ("501-participants", {"participants": [P] * 501}, ["data", "participants"], None),
    ("title-too-long", {"title": "x" * 1001}, ["data", "title"], None),
    ("missing-title", {"title": ...}, ["data", "title"], None),
    ("description-too-long", {"description": "x" * 10001}, ["data", "description"], None),
    ("missing-description", {"description": ...}, ["data", "description"], None),
    (
        "51-links",
        {"linked_records": [{"object": "deals", "record_id": RID}] * 51},
        ["data", "linked_records"],
        None,
    ),
    (
        "link-record-not-uuid",
        {"linked_records": [{"object": "deals", "record_id": "x"}]},
        ["data", "linked_records", 0, "record_id"],
        None,
    ),
    (
        "link-unknown-object-id",
        {"linked_records": [{"object": "9f1b3a0e-0000-4000-8000-000000000000", "record_id": RID}]},
        ["data", "linked_records", 0, "object"],
        None,
    ),
    ("is_all_day-missing", {"is_all_day": ...}, ["data", "is_all_day"], None),
    ("is_all_day-string", {"is_all_day": "false"}, ["data", "is_all_day"], None),
    ("all-day-with-datetimes", {"is_all_day": True}, ["data", "start"], None),
    ("timed-with-dates", {"start": {"date": "2027-11-27"}}, ["data", "start"], None),
    (
        "extra-key-in-start",
        {"start": {"datetime": "2027-11-27T14:00:00Z", "zone": "UTC"}},
        ["data", "start"],
        None,
    ),
    ("bad-datetime", {"start": {"datetime": "next tuesday"}}, ["data", "start", "datetime"], None),
    (
        "bad-date",
        {"is_all_day": True, "start": {"date": "2027-02-30"}, "end": {"date": "2027-03-01"}},
        ["data", "start", "date"],
        None,
    ),
    ("end-before-start", {"end": {"datetime": "2027-11-27T13:00:00Z"}}, ["data", "end"], None),
    ("end-equals-start", {"end": {"datetime": "2027-11-27T14:00:00Z"}}, ["data", "end"], None),
    ("bad-status", {"participants": [P | {"status": "maybe"}]}, ["data", "participants", 0, "status"], None),
    (
        "bad-organizer",
        {"participants": [P | {"is_organizer": "yes"}]},
        ["data", "participants", 0, "is_organizer"],
        None,
    ),
    (
        "no-email-no-name",
        {"participants": [{"is_organizer": False, "status": "accepted"}]},
        ["data", "participants", 0, "email_address"],
        None,
    ),
    (
        "bad-email",
        {"participants": [P | {"email_address": "not an email"}]},
        ["data", "participants", 0, "email_address"],
        None,
    ),
    ("empty-name", {"participants": [P | {"name": ""}]}, ["data", "participants", 0, "name"], None),
    ("empty-external-ref", {"external_ref": ""}, ["data", "external_ref"], None),
    (
        "ical-bad-provider",
        {"external_ref": {"ical_uid": "u", "provider": "yahoo", "is_recurring": False}},
        ["data", "external_ref", "provider"],
        None,
    ),
    (
        "ical-missing-recurring",
        {"external_ref": {"ical_uid": "u", "provider": "google"}},
        ["data", "external_ref", "is_recurring"],
        None,
    ),
    (
        "ical-bad-original-start",
        {
            "external_ref": {
                "ical_uid": "u",
                "provider": "google",
                "is_recurring": True,
                "original_start_time": "2027-11-27",
            }
        },
        ["data", "external_ref", "original_start_time"],
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "path", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_bodies_are_400_with_both_status_keys(emulator, raw, changes, path, message) -> None:
    resp = raw.post(body(**changes))
    assert resp.status == 400, resp.body
    doc = resp.json()
    assert doc["status_code"] == doc["statusCode"] == 400
    assert (doc["type"], doc["code"]) == ("invalid_request_error", "validation_type")
    assert path in [e["path"] for e in doc["validation_errors"]]
    if message:
        assert doc["message"] == message
    assert emulator.emulator.store.created == []


@pytest.mark.parametrize(
    "payload", [b"{not json", b"[]", b'{"data": []}', b"{}"], ids=["garbage", "array", "data-list", "no-data"]
)
def test_malformed_bodies_are_400(raw, payload) -> None:
    resp = raw.post(payload)
    assert resp.status == 400 and resp.json()["statusCode"] == 400


LAST_HOUR = {"datetime": "9999-12-31T23:00:00Z"}
OUT_OF_RANGE = [
    pytest.param({"start": {"datetime": "9999-12-31T23:00:00-05:00"}}, "start", id="after-9999-in-utc"),
    pytest.param({"start": {"datetime": "0001-01-01T00:00:00+01:00"}}, "start", id="before-0001-in-utc"),
    pytest.param(
        {"start": {"datetime": "0001-01-01T00:05:00", "timezone": "Europe/Paris"}},
        "start",
        id="local-before-0001",
    ),
    pytest.param(
        {"start": {"datetime": "9999-12-31T22:00:00Z", "timezone": "Asia/Tokyo"}}, "start", id="in-its-zone"
    ),
    pytest.param(
        {"start": LAST_HOUR, "end": {"datetime": "9999-12-31T23:30:00-01:00"}}, "end", id="end-after-9999"
    ),
]


@pytest.mark.parametrize(("changes", "field"), OUT_OF_RANGE)
def test_datetimes_outside_the_years_1_to_9999_are_400_not_500(emulator, raw, changes, field) -> None:
    resp = raw.post(body(**changes))
    assert resp.status == 400, resp.body
    doc = resp.json()
    assert doc["status_code"] == doc["statusCode"] == 400
    assert (doc["type"], doc["code"]) == ("invalid_request_error", "validation_type")
    assert doc["validation_errors"][0]["path"] == ["data", field, "datetime"]
    assert doc["message"] == f"{field}.datetime is outside the years 0001-9999 (in UTC or in its timezone)."
    assert emulator.emulator.store.created == []


def test_the_last_representable_minute_is_accepted(raw) -> None:
    resp = raw.post(
        body(
            start={"datetime": "9999-12-31T23:58:00Z"},
            end={"datetime": "9999-12-31T23:59:59.999Z"},
            external_ref="edge",
        )
    )
    assert resp.status == 200, resp.body
    assert resp.json()["data"]["end"] == {"datetime": "9999-12-31T23:59:59.999Z", "timezone": None}


@pytest.mark.parametrize(
    "zone",
    [
        "America",
        "Europe",
        "posixrules",
        "Factory",
        "right/UTC",
        "posix/Europe/Paris",
        "localtime",
        "../x",
        "/etc/localtime",
        "Europe/Paris\x00",
        "a" * 300,
    ],
    ids=lambda v: repr(v[:20]),
)
def test_a_name_that_is_no_timezone_in_a_post_is_utc_as_in_attio(raw, zone) -> None:
    # CONTRACT.md §2 and §12.4: an invalid timezone in a POST is treated as UTC, not an error (and never a 500).
    moment = {"datetime": "2027-11-27T14:00:00", "timezone": zone}
    resp = raw.post(
        body(start=moment, end=moment | {"datetime": "2027-11-27T15:00:00"}, external_ref=f"tz-{zone[:40]}")
    )
    assert resp.status == 200, resp.body
    assert resp.json()["data"]["start"] == {"datetime": "2027-11-27T14:00:00.000Z", "timezone": None}
