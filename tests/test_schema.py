"""The meeting schema file and what connector.schema builds from it."""

from __future__ import annotations

import json

import pyarrow as pa

from connector import models
from connector.schema import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    input_limits,
    meeting_arrow_schema,
    participant_statuses,
    schema_fields,
    schema_markdown,
)

COLUMNS = [
    "meeting_id", "workspace_id", "title", "description", "is_all_day",
    "start_datetime", "start_date", "start_timezone", "end_datetime", "end_date", "end_timezone",
    "participants", "linked_records", "created_at", "created_by_actor_type", "created_by_actor_id",
]


def test_columns_are_the_issue_s_columns_in_order() -> None:
    assert meeting_arrow_schema().names == COLUMNS


def test_times_are_typed_never_strings() -> None:
    schema = meeting_arrow_schema()
    # Attio's precision: ms for start and end (any year fits), ns for created_at
    for name in ("start_datetime", "end_datetime"):
        assert schema.field(name).type == pa.timestamp("ms", tz="UTC"), name
    assert schema.field("created_at").type == pa.timestamp("ns", tz="UTC")
    for name in ("start_date", "end_date"):
        assert schema.field(name).type == pa.date32(), name
    assert schema.field("is_all_day").type == pa.bool_()


def test_nested_lists_of_structs() -> None:
    schema = meeting_arrow_schema()
    participant = schema.field("participants").type.value_type
    linked = schema.field("linked_records").type.value_type
    assert [f.name for f in participant] == ["email_address", "name", "is_organizer", "status"]
    assert participant.field("is_organizer").type == pa.bool_()
    assert [f.name for f in linked] == ["object_slug", "object_id", "record_id"]


def test_nullability_follows_the_contract() -> None:
    schema = meeting_arrow_schema()
    required = {"meeting_id", "workspace_id", "title", "description", "is_all_day", "participants", "linked_records", "created_at"}
    for field in schema:
        assert field.nullable == (field.name not in required), field.name


def test_fields_carry_description_and_source() -> None:
    for field in meeting_arrow_schema():
        assert field.metadata[b"description"], field.name
        assert field.metadata[b"source"], field.name
    assert meeting_arrow_schema().field("meeting_id").metadata[b"source"] == b"id.meeting_id"


def test_version_is_the_file_s_and_in_schema_metadata() -> None:
    doc = json.loads(SCHEMA_PATH.read_text())
    assert SCHEMA_VERSION == doc["version"]
    assert meeting_arrow_schema().metadata[b"connector.schema_version"] == SCHEMA_VERSION.encode()


def test_input_section_agrees_with_the_models() -> None:
    assert input_limits() == {k: v for k, v in models.LIMITS.items() if k != "page_size"}
    assert participant_statuses() == models.PARTICIPANT_STATUSES


def test_markdown_documents_every_column() -> None:
    text = schema_markdown()
    for field in schema_fields():
        assert f"`{field['name']}`" in text
    assert "timestamp[ns, tz=UTC]" in text and "timestamp[ms, tz=UTC]" in text
