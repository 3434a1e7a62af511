"""Rows -> find-or-create bodies: default columns, the mapping file, and every kind of bad row."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from connector import validate_meeting_body
from connector.errors import ConfigError, shown
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
        ({"participants": "ana@acme", "organizer": ""}, "participants",
         "'ana@acme' is not an email address: the domain 'acme' has no dot (e.g. example.com)"),
        ({"participants": "", "organizer": ""}, "participants", "no participants: give at least one email address"),
        ({"participants": ";".join(f"p{i}@acme.com" for i in range(500))}, "participants",
         "501 participants; Attio allows 500"),
        ({"organizer": "olga@acme.com; ana@acme.com"}, "organizer", "'olga@acme.com; ana@acme.com' is not one email address"),
        ({"participant_status": "maybe"}, "participant_status",
         "'maybe' is not a participant status (accepted, tentative, declined, pending)"),
        ({"is_all_day": "sometimes"}, "is_all_day", "'sometimes' is not true/false (use true/false, yes/no or 1/0)"),
        ({"is_all_day": "false", "start": "2027-11-27", "end": ""}, "start",
         "'2027-11-27' has no time of day but the meeting is not all-day"),
        ({"linked_records": "companies:1234"}, "linked_records", "record_id '1234' (of 'companies') is not a UUID"),
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


def test_ledger_tells_duplicate_from_conflict(tmp_path: Path) -> None:
    first = map_one(GOOD)
    same = map_one(GOOD | {"participants": "bob@example.org; ana@acme.com"})
    other = map_one(GOOD | {"title": "Another meeting"})
    assert isinstance(first, Prepared) and isinstance(same, Prepared) and isinstance(other, Prepared)
    ledger = Ledger(tmp_path / "ledger.sqlite", fingerprints=False)
    try:
        items = [dataclasses.replace(p, row_number=n) for n, p in ((2, first), (3, same), (4, other))]
        claims = ledger.claim(items, "run-1")
    finally:
        ledger.close()
    assert [c.action for c in claims] == ["send", "duplicate", "conflict"]
    assert claims[1].first_row == 2
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
        ({"defaults": {"timezone": "Mars/Olympus"}}, "timezone must be an IANA timezone name .* 'Mars/Olympus'"),
        ({"defaults": {"participant_status": "maybe"}}, "participant_status must be one of .* 'maybe'"),
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


# ------------------------------------------------------------------------------ what a cell may hold


def rejection(values: dict, mapping: Mapping | None = None) -> tuple[str | None, str]:
    result = map_one(values, mapping)
    assert isinstance(result, Rejected), result
    return result.error.column, result.error.reason


@pytest.mark.parametrize(("cell", "all_day"), [
    pytest.param("no", False, id="no"), pytest.param("0", False, id="zero"), pytest.param("FALSE", False, id="FALSE"),
    pytest.param("off", False, id="off"), pytest.param("yes", True, id="yes"), pytest.param("1", True, id="one"),
    pytest.param("x", True, id="x"), pytest.param("All Day", True, id="all-day"),
])
def test_boolean_cells_mean_what_they_say(cell: str, all_day: bool) -> None:
    result = map_one(GOOD | {"is_all_day": cell, "start": "2027-11-27T00:00:00", "end": "2027-11-28T00:00:00"})
    assert isinstance(result, Prepared), result
    assert result.body["is_all_day"] is all_day


@pytest.mark.parametrize("cell", ["nein", "maybe", "2", "ja", "-1", "0.5"])
def test_unknown_boolean_words_reject_the_row(cell: str) -> None:
    assert rejection(GOOD | {"is_all_day": cell}) == (
        "is_all_day", f"{cell!r} is not true/false (use true/false, yes/no or 1/0)",
    )


BAD_EMAILS = [
    pytest.param("['a@example.com", "has '[' before the @", id="list-repr-fragment"),
    pytest.param("(a@example.com)", "has '(' before the @", id="parentheses"),
    pytest.param("mailto:a@example.com", "has ':' before the @", id="mailto"),
    pytest.param("a@example.com>", "the domain 'example.com>' has '>'", id="stray-bracket"),
    pytest.param('"a"@b', "has '\"' before the @", id="quoted-local-part"),
    pytest.param("a@localhost", "the domain 'localhost' has no dot", id="no-dot"),
    pytest.param("a..b@example.com", "has a dot first, last or doubled before the @", id="double-dot"),
    pytest.param("a@example.c", "does not end in a top-level domain", id="one-letter-tld"),
    pytest.param("a@exa_mple.com", "has '_', which a host name cannot hold", id="underscore-domain"),
    pytest.param("a@@example.com", "has more than one @", id="two-ats"),
    pytest.param("x" * 65 + "@example.com", "has 65 characters before the @; at most 64", id="local-part-65"),
    pytest.param("x" * 5_000_000 + "@example.com", "is 5000012 characters long; an email address has at most 254", id="5MB"),
]


@pytest.mark.parametrize(("email", "problem"), BAD_EMAILS)
@pytest.mark.parametrize("column", ["participants", "organizer"])
def test_bad_addresses_reject_the_row_naming_the_column(column: str, email: str, problem: str) -> None:
    values = GOOD | {"organizer": "", "participants": "ana@acme.com"} | {column: email}
    got_column, reason = rejection(values)
    assert got_column == column
    assert problem in reason
    assert len(reason) < 300  # a 5 MB cell is not copied into the results file
    if column == "participants":
        assert reason.startswith(f"{shown(email)} is not an email address: ")


@pytest.mark.parametrize("email", ["ana@acme.com", "o'brien@example.co.uk", "a+tag@sub.example.org", "A.B@xn--bcher-kva.de"])
def test_good_addresses_pass(email: str) -> None:
    assert isinstance(map_one(GOOD | {"participants": email}), Prepared)


@pytest.mark.parametrize(
    ("cell", "emails"),
    [
        pytest.param(["ana@acme.com", "Bob <bob@example.org>"], ["ana@acme.com", "bob@example.org"], id="list"),
        pytest.param(np.array(["ana@acme.com"], dtype=object), ["ana@acme.com"], id="numpy-array"),
        pytest.param([{"email_address": "ana@acme.com", "status": "declined"}], ["ana@acme.com"], id="extract-struct"),
    ],
)
def test_a_list_cell_of_participants_gives_one_participant_per_element(cell: object, emails: list[str]) -> None:
    result = map_one(GOOD | {"participants": cell, "organizer": ""})
    assert isinstance(result, Prepared), result
    assert [p["email_address"] for p in result.body["participants"]] == emails


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        pytest.param({"participants": ["ana@acme.com", "not-an-email"]}, "participants",
                     "'not-an-email' is not an email address: has no @", id="bad-element"),
        pytest.param({"participants": ["ana@acme.com; bo@acme.com"]}, "participants",
                     "'ana@acme.com; bo@acme.com' is not an email address: has more than one @", id="separator-in-element"),
        pytest.param({"organizer": ["olga@acme.com", "ana@acme.com"]}, "organizer",
                     "\"['olga@acme.com', 'ana@acme.com']\" is not one email address", id="two-organizers"),
        pytest.param({"title": ["Kick-off", "Review"]}, "title", "holds a list of 2 values; title takes one value",
                     id="list-in-title"),
        pytest.param({"start": ["2027-11-27T14:00:00"]}, "start", "holds a list of 1 values; start takes one value",
                     id="list-in-start"),
        pytest.param({"external_ref": {"id": 5}}, "external_ref", "holds a structure of 1 fields; external_ref takes one value",
                     id="struct-in-ref"),
        pytest.param({"linked_records": ["companies:1234"]}, "linked_records",
                     "record_id '1234' (of 'companies') is not a UUID", id="bad-link-element"),
    ],
)
def test_list_cells_where_they_do_not_belong_or_with_bad_elements(change: dict, column: str, reason: str) -> None:
    assert rejection(GOOD | change) == (column, reason)


def test_a_list_cell_of_linked_records() -> None:
    links = [f"companies:{UUID}", {"object_slug": "deals", "object_id": "x", "record_id": UUID.upper()}]
    result = map_one(GOOD | {"linked_records": links})
    assert isinstance(result, Prepared), result
    assert result.body["linked_records"] == [{"object": "companies", "record_id": UUID}, {"object": "deals", "record_id": UUID}]


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        pytest.param({"start": "9999-12-31T23:00-05:00", "end": "9999-12-31T23:30-05:00"}, "start",
                     "'9999-12-31T23:00-05:00' is outside the years 0001-9999 once converted to UTC", id="after-9999"),
        pytest.param({"start": "0001-01-01T00:00+01:00", "end": "0001-01-01T01:00+01:00"}, "start",
                     "'0001-01-01T00:00+01:00' is outside the years 0001-9999 once converted to UTC", id="before-0001"),
        pytest.param({"start": "0001-01-01T00:05:00", "end": "0001-01-01T01:00:00", "timezone": "Europe/Paris"}, "start",
                     "'0001-01-01T00:05:00' is outside the years 0001-9999 once converted to UTC", id="local-before-0001"),
        pytest.param({"start": "9999-12-31T18:00-05:00", "end": "9999-12-31T23:30-05:00"}, "end",
                     "'9999-12-31T23:30-05:00' is outside the years 0001-9999 once converted to UTC", id="end-after-9999"),
        pytest.param({"start": "9999-12-31T20:00:00Z", "end": "9999-12-31T21:00:00Z", "timezone": "Asia/Tokyo"}, "start",
                     "'9999-12-31T20:00:00Z' is outside the years 0001-9999 once converted to Asia/Tokyo",
                     id="after-9999-in-its-zone"),
        pytest.param({"start": "9999-12-31", "end": ""}, "start",
                     "an all-day meeting on 9999-12-31 would end on the day after, past the last date there is",
                     id="all-day-on-the-last-date"),
    ],
)
def test_times_outside_the_representable_range_reject_the_row(change: dict, column: str, reason: str) -> None:
    assert rejection(GOOD | change) == (column, reason)


DURATION = {"columns": {"duration": "duration"}}


@pytest.mark.parametrize(
    ("start", "minutes", "reason"),
    [
        pytest.param("2027-11-27T14:00:00", "1e12", "'2027-11-27T14:00:00' plus 1e+12 minutes ends after the year 9999",
                     id="1e12"),
        pytest.param("2027-11-27T14:00:00", "1e300", "'1e300' minutes is longer than any calendar can hold", id="1e300"),
        pytest.param("2027-11-27T14:00:00", "99999999999:00", "'99999999999:00' minutes is longer than any calendar can hold",
                     id="huge-h-mm"),
        pytest.param("2027-11-27T14:00:00", "inf", "'inf' is not a duration in minutes (e.g. 45 or 1:30)", id="inf"),
        pytest.param("2027-11-27T14:00:00", "nan", "'nan' is not a duration in minutes (e.g. 45 or 1:30)", id="nan"),
        pytest.param("9999-12-31T23:00:00Z", "120", "'9999-12-31T23:00:00Z' plus 120 minutes ends after the year 9999",
                     id="past-the-last-day"),
        pytest.param("9999-12-31T18:00:00-05:00", "120",
                     "'9999-12-31T18:00:00-05:00' plus 120 minutes is outside the years 0001-9999 once converted to UTC",
                     id="past-the-last-day-in-utc"),
    ],
)
def test_durations_past_the_representable_range_reject_the_row(start: str, minutes: str, reason: str) -> None:
    values = GOOD | {"start": start, "end": "", "duration": minutes}
    assert rejection(values, mapping_from_dict(DURATION)) == ("duration", reason)


def test_a_default_duration_past_the_range_rejects_the_row_not_the_load() -> None:
    mapping = mapping_from_dict({"defaults": {"duration_minutes": 1e12}})
    assert rejection(GOOD | {"end": ""}, mapping) == (
        "end", "'2027-11-27T14:00:00' plus 1e+12 minutes ends after the year 9999",
    )


CONTROL = [
    pytest.param("title", "Kick\x00off", "a NUL character (U+0000) at character 5", id="nul-in-title"),
    pytest.param("description", "Agenda\x07", "a control character (U+0007) at character 7", id="bell-in-description"),
    pytest.param("external_ref", "ref\x00-1", "a NUL character (U+0000) at character 4", id="nul-in-ref"),
    pytest.param("participants", "ana@acme.com\x00", "a NUL character (U+0000) at character 13", id="nul-in-email"),
    pytest.param("timezone", "Europe/Paris\x00", "a NUL character (U+0000) at character 13", id="nul-in-timezone"),
    pytest.param("start", "2027-11-27T14:00:00\x1b", "a control character (U+001B) at character 20", id="escape-in-start"),
    pytest.param("title", "Kick\x7foff", "a control character (U+007F) at character 5", id="delete-in-title"),
]


@pytest.mark.parametrize(("column", "value", "what"), CONTROL)
def test_control_characters_reject_the_row_naming_the_column(column: str, value: str, what: str) -> None:
    assert rejection(GOOD | {column: value}) == (column, f"contains {what}; remove it from the cell")


def test_a_control_character_in_a_list_element_rejects_the_row() -> None:
    assert rejection(GOOD | {"participants": ["ana@acme.com", "bo@acme.com\x00"]}) == (
        "participants", "contains a NUL character (U+0000) at character 12; remove it from the cell",
    )


def test_tabs_and_line_breaks_are_kept_in_a_description() -> None:
    result = map_one(GOOD | {"description": "Agenda:\n\t1. intro\r\n\t2. plan"})
    assert isinstance(result, Prepared)
    assert result.body["description"] == "Agenda:\n\t1. intro\r\n\t2. plan"


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        pytest.param({"start": "2027-03-14 02:30", "end": "2027-03-14 03:30", "timezone": "America/New_York"}, "start",
                     "02:30 on 2027-03-14 does not exist in America/New_York (clocks skip forward)", id="new-york-start"),
        pytest.param({"start": "2027-03-14 01:30", "end": "2027-03-14 02:45", "timezone": "America/New_York"}, "end",
                     "02:45 on 2027-03-14 does not exist in America/New_York (clocks skip forward)", id="new-york-end"),
        pytest.param({"start": "2027-03-28 02:15:30", "end": "2027-03-28 04:00", "timezone": "Europe/Berlin"}, "start",
                     "02:15:30 on 2027-03-28 does not exist in Europe/Berlin (clocks skip forward)", id="berlin-seconds"),
        pytest.param({"start": "2027-10-03 02:00", "end": "2027-10-03 04:00", "timezone": "Australia/Sydney"}, "start",
                     "02:00 on 2027-10-03 does not exist in Australia/Sydney (clocks skip forward)", id="sydney"),
    ],
)
def test_a_local_time_in_a_spring_gap_has_its_own_reason(change: dict, column: str, reason: str) -> None:
    assert rejection(GOOD | change) == (column, reason)


@pytest.mark.parametrize(
    ("start", "tz", "sent"),
    [
        pytest.param("2027-11-07 01:30", "America/New_York", "2027-11-07T01:30:00-04:00", id="new-york"),
        pytest.param("2027-10-31 02:30", "Europe/Berlin", "2027-10-31T02:30:00+02:00", id="berlin"),
    ],
)
def test_an_ambiguous_autumn_time_takes_its_first_occurrence(start: str, tz: str, sent: str) -> None:
    result = map_one(GOOD | {"start": start, "end": "", "timezone": tz}, mapping_from_dict({"defaults": {"duration_minutes": 30}}))
    assert isinstance(result, Prepared), result
    assert result.body["start"] == {"datetime": sent, "timezone": tz}


@pytest.mark.parametrize(
    ("start", "tz", "sent"),
    [
        pytest.param("1850-06-01 10:00", "Europe/Prague", "1850-06-01T09:02:16Z", id="prague-lmt"),
        pytest.param("1880-01-01 12:00", "America/New_York", "1880-01-01T16:56:02Z", id="new-york-lmt"),
        pytest.param("1950-06-01 10:00", "Europe/Prague", "1950-06-01T10:00:00+01:00", id="whole-minutes-kept"),
    ],
)
def test_an_offset_with_seconds_is_sent_as_the_same_instant_in_utc(start: str, tz: str, sent: str) -> None:
    result = map_one(GOOD | {"start": start, "end": "", "timezone": tz}, mapping_from_dict({"defaults": {"duration_minutes": 30}}))
    assert isinstance(result, Prepared), result
    assert result.body["start"] == {"datetime": sent, "timezone": tz}
    validate_meeting_body(result.body)  # RFC 3339, as the client checks it


@pytest.mark.parametrize(
    "tz", ["America", "Europe", "posixrules", "Factory", "right/UTC", "posix/Europe/Paris", "localtime", "../etc/passwd",
           "/usr/share/zoneinfo/UTC", "a" * 300],
    ids=lambda v: v[:20],
)
def test_names_that_are_no_timezone_reject_the_row(tz: str) -> None:
    column, reason = rejection(GOOD | {"timezone": tz})
    assert column == "timezone"
    assert reason == f"{shown(tz)} is not a known IANA timezone name (Attio would silently use UTC)"
