"""Configuration as small frozen values with named defaults.

Precedence, lowest first: defaults < config file < environment < explicit arguments (CLI flags).
The access token is held in a :class:`Secret`, whose repr and str never show it; no error message
ever quotes a token, nor the credentials of a URL.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import defaults
from .errors import ConfigError, InvalidArgumentError

__all__ = [
    "DEFAULT_BASE_URL",
    "ClientConfig",
    "RateLimits",
    "RetryPolicy",
    "Secret",
    "WorkspaceConfig",
    "check_base_url",
    "check_env_name",
    "check_rate_limit_url",
    "check_token",
    "is_env_name",
    "masked_url",
    "read_toml",
    "read_workspaces",
    "toml_type",
]

DEFAULT_BASE_URL = "https://api.attio.com"
TOKEN_ENV = "ATTIO_API_KEY"
BASE_URL_ENV = "ATTIO_BASE_URL"
RATE_LIMIT_URL_ENV = "CONNECTOR_RATE_LIMIT_URL"
RATE_LIMIT_SCHEMES = ("redis://", "rediss://", "unix://")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_env_name(name: str) -> bool:
    """True for a name an environment variable can have (letters, digits and _, not starting with a digit)."""
    return isinstance(name, str) and _ENV_NAME.fullmatch(name) is not None


def check_env_name(name: str, source: str = "token_env") -> str:
    """``name`` if it can name an environment variable; else an error that does not repeat it (a token?)."""
    if not is_env_name(name):
        raise InvalidArgumentError(
            source,
            "must name an environment variable (letters, digits, _), e.g. ATTIO_API_KEY; "
            "the value given is not shown, in case it is a token",
        )
    return name


def _what(char: str) -> str:
    if char == " ":
        return "a space"
    if char in "\r\n":
        return "a line break"
    if char == "\t":
        return "a tab"
    return "a non-ASCII character" if ord(char) > 127 else "a control character"


def check_token(value: str, source: str = "token") -> str:
    """The token without surrounding whitespace (a trailing newline from a file is common).

    Raises :class:`~connector.errors.InvalidArgumentError` naming ``source`` (never the value) when what
    is left cannot be a token: empty, wrapped in quotes, or holding a space, control or non-ASCII character.
    """
    token = value.strip()
    if not token:
        raise InvalidArgumentError(source, "is empty; it must hold an Attio access token")
    if len(token) > 1 and token[0] == token[-1] and token[0] in "\"'":
        raise InvalidArgumentError(source, "is wrapped in quotes; remove them (the value is not shown)")
    for position, char in enumerate(token, 1):
        if not "!" <= char <= "~":
            raise InvalidArgumentError(
                source, f"has {_what(char)} at character {position}, which no token has (the value is not shown)"
            )
    return token


def masked_url(url: str) -> str:
    """``url`` with anything that may be credentials (before the last @) shown as ***."""
    if "@" not in url:
        return url
    scheme, sep, _ = url.partition("://")
    return (f"{scheme}://" if sep else "") + "***@" + url.rpartition("@")[2]


def check_base_url(url: str, source: str = "base_url") -> str:
    """The API root ``url`` normalised (no trailing /), or :class:`InvalidArgumentError` naming ``source``.

    Refused: a scheme other than http(s), credentials (shown masked), spaces or control characters, no
    host, a port outside 1-65535, a path (``/v2`` included), a query or a fragment.
    """
    text = url.strip() if isinstance(url, str) else ""
    shown = masked_url(text)
    if not text:
        raise InvalidArgumentError(source, "is empty; give the API root, e.g. https://api.attio.com")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise InvalidArgumentError(source, f"{shown!r} contains a space or a control character")
    if not text.lower().startswith(("http://", "https://")):
        # Without any of . : / it is no host either, and may be a token in the wrong variable.
        got = repr(shown) if any(c in text for c in ".:/") else "a value that is not shown (it may be a token)"
        raise InvalidArgumentError(source, f"must start with http:// or https://, got {got}")
    if "@" in text:
        raise InvalidArgumentError(
            source, f"must not hold credentials ({shown}): the token comes from the environment (ATTIO_API_KEY)"
        )
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed [ of an IPv6 address
        raise InvalidArgumentError(source, f"{shown!r} is not a valid URL") from None
    if not parts.hostname:
        raise InvalidArgumentError(source, f"{shown!r} has no host")
    _, colon, port = parts.netloc.rpartition("]")[2].rpartition(":")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise InvalidArgumentError(source, f"{shown!r}: the port must be a number from 1 to 65535")
    path = parts.path.rstrip("/")
    if path.lower() == "/v2":
        raise InvalidArgumentError(source, f"give the API root without /v2 (e.g. https://api.attio.com), got {shown!r}")
    if path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidArgumentError(
            source, f"give the API root only, {parts.scheme}://{parts.netloc}, without a path, query or fragment; got {shown!r}"
        )
    return text.rstrip("/")


def check_rate_limit_url(url: str, source: str = "rate_limit_url") -> str:
    """A Redis URL for the shared rate budget (redis://, rediss:// or unix://), or an error naming ``source``.

    Credentials in it (``redis://:password@host``) are never shown.
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise InvalidArgumentError(source, "is empty; give a Redis URL, e.g. redis://localhost:6379/0")
    if not text.lower().startswith(RATE_LIMIT_SCHEMES):
        got = repr(masked_url(text)) if any(c in text for c in ".:/") else "a value that is not shown"
        raise InvalidArgumentError(source, f"must be a Redis URL (redis://, rediss:// or unix://), got {got}")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise InvalidArgumentError(source, f"{masked_url(text)!r} contains a space or a control character")
    database = urlsplit(text).path.strip("/")
    # redis-py reads a path that is no number as database 0: a typo (/O for /0) would share no budget.
    if not text.lower().startswith("unix://") and database and not database.isdigit():
        raise InvalidArgumentError(
            source, f"the database after the host must be a number (e.g. /0), got {masked_url(text)!r}"
        )
    return text


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried: exponential backoff with full jitter, bounded by tries and time.

    A ``Retry-After`` from the server replaces the computed delay. Which errors are retried is the errors'
    own ``retryable`` (:mod:`connector.errors`), not the policy's.
    """

    max_attempts: int = defaults.MAX_ATTEMPTS
    max_time: float = 300.0
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts", "must be at least 1")
        times = (self.max_time, self.initial_delay, self.max_delay, self.multiplier)
        if not all(map(math.isfinite, times)):
            raise InvalidArgumentError("retry policy", "times and the multiplier must be finite numbers")
        if self.max_time <= 0 or self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise InvalidArgumentError("retry policy", "times must be positive and the multiplier at least 1")


@dataclass(frozen=True)
class RateLimits:
    """Client-side budgets: requests per second for reads and writes, and a cap on requests in flight.

    Attio publishes 100 reads/s and 25 writes/s; the defaults stay a little below (96 and 24). 0 turns a budget off.
    Creating a call recording has a budget of its own (``recording_writes_per_second``), below Attio's 1 request/s
    for that endpoint as the others are below theirs: at exactly 1/s, a request delayed on its way lands in the
    same wall-clock second as the next and earns a 429 (measured: 2 in 30 creates, 0.90 creates/s; at 0.95/s
    none, 0.97/s; ``bench/load_recordings.py``). It is not taken from the write budget, whose 24/s leave Attio's
    25th free.
    """

    reads_per_second: float = defaults.READS_PER_SECOND
    writes_per_second: float = defaults.WRITES_PER_SECOND
    max_in_flight: int = defaults.MAX_IN_FLIGHT
    recording_writes_per_second: float = defaults.RECORDING_WRITES_PER_SECOND

    def __post_init__(self) -> None:
        for rate in (self.reads_per_second, self.writes_per_second, self.recording_writes_per_second):
            if not math.isfinite(rate) or rate < 0:
                raise InvalidArgumentError("rate limit", f"must be 0 (off) or a positive number, got {rate!r}")
        if self.max_in_flight < 1:
            raise InvalidArgumentError("max_in_flight", "must be at least 1")


@dataclass(frozen=True)
class ClientConfig:
    """Everything :class:`~connector.client.AttioClient` needs. Build it with :meth:`from_env` to read the environment."""

    token: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = defaults.TIMEOUT
    connect_timeout: float = defaults.CONNECT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: RateLimits = field(default_factory=RateLimits)
    user_agent: str = "attio-meetings-connector/0.1"
    # Redis URL of a rate budget shared by every process using this token (None: this process alone).
    # Not in the repr: it may hold a Redis password.
    rate_limit_url: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.token, str | Secret):
            raw = self.token.reveal() if isinstance(self.token, Secret) else self.token
            object.__setattr__(self, "token", Secret(check_token(raw)))
        object.__setattr__(self, "base_url", check_base_url(self.base_url))
        if self.rate_limit_url is not None:
            object.__setattr__(self, "rate_limit_url", check_rate_limit_url(self.rate_limit_url))
        for seconds in (self.timeout, self.connect_timeout):
            if not math.isfinite(seconds) or seconds <= 0:
                raise InvalidArgumentError("timeout", f"must be a positive number of seconds, got {seconds!r}")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, token_env: str = TOKEN_ENV, **overrides: Any
    ) -> ClientConfig:
        """Config from ``ATTIO_API_KEY`` (or the variable ``token_env`` names), ``ATTIO_BASE_URL`` and
        ``CONNECTOR_RATE_LIMIT_URL``.

        Explicit ``overrides`` (not None) win, and then the variable they replace is not read. Errors name
        the variable, never its value; the token loses surrounding whitespace, a set but empty one is refused.
        """
        env = os.environ if env is None else env
        check_env_name(token_env)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        values: dict[str, Any] = {}
        if "token" not in overrides and token_env in env:
            values["token"] = Secret(check_token(env[token_env], token_env))
        if "base_url" not in overrides and env.get(BASE_URL_ENV, "").strip():
            values["base_url"] = check_base_url(env[BASE_URL_ENV], BASE_URL_ENV)
        if "rate_limit_url" not in overrides and env.get(RATE_LIMIT_URL_ENV, "").strip():
            values["rate_limit_url"] = check_rate_limit_url(env[RATE_LIMIT_URL_ENV], RATE_LIMIT_URL_ENV)
        return cls(**(values | overrides))

    def with_(self, **changes: Any) -> ClientConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


WORKSPACE_KEYS = ("token_env", "base_url", "read_rate", "write_rate", "max_in_flight")


@dataclass(frozen=True)
class WorkspaceConfig:
    """One Attio workspace of many: its name, the environment variable holding its token, API root and limits.

    Each workspace has its own token, hence its own Attio budget; with ``rate_limit_url`` the processes
    working on one workspace share that budget.
    """

    name: str
    token_env: str
    base_url: str = DEFAULT_BASE_URL
    limits: RateLimits = field(default_factory=RateLimits)

    def client_config(self, env: Mapping[str, str] | None = None, **overrides: Any) -> ClientConfig:
        """The workspace's :class:`ClientConfig`: its token from ``env`` (default os.environ), ``overrides`` win."""
        settings = {"base_url": self.base_url, "limits": self.limits} | overrides
        return ClientConfig.from_env(env, token_env=self.token_env, **settings)


def _workspace(name: str, table: Any, where: str) -> WorkspaceConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {toml_type(table)}")
    unknown = sorted(set(table) - set(WORKSPACE_KEYS))
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}; known keys: {', '.join(WORKSPACE_KEYS)}")
    if "token_env" not in table:
        raise ConfigError(f"{where} needs token_env, the environment variable holding the workspace's token")
    for key in ("token_env", "base_url"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where} {key} must be a string, got {toml_type(table[key])}")
    defaults = RateLimits()
    rates = {}
    for key, dest in (("read_rate", "reads_per_second"), ("write_rate", "writes_per_second")):
        value = table.get(key, getattr(defaults, dest))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} {key} must be a number, got {toml_type(value)}")
        rates[dest] = float(value)
    in_flight = table.get("max_in_flight", defaults.max_in_flight)
    if isinstance(in_flight, bool) or not isinstance(in_flight, int):
        raise ConfigError(f"{where} max_in_flight must be a whole number, got {toml_type(in_flight)}")
    try:
        limits = RateLimits(**rates, max_in_flight=in_flight)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return WorkspaceConfig(
        name=name,
        token_env=check_env_name(table["token_env"], f"{where} token_env"),
        base_url=check_base_url(table.get("base_url", DEFAULT_BASE_URL), f"{where} base_url"),
        limits=limits,
    )


def read_workspaces(path: Path, document: Mapping[str, Any] | None = None) -> dict[str, WorkspaceConfig]:
    """The ``[workspaces.NAME]`` tables of a TOML config file, checked; errors name the file, table and key.

    Each table: ``token_env`` (required), ``base_url``, ``read_rate``, ``write_rate``, ``max_in_flight``.
    """
    document = read_toml(path, "config file") if document is None else document
    tables = document.get("workspaces", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"config file {path}: workspaces must be tables [workspaces.NAME], got {toml_type(tables)}")
    return {name: _workspace(name, table, f"config file {path}: [workspaces.{name}]") for name, table in tables.items()}


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file (``what``: "mapping file", "config file") as a dict; ConfigError names the file and line.

    TOML files are UTF-8 (a leading byte-order mark is tolerated).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{what} {path} is not UTF-8 text: line {line} has the byte 0x{data[exc.start]:02x}; save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def toml_type(value: object) -> str:
    """What a TOML value is, as an error message names it ("a string", "an array of tables", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, list):
        return "an array of tables" if value and all(isinstance(v, dict) for v in value) else "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
