"""Every exception the connector raises, in one tree.

    ConnectorError
    ├── ConfigError                  bad configuration or arguments, raised before any request
    │   ├── InvalidArgumentError     (also a ValueError) one argument, named, with the reason
    │   └── BrokenInputError         the input file cannot be read from one row on: names file and row
    ├── TransportError               the request may not have reached Attio, or its answer was lost
    │   ├── ConnectError             could not connect / connection dropped     (retryable)
    │   ├── RequestTimeoutError      no complete answer within the timeout      (retryable)
    │   ├── MalformedResponseError   the answer was cut off or was not JSON     (retryable)
    │   ├── RateLimitStoreError      the shared rate budget (Redis) failed; nothing was sent (retryable)
    │   └── StoreUnreachableError    an object store (S3, GCS, Azure) could not be reached (retryable)
    ├── ApiError                     Attio answered with an error envelope
    │   ├── BadRequestError          400 (Attio's ``validation_type`` and friends)
    │   ├── AuthenticationError      401
    │   ├── PermissionDeniedError    403 (e.g. a missing scope)
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429, carries ``retry_after`` seconds         (retryable)
    │   └── ServerError              5xx                     (retryable: 500, 502, 503, 504)
    ├── DestinationError             a database destination refused the write (login, permission, table)
    │   └── DestinationUnreachableError  the database could not be reached, or went away  (retryable)
    ├── LedgerError                  a load's SQLite ledger could not be read or written (disk full, damaged)
    ├── ResultsError                 a load's results file could not be written (disk full, a folder it may not write)
    ├── PaginationError              the API broke the pagination contract (a cursor repeated)
    ├── SchemaError                  a meeting lacks a required field, or has the wrong type
    └── RowError                     one input row is invalid: file, row, column and reason

Whether an error may be retried is decided here and nowhere else: ``retryable``, a property of the error's
type (for an :class:`ApiError`, of its status: :data:`RETRYABLE_STATUSES`), never a match on its text. The
client's retry loop, the CLI's exit code and the orchestrators' retries all ask it.
``ambiguous`` says the request may have been carried out although no answer arrived: a write that
failed so must not be re-sent blindly on an API that does not de-duplicate.

No error ever holds the access token: errors are built from method, path and Attio's own body.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "RETRYABLE_STATUSES",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "BrokenInputError",
    "ConfigError",
    "ConnectError",
    "ConnectorError",
    "DestinationError",
    "DestinationUnreachableError",
    "InvalidArgumentError",
    "LedgerError",
    "MalformedResponseError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitStoreError",
    "RequestTimeoutError",
    "ResultsError",
    "RowError",
    "SchemaError",
    "ServerError",
    "StoreUnreachableError",
    "TransportError",
    "error_for_status",
    "shown",
]


# The answers worth sending the same request again for (Attio's own SDK retries these): over the rate limit, and
# the 5xx that say "not now". 501 or 505 would fail the same way again.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ConnectorError(Exception):
    """Base of every error the connector raises; ``retryable``: sending the same request again may succeed."""

    retryable: bool = False
    ambiguous: bool = False
    hint: str | None = None


class ConfigError(ConnectorError):
    """The configuration or the arguments are wrong; nothing was sent."""

    hint = "check the arguments and configuration"


class InvalidArgumentError(ConfigError, ValueError):
    """One argument is invalid; ``argument`` names it."""

    def __init__(self, argument: str, reason: str) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"invalid {argument}: {reason}")


class BrokenInputError(ConfigError):
    """The input cannot be read from ``row`` on (bytes not in its encoding, a quote that never closes, a
    damaged row group). Raised while opening a file it stops the load before anything is sent; met part-way,
    the load finishes the rows before ``row`` and its report carries the message (``input_error``)."""

    hint = "fix the file at the row named (or the [source] options of the mapping)"

    def __init__(self, reason: str, *, file: str, row: int) -> None:
        self.reason = reason
        self.file = file
        self.row = row
        super().__init__(f"{file}: row {row}: {reason}")


class TransportError(ConnectorError):
    """The request failed below HTTP: no (complete) answer arrived."""

    retryable = True
    ambiguous = True
    hint = "check the network and the base URL; the request was retried"

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        super().__init__(f"{message}{where}")


class ConnectError(TransportError):
    """The connection could not be opened, or was dropped before the answer was complete."""


class RequestTimeoutError(TransportError):
    """No complete answer within the configured timeout."""

    hint = "the API answered too slowly; raise --timeout or try again later"


class MalformedResponseError(TransportError):
    """The answer was not the JSON the contract describes (for example cut off mid-body)."""


class RateLimitStoreError(TransportError):
    """The Redis of the shared rate budget could not be reached or failed; the request was not sent."""

    ambiguous = False
    hint = "check that Redis at the rate-limit URL (CONNECTOR_RATE_LIMIT_URL, --rate-limit-url) is running and reachable"


class StoreUnreachableError(TransportError):
    """The object store could not be reached, or kept failing, after its SDK's retries."""

    hint = "check the network and the endpoint (AWS_ENDPOINT_URL...); an extract keeps its checkpoint: --resume continues"


