"""``AttioClient``: the three meetings calls of Attio's API, async, on one session with shared limits.

    async with AttioClient(ClientConfig.from_env()) as client:
        async for page in client.list_meetings(MeetingQuery(participants=("ana@acme.com",))):
            ...
        meeting = await client.get_meeting("cb59ab17-ad15-460c-a126-0715617c0853")

Many tasks may share one client: its rate limits, in-flight cap and retry policy hold across all of them.
:class:`SyncAttioClient` offers the same calls to code that is not async.

Pagination is one rule, :class:`Cursors`: follow ``next_cursor`` until it is null, and refuse a cursor
that comes back. ``list_meetings`` (async and sync), the loader's lookup (through ``list_meetings``) and
the extract's window cursors all page with it, and so do a meeting's call recordings
(:meth:`AttioClient.list_call_recordings`, the extract's child stream through
:meth:`AttioClient.call_recordings_page`). :meth:`AttioClient.fetch_page` is the raw read under
``list_page``: it hands the body to a caller's ``decode`` (in a worker thread, inside the retry loop),
which is how the extract turns pages into Arrow without the client knowing of Arrow;
:func:`page_from_body` checks a parsed body and makes the :class:`Page`. :class:`MeetingReader` is what
the extract engine needs of a client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload
from urllib.parse import quote

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .config import ClientConfig
from .errors import InvalidArgumentError, MalformedResponseError, PaginationError
from .http import ClientStats, HttpTransport
from .models import MEETINGS_PATH, MeetingQuery, is_valid_uuid, validate_linked_records, validate_meeting_body
from .ratelimit import RateLimiter
from .transcripts import validate_transcript

__all__ = [
    "AttioClient",
    "Cursors",
    "MeetingReader",
    "Page",
    "RecordingPage",
    "RecordingReader",
    "SyncAttioClient",
    "call_recordings_path",
    "page_from_body",
]

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of ``GET /v2/meetings``: its meetings, the cursor it was fetched with, and the next one."""

    meetings: list[dict[str, Any]]
    cursor: str | None
    next_cursor: str | None

    @property
    def is_last(self) -> bool:
        """True when the API said there is nothing after this page."""
        return self.next_cursor is None


class Cursors:
    """The pagination rule, in one place: follow ``next_cursor`` until null; a cursor that repeats is an error.

        cursors = Cursors(start)
        while True:
            page = fetch(cursors.cursor)
            if not cursors.follow(page.next_cursor):
                break
    """

    def __init__(self, cursor: str | None = None) -> None:
        self.cursor = cursor
        self._seen: set[str] = set()

    def follow(self, next_cursor: str | None) -> bool:
        """Move to ``next_cursor``; False at the end (null); PaginationError if the API gave it before."""
        if next_cursor is None:
            return False
        if next_cursor == self.cursor or next_cursor in self._seen:
            raise PaginationError(f"the API returned cursor {next_cursor[:40]!r} a second time")
        self._seen.add(next_cursor)
        self.cursor = next_cursor
        return True


def _data(body: Any, method: str, path: str) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise MalformedResponseError("the answer has no 'data'", method=method, path=path)
    return body["data"]


def _object(body: Any, method: str, path: str) -> dict[str, Any]:
    # The contract's single-record answers are {"data": {...}}; the parsed JSON body is Any to the checker.
    return cast(dict[str, Any], _data(body, method, path))


@dataclass(frozen=True, slots=True)
class RecordingPage:
    """One page of ``GET /v2/meetings/{meeting_id}/call_recordings``: its recordings (no transcripts) and the next cursor."""

    recordings: list[dict[str, Any]]
    cursor: str | None
    next_cursor: str | None


