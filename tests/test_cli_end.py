"""The CLI's end (``connector.cli.end``): the process ends with ``os._exit`` once a command is done, and loses nothing.

Each test runs the real entry point in a child process (``python -m connector`` or ``connector.cli.run()``),
since the end is what happens after the command returns: outputs and results files complete, stdout and
stderr all there, exit codes as documented, ``atexit`` handlers run, a thread still at work waited for.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from load_helpers import meeting_rows, write_rows

from connector.cli.common import EXIT_API, EXIT_ROWS_FAILED


def _env(emulator: Any) -> dict[str, str]:
    return {**os.environ, "ATTIO_API_KEY": emulator.token}


def _connector(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def _script(code: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_an_extract_ends_with_its_output_and_report_whole(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    proc = _connector(
        ["extract", "--output", str(out), "--json", "--base-url", emulator.url, "--read-rate", "0", "-q"],
        _env(emulator),
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # the whole report, flushed before the end
    assert report["rows"] == pq.read_metadata(out).num_rows == len(emulator.emulator.store.all_meetings()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]  # no lock, checkpoint or parts left


def test_a_load_keeps_its_exit_code_results_and_summary(emulator: Any, tmp_path: Path) -> None:
    rows = meeting_rows(40)
    rows[7][2] = "not a time"  # one bad row: exit 1, every row in the results file
    source = write_rows(tmp_path / "in.csv", rows)
    proc = _connector(["load", str(source), "--base-url", emulator.url, "-q"], _env(emulator), tmp_path)
    assert proc.returncode == EXIT_ROWS_FAILED == 1, proc.stderr
    with open(tmp_path / "in.results.csv", newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 40
    assert "'not a time' is not a date" in proc.stdout and proc.stdout.endswith("\n")  # its summary, whole


def test_an_error_keeps_its_exit_code_and_message(emulator: Any, tmp_path: Path) -> None:
    env = {**os.environ, "ATTIO_API_KEY": "not-the-token"}
    proc = _connector(["extract", "--output", "m.parquet", "--base-url", emulator.url, "-q"], env, tmp_path)
    assert proc.returncode == EXIT_API == 3
    assert proc.stderr.startswith("error: ") and proc.stderr.endswith("\n"), proc.stderr


def test_atexit_handlers_run_and_print_but_the_final_collections_do_not(
    emulator: Any, tmp_path: Path
) -> None:
    """The fast end is taken (the interpreter's final collections do not run: a cycle made by an ``atexit`` handler
    is never collected), yet what registered with ``atexit`` runs, and what it prints is flushed."""
    proc = _script(
        f"""
        import atexit, os, sys
        from connector.cli import run

        class Noted:
            def __del__(self):
                os.write(2, b"collected at the end")

        def cycle():
            noted = Noted()
            noted.me = noted

        atexit.register(cycle)
        atexit.register(lambda: print("atexit ran", end=""))  # stdout: a pipe, block-buffered
        sys.argv = ["connector", "extract", "--output", "m.parquet", "--base-url", {emulator.url!r}, "--read-rate", "0", "-q"]
        run()
        """,
        _env(emulator),
        tmp_path,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.endswith("atexit ran")
    assert "collected at the end" not in err


def test_a_thread_still_at_work_is_waited_for(tmp_path: Path) -> None:
    """A non-daemon thread still running is waited for, as the interpreter's end does, and what it prints is kept."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys, threading
            from connector.cli import end

            def work():
                sys.stdin.read()  # until the test closes our stdin, which it does once "ending" is read
                print("thread finished", end="")

            threading.Thread(target=work).start()
            print("ending", flush=True)
            end(5)
            """
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    assert proc.stdout.readline() == "ending\n"
    proc.stdin.close()
    assert proc.wait(timeout=60) == 5, proc.stderr.read()
    assert proc.stdout.read() == "thread finished"
