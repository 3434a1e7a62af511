"""``--config FILE``: subcommand defaults from a TOML file. Precedence: file < environment < command-line flags.

The file has a ``[connection]`` table (any client option: ``base_url``, ``read_rate``, ``token_env``, ...)
shared by every subcommand, and one table per subcommand (``[extract]``, ``[load]``, ...) whose keys are
that subcommand's long options with dashes or underscores. Tokens never live in the file: ``token_env``
names the environment variable that holds it.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import BASE_URL_ENV
from ..errors import ConfigError

__all__ = ["apply_config_file", "split_config_option"]

SECRET_KEYS = frozenset({"token", "api_key", "apikey", "password", "secret", "attio_api_key"})


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


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _defaults_for(
    path: Path, table: str, values: Mapping[str, Any], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    known = {action.dest: action for action in parser._actions if action.dest not in ("help", "run")}
    out: dict[str, Any] = {}
    for key, value in values.items():
        dest = key.replace("-", "_")
        if dest.lower() in SECRET_KEYS:
            raise ConfigError(
                f"config file {path}: [{table}] {key}: never put a token in a file; set ATTIO_API_KEY, "
                "or name another variable with token_env"
            )
        if dest not in known:
            names = ", ".join(sorted(d for d, a in known.items() if a.option_strings))
            raise ConfigError(f"config file {path}: [{table}] has unknown key {key!r}; known keys: {names}")
        if dest == "base_url" and os.environ.get(BASE_URL_ENV):
            continue  # the environment wins over the file
        action = known[dest]
        if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction) and not isinstance(value, bool):
            raise ConfigError(f"config file {path}: [{table}] {key} must be true or false, got {value!r}")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out[dest] = str(value) if isinstance(value, Path) else value
    return out


def apply_config_file(path: Path, subparsers: Mapping[str, argparse.ArgumentParser]) -> None:
    """Set each subcommand's defaults from the file; flags given on the command line still win."""
    document = _read(path)
    unknown = set(document) - {"connection", *subparsers}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown table(s) {', '.join(sorted(unknown))}; "
            f"use [connection] and [{'], ['.join(subparsers)}]"
        )
    shared = document.get("connection", {})
    for name, parser in subparsers.items():
        values = dict(document.get(name, {}))
        if not shared and not values:
            continue
        has_client_options = any(a.dest == "base_url" for a in parser._actions)
        defaults = _defaults_for(path, "connection", shared, parser) if has_client_options else {}
        defaults |= _defaults_for(path, name, values, parser)
        for action in parser._actions:
            if action.dest in defaults and action.required:
                action.required = False  # given by the file
        parser.set_defaults(**defaults)
