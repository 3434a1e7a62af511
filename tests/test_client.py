"""AttioClient against the emulator over loopback HTTP: pagination, filters, error mapping, secrecy (the
transport's retries and error answers: test_http.py)."""

from __future__ import annotations

import itertools
import logging
import re
from datetime import datetime, timezone

import anyio
import pytest
from aiohttp import web
from extract_helpers import FAST_RETRY, brute_force
from extract_helpers import client_config as config_for
from http_helpers import all_ids, new_meeting, serve

from connector import (
    AttioClient,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    ConnectorError,
    InvalidArgumentError,
    MeetingQuery,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RetryPolicy,
    SyncAttioClient,
)
from connector.cli import exit_code
from connector.cli.common import EXIT_API, EXIT_TRANSPORT
from connector.extract import ExtractConfig, extract_table

pytestmark = pytest.mark.anyio

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
