"""AttioClient against the emulator over loopback HTTP: pagination, filters, error mapping, retries, secrecy."""

from __future__ import annotations

import itertools
import logging
import re
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

import anyio
import pytest
from aiohttp import web
from extract_helpers import FAST_RETRY, brute_force
from extract_helpers import client_config as config_for

from connector import (
    ApiError,
    AttioClient,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    ConnectError,
    ConnectorError,
    InvalidArgumentError,
    MalformedResponseError,
    MeetingQuery,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RetryPolicy,
    ServerError,
    SyncAttioClient,
)
from connector.cli import exit_code
from connector.cli.common import EXIT_API, EXIT_TRANSPORT
from connector.extract import ExtractConfig, extract_table
from connector.http import parse_retry_after, rate_limit_wait

pytestmark = pytest.mark.anyio

async def all_ids(client: AttioClient, query: MeetingQuery) -> list[str]:
    return [m["id"]["meeting_id"] async for page in client.list_meetings(query) for m in page.meetings]


async def test_pages_to_the_end_in_order(emulator) -> None:
    expected = [m["id"]["meeting_id"] for m in emulator.emulator.store.all_meetings()]
    async with AttioClient(config_for(emulator)) as client:
        pages = [page async for page in client.list_meetings(MeetingQuery(limit=37))]
        desc = await all_ids(client, MeetingQuery(limit=200, sort="start_desc"))
    got = [m["id"]["meeting_id"] for page in pages for m in page.meetings]
    assert len(expected) > 37 * 3
    assert sorted(got) == sorted(expected) and len(set(got)) == len(got)
    assert pages[0].cursor is None and pages[-1].next_cursor is None
    assert all(p.next_cursor == q.cursor for p, q in itertools.pairwise(pages))
    assert all(len(p.meetings) == 37 for p in pages[:-1])
    assert sorted(desc) == sorted(expected) and desc != got


async def test_filters_reach_the_api(emulator) -> None:
    meetings = emulator.emulator.store.all_meetings()
    someone = next(p["email_address"] for m in meetings for p in m["participants"] if p["email_address"])
    linked = next(r for m in meetings for r in m["linked_records"])
    async with AttioClient(config_for(emulator)) as client:
        by_person = await all_ids(client, MeetingQuery(participants=(someone.upper(),)))
        by_record = await all_ids(
            client, MeetingQuery(linked_object=linked["object_slug"], linked_record_id=linked["record_id"])
        )
        window = MeetingQuery(
            ends_from=datetime(2025, 1, 1, tzinfo=timezone.utc), starts_before=datetime(2025, 2, 1, tzinfo=timezone.utc)
        )
        in_window = await all_ids(client, window)
    assert set(by_person) == {
        m["id"]["meeting_id"]
        for m in meetings
        if any((p["email_address"] or "").lower() == someone.lower() for p in m["participants"])
    }
    assert set(by_record) == {
        m["id"]["meeting_id"] for m in meetings if any(r["record_id"] == linked["record_id"] for r in m["linked_records"])
    }
    assert 0 < len(in_window) < len(meetings)


async def test_get_meeting_and_typed_not_found(emulator) -> None:
    meeting = emulator.emulator.store.all_meetings()[5]
    missing = "00000000-0000-4000-8000-000000000000"
    async with AttioClient(config_for(emulator)) as client:
        assert await client.get_meeting(meeting["id"]["meeting_id"]) == meeting
        with pytest.raises(NotFoundError) as info:
            await client.get_meeting(missing)
        with pytest.raises(InvalidArgumentError):
            await client.get_meeting("not-a-uuid")
    err = info.value
    assert (err.status, err.type, err.code) == (404, "invalid_request_error", "not_found")
    assert (err.method, err.path) == ("GET", f"/v2/meetings/{missing}")
    assert err.message == f'Meeting with ID "{missing}" was not found.'
    assert not err.retryable


async def test_server_side_400_is_typed(emulator) -> None:
    async with AttioClient(config_for(emulator)) as client:
        with pytest.raises(BadRequestError) as info:
            await client.list_page(MeetingQuery(extra={"sort": "by_title"}))
    assert info.value.status == 400 and info.value.code == "validation_type"
    assert emulator.emulator.stats.count(method="GET") == 1, "a 400 is never retried"


