"""The CLI's connection surface: base URL, token, --token-env, numeric flags and --output.

A mistake there ends in exit code 2 and one line that names the setting, never in an internal error, and
never repeats a token or a password. Most cases run ``main()`` in-process (argparse's own errors raise
SystemExit); the secrets sweep runs the real CLI in a subprocess, ``-vv`` tracebacks included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import main

ROOT = Path(__file__).resolve().parents[1]
MISSING = "00000000-0000-4000-8000-000000000000"
# A valid identifier on purpose: it passes the environment-variable-name rule, and must still never show.
SECRET = "sk_live_7f3a9c0d5e1b8a64_do_not_print"
CORE = "7f3a9c0d5e1b8a64"  # the part of SECRET that no message may contain, whatever is cut around it


def run_main(monkeypatch, capsys, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """``main(args)`` with exactly these ATTIO_* variables; returns (exit code, stdout + stderr)."""
    for name in ("ATTIO_API_KEY", "ATTIO_BASE_URL", "MY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def error_line(output: str) -> str:
    """The one line that starts with ``error:`` or argparse's ``...: error:``; there must be exactly one."""
    lines = [line for line in output.splitlines() if "error: " in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    return lines[0]


# ------------------------------------------------------------------------------------------ base URL

BAD_BASE_URLS = [
    pytest.param(
        "https://ana:pw-7f3a9c0d5e1b8a64@api.attio.com",
        "must not hold credentials (https://***@api.attio.com)",
        id="user-password",
    ),
    pytest.param("https://7f3a9c0d5e1b8a64@api.attio.com", "https://***@api.attio.com", id="token-as-user"),
    pytest.param("ana:pw-7f3a9c0d5e1b8a64@api.attio.com", "'***@api.attio.com'", id="credentials-no-scheme"),
    pytest.param(
        "https://ana:p/w7f3a9c0d5e1b8a64@api.attio.com", "https://***@api.attio.com", id="slash-in-password"
    ),
    pytest.param("api.attio.com", "must start with http:// or https://, got 'api.attio.com'", id="no-scheme"),
    pytest.param("ftp://api.attio.com", "must start with http:// or https://", id="ftp"),
    pytest.param("http://api attio.com", "contains a space or a control character", id="space"),
    pytest.param("http://127.0.0.1:99999", "the port must be a number from 1 to 65535", id="port-too-big"),
    pytest.param("http://127.0.0.1:0", "the port must be a number from 1 to 65535", id="port-zero"),
    pytest.param(
        "http://127.0.0.1:http", "the port must be a number from 1 to 65535", id="port-not-a-number"
    ),
    pytest.param("https://api.attio.com/attio", "give the API root only, https://api.attio.com", id="path"),
    pytest.param("https://api.attio.com/v2/", "without /v2", id="v2"),
    pytest.param("https://api.attio.com?region=eu", "without a path, query or fragment", id="query"),
    pytest.param("http://", "has no host", id="no-host"),
    pytest.param("http://[::1", "is not a valid URL", id="broken-ipv6"),
    pytest.param(SECRET, "got a value that is not shown", id="token-in-the-url-variable"),
]


@pytest.mark.parametrize("source", ["env", "flag"])
@pytest.mark.parametrize(("url", "message"), BAD_BASE_URLS)
def test_a_bad_base_url_is_one_line_naming_it_without_credentials(
    monkeypatch, capsys, source, url, message
) -> None:
    env = {"ATTIO_API_KEY": "t"}
    args = ["get", MISSING, "-q"]
    if source == "env":
        env["ATTIO_BASE_URL"] = url
    else:
        args += ["--base-url", url]
    code, output = run_main(monkeypatch, capsys, args, env)
    line = error_line(output)
    label = "ATTIO_BASE_URL" if source == "env" else "--base-url"
    assert code == 2 and line.startswith(f"error: invalid {label}: ") and message in line, line
    assert CORE not in output and "pw-" not in output


def test_surrounding_whitespace_of_the_token_and_the_url_is_ignored(emulator, monkeypatch, capsys) -> None:
    meeting = emulator.emulator.store.all_meetings()[0]
    env = {"ATTIO_API_KEY": f"{emulator.token}\n", "ATTIO_BASE_URL": f"  {emulator.url}/ \n"}
    code, output = run_main(monkeypatch, capsys, ["get", meeting["id"]["meeting_id"], "-q"], env)
    assert code == 0 and json.loads(output) == meeting


# -------------------------------------------------------------------------------------------- token

BAD_TOKENS = [
    pytest.param("", "is empty", id="empty"),
    pytest.param(" \n", "is empty", id="only-whitespace"),
    pytest.param(f"{SECRET[:12]} {SECRET[12:]}", "has a space at character 13", id="inner-space"),
    pytest.param(f"{SECRET}\t{SECRET}", f"has a tab at character {len(SECRET) + 1}", id="inner-tab"),
    pytest.param(f"{SECRET}\nsecond-line", "has a line break", id="two-lines"),
    pytest.param(f"{SECRET}\x7f", "has a control character", id="control-character"),
    pytest.param(f"{SECRET}\u200b", "has a non-ASCII character", id="zero-width-space"),
    pytest.param(f'"{SECRET}"', "is wrapped in quotes", id="double-quotes"),
    pytest.param(f"'{SECRET}'", "is wrapped in quotes", id="single-quotes"),
]


@pytest.mark.parametrize("variable", ["ATTIO_API_KEY", "MY_TOKEN"])
@pytest.mark.parametrize(("token", "message"), BAD_TOKENS)
def test_a_bad_token_is_named_by_its_variable_and_never_shown(
    monkeypatch, capsys, variable, token, message
) -> None:
    args = ["get", MISSING, "--base-url", "http://127.0.0.1:9", "-q"]
    if variable != "ATTIO_API_KEY":
        args += ["--token-env", variable]
    code, output = run_main(monkeypatch, capsys, args, {variable: token})
    line = error_line(output)
    assert code == 2 and line.startswith(f"error: invalid {variable}: ") and message in line, line
    assert CORE not in output


@pytest.mark.parametrize(
    ("token_env", "message"),
    [
        pytest.param(
            SECRET, "the environment variable named by --token-env is not set", id="token-shaped-name"
        ),
        pytest.param(
            "sk-live-7f3a9c0d5e1b8a64", "invalid --token-env: must name an environment variable", id="dashes"
        ),
        pytest.param(
            "7f3a9c0d5e1b8a64", "invalid --token-env: must name an environment variable", id="leading-digit"
        ),
        pytest.param("", "invalid --token-env: must name an environment variable", id="empty"),
        pytest.param("MY_TOKEN", "no Attio access token: set MY_TOKEN", id="upper-case-name-unset"),
    ],
)
@pytest.mark.parametrize("source", ["flag", "config-file"])
def test_token_env_never_echoes_what_may_be_a_token(
    monkeypatch, capsys, tmp_path, source, token_env, message
) -> None:
    args = ["get", MISSING, "--base-url", "http://127.0.0.1:9", "-q"]
    if source == "flag":
        args += ["--token-env", token_env]
    else:
        config = tmp_path / "connector.toml"
        config.write_text(f"[connection]\ntoken_env = {json.dumps(token_env)}\n")
        args = ["--config", str(config), *args]
    code, output = run_main(monkeypatch, capsys, args, {"ATTIO_API_KEY": "unused"})
    line = error_line(output)
    assert code == 2 and message in line, line
    assert CORE not in output


def test_token_env_names_the_variable_that_is_used(emulator, monkeypatch, capsys) -> None:
    meeting = emulator.emulator.store.all_meetings()[1]
    args = ["get", meeting["id"]["meeting_id"], "--base-url", emulator.url, "--token-env", "MY_TOKEN", "-q"]
    code, output = run_main(monkeypatch, capsys, args, {"MY_TOKEN": emulator.token, "ATTIO_API_KEY": "wrong"})
    assert code == 0 and json.loads(output) == meeting


# ------------------------------------------------------------------------------------ numeric flags


@pytest.mark.parametrize(
    "command", [["get", MISSING], ["extract", "--output", "m.parquet"], ["load", "in.csv"]]
)
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        pytest.param("--read-rate", "-1", id="read-rate-negative"),
        pytest.param("--read-rate", "nan", id="read-rate-nan"),
        pytest.param("--write-rate", "inf", id="write-rate-inf"),
        pytest.param("--write-rate", "fast", id="write-rate-word"),
        pytest.param("--timeout", "0", id="timeout-zero"),
        pytest.param("--timeout", "-3", id="timeout-negative"),
        pytest.param("--timeout", "nan", id="timeout-nan"),
        pytest.param("--max-in-flight", "0", id="max-in-flight-zero"),
        pytest.param("--max-in-flight", "1.5", id="max-in-flight-fraction"),
        pytest.param("--emulator-meetings", "-5", id="emulator-meetings-negative"),
    ],
)
def test_bad_numbers_are_usage_errors(monkeypatch, capsys, tmp_path, command, flag, value) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run_main(monkeypatch, capsys, [*command, "--emulator", "-q", flag, value])
    line = error_line(output)
    assert code == 2 and f"argument {flag}: " in line and value in line, line
    assert not list(tmp_path.iterdir()), "nothing was written"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        pytest.param(
            "read_rate = nan",
            "[connection] read_rate: expected requests per second: 0 (no limit) or a positive number, got 'nan'",
            id="nan-rate",
        ),
        pytest.param("write_rate = -2", "[connection] write_rate: expected requests per second", id="negative-rate"),
        pytest.param("timeout = 0", "[connection] timeout: expected a number of seconds above 0", id="zero-timeout"),
        pytest.param("timeout = inf", "[connection] timeout: expected a number of seconds above 0", id="infinite-timeout"),
        pytest.param("max_in_flight = 0", "[connection] max_in_flight: must be at least 1", id="zero-in-flight"),
        pytest.param("emulator_meetings = -5", "[connection] emulator_meetings: must be at least 0", id="negative-meetings"),
    ],
)
def test_bad_numbers_from_a_config_file_are_usage_errors(
    monkeypatch, capsys, tmp_path, setting, message
) -> None:
    config = tmp_path / "connector.toml"
    config.write_text(f"[connection]\n{setting}\n")
    code, output = run_main(
        monkeypatch, capsys, ["--config", str(config), "get", MISSING, "--emulator", "-q"]
    )
    line = error_line(output)
    assert code == 2 and message in line, line


