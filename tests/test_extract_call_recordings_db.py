"""Several tables into DuckDB through the real CLI: a table each in one transaction (a SIGKILL leaves every
table as it was), merge by each table's key, and the refusals (replace-window, --table)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from extract_helpers import kill_when
from recording_helpers import (
    emu_fixture,  # noqa: F401 - the fixture 'emu'
    recording_rows,
    segment_rows,
    table_segment_rows,
)

from connector import ClientConfig, ConfigError, RateLimits
from connector.cli import main
from connector.destinations import extract_to_database

ALL = "meetings,call_recordings,transcript_segments"
ONE_ROUTE = "/v2/meetings/{meeting_id}/call_recordings/{call_recording_id}"


def _cli(emu: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    return main(["extract", "--base-url", emu.url, "--quiet", "--slices", "2", *args])


def _tables(path: Path, schema: str = "main") -> dict[str, pa.Table]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            t: con.sql(f"SELECT * FROM {schema}.{t} ORDER BY ALL").to_arrow_table()
            for t in ("meetings", "call_recordings", "transcript_segments")
        }


def _assert_served(tables: dict[str, pa.Table], served: list[dict[str, Any]], meetings: int) -> None:
    assert tables["meetings"].num_rows == meetings
    expected = recording_rows(served)
    for row in expected.values():  # DuckDB keeps microseconds (as documented for meetings' created_at)
        row["created_at"] //= 1000
    got = {}
    for row in tables["call_recordings"].to_pylist():
        assert row["call_recording_id"] not in got, "a recording twice"
        got[row["call_recording_id"]] = row | {"created_at": int(row["created_at"].timestamp() * 1_000_000)}
    assert got == expected
    segments = table_segment_rows(tables["transcript_segments"])
    assert max(segments.values()) == 1 and segments == segment_rows(served)


def test_three_tables_into_duckdb_then_merge_and_append(
    make_raw: Any, emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "attio.duckdb"
    url = f"duckdb:///{path}"
    assert _cli(emu, monkeypatch, "--output", url, "--tables", ALL, "--include-future-meetings") == 0
    served = make_raw(emu).all_call_recordings()
    _assert_served(_tables(path), served, 60)
    with duckdb.connect(str(path), read_only=True) as con:
        comments = dict(con.execute("SELECT table_name, comment FROM duckdb_tables()").fetchall())
    assert comments == {
        "meetings": "attio-connector meeting schema 2.0.0",
        "call_recordings": "attio-connector call_recording schema 1.0.0",
        "transcript_segments": "attio-connector transcript_segment schema 1.0.0",
    }
    # merge: by meeting_id, call_recording_id, and a recording's whole transcript: nothing doubles
    args = ("--output", url, "--tables", ALL, "--include-future-meetings")
    assert _cli(emu, monkeypatch, *args, "--write-mode", "merge") == 0
    _assert_served(_tables(path), served, 60)
    assert _cli(emu, monkeypatch, *args, "--write-mode", "append") == 0
    doubled = _tables(path)
    assert [doubled[t].num_rows for t in doubled] == [
        120,
        2 * len(served),
        2 * sum(segment_rows(served).values()),
    ]
    assert _cli(emu, monkeypatch, *args) == 0  # replace
    _assert_served(_tables(path), served, 60)


def test_a_schema_for_every_table_and_the_library_call(
    make_raw: Any, emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    assert _cli(emu, monkeypatch, "--output", f"duckdb:///{path}", "--tables", ALL, "--table", "crm.") == 0
    served = make_raw(emu).all_call_recordings()
    assert _tables(path, "crm")["call_recordings"].num_rows == len(served)
    client = ClientConfig(token=emu.token, base_url=emu.url, limits=RateLimits(reads_per_second=0))
    report = extract_to_database(f"duckdb:///{tmp_path / 'lib.duckdb'}", tables=ALL, client_config=client)
    assert report.tables["call_recordings"] == len(served) and set(report.outputs) == set(ALL.split(","))
    with pytest.raises(ConfigError, match="replace-window is for the meetings table alone"):
        extract_to_database(f"duckdb:///{path}", tables=ALL, write_mode="replace-window", client_config=client)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--write-mode", "replace-window", "--ends-from", "2025-01-01"], "replace-window is for the meetings table alone", id="replace-window"),
        pytest.param(["--table", "crm.calls"], "--table crm.calls names one table, but --tables names 3", id="one-table-name"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_exit_2_and_change_nothing(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    flags: list[str], message: str,
) -> None:  # fmt: skip
    assert (
        _cli(emulator, monkeypatch, "--output", f"duckdb:///{tmp_path / 'w.duckdb'}", "--tables", ALL, *flags)
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert list(tmp_path.iterdir()) == []


def test_sigkill_mid_run_leaves_every_table_as_it_was(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = (tmp_path / "w.duckdb").resolve()
    assert _cli(emu, monkeypatch, "--output", f"duckdb:///{path}", "--tables", ALL) == 0
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM transcript_segments WHERE segment_index > 0")
        con.execute("UPDATE call_recordings SET status = 'before'")
    before = _tables(path)
    args = [
        "extract",
        "--base-url",
        emu.url,
        "--output",
        f"duckdb:///{path}",
        "--tables",
        ALL,
        "--read-rate",
        "20",
        "--quiet",
    ]
    proc = subprocess.Popen([sys.executable, "-m", "connector", *args], env={**os.environ, "ATTIO_API_KEY": emu.token},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    start = emu.emulator.stats.count("GET", ONE_ROUTE)
    # recordings read: rows in the transaction
    kill_when(proc, lambda: emu.emulator.stats.count("GET", ONE_ROUTE) >= start + 10)
    after = _tables(path)
    assert all(after[t].equals(before[t]) for t in before)


def test_three_tables_into_postgres_merge_keeps_each_row_once(
    make_raw: Any, emu: Any, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adbc_driver_postgresql.dbapi as dbapi

    served = make_raw(emu).all_call_recordings()
    segments = sum(segment_rows(served).values())

    def counts() -> list[int]:
        with dbapi.connect(pg_url) as con, con.cursor() as cur:
            found = []
            for table in ("attio.meetings", "attio.call_recordings", "attio.transcript_segments"):
                cur.execute(f"SELECT count(*) FROM {table}")
                found.append(cur.fetchone()[0])
            cur.execute(
                "SELECT count(DISTINCT (call_recording_id, segment_index)) FROM attio.transcript_segments"
            )
            found.append(cur.fetchone()[0])
            con.commit()
        return found

    args = ("--output", pg_url, "--tables", ALL, "--table", "attio.", "--include-future-meetings")
    assert _cli(emu, monkeypatch, *args) == 0
    assert counts() == [60, len(served), segments, segments]
    assert _cli(emu, monkeypatch, *args, "--write-mode", "merge") == 0  # each table merged by its own key
    assert counts() == [60, len(served), segments, segments]
