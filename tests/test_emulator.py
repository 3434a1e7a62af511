"""The emulator over real loopback HTTP: listing, filters, pagination, get, find-or-create, auth, 429s."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from connector.emulator import EmulatorConfig
from connector.emulator.store import MeetingStore

# ---- a reference implementation of the contract, by brute force over store.all_meetings() ----


def _instant(value: dict, tz: str) -> datetime:
    if "date" in value:
        return datetime.combine(date.fromisoformat(value["date"]), datetime.min.time(), ZoneInfo(tz))
    return datetime.fromisoformat(value["datetime"])


def sort_key(m: dict) -> tuple[datetime, str]:
    start = m["start"]
    if "date" in start:
        at = datetime.combine(date.fromisoformat(start["date"]), datetime.min.time(), UTC)
    else:
        at = datetime.fromisoformat(start["datetime"])
    return at, m["id"]["meeting_id"]


def expected(
    meetings: list[dict],
    *,
    participants: str = "",
    linked: tuple[str, str] | None = None,
    ends_from: str | None = None,
    starts_before: str | None = None,
    timezone: str = "UTC",
    sort: str = "start_asc",
) -> list[str]:
    emails = {e.strip().lower() for e in participants.split(",") if e.strip()}
    out = []
    for m in meetings:
        if emails or linked:
            by_email = any((p["email_address"] or "").lower() in emails for p in m["participants"])
            by_link = linked is not None and any(
                linked[0] in (lr["object_slug"], lr["object_id"]) and lr["record_id"] == linked[1]
                for lr in m["linked_records"]
            )
            if not (by_email or by_link):
                continue
        if ends_from and _instant(m["end"], timezone) < datetime.fromisoformat(ends_from):
            continue
        if starts_before and _instant(m["start"], timezone) >= datetime.fromisoformat(starts_before):
            continue
        out.append(m)
    out.sort(key=sort_key, reverse=sort == "start_desc")
    return [m["id"]["meeting_id"] for m in out]


def ids(meetings: list[dict]) -> list[str]:
    return [m["id"]["meeting_id"] for m in meetings]


# ---- listing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [3, 7, 50, 200], ids=lambda v: f"limit={v}")
@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
def test_pages_to_the_end_equal_brute_force(emulator, raw, limit, sort) -> None:
    meetings = emulator.emulator.store.all_meetings()
    got = raw.list_all(limit=limit, sort=sort)
    assert ids(got) == expected(meetings, sort=sort)
    assert len(got) == 300


def test_default_page_is_50_and_a_full_last_page_has_no_cursor(make_emulator, make_raw) -> None:
    emu = make_emulator(meetings=100)
    raw = make_raw(emu)
    first = raw.get("/v2/meetings").json()
    assert len(first["data"]) == 50 and first["pagination"]["next_cursor"]
    second = raw.get("/v2/meetings", {"cursor": first["pagination"]["next_cursor"]}).json()
    assert len(second["data"]) == 50
    assert second["pagination"]["next_cursor"] is None


def test_empty_data_set(make_emulator, make_raw) -> None:
    raw = make_raw(make_emulator(meetings=0))
    assert raw.get("/v2/meetings").json() == {"data": [], "pagination": {"next_cursor": None}}


WINDOWS = [
    {"ends_from": "2025-03-01T00:00:00Z"},
    {"starts_before": "2024-06-01T12:00:00+02:00"},
    {
        "ends_from": "2024-11-02T00:00:00Z",
        "starts_before": "2024-11-05T00:00:00-05:00",
        "timezone": "America/New_York",
    },
    {
        "ends_from": "2025-01-01T00:00:00Z",
        "starts_before": "2025-07-01T00:00:00Z",
        "timezone": "Pacific/Kiritimati",
    },
    {
        "ends_from": "2025-01-01T00:00:00Z",
        "starts_before": "2025-07-01T00:00:00Z",
        "timezone": "Pacific/Pago_Pago",
    },
    {
        "ends_from": "2026-03-29T00:30:00.5+05:45",
        "starts_before": "2026-04-01T00:00:00Z",
        "timezone": "Asia/Kathmandu",
    },
]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: ",".join(f"{k}={v}" for k, v in w.items()))
@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
def test_time_window_equals_brute_force(emulator, raw, window, sort) -> None:
    meetings = emulator.emulator.store.all_meetings()
    want = expected(meetings, sort=sort, **window)
    assert want, "the window should not be empty"
    assert ids(raw.list_all(limit=9, sort=sort, **window)) == want


def test_ends_from_is_inclusive_and_starts_before_exclusive(emulator, raw) -> None:
    meetings = [m for m in emulator.emulator.store.all_meetings() if not m["is_all_day"]]
    m = meetings[len(meetings) // 2]
    end, start = m["end"]["datetime"], m["start"]["datetime"]
    assert m["id"]["meeting_id"] in ids(raw.list_all(ends_from=end))
    assert m["id"]["meeting_id"] not in ids(raw.list_all(starts_before=start))
    assert m["id"]["meeting_id"] in ids(raw.list_all(ends_from=end, starts_before=end))


ALL_DAY = {
    "title": "Holiday",
    "description": "",
    "is_all_day": True,
    "start": {"date": "2030-06-03"},
    "end": {"date": "2030-06-04"},
    "participants": [{"email_address": "hol@example.com", "is_organizer": True, "status": "accepted"}],
}


@pytest.mark.parametrize(
    ("params", "included"),
    [
        ({"ends_from": "2030-06-03T23:30:00Z"}, True),
        ({"ends_from": "2030-06-03T23:30:00Z", "timezone": "Asia/Tokyo"}, False),
        ({"ends_from": "2030-06-03T23:30:00Z", "timezone": "America/New_York"}, True),
        ({"ends_from": "2030-06-04T04:00:00Z", "timezone": "America/New_York"}, True),
        ({"ends_from": "2030-06-04T04:00:00.001Z", "timezone": "America/New_York"}, False),
        ({"starts_before": "2030-06-03T02:00:00Z"}, True),
        ({"starts_before": "2030-06-03T02:00:00Z", "timezone": "America/New_York"}, False),
        ({"starts_before": "2030-06-03T04:00:00Z", "timezone": "America/New_York"}, False),
        ({"starts_before": "2030-06-03T04:00:01Z", "timezone": "America/New_York"}, True),
        ({"starts_before": "2030-06-03T00:00:00+09:00", "timezone": "Asia/Tokyo"}, False),
        ({"starts_before": "2030-06-02T15:00:01Z", "timezone": "Asia/Tokyo"}, True),
    ],
    ids=lambda v: str(v) if isinstance(v, bool) else ",".join(f"{k}={x}" for k, x in v.items()),
)
def test_all_day_meetings_are_judged_in_the_query_timezone(raw, params, included) -> None:
    created = raw.post({"data": ALL_DAY}).json()["data"]["id"]["meeting_id"]
    got = ids(raw.list_all(participants="hol@example.com", **params))
    assert (created in got) is included


def test_participants_filter_is_any_of_and_case_insensitive(emulator, raw) -> None:
    meetings = emulator.emulator.store.all_meetings()
    emails = [p["email_address"] for m in meetings for p in m["participants"] if p["email_address"]]
    chosen = f"{emails[0].upper()}, {emails[7]},nobody@nowhere.example"
    want = expected(meetings, participants=chosen)
    assert len(want) > 1
    assert ids(raw.list_all(participants=chosen, limit=3)) == want


@pytest.mark.parametrize("slug", ["people", "companies", "deals"])
@pytest.mark.parametrize("by", ["slug", "object_id"])
def test_linked_record_filter(emulator, raw, slug, by) -> None:
    meetings = emulator.emulator.store.all_meetings()
    link = next(lr for m in meetings for lr in m["linked_records"] if lr["object_slug"] == slug)
    obj = link["object_slug"] if by == "slug" else link["object_id"]
    want = expected(meetings, linked=(obj, link["record_id"]))
    assert want
    assert ids(raw.list_all(linked_object=obj, linked_record_id=link["record_id"], limit=4)) == want


def test_participants_and_linked_record_are_ored_and_window_anded(emulator, raw) -> None:
    meetings = emulator.emulator.store.all_meetings()
    email = meetings[3]["participants"][0]["email_address"] if meetings[3]["participants"] else "x@y.z"
    deal = next(lr for m in meetings for lr in m["linked_records"] if lr["object_slug"] == "deals")
    params = {"participants": email, "linked_object": "deals", "linked_record_id": deal["record_id"]}
    want = expected(meetings, participants=email, linked=("deals", deal["record_id"]))
    assert len(want) > len(expected(meetings, participants=email))
    assert ids(raw.list_all(**params, limit=2)) == want
    window = {"ends_from": "2025-01-01T00:00:00Z"}
    assert ids(raw.list_all(**params, **window)) == expected(
        meetings, participants=email, linked=("deals", deal["record_id"]), **window
    )


def test_unknown_object_id_or_record_finds_nothing(raw) -> None:
    page = raw.get(
        "/v2/meetings",
        {
            "linked_object": "9f1b3a0e-0000-4000-8000-000000000000",
            "linked_record_id": "9f1b3a0e-0000-4000-8000-000000000001",
        },
    )
    assert page.status == 200 and page.json()["data"] == []


BAD_LIST_PARAMS = [
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": ["5", "6"]}, "limit"),
    ({"sort": "start"}, "sort"),
    ({"linked_object": "people"}, "linked_record_id"),
    ({"linked_record_id": "9f1b3a0e-0000-4000-8000-000000000001"}, "linked_object"),
    ({"linked_object": "people", "linked_record_id": "not-a-uuid"}, "linked_record_id"),
    ({"ends_from": "2024-01-01"}, "ends_from"),
    ({"ends_from": "2024-01-01T00:00:00"}, "ends_from"),
    ({"starts_before": "yesterday"}, "starts_before"),
    ({"starts_before": "2024-13-01T00:00:00Z"}, "starts_before"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    # Files and folders of the tz database that are no timezone, and names ZoneInfo would fail on.
    *[
        ({"timezone": zone}, "timezone")
        for zone in (
            "America",
            "Europe",
            "posixrules",
            "Factory",
            "right/UTC",
            "posix/Europe/Paris",
            "localtime",
            "../zoneinfo/UTC",
            "/etc/localtime",
            "Europe/Paris\x00",
            "a" * 300,
        )
    ],
    ({"cursor": "not!a!cursor"}, "cursor"),
    ({"cursor": "eyJ2IjoxfQ"}, "cursor"),
]


@pytest.mark.parametrize(("params", "path"), BAD_LIST_PARAMS, ids=lambda v: str(v))
def test_invalid_list_parameters_are_400(raw, params, path) -> None:
    resp = raw.get("/v2/meetings", params)
    assert resp.status == 400
    body = resp.json()
    assert (body["status_code"], body["type"], body["code"]) == (
        400,
        "invalid_request_error",
        "validation_type",
    )
    assert path in [e["path"][0] for e in body["validation_errors"]]
    assert body["message"] == body["validation_errors"][0]["message"]


def test_meetings_created_between_pages_are_seen_by_the_cursor(emulator, raw) -> None:
    first = raw.get("/v2/meetings", {"limit": 10}).json()
    late = dict(ALL_DAY, start={"date": "2099-01-01"}, end={"date": "2099-01-02"})
    early = dict(ALL_DAY, start={"date": "2000-01-01"}, end={"date": "2000-01-02"})
    late_id = raw.post({"data": late}).json()["data"]["id"]["meeting_id"]
    raw.post({"data": early})
    rest = []
    cursor = first["pagination"]["next_cursor"]
    while cursor:
        page = raw.get("/v2/meetings", {"limit": 50, "cursor": cursor}).json()
        rest += page["data"]
        cursor = page["pagination"]["next_cursor"]
    assert len(first["data"]) + len(rest) == 301, "the late one is seen, the early one is behind the cursor"
    assert rest[-1]["id"]["meeting_id"] == late_id


def test_a_cursor_reused_with_other_filters_is_400(raw) -> None:
    cursor = raw.get("/v2/meetings", {"limit": 5, "sort": "start_desc"}).json()["pagination"]["next_cursor"]
    assert raw.get("/v2/meetings", {"limit": 9, "sort": "start_desc", "cursor": cursor}).status == 200
    resp = raw.get("/v2/meetings", {"cursor": cursor})
    assert resp.status == 400 and resp.json()["validation_errors"][0]["path"] == ["cursor"]


# ---- get -----------------------------------------------------------------------------------------


def test_get_meeting(emulator, raw) -> None:
    m = emulator.emulator.store.all_meetings()[17]
    resp = raw.get(f"/v2/meetings/{m['id']['meeting_id']}")
    assert resp.status == 200 and resp.json() == {"data": m}
    assert emulator.emulator.store.get(m["id"]["meeting_id"]) == m


def test_get_unknown_meeting_is_the_contract_404(raw) -> None:
    mid = "cb59ab17-ad15-460c-a126-0715617c0853"
    resp = raw.get(f"/v2/meetings/{mid}")
    assert resp.status == 404
    assert resp.json() == {
        "status_code": 404,
        "type": "invalid_request_error",
        "code": "not_found",
        "message": f'Meeting with ID "{mid}" was not found.',
    }


def test_get_non_uuid_is_400(raw) -> None:
    resp = raw.get("/v2/meetings/not-a-uuid")
    assert resp.status == 400 and resp.json()["validation_errors"][0]["path"] == ["meeting_id"]


def test_unknown_route_is_404_envelope(raw) -> None:
    resp = raw.get("/v2/people")
    assert resp.status == 404 and resp.json()["code"] == "not_found"


# ---- auth ------------------------------------------------------------------------------------------

RO = frozenset({"meeting:read", "record_permission:read"})


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Token emulator-token", "Bearer "])
def test_missing_or_unknown_token_is_401(raw, header) -> None:
    resp = raw.get("/v2/meetings", headers={"Authorization": header} if header else None, token=None)
    assert resp.status == 401
    body = resp.json()
    assert (body["status_code"], body["type"], body["code"]) == (401, "auth_error", "unauthorized")
    assert b"wrong-token" not in resp.body and b"emulator-token" not in resp.body


def test_basic_auth_with_token_as_user_name(raw, basic_auth) -> None:
    assert (
        raw.get("/v2/meetings", headers={"Authorization": basic_auth("emulator-token")}, token=None).status
        == 200
    )


@pytest.mark.parametrize(
    ("scopes", "method", "status", "missing"),
    [
        (RO, "GET", 200, None),
        (RO, "POST", 403, "meeting:read-write"),
        ({"meeting:read-write", "record_permission:read"}, "GET", 200, None),
        ({"meeting:read-write", "record_permission:read"}, "POST", 200, None),
        ({"meeting:read"}, "GET", 403, "record_permission:read"),
        ({"record_permission:read"}, "GET", 403, "meeting:read"),
        (set(), "POST", 403, "meeting:read-write"),
    ],
    ids=lambda v: ",".join(sorted(v)) if isinstance(v, (set, frozenset)) else str(v),
)
def test_scopes(make_emulator, make_raw, scopes, method, status, missing) -> None:
    emu = make_emulator(tokens={"scoped-secret": frozenset(scopes)})
    raw = make_raw(emu, token="scoped-secret")
    resp = raw.get("/v2/meetings") if method == "GET" else raw.post({"data": ALL_DAY | {"external_ref": "s"}})
    assert resp.status == status
    if missing:
        body = resp.json()
        assert (body["status_code"], body["type"], body["code"]) == (403, "auth_error", "unauthorized")
        assert missing in body["message"] and "scoped-secret" not in body["message"]


# ---- rate limits -----------------------------------------------------------------------------------


def test_reads_over_budget_get_429_with_an_http_date_in_the_future(make_emulator, make_raw) -> None:
    emu = make_emulator(read_rate=2, write_rate=0)
    raw = make_raw(emu)
    for _ in range(50):
        sent = time.time()
        resp = raw.get("/v2/meetings", {"limit": 1})
        if resp.status == 429:
            break
    else:
        pytest.fail("no 429 in 50 quick reads at 2/s")
    assert resp.json() == {
        "status_code": 429,
        "type": "rate_limit_error",
        "code": "rate_limit_exceeded",
        "message": "Rate limit exceeded, please try again later",
    }
    retry_at = parsedate_to_datetime(resp.headers["Retry-After"])
    assert resp.headers["Retry-After"].endswith(" GMT")
    assert retry_at.timestamp() > sent
    assert emu.emulator.stats.count(status=429) >= 1
    # writes have their own bucket (off here), so a POST still goes through
    assert raw.post({"data": ALL_DAY | {"external_ref": "w"}}).status == 200


# ---- seeded data -------------------------------------------------------------------------------------


def test_seeded_data_is_deterministic_and_varied() -> None:
    a = MeetingStore(2000, 7, EmulatorConfig(seed=7).workspace_id).all_meetings()
    b = MeetingStore(2000, 7, EmulatorConfig(seed=7).workspace_id).all_meetings()
    assert a == b
    assert a != MeetingStore(2000, 8, "w").all_meetings()
    starts = [sort_key(m)[0] for m in a]
    assert len(set(starts)) < len(starts), "some meetings share their start"
    assert any(m["is_all_day"] for m in a) and any(not m["is_all_day"] for m in a)
    assert any(
        m["is_all_day"]
        and (date.fromisoformat(m["end"]["date"]) - date.fromisoformat(m["start"]["date"])).days > 1
        for m in a
    )
    assert any(not m["participants"] for m in a) and max(len(m["participants"]) for m in a) >= 12
    assert {p["status"] for m in a for p in m["participants"]} == {
        "accepted",
        "tentative",
        "declined",
        "pending",
    }
    assert any(p["is_organizer"] for m in a for p in m["participants"])
    assert any(not t.isascii() for t in (m["title"] for m in a))
    assert any(m["description"] == "" for m in a)
    assert {lr["object_slug"] for m in a for lr in m["linked_records"]} == {"people", "companies", "deals"}
    assert any(m["start"].get("datetime", "").startswith("2025-03-09") for m in a), "a US DST day"
    assert all(m["created_at"].endswith("Z") and len(m["created_at"].split(".")[1]) == 10 for m in a)
    zones = {m["start"].get("timezone") for m in a}
    assert {None, "UTC", "America/New_York", "Asia/Kolkata"} <= zones
    assert all(sort_key(x) <= sort_key(y) for x, y in itertools.pairwise(a))
