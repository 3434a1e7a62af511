"""The call-recording routes (openapi-call-recordings.json), their scopes, budgets and validation.

``GET /v2/meetings/{meeting_id}/call_recordings`` lists (``limit`` 1..200, default 50; an empty
``cursor`` is refused), ``GET …/{call_recording_id}`` answers the recording with its whole transcript
and ``video_url``, ``POST`` creates one (at most 4,000 segments; ``video_url`` https and ``.mp4``),
``DELETE`` answers 204, and the deprecated ``GET …/transcript`` pages the segments,
``TRANSCRIPT_PAGE`` at a time. Reads need ``meeting:read`` and ``call_recording:read``; POST and
DELETE need ``call_recording:read-write`` instead. Reads count against the read budget, POST and DELETE
against the write budget, and POST also against a budget of its own (``recording_write_rate``,
Attio's 1 request/s); beyond ``recording_quota`` recordings made through the API, a create is 403
``quota_exceeded``. An unknown meeting is 404 ``not_found`` on every path; a path ID that is not a
UUID is 400 ``validation_type``. Errors carry ``status_code`` (snake case) only.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from .auth import token_actor_id, token_from_header
from .ratelimit import WindowLimiter
from .recordings import MAX_SEGMENTS, Recording, RecordingStore, raw_transcript
from .responses import error, invalid, json_response, not_found
from .validation import Invalid, body_data, field_error, is_uuid

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["LIST_ROUTE", "ONE_ROUTE", "TRANSCRIPT_PAGE", "TRANSCRIPT_ROUTE", "RecordingApi", "parse_create"]

LIST_ROUTE = "/v2/meetings/{meeting_id}/call_recordings"
ONE_ROUTE = LIST_ROUTE + "/{call_recording_id}"
TRANSCRIPT_ROUTE = ONE_ROUTE + "/transcript"
TRANSCRIPT_PAGE = 200  # segments per page of the deprecated transcript endpoint (Attio states none)
READ_SCOPES = ("meeting:read", "call_recording:read")
WRITE_SCOPES = ("meeting:read", "call_recording:read-write")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RecordingApi:
    """The call-recording handlers of one workspace's emulator, with its recordings and create budget."""

    def __init__(self, emulator: Emulator) -> None:
        self.config = emulator.config
        self.store = RecordingStore(emulator.store, emulator.config)
        self.create_limiter = WindowLimiter(self.config.recording_write_rate)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(LIST_ROUTE, self.list_recordings, allow_head=False)
        app.router.add_post(LIST_ROUTE, self.create_recording)
        app.router.add_get(ONE_ROUTE, self.get_recording, allow_head=False)
        app.router.add_delete(ONE_ROUTE, self.delete_recording)
        app.router.add_get(TRANSCRIPT_ROUTE, self.get_transcript, allow_head=False)

    def policy(self, method: str) -> tuple[tuple[str, ...], tuple[WindowLimiter, ...]]:
        """The scopes a request needs and the budgets it uses beyond the read or write one."""
        if method == "GET":
            return READ_SCOPES, ()
        return WRITE_SCOPES, (self.create_limiter,) if method == "POST" else ()

    # ---- handlers ---------------------------------------------------------------------------
    async def list_recordings(self, request: web.Request) -> web.Response:
        meeting_id = self._meeting(
            request, f'Meeting with ID "{request.match_info["meeting_id"]}" was not found.'
        )
        if isinstance(meeting_id, web.Response):
            return meeting_id
        try:
            limit, after = _list_query(request, meeting_id)
        except Invalid as exc:
            return invalid(exc)
        recs = self.store.of_meeting(meeting_id)
        if after is not None:
            recs = [r for r in recs if r.order > after]
        page = recs[:limit]
        cursor = None
        if len(recs) > limit:
            cursor = _encode({"m": meeting_id, "c": page[-1].created_ns, "r": page[-1].recording_id})
        return json_response(
            200, {"data": [self.store.summary(r) for r in page], "pagination": {"next_cursor": cursor}}
        )

    async def get_recording(self, request: web.Request) -> web.Response:
        rec = self._recording(request)
        if isinstance(rec, web.Response):
            return rec
        return json_response(200, {"data": self.store.detail(rec)})

    async def create_recording(self, request: web.Request) -> web.Response:
        body = await request.read()
        meeting_id = self._meeting(request, "The referenced meeting was not found.")
        if isinstance(meeting_id, web.Response):
            return meeting_id
        try:
            segments = parse_create(body)
        except Invalid as exc:
            return invalid(exc)
        quota = self.config.recording_quota
        if quota and self.store.created_count() >= quota:
            return error(
                403,
                "auth_error",
                "quota_exceeded",
                f"The workspace has reached its quota of {quota} call recordings created through the API.",
            )
        token = token_from_header(request.headers.get("Authorization")) or ""
        rec = self.store.add(meeting_id, segments, token_actor_id(token))
        return json_response(200, {"data": self.store.summary(rec, "processing")})

    async def delete_recording(self, request: web.Request) -> web.StreamResponse:
        rec = self._recording(request, "The referenced call recording was not found.")
        if isinstance(rec, web.Response):
            return rec
        self.store.delete(rec)
        return web.Response(status=204)

    async def get_transcript(self, request: web.Request) -> web.Response:
        """Deprecated ``GET …/transcript``: TRANSCRIPT_PAGE segments a page; ``raw_transcript`` is the
        whole text on every page; a recording without a transcript answers one empty page."""
        rec = self._recording(request)
        if isinstance(rec, web.Response):
            return rec
        try:
            offset = _transcript_offset(request, rec.recording_id)
        except Invalid as exc:
            return invalid(exc)
        segments = self.store.segments(rec) if rec.status_at(time.time_ns()) == "completed" else None
        segments = segments or []
        end = offset + TRANSCRIPT_PAGE
        cursor = _encode({"r": rec.recording_id, "o": end}) if end < len(segments) else None
        return json_response(
            200,
            {
                "data": {
                    "id": {
                        "workspace_id": self.config.workspace_id,
                        "meeting_id": rec.meeting_id,
                        "call_recording_id": rec.recording_id,
                    },
                    "transcript": segments[offset:end],
                    "raw_transcript": raw_transcript(segments),
                    "web_url": self.store.web_url(rec) + "/transcript",
                },
                "pagination": {"next_cursor": cursor},
            },
        )

    # ---- path parameters ----------------------------------------------------------------------
    def _meeting(self, request: web.Request, missing: str) -> str | web.Response:
        """The path's meeting ID (lower case), or the 400 (not a UUID) or 404 (no such meeting) to answer."""
        meeting_id = request.match_info["meeting_id"]
        if not is_uuid(meeting_id):
            return _bad_id("meeting_id")
        if not self.store.exists(meeting_id.lower()):
            return not_found(missing)
        return meeting_id.lower()

    def _recording(self, request: web.Request, missing: str | None = None) -> Recording | web.Response:
        """The path's recording, or the 400 or 404 to answer (an unknown meeting is 404 as well)."""
        meeting_id = self._meeting(
            request, f'Meeting with ID "{request.match_info["meeting_id"]}" was not found.'
        )
        if isinstance(meeting_id, web.Response):
            return meeting_id
        recording_id = request.match_info["call_recording_id"]
        if not is_uuid(recording_id):
            return _bad_id("call_recording_id")
        rec = self.store.find(meeting_id, recording_id.lower())
        if rec is None:
            return not_found(missing or f'Call recording with ID "{recording_id}" was not found.')
        return rec