async def test_401_and_403_are_typed_and_never_retried(make_emulator) -> None:
    emu = make_emulator(tokens={"read-only": frozenset({"meeting:read", "record_permission:read"})})
    async with AttioClient(config_for(emu, token="wrong-token")) as client:
        with pytest.raises(AuthenticationError) as auth:
            await client.list_page()
    async with AttioClient(config_for(emu, token="read-only")) as client:
        assert (await client.list_page()).meetings
        with pytest.raises(PermissionDeniedError) as perm:
            await client.find_or_create_meeting(new_meeting("ref-403"))
    assert auth.value.status == 401 and auth.value.type == "auth_error"
    assert perm.value.status == 403 and "meeting:read-write" in perm.value.message
    assert emu.emulator.stats.count(method="POST") == 1


def new_meeting(ref: str) -> dict:
    return {
        "title": "Intro call",
        "description": "",
        "start": {"datetime": "2026-02-03T10:00:00Z", "timezone": "Europe/Berlin"},
        "end": {"datetime": "2026-02-03T10:30:00Z", "timezone": "Europe/Berlin"},
        "is_all_day": False,
        "participants": [{"email_address": "ana@acme.com", "is_organizer": True, "status": "accepted"}],
        "external_ref": ref,
    }


async def test_find_or_create_finds_the_second_time(emulator) -> None:
    async with AttioClient(config_for(emulator)) as client:
        first = await client.find_or_create_meeting(new_meeting("crm-1"))
        again = await client.find_or_create_meeting(new_meeting("crm-1"))
        with pytest.raises(InvalidArgumentError):
            await client.find_or_create_meeting(new_meeting("crm-2") | {"participants": []})
        fetched = await client.get_meeting(first["id"]["meeting_id"])
    assert again["id"] == first["id"] == fetched["id"]
    assert first["participants"][0]["name"] is None
    assert emulator.emulator.stats.count(method="POST") == 2, "an invalid body is never sent"


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504", "drop", "truncate"])
async def test_retries_transient_faults(emulator, fault: str) -> None:
    emulator.emulator.faults.script([fault, fault])
    async with AttioClient(config_for(emulator)) as client:
        page = await client.list_page(MeetingQuery(limit=10))
    assert len(page.meetings) == 10
    assert emulator.emulator.faults.pending == 0, "both faults were met"
    if fault == "drop":
        # aiohttp itself re-sends an idempotent GET once when the server hangs up before answering.
        assert client.stats.retries >= 1 and client.stats.transport_errors >= 1
    else:
        assert client.stats.retries == 2 and client.stats.requests == 3
    assert client.stats.rate_limited == (2 if fault == "429" else 0)


async def test_timeout_is_retried(emulator) -> None:
    emulator.emulator.faults.script(["slow"])
    async with AttioClient(config_for(emulator, timeout=0.3)) as client:
        page = await client.list_page(MeetingQuery(limit=3))
    assert len(page.meetings) == 3 and client.stats.retries == 1 and client.stats.transport_errors == 1


async def test_retries_are_bounded(emulator) -> None:
    emulator.emulator.faults.script(["503"] * 3)
    async with AttioClient(config_for(emulator, retry=RetryPolicy(max_attempts=3, initial_delay=0.01))) as client:
        with pytest.raises(ServerError) as info:
            await client.list_page()
    assert info.value.status == 503 and info.value.retryable and client.stats.requests == 3


MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("fault", "call", "retryable"),
    [
        pytest.param("429", "list", True, id="429"),
        pytest.param("500", "list", True, id="500"),
        pytest.param("503", "list", True, id="503"),
        pytest.param("truncate", "list", True, id="network-cut-body"),
        pytest.param(None, "missing", False, id="404"),
        pytest.param(None, "bad-sort", False, id="400"),
        pytest.param(None, "bad-token", False, id="401"),
    ],
)
async def test_what_the_client_retries_is_what_the_error_says_is_retryable(
    emulator, fault: str | None, call: str, retryable: bool
) -> None:
    """One owner of the decision: the error's ``retryable``; the retry loop and the CLI's exit code only ask it."""
    if fault:
        emulator.emulator.faults.script([fault, fault])
    before = emulator.emulator.stats.count(method="GET")
    token = "wrong-token" if call == "bad-token" else emulator.token
    async with AttioClient(config_for(emulator, token=token, retry=RetryPolicy(max_attempts=2, initial_delay=0.01))) as client:
        with pytest.raises(ConnectorError) as info:
            if call == "missing":
                await client.get_meeting(MISSING)
            else:
                await client.list_page(MeetingQuery(extra={"sort": "by_title"}) if call == "bad-sort" else None)
    error = info.value
    assert error.retryable is retryable
    assert emulator.emulator.stats.count(method="GET") - before == (2 if retryable else 1), "tries"
    assert exit_code(error) == (EXIT_TRANSPORT if retryable else EXIT_API)


