"""The call-recording flags of ``python -m connector emulator``, through the real command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every seeded meeting (all before 2030) has recordings; a created one stays processing for a minute
FLAGS = (
    "--recording-share",
    "1",
    "--recordings-now",
    "2030-01-01T00:00:00+00:00",
    "--recording-delay-s",
    "60",
)
ENV = {k: v for k, v in os.environ.items() if not k.startswith("ATTIO_")}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=ENV,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--recording-share", "1.5"], "recording_share must be between 0 and 1", id="share-over-1"
        ),
        pytest.param(
            ["--recordings-now", "2026-12-01"],
            "recordings_now must be an RFC 3339 timestamp with an offset, got '2026-12-01'",
            id="now-without-time",
        ),
        pytest.param(
            ["--recording-write-rate", "-1"],
            "recording_write_rate must be a finite number >= 0",
            id="negative-rate",
        ),
        pytest.param(
            ["--recording-delay-s", "nan"], "recording_delay_s must be a finite number >= 0", id="nan-delay"
        ),
    ],
)
def test_bad_recording_settings_are_one_line_and_exit_2(args, message) -> None:
    result = run("--port", "0", "--meetings", "0", *args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "(hint: " in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.fixture
def served() -> Iterator[str]:
    """A CLI emulator where every meeting (all before --recordings-now) has recordings; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "--port", "0", "--meetings", "40", *FLAGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the emulator prints this once it listens
        found = re.search(r"listening on (http://\S+)", line)
        assert found, (
            f"the emulator did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        )
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer emulator-token", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def test_the_flags_reach_the_served_emulator(served) -> None:
    _, page = call(served, "GET", "/v2/meetings?limit=200")
    meetings = [m["id"]["meeting_id"] for m in page["data"]]
    assert len(meetings) == 40
    for mid in meetings:  # --recording-share 1 and a --recordings-now after every seeded meeting
        _, recs = call(served, "GET", f"/v2/meetings/{mid}/call_recordings")
        assert recs["data"], mid
    _, made = call(served, "POST", f"/v2/meetings/{meetings[0]}/call_recordings", {"data": {}})
    rid = made["data"]["id"]["call_recording_id"]
    _, got = call(served, "GET", f"/v2/meetings/{meetings[0]}/call_recordings/{rid}")
    assert got["data"]["status"] == "processing"  # --recording-delay-s 60
