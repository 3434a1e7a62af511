"""``load-recordings INPUT``: create a call recording per transcript (WebVTT, SRT, table of segments), exactly once.

Exit codes as for ``load``: 0 every input created or already present (or, in a dry run, valid); 1 some inputs
were rejected or failed: see the results file; 2 bad arguments or mapping, nothing sent; 3/4 Attio refused
the token or was unreachable; 130 interrupted by Ctrl-C or SIGTERM (run the same command again: the ledger
and a look at the meeting's recordings skip what is done).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import defaults
from .common import (
    EXIT_OK,
    EXIT_ROWS_FAILED,
    add_client_options,
    positive_int,
    print_report,
    rate,
    run_load_command,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``load-recordings`` subcommand."""
    parser = subparsers.add_parser(
        "load-recordings",
        help="create call recordings from transcripts (.vtt, .srt, or a .csv/.parquet of segments)",
        description="Create one call recording per transcript on its meeting, with the transcript, exactly once "
        "across runs (a ledger, and a look at the meeting's recordings before any create). Every input gets a "
        "line in the results file. Exit code 1 when any input was rejected or failed.",
    )
    parser.add_argument(
        "input",
        type=Path,
        metavar="DIR_OR_FILE",
        help="a transcript file, or a folder of them (not its sub-folders)",
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="TOML mapping (see sample_configs/recordings_mapping.toml)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        metavar="PATH",
        help="results file, .csv or .parquet (default INPUT.recordings.results.csv)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --results file even if it is not a results file of this tool (without it: refused)",
    )
    parser.add_argument(
        "--ledger", type=Path, metavar="PATH", help="SQLite ledger (default INPUT.recordings.ledger.sqlite)"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=defaults.RECORDINGS_CONCURRENCY, metavar="N",
        help=f"inputs handled at once (default {defaults.RECORDINGS_CONCURRENCY})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read, check and match every input; send nothing"
    )
    parser.add_argument(
        "--recording-rate",
        type=rate,
        metavar="R",
        help=f"client budget for creating call recordings, requests/s (default {defaults.RECORDING_WRITES_PER_SECOND:g}, "
        "below Attio's 1/s for that endpoint)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_client_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the load and print its report; 1 when any input was rejected or failed."""
    from ..load.recordings import RecordingsConfig, load_recordings  # here: see cli/load.py's run

    config = RecordingsConfig(
        mapping=args.mapping,
        results_path=args.results,
        ledger_path=args.ledger,
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        overwrite_results=args.overwrite,
    )
    report = run_load_command(
        args, load_recordings, args.input, config, unit="recording", desc="load-recordings"
    )
    print_report(args, report)
    return EXIT_OK if report.ok else EXIT_ROWS_FAILED
