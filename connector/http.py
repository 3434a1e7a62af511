"""One aiohttp session per client: auth, timeouts, rate limits, retries and error mapping, in one place.

Every third-party exception (aiohttp, asyncio timeouts, JSON decoding) is translated into the
:mod:`connector.errors` tree here and nowhere else. Retries are driven by ``backoff``; a ``Retry-After``
header (an HTTP date, as Attio sends, or seconds) replaces the computed delay.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import aiohttp
import anyio
import backoff
import orjson

from .config import ClientConfig, RetryPolicy
from .errors import (
    ConfigError,
    ConnectError,
    ConnectorError,
    MalformedResponseError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
    error_for_status,
)
from .ratelimit import RateLimiter, RedisBudget, RequestKind, budget_key

__all__ = ["ClientStats", "HttpTransport", "answer_times", "first_send", "parse_retry_after", "rate_limit_wait"]

log = logging.getLogger("connector.http")


@dataclass
class ClientStats:
    """What one client did: requests sent (every attempt), retries, 429s, errors by kind."""

    requests: int = 0
    reads: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    retry_wait_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """A plain copy, for reports."""
        data = asdict(self)
        data["by_status"] = dict(self.by_status)
        return data


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


# Attio's Retry-After is the HTTP date of the next whole second. A date that is already past means our
# clock runs ahead of Attio's; waiting 0 would burn every attempt inside the same server window.
MIN_RATE_LIMIT_WAIT = 1.0


def rate_limit_wait(retry_after: float | None, policy: RetryPolicy) -> float:
    """How long a 429 holds its kind of request: the server's wait, at least a second, at most ``max_time``."""
    if retry_after is None or retry_after < 0.05:
        return MIN_RATE_LIMIT_WAIT
    return min(retry_after, policy.max_time)


def _retry_waits(policy: RetryPolicy) -> Callable[[], Generator[float, Any, None]]:
    """A backoff wait generator: full-jitter exponential delays, or the server's Retry-After when it gave one."""

    def waits() -> Generator[float, Any, None]:
        attempt = 0
        exc = yield 0.0  # backoff primes the generator with send(None)
        while True:
            ceiling = min(policy.max_delay, policy.initial_delay * policy.multiplier**attempt)
            delay = random.uniform(0, ceiling)
            # The server's Retry-After wins; a little jitter keeps a crowd of tasks from waking at once.
            retry_after = getattr(exc, "retry_after", None)
            if isinstance(exc, RateLimitError):
                delay = rate_limit_wait(retry_after, policy) + random.uniform(0.0, 0.05)
            elif retry_after is not None:
                delay = min(retry_after, policy.max_time) + random.uniform(0.0, 0.05)
            attempt += 1
            exc = yield delay

    return waits


# Where the requests of a task note when their answers are in (see answer_times); None: nobody asks.
_ANSWERS: ContextVar[list[float] | None] = ContextVar("connector_answers", default=None)


@contextmanager
def answer_times() -> Iterator[list[float]]:
    """A list that gets the ``time.perf_counter()`` of every answer this task's requests read, as soon as it is
    read: a round trip measured to there leaves out the decoding that follows (in a worker thread, which at a
    run's start may wait for Arrow's import)."""
    marks: list[float] = []
    token = _ANSWERS.set(marks)
    try:
        yield marks
    finally:
        _ANSWERS.reset(token)


# Set when a task's first request goes out (see first_send); None: nobody waits for it.
_SENDING: ContextVar[anyio.Event | None] = ContextVar("connector_sending", default=None)


@contextmanager
def first_send() -> Iterator[anyio.Event]:
    """An event set when a request of this task (or of the tasks it starts) is about to go out, its rate-limit
    turn come: what an extract waits for before it imports Arrow in a worker thread (deferred.py)."""
    sending = anyio.Event()
    token = _SENDING.set(sending)
    try:
        yield sending
    finally:
        _SENDING.reset(token)


SNIPPET_CHARS = 200