async def test_ambiguous_write_failure_is_raised_not_retried(emulator) -> None:
    emulator.emulator.faults.script(["drop_after_commit"], method="POST")
    async with AttioClient(config_for(emulator)) as client:
        with pytest.raises((ConnectError, MalformedResponseError)) as info:
            await client.find_or_create_meeting(new_meeting("crm-9"), retry_ambiguous=False)
        found = await client.find_or_create_meeting(new_meeting("crm-9"))
    assert info.value.ambiguous
    assert emulator.emulator.stats.count(method="POST") == 2
    assert found["title"] == "Intro call"


async def test_429_on_a_write_is_retried_even_when_ambiguity_is_not(emulator) -> None:
    emulator.emulator.faults.script(["429"], method="POST")
    async with AttioClient(config_for(emulator)) as client:
        await client.find_or_create_meeting(new_meeting("crm-10"), retry_ambiguous=False)
    assert client.stats.rate_limited == 1 and client.stats.writes == 2


async def test_real_rate_limit_429s_are_absorbed(make_emulator) -> None:
    emu = make_emulator(read_rate=5)
    # The client's own budget is off, so the emulator's 5 reads/s produce real 429s with Retry-After dates.
    async with AttioClient(config_for(emu)) as client:
        ids = await all_ids(client, MeetingQuery(limit=25))
    assert len(ids) == len(emu.emulator.store.all_meetings())
    assert client.stats.rate_limited > 0 and client.stats.retries == client.stats.rate_limited


async def test_retry_after_http_date_is_obeyed() -> None:
    arrivals: list[datetime] = []
    promised: list[datetime] = []

    async def handler(request: web.Request) -> web.Response:
        now = datetime.now(timezone.utc)
        arrivals.append(now)
        if len(arrivals) == 1:
            reset = datetime.fromtimestamp(int(now.timestamp()) + 1, timezone.utc)
            promised.append(reset)
            return web.json_response(
                {"status_code": 429, "type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "slow down"},
                status=429,
                headers={"Retry-After": format_datetime(reset, usegmt=True)},
            )
        return web.json_response({"data": [], "pagination": {"next_cursor": None}})

    async with serve(handler) as url:
        async with AttioClient(ClientConfig(token="t", base_url=url, retry=FAST_RETRY)) as client:
            page = await client.list_page()
    assert page.meetings == [] and len(arrivals) == 2
    assert arrivals[1] >= promised[0], "the retry waited for the Retry-After date"


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:02 GMT", now) == 2.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:59:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    assert parse_retry_after("inf", now) is None and parse_retry_after("nan", now) is None
    policy = RetryPolicy(max_time=60)
    # A date already past (our clock ahead of Attio's) still holds for a second; a huge wait is capped.
    assert rate_limit_wait(0.0, policy) == 1.0 and rate_limit_wait(None, policy) == 1.0
    assert rate_limit_wait(0.4, policy) == 0.4 and rate_limit_wait(3600, policy) == 60
    assert parsedate_to_datetime("Thu, 01 Jan 2026 12:00:02 GMT").tzinfo is not None


async def test_a_repeating_cursor_is_refused() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"data": [], "pagination": {"next_cursor": "same"}})

    async with serve(handler) as url:
        async with AttioClient(ClientConfig(token="t", base_url=url, retry=FAST_RETRY)) as client:
            with pytest.raises(PaginationError):
                async for _ in client.list_meetings():
                    pass


async def test_a_cursor_that_comes_back_later_is_refused_by_every_pager() -> None:
    """One pagination rule (connector.client.Cursors) for the async and sync clients and the extract."""
    cycle = {None: "a", "a": "b", "b": "a"}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"data": [], "pagination": {"next_cursor": cycle[request.query.get("cursor")]}})

    async with serve(handler) as url:
        config = ClientConfig(token="t", base_url=url, retry=FAST_RETRY)
        async with AttioClient(config) as client:
            with pytest.raises(PaginationError, match="'a' a second time"):
                async for _ in client.list_meetings():
                    pass
            with pytest.raises(PaginationError, match="'a' a second time"):
                await extract_table(client, ExtractConfig(slices=1))

        def sync_pages() -> None:
            with SyncAttioClient(config) as sync:
                list(sync.list_meetings())

        with pytest.raises(PaginationError, match="'a' a second time"):
            await anyio.to_thread.run_sync(sync_pages)


