"""``extract --output PATH``: meetings from Attio to Parquet, CSV or JSON Lines, with a final report.

A thin layer over :func:`connector.extract.extract`: flags -> MeetingQuery + ExtractConfig -> report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..client import AttioClient
from ..destinations import WRITE_MODES, database_sink, redact
from ..destinations.urls import is_database_url
from ..errors import ConfigError, InvalidArgumentError
from ..extract import ExtractConfig, ExtractProgress, extract, sink_for_path
from ..extract.dataset import Partitioning
from ..extract.sinks import CSV_FORMULAS, FORMATS
from ..models import MeetingQuery
from ..storage import ObjectStoreSink, is_url
from .common import (
    EXIT_OK,
    add_client_options,
    client_session,
    output_target,
    positive_int,
    progress,
    run_interruptible,
    timezone_name,
)


def _slices(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _partitioning(text: str) -> Partitioning:
    try:
        return Partitioning.parse(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _page_size(text: str) -> int:
    value = positive_int(text)
    if value > 200:
        raise argparse.ArgumentTypeError("Attio pages hold at most 200 meetings")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``extract`` subcommand."""
    parser = subparsers.add_parser(
        "extract",
        help="extract meetings to Parquet, CSV or JSON Lines",
        description="Extract Attio meetings to a file. The file appears only when the extract is complete; "
        "an interrupted run can be continued with --resume.",
    )
    parser.add_argument(
        "--output", "-o", required=True, type=output_target, metavar="PATH|URL",
        help="file (or directory with --partition-by) to write; an s3://, gs://, az:// URL (see the README's Object "
        "stores); or a database: duckdb:///path.duckdb, postgresql://user@host:port/db (password from PGPASSWORD "
        "or ~/.pgpass)",
    )
    database = parser.add_argument_group("database outputs (duckdb://, postgresql://)")
    database.add_argument("--table", metavar="[SCHEMA.]TABLE", help="table to write (default meetings)")
    database.add_argument(
        "--write-mode", choices=WRITE_MODES, metavar="MODE",
        help="replace (default: the table holds exactly this extract), append, merge (upsert by meeting_id), "
        "replace-window (delete the rows starting in [--ends-from, --starts-before), then insert; implies --window start)",
    )
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from the suffix, else parquet)")
    parser.add_argument(
        "--partition-by", type=_partitioning, metavar="COLUMNS",
        help="write a Parquet dataset into the folder PATH, partitioned by start_month, workspace_id or "
        "workspace_id,start_month (Hive folders, _SUCCESS last; only the partitions this run covers are replaced; "
        "other files are left alone)",
    )
    parser.add_argument(
        "--csv-formulas", choices=CSV_FORMULAS, default=None,
        help="CSV only: escape (default) puts a ' before text cells starting with = + - @ tab or CR, so a spreadsheet "
        "shows them rather than running them; keep writes them exactly as Attio has them",
    )
    filters = parser.add_argument_group("filters (Attio's list-meetings parameters)")
    filters.add_argument("--ends-from", metavar="T", help="meetings ending at or after T (RFC 3339; a date means 00:00 UTC)")
    filters.add_argument("--starts-before", metavar="T", help="meetings starting before T (exclusive)")
    filters.add_argument("--participants", metavar="EMAILS", help="comma-separated emails; meetings with any of them")
    filters.add_argument("--linked-object", metavar="O", help="object slug or ID of a linked record (with --linked-record-id)")
    filters.add_argument("--linked-record-id", metavar="R", help="record UUID the meetings are linked to (with --linked-object)")
    filters.add_argument("--sort", choices=["start_asc", "start_desc"], default="start_asc", help="order by start (default start_asc)")
    filters.add_argument(
        "--window", choices=["overlap", "start"], default=None,
        help="overlap: every meeting overlapping [ends-from, starts-before) (Attio's semantics, default); "
        "start: only meetings starting in it (all-day: 00:00 in --timezone), so consecutive ranges never share one",
    )
    filters.add_argument(
        "--timezone", type=timezone_name, default="UTC", metavar="Z", help="IANA zone that judges all-day meetings (default UTC)"
    )
    tuning = parser.add_argument_group("throughput and resume")
    tuning.add_argument("--page-size", type=_page_size, default=200, metavar="N", help="meetings per request, 1-200 (default 200)")
    tuning.add_argument(
        "--slices", type=_slices, default=None, metavar="N|auto",
        help="concurrent cursors over time windows (default auto: enough to fill the read budget)",
    )
    tuning.add_argument("--batch-size", type=positive_int, default=10_000, metavar="ROWS", help="rows per Arrow batch (default 10000)")
    tuning.add_argument("--resume", action="store_true", help="continue an interrupted extract from its checkpoint, if there is one")
    tuning.add_argument("--checkpoint", type=Path, metavar="FILE", help="checkpoint file (default PATH.checkpoint.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_client_options(parser)
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> ExtractConfig:
    """The ExtractConfig of the command line (validated: bad filters raise InvalidArgumentError)."""
    query = MeetingQuery(
        limit=args.page_size,
        linked_object=args.linked_object,
        linked_record_id=args.linked_record_id,
        participants=args.participants or (),
        sort=args.sort,
        ends_from=args.ends_from,
        starts_before=args.starts_before,
        timezone=args.timezone,
    )
    return ExtractConfig(query=query, slices=args.slices, batch_size=args.batch_size, checkpoint=args.checkpoint, resume=args.resume,
                         window=args.window or ("start" if getattr(args, "write_mode", None) == "replace-window" else "overlap"))


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class _Progress:
    """Renders the engine's :class:`ExtractProgress`: the share of the time range done as the bar, percent and
    ETA (tqdm's, from the average rate since the start), then rows, rows/s, pages and retries."""

    def __init__(self, bar: Any, client: AttioClient) -> None:
        self.bar, self.client = bar, client
        self.first: ExtractProgress | None = None
        self.began = time.monotonic()

    def __call__(self, value: ExtractProgress) -> None:
        now = time.monotonic()
        first = self.first is None
        if self.first is None:  # where the run starts (a resumed checkpoint's share): not part of the rate
            self.first, self.began = value, now
        rate = (value.rows - self.first.rows) / (now - self.began) if now > self.began else 0.0
        self.bar.set_postfix_str(
            f"{value.rows:,} rows, {rate:,.0f} rows/s, pages={value.pages:,}, retries={self.client.stats.retries}",
            refresh=False,
        )
        if first:
            self.bar.initial = self.bar.n = self.bar.last_print_n = value.covered
            self.bar.refresh()
        else:
            self.bar.update(value.covered - self.bar.n)  # tqdm redraws at most every 0.1 s


def _database_sink(args: argparse.Namespace) -> Any:
    """The database sink of ``--output URL``, checked against the other flags and the database; None for a file."""
    if not is_database_url(args.output):
        for flag, value in (("--table", args.table), ("--write-mode", args.write_mode)):
            if value is not None:
                raise ConfigError(f"{flag} is for database outputs (duckdb://, postgresql://), not {args.output}")
        return None
    if args.format is not None:
        raise ConfigError("--format is for file outputs: a database output is a table, its columns typed")
    if args.partition_by is not None:
        raise ConfigError("--partition-by is for file and object-store outputs (a Parquet dataset by month), not a table")
    for flag, value in (("--checkpoint", args.checkpoint), ("--resume", args.resume or None)):
        if value is not None:
            raise ConfigError(
                f"{flag} is for file outputs: a database output is written in one transaction, so a stopped run "
                "changes nothing and is simply run again"
            )
    if args.csv_formulas is not None:
        raise ConfigError(f"--csv-formulas is for CSV output, and {redact(args.output)} is a database")
    mode = args.write_mode or "replace"
    if mode == "replace-window":
        if args.window == "overlap":
            raise ConfigError("--write-mode replace-window needs --window start (its default), not overlap")
        if args.ends_from is None and args.starts_before is None:
            raise ConfigError("--write-mode replace-window needs a window: give --ends-from and/or --starts-before")
    try:
        sink = database_sink(args.output, args.table or "meetings", mode)
    except InvalidArgumentError as exc:
        if exc.argument != "table":
            raise
        raise ConfigError(f"--table {exc.reason}") from None
    args.database_output = True
    sink.check_destination()  # unreachable, login, permission, incompatible table: stop before fetching
    return sink


def run(args: argparse.Namespace) -> int:
    """Run the extract and print its report."""
    config = config_from_args(args)
    sink = _database_sink(args)
    if sink is None:
        options = {"partition_by": args.partition_by, "csv_formulas": args.csv_formulas}
        if is_url(args.output):  # object stores; the checkpoint and parts stay in local scratch
            sink = ObjectStoreSink(args.output, args.format, **options)
        else:
            sink = sink_for_path(args.output, args.format, **options)

    async def main(client_config: Any, bar: Any) -> Any:
        async with AttioClient(client_config) as client:
            cfg = config if bar.disable else dataclasses.replace(config, on_progress=_Progress(bar, client))
            return await extract(client, cfg, sink)

    bar_options = {"total": 1.0, "smoothing": 0.0, "bar_format": BAR_FORMAT}  # n is the share done, 0 to 1
    with client_session(args) as client_config, progress(args, unit="", desc="extract", **bar_options) as bar:
        report = run_interruptible(main, client_config, bar)  # SIGTERM stops it like Ctrl-C: exit 130, --resume
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        print(report.format())
    return EXIT_OK
