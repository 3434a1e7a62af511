"""``load INPUT``: find-or-create one meeting per spreadsheet row, exactly once, with a results file.

Exit codes: 0 every row created, found or skipped; 1 some rows were rejected or failed (or --max-errors
stopped the load): see the results file; 2 bad arguments, mapping or input, nothing sent; 3/4 Attio refused
or was unreachable; 5 the input broke part-way (bytes not in its encoding, a quote that never closes, a
damaged row group): the rows before the break were loaded and are in the results; 6 --delete-missing deleted
nothing because more than --max-delete of the ledger's meetings left the input; 130 interrupted by Ctrl-C
or SIGTERM (run the same command again to finish: the ledger skips what is done).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .. import defaults
from ..errors import ConfigError
from ..storage import local_or_url
from .common import (
    EXIT_DELETE_GUARD,
    EXIT_INPUT_BROKEN,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    EXIT_TRANSPORT,
    add_client_options,
    non_negative_int,
    positive_int,
    print_report,
    run_load_command,
)


def _share(text: str) -> float:
    """``--max-delete``: a percentage, ``20`` or ``20%``, as a share (0.2)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage (say 20 or 20%)") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage from 0 to 100")
    return value / 100


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``load`` subcommand."""
    parser = subparsers.add_parser(
        "load",
        help="find-or-create meetings from a CSV, Parquet or .xlsx file",
        description="Load meetings from a spreadsheet: each valid row becomes one find-or-create call, exactly once "
        "across runs. Every row gets a line in the results file. Exit code 1 when any row was rejected or failed, "
        "5 when the input broke part-way (the rows before the break were loaded).",
    )
    parser.add_argument(
        "input", type=local_or_url, metavar="INPUT",
        help="a .csv/.tsv, .parquet or .xlsx file with a header row (or an s3://, gs://, az:// URL)",
    )
    parser.add_argument("--mapping", type=Path, metavar="FILE", help="TOML column mapping (see sample_configs/)")
    parser.add_argument(
        "--results", type=local_or_url, metavar="PATH",
        help="results file, .csv or .parquet, or a store URL (default INPUT_STEM.results.csv)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing --results file even if it is not a results file of this tool (without it: refused)",
    )
    parser.add_argument("--ledger", type=Path, metavar="PATH", help="SQLite ledger (default INPUT_STEM.ledger.sqlite)")
    parser.add_argument(
        "--concurrency", type=positive_int, default=defaults.LOAD_CONCURRENCY, metavar="N",
        help=f"rows sent at once (default {defaults.LOAD_CONCURRENCY})",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and map every row, send nothing")
    parser.add_argument("--max-errors", type=non_negative_int, metavar="N", help="stop once more than N rows were rejected or failed")
    parser.add_argument(
        "--contract",
        choices=("find-or-create", "create-only"),
        default="find-or-create",
        help="what POST /v2/meetings does: find-or-create (the default) or create-only (Attio's API since "
        "2026-07-31); decides only the order of a --sync replace (create first on create-only): on both the "
        "loader looks for a meeting before re-sending a row whose earlier send may have been carried out",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="keep Attio in step with the input: a row loaded before whose linked records changed is updated "
        "(PATCH/PUT), one whose other content changed is replaced (new meeting, old one deleted)",
    )
    parser.add_argument(
        "--delete-missing",
        action="store_true",
        help="with --sync: delete the meetings this ledger created whose external_ref is not in the input",
    )
    parser.add_argument(
        "--max-delete",
        type=_share,
        default=defaults.MAX_DELETE,
        metavar="PCT",
        help="--delete-missing deletes nothing (exit 6) when more than PCT %% of the ledger's meetings left "
        f"the input (default {defaults.MAX_DELETE * 100:g})",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=defaults.LOAD_BATCH_SIZE, metavar="N",
        help=f"rows read at a time (default {defaults.LOAD_BATCH_SIZE})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_client_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the load and print its report; 1 when any row was rejected or failed, 5 when the input broke part-way."""
    # Imported here, not above: every command's parser is built for each run, and an extract need not load these.
    from ..load import LoadConfig, load
    from ..storage.load import staged_load

    if args.delete_missing and not args.sync:
        raise ConfigError(
            "--delete-missing needs --sync: only a sync run compares the input with what the ledger loaded"
        )
    config = LoadConfig(
        mapping=args.mapping,
        results_path=args.results,
        ledger_path=args.ledger,
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        overwrite_results=args.overwrite,
        max_errors=args.max_errors,
        batch_size=args.batch_size,
        contract=args.contract,
        sync=args.sync,
        delete_missing=args.delete_missing,
        max_delete=args.max_delete,
    )
    # An input or results file on an object store goes through local scratch (connector.storage.load).
    with staged_load(args.input, args.results, dry_run=args.dry_run, overwrite=args.overwrite) as (source, results):
        config = dataclasses.replace(config, results_path=results)
        report = run_load_command(args, load, source, config, unit="row", desc="load")
    print_report(args, report)
    if report.dry_run and not args.json:
        for body in report.sample_bodies:
            print(json.dumps(body, indent=2, ensure_ascii=False))
    if report.input_error:
        if args.json:  # the summary, which says it too, is not on the terminal
            print(f"error: input broke: {report.input_error}", file=sys.stderr)
        return EXIT_INPUT_BROKEN
    if report.unreachable:
        return EXIT_TRANSPORT
    if report.delete_guard:
        return EXIT_DELETE_GUARD
    return EXIT_OK if report.ok else EXIT_ROWS_FAILED
