"""The CLI is a thin layer: the same calls, one-line errors with hints, documented exit codes and commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.M), name


def test_every_command_and_exit_code_is_in_the_docs() -> None:
    commands = (ROOT / "docs" / "cli.md").read_text()
    codes = (ROOT / "docs" / "exit-codes.md").read_text()
    for name in COMMANDS:
        assert f"python -m connector {name}" in commands, name
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 5 |", "| 6 |", "| 7 |", "| 70 |", "| 130 |"):
        assert code in codes


def test_get_prints_the_meeting(emulator, monkeypatch, capsys) -> None:
    meeting = emulator.emulator.store.all_meetings()[3]
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    code = main(["get", meeting["id"]["meeting_id"], "--base-url", emulator.url, "--quiet"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == meeting


@pytest.mark.parametrize(
    ("args", "token", "code", "text"),
    [
        pytest.param(["00000000-0000-4000-8000-000000000000"], "good", 3, "not_found", id="404"),
        pytest.param(["00000000-0000-4000-8000-000000000000"], "bad-token-123", 3, "auth_error", id="401"),
        pytest.param(["nope"], "good", 2, "invalid meeting_id", id="bad-id"),
        pytest.param(["00000000-0000-4000-8000-000000000000"], "", 2, "ATTIO_API_KEY", id="no-token"),
    ],
)
def test_errors_are_one_line_with_a_hint(emulator, monkeypatch, capsys, args, token, code, text) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token if token == "good" else token)
    assert main(["get", *args, "--base-url", emulator.url, "--quiet"]) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "hint:" in err and text in err
    assert "Traceback" not in err and (not token or token == "good" or token not in err)


@pytest.mark.parametrize(
    ("faults", "missing", "code", "gets"),
    [
        pytest.param(["503", "429"], False, 0, 3, id="503-then-429-retried"),
        pytest.param([], True, 3, 1, id="404-not-retried"),
    ],
)
def test_the_cli_retries_what_the_error_calls_retryable(emulator, monkeypatch, capsys, faults, missing, code, gets) -> None:
    meeting_id = "00000000-0000-4000-8000-000000000000" if missing else emulator.emulator.store.all_meetings()[3]["id"]["meeting_id"]
    emulator.emulator.faults.script(faults)
    before = emulator.emulator.stats.count(method="GET")
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    assert main(["get", meeting_id, "--base-url", emulator.url, "--quiet"]) == code
    assert emulator.emulator.stats.count(method="GET") - before == gets
    assert emulator.emulator.faults.pending == 0


def test_get_against_the_builtin_emulator_in_a_fresh_process() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("ATTIO_")}
    missing = "00000000-0000-4000-8000-000000000000"
    result = run_cli("get", missing, "--emulator", "--quiet", env=env)
    assert result.returncode == 3 and "was not found" in result.stderr and "Traceback" not in result.stderr


def test_parser_rejects_unknown_commands(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["frobnicate"])
    assert info.value.code == 2


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connector.toml"
    path.write_text(text)
    return path


def test_config_file_supplies_defaults_and_flags_win(emulator, tmp_path, monkeypatch, capsys) -> None:
    meeting = emulator.emulator.store.all_meetings()[0]
    monkeypatch.delenv("ATTIO_API_KEY", raising=False)
    monkeypatch.delenv("ATTIO_BASE_URL", raising=False)
    monkeypatch.setenv("MY_ATTIO_TOKEN", emulator.token)
    config = write_config(
        tmp_path,
        f'[connection]\nbase_url = "http://127.0.0.1:9"\ntoken_env = "MY_ATTIO_TOKEN"\ntimeout = 5\n'
        f'[extract]\noutput = "{tmp_path / "never.parquet"}"\n',
    )
    # The file's base URL is wrong on purpose; the flag wins.
    code = main(["--config", str(config), "get", meeting["id"]["meeting_id"], "--base-url", emulator.url, "-q"])
    assert code == 0 and json.loads(capsys.readouterr().out)["id"] == meeting["id"]
    monkeypatch.setenv("ATTIO_BASE_URL", emulator.url)  # the environment beats the file
    assert main(["get", meeting["id"]["meeting_id"], "--config", str(config), "-q"]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('[connection]\ntoken = "sk-123"\n', "never put a token in a file", id="token-in-file"),
        pytest.param("[extract]\nfrobnicate = 1\n", "unknown key 'frobnicate'", id="unknown-key"),
        pytest.param("[exports]\noutput = 'x'\n", "unknown table(s) exports", id="unknown-table"),
        pytest.param("[extract\n", "not valid TOML", id="bad-toml"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, text: str, message: str) -> None:
    config = write_config(tmp_path, text)
    assert main(["--config", str(config), "get", "00000000-0000-4000-8000-000000000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "sk-123" not in err


BAD_CONFIG_VALUES = [
    pytest.param("[extract]\ntimezone = 5\n", "[extract] timezone must be a string (in quotes), got an integer 5", id="timezone-5"),
    pytest.param("[extract]\noutput = 5\n", "[extract] output must be a string (in quotes), got an integer 5", id="output-5"),
    pytest.param('[load]\ndry_run = "no"\n', "[load] dry_run must be true or false (a TOML boolean, without quotes), got a string 'no'", id="dry_run-no"),
    pytest.param("[extract]\njson = 1\n", "[extract] json must be true or false (a TOML boolean, without quotes), got an integer 1", id="json-1"),
    pytest.param('[load]\nconcurrency = "ten"\n', "[load] concurrency: expected a whole number, got 'ten'", id="concurrency-text"),
    pytest.param("[load]\nconcurrency = 0\n", "[load] concurrency: must be at least 1", id="concurrency-0"),
    pytest.param("[load]\nconcurrency = true\n", "[load] concurrency must be a whole number, got a boolean", id="concurrency-bool"),
    pytest.param('[connection]\ntimeout = "slow"\n', "[connection] timeout: expected a number of seconds above 0, got 'slow'", id="timeout-text"),
    pytest.param("[connection]\nread_rate = [96]\n", "[connection] read_rate must be a number, got an array [96]", id="rate-array"),
    pytest.param("[connection]\nbase_url = 5\n", "[connection] base_url must be a string (in quotes), got an integer 5", id="base_url-5"),
    pytest.param("[connection]\nmax_in_flight = 2.5\n", "[connection] max_in_flight must be a whole number, got a float 2.5", id="in-flight-float"),
    pytest.param('[extract]\nsort = "newest"\n', "[extract] sort must be one of start_asc, start_desc, got a string 'newest'", id="sort-choice"),
    pytest.param('[extract]\ntimezone = "America"\n', "[extract] timezone: 'America' is not a known IANA timezone name", id="timezone-folder"),
    pytest.param("[extract]\npage_size = 500\n", "[extract] page_size: Attio pages hold at most 200 meetings", id="page-size-500"),
    pytest.param('[extract]\nparticipants = ["a@acme.com", 5]\n', "[extract] participants must be a string (in quotes), got an array", id="participants-mixed"),
    pytest.param("load = 5\n", "load must be a table ([load]), got an integer 5", id="table-as-value"),
    pytest.param('[[load]]\nconcurrency = 2\n', "load must be a table ([load]), got an array of tables", id="array-of-tables"),
    pytest.param(b'[extract]\noutput = "m\xe9etings.parquet"\n', "is not UTF-8 text: line 2 has the byte 0xe9", id="not-utf8"),
    pytest.param('[extract]\noutput = \n', "is not valid TOML: Invalid value (at line 2, column 10)", id="bad-toml-line"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIG_VALUES)
def test_config_values_of_the_wrong_type_are_one_line_errors_naming_file_and_key(
    tmp_path, capsys, text: str | bytes, message: str
) -> None:
    config = tmp_path / "connector.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["--config", str(config), "get", "00000000-0000-4000-8000-000000000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: config file {config}") and message in err, err
    assert "internal error" not in err


def test_a_directory_as_config_file_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main(["--config", str(tmp_path), "get", "00000000-0000-4000-8000-000000000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"config file {tmp_path} cannot be read" in err


def test_config_values_are_converted_like_flags(tmp_path) -> None:
    config = write_config(
        tmp_path,
        '[extract]\noutput = "m.parquet"\nends_from = 2026-01-01T00:00:00Z\nstarts_before = 2026-02-01\n'
        'participants = ["ana@acme.com", "bo@acme.com"]\ntimezone = "Asia/Tokyo"\npage_size = 50\nslices = 3\n'
        "[connection]\ntimeout = 5\nread_rate = 10.5\n",
    )
    args = build_parser(config).parse_args(["extract"])
    assert (args.ends_from, args.starts_before) == ("2026-01-01T00:00:00+00:00", "2026-02-01")
    assert args.participants == "ana@acme.com,bo@acme.com" and args.timezone == "Asia/Tokyo"
    assert (args.page_size, args.slices, args.timeout, args.read_rate) == (50, 3, 5.0, 10.5)
    assert args.output == Path("m.parquet")


@pytest.mark.parametrize("zone", ["America", "posixrules", "right/UTC", "posix/Europe/Paris", "localtime", "Europe/Paris\x00"])
def test_extract_timezone_flag_accepts_only_iana_names(tmp_path, capsys, zone: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["extract", "--output", str(tmp_path / "m.parquet"), "--timezone", zone])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --timezone: {zone!r} is not a known IANA timezone name" in err and "Errno" not in err
    assert list(tmp_path.iterdir()) == []


def test_sample_config_parses_for_every_command() -> None:
    parser = build_parser(ROOT / "sample_configs" / "connector.toml")
    args = parser.parse_args(["extract"])
    assert str(args.output) == "meetings-2026.parquet" and args.resume is True and args.slices is None
    assert args.read_rate == 96 and args.token_env == "ATTIO_API_KEY"
    args = parser.parse_args(["load", "meetings.csv", "--concurrency", "4"])
    assert args.concurrency == 4 and str(args.mapping).endswith("meetings_mapping.toml")


def test_config_file_flags_must_be_booleans(tmp_path, capsys) -> None:
    config = write_config(tmp_path, '[extract]\nresume = "yes"\n')
    assert main(["--config", str(config), "extract", "--output", str(tmp_path / "x.parquet")]) == 2
    assert "resume must be true or false" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--output", "m.xlsx"], "use .parquet, .csv or .jsonl", id="unknown-suffix"),
        pytest.param(["--output", "m.parquet", "--base-url", "https://api.attio.com/v2"], "without /v2", id="v2-base"),
    ],
)
def test_extract_refuses_likely_mistakes(tmp_path, monkeypatch, capsys, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTIO_API_KEY", "t")
    assert main(["extract", *args, "-q"]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "nothing was written"


def test_unreachable_base_url_names_it(monkeypatch, capsys, caplog) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "t")
    monkeypatch.setenv("ATTIO_BASE_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    from connector import ClientConfig, ConnectError, RetryPolicy, SyncAttioClient

    config = ClientConfig.from_env(retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
    with SyncAttioClient(config) as client, pytest.raises(ConnectError) as info:
        client.get_meeting("00000000-0000-4000-8000-000000000000")
    assert "cannot reach http://127.0.0.1:9" in str(info.value)
    assert "retry 1 of 1" in caplog.text, "a retry after a network error is logged as a warning"
