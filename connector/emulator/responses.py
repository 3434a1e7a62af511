"""JSON answers and the error envelope ``{status_code, type, code, message}``, shared by every route."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .validation import Invalid

__all__ = ["error", "invalid", "json_response", "not_found", "rate_limited"]


class _Page(web.Response):
    """A response whose headers are sent on their own: aiohttp would otherwise copy a large body
    (a page of 200 meetings is ~400 kB) only to send the headers in the same write."""

    _send_headers_immediately = True


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    """``payload`` (bytes already serialized, or a value for orjson) as an ``application/json`` answer."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    kind = _Page if len(body) > 65536 else web.Response
    return kind(status=status, body=body, content_type="application/json", headers=headers)


def error(status: int, type_: str, code: str, message: str, **extra: Any) -> web.Response:
    """An error in Attio's envelope; ``extra`` adds keys (``headers=`` sets HTTP headers instead)."""
    headers = extra.pop("headers", None)
    return json_response(
        status, {"status_code": status, "type": type_, "code": code, "message": message, **extra}, headers
    )


def invalid(exc: Invalid, camel: bool = False) -> web.Response:
    """The 400 ``validation_type`` of ``exc``; ``camel`` adds ``statusCode`` (POST /v2/meetings' schema)."""
    extra: dict[str, Any] = {"statusCode": 400} if camel else {}
    return error(
        400, "invalid_request_error", "validation_type", str(exc), validation_errors=exc.errors, **extra
    )


def not_found(message: str) -> web.Response:
    """A 404 ``invalid_request_error``/``not_found``."""
    return error(404, "invalid_request_error", "not_found", message)


def rate_limited(retry_after: str) -> web.Response:
    """A 429 with ``Retry-After`` (an HTTP-date)."""
    return error(
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit exceeded, please try again later",
        headers={"Retry-After": retry_after},
    )
