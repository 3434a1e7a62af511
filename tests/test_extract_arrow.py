"""Meeting dicts (the contract's shape) -> RecordBatch: values, types, drift and errors."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from connector.errors import SchemaError
from connector.extract.arrow import MeetingConverter, boolean_array, concat_batches, start_keys
from connector.schema import meeting_arrow_schema

EXAMPLE: dict[str, Any] = {
    "id": {"workspace_id": "14beef7a-99f7-4534-a87e-70b564330a4c", "meeting_id": "cb59ab17-ad15-460c-a126-0715617c0853"},
    "title": "Onboarding Session",
    "description": "Getting you up to speed with the platform.",
    "is_all_day": False,
    "start": {"datetime": "2027-11-27T14:00:00.000-05:00", "timezone": "America/New_York"},
    "end": {"datetime": "2027-11-27T15:00:00.000-05:00", "timezone": "America/New_York"},
    "participants": [
        {"status": "accepted", "is_organizer": True, "email_address": "alice@acme.com", "name": None},
        {"status": "tentative", "is_organizer": False, "email_address": "bob@example.org", "name": None},
    ],
    "linked_records": [
        {"object_slug": "people", "object_id": "891dcbfc-9141-415d-9b2a-2238a6cc012d",
         "record_id": "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"},
    ],
    "created_at": "2027-11-20T09:12:45.123456789Z",
    "created_by_actor": {"type": "api-token", "id": "0d3c5e7a-2f1b-4c8d-9e6f-7a8b9c0d1e2f"},
}


def all_day(meeting_id: str = "aaaaaaaa-0000-4000-8000-000000000001", day: str = "2027-11-27") -> dict[str, Any]:
    m = copy.deepcopy(EXAMPLE)
    m["id"]["meeting_id"] = meeting_id
    m["is_all_day"] = True
    m["start"] = {"date": day}
    m["end"] = {"date": "2027-11-28"}
    return m


def test_contract_example_converts_with_typed_values() -> None:
    batch = MeetingConverter().convert([EXAMPLE])
    assert batch.schema == meeting_arrow_schema()
    row = batch.to_pylist()[0]
    assert row["meeting_id"] == "cb59ab17-ad15-460c-a126-0715617c0853"
    assert row["start_datetime"] == datetime(2027, 11, 27, 19, 0, tzinfo=UTC)
    assert row["end_datetime"] == datetime(2027, 11, 27, 20, 0, tzinfo=UTC)
    assert row["start_date"] is None and row["start_timezone"] == "America/New_York"
    assert row["participants"][0] == {"email_address": "alice@acme.com", "name": None, "is_organizer": True, "status": "accepted"}
    assert row["linked_records"][0]["object_slug"] == "people"
    assert row["created_by_actor_type"] == "api-token"


def test_created_at_keeps_nanoseconds() -> None:
    batch = MeetingConverter().convert([EXAMPLE])
    ns = batch.column("created_at").cast(pa.int64())[0].as_py()
    assert ns % 1_000_000_000 == 123_456_789
    assert batch.column("created_at").type == pa.timestamp("ns", tz="UTC")


def test_all_day_meeting_uses_dates() -> None:
    row = MeetingConverter().convert([all_day()]).to_pylist()[0]
    assert row["is_all_day"] is True
    assert row["start_date"] == date(2027, 11, 27) and row["end_date"] == date(2027, 11, 28)
    assert row["start_datetime"] is None and row["end_datetime"] is None and row["start_timezone"] is None


def test_pre_july_participants_without_name_are_fine() -> None:
    m = copy.deepcopy(EXAMPLE)
    for p in m["participants"]:
        del p["name"]
    m["created_by_actor"] = {}
    row = MeetingConverter().convert([m]).to_pylist()[0]
    assert [p["name"] for p in row["participants"]] == [None, None]
    assert row["created_by_actor_type"] is None


def test_empty_lists_and_empty_page() -> None:
    m = copy.deepcopy(EXAMPLE)
    m["linked_records"] = []
    batch = MeetingConverter().convert([m, EXAMPLE])
    assert batch.column("linked_records").to_pylist()[0] == []
    assert len(batch.column("linked_records").to_pylist()[1]) == 1
    assert MeetingConverter().convert([]).num_rows == 0


def test_unknown_field_is_ignored_and_mentioned_once(caplog: pytest.LogCaptureFixture) -> None:
    m = copy.deepcopy(EXAMPLE)
    m["external_ref"] = "abc"
    m["participants"][0]["phone"] = "+1"
    converter = MeetingConverter()
    with caplog.at_level(logging.WARNING, logger="connector.extract.arrow"):
        converter.convert([m, m])
        converter.convert([m])
    assert converter.ignored_fields == {"external_ref", "participants.phone"}
    assert sum("external_ref" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(lambda m: m.pop("title"), "title", id="missing-title"),
        pytest.param(lambda m: m.pop("created_at"), "created_at", id="missing-created-at"),
        pytest.param(lambda m: m["participants"][1].pop("status"), "status", id="missing-participant-status"),
        pytest.param(lambda m: m["start"].pop("datetime"), "datetime", id="missing-start"),
        pytest.param(lambda m: m.update(title=None), "title", id="null-title"),
        pytest.param(lambda m: m.update(is_all_day="yes"), "is_all_day", id="string-bool"),
        pytest.param(lambda m: m.update(created_at="yesterday"), "created_at", id="bad-timestamp"),
        pytest.param(lambda m: m["participants"][1].update(is_organizer=None), "is_organizer", id="null-organizer"),
        pytest.param(lambda m: m.update(participants=None), "participants", id="null-list"),
    ],
)
def test_bad_meeting_is_an_error_naming_the_meeting(mutate: Any, field: str) -> None:
    bad = copy.deepcopy(EXAMPLE)
    bad["id"]["meeting_id"] = "bbbbbbbb-0000-4000-8000-00000000000b"
    mutate(bad)
    with pytest.raises(SchemaError) as info:
        MeetingConverter().convert([EXAMPLE, bad])
    assert "bbbbbbbb-0000-4000-8000-00000000000b" in str(info.value)
    assert field in str(info.value)


def test_start_keys_judge_all_day_in_the_query_timezone() -> None:
    batch = MeetingConverter().convert([EXAMPLE, all_day()])
    utc = start_keys(batch, "UTC")
    tokyo = start_keys(batch, "Asia/Tokyo")
    assert utc[0] == tokyo[0] == int(datetime(2027, 11, 27, 19, tzinfo=UTC).timestamp()) * 1000
    assert utc[1] == int(datetime(2027, 11, 27, tzinfo=UTC).timestamp()) * 1000
    assert tokyo[1] == int(datetime(2027, 11, 26, 15, tzinfo=UTC).timestamp()) * 1000


def test_start_keys_of_a_slice_read_its_own_rows() -> None:
    # Keys are read from the columns' buffers: a batch that is a slice of another (an offset into them,
    # validity bits that do not start on a byte) must give its own rows' keys.
    meetings = [EXAMPLE if i % 3 else all_day() for i in range(19)]
    whole = MeetingConverter().convert(meetings)
    for tz in ("UTC", "Asia/Tokyo"):
        keys = start_keys(whole, tz)
        for offset in (0, 1, 5, 9):
            part = whole.slice(offset, 7)
            assert start_keys(part, tz).tolist() == keys[offset : offset + 7].tolist()
            assert start_keys(part, tz).tolist() == [int(start_keys(whole.slice(i, 1), tz)[0]) for i in range(offset, offset + 7)]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 200])
def test_boolean_array_is_the_mask(n: int) -> None:
    mask = [bool(i % 3) for i in range(n)]
    array = boolean_array(np.array(mask, dtype=bool))
    assert array.type == pa.bool_()
    assert array.to_pylist() == mask


def test_concat_batches() -> None:
    converter = MeetingConverter()
    one = converter.convert([EXAMPLE])
    assert concat_batches([one, one]).num_rows == 2
    assert concat_batches([]).num_rows == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1600-03-01T09:00:00.000+00:53:28", datetime(1600, 3, 1, 8, 6, 32, tzinfo=UTC), id="local-mean-time-offset"),
        pytest.param("2500-03-01T09:00:00.000Z", datetime(2500, 3, 1, 9, tzinfo=UTC), id="after-2262"),
        pytest.param("0001-01-01T00:00:00.000Z", datetime(1, 1, 1, tzinfo=UTC), id="year-1"),
        pytest.param("9999-12-31T23:59:59.999+00:00", datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), id="year-9999"),
    ],
)
def test_start_and_end_hold_any_year_at_millisecond_precision(text: str, expected: datetime) -> None:
    m = copy.deepcopy(EXAMPLE)
    m["start"] = m["end"] = {"datetime": text, "timezone": "Europe/Berlin"}
    batch = MeetingConverter().convert([m])
    assert batch.column("start_datetime")[0].as_py() == batch.column("end_datetime")[0].as_py() == expected
    assert start_keys(batch, "UTC")[0] == (expected - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("created_at", "2263-01-01T00:00:00.000000000Z", "1677-09-21 to 2262-04-11", id="created-after-2262"),
        pytest.param("created_at", "1600-01-01T00:00:00Z", "1677-09-21 to 2262-04-11", id="created-before-1677"),
        pytest.param("start", "2027-11-27T14:00:00.000001Z", "more precise than the column's unit (ms)", id="start-finer-than-ms"),
    ],
)
def test_a_time_the_column_cannot_hold_names_the_meeting_and_why(field: str, value: str, reason: str) -> None:
    bad = copy.deepcopy(EXAMPLE)
    bad["id"]["meeting_id"] = "cccccccc-0000-4000-8000-00000000000c"
    if field == "start":
        bad["start"] = {"datetime": value, "timezone": None}
    else:
        bad[field] = value
    with pytest.raises(SchemaError) as info:
        MeetingConverter().convert([EXAMPLE, bad])
    message = str(info.value)
    assert "cccccccc-0000-4000-8000-00000000000c" in message and reason in message and value in message