def _listed(body: Any, path: str) -> tuple[list[Any], str | None]:
    """The ``data`` list and ``pagination.next_cursor`` of a list answer; MalformedResponseError if it has not both."""
    records = _data(body, "GET", path)
    pagination = body.get("pagination")
    if not isinstance(records, list) or not isinstance(pagination, dict) or "next_cursor" not in pagination:
        raise MalformedResponseError("the answer lacks data[] or pagination.next_cursor", method="GET", path=path)
    next_cursor = pagination["next_cursor"]
    if next_cursor is not None and (not isinstance(next_cursor, str) or not next_cursor):
        raise MalformedResponseError("pagination.next_cursor is not a string or null", method="GET", path=path)
    return records, next_cursor


def page_from_body(body: Any, cursor: str | None) -> Page:
    """The :class:`Page` of a parsed ``GET /v2/meetings`` body; MalformedResponseError if it is not one."""
    meetings, next_cursor = _listed(body, MEETINGS_PATH)
    return Page(meetings, cursor, next_cursor)


def call_recordings_path(meeting_id: str, call_recording_id: str | None = None) -> str:
    """``/v2/meetings/{meeting_id}/call_recordings[/{call_recording_id}]``; InvalidArgumentError for an ID that is not a UUID."""
    path = _meeting_path(meeting_id) + "/call_recordings"
    if call_recording_id is None:
        return path
    if not isinstance(call_recording_id, str) or not is_valid_uuid(call_recording_id):
        raise InvalidArgumentError("call_recording_id", f"{call_recording_id!r} is not a UUID")
    return f"{path}/{quote(call_recording_id)}"


class MeetingReader(Protocol):
    """What the extract engine needs of a client (:class:`AttioClient` is one)."""

    @property
    def config(self) -> ClientConfig: ...

    @property
    def stats(self) -> ClientStats: ...

    @property
    def limiter(self) -> RateLimiter | None: ...  # whose share of the read budget an extract plans for

    async def fetch_page(self, query: MeetingQuery, cursor: str | None, decode: Callable[[bytes], T]) -> T: ...


class RecordingReader(MeetingReader, Protocol):
    """What the extract's call-recordings stream needs of a client besides meetings (:class:`AttioClient` is one)."""

    async def call_recordings_page(
        self, meeting_id: str, cursor: str | None = None, *, limit: int | None = None
    ) -> RecordingPage: ...

    @overload
    async def get_call_recording(
        self, meeting_id: str, call_recording_id: str, *, decode: None = None
    ) -> dict[str, Any]: ...
    @overload
    async def get_call_recording(
        self, meeting_id: str, call_recording_id: str, *, decode: Callable[[bytes], T]
    ) -> T: ...


