"""The HTTP transport (connector/http.py) over loopback: retries, timeouts, 429s and Retry-After, ambiguous
writes, and error answers explained in one line without the token."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from aiohttp import web
from extract_helpers import FAST_RETRY
from extract_helpers import client_config as config_for
from http_helpers import all_ids, new_meeting, serve

from connector import (
    ApiError,
    AttioClient,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    ConnectError,
    MalformedResponseError,
    MeetingQuery,
    NotFoundError,
    RetryPolicy,
    ServerError,
)
from connector.http import answer_times, first_send, parse_retry_after, rate_limit_wait

pytestmark = pytest.mark.anyio


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
    # 2 s: well under the fault's 5 s, and room for the retried answer on a starved machine (0.3 s timed it out too)
    async with AttioClient(config_for(emulator, timeout=2.0)) as client:
        page = await client.list_page(MeetingQuery(limit=3))
    assert len(page.meetings) == 3 and client.stats.retries == 1 and client.stats.transport_errors == 1


async def test_retries_are_bounded(emulator) -> None:
    emulator.emulator.faults.script(["503"] * 3)
    async with AttioClient(
        config_for(emulator, retry=RetryPolicy(max_attempts=3, initial_delay=0.01))
    ) as client:
        with pytest.raises(ServerError) as info:
            await client.list_page()
    assert info.value.status == 503 and info.value.retryable and client.stats.requests == 3


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
                {
                    "status_code": 429,
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                    "message": "slow down",
                },
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


# ------------------------------------------------------------------------------- answers that are not JSON
PROXY_PAGE = (
    "<html><head><title>414 Request-URI Too Large</title></head><body><center>nginx</center></body></html>"
)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "expected"),
    [
        pytest.param(
            414,
            PROXY_PAGE,
            "text/html",
            ApiError,
            ["-> 414: Request-URI Too Long", "text/html", "414 Request-URI Too Large"],
            id="proxy-html-414",
        ),
        pytest.param(400, "", None, BadRequestError, ["-> 400: Bad Request", "empty"], id="empty-400"),
        pytest.param(
            404,
            '{"error": "no such route"}',
            "application/json",
            NotFoundError,
            ["-> 404: Not Found", "no such route"],
            id="json-without-message-404",
        ),
        pytest.param(
            401,
            "Unauthorized\n\n  try again  ",
            "text/plain",
            AuthenticationError,
            ["-> 401: Unauthorized", "'Unauthorized try again'"],
            id="plain-text-401",
        ),
        pytest.param(
            400,
            "x" * 5000,
            "text/plain",
            BadRequestError,
            ["-> 400: Bad Request", "x" * 200 + "…"],
            id="long-body-cut",
        ),
    ],
)
async def test_an_error_body_that_is_not_attios_json_is_still_explained(
    status, body, content_type, error, expected
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return (
            web.Response(status=status, text=body, content_type=content_type)
            if content_type
            else web.Response(status=status)
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
        return web.Response(
            status=400, text=f"bad request; headers: {dict(request.headers)}", content_type="text/plain"
        )

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


async def test_a_task_can_wait_for_its_first_send_and_note_when_answers_are_read(emulator) -> None:
    # What an extract's start uses: import Arrow once the probe is sent; its round trip ends at the answer.
    async with AttioClient(config_for(emulator)) as client:
        with first_send() as sent, answer_times() as answered:
            assert not sent.is_set()
            began = time.perf_counter()
            page = await client.list_page(MeetingQuery(limit=5))
            ended = time.perf_counter()
            assert sent.is_set()
        await client.list_page(MeetingQuery(limit=5))  # outside: noted nowhere
    assert len(page.meetings) == 5
    assert len(answered) == 1 and began < answered[0] < ended
