"""decode_page (page bytes -> RecordBatch in the worker thread) against the converter: identical, or the parsed body."""

from __future__ import annotations

import copy
import urllib.request
from typing import Any

import orjson
import pyarrow as pa
import pytest

from connector.client import AttioClient
from connector.config import ClientConfig
from connector.errors import SchemaError
from connector.extract import fastpath
from connector.extract.arrow import MeetingConverter
from connector.extract.fastpath import FastPage, decode_page
from connector.models import MeetingQuery
from tests.test_extract_arrow import EXAMPLE, all_day


def _ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _body(meetings: list[Any], next_cursor: str | None = "abc") -> bytes:
    return orjson.dumps({"data": meetings, "pagination": {"next_cursor": next_cursor}})


def _pages(url: str, token: str, limit: int) -> list[bytes]:
    bodies, cursor = [], None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        req = urllib.request.Request(url + "/v2/meetings" + query, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as resp:
            body = resp.read()
        bodies.append(body)
        cursor = orjson.loads(body)["pagination"]["next_cursor"]
        if cursor is None:
            return bodies


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
def test_fast_path_is_identical_to_reference_over_emulator_data(make_emulator: Any, seed: int) -> None:
    emu = make_emulator(meetings=1500, seed=seed)
    converter = MeetingConverter()
    seen = {"all_day": 0, "null_tz": 0, "null_email": 0, "no_parts": 0, "no_links": 0, "null_actor": 0}
    for body in _pages(emu.url, emu.token, 200):
        fast = decode_page(body)
        assert isinstance(fast, FastPage), "the emulator's pages must be decoded in the worker thread"
        read = fastpath._read(body)  # by Arrow's JSON reader, not orjson's fallback
        assert read.count == fast.count and (read.batch is None or read.batch.equals(fast.batch))
        parsed = orjson.loads(body)
        assert fast.next_cursor == parsed["pagination"]["next_cursor"]
        assert fast.count == len(parsed["data"])
        if not parsed["data"]:
            assert fast.batch is None
            continue
        ref = converter.convert(parsed["data"])
        assert fast.batch is not None and fast.batch.schema == ref.schema
        assert fast.batch.equals(ref)
        assert _ipc(fast.batch) == _ipc(ref)
        for m in parsed["data"]:
            seen["all_day"] += m["is_all_day"]
            seen["null_tz"] += "date" not in m["start"] and m["start"].get("timezone") is None
            seen["null_email"] += any(p["email_address"] is None for p in m["participants"])
            seen["no_parts"] += not m["participants"]
            seen["no_links"] += not m["linked_records"]
            seen["null_actor"] += m["created_by_actor"] is None or not m["created_by_actor"]
    assert converter.ignored_fields == set()
    assert seen["all_day"] and seen["null_email"] and seen["no_links"], seen


def test_hand_made_edge_cases_are_identical() -> None:
    m = copy.deepcopy(EXAMPLE)
    no_tz = copy.deepcopy(EXAMPLE)
    del no_tz["start"]["timezone"]
    no_tz["end"]["timezone"] = None
    no_tz["participants"] = []
    no_tz["linked_records"] = []
    no_tz["created_by_actor"] = None
    odd = copy.deepcopy(EXAMPLE)
    odd["participants"][0]["email_address"] = None
    del odd["participants"][1]["name"]
    odd["created_by_actor"] = {}
    odd["description"] = "line\nbreak \"quoted\" ünïcode"
    meetings = [m, all_day(), no_tz, odd]
    fast = decode_page(_body(meetings, None))
    assert isinstance(fast, FastPage) and fast.next_cursor is None and fast.batch is not None
    assert _ipc(fast.batch) == _ipc(MeetingConverter().convert(meetings))
    empty = decode_page(_body([], None))
    assert isinstance(empty, FastPage) and empty.batch is None and empty.count == 0


def _drop(path: str) -> dict[str, Any]:
    m = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target: Any = m
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    del target[last]
    return m


def _set(path: str, value: Any) -> dict[str, Any]:
    m = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target: Any = m
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[last] = value
    return m


@pytest.mark.parametrize(
    "meeting",
    [
        _drop("title"),
        _drop("created_by_actor"),
        _drop("participants.0.email_address"),
        _drop("participants.0.is_organizer"),
        _drop("start.datetime"),
        _drop("linked_records.0.record_id"),
        _set("title", 12),
        _set("title", None),
        _set("is_all_day", "no"),
        _set("start", {"date": None}),
        _set("start", {"date": "2027-11-27", "datetime": "2027-11-27T14:00:00.000-05:00"}),
        _set("start", {"datetime": "2027-11-27T14:00:00.000-05:00", "date": None}),
        _set("start", None),
        _set("participants", [None]),
        _set("created_at", "yesterday"),
        _set("meeting_url", "https://meet.example/x"),
        _set("participants.0.role", "host"),
    ],
)
def test_unusual_pages_convert_alike_or_come_back_parsed(meeting: dict[str, Any]) -> None:
    """What decode_page takes it converts exactly as the converter; drift and errors go to the extract's converter."""
    body = _body([copy.deepcopy(EXAMPLE), meeting])
    decoded = decode_page(body)
    converter = MeetingConverter()
    try:
        batch = converter.convert(orjson.loads(body)["data"])
    except SchemaError as exc:
        assert "meeting cb59ab17" in str(exc)
        assert isinstance(decoded, dict) and decoded == orjson.loads(body)
        return
    if converter.ignored_fields:  # drift: only the extract's converter may note it (it is in the report)
        assert isinstance(decoded, dict) and decoded == orjson.loads(body)
    else:
        assert isinstance(decoded, FastPage) and decoded.batch is not None
        assert _ipc(decoded.batch) == _ipc(batch)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [], "pagination": {}}',
        b'{"data": [], "pagination": {"next_cursor": ""}}',
        b'{"data": [], "pagination": {"next_cursor": "a"}, "extra": 1}',
        b'{"data": {}, "pagination": {"next_cursor": "a"}}',
        b'{"data": []}',
    ],
)
def test_odd_bodies_fall_back(body: bytes) -> None:
    assert isinstance(decode_page(body), dict)


def test_a_pretty_printed_body_is_decoded_too() -> None:
    page = decode_page(orjson.dumps({"data": [EXAMPLE], "pagination": {"next_cursor": None}}, option=orjson.OPT_INDENT_2))
    assert isinstance(page, FastPage) and page.count == 1 and page.next_cursor is None


def test_invalid_json_is_a_value_error() -> None:
    for body in (b'{"data": [', b'{"data": [], "pagination": {"next_cursor": null}}\n{"data": []}'):
        with pytest.raises(ValueError):
            decode_page(body)


@pytest.mark.anyio
async def test_list_page_with_decode_gives_the_batch(make_emulator: Any) -> None:
    emu = make_emulator(meetings=50, seed=4)
    config = ClientConfig(token=emu.token, base_url=emu.url)
    async with AttioClient(config) as client:
        fast = await client.list_page(MeetingQuery(limit=20), decode=decode_page)
        plain = await client.list_page(MeetingQuery(limit=20))
        nxt = await client.list_page(MeetingQuery(limit=20), fast.next_cursor, decode=decode_page)
    assert fast.meetings == [] and fast.batch is not None and fast.cursor is None
    assert fast.next_cursor == plain.next_cursor and nxt.cursor == fast.next_cursor
    assert fast.batch.equals(MeetingConverter().convert(plain.meetings))
