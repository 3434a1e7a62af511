"""Configuration as small frozen values with named defaults.

Precedence, lowest first: defaults < config file < environment < explicit arguments (CLI flags).
The access token is held in a :class:`Secret`, whose repr and str never show it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidArgumentError

__all__ = [
    "DEFAULT_BASE_URL",
    "ClientConfig",
    "RateLimits",
    "RetryPolicy",
    "Secret",
    "read_toml",
    "toml_type",
]

DEFAULT_BASE_URL = "https://api.attio.com"
TOKEN_ENV = "ATTIO_API_KEY"
BASE_URL_ENV = "ATTIO_BASE_URL"


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

    A ``Retry-After`` from the server replaces the computed delay.
    """

    max_attempts: int = 8
    max_time: float = 300.0
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts", "must be at least 1")
        if self.max_time <= 0 or self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise InvalidArgumentError("retry policy", "times must be positive and the multiplier at least 1")


@dataclass(frozen=True)
class RateLimits:
    """Client-side budgets: requests per second for reads and writes, and a cap on requests in flight.

    Attio publishes 100 reads/s and 25 writes/s; the defaults stay a little below (96 and 24). 0 turns a budget off.
    """

    reads_per_second: float = 96.0
    writes_per_second: float = 24.0
    max_in_flight: int = 32

    def __post_init__(self) -> None:
        if self.reads_per_second < 0 or self.writes_per_second < 0:
            raise InvalidArgumentError("rate limit", "must be 0 (off) or positive")
        if self.max_in_flight < 1:
            raise InvalidArgumentError("max_in_flight", "must be at least 1")


@dataclass(frozen=True)
class ClientConfig:
    """Everything :class:`~connector.client.AttioClient` needs. Build it with :meth:`from_env` to read the environment."""

    token: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: RateLimits = field(default_factory=RateLimits)
    user_agent: str = "attio-meetings-connector/0.1"

    def __post_init__(self) -> None:
        if isinstance(self.token, str):
            object.__setattr__(self, "token", Secret(self.token))
        base = self.base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise InvalidArgumentError("base_url", f"must start with http:// or https://, got {base!r}")
        if base.endswith("/v2"):
            raise InvalidArgumentError("base_url", f"give the API root without /v2 (e.g. https://api.attio.com), got {base!r}")
        object.__setattr__(self, "base_url", base)
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise InvalidArgumentError("timeout", "must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ClientConfig:
        """Config from ``ATTIO_API_KEY`` and ``ATTIO_BASE_URL``; explicit ``overrides`` (not None) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get(TOKEN_ENV):
            values["token"] = Secret(env[TOKEN_ENV])
        if env.get(BASE_URL_ENV):
            values["base_url"] = env[BASE_URL_ENV]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> ClientConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


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