# ------------------------------------------------------------------------------------------ --output


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        pytest.param("", [], "argument --output/-o: give a file name", id="empty"),
        pytest.param(".", [], "is a folder; nothing was changed", id="dot"),
        pytest.param("/", [], "'/' has no name to write beside", id="root"),
        pytest.param("/", ["--partition-by", "start_month"], "'/' has no name to write beside", id="root-partitioned"),
        pytest.param("out/..", [], "is a folder; nothing was changed", id="up-from-a-folder"),
        pytest.param("existing", [], "error: output existing is a folder; nothing was changed", id="existing-directory"),
        pytest.param("existing", ["--format", "csv"], "existing is a folder", id="existing-directory-csv"),
    ],
)
def test_an_output_that_names_no_file_is_refused_before_anything_runs(
    emulator, monkeypatch, capsys, tmp_path, output, extra, message
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "keep.txt").write_text("mine")
    args = ["extract", "--output", output, *extra, "--base-url", emulator.url, "-q"]
    code, output_text = run_main(monkeypatch, capsys, args, {"ATTIO_API_KEY": emulator.token})
    line = error_line(output_text)
    assert code == 2 and message in line, line
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "existing",
        "existing/keep.txt",
    ]
    assert emulator.emulator.stats.requests == 0, "nothing was fetched"


