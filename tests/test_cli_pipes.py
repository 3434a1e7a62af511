"""A reader of stdout that goes away (``| head``) ends every printing command with exit 141 and no traceback.

The pipe's read end is closed before the command starts, so its first write to stdout fails: the same
as ``| head`` having read its lines, without a race.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from load_helpers import meeting_rows, posts, write_rows

from connector.cli.common import EXIT_BROKEN_PIPE

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana>Hello\n"


def _run_into_closed_pipe(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "connector", *args],
            stdout=write, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write)
    return proc.returncode, proc.stderr


def _commands(emulator: Any, tmp_path: Path) -> dict[str, list[str]]:
    meeting = emulator.emulator.store.all_meetings()[0]["id"]["meeting_id"]
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    (tmp_path / f"{meeting}.vtt").write_text(VTT, encoding="utf-8")
    (tmp_path / "rec.toml").write_text(
        "[meeting]\nfilename_pattern = '(?P<meeting_id>[0-9a-f-]{36})'\n", encoding="utf-8"
    )
    client = ["--base-url", emulator.url, "--read-rate", "0", "-q"]
    return {
        "get": ["get", meeting, *client],
        "extract": ["extract", "--output", str(tmp_path / "m.parquet"), *client],
        "extract-json": ["extract", "--output", str(tmp_path / "m.csv"), "--json", *client],
        "load-dry-run": ["load", str(source), "--dry-run", *client],
        "load-recordings-dry-run": [
            "load-recordings",
            str(tmp_path / f"{meeting}.vtt"),
            "--mapping",
            str(tmp_path / "rec.toml"),
            "--dry-run",
            *client,
        ],
    }


@pytest.mark.parametrize(
    "command", ["get", "extract", "extract-json", "load-dry-run", "load-recordings-dry-run"]
)
def test_a_closed_stdout_is_exit_141_without_a_traceback(emulator: Any, tmp_path: Path, command: str) -> None:
    args = _commands(emulator, tmp_path)[command]
    env = {**os.environ, "ATTIO_API_KEY": emulator.token}
    code, err = _run_into_closed_pipe(args, env, tmp_path)
    assert code == EXIT_BROKEN_PIPE == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err and "internal error" not in err, err
    assert posts(emulator) == 0  # the dry runs sent nothing
