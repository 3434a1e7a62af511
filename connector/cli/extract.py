"""``extract --output PATH``: meetings (and their call recordings) from Attio to files or a database, with a report.

A thin layer over :func:`connector.extract.extract`: flags -> MeetingQuery + ExtractConfig + one sink per
table -> report. ``--tables`` (default ``meetings``) picks the tables: one table goes to ``--output`` as
before; several go to ``--output DIR`` as ``DIR/<table>.<format>``, or to a database as a table each.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from .. import defaults
from ..client import AttioClient
from ..destinations import WRITE_MODES, database_sinks, redact
from ..destinations.urls import is_database_url
from ..errors import ConfigError, InvalidArgumentError
from ..extract import ExtractConfig, ExtractProgress, extract, sink_for_path
from ..extract.dataset import Partitioning
from ..extract.helpers import table_paths
from ..extract.sinks import CSV_FORMULAS, FORMATS
from ..extract.streams import TABLES, check_tables
from ..models import MeetingQuery
from ..storage import ObjectStoreSink, is_url
from .common import (
    EXIT_OK,
    add_client_options,
    option_error,
    option_name,
    output_target,
    positive_int,
    print_report,
    run_with_client,
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


def _tables(text: str) -> tuple[str, ...]:
    try:
        return check_tables(text)
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


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


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``extract`` subcommand."""
    parser = subparsers.add_parser(
        "extract",
        help="extract meetings to Parquet, CSV or JSON Lines",
        description="Extract Attio meetings to a file. The file appears only when the extract is complete; "
        "an interrupted run can be continued with --resume.",
    )
    parser.add_argument(
        "--output", "-o", required=True, type=output_target, metavar="PATH|URL",
        help="file (or directory with --partition-by) to write; an s3://, gs://, az:// URL (see the docs' Object "
        "stores); or a database: duckdb:///path.duckdb, postgresql://user@host:port/db (password from PGPASSWORD "
        "or ~/.pgpass)",
    )
    parser.add_argument(
        "--tables", type=_tables, default=("meetings",), metavar="T[,T...]",
        help=f"tables to extract, comma-separated: {', '.join(TABLES)} (default meetings). With several, --output is a "
        "folder that gets <table>.<format> each (or a table each in a database); meetings are always read to find "
        "the recordings, and written only when listed",
    )
    parser.add_argument(
        "--include-future-meetings", action="store_true",
        help="call_recordings/transcript_segments: also look for recordings of meetings that start after the run began "
        "(skipped by default: they cannot have one yet; the report counts them)",
    )
    database = parser.add_argument_group("database outputs (duckdb://, postgresql://)")
    database.add_argument(
        "--table", metavar="[SCHEMA.]TABLE",
        help="table to write (default: the table's name, e.g. meetings); with several --tables, only SCHEMA. "
        "(ending in a dot): every table goes into that schema under its own name",
    )
    database.add_argument(
        "--write-mode", choices=WRITE_MODES, metavar="MODE",
        help="replace (default: the table holds exactly this extract), append, merge (upsert by meeting_id; "
        "call_recordings by call_recording_id; transcript_segments: a recording's segments replaced as a whole), "
        "replace-window (delete the rows starting in [--ends-from, --starts-before), then insert; implies --window start; "
        "meetings only)",
    )
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from the suffix, else parquet)")
    parser.add_argument(
        "--partition-by", type=_partitioning, metavar="COLUMNS",
        help="write a Parquet dataset into the folder PATH, partitioned by start_month, workspace_id or "
        "workspace_id,start_month (Hive folders, _SUCCESS last; only the partitions this run covers are replaced; "
        "other files are left alone)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing output file even if this tool did not write it (without it, only an empty file "
        "or an earlier extract's output is replaced; anything else is refused)",
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
    tuning.add_argument(
        "--page-size", type=_page_size, default=defaults.PAGE_SIZE, metavar="N",
        help=f"meetings per request, 1-{defaults.PAGE_SIZE} (default {defaults.PAGE_SIZE})",
    )
    tuning.add_argument(
        "--slices", type=_slices, default=None, metavar="N|auto",
        help="concurrent cursors over time windows (default auto: enough to fill the read budget)",
    )
    tuning.add_argument(
        "--batch-size", type=positive_int, default=defaults.EXTRACT_BATCH_SIZE, metavar="ROWS",
        help=f"rows per Arrow batch (default {defaults.EXTRACT_BATCH_SIZE})",
    )
    tuning.add_argument("--resume", action="store_true", help="continue an interrupted extract from its checkpoint, if there is one")
    tuning.add_argument("--checkpoint", type=Path, metavar="FILE", help="checkpoint file (default PATH.checkpoint.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    add_client_options(parser)
    parser.set_defaults(run=run)


# The library's names for the filters -> the extract's option dests.
_QUERY_OPTIONS = {
    "limit": "page_size",
    "linked_object": "linked_object",
    "linked_record_id": "linked_record_id",
    "participants": "participants",
    "sort": "sort",
    "ends_from": "ends_from",
    "starts_before": "starts_before",
    "timezone": "timezone",
}


def config_from_args(args: argparse.Namespace) -> ExtractConfig:
    """The ExtractConfig of the command line; a bad filter is a ConfigError naming the flag (or config key) given."""
    pair = ("linked_object", "linked_record_id")
    given = [dest for dest in pair if getattr(args, dest) is not None]
    if len(given) == 1:
        missing = next(dest for dest in pair if dest not in given)
        raise ConfigError(
            f"{option_name(args, given[0])} needs {option_name(args, missing)} too: meetings linked to a record "
            "are found by the record's object and its UUID together"
        )
    try:
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
    except InvalidArgumentError as exc:
        raise option_error(args, exc, _QUERY_OPTIONS) from None
    return ExtractConfig(query=query, slices=args.slices, batch_size=args.batch_size, checkpoint=args.checkpoint, resume=args.resume,
                         window=args.window or ("start" if getattr(args, "write_mode", None) == "replace-window" else "overlap"),
                         include_future_meetings=getattr(args, "include_future_meetings", False))


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


class _Progress:
    """Renders the engine's :class:`ExtractProgress`: the share done as the bar, percent and ETA (tqdm's, from
    the average rate since the start), then rows, rows/s, pages and retries; with call-recording tables,
    meetings scanned, their rate and recordings found instead of rows."""

    def __init__(self, bar: Any, client: AttioClient, children: bool = False) -> None:
        self.bar, self.client, self.children = bar, client, children
        self.first: ExtractProgress | None = None
        self.began = time.monotonic()

    def __call__(self, value: ExtractProgress) -> None:
        now = time.monotonic()
        first = self.first is None
        if self.first is None:  # where the run starts (a resumed checkpoint's share): not part of the rate
            self.first, self.began = value, now
        if self.children:
            rate = (value.meetings_scanned - self.first.meetings_scanned) / (now - self.began) if now > self.began else 0.0
            text = f"{value.meetings_scanned:,} meetings scanned, {rate:,.0f}/s, {value.recordings:,} recordings found"
        else:
            rate = (value.rows - self.first.rows) / (now - self.began) if now > self.began else 0.0
            text = f"{value.rows:,} rows, {rate:,.0f} rows/s, pages={value.pages:,}"
        self.bar.set_postfix_str(f"{text}, retries={self.client.stats.retries}", refresh=False)
        if first:
            self.bar.initial = self.bar.n = self.bar.last_print_n = value.covered
            self.bar.refresh()
        else:
            self.bar.update(value.covered - self.bar.n)  # tqdm redraws at most every 0.1 s


def _database_sinks(args: argparse.Namespace) -> dict[str, Any] | None:
    """The database sinks of ``--output URL`` (one per table), checked against the other flags and the database;
    None for files."""
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
    if args.overwrite:
        raise ConfigError(
            f"--overwrite is for file outputs, and {redact(args.output)} is a database (--write-mode says what "
            "happens to the table)"
        )
    mode = args.write_mode or "replace"
    if mode == "replace-window":
        if args.window == "overlap":
            raise ConfigError("--write-mode replace-window needs --window start (its default), not overlap")
        if args.ends_from is None and args.starts_before is None:
            raise ConfigError("--write-mode replace-window needs a window: give --ends-from and/or --starts-before")
    tables = args.tables
    if len(tables) > 1 and args.table is not None and not args.table.endswith("."):
        raise ConfigError(
            f"--table {args.table} names one table, but --tables names {len(tables)}: each is written to the table "
            "of its own name (give --table SCHEMA. to put them all in one schema)"
        )
    prefix = args.table or ""
    names = {t: (prefix + t if prefix.endswith(".") else prefix or t) for t in tables}
    try:
        sinks = database_sinks(args.output, tables, mode, names=names)
    except InvalidArgumentError as exc:
        if exc.argument != "table":
            raise
        raise ConfigError(f"--table {exc.reason}") from None
    args.database_output = True
    return sinks


_SINK_OPTIONS = ("output", "format", "partition_by", "csv_formulas", "overwrite")


def _file_sinks(args: argparse.Namespace) -> dict[str, Any]:
    """One file (or object-store) sink per table: ``--output`` itself for one table, ``--output/<table>.<format>``
    for several."""
    if args.tables != ("meetings",) and args.partition_by is not None:
        raise ConfigError("--partition-by is for the meetings table alone (a start month is a meeting's)")
    if args.overwrite and args.partition_by is not None:
        raise ConfigError(
            "--overwrite is for a single output file: a --partition-by dataset replaces only the partition files an "
            "extract wrote, and refuses any other file in their place (move it away)"
        )
    options = {"partition_by": args.partition_by, "csv_formulas": args.csv_formulas, "overwrite": args.overwrite}
    sinks: dict[str, Any] = {}
    try:
        for table, target in table_paths(args.output, args.tables, args.format).items():
            if is_url(target):  # object stores; the checkpoint and parts stay in local scratch
                sinks[table] = ObjectStoreSink(target, args.format, **options)
            else:
                sinks[table] = sink_for_path(target, args.format, **options)
    except InvalidArgumentError as exc:
        raise option_error(args, exc, {name: name for name in _SINK_OPTIONS}, in_reason=False) from None
    return sinks


def run(args: argparse.Namespace) -> int:
    """Run the extract and print its report."""
    config = config_from_args(args)
    if args.tables == ("meetings",) and args.include_future_meetings:
        raise ConfigError("--include-future-meetings is for call_recordings and transcript_segments (--tables)")
    sinks = _database_sinks(args) or _file_sinks(args)
    children = args.tables != ("meetings",)

    async def main(client_config: Any, bar: Any) -> Any:
        async with AttioClient(client_config) as client:
            cfg = config if bar.disable else dataclasses.replace(config, on_progress=_Progress(bar, client, children))
            return await extract(client, cfg, sinks, tables=args.tables)

    # n is the share done, 0 to 1; SIGTERM stops the run like Ctrl-C: exit 130, --resume continues
    report = run_with_client(args, main, unit="", desc="extract", total=1.0, smoothing=0.0, bar_format=BAR_FORMAT)
    print_report(args, report)
    return EXIT_OK
