"""The batched renderer: byte for byte what ``orjson.dumps(SeedData.render(i))`` gives, cold or warm;
and the tables it stands on (record IDs, UTC offsets, the seeded rows' order)."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest

from connector.emulator import EmulatorConfig
from connector.emulator.runner import add_arguments, config_from_args
from connector.emulator.seed import generate, record_id, record_ids
from connector.emulator.store import MeetingStore
from connector.emulator.timeutil import zone
from connector.emulator.zones import FIRST_DAY, N_DAYS, TIMEZONES, noon_offsets_ms


@pytest.mark.parametrize("seed", [0, 7])
def test_batched_render_equals_the_reference_render(seed: int) -> None:
    s = generate(6000, seed, 'ws-"é')
    rows = list(range(s.n))
    fast = [b for k in range(0, s.n, 200) for b in s.render_bytes(rows[k : k + 200])]
    assert fast == [orjson.dumps(s.render(i)) for i in rows]
    assert s.render_bytes([]) == [] and s.render_bytes([5]) == [fast[5]]


def test_a_page_rendered_cold_equals_the_same_page_warm_and_prerendered() -> None:
    ws = EmulatorConfig(seed=3).workspace_id
    cold = MeetingStore(3000, 3, ws)
    rows = cold.ordered_rows()[1000:1200]
    first = cold.meetings_bytes(rows)
    assert cold.meetings_bytes(rows) == first  # warm: from the cache
    assert [cold.meeting_bytes(r) for r in rows] == first
    pre = MeetingStore(3000, 3, ws)
    pre.prerender()
    assert pre.meetings_bytes(rows) == first
    assert pre.all_meetings() == cold.all_meetings()


def test_prerender_flag() -> None:
    parser = add_arguments(__import__("argparse").ArgumentParser())
    assert config_from_args(parser.parse_args(["--prerender"])).prerender is True
    assert config_from_args(parser.parse_args([])).prerender is False


def test_prerendered_emulator_serves_created_meetings_too(make_emulator, make_raw) -> None:
    emu = make_emulator(prerender=True)
    raw = make_raw(emu)
    body = {
        "data": {
            "title": "Holiday",
            "description": "",
            "is_all_day": True,
            "start": {"date": "2025-01-02"},
            "end": {"date": "2025-01-03"},
            "participants": [
                {"email_address": "hol@example.com", "is_organizer": True, "status": "accepted"}
            ],
            "external_ref": "r1",
        }
    }
    assert raw.post(body).status == 200
    got = raw.list_all(limit=200)
    assert len(got) == 301
    assert got == emu.emulator.store.all_meetings()


# ---- cold pages over HTTP against the reference rendering ---------------------------------------
PAGE_QUERIES = [
    pytest.param({"limit": 200}, id="unfiltered"),
    pytest.param({"limit": 200, "sort": "start_desc"}, id="descending"),
    pytest.param(
        {"limit": 137, "ends_from": "2025-03-01T00:00:00Z", "timezone": "Pacific/Kiritimati"},
        id="ends_from-kiritimati",
    ),
    pytest.param(
        {"limit": 5, "ends_from": "2024-10-20T00:00:00Z", "starts_before": "2024-11-10T00:00:00-05:00",
         "timezone": "America/New_York"},
        id="window-dst-new-york",
    ),
    pytest.param({"limit": 20, "participants": "FIRST_EMAIL"}, id="participant"),
    pytest.param({"limit": 20, "participants": "FIRST_EMAIL", "linked": "deal"}, id="participant-or-deal"),
]  # fmt: skip


@pytest.mark.parametrize("query", PAGE_QUERIES)
def test_cold_pages_are_byte_for_byte_the_reference_rendering(make_emulator, make_raw, query) -> None:
    """Every page, served cold, is exactly the reference ``orjson.dumps(SeedData.render(row))`` of the
    meetings it lists, joined as the contract's page (which rows belong on it is test_emulator's)."""
    emu = make_emulator(meetings=2500, seed=11)
    store, raw = emu.emulator.store, make_raw(emu)
    seed = store.seed_data
    params = dict(query)
    if params.get("participants") == "FIRST_EMAIL":
        params["participants"] = seed.emails[int(seed.part_person[0])]
    if params.pop("linked", None) == "deal":
        deal = int(seed.deal[seed.deal >= 0][0])
        params |= {"linked_object": "deals", "linked_record_id": seed.deal_id(deal)}
    cursor, pages = None, 0
    while True:
        page = raw.get("/v2/meetings", {**params, **({"cursor": cursor} if cursor else {})})
        assert page.status == 200, page.body
        doc = orjson.loads(page.body)
        rows = [store.row_of(m["id"]["meeting_id"]) for m in doc["data"]]
        cursor = doc["pagination"]["next_cursor"]
        expected = b",".join(orjson.dumps(seed.render(r)) for r in rows)
        tail = b'],"pagination":{"next_cursor":' + orjson.dumps(cursor) + b"}}"
        assert page.body == b'{"data":[' + expected + tail
        pages += 1
        if cursor is None:
            break
    assert pages > 1


def test_a_joined_page_equals_the_meetings_joined() -> None:
    s = generate(3000, 5, "ws")
    rows = list(range(1200, 1400))
    assert s.renderer().render_joined(rows, b"<", b">") == b"<" + b",".join(s.render_bytes(rows)) + b">"
    assert s.renderer().render_joined([], b"<", b">") == b"<>"
    assert s.renderer().render_joined([7]) == s.render_bytes([7])[0]


def test_seeded_rows_come_in_the_listings_order() -> None:
    s = generate(5000, 2, "ws")
    ids = [int(s.meeting_id(i).replace("-", ""), 16) for i in range(s.n)]
    keys = list(zip(s.start_ms.tolist(), ids, strict=True))
    assert keys == sorted(keys)


def test_batched_record_ids_equal_uuid5() -> None:
    keys = ["alice@acme.com", "bøb@例え.jp", "", "7:123"]
    assert record_ids("people", keys) == [record_id("people", k) for k in keys]
    assert record_ids("deals", []) == []


def test_noon_offsets_equal_zoneinfo() -> None:
    table = noon_offsets_ms()
    for t, name in enumerate(TIMEZONES):
        tz = zone(name)
        for d in range(0, N_DAYS, 1):
            day = FIRST_DAY + timedelta(days=d)
            off = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset() if tz else None
            assert table[t, d] == (int(off.total_seconds()) * 1000 if off else 0), (name, day)


def test_a_created_meeting_is_in_the_participant_list_only_if_it_is_a_participant(
    make_emulator, make_raw
) -> None:
    """A person's email and their person record are separate lists for created meetings: a meeting
    that only links the person is found by the linked filter, not by the participant filter."""
    emu = make_emulator(meetings=50)
    raw = make_raw(emu)
    email = "new.person@example.org"
    rid = record_id("people", email)

    def create(title: str, participants: list, links: list) -> str:
        body = {
            "data": {
                "title": title, "description": "", "is_all_day": False,
                "start": {"datetime": "2025-05-05T10:00:00Z", "timezone": "UTC"},
                "end": {"datetime": "2025-05-05T11:00:00Z", "timezone": "UTC"},
                "participants": participants, "linked_records": links, "external_ref": title,
            }
        }  # fmt: skip
        resp = raw.post(body)
        assert resp.status == 200, resp.body
        return resp.json()["data"]["id"]["meeting_id"]

    other = [{"email_address": "someone.else@example.org", "is_organizer": True, "status": "accepted"}]
    linked_only = create("linked", other, [{"object": "people", "record_id": rid}])
    attended = create("attended", [{"email_address": email, "is_organizer": True, "status": "accepted"}], [])
    by_email = [m["id"]["meeting_id"] for m in raw.list_all(participants=email)]
    by_record = [m["id"]["meeting_id"] for m in raw.list_all(linked_object="people", linked_record_id=rid)]
    assert by_email == [attended]
    assert sorted(by_record) == sorted([linked_only, attended])


def test_times_outside_the_offset_tables_take_the_slow_path() -> None:
    """Rows whose times fall outside the tables (never in seeded data) still render exactly."""
    s = generate(60, 4, "ws")
    timed = [int(i) for i in (~s.all_day).nonzero()[0]]
    years = 40 * 365 * 86_400_000
    for row in timed[:3]:
        s.start_ms[row] -= years
        s.end_ms[row] -= years
    s.end_ms[timed[5]] += years  # only the end
    s.start_ms[int(s.all_day.nonzero()[0][0])] -= years  # a date far away
    assert s.render_bytes(list(range(s.n))) == [orjson.dumps(s.render(i)) for i in range(s.n)]