class ApiError(ConnectorError):
    """Attio answered with an error: status, Attio's ``type`` and ``code``, method and path."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str | None = None,
        code: str | None = None,
        method: str = "",
        path: str = "",
        validation_errors: Sequence[Mapping[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.method = method
        self.path = path
        self.validation_errors = list(validation_errors or [])
        self.retry_after = retry_after
        self.retryable = status in RETRYABLE_STATUSES
        super().__init__(self._text())

    def _text(self) -> str:
        kind = "/".join(part for part in (self.type, self.code) if part)
        text = f"{self.method} {self.path} -> {self.status}"
        if kind:
            text += f" {kind}"
        text += f": {self.message}"
        details = [
            f"{'.'.join(str(p) for p in err.get('path', []))}: {err.get('message', '')}".strip(": ")
            for err in self.validation_errors
        ]
        if details:
            text += " [" + "; ".join(details) + "]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data (for results files and reports)."""
        return {"status": self.status, "type": self.type, "code": self.code, "message": self.message}


class BadRequestError(ApiError):
    """400: Attio rejected the request (``validation_type`` and similar)."""

    hint = "the request was rejected as invalid; see the message for the field"


class AuthenticationError(ApiError):
    """401: no token, or an unknown one."""

    hint = "set ATTIO_API_KEY to a valid access token"


class PermissionDeniedError(ApiError):
    """403: the token lacks a scope this call needs."""

    hint = (
        "give the token the scopes named: meeting:read and record_permission:read to read, "
        "meeting:read-write to load"
    )


class NotFoundError(ApiError):
    """404: no such meeting (or no such route: a wrong base URL)."""

    hint = "check the meeting ID, and that the base URL is Attio's API root"


class RateLimitError(ApiError):
    """429: over Attio's rate limit; ``retry_after`` is the wait in seconds. Never carried out."""

    hint = "lower the rate limits or concurrency; Attio asked us to slow down"


class ServerError(ApiError):
    """5xx: Attio failed; the request may or may not have been carried out (retryable: 500, 502, 503, 504)."""

    ambiguous = True
    hint = "Attio had a problem; try again later"


class DestinationError(ConnectorError):
    """A database destination refused the write: wrong password, no permission, an incompatible table.

    The message names the destination without its password; the table is as it was before the run.
    """

    hint = "check the database URL, its user's privileges and the table named"  # the message says nothing changed


class DestinationUnreachableError(DestinationError):
    """The database could not be reached, or the connection was lost during the write (nothing was committed)."""

    retryable = True
    hint = "check that the database server is running and reachable; the table was not changed, run the command again"


class LedgerError(ConnectorError):
    """The ledger file could not be read or written (disk full, read-only, damaged)."""

    hint = "check the ledger file, its directory and the free disk space; run the same command again"


class ResultsError(ConnectorError):
    """A load's results file could not be written (disk full, a folder it may not write in): names the file.

    The file is left valid up to its last whole line (a Parquet one is not published); the ledger holds
    every row done, so the same command run again writes a complete one.
    """

    hint = "check the free disk space and that the folder may be written, or give --results another place; then run the same command again"


class PaginationError(ConnectorError):
    """The API broke pagination: a cursor came back that was seen before."""

    hint = "the API returned a repeating cursor; report this to Attio"


class SchemaError(ConnectorError):
    """A meeting from the API does not fit the schema: names the meeting and the field."""

    hint = "the API returned a meeting the schema does not allow; see the field named"


class RowError(ConnectorError):
    """An input row is invalid: names file, row, column and reason."""

    hint = "fix the input row or the column mapping"

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None, column: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.row = row
        self.column = column
        where = ", ".join(
            part
            for part in (
                file and f"file {file}",
                row is not None and f"row {row}",
                column and f"column {column!r}",
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


def shown(value: object, limit: int = 60) -> str:
    """A user's value as an error message quotes it: its repr, cut after ``limit`` characters.

    A 5 MB cell must not become a 5 MB error line in the console and the results file.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}…{size}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'output'?)`` for a name one typo away from one of ``choices``, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_for_status(
    status: int,
    body: Mapping[str, Any] | None,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> ApiError:
    """Build the typed error for an HTTP error status from Attio's envelope (``status_code`` or ``statusCode``)."""
    body = body if isinstance(body, Mapping) else {}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    message = body.get("message")
    raw_errors = body.get("validation_errors")
    return cls(
        str(message) if message else f"HTTP {status}",
        status=status,
        type=body.get("type") if isinstance(body.get("type"), str) else None,
        code=body.get("code") if isinstance(body.get("code"), str) else None,
        method=method,
        path=path,
        validation_errors=[e for e in raw_errors if isinstance(e, Mapping)] if isinstance(raw_errors, list) else None,
        retry_after=retry_after,
    )