def _bad_id(name: str) -> web.Response:
    return invalid(Invalid([field_error("invalid_string", [name], f"{name} must be a UUID.")]))


# ---- cursors ----------------------------------------------------------------------------------
def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": 1, **data})).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> dict[str, Any]:
    if not cursor:
        raise Invalid([field_error("too_small", ["cursor"], "cursor must not be empty.")])
    bad = Invalid([field_error("invalid_string", ["cursor"], "cursor is not a valid pagination cursor.")])
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise bad
    return data


def _one(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise Invalid([field_error("invalid_type", [name], f"Parameter {name} may be given only once.")])
    return values[0] if values else None


def _list_query(request: web.Request, meeting_id: str) -> tuple[int, tuple[int, int] | None]:
    """``limit`` and the sort key after which the page starts."""
    limit = 50
    text = _one(request, "limit")
    if text is not None:
        if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= 200:
            raise Invalid(
                [field_error("invalid_type", ["limit"], "limit must be an integer between 1 and 200.")]
            )
        limit = int(text)
    cursor = _one(request, "cursor")
    if cursor is None:
        return limit, None
    data = _decode(cursor)
    if not (isinstance(data.get("c"), int) and is_uuid(data.get("r")) and isinstance(data.get("m"), str)):
        raise Invalid([field_error("invalid_string", ["cursor"], "cursor is not a valid pagination cursor.")])
    if data["m"] != meeting_id:
        raise Invalid(
            [field_error("custom", ["cursor"], "cursor was issued for another meeting's call recordings.")]
        )
    return limit, (data["c"], int(data["r"].replace("-", ""), 16))


def _transcript_offset(request: web.Request, recording_id: str) -> int:
    cursor = _one(request, "cursor")
    if cursor is None:
        return 0
    data = _decode(cursor)
    offset = data.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or data.get("r") != recording_id:
        raise Invalid([field_error("invalid_string", ["cursor"], "cursor is not a valid pagination cursor.")])
    return offset


# ---- POST body ----------------------------------------------------------------------------------
def parse_create(body: bytes) -> list[dict[str, Any]] | None:
    """The transcript's segments in the output shape (None when the body has no ``transcript``), or
    Invalid. ``video_url``, when given, must be an https URL of an ``.mp4`` file; it is not fetched."""
    data = body_data(body)
    errors: list[dict[str, Any]] = []
    if "video_url" in data:
        _video_url(data["video_url"], errors)
    segments = None
    if "transcript" in data:
        segments = _transcript(data["transcript"], errors)
    if errors:
        raise Invalid(errors)
    return segments


def _video_url(value: Any, errors: list[dict[str, Any]]) -> None:
    path = ["data", "video_url"]
    if not isinstance(value, str):
        errors.append(field_error("invalid_type", path, "video_url must be a string."))
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.netloc:
        errors.append(field_error("invalid_string", path, "video_url must be a valid URL."))
    elif parts.scheme.lower() != "https":
        errors.append(
            field_error("invalid_string", path, "Invalid video URL protocol. Only https is supported")
        )
    elif not parts.path.lower().endswith(".mp4"):
        errors.append(field_error("invalid_string", path, "Invalid video URL: only .mp4 files are supported"))


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _transcript(value: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    path: list[str | int] = ["data", "transcript"]
    if not isinstance(value, list):
        errors.append(field_error("invalid_type", path, "transcript must be an array of segments."))
        return []
    if len(value) > MAX_SEGMENTS:
        errors.append(
            field_error(
                "too_big",
                path,
                f"transcript may have at most {MAX_SEGMENTS} segments, got {len(value)}.",
            )
        )
        return []
    out = []
    for i, seg in enumerate(value):
        at = [*path, i]
        if not isinstance(seg, dict):
            errors.append(field_error("invalid_type", at, f"transcript[{i}] must be an object."))
            continue
        bad = len(errors)
        if not isinstance(seg.get("speech"), str):
            errors.append(
                field_error("invalid_type", [*at, "speech"], f"transcript[{i}].speech must be a string.")
            )
        start, end = seg.get("start_time"), seg.get("end_time")
        if not _number(start):
            errors.append(
                field_error(
                    "invalid_type", [*at, "start_time"], f"transcript[{i}].start_time must be a number."
                )
            )
        elif start < 0:
            errors.append(
                field_error(
                    "too_small", [*at, "start_time"], f"transcript[{i}].start_time must be at least 0."
                )
            )
        if not _number(end):
            errors.append(
                field_error("invalid_type", [*at, "end_time"], f"transcript[{i}].end_time must be a number.")
            )
        elif _number(start) and end < start:
            errors.append(
                field_error(
                    "custom",
                    [*at, "end_time"],
                    f"transcript[{i}].end_time must not be before its start_time.",
                )
            )
        speaker = seg.get("speaker")
        if not isinstance(speaker, dict) or not isinstance(speaker.get("name"), str):
            errors.append(
                field_error(
                    "invalid_type",
                    [*at, "speaker", "name"],
                    f"transcript[{i}].speaker.name is required and must be a string.",
                )
            )
        elif "email_address" in speaker and not (
            isinstance(speaker["email_address"], str) and _EMAIL.match(speaker["email_address"])
        ):
            errors.append(
                field_error(
                    "invalid_string",
                    [*at, "speaker", "email_address"],
                    f"transcript[{i}].speaker.email_address must be an email address.",
                )
            )
        if len(errors) == bad:
            out.append(
                {
                    "speech": seg["speech"],
                    "start_time": start,
                    "end_time": end,
                    "speaker": {"name": speaker["name"]},  # type: ignore[index]  # no error above: speaker is a dict
                }
            )
    return out
