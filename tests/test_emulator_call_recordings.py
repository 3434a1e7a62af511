"""Call recordings on the emulator: seeding, listing, getting, the 404s and 400s, scopes and budgets.

The full set of recordings is walked over HTTP the only way Attio allows (every meeting, then its
recordings, then each one: ``RawClient.all_call_recordings``) and compared with what the emulator holds
(``call_recordings.store``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from connector.emulator.recordings import MAX_SEGMENTS, raw_transcript

UNKNOWN = "cb59ab17-ad15-460c-a126-0715617c0853"


def recordings_path(meeting_id: str, *rest: str) -> str:
    return "/".join([f"/v2/meetings/{meeting_id}/call_recordings", *rest])


def list_all(raw: Any, meeting_id: str, **params: Any) -> list[dict[str, Any]]:
    return raw.list_all(recordings_path(meeting_id), **params)


def without_video(rec: dict[str, Any]) -> dict[str, Any]:
    """A recording minus its video link (a fresh link, with a fresh expiry, per answer)."""
    return {k: v for k, v in rec.items() if k != "video_url"}


def test_the_walk_over_http_finds_exactly_what_the_emulator_holds(make_emulator, make_raw) -> None:
    emu = make_emulator(meetings=200)
    got = make_raw(emu).all_call_recordings()
    held = emu.emulator.call_recordings.store.all_recordings()
    assert [without_video(r) for r in got] == [without_video(r) for r in held]
    assert len(got) > 20


def test_seeding_is_a_pure_function_of_the_seed(make_emulator) -> None:
    def snapshot(**kw: Any) -> list[dict[str, Any]]:
        store = make_emulator(meetings=150, **kw).emulator.call_recordings.store
        return [without_video(r) for r in store.all_recordings()]

    first = snapshot(seed=7)
    assert first == snapshot(seed=7)
    assert first != snapshot(seed=8)


def test_seeded_recordings_are_realistic(make_emulator) -> None:
    emu = make_emulator(meetings=1000)
    store = emu.emulator.call_recordings.store
    recs = store.all_recordings()
    meetings = {m["id"]["meeting_id"]: m for m in emu.emulator.store.all_meetings()}
    now = emu.emulator.config.recordings_now_ms
    past = [
        m
        for m in meetings.values()
        if emu.emulator.store.span(emu.emulator.store.row_of(m["id"]["meeting_id"]), "UTC")[0] < now
    ]
    per_meeting = Counter(r["id"]["meeting_id"] for r in recs)
    # about 40 % of the past meetings have recordings, some several; none of the later ones has any
    assert 0.3 < len(per_meeting) / len(past) < 0.5
    assert max(per_meeting.values()) >= 3 and Counter(per_meeting.values())[1] > len(per_meeting) / 2
    future = {mid for mid in meetings} - {m["id"]["meeting_id"] for m in past}
    assert future and not future & set(per_meeting)
    # every status; processing and failed ones have no transcript, some completed ones neither
    statuses = Counter(r["status"] for r in recs)
    assert set(statuses) == {"processing", "completed", "failed"}
    assert all(r["transcript"] is None and r["video_url"] is None for r in recs if r["status"] != "completed")
    completed = [r for r in recs if r["status"] == "completed"]
    assert any(r["transcript"] is None for r in completed)
    sizes = sorted(len(r["transcript"]["segments"]) for r in completed if r["transcript"])
    assert sizes[0] <= 5 and sizes[-1] == MAX_SEGMENTS and sizes[len(sizes) // 2] < 100
    # speech in several scripts; times in order; the raw text follows the segments
    speech = "".join(s["speech"] for r in completed if r["transcript"] for s in r["transcript"]["segments"])
    assert {"è", "这", "ا", "🎉"} <= set(speech)
    for r in completed:
        if r["transcript"]:
            segs = r["transcript"]["segments"]
            assert all(0 <= s["start_time"] <= s["end_time"] for s in segs)
            assert r["transcript"]["raw_transcript"] == raw_transcript(segs)
    # video links for some completed ones only: https, .mp4, expiring
    videos = [r["video_url"] for r in completed if r["video_url"]]
    assert videos and len(videos) < len(completed)
    assert all(v.startswith("https://") and ".mp4?expires=" in v for v in videos)


def test_recordings_belong_to_their_meeting_and_workspace(make_emulator, make_raw) -> None:
    from connector.emulator.config import Workspace

    emu = make_emulator(meetings=120, workspaces=(Workspace("other", meetings=120, seed=5, read_rate=0),))
    main, other = make_raw(emu), make_raw(emu, token="other")
    main_recs, other_recs = main.all_call_recordings(), other.all_call_recordings()
    assert main_recs and other_recs
    assert {r["id"]["workspace_id"] for r in main_recs} == {emu.emulator.config.workspace_id}
    other_ws = emu.emulator.workspaces["other"].config.workspace_id
    assert {r["id"]["workspace_id"] for r in other_recs} == {other_ws}
    # one workspace's meeting is unknown to the other's token
    mid = other_recs[0]["id"]["meeting_id"]
    assert main.get(recordings_path(mid)).status == 404


def test_list_pages_follow_the_cursor_in_created_order(make_emulator, make_raw) -> None:
    emu = make_emulator(meetings=300)
    raw = make_raw(emu)
    store = emu.emulator.call_recordings.store
    mid = next(
        m for m, n in Counter(r["id"]["meeting_id"] for r in store.all_recordings(False)).items() if n >= 3
    )
    whole = list_all(raw, mid)
    assert [r["created_at"] for r in whole] == sorted(r["created_at"] for r in whole)
    assert list_all(raw, mid, limit=1) == whole
    first = raw.get(recordings_path(mid), {"limit": 1}).json()
    assert len(first["data"]) == 1 and first["pagination"]["next_cursor"]
    # a cursor of one meeting's list is refused for another meeting's
    other = next(r["id"]["meeting_id"] for r in store.all_recordings(False) if r["id"]["meeting_id"] != mid)
    resp = raw.get(recordings_path(other), {"cursor": first["pagination"]["next_cursor"]})
    assert resp.status == 400 and resp.json()["code"] == "validation_type"


def test_a_meeting_without_recordings_lists_none(emulator, raw) -> None:
    store = emulator.emulator.call_recordings.store
    with_recs = {r["id"]["meeting_id"] for r in store.all_recordings(False)}
    mid = next(
        m["id"]["meeting_id"]
        for m in emulator.emulator.store.all_meetings()
        if m["id"]["meeting_id"] not in with_recs
    )
    assert raw.get(recordings_path(mid)).json() == {"data": [], "pagination": {"next_cursor": None}}


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1.5", ""])
def test_list_limit_outside_1_to_200_is_400(raw, emulator, limit) -> None:
    mid = emulator.emulator.call_recordings.store.all_recordings(False)[0]["id"]["meeting_id"]
    resp = raw.get(recordings_path(mid), {"limit": limit})
    assert resp.status == 400
    assert (resp.json()["type"], resp.json()["code"]) == ("invalid_request_error", "validation_type")


@pytest.mark.parametrize(
    "cursor", ["", "nope", "e30", "eyJ2IjoxfQ"], ids=["empty", "garbage", "empty-object", "no-fields"]
)
def test_list_bad_cursor_is_400(raw, emulator, cursor) -> None:
    mid = emulator.emulator.call_recordings.store.all_recordings(False)[0]["id"]["meeting_id"]
    resp = raw.get(recordings_path(mid), {"cursor": cursor})
    assert resp.status == 400 and resp.json()["code"] == "validation_type"


def test_unknown_meeting_is_404_on_every_path(raw) -> None:
    rid = "e8f2a3b7-9b4d-4c5e-8a1f-3d7b2c5e8f9a"
    for method, path in [
        ("GET", recordings_path(UNKNOWN)),
        ("GET", recordings_path(UNKNOWN, rid)),
        ("GET", recordings_path(UNKNOWN, rid, "transcript")),
        ("DELETE", recordings_path(UNKNOWN, rid)),
    ]:
        resp = raw.request(method, path)
        assert resp.status == 404, (method, path)
        assert (resp.json()["code"], resp.json()["status_code"]) == ("not_found", 404)
    resp = raw.request("POST", recordings_path(UNKNOWN), body={"data": {}})
    assert resp.status == 404 and resp.json()["message"] == "The referenced meeting was not found."


def test_unknown_recording_and_another_meetings_recording_are_404(emulator, raw) -> None:
    recs = emulator.emulator.call_recordings.store.all_recordings(False)
    mid = recs[0]["id"]["meeting_id"]
    foreign = next(r for r in recs if r["id"]["meeting_id"] != mid)["id"]["call_recording_id"]
    for rid in (UNKNOWN, foreign):
        resp = raw.get(recordings_path(mid, rid))
        assert resp.status == 404
        assert resp.json()["message"] == f'Call recording with ID "{rid}" was not found.'


def test_ids_that_are_not_uuids_are_400(emulator, raw) -> None:
    mid = emulator.emulator.call_recordings.store.all_recordings(False)[0]["id"]["meeting_id"]
    assert raw.get(recordings_path("nope")).status == 400
    assert raw.get(recordings_path(mid, "nope")).status == 400


def test_get_answers_the_whole_transcript_inline(emulator, raw) -> None:
    store = emulator.emulator.call_recordings.store
    rec = next(r for r in store.all_recordings() if r["transcript"] and len(r["transcript"]["segments"]) > 10)
    got = raw.get(recordings_path(rec["id"]["meeting_id"], rec["id"]["call_recording_id"])).json()["data"]
    assert without_video(got) == without_video(rec)
    assert set(got) == {
        "id",
        "status",
        "web_url",
        "created_by_actor",
        "created_at",
        "video_url",
        "transcript",
    }


READ = frozenset({"meeting:read", "call_recording:read"})


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        (frozenset({"meeting:read", "record_permission:read"}), "call_recording:read"),
        (frozenset({"call_recording:read"}), "meeting:read"),
    ],
    ids=["no-call-recording-scope", "no-meeting-scope"],
)
def test_reads_need_meeting_read_and_call_recording_read(make_emulator, make_raw, scopes, missing) -> None:
    emu = make_emulator(
        tokens={"t": scopes, "ok": READ, "rw": frozenset({"meeting:read-write", "call_recording:read-write"})}
    )
    rec = emu.emulator.call_recordings.store.all_recordings(False)[0]
    path = recordings_path(rec["id"]["meeting_id"], rec["id"]["call_recording_id"])
    resp = make_raw(emu, token="t").get(path)
    assert resp.status == 403
    assert (resp.json()["type"], resp.json()["code"]) == ("auth_error", "unauthorized")
    assert missing in resp.json()["message"]
    assert make_raw(emu, token="ok").get(path).status == 200
    assert make_raw(emu, token="rw").get(path).status == 200  # read-write holds read


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_reads_count_against_the_read_budget(make_emulator, make_raw) -> None:
    emu = make_emulator(read_rate=1)
    raw = make_raw(emu)
    rec = emu.emulator.call_recordings.store.all_recordings(False)[0]
    path = recordings_path(rec["id"]["meeting_id"])
    # five reads in a row would need five seconds to fit a budget of 1 per second
    statuses = [raw.get(path).status for _ in range(5)]
    assert 429 in statuses and set(statuses) <= {200, 429}
