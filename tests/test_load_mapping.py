"""Mapping files: every value is checked for its TOML type, and a mistake is one line naming the file and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.errors import ConfigError
from connector.load import load_mapping
from connector.load.rows import Prepared, Rejected, RowMapper

BOOLEAN = "must be true or false (a TOML boolean, without quotes)"

# A mapping file's text and the message (after "<file>: ") that refuses it.
BAD_VALUES = [
    # Booleans written as strings would count as true: day and month swap, timed meetings become all-day.
    pytest.param(
        '[formats]\nday_first = "no"\n',
        f"[formats] day_first {BOOLEAN}, got a string 'no'",
        id="day_first-no",
    ),
    pytest.param(
        '[formats]\nday_first = "false"\n',
        f"[formats] day_first {BOOLEAN}, got a string 'false'",
        id="day_first-false-text",
    ),
    pytest.param(
        "[formats]\nday_first = 0\n", f"[formats] day_first {BOOLEAN}, got an integer 0", id="day_first-0"
    ),
    pytest.param(
        '[defaults]\nis_all_day = "no"\n',
        f"[defaults] is_all_day {BOOLEAN}, got a string 'no'",
        id="is_all_day-no",
    ),
    pytest.param(
        "[defaults]\nis_all_day = 1\n",
        f"[defaults] is_all_day {BOOLEAN}, got an integer 1",
        id="is_all_day-1",
    ),
    # Values of the wrong type.
    pytest.param(
        "[source]\nencoding = 5\n", "[source] encoding must be the name of a text encoding", id="encoding-5"
    ),
    pytest.param(
        '[source]\nencoding = "no-such-codec"\n',
        "[source] encoding must be the name of a text encoding, e.g. 'utf-8', 'cp1252' or 'latin-1', got a string 'no-such-codec'",
        id="unknown-codec",
    ),
    # Codecs Python knows that are no text encodings (or cannot decode with the reader's error handlers)
    # ended in "internal error" (exit 70) once the file was read.
    *(
        pytest.param(
            f'[source]\nencoding = "{codec}"\n',
            f"[source] encoding must be the name of a text encoding, e.g. 'utf-8', 'cp1252' or 'latin-1', got a string '{codec}'",
            id=f"codec-{codec}",
        )
        for codec in ("rot13", "base64", "hex", "zlib", "idna", "punycode", "undefined")
    ),
    pytest.param(
        "[source]\ndelimiter = 5\n",
        "[source] delimiter must be one character other than a quote or line break",
        id="delimiter-5",
    ),
    pytest.param(
        '[source]\ndelimiter = "ab"\n',
        "[source] delimiter must be one character other than a quote or line break, e.g. ';' or '\\t', got a string 'ab'",
        id="delimiter-ab",
    ),
    pytest.param(
        '[source]\ndelimiter = "\\""\n',
        "[source] delimiter must be one character other than a quote",
        id="delimiter-quote",
    ),
    pytest.param(
        "[source]\nsheet = 1\n",
        "[source] sheet must be the name of a worksheet, got an integer 1",
        id="sheet-1",
    ),
    pytest.param(
        "[defaults]\ntitle = 5\n",
        "[defaults] title must be text without control characters, 1 to 1000 characters, got an integer 5",
        id="title-5",
    ),
    pytest.param('[defaults]\ntitle = " "\n', "[defaults] title must be text", id="title-blank"),
    pytest.param(
        '[defaults]\ntitle = "a\\u0000b"\n',
        "[defaults] title must be text without control characters",
        id="title-nul",
    ),
    pytest.param(
        '[defaults]\ndescription = ["a"]\n', "[defaults] description must be text", id="description-array"
    ),
    pytest.param(
        '[defaults]\nduration_minutes = "30"\n',
        "[defaults] duration_minutes must be a positive number of minutes, got a string '30'",
        id="duration-text",
    ),
    pytest.param(
        "[defaults]\nduration_minutes = true\n",
        "[defaults] duration_minutes must be a positive number of minutes, got a boolean",
        id="duration-bool",
    ),
    pytest.param(
        "[defaults]\nduration_minutes = nan\n",
        "[defaults] duration_minutes must be a positive number of minutes, got a float nan",
        id="duration-nan",
    ),
    pytest.param(
        "[defaults]\nduration_minutes = inf\n",
        "[defaults] duration_minutes must be a positive number of minutes, got a float inf",
        id="duration-inf",
    ),
    pytest.param(
        "[defaults]\nduration_minutes = 1e300\n",
        "[defaults] duration_minutes must be a positive number of minutes",
        id="duration-1e300",
    ),
    pytest.param(
        '[defaults]\ntimezone = "America"\n',
        "[defaults] timezone must be an IANA timezone name such as 'Europe/London', got a string 'America'",
        id="timezone-folder",
    ),
    pytest.param(
        '[defaults]\ntimezone = "posixrules"\n',
        "[defaults] timezone must be an IANA timezone name",
        id="timezone-posixrules",
    ),
    pytest.param(
        "[defaults]\nprovider = 5\n",
        "[defaults] provider must be google or microsoft, got an integer 5",
        id="provider-5",
    ),
    pytest.param(
        "[columns]\ntitle = 5\n",
        "[columns] title must be a column name or a list of column names, got an integer 5",
        id="column-5",
    ),
    pytest.param(
        '[columns]\nparticipants = [{ column = "A", status = 5 }]\n',
        "[columns] participants status of 'A' must be one of accepted",
        id="status-5",
    ),
    pytest.param(
        "[external_ref]\nprefix = 5\n",
        "[external_ref] prefix must be text without control characters, got an integer 5",
        id="prefix-5",
    ),
    pytest.param(
        "[formats]\nall_day_end = true\n",
        "[formats] all_day_end must be 'exclusive' or 'inclusive', got a boolean",
        id="all_day_end-bool",
    ),
    pytest.param(
        "[formats]\ndatetime = 5\n",
        "[formats] datetime must be a strptime format or a list of them, got an integer",
        id="datetime-5",
    ),
    # The document's shape.
    pytest.param(
        'source = "x"\n',
        "source must be a table, got a string (write it as a [source] table)",
        id="top-level-source",
    ),
    pytest.param(
        'title = "Subject"\n[columns]\n',
        "unknown section(s) title; use columns, defaults, external_ref, formats, source (a key above the first [table] is a top-level key",
        id="top-level-key",
    ),
    pytest.param(
        '[[columns]]\ntitle = "Subject"\n',
        "columns must be a table, got an array of tables (write [columns] once)",
        id="array-of-tables",
    ),
    pytest.param(
        '[defaults]\n[defaults.timezone]\nname = "UTC"\n',
        "[defaults] timezone must be an IANA timezone name such as 'Europe/London', got a table",
        id="nested-table",
    ),
    pytest.param(
        "[source]\nencodng = 'utf-8'\n",
        "[source] has unknown key(s) encodng; use encoding, delimiter, sheet",
        id="unknown-key",
    ),
]


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "mapping.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "message"), BAD_VALUES)
def test_a_value_of_the_wrong_type_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert str(info.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            b'[columns]\ntitle = "Sub\xe9ject"\n',
            "is not UTF-8 text: line 2 has the byte 0xe9; save the file as UTF-8",
            id="cp1252",
        ),
        pytest.param(
            b"\xff\xfe[\x00c\x00",
            "is not UTF-8 text: line 1 has the byte 0xff; save the file as UTF-8",
            id="utf-16",
        ),
        pytest.param(
            b"[columns]\ntitle = \n",
            "is not valid TOML: Invalid value (at line 2, column 9)",
            id="missing-value",
        ),
        pytest.param(
            b"[columns\n",
            "is not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)",
            id="unclosed-table",
        ),
        pytest.param(
            b'[columns]\ntitle = "a"\ntitle = "b"\n',
            "is not valid TOML: Cannot overwrite a value (at line 3, column 12)",
            id="duplicate-key",
        ),
    ],
)
def test_unreadable_mapping_files_name_the_file_and_line(tmp_path: Path, text: bytes, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    assert str(info.value) == f"mapping file {path} {message}"


def test_a_utf8_mapping_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeff[columns]\ntitle = "Betreff"\n'.encode())
    assert load_mapping(path).columns["title"] == ("Betreff",)


def test_a_directory_as_mapping_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"mapping file {re.escape(str(tmp_path))} cannot be read"):
        load_mapping(tmp_path)


@pytest.mark.parametrize(
    ("defaults", "formats", "start", "expected"),
    [
        pytest.param(
            "is_all_day = false", "", "2027-03-04 09:00", {"datetime": "2027-03-04T09:00:00Z"}, id="timed"
        ),
        pytest.param("is_all_day = true", "", "2027-03-04 09:00", {"date": "2027-03-04"}, id="all-day"),
        pytest.param(
            "",
            "day_first = false",
            "03/04/2027 09:00",
            {"datetime": "2027-03-04T09:00:00Z"},
            id="month-first",
        ),
        pytest.param(
            "", "day_first = true", "03/04/2027 09:00", {"datetime": "2027-04-03T09:00:00Z"}, id="day-first"
        ),
    ],
)
def test_real_booleans_mean_what_they_say(
    tmp_path: Path, defaults: str, formats: str, start: str, expected: dict
) -> None:
    path = write(tmp_path, f"[defaults]\nduration_minutes = 30\n{defaults}\n[formats]\n{formats}\n")
    mapper = RowMapper(load_mapping(path), ["external_ref", "title", "start", "participants"], "in.csv")
    result = mapper.map_row(2, ["r-1", "Sync", start, "ana@acme.com"])
    assert isinstance(result, Prepared), result
    assert result.body["start"] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[formats]\nday_first = "no"\n', "[formats] day_first must be true or false", id="day_first-no"
        ),
        pytest.param(
            '[defaults]\nis_all_day = "no"\n',
            "[defaults] is_all_day must be true or false",
            id="is_all_day-no",
        ),
        pytest.param(
            "[source]\nencoding = 5\n",
            "[source] encoding must be the name of a text encoding",
            id="encoding-5",
        ),
        pytest.param(
            "[[columns]]\n", "columns must be a table, got an array of tables", id="array-of-tables"
        ),
        pytest.param(b"[columns]\ntitle = '\xe9'\n", "is not UTF-8 text: line 2", id="not-utf8"),
    ],
)
def test_the_cli_refuses_a_bad_mapping_with_exit_2_before_reading_a_row(
    tmp_path: Path, capsys: Any, text: str | bytes, message: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "external_ref,title,start,end,participants\nr-1,Sync,2027-03-04T09:00Z,2027-03-04T10:00Z,a@acme.com\n"
    )
    mapping = write(tmp_path, text)
    assert main(["load", str(source), "--mapping", str(mapping), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and str(mapping) in err and message in err
    assert "Traceback" not in err and "internal error" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "mapping.toml"]  # nothing written


def test_an_unknown_boolean_cell_rejects_its_row_and_the_others_load(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\nduration_minutes = 30\n")
    mapper = RowMapper(
        load_mapping(path), ["external_ref", "title", "start", "participants", "is_all_day"], "in.csv"
    )
    good = mapper.map_row(2, ["r-1", "Sync", "2027-03-04 09:00", "ana@acme.com", "no"])
    bad = mapper.map_row(3, ["r-2", "Sync", "2027-03-04 09:00", "ana@acme.com", "nein"])
    assert isinstance(good, Prepared) and good.body["is_all_day"] is False
    assert isinstance(bad, Rejected) and (bad.error.column, bad.error.reason) == (
        "is_all_day",
        "'nein' is not true/false (use true/false, yes/no or 1/0)",
    )