# --------------------------------------------------------------------------- filters too long for a URL


@pytest.mark.parametrize(
    ("count", "extra"),
    [
        pytest.param(600, [], id="600"),
        pytest.param(
            2000,
            ["--linked-object", "people", "--linked-record-id", "891dcbfc-9141-415d-9b2a-2238a6cc012d"],
            id="2000-with-a-linked-record",
        ),
    ],
)
def test_too_many_participants_is_refused_before_any_request(
    emulator, monkeypatch, capsys, tmp_path, count, extra
) -> None:
    monkeypatch.chdir(tmp_path)
    emails = ",".join(f"person{i}@example.com" for i in range(count))
    args = [
        "extract",
        "--output",
        "m.parquet",
        "--participants",
        emails,
        *extra,
        "--base-url",
        emulator.url,
        "-q",
    ]
    code, output = run_main(monkeypatch, capsys, args, {"ATTIO_API_KEY": emulator.token})
    line = error_line(output)
    assert code == 2 and line.startswith(
        f"error: --participants: {count} emails make the request URL"
    ), line
    assert "of these emails fit in one query" in line and "de-duplicate by meeting_id" in line
    assert emulator.emulator.stats.requests == 0 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--token-env", SECRET, "get", MISSING], id="token-env-before-the-command"),
        pytest.param(
            ["--base-url", f"https://ana:{SECRET}@api.attio.com", "get", MISSING], id="url-before-the-command"
        ),
        pytest.param([SECRET], id="token-as-the-command"),
    ],
)
def test_an_option_before_the_command_never_echoes_its_value(monkeypatch, capsys, args) -> None:
    code, output = run_main(monkeypatch, capsys, args, {"ATTIO_API_KEY": "unused"})
    assert code == 2 and "must be a command" in error_line(output), output
    assert CORE not in output