class AttioClient:
    """Async client for Attio's meetings endpoints. Use ``async with``; it refuses use after close."""

    def __init__(self, config: ClientConfig | None = None, **overrides: Any) -> None:
        self.config = config.with_(**overrides) if config else ClientConfig.from_env(**overrides)
        self.stats = ClientStats()
        self._http = HttpTransport(self.config, self.stats)

    def __repr__(self) -> str:
        return f"AttioClient(base_url={self.config.base_url!r})"

    @property
    def limiter(self) -> Any:
        """The shared rate limiter (read and write budgets, in-flight cap)."""
        return self._http.limiter

    async def __aenter__(self) -> AttioClient:
        await self._http.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session."""
        await self._http.aclose()

    # ------------------------------------------------------------------------------------------ reads

    async def fetch_page(self, query: MeetingQuery, cursor: str | None, decode: Callable[[bytes], T]) -> T:
        """The body of one ``GET /v2/meetings`` page as ``decode(body_bytes)`` makes it.

        ``decode`` runs in a worker thread inside the retry loop (a ``ValueError`` from it is a malformed
        answer, retried); what it returns is the caller's to check (:func:`page_from_body` for a parsed body).
        """
        params = query.to_params()
        if cursor is not None:
            params["cursor"] = cursor
        body: T = await self._http.request("GET", MEETINGS_PATH, kind="read", params=params, decode=decode)
        return body

    async def list_page(self, query: MeetingQuery | None = None, cursor: str | None = None) -> Page:
        """Fetch one page of meetings matching ``query``, starting at ``cursor`` (None: the first page)."""
        params = (query or MeetingQuery()).to_params()
        if cursor is not None:
            params["cursor"] = cursor
        return page_from_body(await self._http.request("GET", MEETINGS_PATH, kind="read", params=params), cursor)

    async def list_meetings(
        self, query: MeetingQuery | None = None, *, cursor: str | None = None, max_pages: int | None = None
    ) -> AsyncIterator[Page]:
        """Yield pages until ``next_cursor`` is null (or ``max_pages``); raise if a cursor repeats."""
        cursors = Cursors(cursor)
        pages = 0
        while True:
            page = await self.list_page(query, cursors.cursor)
            yield page
            pages += 1
            if max_pages is not None and pages >= max_pages:
                return
            if not cursors.follow(page.next_cursor):
                return

    async def get_meeting(self, meeting_id: str) -> dict[str, Any]:
        """The meeting with this ID; :class:`~connector.errors.NotFoundError` if there is none."""
        if not isinstance(meeting_id, str) or not is_valid_uuid(meeting_id):
            raise InvalidArgumentError("meeting_id", f"{meeting_id!r} is not a UUID")
        path = f"{MEETINGS_PATH}/{quote(meeting_id)}"
        return _object(await self._http.request("GET", path, kind="read"), "GET", path)

    async def call_recordings_page(
        self, meeting_id: str, cursor: str | None = None, *, limit: int | None = None
    ) -> RecordingPage:
        """One page of a meeting's call recordings (without transcripts) from ``cursor`` (None: the first page).

        ``limit``: recordings per page, 1-200 (Attio's default: 50). NotFoundError for an unknown meeting.
        """
        path = call_recordings_path(meeting_id)
        params: dict[str, str] = {}
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 200:
                raise InvalidArgumentError("limit", f"must be a whole number from 1 to 200, got {limit!r}")
            params["limit"] = str(limit)
        if cursor is not None:
            params["cursor"] = cursor
        body = await self._http.request("GET", path, kind="read", params=params)
        recordings, next_cursor = _listed(body, path)
        return RecordingPage(recordings, cursor, next_cursor)

    async def list_call_recordings(self, meeting_id: str, *, limit: int | None = None) -> AsyncIterator[RecordingPage]:
        """Yield a meeting's pages of call recordings until ``next_cursor`` is null; raise if a cursor repeats."""
        cursors = Cursors()
        while True:
            page = await self.call_recordings_page(meeting_id, cursors.cursor, limit=limit)
            yield page
            if not cursors.follow(page.next_cursor):
                return

    @overload
    async def get_call_recording(
        self, meeting_id: str, call_recording_id: str, *, decode: None = None
    ) -> dict[str, Any]: ...
    @overload
    async def get_call_recording(
        self, meeting_id: str, call_recording_id: str, *, decode: Callable[[bytes], T]
    ) -> T: ...
    async def get_call_recording(
        self, meeting_id: str, call_recording_id: str, *, decode: Callable[[bytes], T] | None = None
    ) -> dict[str, Any] | T:
        """One call recording with its transcript inline (``transcript``: ``{segments, raw_transcript}`` or null).

        The answer holds ``video_url``, a download link valid for an hour: a credential in effect, for the
        caller to keep out of logs and files. ``decode`` (as for :meth:`fetch_page`) gets the raw body in a
        worker thread and its result is returned as it is; without it, the recording's dict. The deprecated
        transcript endpoint is never used. NotFoundError for an unknown meeting or recording.
        """
        path = call_recordings_path(meeting_id, call_recording_id)
        body = await self._http.request("GET", path, kind="read", decode=decode)
        return body if decode is not None else _object(body, "GET", path)

    # ----------------------------------------------------------------------------------------- writes

    async def find_or_create_meeting(
        self,
        meeting: Mapping[str, Any],
        *,
        retry_ambiguous: bool = True,
        require_external_ref: bool = True,
        on_send: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Find the meeting with this ``external_ref`` or create it; return the meeting.

        The body is validated first (:class:`~connector.errors.InvalidArgumentError`, nothing sent). With
        ``retry_ambiguous=False`` an answer that may hide a completed write (dropped connection, timeout, 5xx)
        is raised rather than retried, so that a caller on a create-only API can look before re-sending.
        ``on_send`` is called right before each attempt of the POST goes out (after its rate-limit wait).
        """
        body = validate_meeting_body(meeting, require_external_ref=require_external_ref)
        answer = await self._http.request(
            "POST", MEETINGS_PATH, kind="write", json={"data": body}, retry_ambiguous=retry_ambiguous, on_send=on_send
        )
        return _object(answer, "POST", MEETINGS_PATH)

    async def update_meeting(
        self, meeting_id: str, linked_records: Any, *, replace: bool = True
    ) -> dict[str, Any]:
        """Set a meeting's linked records (``PUT``, the only change Attio allows) or, with ``replace=False``,
        add to them (``PATCH``); return the meeting. PUT also unlinks what Attio linked from participants.

        Both are idempotent, so an answer lost in transit is retried like a read.
        """
        path = _meeting_path(meeting_id)
        body = {"data": {"linked_records": validate_linked_records(linked_records)}}
        answer = await self._http.request("PUT" if replace else "PATCH", path, kind="write", json=body)
        return _object(answer, "PUT" if replace else "PATCH", path)

    async def delete_meeting(self, meeting_id: str, *, retry_ambiguous: bool = True) -> None:
        """Delete a meeting. :class:`~connector.errors.NotFoundError` if there is none, and
        :class:`~connector.errors.BadRequestError` (code ``system_edit_unauthorized``) for one made by calendar sync.

        With ``retry_ambiguous=False`` a lost answer is raised rather than retried: a retry of a DELETE that was
        carried out answers 404, which only a caller that knows it sent the first one can read as done.
        """
        path = _meeting_path(meeting_id)
        await self._http.request("DELETE", path, kind="write", retry_ambiguous=retry_ambiguous)

    # ------------------------------------------------------------- call-recording writes (load-recordings)
    # Creates go through the "write-recordings" budget (Attio: 1 request/s for that endpoint); the reads
    # are call_recordings_page / list_call_recordings / get_call_recording above.

    async def create_call_recording(
        self,
        meeting_id: str,
        transcript: Any,
        *,
        video_url: str | None = None,
        retry_ambiguous: bool = True,
        on_send: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Create a call recording on a meeting from its transcript; return the recording (``processing``).

        The transcript is checked first (:func:`~connector.transcripts.validate_transcript`, nothing sent if
        bad). Attio offers no idempotency key here: with ``retry_ambiguous=False`` an answer that may hide a
        completed create is raised rather than retried, so that the caller can look before sending again.
        ``on_send`` is called right before each attempt goes out (after its rate-limit wait).
        """
        path = call_recordings_path(meeting_id)
        data: dict[str, Any] = {"transcript": validate_transcript(transcript)}
        if video_url is not None:
            data["video_url"] = video_url
        answer = await self._http.request(
            "POST",
            path,
            kind="write-recordings",
            json={"data": data},
            retry_ambiguous=retry_ambiguous,
            on_send=on_send,
        )
        return _object(answer, "POST", path)

    async def delete_call_recording(
        self, meeting_id: str, call_recording_id: str, *, retry_ambiguous: bool = True
    ) -> None:
        """Delete a call recording and its transcript; NotFoundError if there is none (also after a lost
        answer to an earlier DELETE, which ``retry_ambiguous=False`` lets a caller tell apart)."""
        path = call_recordings_path(meeting_id, call_recording_id)
        await self._http.request("DELETE", path, kind="write", retry_ambiguous=retry_ambiguous)


def _meeting_path(meeting_id: str) -> str:
    if not isinstance(meeting_id, str) or not is_valid_uuid(meeting_id):
        raise InvalidArgumentError("meeting_id", f"{meeting_id!r} is not a UUID")
    return f"{MEETINGS_PATH}/{quote(meeting_id)}"


class SyncAttioClient:
    """The same calls as :class:`AttioClient` for code that is not async; use ``with``.

    It runs an event loop in a helper thread (an anyio blocking portal) for as long as it is open.
    """

    def __init__(self, config: ClientConfig | None = None, **overrides: Any) -> None:
        self._client = AttioClient(config, **overrides)
        self._portal_cm: Any = None
        self._portal: BlockingPortal | None = None

    @property
    def config(self) -> ClientConfig:
        """The client's configuration."""
        return self._client.config

    @property
    def stats(self) -> ClientStats:
        """Requests, retries and 429s so far."""
        return self._client.stats

    def __enter__(self) -> SyncAttioClient:
        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        try:
            self._portal.call(self._client.__aenter__)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and stop its event loop thread."""
        if self._portal is not None:
            try:
                self._portal.call(self._client.aclose)
            finally:
                self._portal = None
                self._portal_cm.__exit__(None, None, None)

    def _call(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._portal is None:
            raise RuntimeError("use SyncAttioClient in a with-block")
        future = self._portal.start_task_soon(partial(func, *args, **kwargs))
        try:
            return future.result()
        except BaseException:
            # Ctrl-C (or any error) in this thread: cancel the call in the loop thread instead of letting
            # it run on through its retry waits.
            future.cancel()
            raise

    def list_page(self, query: MeetingQuery | None = None, cursor: str | None = None) -> Page:
        """One page, see :meth:`AttioClient.list_page`."""
        return self._call(self._client.list_page, query, cursor)

    def list_meetings(self, query: MeetingQuery | None = None, *, cursor: str | None = None) -> Iterator[Page]:
        """Pages until the last, see :meth:`AttioClient.list_meetings`."""
        cursors = Cursors(cursor)
        while True:
            page = self.list_page(query, cursors.cursor)
            yield page
            if not cursors.follow(page.next_cursor):
                return

    def get_meeting(self, meeting_id: str) -> dict[str, Any]:
        """See :meth:`AttioClient.get_meeting`."""
        return self._call(self._client.get_meeting, meeting_id)

    def list_call_recordings(self, meeting_id: str, *, limit: int | None = None) -> Iterator[RecordingPage]:
        """A meeting's pages of call recordings, see :meth:`AttioClient.list_call_recordings`."""
        cursors = Cursors()
        while True:
            page = self._call(self._client.call_recordings_page, meeting_id, cursors.cursor, limit=limit)
            yield page
            if not cursors.follow(page.next_cursor):
                return

    def get_call_recording(self, meeting_id: str, call_recording_id: str) -> dict[str, Any]:
        """See :meth:`AttioClient.get_call_recording`."""
        return self._call(self._client.get_call_recording, meeting_id, call_recording_id)

    def find_or_create_meeting(self, meeting: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """See :meth:`AttioClient.find_or_create_meeting`."""
        return self._call(self._client.find_or_create_meeting, meeting, **kwargs)

    def update_meeting(self, meeting_id: str, linked_records: Any, **kwargs: Any) -> dict[str, Any]:
        """See :meth:`AttioClient.update_meeting`."""
        return self._call(self._client.update_meeting, meeting_id, linked_records, **kwargs)

    def delete_meeting(self, meeting_id: str, **kwargs: Any) -> None:
        """See :meth:`AttioClient.delete_meeting`."""
        return self._call(self._client.delete_meeting, meeting_id, **kwargs)

    # ------------------------------------------------------------- call-recording writes (load-recordings)

    def create_call_recording(self, meeting_id: str, transcript: Any, **kwargs: Any) -> dict[str, Any]:
        """See :meth:`AttioClient.create_call_recording`."""
        return self._call(self._client.create_call_recording, meeting_id, transcript, **kwargs)

    def delete_call_recording(self, meeting_id: str, call_recording_id: str, **kwargs: Any) -> None:
        """See :meth:`AttioClient.delete_call_recording`."""
        return self._call(self._client.delete_call_recording, meeting_id, call_recording_id, **kwargs)
