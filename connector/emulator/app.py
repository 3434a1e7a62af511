"""The HTTP side: routes, the request pipeline (latency, auth, rate limit, faults) and counters.

Every request goes through, in order: the size limits (414 for a URL, 431 for a header line over
8 KB, as common front ends); ``latency_ms``; authentication (401) and scopes (403); the read or
write rate limit (429; POST, PATCH, PUT and DELETE are writes); then a fault, if one is scripted or
drawn. Error bodies use the envelope ``{status_code, type, code, message}``; the POST 400 also
carries ``statusCode`` and every 400 of a malformed request carries ``validation_errors``. Unknown
routes answer 404 ``not_found``.

PATCH/PUT ``/v2/meetings/{id}`` append to or overwrite a meeting's linked records (nothing else can
change; PUT also unlinks the people linked from participants); an unknown object is 400
``value_not_found`` (record IDs are not checked, as on POST). DELETE answers ``{}``, or 400
``system_edit_unauthorized`` for a meeting whose ``created_by_actor.type`` is ``system`` (calendar
sync: about a quarter of the seeded ones). DELETE needs ``meeting:read-write`` only, and deletes the
meeting's call recordings too. The call-recording routes are ``recording_api.RecordingApi``'s; they go
through the same pipeline with their own scopes, and creates through one more budget.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from .auth import DELETE_SCOPES, READ_SCOPES, WRITE_SCOPES, missing_scopes, token_actor_id, token_from_header
from .config import EmulatorConfig
from .faults import SERVER_ERRORS, FaultInjector
from .ratelimit import WindowLimiter, admit_all, next_second_http_date
from .recording_api import RecordingApi
from .responses import error, invalid, json_response, not_found, rate_limited
from .seed import record_id
from .store import MeetingStore, Posting, Window, make_key, split_key
from .timeutil import date_from_day_ms, render_datetime, render_nanos
from .validation import Invalid, encode_cursor, is_uuid, parse_links, parse_list, parse_post

__all__ = ["MAX_HEADER_LINE", "MAX_URL_BYTES", "PARSER_LIMIT", "Emulator", "Stats"]

# Front ends commonly refuse a request target or a header line over 8 KB (aiohttp's and nginx's
# defaults); Attio documents no figure. The parser accepts up to PARSER_LIMIT so that the emulator
# can answer what lies between with its JSON envelope rather than aiohttp's plain-text 400.
MAX_URL_BYTES = 8190
MAX_HEADER_LINE = 8190
PARSER_LIMIT = 64 * 1024

LIST_ROUTE = "/v2/meetings"
GET_ROUTE = "/v2/meetings/{meeting_id}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Stats:
    """What the emulator answered: ``responses[(method, route, status)]``; status 0 = dropped."""

    def __init__(self) -> None:
        self.responses: Counter[tuple[str, str, int]] = Counter()
        self.faults: Counter[str] = Counter()

    @property
    def requests(self) -> int:
        """Every answer so far, dropped connections included."""
        return sum(self.responses.values())

    def record(self, method: str, route: str, status: int) -> None:
        """Count one answer."""
        self.responses[(method, route, status)] += 1

    def count(self, method: str | None = None, route: str | None = None, status: int | None = None) -> int:
        """The answers that match every filter given (method, route pattern, status)."""
        return sum(
            n
            for (m, r, s), n in self.responses.items()
            if (method is None or m == method)
            and (route is None or r == route)
            and (status is None or s == status)
        )

    def reset(self) -> None:
        """Forget every answer and fault counted so far."""
        self.responses.clear()
        self.faults.clear()


class _Cut(web.StreamResponse):
    """Sends ``partial`` (if any) after the headers, then closes the connection."""

    def __init__(self, status: int = 200, partial: bytes | None = None, length: int = 0) -> None:
        super().__init__(status=status)
        self._partial = partial
        if partial is not None:
            self.content_type = "application/json"
            self.content_length = length

    async def prepare(self, request: web.BaseRequest) -> Any:
        if self._partial is not None:
            await super().prepare(request)
            await self.write(self._partial)
        if request.transport is not None:
            request.transport.close()
        raise ConnectionResetError("emulator fault: connection cut")


class Emulator:
    """The emulator's state (meetings, counters, faults) and its aiohttp application."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.store = MeetingStore(self.config.meetings, self.config.seed, self.config.workspace_id)
        if self.config.prerender:
            self.store.prerender()
        self.stats = Stats()
        self.faults = FaultInjector(self.config)
        self.read_limiter = WindowLimiter(self.config.read_rate)
        self.write_limiter = WindowLimiter(self.config.write_rate)
        self._ids = random.Random(f"created:{self.config.seed}")
        self.call_recordings = RecordingApi(self)
        # Each further workspace is an emulator of its own (data, limits, faults), chosen by the token.
        self.workspaces = {w.token: Emulator(self.config.for_workspace(w)) for w in self.config.workspaces}

    def app(self) -> web.Application:
        """The aiohttp application that serves this emulator's routes."""
        app = web.Application(middlewares=[self._pipeline], client_max_size=16 * 1024 * 1024)
        app.router.add_get(LIST_ROUTE, self._list, allow_head=False)
        app.router.add_post(LIST_ROUTE, self._create)
        app.router.add_get(GET_ROUTE, self._get, allow_head=False)
        app.router.add_patch(GET_ROUTE, self._append_links)
        app.router.add_put(GET_ROUTE, self._replace_links)
        app.router.add_delete(GET_ROUTE, self._delete)
        self.call_recordings.add_routes(app)
        return app

    # ---- pipeline ---------------------------------------------------------------------------
    @web.middleware
    async def _pipeline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        too_large = self._too_large(request)
        if too_large is not None:
            self.stats.record(request.method, request.path, too_large.status)
            return too_large
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        method = request.method
        http_exc = request.match_info.http_exception
        if http_exc is not None:
            route = request.path
            status = http_exc.status
            resp: web.StreamResponse = error(
                status,
                "invalid_request_error",
                "not_found" if status == 404 else "method_not_allowed",
                f"No route for {method} {request.path}.",
            )
            self.stats.record(method, route, status)
            return resp
        route = (
            request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        )
        resp = await self._in_workspace(request, handler, method)
        self.stats.record(
            method, route, 0 if isinstance(resp, _Cut) and resp._partial is None else resp.status
        )
        return resp

    @staticmethod
    def _too_large(request: web.Request) -> web.Response | None:
        """414 for a request target over MAX_URL_BYTES, 431 for a header line over MAX_HEADER_LINE."""
        size = len(request.raw_path.encode())
        if size > MAX_URL_BYTES:
            return error(
                414,
                "invalid_request_error",
                "uri_too_long",
                f"The request URL is {size} bytes long; at most {MAX_URL_BYTES} are accepted.",
            )
        for name, value in request.raw_headers:
            if len(name) + len(value) + 2 > MAX_HEADER_LINE:
                return error(
                    431,
                    "invalid_request_error",
                    "header_too_large",
                    f"The {name.decode('latin-1')} header is over {MAX_HEADER_LINE} bytes.",
                )
        return None

    async def _guarded(
        self, request: web.Request, handler: Handler, method: str, token: str | None, recordings: bool
    ) -> web.StreamResponse:
        """Authenticate, check scopes, admit within the budgets, maybe inject a fault, then handle."""
        write = method != "GET"  # POST, PATCH, PUT and DELETE share the write budget
        scopes: tuple[str, ...] = DELETE_SCOPES if method == "DELETE" else WRITE_SCOPES if write else READ_SCOPES
        budgets: tuple[WindowLimiter, ...] = ()
        if recordings:
            scopes, budgets = self.call_recordings.policy(method)
        missing = None if token is None else missing_scopes(self.config, token, scopes)
        if missing is None:
            return error(
                401, "auth_error", "unauthorized", "Authentication failed: a valid access token is required."
            )
        if missing:
            return error(
                403,
                "auth_error",
                "unauthorized",
                f"The access token is missing the required scope(s): {', '.join(missing)}.",
            )
        retry_after = admit_all((*budgets, self.write_limiter if write else self.read_limiter))
        if retry_after is not None:
            return rate_limited(retry_after)
        kind = self.faults.next(method)
        if kind is None:
            return await handler(request)
        self.stats.faults[kind] += 1
        if kind == "429":
            return rate_limited(next_second_http_date(time.time()))
        if kind in SERVER_ERRORS:
            code, message = SERVER_ERRORS[kind]
            return error(int(kind), "api_error", code, message)
        if kind == "drop":
            await request.read()
            return _Cut()
        resp = await handler(request)  # carried out; now spoil the answer
        body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
        if kind == "slow":
            await asyncio.sleep(self.config.slow_ms / 1000)
            return resp
        half = body[: len(body) // 2]
        if kind == "truncate":
            return json_response(resp.status, half)
        return _Cut(resp.status, half, len(body))  # drop_after_commit

    async def _in_workspace(self, request: web.Request, handler: Handler, method: str) -> web.StreamResponse:
        """Guard and handle the request in the workspace its token belongs to (this one unless another's)."""
        token = token_from_header(request.headers.get("Authorization"))
        recordings = getattr(handler, "__self__", None) is self.call_recordings
        workspace = self.workspaces.get(token) if token and self.workspaces else None
        if workspace is None:
            return await self._guarded(request, handler, method, token, recordings)
        owner = workspace.call_recordings if recordings else workspace
        return await workspace._guarded(request, getattr(owner, handler.__name__), method, token, recordings)

    # ---- handlers ---------------------------------------------------------------------------
    async def _list(self, request: web.Request) -> web.Response:
        try:
            q = parse_list(request.query)
        except Invalid as exc:
            return invalid(exc)
        store = self.store
        postings: list[Posting] = []
        if q.participants or q.linked:
            found = [store.posting("e:" + e) for e in q.participants]
            if q.linked:
                slug = store.object_slug_for(q.linked[0])
                found.append(store.posting(f"r:{slug}:{q.linked[1]}") if slug else None)
            postings = list({id(p): p for p in found if p is not None}.values())
        else:
            postings = [store.all]
        after = make_key(q.after[0], int(q.after[1].replace("-", ""), 16)) if q.after else None
        window = Window(q.ends_from, q.starts_before, q.timezone)
        rows, next_key = store.page(postings, window, after, q.descending, q.limit)
        cursor = b"null"
        if next_key is not None:
            sort_ms, id_int = split_key(next_key)
            h = f"{id_int:032x}"  # the canonical UUID text, without building a uuid.UUID
            meeting_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            cursor = orjson.dumps(encode_cursor(sort_ms, meeting_id, q.filter_hash))
        body = store.meetings_json(rows, b'{"data":[', b'],"pagination":{"next_cursor":' + cursor + b"}}")
        return json_response(200, body)

    def _row(self, request: web.Request) -> int | web.Response:
        """The store row of the path's meeting, or the 400 (not a UUID) or 404 to answer."""
        meeting_id = request.match_info["meeting_id"]
        if not is_uuid(meeting_id):
            return invalid(
                Invalid(
                    [
                        {
                            "code": "invalid_string",
                            "path": ["meeting_id"],
                            "message": "meeting_id must be a UUID.",
                        }
                    ]
                )
            )
        row = self.store.row_of(meeting_id.lower())
        if row is None:
            return not_found(f'Meeting with ID "{meeting_id}" was not found.')
        return row

    async def _get(self, request: web.Request) -> web.Response:
        row = self._row(request)
        if isinstance(row, web.Response):
            return row
        return json_response(200, b'{"data":' + self.store.meeting_bytes(row) + b"}")

    async def _append_links(self, request: web.Request) -> web.Response:
        return await self._set_links(request, append=True)

    async def _replace_links(self, request: web.Request) -> web.Response:
        return await self._set_links(request, append=False)

    async def _set_links(self, request: web.Request, *, append: bool) -> web.Response:
        """PATCH (append) or PUT (overwrite) a meeting's linked records; nothing else can change."""
        body = await request.read()
        row = self._row(request)
        if isinstance(row, web.Response):
            return row
        try:
            pairs = parse_links(body)
        except Invalid as exc:
            return invalid(exc)
        try:
            wanted = self._resolve_links(pairs)
        except Invalid as exc:
            return error(400, "invalid_request_error", "value_not_found", exc.errors[0]["message"])
        links = (
            [(lr["object_slug"], lr["record_id"]) for lr in self.store.meeting(row)["linked_records"]]
            if append
            else []
        )
        links = list(dict.fromkeys([*links, *wanted]))
        meeting = self.store.set_links(
            row,
            [
                {"object_slug": s, "object_id": self.store.remember_object(s), "record_id": r}
                for s, r in links
            ],
        )
        return json_response(200, {"data": meeting})

    async def _delete(self, request: web.Request) -> web.Response:
        """Delete a meeting; one made by calendar sync answers 400 ``system_edit_unauthorized``."""
        row = self._row(request)
        if isinstance(row, web.Response):
            return row
        if self.store.is_system(row):
            return error(
                400,
                "invalid_request_error",
                "system_edit_unauthorized",
                "Meetings created by calendar sync cannot be deleted through the API. Delete the underlying "
                "calendar event, or disconnect the calendar, instead.",
            )
        self.store.delete(row)
        self.call_recordings.store.forget_meeting(request.match_info["meeting_id"].lower())
        return json_response(200, {})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            new = parse_post(body, self.config.contract == "find-or-create")
            linked = self._resolve_links(new.data["linked_records"])
        except Invalid as exc:
            return invalid(exc, camel=True)
        if new.ref is not None:
            found = self.store.find_by_ref(new.ref)
            if found is not None:
                return json_response(200, {"data": found})
        token = token_from_header(request.headers.get("Authorization")) or ""
        meeting = self._build(new.data, new.start, new.end, linked, token)
        self.store.add(meeting, new.start[0], new.end[0], new.ref)
        return json_response(200, {"data": meeting})

    def _resolve_links(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for i, (obj, rid) in enumerate(pairs):
            slug = self.store.object_slug_for(obj)
            if slug is None:
                raise Invalid(
                    [
                        {
                            "code": "custom",
                            "path": ["data", "linked_records", i, "object"],
                            "message": f'Object with slug or ID "{obj}" was not found.',
                        }
                    ]
                )
            out.append((slug, rid))
        return out

    def _build(
        self,
        data: dict[str, Any],
        start: tuple[int, str | None],
        end: tuple[int, str | None],
        linked: list[tuple[str, str]],
        token: str,
    ) -> dict[str, Any]:
        def moment(ms: int, tz: str | None) -> dict[str, Any]:
            if data["is_all_day"]:
                return {"date": date_from_day_ms(ms).isoformat()}
            return {"datetime": render_datetime(ms, tz), "timezone": tz}

        links = list(dict.fromkeys(linked))
        for p in data["participants"]:
            if (
                p["email_address"]
                and ("people", (rid := record_id("people", p["email_address"]))) not in links
            ):
                links.append(("people", rid))
        return {
            "id": {
                "workspace_id": self.config.workspace_id,
                "meeting_id": str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            },
            "title": data["title"],
            "description": data["description"],
            "is_all_day": data["is_all_day"],
            "start": moment(*start),
            "end": moment(*end),
            "participants": data["participants"],
            "linked_records": [
                {"object_slug": s, "object_id": self.store.remember_object(s), "record_id": r}
                for s, r in links
            ],
            "created_at": render_nanos(time.time_ns()),
            "created_by_actor": {"type": "api-token", "id": token_actor_id(token)},
        }