async def test_the_token_never_shows(emulator, caplog) -> None:
    secret = "sk-test-do-not-leak-4242"
    caplog.set_level(logging.DEBUG)
    async with AttioClient(config_for(emulator, token=secret)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_page()
        text = f"{info.value!s} {info.value!r} {client!r} {client.config!r} {client._http!r}"
    assert secret not in text and secret not in caplog.text
    assert "Secret('***')" in repr(client.config)


def test_sync_client(emulator) -> None:
    meeting = emulator.emulator.store.all_meetings()[0]
    with SyncAttioClient(config_for(emulator)) as client:
        assert client.get_meeting(meeting["id"]["meeting_id"]) == meeting
        pages = list(client.list_meetings(MeetingQuery(limit=100)))
        with pytest.raises(NotFoundError):
            client.get_meeting("00000000-0000-4000-8000-000000000000")
        assert client.get_meeting(meeting["id"]["meeting_id"])["id"] == meeting["id"]
    assert sum(len(p.meetings) for p in pages) == len(emulator.emulator.store.all_meetings())


# ------------------------------------------------------------------------------- answers that are not JSON

PROXY_PAGE = "<html><head><title>414 Request-URI Too Large</title></head><body><center>nginx</center></body></html>"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "expected"),
    [
        pytest.param(414, PROXY_PAGE, "text/html", ApiError, ["-> 414: Request-URI Too Long", "text/html",
                                                             "414 Request-URI Too Large"], id="proxy-html-414"),
        pytest.param(400, "", None, BadRequestError, ["-> 400: Bad Request", "empty"], id="empty-400"),
        pytest.param(404, '{"error": "no such route"}', "application/json", NotFoundError,
                     ["-> 404: Not Found", "no such route"], id="json-without-message-404"),
        pytest.param(401, "Unauthorized\n\n  try again  ", "text/plain", AuthenticationError,
                     ["-> 401: Unauthorized", "'Unauthorized try again'"], id="plain-text-401"),
        pytest.param(400, "x" * 5000, "text/plain", BadRequestError, ["-> 400: Bad Request", "x" * 200 + "…"],
                     id="long-body-cut"),
    ],
)
async def test_an_error_body_that_is_not_attios_json_is_still_explained(status, body, content_type, error, expected) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type=content_type) if content_type else web.Response(
            status=status
        )

    async with serve(handler) as url:
        async with AttioClient(ClientConfig(token="t", base_url=url, retry=FAST_RETRY)) as client:
            with pytest.raises(error) as info:
                await client.list_page()
    text = str(info.value)
    assert info.value.status == status and f"HTTP {status}" not in text
    for part in expected:
        assert part in text, text
    assert "\n" not in text and len(text) < 400


async def test_an_error_page_that_echoes_the_token_is_masked() -> None:
    secret = "sk-test-echoed-by-a-proxy-9731"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"bad request; headers: {dict(request.headers)}", content_type="text/plain")

    async with serve(handler) as url:
        async with AttioClient(ClientConfig(token=secret, base_url=url, retry=FAST_RETRY)) as client:
            with pytest.raises(BadRequestError) as info:
                await client.list_page()
    assert "Bearer ***" in str(info.value) and secret not in str(info.value)


async def test_a_web_page_instead_of_the_api_says_so() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Attio</title>", content_type="text/html")

    async with serve(handler) as url:
        config = ClientConfig(token="t", base_url=url, retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
        async with AttioClient(config) as client:
            with pytest.raises(MalformedResponseError) as info:
                await client.list_page()
    text = str(info.value)
    assert "(HTTP 200) is text/html '<!doctype html><title>Attio</title>', not JSON" in text
    assert "base URL" in text


# ----------------------------------------------------------------------------------- long participant lists


async def test_the_longest_participant_list_that_fits_is_answered_in_full(emulator) -> None:
    meetings = emulator.emulator.store.all_meetings()
    known = sorted({p["email_address"] for m in meetings for p in m["participants"] if p["email_address"]})
    many = tuple(known[:40]) + tuple(f"nobody-{i:04d}@example.com" for i in range(1000))
    with pytest.raises(InvalidArgumentError) as info:
        MeetingQuery(participants=many)
    fit = int(re.search(r"(\d+) of these emails fit", str(info.value)).group(1))
    # Pages of 7 over two years: many requests, each with a cursor, each within the URL limit.
    query = MeetingQuery(
        participants=many[:fit], limit=7, sort="start_desc", ends_from="2024-01-01T00:00:00.000001+05:45",
        starts_before="2026-01-01T00:00:00.999999-09:30",
    )
    async with AttioClient(config_for(emulator)) as client:
        got = await all_ids(client, query)
    expected = brute_force(meetings, query)
    assert len(expected) > 14 and sorted(got) == sorted(expected) and len(set(got)) == len(got)
    assert emulator.emulator.stats.count(status=414) == 0
    assert emulator.emulator.stats.count(status=200) > 2


# --------------------------------------------------------------------------------------------- helpers

@asynccontextmanager
async def serve(handler):
    """A throwaway server for contract breaches the emulator never commits."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
