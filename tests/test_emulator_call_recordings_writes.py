"""Creating and deleting call recordings on the emulator, the deprecated transcript endpoint, and budgets."""

from __future__ import annotations

import http.client
from collections import Counter
from typing import Any

import pytest

from connector.emulator.ratelimit import WindowLimiter, admit_all
from connector.emulator.recordings import MAX_SEGMENTS, raw_transcript

UNKNOWN = "cb59ab17-ad15-460c-a126-0715617c0853"


def path(meeting_id: str, *rest: str) -> str:
    return "/".join([f"/v2/meetings/{meeting_id}/call_recordings", *rest])


def segments(n: int, speaker: str = "Ana Núñez") -> list[dict[str, Any]]:
    return [
        {
            "speech": f"Satz {i} — ça va? 👍",
            "start_time": i * 1.5,
            "end_time": i * 1.5 + 1.25,
            "speaker": {"name": speaker if i % 3 else "Bo", "email_address": "bo@acme.com"},
        }
        for i in range(n)
    ]


def meeting_id(emulator: Any, with_recordings: bool = False) -> str:
    """A seeded meeting (one that has recordings, if asked) that calendar sync did not make."""
    store = emulator.emulator.store
    have = Counter(
        r["id"]["meeting_id"] for r in emulator.emulator.call_recordings.store.all_recordings(False)
    )
    return next(
        mid
        for row in range(store.seed_data.n)
        if not store.is_system(row)
        and (mid := store.seed_data.meeting_id(row)) in have
        and (have[mid] >= 2 or not with_recordings)
    )


def create(raw: Any, mid: str, data: dict[str, Any]) -> dict[str, Any]:
    resp = raw.request("POST", path(mid), body={"data": data})
    assert resp.status == 200, resp.body
    return resp.json()["data"]


def test_create_answers_processing_and_get_then_serves_the_transcript(emulator, raw) -> None:
    mid = meeting_id(emulator)
    sent = segments(MAX_SEGMENTS)
    made = create(raw, mid, {"transcript": sent, "video_url": "https://cdn.example.com/call.MP4?x=1"})
    assert made["status"] == "processing"
    assert "transcript" not in made and "video_url" not in made
    assert made["id"]["meeting_id"] == mid and made["created_by_actor"]["type"] == "api-token"
    got = raw.get(path(mid, made["id"]["call_recording_id"])).json()["data"]
    assert got["status"] == "completed"  # recording_delay_s = 0
    assert got["video_url"] is None  # always null for recordings made through the API
    expected = [{**s, "speaker": {"name": s["speaker"]["name"]}} for s in sent]
    assert got["transcript"] == {"segments": expected, "raw_transcript": raw_transcript(expected)}
    assert made["id"]["call_recording_id"] in {r["id"]["call_recording_id"] for r in raw.list_all(path(mid))}


def test_a_created_recording_stays_processing_until_the_delay_has_passed(make_emulator, make_raw) -> None:
    emu = make_emulator(recording_delay_s=3600)
    raw = make_raw(emu)
    mid = meeting_id(emu)
    made = create(raw, mid, {"transcript": segments(3)})
    got = raw.get(path(mid, made["id"]["call_recording_id"])).json()["data"]
    assert (got["status"], got["transcript"], got["video_url"]) == ("processing", None, None)


@pytest.mark.parametrize(
    ("data", "transcript"),
    [({}, None), ({"video_url": "https://x.example/v.mp4"}, None), ({"transcript": []}, [])],
    ids=["nothing", "video-only", "empty-transcript"],
)
def test_create_without_segments(emulator, raw, data, transcript) -> None:
    mid = meeting_id(emulator)
    made = create(raw, mid, data)
    got = raw.get(path(mid, made["id"]["call_recording_id"])).json()["data"]
    want = None if transcript is None else {"segments": [], "raw_transcript": ""}
    assert (got["status"], got["transcript"]) == ("completed", want)


