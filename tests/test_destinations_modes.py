"""Write modes through the real CLI into DuckDB files and a real PostgreSQL server, checked against Parquet.

The oracle is the Parquet extract of the same emulator (timestamps cut to microseconds, as both databases
keep them). A meeting "deleted in Attio" is one that an emulator has and a second emulator, seeded the same
but without that meeting, has not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from destination_helpers import (
    WINDOW,
    create_meeting,
    duckdb_rows,
    extract_parquet,
    pg_query,
    pg_rows,
    starts_in_window,
)

from connector.cli import main


@dataclass
class Dest:
    kind: str
    url: str
    read: Callable[[str], dict[str, dict[str, Any]]]
    query: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["duckdb", "postgres"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> Dest:
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"

        def query(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(path), read_only=True) as con:
                return con.execute(sql).fetchall()

        return Dest("duckdb", f"duckdb:///{path}", lambda table: duckdb_rows(path, table), query)
    url = request.getfixturevalue("pg_url")
    return Dest("postgres", url, lambda table: pg_rows(url, table), lambda sql: pg_query(url, sql))


def run(emu: Any, dest: Dest, *flags: str) -> int:
    return main(["extract", "--base-url", emu.url, "--read-rate", "0", "-q", "--output", dest.url, *flags])


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "emulator-token")


def test_replace_holds_exactly_the_extract_and_running_it_twice_leaves_the_same_table(
    dest: Dest, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = extract_parquet(emulator, tmp_path / "m.parquet")
    assert run(emulator, dest, "--table", "attio.meetings") == 0
    assert "table attio.meetings" in capsys.readouterr().out
    assert dest.read("attio.meetings") == expected
    assert run(emulator, dest, "--table", "attio.meetings", "--write-mode", "replace") == 0
    assert dest.read("attio.meetings") == expected


def test_types_are_what_a_database_user_expects(dest: Dest, emulator: Any) -> None:
    assert run(emulator, dest) == 0
    types = dict(
        dest.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'meetings'"
        )
    )
    assert types["start_datetime"].lower() == types["created_at"].lower() == "timestamp with time zone"
    assert types["start_date"].lower() == "date" and types["is_all_day"].lower() == "boolean"
    if dest.kind == "duckdb":
        assert types["participants"].replace('"', "") == (
            "STRUCT(email_address VARCHAR, name VARCHAR, is_organizer BOOLEAN, status VARCHAR)[]"
        )
        comment = dest.query("SELECT comment FROM duckdb_tables() WHERE table_name = 'meetings'")[0][0]
    else:
        assert types["participants"] == types["linked_records"] == "jsonb"
        comment = dest.query("SELECT obj_description('meetings'::regclass, 'pg_class')")[0][0]
    assert comment.startswith("attio-connector meeting schema ")


def test_meetings_per_participant_query_of_the_readme(dest: Dest, emulator: Any, tmp_path: Path) -> None:
    expected_rows = extract_parquet(emulator, tmp_path / "m.parquet")
    expected = Counter(
        p["email_address"] for r in expected_rows.values() for p in r["participants"] if p["email_address"]
    )
    assert run(emulator, dest) == 0
    if dest.kind == "duckdb":
        sql = """SELECT p.email_address, count(*) AS meetings
                 FROM meetings, unnest(participants) AS u(p)
                 WHERE p.email_address IS NOT NULL GROUP BY 1"""
    else:
        sql = """SELECT p->>'email_address' AS email_address, count(*) AS meetings
                 FROM meetings, jsonb_array_elements(participants) AS p
                 WHERE p->>'email_address' IS NOT NULL GROUP BY 1"""
    assert dict(dest.query(sql)) == dict(expected)


def test_append_adds_and_merge_upserts_by_meeting_id(dest: Dest, make_emulator: Any, tmp_path: Path) -> None:
    first, second = make_emulator(seed=0), make_emulator(seed=1, meetings=100)
    a = extract_parquet(first, tmp_path / "a.parquet")
    b = extract_parquet(second, tmp_path / "b.parquet")
    assert run(first, dest, "--write-mode", "append") == 0
    assert run(first, dest, "--write-mode", "append") == 0
    assert dest.query("SELECT count(*), count(DISTINCT meeting_id) FROM meetings")[0] == (600, 300)
    assert run(second, dest, "--write-mode", "merge") == 0
    assert dest.query("SELECT count(*), count(DISTINCT meeting_id) FROM meetings")[0] == (700, 400)
    for _ in range(2):  # merge replaces every copy of a meeting by the extracted row; twice is the same
        assert run(first, dest, "--write-mode", "merge") == 0
        assert dest.read("meetings") == a | b


def test_replace_window_removes_a_meeting_deleted_in_attio_and_keeps_the_rest(
    dest: Dest, make_emulator: Any, tmp_path: Path
) -> None:
    before = make_emulator(seed=3)
    deleted = create_meeting(before, "2025-04-10T09:00:00Z", "2025-04-10T10:00:00Z")
    after = make_emulator(seed=3)  # the same data set without the created meeting: it was deleted in Attio
    old = extract_parquet(before, tmp_path / "old.parquet")
    new_window = extract_parquet(after, tmp_path / "new.parquet", *WINDOW, "--window", "start")
    assert deleted in old and deleted not in new_window
    assert new_window and all(starts_in_window(r) for r in new_window.values())
    assert run(before, dest) == 0
    assert dest.read("meetings") == old
    expected = {k: r for k, r in old.items() if not starts_in_window(r)} | new_window
    for _ in range(2):  # the daily job run twice leaves the same table
        assert run(after, dest, "--write-mode", "replace-window", *WINDOW) == 0
        assert dest.read("meetings") == expected
    assert deleted not in expected and len(expected) == len(old) - 1
