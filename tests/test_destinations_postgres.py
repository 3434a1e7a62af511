"""PostgreSQL output: refusals with their exit codes, secrets, and a run killed (SIGKILL) or cut off mid-load.

A real server (``pg_server``) on loopback; the CLI in-process or, where it must die, as a child process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from destination_helpers import pg_execute, pg_query
from pg_server import PASSWORD, PostgresServer, free_port

from connector.cli import main

EMU = ["--emulator", "--emulator-meetings", "300", "-q"]


def run(url: str, *flags: str) -> int:
    return main(["extract", *EMU, "--output", url, *flags])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert PASSWORD not in captured.err + captured.out
    assert lines[0].count("changed") == 1, lines[0]  # "nothing was changed" once: not again in the hint
    return lines[0]


def with_password(url: str, password: str) -> str:
    return url.replace("postgres@", f"postgres:{password}@", 1)


def test_password_in_the_url_is_used_and_never_printed(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PGPASSWORD")
    assert run(with_password(pg_url, PASSWORD), "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out[captured.out.index("{") :])
    assert PASSWORD not in captured.out + captured.err
    assert report["output"].startswith("postgresql://postgres:***@") and report["rows"] == 300
    assert pg_query(
        pg_url.replace("postgres@", f"postgres:{PASSWORD}@"), "SELECT count(*) FROM meetings"
    ) == [(300,)]


def test_pgpass_file_supplies_the_password(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:*:*:postgres:{PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert run(pg_url) == 0
    assert PASSWORD not in capsys.readouterr().out


@pytest.mark.parametrize("where", ["url", "env"])
def test_wrong_password_is_exit_7_and_names_no_password(
    where: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "not-the-password-42"
    if where == "url":
        url = with_password(pg_url, wrong)
    else:
        url = pg_url
        monkeypatch.setenv("PGPASSWORD", wrong)
    assert run(url) == 7
    line = one_line(capsys)
    assert "refused the login" in line and "password authentication failed" in line and wrong not in line


def test_a_database_that_does_not_exist_is_exit_7(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pg_url.rsplit("/", 1)[0] + "/no_such_db") == 7
    assert 'database "no_such_db" does not exist; nothing was changed' in one_line(capsys)


def test_server_unreachable_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/db") == 4
    line = one_line(capsys)
    assert "Connection refused" in line or "connect" in line


def test_no_permission_is_exit_7_naming_the_privilege(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = with_password(pg_url, PASSWORD)
    pg_execute(owner, "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
    reader = pg_url.replace("postgres@", "reader@", 1)
    monkeypatch.setenv("PGPASSWORD", "reader-pw")
    assert run(reader) == 7  # no CREATE on schema public (PostgreSQL 15's default)
    assert "user reader has no permission: it needs CREATE on the schema" in one_line(capsys)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert run(pg_url) == 0
    pg_execute(owner, "GRANT SELECT, INSERT ON meetings TO reader")
    monkeypatch.setenv("PGPASSWORD", "reader-pw")
    assert run(reader, "--write-mode", "merge") == 7
    assert "it needs DELETE on table meetings" in one_line(capsys)
    assert run(reader, "--write-mode", "append") == 0  # INSERT is all append needs
    assert pg_query(owner, "SELECT count(*) FROM meetings") == [(600,)]


def test_incompatible_table_is_refused_naming_the_columns_and_left_alone(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    owner = with_password(pg_url, PASSWORD)
    pg_execute(
        owner,
        "CREATE TABLE meetings (meeting_id text, title integer, extra text)",
        "INSERT INTO meetings VALUES ('x', 1, 'y')",
    )
    assert run(pg_url) == 7
    line = one_line(capsys)
    assert "incompatible schema" in line and "title is integer, expected text" in line
    assert "start_datetime is missing" in line and "extra is not a meeting column" in line
    assert pg_query(owner, "SELECT * FROM meetings") == [("x", 1, "y")]


def _child(url: str, *flags: str) -> subprocess.Popen[str]:
    env = os.environ | {"PGPASSWORD": PASSWORD}
    return subprocess.Popen(
        [sys.executable, "-m", "connector", "extract", *EMU, "--output", url, *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_blocked(owner: str, proc: subprocess.Popen[str]) -> int:
    """The connector's backend pid once it waits on the test's row lock (polled, with a deadline)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = pg_query(
            owner,
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'attio-connector' AND wait_event_type = 'Lock'",
        )
        if rows:
            return int(rows[0][0])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the extract never reached the locked row")


def _snapshot(owner: str) -> list[tuple[Any, ...]]:
    return pg_query(owner, "SELECT meeting_id, title, start_datetime FROM meetings ORDER BY meeting_id")


@pytest.mark.parametrize("how", ["sigkill", "server-ends-session"])
def test_a_run_killed_mid_load_leaves_the_table_as_it_was(
    how: str, pg_url: str, postgres: PostgresServer
) -> None:
    """Merge in batches of 50: the last meeting's batch waits on a row the test holds; then the run dies."""
    import adbc_driver_postgresql.dbapi as dbapi

    owner = with_password(pg_url, PASSWORD)
    assert run(pg_url) == 0
    pg_execute(owner, "UPDATE meetings SET title = 'before'")
    before = _snapshot(owner)
    last = pg_query(
        owner, "SELECT meeting_id FROM meetings ORDER BY coalesce(start_datetime, start_date) DESC LIMIT 1"
    )[0][0]
    with dbapi.connect(owner) as holder, holder.cursor() as cur:
        cur.execute(f"SELECT 1 FROM meetings WHERE meeting_id = '{last}' FOR UPDATE")  # held until rollback
        proc = _child(pg_url, "--write-mode", "merge", "--batch-size", "50", "--slices", "1")
        backend = _wait_blocked(owner, proc)
        copied = pg_query(owner, "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'meetings'")
        if how == "sigkill":
            proc.kill()
        else:
            pg_query(owner, f"SELECT pg_terminate_backend({backend})")
        _, err = proc.communicate(timeout=60)
        holder.rollback()
    if how == "sigkill":
        assert proc.returncode == -signal.SIGKILL
    else:  # the server went away mid-load: one line, exit 4, nothing committed
        assert proc.returncode == 4, err
        assert err.strip().count("\n") == 0 and "table meetings" in err and PASSWORD not in err
    assert copied and _snapshot(owner) == before
    deadline = time.monotonic() + 60  # the killed client's session ends once the server notices
    while pg_query(
        owner, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'attio-connector'"
    ) != [(0,)]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert pg_query(owner, "SELECT count(*) FROM pg_class WHERE relname LIKE '_connector%'") == [(0,)]
    assert run(pg_url, "--write-mode", "merge") == 0  # and the same command then completes
    assert pg_query(owner, "SELECT count(*), count(*) FILTER (WHERE title = 'before') FROM meetings") == [
        (300, 0)
    ]