BAD = {
    "not-json": (b"{", "Body is not valid JSON."),
    "no-data": ({"transcript": []}, "Body must be an object with a data object."),
    "transcript-not-array": ({"data": {"transcript": {}}}, "transcript must be an array of segments."),
    "too-many-segments": (
        {"data": {"transcript": segments(MAX_SEGMENTS + 1)}},
        "transcript may have at most 4000 segments, got 4001.",
    ),
    "no-speech": (
        {"data": {"transcript": [{"start_time": 0, "end_time": 1, "speaker": {"name": "A"}}]}},
        "transcript[0].speech must be a string.",
    ),
    "negative-start": (
        {
            "data": {
                "transcript": [{"speech": "x", "start_time": -0.1, "end_time": 1, "speaker": {"name": "A"}}]
            }
        },
        "transcript[0].start_time must be at least 0.",
    ),
    "end-before-start": (
        {"data": {"transcript": [{"speech": "x", "start_time": 2, "end_time": 1, "speaker": {"name": "A"}}]}},
        "transcript[0].end_time must not be before its start_time.",
    ),
    "boolean-time": (
        {
            "data": {
                "transcript": [{"speech": "x", "start_time": True, "end_time": 1, "speaker": {"name": "A"}}]
            }
        },
        "transcript[0].start_time must be a number.",
    ),
    "string-time": (
        {
            "data": {
                "transcript": [{"speech": "x", "start_time": 0, "end_time": "1", "speaker": {"name": "A"}}]
            }
        },
        "transcript[0].end_time must be a number.",
    ),
    "no-speaker": (
        {"data": {"transcript": [{"speech": "x", "start_time": 0, "end_time": 1}]}},
        "transcript[0].speaker.name is required and must be a string.",
    ),
    "bad-email": (
        {
            "data": {
                "transcript": [
                    {
                        "speech": "x",
                        "start_time": 0,
                        "end_time": 1,
                        "speaker": {"name": "A", "email_address": "a"},
                    }
                ]
            }
        },
        "transcript[0].speaker.email_address must be an email address.",
    ),
    "http-video": (
        {"data": {"video_url": "http://x.example/v.mp4"}},
        "Invalid video URL protocol. Only https is supported",
    ),
    "not-mp4": (
        {"data": {"video_url": "https://x.example/v.mov"}},
        "Invalid video URL: only .mp4 files are supported",
    ),
    "not-a-url": ({"data": {"video_url": "v.mp4"}}, "video_url must be a valid URL."),
    "video-not-string": ({"data": {"video_url": 3}}, "video_url must be a string."),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_create_bodies_are_400_with_the_reason_and_create_nothing(emulator, raw, case) -> None:
    body, message = BAD[case]
    mid = meeting_id(emulator)
    before = raw.list_all(path(mid))
    resp = raw.request("POST", path(mid), body=body)
    assert resp.status == 400
    doc = resp.json()
    assert (doc["status_code"], doc["type"], doc["code"], doc["message"]) == (
        400,
        "invalid_request_error",
        "validation_type",
        message,
    )
    assert "statusCode" not in doc  # snake case only, unlike POST /v2/meetings
    assert doc["validation_errors"][0]["message"] == message
    assert raw.list_all(path(mid)) == before


def test_every_bad_segment_is_named(emulator, raw) -> None:
    sent = segments(5)
    sent[1]["start_time"] = -1
    sent[4]["speaker"] = {}
    resp = raw.request("POST", path(meeting_id(emulator)), body={"data": {"transcript": sent}})
    paths = [e["path"] for e in resp.json()["validation_errors"]]
    assert paths == [["data", "transcript", 1, "start_time"], ["data", "transcript", 4, "speaker", "name"]]


def test_delete_answers_204_and_the_recording_is_gone(emulator, raw) -> None:
    mid = meeting_id(emulator, with_recordings=True)
    seeded = raw.list_all(path(mid))
    made = create(raw, mid, {"transcript": segments(2)})
    for rid in (seeded[0]["id"]["call_recording_id"], made["id"]["call_recording_id"]):
        resp = raw.request("DELETE", path(mid, rid))
        assert (resp.status, resp.body) == (204, b"")
        assert raw.get(path(mid, rid)).status == 404
        again = raw.request("DELETE", path(mid, rid))
        assert (
            again.status == 404 and again.json()["message"] == "The referenced call recording was not found."
        )
    assert raw.list_all(path(mid)) == seeded[1:]


def test_deleting_a_meeting_deletes_its_recordings(emulator, raw) -> None:
    mid = meeting_id(emulator, with_recordings=True)
    create(raw, mid, {})
    store = emulator.emulator.call_recordings.store
    assert raw.request("DELETE", f"/v2/meetings/{mid}").status == 200
    assert raw.get(path(mid)).status == 404
    assert not [r for r in store.all_recordings(False) if r["id"]["meeting_id"] == mid]
    assert not store.of_meeting(mid)


def test_recordings_stay_with_a_meeting_whose_links_change(emulator, raw) -> None:
    mid = meeting_id(emulator, with_recordings=True)
    before = raw.list_all(path(mid))
    assert raw.request("PUT", f"/v2/meetings/{mid}", body={"data": {"linked_records": []}}).status == 200
    assert raw.list_all(path(mid)) == before


def test_recordings_of_a_meeting_created_by_post(emulator, raw) -> None:
    meeting = {
        "title": "Call",
        "description": "",
        "is_all_day": False,
        "start": {"datetime": "2025-01-06T09:00:00Z"},
        "end": {"datetime": "2025-01-06T09:30:00Z"},
        "participants": [{"email_address": "ana@acme.com", "is_organizer": True, "status": "accepted"}],
    }
    mid = raw.post({"data": meeting}).json()["data"]["id"]["meeting_id"]
    assert raw.list_all(path(mid)) == []  # nothing seeded for a meeting made through the API
    made = create(raw, mid, {"transcript": segments(1)})
    assert [r["id"] for r in raw.list_all(path(mid))] == [made["id"]]


def test_deprecated_transcript_pages_the_segments(emulator, raw) -> None:
    store = emulator.emulator.call_recordings.store
    rec = next(
        r
        for r in store.all_recordings()
        if r["transcript"] and len(r["transcript"]["segments"]) == MAX_SEGMENTS
    )
    mid, rid = rec["id"]["meeting_id"], rec["id"]["call_recording_id"]
    pages = []
    cursor = None
    while True:
        resp = raw.get(path(mid, rid, "transcript"), {"cursor": cursor} if cursor else None)
        assert resp.status == 200, resp.body
        pages.append(resp.json())
        cursor = pages[-1]["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert len(pages) == MAX_SEGMENTS // 200
    assert [s for p in pages for s in p["data"]["transcript"]] == rec["transcript"]["segments"]
    assert {p["data"]["raw_transcript"] for p in pages} == {rec["transcript"]["raw_transcript"]}
    assert pages[0]["data"]["web_url"] == rec["web_url"] + "/transcript"
    assert pages[0]["data"]["id"] == rec["id"]


def test_deprecated_transcript_of_a_recording_without_one_is_one_empty_page(emulator, raw) -> None:
    rec = next(r for r in emulator.emulator.call_recordings.store.all_recordings() if r["transcript"] is None)
    doc = raw.get(path(rec["id"]["meeting_id"], rec["id"]["call_recording_id"], "transcript")).json()
    assert (doc["data"]["transcript"], doc["data"]["raw_transcript"], doc["pagination"]["next_cursor"]) == (
        [],
        "",
        None,
    )


@pytest.mark.parametrize(
    "cursor", ["", "zz", "eyJ2IjoxLCJyIjoieCIsIm8iOjIwMH0"], ids=["empty", "garbage", "other-recording"]
)
def test_deprecated_transcript_bad_cursor_is_400(emulator, raw, cursor) -> None:
    rec = emulator.emulator.call_recordings.store.all_recordings(False)[0]
    resp = raw.get(
        path(rec["id"]["meeting_id"], rec["id"]["call_recording_id"], "transcript"), {"cursor": cursor}
    )
    assert resp.status == 400 and resp.json()["code"] == "validation_type"


@pytest.mark.parametrize(
    ("scopes", "ok"),
    [
        (frozenset({"meeting:read", "call_recording:read"}), False),
        (frozenset({"call_recording:read-write"}), False),
        (frozenset({"meeting:read", "call_recording:read-write"}), True),
        (frozenset({"meeting:read-write", "call_recording:read-write"}), True),
    ],
    ids=["read-only", "no-meeting-scope", "read-write", "meeting-read-write"],
)
def test_create_and_delete_need_call_recording_read_write(make_emulator, make_raw, scopes, ok) -> None:
    emu = make_emulator(tokens={"t": scopes})
    raw = make_raw(emu, token="t")
    mid = meeting_id(emu, with_recordings=True)
    rid = emu.emulator.call_recordings.store.of_meeting(mid)[0].recording_id
    answers = [raw.request("POST", path(mid), body={"data": {}}), raw.request("DELETE", path(mid, rid))]
    if ok:
        assert [a.status for a in answers] == [200, 204]
    else:
        assert [a.status for a in answers] == [403, 403]
        assert {(a.json()["type"], a.json()["code"]) for a in answers} == {("auth_error", "unauthorized")}


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_creates_have_their_own_budget_of_one_a_second(make_emulator, make_raw) -> None:
    emu = make_emulator(recording_write_rate=1)
    raw = make_raw(emu)
    mid = meeting_id(emu)
    before = len(raw.list_all(path(mid)))
    # five creates in a row would need five seconds to fit 1/s (five, not three: a starved machine may space them)
    answers = [raw.request("POST", path(mid), body={"data": {}}) for _ in range(5)]
    limited = [a for a in answers if a.status == 429]
    assert limited and limited[0].headers["Retry-After"].endswith("GMT")
    assert limited[0].json()["code"] == "rate_limit_exceeded"
    # a refused create was not carried out; other writes and reads are not limited by this bucket
    assert len(raw.list_all(path(mid))) == before + 5 - len(limited)
    assert raw.request("PUT", f"/v2/meetings/{mid}", body={"data": {"linked_records": []}}).status == 200


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_creates_and_deletes_spend_the_write_budget(make_emulator, make_raw) -> None:
    emu = make_emulator(write_rate=1)
    raw = make_raw(emu)
    mid = meeting_id(emu, with_recordings=True)
    rid = raw.list_all(path(mid))[0]["id"]["call_recording_id"]
    answers = [
        raw.request("POST", path(mid), body={"data": {}}),
        raw.request("DELETE", path(mid, rid)),
        raw.request("POST", path(mid), body={"data": {}}),
    ]
    assert 429 in [a.status for a in answers]


def test_a_budget_that_refuses_spends_no_other() -> None:
    now = [100.0]
    creates, writes = WindowLimiter(1, clock=lambda: now[0]), WindowLimiter(2, clock=lambda: now[0])
    assert admit_all([creates, writes]) is None
    assert admit_all([creates, writes]) is not None  # refused by the create budget ...
    assert writes.admit() is None  # ... so the write budget still has its second request
    assert writes.admit() is not None
    now[0] = 101.0
    assert admit_all([creates, writes]) is None


@pytest.mark.parametrize(
    ("fault", "carried_out"), [("500", False), ("drop", False), ("drop_after_commit", True)]
)
def test_a_create_whose_answer_is_lost_may_have_happened(emulator, raw, fault, carried_out) -> None:
    mid = meeting_id(emulator)
    before = len(raw.list_all(path(mid)))
    emulator.emulator.faults.script([fault], method="POST")
    try:
        resp = raw.request("POST", path(mid), body={"data": {"transcript": segments(2)}})
        assert resp.status >= 500
    except (OSError, http.client.HTTPException):  # a dropped connection, an answer cut off
        pass
    assert len(raw.list_all(path(mid))) == before + carried_out


def test_creates_beyond_the_quota_are_403_quota_exceeded(make_emulator, make_raw) -> None:
    emu = make_emulator(recording_quota=2)
    raw = make_raw(emu)
    mid = meeting_id(emu)
    made = [create(raw, mid, {}) for _ in range(2)]
    resp = raw.request("POST", path(mid), body={"data": {}})
    assert resp.status == 403
    assert (resp.json()["type"], resp.json()["code"]) == ("auth_error", "quota_exceeded")
    # seeded recordings do not count; a deleted one frees its place
    assert raw.request("DELETE", path(mid, made[0]["id"]["call_recording_id"])).status == 204
    create(raw, mid, {})
