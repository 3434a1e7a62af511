"""An extract imports only what it uses: not the loader, the database destinations' drivers, the emulator's
server or pandas (each costs start-up time in every ``python -m connector extract``), and the public names
stay importable from ``connector`` whatever was imported first."""

from __future__ import annotations

import json
import subprocess
import sys

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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
