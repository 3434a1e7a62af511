"""``CONNECTOR_EMULATOR_PROFILE``: the command-line emulator profiles its CPU time for benchmarks."""

from __future__ import annotations

import json
import os
import pstats
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_profiled_emulator_writes_its_profile_when_terminated(tmp_path) -> None:
    out = tmp_path / "emulator.prof"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTIO_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "--port", "0", "--meetings", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env | {"CONNECTOR_EMULATOR_PROFILE": str(out)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, f"the emulator did not start: {line!r}"
        req = urllib.request.Request(
            found.group(1) + "/v2/meetings?limit=20", headers={"Authorization": "Bearer emulator-token"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert len(json.loads(resp.read())["data"]) == 20
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stats = pstats.Stats(str(out))
    served = [fn for (_, _, fn) in stats.stats if fn == "_list"]  # type: ignore[attr-defined]
    assert served == ["_list"], "the list handler is missing from the profile"
