"""Every kind of answer of the call-recording routes, checked against openapi-call-recordings.json.

Where the spec declares the answer (200 list, 200 get with and without transcript or video, 200 create,
204 delete, 400 and 404 of create, 404 of get and delete, 200 of the deprecated transcript) the body is
validated against that schema; the answers it does not declare (400s of reads, 404 of a list, 403, 429)
against Attio's error envelope. The spec is the copy in ``tests/fixtures`` (kept equal to ``../shared/attio``'s
by tests/test_contract_fixtures.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from contract_helpers import check_envelope, spec, validator

SPEC = "openapi-call-recordings.json"
LIST = "/v2/meetings/{meeting_id}/call_recordings"
ONE = LIST + "/{call_recording_id}"
TRANSCRIPT = ONE + "/transcript"
SEGMENTS = [
    {"speech": "Hello,", "start_time": 0.51, "end_time": 0.81, "speaker": {"name": "Alex Bell"}},
    {
        "speech": "I'm here — 在这里.",
        "start_time": 4.21,
        "end_time": 4.91,
        "speaker": {"name": "Tom Watson", "email_address": "tom@example.com"},
    },
]
NEW = {"data": {"video_url": "https://example.com/recording.mp4", "transcript": SEGMENTS}}


def _pointer(route: str) -> str:
    return "#/paths/" + route.replace("~", "~0").replace("/", "~1")


def validate(schema_ref: str, doc: Any) -> None:
    errors = sorted(validator(SPEC, schema_ref).iter_errors(doc), key=str)
    assert not errors, f"{schema_ref}: {errors[0]}"


def check(route: str, method: str, resp: Any) -> dict[str, Any]:
    """The answer's body, valid against the spec's schema for this route, method and status."""
    declared = spec(SPEC)["paths"][route][method.lower()]["responses"]
    assert str(resp.status) in declared, (
        f"{method} {route} answered {resp.status}, which the spec does not declare"
    )
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = json.loads(resp.body)
    validate(
        f"{_pointer(route)}/{method.lower()}/responses/{resp.status}/content/application~1json/schema", doc
    )
    return doc


def check_error(resp: Any, status: int) -> dict[str, Any]:
    """An undeclared error answer: the envelope, with ``status_code`` only (snake case)."""
    doc = check_envelope(resp, status)
    assert "statusCode" not in doc
    return doc


def url(meeting_id: str, *rest: str) -> str:
    return "/".join([f"/v2/meetings/{meeting_id}/call_recordings", *rest])


@pytest.fixture
def recordings(emulator: Any) -> list[dict[str, Any]]:
    return emulator.emulator.call_recordings.store.all_recordings()


def find(recordings: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(r for r in recordings if test(r))


def test_the_spec_declares_the_routes_tested_here() -> None:
    assert {LIST, ONE, TRANSCRIPT} <= set(spec(SPEC)["paths"])


def test_the_request_bodies_used_here_follow_the_spec() -> None:
    validate(f"{_pointer(LIST)}/post/requestBody/content/application~1json/schema", NEW)


def test_list_200_every_page_of_every_meeting(emulator, raw) -> None:
    seen = 0
    for meeting in raw.list_all(limit=200):
        cursor = None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            doc = check(LIST, "GET", raw.get(url(meeting["id"]["meeting_id"]), params))
            seen += len(doc["data"])
            cursor = doc["pagination"]["next_cursor"]
            if cursor is None:
                break
    assert seen == len(emulator.emulator.call_recordings.store.all_recordings(False)) > 0


@pytest.mark.parametrize(
    "kind",
    ["transcript-and-video", "transcript-no-video", "completed-no-transcript", "processing", "failed"],
)
def test_get_200_in_every_state(raw, recordings, kind) -> None:
    test = {
        "transcript-and-video": lambda r: r["transcript"] and r["video_url"],
        "transcript-no-video": lambda r: r["transcript"] and not r["video_url"],
        "completed-no-transcript": lambda r: r["status"] == "completed" and r["transcript"] is None,
        "processing": lambda r: r["status"] == "processing",
        "failed": lambda r: r["status"] == "failed",
    }[kind]
    rec = find(recordings, test)
    doc = check(ONE, "GET", raw.get(url(rec["id"]["meeting_id"], rec["id"]["call_recording_id"])))
    assert bool(doc["data"]["transcript"]) == bool(rec["transcript"])
    assert (doc["data"]["video_url"] is None) == (rec["video_url"] is None)


def test_get_200_of_a_created_recording_and_the_404s(raw, recordings) -> None:
    mid = recordings[0]["id"]["meeting_id"]
    made = check(LIST, "POST", raw.request("POST", url(mid), body=NEW))["data"]
    rid = made["id"]["call_recording_id"]
    doc = check(ONE, "GET", raw.get(url(mid, rid)))
    assert doc["data"]["transcript"]["segments"][1]["speaker"] == {"name": "Tom Watson"}
    check(ONE, "GET", raw.get(url(mid, "e8f2a3b7-9b4d-4c5e-8a1f-3d7b2c5e8f9a")))
    check(ONE, "GET", raw.get(url("cb59ab17-ad15-460c-a126-0715617c0853", rid)))


def test_post_200_400_404(raw, recordings) -> None:
    mid = recordings[0]["id"]["meeting_id"]
    for body in (NEW, {"data": {}}, {"data": {"transcript": []}}):
        doc = check(LIST, "POST", raw.request("POST", url(mid), body=body))
        assert doc["data"]["status"] == "processing"
    bad = check(
        LIST, "POST", raw.request("POST", url(mid), body={"data": {"video_url": "http://example.com/a.mp4"}})
    )
    assert bad["message"] == "Invalid video URL protocol. Only https is supported"
    too_many = {"data": {"transcript": SEGMENTS[:1] * 4001}}
    check(LIST, "POST", raw.request("POST", url(mid), body=too_many))
    missing = check(LIST, "POST", raw.request("POST", url("cb59ab17-ad15-460c-a126-0715617c0853"), body=NEW))
    assert missing["message"] == "The referenced meeting was not found."


def test_post_403_quota_exceeded(make_emulator, make_raw) -> None:
    emu = make_emulator(recording_quota=1)
    raw = make_raw(emu)
    mid = emu.emulator.call_recordings.store.all_recordings(False)[0]["id"]["meeting_id"]
    check(LIST, "POST", raw.request("POST", url(mid), body=NEW))
    doc = check(LIST, "POST", raw.request("POST", url(mid), body=NEW))
    assert (doc["status_code"], doc["code"]) == (403, "quota_exceeded")


def test_delete_204_and_404(raw, recordings) -> None:
    rec = recordings[0]
    path = url(rec["id"]["meeting_id"], rec["id"]["call_recording_id"])
    resp = raw.request("DELETE", path)
    assert resp.status == 204 and resp.body == b""
    assert "204" in spec(SPEC)["paths"][ONE]["delete"]["responses"]
    doc = check(ONE, "DELETE", raw.request("DELETE", path))
    assert doc["message"] == "The referenced call recording was not found."


def test_deprecated_transcript_200_with_and_without_segments(raw, recordings) -> None:
    for rec in (
        find(recordings, lambda r: r["transcript"]),
        find(recordings, lambda r: r["transcript"] is None),
    ):
        path = url(rec["id"]["meeting_id"], rec["id"]["call_recording_id"], "transcript")
        doc = check(TRANSCRIPT, "GET", raw.get(path))
        if doc["pagination"]["next_cursor"]:
            check(TRANSCRIPT, "GET", raw.get(path, {"cursor": doc["pagination"]["next_cursor"]}))


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_undeclared_answers_use_the_error_envelope(make_emulator, make_raw) -> None:
    emu = make_emulator(
        tokens={"ro": frozenset({"meeting:read", "call_recording:read"})}, recording_write_rate=1
    )
    raw, ro = make_raw(emu), make_raw(emu, token="ro")
    rec = emu.emulator.call_recordings.store.all_recordings(False)[0]
    mid, rid = rec["id"]["meeting_id"], rec["id"]["call_recording_id"]
    for resp in (
        raw.get(url(mid), {"limit": 0}),
        raw.get(url(mid), {"cursor": ""}),
        raw.get(url(mid, rid, "transcript"), {"cursor": ""}),
        raw.get(url("nope")),
        raw.get(url(mid, "nope")),
    ):
        assert check_error(resp, 400)["code"] == "validation_type"
    unknown = "cb59ab17-ad15-460c-a126-0715617c0853"
    for resp in (raw.get(url(unknown)), raw.get(url(unknown, rid, "transcript"))):
        assert check_error(resp, 404)["code"] == "not_found"
    assert check_error(raw.get(url(mid), token="nope"), 401)["type"] == "auth_error"
    for resp in (ro.request("POST", url(mid), body=NEW), ro.request("DELETE", url(mid, rid))):
        doc = check_error(resp, 403)
        assert (doc["type"], doc["code"]) == ("auth_error", "unauthorized")
    answers = [raw.request("POST", url(mid), body={"data": {}}) for _ in range(5)]  # 5 in a row overrun 1/s
    limited = [a for a in answers if a.status == 429]
    assert limited, [a.status for a in answers]
    assert check_error(limited[0], 429)["type"] == "rate_limit_error"
    assert limited[0].headers["Retry-After"].endswith(" GMT")
