"""PATCH, PUT and DELETE /v2/meetings/{meeting_id} on the emulator, checked against openapi-call-recordings.json.

The spec is the copy in ``tests/fixtures`` (kept equal to ``../shared/attio``'s by tests/test_contract_fixtures.py).
"""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

import pytest
from contract_helpers import spec, validator

SPEC = "openapi-call-recordings.json"
ROUTE = "/paths/~1v2~1meetings~1{meeting_id}"
COMPANY = {"object": "companies", "record_id": "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"}
DEAL = {"object": "deals", "record_id": "6f4c2c5b-1d8f-4b4f-8c2a-3e7a2dab8f21"}
NEW = {
    "title": "Kick-off",
    "description": "",
    "is_all_day": False,
    "start": {"datetime": "2031-01-06T09:00:00Z"},
    "end": {"datetime": "2031-01-06T09:30:00Z"},
    "participants": [{"email_address": "ana@acme.com", "is_organizer": True, "status": "accepted"}],
    "linked_records": [COMPANY],
}


def check(method: str, status: int, body: bytes) -> dict[str, Any]:
    """The body, valid against the spec's schema for this method and status."""
    ref = f"#{ROUTE}/{method.lower()}/responses/{status}/content/application~1json/schema"
    doc = json.loads(body)
    errors = sorted(validator(SPEC, ref).iter_errors(doc), key=str)
    assert not errors, f"{method} {status}: {errors[0]}"
    return doc


def links(meeting: dict[str, Any]) -> set[tuple[str, str]]:
    return {(lr["object_slug"], lr["record_id"]) for lr in meeting["linked_records"]}


def created(raw: Any) -> dict[str, Any]:
    resp = raw.post({"data": NEW})
    assert resp.status == 200, resp.body
    return resp.json()["data"]


def path(meeting: dict[str, Any]) -> str:
    return "/v2/meetings/" + meeting["id"]["meeting_id"]


def seeded(emulator: Any, system: bool) -> dict[str, Any]:
    store = emulator.emulator.store
    row = next(r for r in range(store.seed_data.n) if store.is_system(r) == system)
    return store.meeting(row)


def test_the_spec_declares_delete() -> None:
    assert "delete" in spec(SPEC)["paths"]["/v2/meetings/{meeting_id}"]


def test_patch_appends_and_ignores_records_already_linked(raw: Any) -> None:
    meeting = created(raw)
    before = links(meeting)
    resp = raw.request("PATCH", path(meeting), body={"data": {"linked_records": [COMPANY, DEAL]}})
    doc = check("PATCH", 200, resp.body)["data"]
    assert links(doc) == before | {("deals", DEAL["record_id"])}
    assert len(doc["linked_records"]) == len(before) + 1
    assert {k: v for k, v in doc.items() if k != "linked_records"} == {
        k: v for k, v in meeting.items() if k != "linked_records"
    }
    assert links(raw.get(path(meeting)).json()["data"]) == links(doc)


def test_put_overwrites_including_the_participants_people(raw: Any) -> None:
    meeting = created(raw)
    assert any(slug == "people" for slug, _ in links(meeting))  # linked from the participant
    doc = check(
        "PUT", 200, raw.request("PUT", path(meeting), body={"data": {"linked_records": [DEAL]}}).body
    )["data"]
    assert links(doc) == {("deals", DEAL["record_id"])}
    doc = check("PUT", 200, raw.request("PUT", path(meeting), body={"data": {"linked_records": []}}).body)[
        "data"
    ]
    assert doc["linked_records"] == []


def test_the_linked_record_filter_follows_a_put(raw: Any) -> None:
    meeting = created(raw)
    query = {"linked_object": "deals", "linked_record_id": DEAL["record_id"]}
    assert raw.list_all(**query) == []
    raw.request("PUT", path(meeting), body={"data": {"linked_records": [DEAL]}})
    assert [m["id"] for m in raw.list_all(**query)] == [meeting["id"]]
    raw.request("PUT", path(meeting), body={"data": {"linked_records": []}})
    assert raw.list_all(**query) == []
    assert raw.list_all(linked_object="companies", linked_record_id=COMPANY["record_id"]) == []


