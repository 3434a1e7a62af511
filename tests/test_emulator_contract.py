"""Every kind of answer the emulator sends, checked against openapi-meetings.json (or the error envelope)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contract_helpers import check_envelope
from contract_helpers import validator as spec_validator

SPEC = "openapi-meetings.json"
LIST_200 = "/paths/~1v2~1meetings/get/responses/200"
GET_200 = "/paths/~1v2~1meetings~1{meeting_id}/get/responses/200"
GET_404 = "/paths/~1v2~1meetings~1{meeting_id}/get/responses/404"
POST_200 = "/paths/~1v2~1meetings/post/responses/200"
POST_400 = "/paths/~1v2~1meetings/post/responses/400"
POST_BODY = "/paths/~1v2~1meetings/post/requestBody"


def validator(pointer: str) -> Any:
    """A validator for the schema at ``pointer`` with the whole document as root, so $refs resolve."""
    return spec_validator(SPEC, "#" + pointer + "/content/application~1json/schema")


def check(pointer: str, body: bytes) -> dict:
    doc = json.loads(body)
    errors = sorted(validator(pointer).iter_errors(doc), key=str)
    assert not errors, f"{pointer}: {errors[0]}"
    return doc


NEW = {
    "data": {
        "title": "Onboarding Session",
        "description": "",
        "is_all_day": False,
        "start": {"datetime": "2027-11-27T14:00:00Z", "timezone": "America/New_York"},
        "end": {"datetime": "2027-11-27T15:00:00Z", "timezone": None},
        "participants": [{"email_address": "alice@acme.com", "is_organizer": "true", "status": "accepted"}],
        "linked_records": [{"object": "deals", "record_id": "891dcbfc-9141-415d-9b2a-2238a6cc012d"}],
        "external_ref": {"ical_uid": "x@google.com", "provider": "google", "is_recurring": False},
    }
}


def test_the_request_bodies_used_here_follow_the_spec() -> None:
    check(POST_BODY, json.dumps(NEW).encode())


def test_every_listed_meeting_follows_the_meeting_schema_in_the_live_shape(make_emulator, make_raw) -> None:
    emu = make_emulator(meetings=600)
    raw = make_raw(emu)
    cursor, seen = None, 0
    while True:
        resp = raw.get("/v2/meetings", {"limit": 200, **({"cursor": cursor} if cursor else {})})
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/json")
        page = check(LIST_200, resp.body)
        seen += len(page["data"])
        for m in page["data"]:
            assert all("name" in p for p in m["participants"]), (
                "the live shape: every participant has a name key"
            )
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == 600


def test_get_200_and_404(emulator, raw) -> None:
    mid = emulator.emulator.store.all_meetings()[0]["id"]["meeting_id"]
    check(GET_200, raw.get(f"/v2/meetings/{mid}").body)
    resp = raw.get("/v2/meetings/cb59ab17-ad15-460c-a126-0715617c0853")
    assert resp.status == 404
    check(GET_404, resp.body)


@pytest.mark.parametrize("contract", ["find-or-create", "create-only"])
def test_post_200_and_400(make_emulator, make_raw, contract) -> None:
    raw = make_raw(make_emulator(contract=contract))
    for _ in range(2):  # created, then found (or created again)
        resp = raw.post(NEW)
        assert resp.status == 200
        check(POST_200, resp.body)
    bad = raw.post({"data": {**NEW["data"], "participants": []}})
    assert bad.status == 400
    doc = check(POST_400, bad.body)
    assert doc["message"] == "No participants were provided."
    check_envelope(bad, 400)


def test_list_and_get_400(raw) -> None:
    check_envelope(raw.get("/v2/meetings", {"limit": "0"}), 400)
    check_envelope(raw.get("/v2/meetings/nope"), 400)


def test_401_403_429_and_5xx(make_emulator, make_raw) -> None:
    emu = make_emulator(tokens={"ro": frozenset({"meeting:read", "record_permission:read"})})
    raw = make_raw(emu)
    doc = check_envelope(raw.get("/v2/meetings", token="nope"), 401)
    assert (doc["type"], doc["code"]) == ("auth_error", "unauthorized")
    doc = check_envelope(make_raw(emu, token="ro").post(NEW), 403)
    assert (doc["type"], doc["code"]) == ("auth_error", "unauthorized")
    emu.emulator.faults.script(["429", "500", "502", "503", "504"])
    doc = check_envelope(raw.get("/v2/meetings"), 429)
    assert (doc["type"], doc["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    for status in (500, 502, 503, 504):
        assert check_envelope(raw.get("/v2/meetings"), status)["type"] == "api_error"
