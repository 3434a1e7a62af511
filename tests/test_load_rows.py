"""Rows -> find-or-create bodies: default columns, the mapping file, and every kind of bad row."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.load import mapping_from_dict
from connector.load.ledger import Ledger
from connector.load.mapping import Mapping, load_mapping
from connector.load.rows import Prepared, Rejected, RowMapper, differing_fields, field_fingerprints

HEADERS = ["external_ref", "title", "description", "start", "end", "timezone", "is_all_day", "participants",
           "organizer", "participant_status", "linked_records"]
GOOD = {
    "external_ref": "ref-1",
    "title": "Kick-off",
    "description": "Agenda",
    "start": "2027-11-27T14:00:00",
    "end": "2027-11-27T15:00:00",
    "timezone": "America/New_York",
    "is_all_day": "",
    "participants": "ana@acme.com; Bob <bob@example.org>",
    "organizer": "olga@acme.com",
    "participant_status": "",
    "linked_records": "companies:5E3B1B4A-0C7E-4A3E-9B1F-2D6F1C9A7E10",
}
UUID = "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"


def map_one(values: dict, mapping: Mapping | None = None, headers: list[str] | None = None):
    headers = headers or list(values)
    mapper = RowMapper(mapping or Mapping(), headers, "in.csv")
    return mapper.map_row(2, [values.get(h, "") for h in headers])


def test_default_columns_make_a_full_body() -> None:
    result = map_one(GOOD)
    assert isinstance(result, Prepared)
    assert result.key == "ref-1"
    assert result.body == {
        "title": "Kick-off",
        "description": "Agenda",
        "start": {"datetime": "2027-11-27T14:00:00-05:00", "timezone": "America/New_York"},
        "end": {"datetime": "2027-11-27T15:00:00-05:00", "timezone": "America/New_York"},
        "is_all_day": False,
        "participants": [
            {"is_organizer": True, "status": "accepted", "email_address": "olga@acme.com"},
            {"is_organizer": False, "status": "accepted", "email_address": "ana@acme.com"},
            {"is_organizer": False, "status": "accepted", "email_address": "bob@example.org"},
        ],
        "linked_records": [{"object": "companies", "record_id": UUID}],
        "external_ref": "ref-1",
    }


def test_headers_match_case_insensitively_and_organizer_is_not_repeated() -> None:
    values = {k.upper(): v for k, v in GOOD.items()} | {"PARTICIPANTS": "olga@acme.com, ana@acme.com"}
    result = map_one(values)
    assert isinstance(result, Prepared)
    assert [p["email_address"] for p in result.body["participants"]] == ["olga@acme.com", "ana@acme.com"]
    assert result.body["participants"][0]["is_organizer"] is True


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"title": ""}, "title", "title is required"),
        ({"title": "x" * 1001}, "title", "title is 1001 characters; Attio allows 1000"),
        ({"description": "d" * 10001}, "description", "description is 10001 characters; Attio allows 10000"),
        ({"external_ref": ""}, "external_ref", "external_ref is required (or derive one: [external_ref] columns in the mapping)"),
        ({"start": ""}, "start", "start is required"),
        ({"start": "next tuesday"}, "start",
         "'next tuesday' is not a date or datetime (use ISO 8601, e.g. 2027-11-27T14:00:00+01:00)"),
        ({"end": "2027-11-27T13:00:00"}, "end", "end must be after start"),
        ({"end": "2027-11-27T14:00:00"}, "end", "end must be after start"),
        ({"end": ""}, "end", "end is required (or map a duration column, or set [defaults] duration_minutes)"),
        ({"timezone": "Mars/Olympus"}, "timezone",
         "'Mars/Olympus' is not a known IANA timezone name (Attio would silently use UTC)"),
        ({"participants": "ana@acme", "organizer": ""}, "participants", "'ana@acme' is not an email address"),
        ({"participants": "", "organizer": ""}, "participants", "no participants: give at least one email address"),
        ({"participants": ";".join(f"p{i}@acme.com" for i in range(500))}, "participants",
         "501 participants; Attio allows 500"),
        ({"organizer": "olga@acme.com; ana@acme.com"}, "organizer", "'olga@acme.com; ana@acme.com' is not one email address"),
        ({"participant_status": "maybe"}, "participant_status",
         "'maybe' is not a participant status (accepted, tentative, declined, pending)"),
        ({"is_all_day": "sometimes"}, "is_all_day", "'sometimes' is not true/false (use true/false, yes/no or 1/0)"),
        ({"is_all_day": "false", "start": "2027-11-27", "end": ""}, "start",
         "'2027-11-27' has no time of day but the meeting is not all-day"),
        ({"linked_records": "companies:1234"}, "linked_records", "record_id '1234' (of companies) is not a UUID"),
        ({"linked_records": "companies"}, "linked_records",
         "'companies' is not object:record_id (e.g. companies:5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10)"),
        ({"linked_records": ";".join(f"companies:{UUID}" for _ in range(51))}, "linked_records",
         "51 linked records; Attio allows 50"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_bad_rows_are_rejected_with_column_and_reason(change: dict, column: str, reason: str) -> None:
    result = map_one(GOOD | change)
    assert isinstance(result, Rejected)
    assert (result.row_number, result.error.column, result.error.reason) == (2, column, reason)
    assert str(result.error) == f"file in.csv, row 2, column {column!r}: {reason}"


def test_a_row_with_more_cells_than_the_header_is_rejected() -> None:
    mapper = RowMapper(Mapping(), list(GOOD), "in.csv")
    result = mapper.map_row(7, [*GOOD.values(), "stray"])
    assert isinstance(result, Rejected)
    assert result.error.reason == "has 12 cells but the header has 11 (a delimiter inside an unquoted cell?)"


def test_missing_required_columns_fail_before_any_row() -> None:
    with pytest.raises(ConfigError, match="no column for title, participants; the file has: external_ref, start"):
        RowMapper(Mapping(), ["external_ref", "start"], "in.csv")


def test_a_mapped_column_missing_from_the_file_is_named() -> None:
    mapping = mapping_from_dict({"columns": {"title": "Subject"}})
    with pytest.raises(ConfigError, match="column 'Subject' \\(for title\\) is not in the file"):
        RowMapper(mapping, HEADERS, "in.csv")


MAPPING = {
    "columns": {
        "title": "Subject",
        "start": ["Day", "From"],
        "duration": "Minutes",
        "organizer": "Host",
        "participants": ["Guests", {"column": "Maybe", "status": "tentative"}],
    },
    "defaults": {"timezone": "Europe/Berlin", "duration_minutes": 30},
    "external_ref": {"columns": ["Subject", "Day", "Host"], "prefix": "sheet-"},
    "formats": {"day_first": True},
}
SHEET = ["Subject", "Day", "From", "Minutes", "Host", "Guests", "Maybe", "Notes"]


def sheet_row(**values: str) -> list[str]:
    base = {"Subject": "Review", "Day": "03/04/2027", "From": "09:30", "Minutes": "45", "Host": "hh@acme.com",
            "Guests": "g1@acme.com", "Maybe": "g2@acme.com", "Notes": "x"}
    return [(base | values)[h] for h in SHEET]


def test_mapping_renames_joins_columns_applies_default_timezone_duration_and_status() -> None:
    mapper = RowMapper(mapping_from_dict(MAPPING), SHEET, "sheet.csv")
    result = mapper.map_row(2, sheet_row())
    assert isinstance(result, Prepared), result
    body = result.body
    assert body["start"] == {"datetime": "2027-04-03T09:30:00+02:00", "timezone": "Europe/Berlin"}
    assert body["end"] == {"datetime": "2027-04-03T10:15:00+02:00", "timezone": "Europe/Berlin"}
    assert [(p["email_address"], p["status"], p["is_organizer"]) for p in body["participants"]] == [
        ("hh@acme.com", "accepted", True), ("g1@acme.com", "accepted", False), ("g2@acme.com", "tentative", False),
    ]
    # No Minutes: the default duration.
    short = mapper.map_row(3, sheet_row(Minutes=""))
    assert isinstance(short, Prepared)
    assert short.body["end"]["datetime"] == "2027-04-03T10:00:00+02:00"


def test_hashed_external_ref_is_stable_and_depends_only_on_the_key_columns() -> None:
    mapper = RowMapper(mapping_from_dict(MAPPING), SHEET, "sheet.csv")
    first = mapper.map_row(2, sheet_row())
    again = RowMapper(mapping_from_dict(MAPPING), SHEET, "sheet.csv").map_row(9, sheet_row(Notes="changed", Minutes="60"))
    other = mapper.map_row(2, sheet_row(Day="04/04/2027"))
    assert isinstance(first, Prepared) and isinstance(again, Prepared) and isinstance(other, Prepared)
    # The documented recipe: sha256 of the key cells joined by U+001F, first 32 hex digits, after the prefix.
    expected = "sheet-" + hashlib.sha256(b"Review\x1f03/04/2027\x1fhh@acme.com").hexdigest()[:32]
    assert first.key == again.key == expected
    assert other.key != first.key


def test_all_day_from_a_date_only_column() -> None:
    mapping = mapping_from_dict({"columns": {"date": "Day", "title": "Subject", "external_ref": "Id",
                                             "participants": "Who"}})
    mapper = RowMapper(mapping, ["Id", "Subject", "Day", "Who"], "days.csv")
    result = mapper.map_row(2, ["d-1", "Offsite", "2027-06-03", "a@acme.com"])
    assert isinstance(result, Prepared)
    assert (result.body["is_all_day"], result.body["start"], result.body["end"]) == (
        True, {"date": "2027-06-03"}, {"date": "2027-06-04"},
    )


@pytest.mark.parametrize(
    ("start", "end", "expected_end"),
    [("2027-06-03", "", "2027-06-04"), ("2027-06-03", "2027-06-03", "2027-06-04"), ("2027-06-03", "2027-06-05", "2027-06-05")],
)
def test_date_only_start_makes_an_all_day_meeting(start: str, end: str, expected_end: str) -> None:
    result = map_one(GOOD | {"start": start, "end": end})
    assert isinstance(result, Prepared)
    assert result.body["is_all_day"] is True
    assert result.body["end"] == {"date": expected_end}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-11-27T14:00:00Z", "2027-11-27T14:00:00Z"),
        ("2027-11-27T14:00:00+01:00", "2027-11-27T14:00:00+01:00"),
        ("2027-11-27 14:00", "2027-11-27T14:00:00-05:00"),
        ("11/27/2027 2:00 PM", "2027-11-27T14:00:00-05:00"),
        ("27.11.2027 14:00", "2027-11-27T14:00:00-05:00"),
        ("Nov 27, 2027 2:00 PM", "2027-11-27T14:00:00-05:00"),
    ],
)
def test_common_datetime_formats(text: str, expected: str) -> None:
    result = map_one(GOOD | {"start": text, "end": "", "is_all_day": "no"},
                     mapping=mapping_from_dict({"defaults": {"duration_minutes": 60}}))
    assert isinstance(result, Prepared), result
    assert result.body["start"]["datetime"] == expected


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2027-06-17 9:00", False, "2027-06-17T09:00:00-04:00"),
        ("2027-06-17 9:00:30", False, "2027-06-17T09:00:30-04:00"),
        ("2027-06-17T9:00+02:00", False, "2027-06-17T09:00:00+02:00"),
        ("2027-6-7 9:00", False, "2027-06-07T09:00:00-04:00"),
        ("2027-06-17 9:00 PM", False, "2027-06-17T21:00:00-04:00"),
        ("6/17/2027 9:05 AM", False, "2027-06-17T09:05:00-04:00"),
        ("6/17/2027 9:05am", False, "2027-06-17T09:05:00-04:00"),
        ("6/7/2027 9:05", False, "2027-06-07T09:05:00-04:00"),
        ("6/7/27 9:05 PM", False, "2027-06-07T21:05:00-04:00"),
        ("7/6/2027 9:05", True, "2027-06-07T09:05:00-04:00"),
        ("17.06.2027 9:00", True, "2027-06-17T09:00:00-04:00"),
        ("17.6.2027 9:00", False, "2027-06-17T09:00:00-04:00"),
        ("2027/6/17 9:00", False, "2027-06-17T09:00:00-04:00"),
    ],
)
def test_single_digit_hours_months_and_days(text: str, day_first: bool, expected: str) -> None:
    mapping = mapping_from_dict({"defaults": {"duration_minutes": 60}, "formats": {"day_first": day_first}})
    result = map_one(GOOD | {"start": text, "end": "", "is_all_day": "no"}, mapping=mapping)
    assert isinstance(result, Prepared), result
    assert result.body["start"]["datetime"] == expected


def test_single_digit_date_only_is_all_day() -> None:
    result = map_one(GOOD | {"start": "2027-6-7", "end": ""})
    assert isinstance(result, Prepared), result
    assert (result.body["start"], result.body["end"]) == ({"date": "2027-06-07"}, {"date": "2027-06-08"})


@pytest.mark.parametrize(
    ("text", "day_first", "reason"),
    [
        ("2027-06-17 25:00", False, "'2027-06-17 25:00' is not a date or datetime"),
        ("2027-13-07 9:00", False, "'2027-13-07 9:00' is not a date or datetime"),
        ("6/17/2027 9:05 AM", True, "'6/17/2027 9:05 AM' is month-first but the mapping says day_first"),
    ],
)
def test_impossible_or_misordered_datetimes_are_still_rejected(text: str, day_first: bool, reason: str) -> None:
    mapping = mapping_from_dict({"defaults": {"duration_minutes": 60}, "formats": {"day_first": day_first}})
    result = map_one(GOOD | {"start": text, "end": "", "is_all_day": "no"}, mapping=mapping)
    assert isinstance(result, Rejected) and result.error.column == "start"
    assert result.error.reason.startswith(reason)


def test_field_fingerprints_ignore_participant_and_link_order() -> None:
    a = map_one(GOOD | {"linked_records": f"companies:{UUID}; deals:{UUID}"})
    b = map_one(GOOD | {"participants": "Bob <bob@example.org>; ana@acme.com", "linked_records": f"deals:{UUID}; companies:{UUID}"})
    c = map_one(GOOD | {"title": "Other", "end": "2027-11-27T16:00:00", "linked_records": f"companies:{UUID}; deals:{UUID}"})
    assert isinstance(a, Prepared) and isinstance(b, Prepared) and isinstance(c, Prepared)
    assert field_fingerprints(a.body) == field_fingerprints(b.body)
    assert differing_fields(field_fingerprints(a.body), field_fingerprints(c.body)) == ["title", "end"]


def test_ledger_tells_duplicate_from_conflict_and_upgrades_an_old_ledger(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a ledger written before run_fields existed
        db.execute(
            "CREATE TABLE refs (key TEXT PRIMARY KEY, state TEXT NOT NULL, maybe_sent INTEGER NOT NULL DEFAULT 1,"
            " meeting_id TEXT, row_number INTEGER, run_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " body TEXT, fingerprint TEXT, error TEXT, claimed_at REAL NOT NULL, updated_at REAL NOT NULL) WITHOUT ROWID"
        )
        db.execute("INSERT INTO refs VALUES ('ref-1', 'created', 0, 'm-1', 2, 'old', 1, NULL, NULL, NULL, 0, 0)")
    db.close()
    first = map_one(GOOD)
    same = map_one(GOOD | {"participants": "bob@example.org; ana@acme.com"})
    other = map_one(GOOD | {"title": "Another meeting"})
    assert isinstance(first, Prepared) and isinstance(same, Prepared) and isinstance(other, Prepared)
    ledger = Ledger(path, keep_bodies=False)
    try:
        items = [dataclasses.replace(p, row_number=n) for n, p in ((2, first), (3, same), (4, other))]
        claims = ledger.claim(items, "run-2")
    finally:
        ledger.close()
    assert [c.action for c in claims] == ["done", "duplicate", "conflict"]
    assert (claims[1].first_row, claims[1].meeting_id) == (2, "m-1")
    assert (claims[2].first_row, claims[2].differs) == (2, ("title",))


def test_ical_external_ref_object() -> None:
    mapping = mapping_from_dict({"columns": {"ical_uid": "UID"}, "defaults": {"provider": "google"}})
    headers = [*HEADERS, "UID"]
    result = RowMapper(mapping, headers, "in.csv").map_row(2, [*GOOD.values(), "abc@google.com"])
    assert isinstance(result, Prepared)
    assert result.body["external_ref"] == {"ical_uid": "abc@google.com", "provider": "google", "is_recurring": False}
    assert result.key == 'ical:{"ical_uid":"abc@google.com","is_recurring":false,"provider":"google"}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"columns": {"titel": "Subject"}}, "\\[columns\\] 'titel' is not a meeting field"),
        ({"defaults": {"timezone": "Mars/Olympus"}}, "timezone 'Mars/Olympus' is not an IANA timezone name"),
        ({"defaults": {"participant_status": "maybe"}}, "participant status 'maybe' must be one of"),
        ({"defaults": {"duration_minutes": -5}}, "duration_minutes must be a positive number"),
        ({"source": {"delimiter": ";;"}}, "delimiter must be one character"),
        ({"colums": {}}, "unknown section\\(s\\) colums"),
    ],
)
def test_bad_mapping_files_are_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mapping_from_dict(data, origin="m.toml")


def test_sample_mapping_file_loads() -> None:
    mapping = load_mapping("sample_configs/meetings_mapping.toml")
    assert mapping.columns["title"] == ("Subject",)
    assert mapping.participants[1].status == "tentative"
    assert mapping.defaults["timezone"] == "Europe/London"