def test_a_seeded_meeting_can_be_relinked_and_keeps_its_place(emulator: Any, raw: Any) -> None:
    meeting = seeded(emulator, system=False)
    order = [m["id"]["meeting_id"] for m in raw.list_all(limit=200)]
    doc = check(
        "PUT", 200, raw.request("PUT", path(meeting), body={"data": {"linked_records": [DEAL]}}).body
    )["data"]
    assert links(doc) == {("deals", DEAL["record_id"])}
    after = raw.list_all(limit=200)
    assert [m["id"]["meeting_id"] for m in after] == order
    assert next(m for m in after if m["id"] == meeting["id"]) == doc
    assert len(emulator.emulator.store) == len(order)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"data": {}}, "validation_type", id="no-linked_records"),
        pytest.param(
            {"data": {"linked_records": [{"object": "people"}]}}, "validation_type", id="no-record_id"
        ),
        pytest.param(b"{", "validation_type", id="not-json"),
        pytest.param(
            {"data": {"linked_records": [{"object": str(uuid.UUID(int=7)), "record_id": DEAL["record_id"]}]}},
            "value_not_found",
            id="unknown-object-id",
        ),
    ],
)
def test_a_bad_update_is_a_400_and_changes_nothing(raw: Any, method: str, body: Any, code: str) -> None:
    meeting = created(raw)
    doc = check(method, 400, raw.request(method, path(meeting), body=body).body)
    assert doc["code"] == code
    assert raw.get(path(meeting)).json()["data"] == meeting


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_an_unknown_meeting_is_a_404(raw: Any, method: str) -> None:
    body = None if method == "DELETE" else {"data": {"linked_records": []}}
    missing = str(uuid.UUID(int=12345, version=4))
    doc = check(method, 404, raw.request(method, "/v2/meetings/" + missing, body=body).body)
    assert doc["code"] == "not_found" and missing in doc["message"]


def test_delete_removes_the_meeting_everywhere(emulator: Any, raw: Any) -> None:
    meeting = created(raw)
    total = len(raw.list_all(limit=200))
    assert check("DELETE", 200, raw.request("DELETE", path(meeting)).body) == {}
    assert raw.get(path(meeting)).status == 404
    assert meeting["id"] not in [m["id"] for m in raw.list_all(limit=200)]
    assert raw.list_all(participants="ana@acme.com") == []
    assert len(raw.list_all(limit=200)) == total - 1 == len(emulator.emulator.store)
    check("DELETE", 404, raw.request("DELETE", path(meeting)).body)


def test_a_deleted_external_ref_is_created_anew_on_find_or_create(raw: Any) -> None:
    first = raw.post({"data": {**NEW, "external_ref": "crm-1"}}).json()["data"]
    raw.request("DELETE", path(first))
    second = raw.post({"data": {**NEW, "external_ref": "crm-1"}}).json()["data"]
    assert second["id"] != first["id"] and raw.get(path(second)).status == 200


def test_a_seeded_meeting_can_be_deleted(emulator: Any, raw: Any) -> None:
    meeting = seeded(emulator, system=False)
    email = meeting["participants"][0]["email_address"]
    assert meeting["id"] in [m["id"] for m in raw.list_all(participants=email)]
    check("DELETE", 200, raw.request("DELETE", path(meeting)).body)
    assert raw.get(path(meeting)).status == 404
    assert meeting["id"] not in [m["id"] for m in raw.list_all(participants=email)]
    assert meeting["id"] not in [m["id"] for m in raw.list_all(limit=200)]


def test_a_relinked_seeded_meeting_can_be_deleted(emulator: Any, raw: Any) -> None:
    meeting = seeded(emulator, system=False)
    raw.request("PUT", path(meeting), body={"data": {"linked_records": [DEAL]}})
    check("DELETE", 200, raw.request("DELETE", path(meeting)).body)
    assert raw.get(path(meeting)).status == 404
    assert meeting["id"] not in [m["id"] for m in raw.list_all(limit=200)]


