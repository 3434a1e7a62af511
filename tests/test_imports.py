"""An extract imports only what it uses: not the loader, the database destinations' drivers, the emulator's
server or pandas (each costs start-up time in every ``python -m connector extract``), and the public names
stay importable from ``connector`` whatever was imported first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

# Never imported by an extract to a file: the loader, the emulator's server and data, pandas, the drivers.
UNUSED_BY_AN_EXTRACT = (
    "connector.load",
    "connector.emulator.app",
    "connector.emulator.store",
    "aiohttp.web",
    "pandas",
    "duckdb",
    "adbc_driver_postgresql",
)


def _modules_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after ``code`` (which may print nothing to stdout)."""
    probe = f"{code}\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(_s.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _prints_ok(code: str) -> None:
    """Run ``code`` in a fresh interpreter; it must end well, printing just "ok"."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _imported(modules: set[str], prefix: str) -> list[str]:
    return sorted(m for m in modules if m == prefix or m.startswith(prefix + "."))


def test_the_cli_extract_imports_no_loader_server_or_pandas() -> None:
    # The CLI as `python -m connector extract --help` runs it: every command's parser is built.
    code = (
        "import sys\nfrom connector.cli import main\nsys.argv = ['connector', 'extract', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nsys.stdout.flush()\nprint()"
    )
    modules = _modules_after(code)
    assert "connector.extract.run" in modules  # the probe saw the extract's own modules
    assert [m for p in UNUSED_BY_AN_EXTRACT for m in _imported(modules, p)] == []
    # Nor Arrow: the CLI's extract imports it while its first requests are out, as the library's does.
    assert [m for p in ARROW for m in _imported(modules, p)] == []


def test_the_library_extract_imports_no_loader_destinations_or_server() -> None:
    modules = _modules_after(
        "from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits\n"
        "from connector.extract import ExtractConfig, extract, sink_for_path"
    )
    assert "connector.extract.run" in modules
    unused = (*UNUSED_BY_AN_EXTRACT, "connector.destinations", "connector.emulator")
    assert [m for p in unused for m in _imported(modules, p)] == []


@pytest.mark.parametrize(
    "first",
    [
        "import connector",
        "import connector.load.recordings",
        "import connector.extract.core",
        "import connector.cli",
    ],
    ids=["package", "loader-first", "extract-first", "cli-first"],
)
def test_extract_and_load_are_the_functions_whatever_was_imported_first(first: str) -> None:
    code = (
        f"{first}\nimport inspect, connector\nfrom connector import extract, load\n"
        "import importlib\n"
        "core, api = importlib.import_module('connector.extract.core'), importlib.import_module('connector.load.api')\n"
        "assert extract is connector.extract is core.extract, connector.extract\n"
        "assert load is connector.load is api.load, connector.load\n"
        "assert inspect.iscoroutinefunction(extract) and inspect.iscoroutinefunction(load)\n"
        "assert 'AttioClient' in dir(connector) and connector.AttioClient.__name__ == 'AttioClient'\n"
        "print('ok')"
    )
    _prints_ok(code)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import connector

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = connector.nope  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from connector import nope", {})


def test_a_stand_in_for_extract_is_kept_until_deleted() -> None:
    code = (
        "import importlib, connector\nfunction = connector.extract\n"
        "connector.extract = 'stand-in'\nimportlib.import_module('connector.extract.sinks')\n"
        "assert connector.extract == 'stand-in', connector.extract\n"
        "del connector.extract\nassert connector.extract is function\nprint('ok')"
    )
    _prints_ok(code)


# Arrow and numpy: ~0.25 s of imports on a quiet machine, which an extract makes while its first requests
# are in the air (connector/deferred.py), not before them.
ARROW = ("pyarrow", "numpy")


def test_the_library_extract_imports_neither_arrow_nor_numpy_before_it_runs() -> None:
    modules = _modules_after(
        "from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits\n"
        "from connector.extract import ExtractConfig, MeetingConverter, extract, extract_batches, sink_for_path\n"
        "MeetingConverter()\nsink_for_path('m.parquet'), sink_for_path('m.csv')"
    )
    assert "connector.extract.run" in modules
    assert [m for p in ARROW for m in _imported(modules, p)] == []


# A child process: an extract of the emulator at ``url`` into ``out``. An audit hook notes, at its first
# connection to the emulator's port, whether pyarrow was imported whole by then; it prints that and the report.
FIRST_REQUEST_CHILD = r"""
import sys
url, token, out, slices = sys.argv[1:5]
port = int(url.rsplit(":", 1)[1])
seen = {}

def hook(event, args):
    if event == "socket.connect" and "arrow" not in seen and isinstance(args[1], tuple) and args[1][1] == port:
        module = sys.modules.get("pyarrow")
        seen["arrow"] = module is not None and not getattr(module.__spec__, "_initializing", False)

sys.addaudithook(hook)
import json
import anyio
from connector import AttioClient, ClientConfig
from connector.extract import ExtractConfig, extract, sink_for_path

async def main():
    async with AttioClient(ClientConfig(token=token, base_url=url)) as client:
        config = ExtractConfig(slices=None if slices == "auto" else int(slices))
        return await extract(client, config, sink_for_path(out))

report = anyio.run(main)
print(json.dumps({"arrow_at_first_connect": seen["arrow"], "rows": report.rows, "slices": report.slices}))
"""


@pytest.mark.parametrize("slices", ["auto", "3"], ids=["auto-slices", "three-slices"])
def test_an_extracts_first_request_leaves_before_arrow_is_imported(
    make_emulator: Any, tmp_path: Path, slices: str
) -> None:
    # Auto slicing chooses from the measured round trip (budget x rtt): on bare loopback a quick machine
    # measures ~3 ms and plans one cursor; 40 ms plans several wherever the test runs.
    emu = make_emulator(meetings=1_000, latency_ms=40.0)
    out = tmp_path / "m.parquet"
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST_CHILD, emu.url, emu.token, str(out), slices],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.splitlines()[-1])
    # The range probe's first request goes out before Arrow is imported; its import takes the round trip.
    assert data["arrow_at_first_connect"] is False
    assert data["rows"] == 1_000 == pq.read_metadata(out).num_rows
    assert data["slices"] > 1


def test_a_deferred_module_is_imported_at_its_first_attribute_and_then_is_the_module() -> None:
    code = (
        "import sys\nfrom connector.deferred import deferred\nstand_in = deferred('colorsys')\n"
        "assert 'colorsys' not in sys.modules\n"
        "assert stand_in.rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1.0)\n"
        "import colorsys\nassert stand_in.hls_to_rgb is colorsys.hls_to_rgb and type(stand_in) is type(colorsys)\n"
        "colorsys.later = 1\nassert stand_in.later == 1\n"
        "try:\n    stand_in.nope\nexcept AttributeError:\n    print('ok')"
    )
    _prints_ok(code)