def test_a_mistyped_command_is_still_named(monkeypatch, capsys) -> None:
    code, output = run_main(monkeypatch, capsys, ["extrat"])
    assert code == 2 and "invalid choice: 'extrat'" in error_line(output), output


# ------------------------------------------------------------------------------- secrets, end to end


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATTIO_")}
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        capture_output=True,
        text=True,
        env=base | env,
        timeout=120,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        pytest.param(["get", MISSING, "--token-env", SECRET], {}, 2, id="token-as-token-env"),
        pytest.param(["-vv", "get", MISSING, "--token-env", SECRET], {}, 1, id="token-as-token-env-vv"),
        pytest.param(
            ["get", MISSING],
            {"ATTIO_BASE_URL": f"https://ana:{SECRET}@api.attio.com"},
            2,
            id="password-in-url",
        ),
        pytest.param(
            ["-vv", "get", MISSING, "--base-url", f"https://{SECRET}@api.attio.com"],
            {},
            1,
            id="token-in-url-vv",
        ),
        pytest.param(["get", MISSING], {"ATTIO_API_KEY": f"{SECRET} x"}, 2, id="token-with-a-space"),
        pytest.param(["-vv", "get", MISSING], {"ATTIO_API_KEY": f"'{SECRET}'"}, 1, id="quoted-token-vv"),
        pytest.param(["get", MISSING], {"ATTIO_BASE_URL": SECRET}, 2, id="token-in-the-url-variable"),
        pytest.param(
            ["-vv", "get", MISSING, "--base-url", "EMULATOR"],
            {"ATTIO_API_KEY": SECRET},
            1,
            id="refused-token-vv",
        ),
    ],
)
def test_no_failing_command_prints_the_token(emulator, args, env, code) -> None:
    args = [emulator.url if a == "EMULATOR" else a for a in args]
    result = run_cli(*args, env={"ATTIO_API_KEY": "x", **env})
    assert result.returncode == code, result.stderr
    assert result.stderr.strip(), "the failure was explained"
    assert CORE not in result.stdout and CORE not in result.stderr, result.stderr
    if code == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
