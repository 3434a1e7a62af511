"""The ``emulator`` subcommand: serve the local Attio emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from connector.emulator.runner import add_arguments, config_from_args, serve

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``emulator`` on an ``add_subparsers()`` object; returns its parser."""
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Attio meetings API emulator",
        description="Serve a local emulator of Attio's meetings API with seeded data, rate limits and faults.",
    )
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; 0 on a clean stop, 2 on bad settings or a host and port it cannot listen on."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc} (hint: see python -m connector emulator --help)", file=sys.stderr)
        return 2
    return serve(config)
