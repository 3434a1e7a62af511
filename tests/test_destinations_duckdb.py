"""DuckDB output through the real CLI: usage errors (exit 2), refusals (exit 7), a file in use, a missing extra,
and a run killed with SIGKILL mid-load leaving the table as it was."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from destination_helpers import duckdb_rows
from extract_helpers import kill_when

from connector import ClientConfig, ConfigError, ExtractConfig, InvalidArgumentError, MeetingQuery, RateLimits
from connector.cli import main
from connector.destinations import database_sink, extract_to_database, redact

EMU = ["--emulator", "--emulator-meetings", "300", "-q"]


def run(*flags: str) -> int:
    return main(["extract", *EMU, *flags])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--write-mode", "replace-window"], "needs a window: give --ends-from and/or --starts-before"),
        (
            ["--write-mode", "replace-window", "--ends-from", "2025-01-01", "--window", "overlap"],
            "needs --window start",
        ),
        (["--table", "Meetings"], "error: --table 'Meetings' has upper-case letters"),
        (["--table", "a.b.c"], "error: --table 'a.b.c' has 2 dots: give TABLE or SCHEMA.TABLE"),
        (["--table", "crm.1x"], "error: --table 'crm.1x': its table '1x' starts with '1'"),
        (["--resume"], "--resume is for file outputs"),
        (["--format", "csv"], "--format is for file outputs"),
        (["--partition-by", "start_month"], "--partition-by is for file and object-store outputs"),
    ],
)
def test_bad_flags_are_one_line_exit_2_and_create_nothing(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--output", f"duckdb:///{tmp_path / 'w.duckdb'}", *flags) == 2
    line = one_line(capsys)
    assert message in line and "invalid table" not in line
    assert list(tmp_path.iterdir()) == []


def test_unknown_write_mode_is_refused_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run("--output", f"duckdb:///{tmp_path / 'w.duckdb'}", "--write-mode", "upsert")
    assert info.value.code == 2
    assert "argument --write-mode: invalid choice: 'upsert'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("mysql://db/x", "unknown URL scheme mysql://"),
        ("duckdb://", "a duckdb URL needs a file"),
        ("postgresql://u:secret-pw@127.0.0.1:1", "names no database"),
    ],
)
def test_bad_urls_are_exit_2(output: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--output", output) == 2
    line = one_line(capsys)
    assert message in line and "secret-pw" not in line


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///attio.duckdb", "attio.duckdb"),  # SQLAlchemy's (and dlt's) relative form, as the issue writes it
        ("duckdb:///data/attio.duckdb", "data/attio.duckdb"),
        ("duckdb:////data/attio.duckdb", "/data/attio.duckdb"),
        ("duckdb://attio.duckdb", "attio.duckdb"),
    ],
)
def test_duckdb_urls_follow_sqlalchemy_paths(url: str, path: str) -> None:
    from connector.destinations.urls import parse_database_url

    parsed = parse_database_url(url)
    assert parsed is not None and parsed.path == path


def test_a_relative_duckdb_url_writes_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("--output", "duckdb:///here.duckdb") == 0
    assert duckdb_rows(tmp_path / "here.duckdb", "meetings")


def test_an_unknown_output_scheme_lists_every_supported_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--output", "mysql://u@db/x") == 2
    line = one_line(capsys)
    assert "--output mysql://u@db/x: unknown URL scheme mysql://" in line
    for scheme in ("s3", "gs", "az", "duckdb", "postgresql"):
        assert f" {scheme}://" in line, scheme
    assert "a local path" in line


def test_an_unknown_input_scheme_lists_only_stores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text("")
    assert main(["load", "mysql://db/m.csv", "--mapping", str(mapping), "--emulator"]) == 2
    line = one_line(capsys)
    assert (
        "INPUT mysql://db/m.csv: unknown URL scheme mysql:// (hint: use a local path or one of s3://" in line
    )
    assert "duckdb://" not in line and "postgresql://" not in line


def test_database_flags_on_a_file_output_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--output", str(tmp_path / "m.parquet"), "--write-mode", "merge") == 2
    assert "--write-mode is for database outputs" in one_line(capsys)


def test_incompatible_table_is_exit_7_naming_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE meetings (meeting_id VARCHAR, start_datetime TIMESTAMP)")
        con.execute("INSERT INTO meetings VALUES ('kept', NULL)")
    assert run("--output", f"duckdb:///{path}", "--write-mode", "append") == 7
    line = one_line(capsys)
    assert (
        "start_datetime is TIMESTAMP, expected TIMESTAMP WITH TIME ZONE" in line
        and "title is missing" in line
    )
    assert line.count("changed") == 1, line  # said once, not again by the hint
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT * FROM meetings").fetchall() == [("kept", None)]


@pytest.mark.parametrize("content", [b"Event ID,Subject\nCAL-1,Renewal\n", b"not a database"])
def test_a_file_that_is_not_a_duckdb_database_is_refused_and_kept(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "meetings_export.csv"
    path.write_bytes(content)
    assert run("--output", f"duckdb:///{path}") == 7
    line = one_line(capsys)
    assert f"{path} is not a DuckDB database" in line and "nothing was changed" in line, line
    assert path.read_bytes() == content
    assert sorted(tmp_path.iterdir()) == [path]


def test_an_existing_table_with_its_columns_in_another_order_is_written_by_name(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    assert run("--output", f"duckdb:///{path}") == 0
    with duckdb.connect(str(path)) as con:
        names = [row[0] for row in con.execute("DESCRIBE meetings").fetchall()]
        shuffled = ", ".join(f'"{name}"' for name in reversed(names))
        con.execute(f"CREATE TABLE reordered AS SELECT {shuffled} FROM meetings WHERE false")
    assert run("--output", f"duckdb:///{path}", "--table", "reordered", "--write-mode", "merge") == 0
    assert duckdb_rows(path, "reordered") == duckdb_rows(path) and len(duckdb_rows(path)) == 300


def _holder(path: Path) -> subprocess.Popen[str]:
    """Another process with the DuckDB file open (it says 'open', then waits for its stdin to close)."""
    code = "import duckdb,sys; c=duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    return proc


def test_a_file_in_use_by_another_process_is_exit_7(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.duckdb"
    assert run("--output", f"duckdb:///{path}") == 0
    capsys.readouterr()
    holder = _holder(path)
    try:
        assert run("--output", f"duckdb:///{path}") == 7
        line = one_line(capsys)
        assert "in use by another process" in line and line.count("changed") == 1, line
    finally:
        holder.communicate("")


def test_missing_extra_is_exit_2_naming_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['duckdb'] = None\n"  # as if the extra were not installed
        "from connector.cli import main\n"
        f"sys.exit(main(['extract', '--emulator', '-q', '--output', 'duckdb:///{tmp_path}/w.duckdb']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'connector[duckdb]'" in proc.stderr and proc.stderr.count("\n") == 1


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path) for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_sigkill_mid_load_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    path = (tmp_path / "w.duckdb").resolve()
    assert run("--output", f"duckdb:///{path}", "--table", "attio.meetings") == 0
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE attio.meetings SET title = 'before'")
        before = con.execute("SELECT * FROM attio.meetings ORDER BY meeting_id").fetchall()
    # Slow reads (4 requests/s, 20 meetings a page): the replace runs for seconds with the file open.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "extract",
            "--emulator",
            "--emulator-meetings",
            "300",
            "--output",
            f"duckdb:///{path}",
            "--table",
            "attio.meetings",
            "--page-size",
            "20",
            "--read-rate",
            "4",
            "--slices",
            "1",
            "--batch-size",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # The emulator starts after the destination was checked (a connection opened and closed): from then on,
    # the file open in the child is the run's transaction.
    assert "using the built-in Attio emulator" in proc.stderr.readline()
    kill_when(proc, lambda: _has_open(proc.pid, path))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT * FROM attio.meetings ORDER BY meeting_id").fetchall() == before


def test_library_extract_to_database_and_its_refusals(emulator: Any, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    client = ClientConfig(token=emulator.token, base_url=emulator.url, limits=RateLimits(reads_per_second=0))
    report = extract_to_database(url, table="crm.meetings", client_config=client)
    assert (
        report.rows == 300
        and report.output == f"{url} table crm.meetings"
        and report.output_format == "duckdb"
    )
    window = ExtractConfig(query=MeetingQuery(ends_from="2025-03-01", starts_before="2025-06-01"))
    with pytest.raises(ConfigError, match="needs window='start'"):
        extract_to_database(url, write_mode="replace-window", config=window, client_config=client)
    with pytest.raises(ConfigError, match="takes no checkpoint"):
        extract_to_database(url, config=ExtractConfig(checkpoint=tmp_path / "cp.json"), client_config=client)
    with pytest.raises(InvalidArgumentError, match="write_mode"):
        extract_to_database(url, write_mode="upsert", client_config=client)
    report = extract_to_database(
        url,
        table="crm.meetings",
        write_mode="replace-window",
        config=dataclasses.replace(window, window="start"),
        client_config=client,
    )
    assert 0 < report.rows < 300
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM crm.meetings").fetchone() == (300,)


def test_a_password_in_a_url_stays_out_of_reprs_and_targets() -> None:
    sink = database_sink(
        "postgresql://etl:hunter2-secret@db.internal:5432/analytics?sslmode=require", "attio.meetings"
    )
    assert sink is not None
    shown = repr(sink) + sink.target + repr(sink.url)
    assert "hunter2-secret" not in shown and "postgresql://etl:***@db.internal:5432/analytics" in shown
    assert "hunter2" not in redact("postgresql://etl@db/x?password=hunter2&sslmode=require")
