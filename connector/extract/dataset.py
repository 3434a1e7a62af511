"""The Parquet dataset of ``--partition-by start_month``: what a run may replace in it, and how it publishes.

    DIR/start_month=2025-03/part-0.parquet     one file per month, written by the extract
    DIR/anything else                          not the extract's: never read, replaced or deleted

A run is staged whole in ``DIR.partial/`` and then published month by month, touching only the
``start_month=*/part-0.parquet`` files that an extract of this schema version wrote (their Parquet
metadata says so; any other file in their place makes the run refuse before it fetches anything):

* a month the run's filters cover entirely (no participant or linked-record filter, and a time range
  that spans the whole month) is replaced by the run's rows, or removed when the run found none;
* a month the run covers in part (the edges of a time range, or a filtered run) is merged: the run's
  rows replace the rows of the same meetings and every other row is kept, so a one-month extract
  never shrinks the months around it.

Each month is renamed into place with one ``os.replace``: an interrupted publish leaves every month
either as it was or complete, and ``--resume`` publishes again (a merge is idempotent).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import ConfigError
from ..schema import SCHEMA_VERSION

__all__ = ["NULL_MONTH", "PART_FILE", "PREFIX", "Coverage", "check_dataset", "publish_dataset"]

PREFIX = "start_month="
PART_FILE = "part-0.parquet"
NULL_MONTH = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a null partition value
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_TIME_FILTERS = frozenset({"limit", "sort", "timezone", "ends_from", "starts_before"})


@dataclass(frozen=True)
class Coverage:
    """Which start months a run holds completely: every meeting starting in them matched its filters.

    ``complete`` is False when a filter other than time narrows the run (participants, a linked record):
    then no month is covered. ``ends_from``/``starts_before`` None means unbounded.
    """

    complete: bool = False
    ends_from: datetime | None = None
    starts_before: datetime | None = None
    timezone: str = "UTC"

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Coverage:
        """The coverage of a run from its ``connector.filters`` metadata (none when absent or unreadable)."""
        try:
            filters = json.loads(metadata["connector.filters"])
            bounds = {
                k: datetime.fromisoformat(filters[k])
                for k in ("ends_from", "starts_before")
                if filters.get(k)
            }
            zone = str(filters.get("timezone") or "UTC")
            ZoneInfo(zone)
        except (KeyError, TypeError, ValueError):  # ZoneInfoNotFoundError is a KeyError
            return cls()
        return cls(complete=set(filters) <= _TIME_FILTERS, timezone=zone, **bounds)

    def covers(self, month: str) -> bool:
        """True when every meeting starting in ``month`` (``YYYY-MM``, timed: UTC; all-day: its date) is in the run."""
        if not self.complete:
            return False
        found = _MONTH.fullmatch(month)
        if found is None:
            return month == NULL_MONTH and self.ends_from is None and self.starts_before is None
        year, number = int(found.group(1)), int(found.group(2))
        first, following = date(year, number, 1), date(year + number // 12, number % 12 + 1, 1)
        zone = ZoneInfo(self.timezone)
        # Timed meetings fall in the month by UTC start, all-day ones by date, judged at 00:00 in the zone.
        lowest = min(
            datetime(first.year, first.month, 1, tzinfo=UTC),
            datetime(first.year, first.month, 1, tzinfo=zone),
        )
        highest = max(
            datetime(following.year, following.month, 1, tzinfo=UTC),
            datetime(following.year, following.month, 1, tzinfo=zone),
        )
        return (self.ends_from is None or self.ends_from <= lowest) and (
            self.starts_before is None or self.starts_before >= highest
        )


def _written_by_us(path: Path) -> bool:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return metadata.get(b"connector.schema_version") == SCHEMA_VERSION.encode()


def _refuse(message: str) -> ConfigError:
    error = ConfigError(f"{message}; nothing was changed")
    error.hint = "extract into a new or empty folder, or move that file away"
    return error


def check_dataset(folder: Path) -> None:
    """Refuse (ConfigError) an output folder whose ``start_month=*`` entries are not this extract's to replace."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise _refuse(f"output {folder} is a file, and --partition-by writes a folder")
    for entry in folder.iterdir():
        if not entry.name.startswith(PREFIX):
            continue
        if not entry.is_dir():
            raise _refuse(f"output {folder}: {entry.name} is a file where a month's folder belongs")
        part = entry / PART_FILE
        if part.is_symlink() or (part.exists() and not _written_by_us(part)):
            raise _refuse(
                f"output {folder}: {entry.name}/{PART_FILE} was not written by this version of the extract"
            )


def _merge(old: Path, new: Path, target: Path, *, compression: str, row_group_rows: int) -> None:
    """Write ``target``: the rows of ``old`` whose meeting this run did not return, then every row of ``new``."""
    new_file = pq.ParquetFile(new)
    schema = new_file.schema_arrow
    fresh_ids = pq.read_table(new, columns=["meeting_id"]).column("meeting_id").combine_chunks()
    with pq.ParquetWriter(str(target), schema, compression=compression, write_statistics=True) as writer:
        for batch in pq.ParquetFile(old).iter_batches(batch_size=row_group_rows):
            kept = batch.filter(pc.invert(pc.is_in(batch.column("meeting_id"), value_set=fresh_ids)))
            if kept.num_rows:
                writer.write_table(pa.Table.from_batches([kept]).cast(schema), row_group_size=row_group_rows)
        for batch in new_file.iter_batches(batch_size=row_group_rows):
            writer.write_table(pa.Table.from_batches([batch]), row_group_size=row_group_rows)


def publish_dataset(
    staging: Path,
    folder: Path,
    coverage: Coverage,
    *,
    compression: str = "zstd",
    row_group_rows: int = 32_768,
) -> None:
    """Publish the months staged in ``staging`` into ``folder`` (see the module docstring), then remove ``staging``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = sorted(
        entry.name.removeprefix(PREFIX) for entry in staging.iterdir() if entry.name.startswith(PREFIX)
    )
    for month in written:
        staged_dir, home = staging / f"{PREFIX}{month}", folder / f"{PREFIX}{month}"
        staged, current = staged_dir / PART_FILE, home / PART_FILE
        if not home.exists():
            os.replace(staged_dir, home)  # a new month: the folder appears complete, in one rename
            continue
        if current.exists() or current.is_symlink():
            if current.is_symlink() or not _written_by_us(current):
                raise _refuse(
                    f"output {folder}: {home.name}/{PART_FILE} was not written by this version of the extract"
                )
            if not coverage.covers(month):
                merged = staged_dir / f".merged-{PART_FILE}"
                _merge(current, staged, merged, compression=compression, row_group_rows=row_group_rows)
                staged = merged
        os.replace(staged, current)
    for home in sorted(folder.iterdir()):
        month = home.name.removeprefix(PREFIX)
        current = home / PART_FILE
        if (
            home.name.startswith(PREFIX)
            and month not in written
            and coverage.covers(month)
            and _written_by_us(current)
        ):
            current.unlink()  # the run covers the whole month and found no meeting in it any more
            with contextlib.suppress(OSError):
                home.rmdir()  # only if nothing else lives there
    shutil.rmtree(staging, ignore_errors=True)
