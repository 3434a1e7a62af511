"""Helpers of the client and transport tests: a meeting to create, and a throwaway server for answers the emulator never gives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from connector import AttioClient, MeetingQuery


def new_meeting(ref: str) -> dict:
    """A valid meeting body with the external reference ``ref``."""
    return {
        "title": "Intro call",
        "description": "",
        "start": {"datetime": "2026-02-03T10:00:00Z", "timezone": "Europe/Berlin"},
        "end": {"datetime": "2026-02-03T10:30:00Z", "timezone": "Europe/Berlin"},
        "is_all_day": False,
        "participants": [{"email_address": "ana@acme.com", "is_organizer": True, "status": "accepted"}],
        "external_ref": ref,
    }


@asynccontextmanager
async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A throwaway server on a free loopback port (its URL) for contract breaches the emulator never commits."""
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


async def all_ids(client: AttioClient, query: MeetingQuery) -> list[str]:
    """Every meeting id the query lists, page by page."""
    return [m["id"]["meeting_id"] async for page in client.list_meetings(query) for m in page.meetings]
