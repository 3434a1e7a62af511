"""The schema-driven converter: a second stream from its schema file alone, and meetings against an independent oracle."""

from __future__ import annotations

import copy
import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from extract_helpers import expected_row, rows_of
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError, SchemaError
from connector.extract import fastpath
from connector.extract.arrow import MeetingConverter
from connector.extract.convert import Converter
from connector.extract.fastpath import FastPage, decode_page
from connector.schema import load_schema

RECORDING_SCHEMA = Path(__file__).parent / "schemas" / "call_recording.json"

COMPLETED: dict[str, Any] = {
    "id": {"meeting_id": "m-1", "call_recording_id": "c-1"},
    "status": "completed",
    "created_at": "2027-01-01T15:00:00.123456789Z",
    "created_by_actor": {"type": "workspace-member"},
    "duration": 12.5,
    "segments": 2,
    "transcript": [
        {"speech": "Hello,", "start_time": 0.51, "end_time": 0.81, "speaker": {"name": "Alex Bell"}},
        {"speech": "here.", "start_time": 4, "end_time": 4.91, "speaker": None},
    ],
}
PROCESSING: dict[str, Any] = {
    "id": {"meeting_id": "m-1", "call_recording_id": "c-2"},
    "status": "processing",
    "created_at": "2027-01-02T00:00:00.000000000Z",
    "created_by_actor": None,
    "segments": 0,
    "transcript": None,
}


def test_a_second_stream_converts_from_its_schema_file_alone() -> None:
    schema = load_schema(RECORDING_SCHEMA)
    batch = Converter(schema).convert([COMPLETED, PROCESSING])
    assert batch.schema == schema.arrow and schema.arrow.metadata[b"connector.schema"] == b"call_recording"
    created = batch.column("created_at").cast(pa.int64()).to_pylist()
    assert created[0] % 1_000_000_000 == 123_456_789
    rows = batch.drop_columns(["created_at"]).to_pylist()
    assert rows == [
        {
            "call_recording_id": "c-1", "meeting_id": "m-1", "status": "completed",
            "created_by_actor_type": "workspace-member", "duration_seconds": 12.5, "segment_count": 2,
            "transcript": [
                {"speech": "Hello,", "start_time": 0.51, "end_time": 0.81, "speaker_name": "Alex Bell"},
                {"speech": "here.", "start_time": 4.0, "end_time": 4.91, "speaker_name": None},
            ],
        },
        {
            "call_recording_id": "c-2", "meeting_id": "m-1", "status": "processing",
            "created_by_actor_type": None, "duration_seconds": None, "segment_count": 0, "transcript": None,
        },
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(
            lambda r: r["transcript"][1].pop("speech"),
            "lacks the required field 'speech'",
            id="missing-in-item",
        ),
        pytest.param(
            lambda r: r["transcript"][0].update(start_time="0.5"),
            "'transcript.start_time' has the invalid value",
            id="text-number",
        ),
        pytest.param(
            lambda r: r["transcript"].append(None), "'transcript[2]' must be an object", id="null-item"
        ),
        pytest.param(lambda r: r.update(status=None), "field 'status' is null", id="null-status"),
        pytest.param(lambda r: r.update(id="c-3"), "'id' must be an object", id="id-not-an-object"),
        pytest.param(
            lambda r: r.update(segments=2.5), "'segment_count' has the invalid value 2.5", id="float-for-int"
        ),
    ],
)
def test_a_second_stream_names_the_record_by_its_key(mutate: Any, reason: str) -> None:
    bad = copy.deepcopy(COMPLETED)
    bad["id"]["call_recording_id"] = "c-3"
    mutate(bad)
    with pytest.raises(SchemaError) as info:
        Converter(load_schema(RECORDING_SCHEMA)).convert([PROCESSING, bad])
    message = str(info.value)
    assert message.startswith(
        "call_recording c-3" if isinstance(bad["id"], dict) else "call_recording <no id>"
    )
    assert reason in message


def test_a_second_stream_notes_drift_by_its_own_name(caplog: pytest.LogCaptureFixture) -> None:
    record = copy.deepcopy(COMPLETED)
    record["web_url"] = "https://app.attio.com/x"
    record["transcript"][0]["confidence"] = 0.9
    converter = Converter(load_schema(RECORDING_SCHEMA))
    with caplog.at_level(logging.WARNING):
        converter.convert([record])
    assert converter.ignored_fields == {"web_url", "transcript.confidence"}
    assert any("call_recording schema" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("field", "change", "message"),
    [
        pytest.param(2, {"type": "decimal"}, "unknown type 'decimal'", id="unknown-type"),
        pytest.param(2, {"source": "status."}, "cannot read the source", id="empty-key"),
        pytest.param(2, {"null_if": "status"}, "on a nullable column", id="union-on-a-required-column"),
        pytest.param(4, {"null_if": "nothing"}, "no column of the same object", id="union-without-its-key"),
        pytest.param(2, {"source": "id.meeting_id"}, "the source of two columns", id="one-source-twice"),
        pytest.param(2, {"source": "id"}, "both a value and an object", id="value-and-object"),
    ],
)
def test_a_schema_file_that_cannot_work_is_refused_naming_it(
    tmp_path: Path, field: int, change: dict[str, Any], message: str
) -> None:
    doc = json.loads(RECORDING_SCHEMA.read_text())
    doc["fields"][field] |= change
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        Converter(load_schema(path))
    assert str(info.value).startswith(str(path)) and message in str(info.value)