def _described(content_type: str, body: bytes, config: ClientConfig) -> str:
    """A body in one short line for an error message: its content type and start, any token masked."""
    text = " ".join(body.decode("utf-8", "replace").split())
    token = config.token.reveal() if config.token else ""
    if len(token) >= 8:  # a proxy's page may echo the request headers; shorter ones are no real tokens
        text = text.replace(token, "***")
    kind = content_type.split(";")[0].strip() or "no content type"
    if not text:
        return f"empty ({kind})"
    return f"{kind} {text[:SNIPPET_CHARS] + ('…' if len(text) > SNIPPET_CHARS else '')!r}"


def _error_envelope(
    status: int, reason: str | None, content_type: str, body: bytes, decoded: Any, config: ClientConfig
) -> Mapping[str, Any]:
    """Attio's error envelope, or one whose message says what came instead (a proxy's HTML page, nothing)."""
    if isinstance(decoded, Mapping) and decoded.get("message"):
        return decoded
    try:
        phrase = reason or HTTPStatus(status).phrase
    except ValueError:
        phrase = f"HTTP {status}"
    message = f"{phrase}; the answer is not Attio's JSON error but {_described(content_type, body, config)}"
    return {**(decoded if isinstance(decoded, Mapping) else {}), "message": message}


class HttpTransport:
    """Sends requests for :class:`~connector.client.AttioClient`; use as an async context manager."""

    def __init__(self, config: ClientConfig, stats: ClientStats | None = None) -> None:
        self.config = config
        self.stats = stats or ClientStats()
        shared = None
        if config.rate_limit_url and config.token:
            shared = RedisBudget(config.rate_limit_url, budget_key(config.base_url, config.token.reveal()))
        self.limiter = RateLimiter(config.limits, shared=shared)
        # Decoding is CPU work: more threads than cores add no speed, only memory (each thread that allocates
        # keeps an allocator heap of its own; measured on a sliced extract of 100k: 480 -> 315 MB peak RSS).
        self._decoders = anyio.CapacityLimiter(os.cpu_count() or 2)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        policy = config.retry

        def retryable(exc: Exception) -> bool:
            return isinstance(exc, ConnectorError) and exc.retryable

        def on_backoff(details: Mapping[str, Any]) -> None:
            self.stats.retries += 1
            self.stats.retry_wait_seconds += details.get("wait") or 0.0
            exc = details.get("exception")
            # Silence would look like a hang: say so when the network is the problem or the wait is long.
            level = logging.WARNING if isinstance(exc, TransportError) or (details.get("wait") or 0) >= 5 else logging.INFO
            log.log(
                level,
                "%s; retry %d of %d in %.1f s",
                exc,
                details.get("tries", 0),
                policy.max_attempts - 1,
                details.get("wait") or 0,
            )

        def retrying(giveup: Callable[[Exception], bool]) -> Any:
            return backoff.on_exception(
                _retry_waits(policy),
                ConnectorError,
                max_tries=policy.max_attempts,
                max_time=policy.max_time,
                giveup=giveup,
                jitter=None,
                on_backoff=on_backoff,
                logger=None,
            )(self._send_once)

        self._send_retrying = retrying(lambda exc: not retryable(exc))
        # For writes that must not be repeated blindly: only answers that prove nothing was done (429) retry.
        self._send_unambiguous = retrying(
            lambda exc: not retryable(exc) or (isinstance(exc, ConnectorError) and exc.ambiguous)
        )

    def __repr__(self) -> str:
        return f"HttpTransport(base_url={self.config.base_url!r}, closed={self._closed})"

    async def __aenter__(self) -> HttpTransport:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the session (connection pool sized to the in-flight cap)."""
        if self._closed:
            raise RuntimeError("this client has been closed; create a new one")
        if self._session is None:
            if not self.config.token:
                raise ConfigError("no Attio access token: set ATTIO_API_KEY")
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.config.limits.max_in_flight, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(
                    total=self.config.timeout, sock_connect=self.config.connect_timeout
                ),
                headers={"User-Agent": self.config.user_agent, "Accept": "application/json"},
                raise_for_status=False,
            )
            try:
                await self.limiter.open()
            except BaseException:
                session, self._session = self._session, None
                await session.close()
                raise

    async def aclose(self) -> None:
        """Close the session; the transport cannot be used again."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            await self.limiter.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        retry_ambiguous: bool = True,
        decode: Callable[[bytes], Any] | None = None,
        on_send: Callable[[], object] | None = None,
    ) -> Any:
        """Send with retries; return the decoded JSON body of a 2xx answer or raise a :mod:`connector.errors` error.

        ``decode`` replaces orjson for a 2xx body: it runs in a worker thread, inside the retry loop (a
        ``ValueError`` from it is a malformed answer, retried like one). ``on_send`` is called right before
        each attempt goes out, once its rate-limit turn has come (a loader's ledger notes the send there).
        """
        if self._session is None:
            await self.open()
        send = self._send_retrying if retry_ambiguous else self._send_unambiguous
        return await send(method, path, kind, params, json, decode, on_send)

    async def _send_once(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        params: Mapping[str, str] | None,
        json: Any,
        decode: Callable[[bytes], Any] | None = None,
        on_send: Callable[[], object] | None = None,
    ) -> Any:
        if self._session is None or self.config.token is None:
            raise ConfigError("the client is closed")
        url = self.config.base_url + path
        headers = {"Authorization": "Bearer " + self.config.token.reveal()}
        data = None
        if json is not None:
            data = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        async with self.limiter.slot(kind):
            if on_send is not None:
                on_send()
            sending = _SENDING.get()
            if sending is not None:
                sending.set()
            self.stats.requests += 1
            if kind == "read":
                self.stats.reads += 1
            else:
                self.stats.writes += 1
            try:
                async with self._session.request(method, url, params=params, data=data, headers=headers) as resp:
                    status, reason = resp.status, resp.reason
                    body = await resp.read()
                    marks = _ANSWERS.get()
                    if marks is not None:
                        marks.append(time.perf_counter())
                    retry_after_header = resp.headers.get("Retry-After")
                    content_type = resp.headers.get("Content-Type", "")
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                self.stats.transport_errors += 1
                raise RequestTimeoutError(
                    f"no complete answer within {self.config.timeout:g}s", method=method, path=path
                ) from exc
            except aiohttp.ClientPayloadError as exc:
                self.stats.transport_errors += 1
                raise MalformedResponseError("the answer was cut off mid-body", method=method, path=path) from exc
            except aiohttp.InvalidURL as exc:
                raise ConfigError(f"invalid base URL {self.config.base_url!r}") from exc
            except aiohttp.ClientError as exc:
                self.stats.transport_errors += 1
                raise ConnectError(
                    f"cannot reach {self.config.base_url}: {type(exc).__name__}", method=method, path=path
                ) from exc
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        try:
            if decode is not None and body and status < 400:
                decoded = await anyio.to_thread.run_sync(decode, body, limiter=self._decoders)
            else:
                decoded = orjson.loads(body) if body else None
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            if status < 400:
                self.stats.transport_errors += 1
                what = "is not valid JSON (cut off?)" if "json" in content_type else (
                    f"is {_described(content_type, body, self.config)}, not JSON; is the base URL Attio's API root?"
                )
                raise MalformedResponseError(f"the answer (HTTP {status}) {what}", method=method, path=path) from exc
            decoded = None
        if status < 400:
            return decoded
        retry_after = parse_retry_after(retry_after_header)
        envelope = _error_envelope(status, reason, content_type, body, decoded, self.config)
        error = error_for_status(status, envelope, method=method, path=path, retry_after=retry_after)
        if isinstance(error, RateLimitError):
            self.stats.rate_limited += 1
            # Attio's reset time is a whole second; without one, back off at least a little for everyone.
            await self.limiter.hold(kind, rate_limit_wait(retry_after, self.config.retry))
        elif status >= 500:
            self.stats.server_errors += 1
        raise error