def test_a_calendar_synced_meeting_cannot_be_deleted(emulator: Any, raw: Any) -> None:
    meeting = seeded(emulator, system=True)
    assert meeting["created_by_actor"]["type"] == "system"
    doc = check("DELETE", 400, raw.request("DELETE", path(meeting)).body)
    assert doc["code"] == "system_edit_unauthorized" and doc["type"] == "invalid_request_error"
    assert raw.get(path(meeting)).json()["data"] == meeting


@pytest.mark.parametrize(
    ("scopes", "method", "status"),
    [
        pytest.param({"meeting:read-write"}, "DELETE", 200, id="delete-needs-only-meeting-rw"),
        pytest.param({"meeting:read-write"}, "PUT", 403, id="put-needs-record-permission"),
        pytest.param({"meeting:read-write"}, "PATCH", 403, id="patch-needs-record-permission"),
        pytest.param({"meeting:read", "record_permission:read"}, "DELETE", 403, id="delete-read-only"),
        pytest.param({"meeting:read", "record_permission:read"}, "PUT", 403, id="put-read-only"),
    ],
)
def test_scopes(make_emulator: Any, make_raw: Any, scopes: set[str], method: str, status: int) -> None:
    emu = make_emulator(meetings=0, tokens={"limited": frozenset(scopes)})
    meeting = created(make_raw(emu))
    body = None if method == "DELETE" else {"data": {"linked_records": []}}
    resp = make_raw(emu, "limited").request(method, path(meeting), body=body)
    assert resp.status == status, resp.body
    assert make_raw(emu).get(path(meeting)).status == (404 if status == 200 and method == "DELETE" else 200)


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_updates_and_deletes_spend_the_write_budget(make_emulator: Any, make_raw: Any, method: str) -> None:
    emu = make_emulator(meetings=0, write_rate=1.0)
    raw = make_raw(emu)
    meeting = created(raw)  # spends this second's write
    body = None if method == "DELETE" else {"data": {"linked_records": []}}
    # Two writes right after the POST: whichever wall-clock second the first lands in, one of them finds
    # that second's single write already spent.
    answers = [raw.request(method, path(meeting), body=body) for _ in range(2)]
    limited = [resp for resp in answers if resp.status == 429]
    assert limited and "Retry-After" in limited[0].headers, [resp.status for resp in answers]
    after = raw.get(path(meeting))  # reads have their own budget
    if method == "DELETE" and any(resp.status == 200 for resp in answers):
        assert after.status == 404
    elif all(resp.status == 429 for resp in answers) or method == "DELETE":
        assert after.json()["data"] == meeting, "a refused write changed nothing"


@pytest.mark.parametrize(
    ("fault", "carried_out"),
    [("500", False), ("drop", False), ("drop_after_commit", True), ("truncate", True)],
)
def test_faults_hit_deletes_like_other_writes(emulator: Any, raw: Any, fault: str, carried_out: bool) -> None:
    meeting = created(raw)
    emulator.emulator.faults.script([fault], method="DELETE")
    try:
        resp = raw.request("DELETE", path(meeting))
        assert resp.status != 200 or resp.body != b"{}"
    except (OSError, http.client.HTTPException):  # a dropped connection, an answer cut off
        pass
    assert raw.get(path(meeting)).status == (404 if carried_out else 200)
    assert emulator.emulator.stats.faults[fault] == 1


def test_faults_hit_updates_like_other_writes(emulator: Any, raw: Any) -> None:
    meeting = created(raw)
    emulator.emulator.faults.script(["truncate"], method="PUT")
    resp = raw.request("PUT", path(meeting), body={"data": {"linked_records": [DEAL]}})
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.body)
    assert links(raw.get(path(meeting)).json()["data"]) == {("deals", DEAL["record_id"])}
