"""``--config FILE``: subcommand defaults from a TOML file. Precedence: file < environment < command-line flags.

The file has a ``[connection]`` table (any client option: ``base_url``, ``read_rate``, ``token_env``, ...)
shared by every subcommand, and one table per subcommand (``[extract]``, ``[load]``, ...) whose keys are
that subcommand's long options with dashes or underscores. Tokens never live in the file: ``token_env``
names the environment variable that holds it.

``[workspaces.NAME]`` tables list Attio workspaces (``token_env``, ``base_url``, ``read_rate``,
``write_rate``, ``max_in_flight``); ``--workspace NAME`` lays that table over ``[connection]``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..config import BASE_URL_ENV, read_toml, read_workspaces, toml_type
from ..errors import ConfigError, did_you_mean, shown
from ..storage.location import local_or_url
from .common import (
    non_negative_int,
    output_path,
    output_target,
    positive_int,
    positive_seconds,
    rate,
    timezone_name,
)

__all__ = ["apply_config_file", "split_config_option", "workspace_option"]

SECRET_KEYS = frozenset({"token", "api_key", "apikey", "password", "secret", "attio_api_key"})
# Options that take comma-separated values: an array of strings in the file is joined with commas.
LIST_KEYS = frozenset({"participants", "fault_kinds"})
# Option types that take text as it is: a number in the file (output = 5) is a mistake, not a name.
_TEXT_TYPES = (None, str, Path, output_path, output_target, local_or_url, timezone_name)
_WHOLE_TYPES = (int, positive_int, non_negative_int)
_NUMBER_TYPES = (float, rate, positive_seconds)


def split_config_option(argv: Sequence[str]) -> tuple[Path | None, list[str]]:
    """Take ``--config FILE`` (or ``--config=FILE``) out of ``argv``, wherever it stands."""
    rest: list[str] = []
    path: Path | None = None
    items = iter(argv)
    for item in items:
        if item == "--config":
            value = next(items, None)
            if value is None:
                raise ConfigError("--config needs a file name")
            path = Path(value)
        elif item.startswith("--config="):
            path = Path(item.split("=", 1)[1])
        else:
            rest.append(item)
    return path, rest


def workspace_option(argv: Sequence[str]) -> str | None:
    """The NAME of ``--workspace NAME`` (or ``--workspace=NAME``) in ``argv``, left in place for argparse."""
    name = None
    for i, item in enumerate(argv):
        if item == "--workspace" and i + 1 < len(argv):
            name = argv[i + 1]
        elif item.startswith("--workspace="):
            name = item.split("=", 1)[1]
    return name


def _expected(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        return "true or false (a TOML boolean, without quotes)"
    if action.choices:
        return "one of " + ", ".join(map(str, action.choices))
    if action.type in _WHOLE_TYPES:
        return "a whole number"
    if action.type in _NUMBER_TYPES:
        return "a number"
    if action.type in _TEXT_TYPES:
        return "a string (in quotes)"
    return "a string or a number"


def _converted(where: str, key: str, action: argparse.Action, text: str, wrong: ConfigError) -> Any:
    """``text`` through the option's own type and choices, as argparse would treat the flag's text."""
    value: Any = text
    if action.type is not None:
        try:
            value = action.type(text)  # type: ignore[operator]
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"{where} {key}: {exc}") from None
        except (TypeError, ValueError):
            raise wrong from None
    if action.choices and value not in action.choices:
        raise wrong
    return value


def _value(where: str, key: str, action: argparse.Action, value: Any) -> Any:
    """The file's value for one option, checked against its TOML type and converted like the flag's text."""
    wrong = ConfigError(f"{where} {key} must be {_expected(action)}, got {toml_type(value)} {shown(value)}")
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(action, argparse._AppendAction):  # a repeatable option: a string or an array of strings
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise wrong
        return [_converted(where, key, action, item, wrong) for item in items]
    if isinstance(value, list) and action.dest in LIST_KEYS and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if isinstance(value, datetime | date) and action.type in _TEXT_TYPES:
        value = value.isoformat()  # ends_from = 2026-01-01T00:00:00Z, a TOML date-time
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise wrong
    if not isinstance(value, str) and action.type in _TEXT_TYPES:
        raise wrong
    if isinstance(value, float) and action.type in _WHOLE_TYPES:
        raise wrong
    return _converted(where, key, action, str(value), wrong)


def _defaults_for(
    path: Path, table: str, values: Mapping[str, Any], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    known = {action.dest: action for action in parser._actions if action.dest not in ("help", "run")}
    where = f"config file {path}: [{table}]"
    out: dict[str, Any] = {}
    for key, value in values.items():
        dest = key.replace("-", "_")
        if dest.lower() in SECRET_KEYS:
            raise ConfigError(
                f"{where} {key}: never put a token in a file; set ATTIO_API_KEY, "
                "or name another variable with token_env"
            )
        if dest not in known:
            names = ", ".join(sorted(d for d, a in known.items() if a.option_strings))
            close = did_you_mean(dest, (d for d, a in known.items() if a.option_strings))
            raise ConfigError(f"{where} has unknown key {key!r}{close}; known keys: {names}")
        converted = _value(where, key, known[dest], value)
        if dest == "base_url" and os.environ.get(BASE_URL_ENV):
            continue  # the environment wins over the file
        out[dest] = converted
    return out


def apply_config_file(
    path: Path, subparsers: Mapping[str, argparse.ArgumentParser], workspace: str | None = None
) -> None:
    """Set each subcommand's defaults from the file; flags given on the command line still win.

    With ``workspace``, the keys of its ``[workspaces.NAME]`` table win over ``[connection]``.

    Every key is checked against its option: its TOML type, then the option's own conversion and choices,
    so a mistake is one :class:`~connector.errors.ConfigError` naming the file, the table and the key.
    """
    document = read_toml(path, "config file")
    unknown = set(document) - {"connection", "workspaces", *subparsers}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown table(s) {', '.join(sorted(unknown))}; "
            f"use [connection], [workspaces.NAME] and [{'], ['.join(subparsers)}]"
        )
    for name, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {path}: {name} must be a table ([{name}]), got {toml_type(table)} {shown(table)}"
            )
    shared = dict(document.get("connection", {}))
    workspaces = read_workspaces(path, document)
    if workspace is not None:
        if workspace not in workspaces:
            known = ", ".join(sorted(workspaces)) or "none"
            raise ConfigError(
                f"--workspace {shown(workspace)}: config file {path} has no such [workspaces.NAME] table"
                f"{did_you_mean(workspace, workspaces)} (known: {known})"
            )
        shared |= document["workspaces"][workspace]
    for name, parser in subparsers.items():
        values = dict(document.get(name, {}))
        if not shared and not values:
            continue
        has_client_options = any(a.dest == "base_url" for a in parser._actions)
        defaults = _defaults_for(path, "connection", shared, parser) if has_client_options else {}
        defaults |= _defaults_for(path, name, values, parser)
        if has_client_options and workspace is not None:
            defaults["workspace_table"] = workspace  # --workspace NAME found its table
        for action in parser._actions:
            if action.dest in defaults and action.required:
                action.required = False  # given by the file
        # Where each default came from, so that an error about the value can name the key (common.option_name).
        origins = {dest: f"{key} in config file {path} [{table}]" for table, keys in
                   (("connection", shared if has_client_options else {}), (name, values)) for key in keys
                   for dest in [key.replace("-", "_")]}  # fmt: skip
        parser.set_defaults(**defaults, config_origins=origins)