# --------------------------------------------------------------------- meetings against the oracle
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_ZONE = st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "UTC"])


@st.composite
def _instant(draw: Any) -> str:
    """An RFC 3339 start or end as Attio renders it: milliseconds, an offset (with seconds before ~1890)."""
    local = draw(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30)))
    local = local.replace(microsecond=local.microsecond // 1000 * 1000)
    offset = draw(
        st.one_of(
            st.just(0),
            st.integers(-14 * 3600, 14 * 3600).map(lambda s: s // 60 * 60),
            st.integers(-14 * 3600, 14 * 3600),
        )
    )
    text = local.isoformat(timespec="milliseconds")
    if offset == 0 and draw(st.booleans()):
        return text + "Z"
    sign, rest = ("-" if offset < 0 else "+"), abs(offset)
    suffix = f"{sign}{rest // 3600:02d}:{rest % 3600 // 60:02d}" + (f":{rest % 60:02d}" if rest % 60 else "")
    return text + suffix


@st.composite
def _meeting(draw: Any, n: int) -> dict[str, Any]:
    all_day = draw(st.booleans())
    if all_day:
        first = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 1)))
        start: dict[str, Any] = {"date": first.isoformat()}
        end: dict[str, Any] = {"date": (first + timedelta(days=draw(st.integers(1, 20)))).isoformat()}
    else:
        zone = draw(st.one_of(st.none(), _ZONE))
        start, end = {"datetime": draw(_instant())}, {"datetime": draw(_instant())}
        for moment in (start, end):
            if draw(st.booleans()):  # Attio sends the key; a missing one reads as null
                moment["timezone"] = zone
    created = draw(st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2261, 12, 31)))
    person = st.fixed_dictionaries(
        {"email_address": st.one_of(st.none(), st.emails()), "is_organizer": st.booleans(),
         "status": st.sampled_from(["accepted", "tentative", "declined", "pending"])},
        optional={"name": st.one_of(st.none(), _TEXT)},
    )  # fmt: skip
    link = st.fixed_dictionaries({"object_slug": _TEXT, "object_id": _TEXT, "record_id": _TEXT})
    return {
        "id": {"workspace_id": "w", "meeting_id": f"m-{n}"},
        "title": draw(_TEXT),
        "description": draw(_TEXT),
        "is_all_day": all_day,
        "start": start,
        "end": end,
        "participants": draw(st.lists(person, max_size=3)),
        "linked_records": draw(st.lists(link, max_size=2)),
        "created_at": created.replace(microsecond=0).isoformat()
        + f".{draw(st.integers(0, 999_999_999)):09d}Z",
        "created_by_actor": draw(
            st.one_of(st.none(), st.just({}), st.fixed_dictionaries({"type": _TEXT, "id": _TEXT}))
        ),
    }


@st.composite
def _page(draw: Any) -> list[dict[str, Any]]:
    return [draw(_meeting(i)) for i in range(draw(st.integers(1, 6)))]


def _far(n: int, start: str, end: str, **start_extra: Any) -> dict[str, Any]:
    return {
        "id": {"workspace_id": "w", "meeting_id": f"far-{n}"}, "title": "t", "description": "", "is_all_day": False,
        "start": {"datetime": start, **start_extra}, "end": {"datetime": end, "timezone": "Europe/Berlin"},
        "participants": [], "linked_records": [], "created_at": "2026-12-01T00:00:00.000000001Z", "created_by_actor": None,
    }  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_page())
@example([  # the cases the property is for, whatever hypothesis draws: far years, offsets with seconds, no timezone key
    _far(1, "1600-03-01T09:00:00.000+00:53:28", "1600-03-01T10:00:00.000+00:53:28", timezone="Europe/Berlin"),
    _far(2, "2500-03-01T09:00:00.000Z", "9999-12-31T23:59:59.999Z"),
    _far(3, "0001-01-01T00:00:00.000+00:00", "1677-09-21T00:12:43.145-00:00", timezone=None),
])  # fmt: skip
def test_meetings_convert_as_the_independent_oracle_says(page: list[dict[str, Any]]) -> None:
    batch = MeetingConverter().convert(page)
    got = rows_of(pa.Table.from_batches([batch]))
    assert got == {m["id"]["meeting_id"]: expected_row(m) for m in page}
    body = orjson.dumps({"data": page, "pagination": {"next_cursor": None}})
    arrow_read = fastpath._read(body)  # Arrow's JSON reader into the same converter, not orjson's fallback
    assert arrow_read.batch is not None and arrow_read.batch.equals(batch)
    decoded = decode_page(body)
    assert isinstance(decoded, FastPage) and decoded.batch is not None and decoded.batch.equals(batch)
