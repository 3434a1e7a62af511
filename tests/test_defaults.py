"""One owner of every default (connector/defaults.py): the config values, the CLI's flags and their help agree with it.

The orchestrators' defaults are checked in tests/integrations/test_defaults_shared.py (each needs its extra).
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from connector import ClientConfig, ExtractConfig, LoadConfig, MeetingQuery, RateLimits, RetryPolicy, defaults
from connector.cli import build_parser
from connector.load.recordings import RecordingsConfig

# (config value, field) -> the named default it must use
CONFIG_DEFAULTS = [
    (RateLimits, "reads_per_second", defaults.READS_PER_SECOND),
    (RateLimits, "writes_per_second", defaults.WRITES_PER_SECOND),
    (RateLimits, "max_in_flight", defaults.MAX_IN_FLIGHT),
    (RateLimits, "recording_writes_per_second", defaults.RECORDING_WRITES_PER_SECOND),
    (ClientConfig, "timeout", defaults.TIMEOUT),
    (ClientConfig, "connect_timeout", defaults.CONNECT_TIMEOUT),
    (RetryPolicy, "max_attempts", defaults.MAX_ATTEMPTS),
    (MeetingQuery, "limit", defaults.PAGE_SIZE),
    (ExtractConfig, "batch_size", defaults.EXTRACT_BATCH_SIZE),
    (LoadConfig, "concurrency", defaults.LOAD_CONCURRENCY),
    (LoadConfig, "batch_size", defaults.LOAD_BATCH_SIZE),
    (LoadConfig, "max_delete", defaults.MAX_DELETE),
    (RecordingsConfig, "concurrency", defaults.RECORDINGS_CONCURRENCY),
]


@pytest.mark.parametrize(
    ("config", "name", "value"), CONFIG_DEFAULTS, ids=[f"{c.__name__}.{n}" for c, n, _ in CONFIG_DEFAULTS]
)
def test_config_values_take_their_defaults_from_the_one_module(
    config: type, name: str, value: object
) -> None:
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    assert field.default is value


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def _flag(command: str, option: str) -> argparse.Action:
    return next(a for a in _subparser(command)._actions if option in a.option_strings)


# (command, flag, the named default, how --help shows it)
CLI_DEFAULTS = [
    ("extract", "--page-size", defaults.PAGE_SIZE, f"default {defaults.PAGE_SIZE}"),
    ("extract", "--batch-size", defaults.EXTRACT_BATCH_SIZE, f"default {defaults.EXTRACT_BATCH_SIZE}"),
    ("load", "--concurrency", defaults.LOAD_CONCURRENCY, f"default {defaults.LOAD_CONCURRENCY}"),
    ("load", "--batch-size", defaults.LOAD_BATCH_SIZE, f"default {defaults.LOAD_BATCH_SIZE}"),
    ("load", "--max-delete", defaults.MAX_DELETE, f"default {defaults.MAX_DELETE * 100:g}"),
    (
        "load-recordings",
        "--concurrency",
        defaults.RECORDINGS_CONCURRENCY,
        f"default {defaults.RECORDINGS_CONCURRENCY}",
    ),
]


@pytest.mark.parametrize(
    ("command", "option", "value", "shown"), CLI_DEFAULTS, ids=[f"{c} {o}" for c, o, _, _ in CLI_DEFAULTS]
)
def test_cli_flags_default_to_the_named_defaults_and_say_so(
    command: str, option: str, value: object, shown: str
) -> None:
    action = _flag(command, option)
    assert action.default is value
    assert shown in (action.help or "")


# Client flags default to None (a workspace or config file may set them); the limits then come from RateLimits().
CLIENT_FLAGS = [
    ("--read-rate", f"default {defaults.READS_PER_SECOND:g}"),
    ("--write-rate", f"default {defaults.WRITES_PER_SECOND:g}"),
    ("--max-in-flight", f"default {defaults.MAX_IN_FLIGHT}"),
    ("--timeout", f"default {defaults.TIMEOUT:g}"),
]


@pytest.mark.parametrize("command", ["extract", "load", "load-recordings", "get"])
@pytest.mark.parametrize(("option", "shown"), CLIENT_FLAGS, ids=[o for o, _ in CLIENT_FLAGS])
def test_client_flags_show_the_named_defaults(command: str, option: str, shown: str) -> None:
    assert shown in (_flag(command, option).help or "")


def test_the_recording_rate_flag_shows_its_named_default() -> None:
    assert f"default {defaults.RECORDING_WRITES_PER_SECOND:g}" in (
        _flag("load-recordings", "--recording-rate").help or ""
    )


def test_the_cli_builds_the_default_limits_from_no_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.cli.common import client_session

    monkeypatch.setenv("ATTIO_API_KEY", "t")
    args = build_parser().parse_args(["get", "00000000-0000-4000-8000-000000000000"])
    with client_session(args) as config:
        assert config.limits == RateLimits()
        assert (config.limits.reads_per_second, config.limits.max_in_flight) == (
            defaults.READS_PER_SECOND,
            defaults.MAX_IN_FLIGHT,
        )
        assert config.timeout == defaults.TIMEOUT
