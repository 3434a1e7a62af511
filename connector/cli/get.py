"""``get MEETING_ID``: print one meeting as JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio
import orjson

from ..client import AttioClient
from .common import EXIT_OK, add_client_options, client_session


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``get`` subcommand."""
    parser = subparsers.add_parser("get", help="print one meeting as JSON", description="Print one meeting as JSON.")
    parser.add_argument("meeting_id", help="the meeting's UUID")
    add_client_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the meeting and print it."""

    async def fetch() -> dict[str, Any]:
        async with AttioClient(config) as client:
            return await client.get_meeting(args.meeting_id)

    with client_session(args) as config:
        meeting = anyio.run(fetch)
    sys.stdout.write(orjson.dumps(meeting, option=orjson.OPT_INDENT_2).decode() + "\n")
    return EXIT_OK
