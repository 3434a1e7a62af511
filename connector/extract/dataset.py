"""The Parquet dataset of ``--partition-by``: its Hive layout, what a run may replace in it, and how it publishes.

    DIR/start_month=2025-03/part-0.parquet                               --partition-by start_month
    DIR/workspace_id=<uuid>/part-0.parquet                               --partition-by workspace_id
    DIR/workspace_id=<uuid>/start_month=2025-03/part-0.parquet           --partition-by workspace_id,start_month
    DIR/_SUCCESS                                                         empty, written last by every publish
    DIR/anything else                                                    not the extract's: never read, replaced or deleted

A run is staged whole in ``DIR.partial/`` and then published partition by partition, touching only the
``part-0.parquet`` files of its layout that an extract of this schema version wrote (their Parquet
metadata says so; any other file in their place, or a folder of another layout, makes the run refuse
before it fetches anything). What a run may do to a partition is what it *covers* (:meth:`Partitioning.covers`):

* a partition the run holds completely (no participant or linked-record filter, a time range that
  spans the whole month, or no time bound at all for a partition without a month; and, with
  ``workspace_id``, one of the workspaces the run fetched meetings of) is replaced by the run's rows, or
  removed when the run found none;
* a partition the run covers in part is merged: the run's rows replace the rows of the same meetings
  and every other row is kept, so a one-month extract never shrinks the months around it;
* a run that fetched no meeting at all removes nothing: zero rows is more often a wrong token, workspace
  or filter than a range emptied in Attio, so it says so (a warning) and leaves every partition as it was.

The marker ``_SUCCESS`` of the previous run is removed first and written again last, so a reader that
waits for it never sees a half-published run. Each partition is renamed into place with one
``os.replace``: an interrupted publish leaves every partition as it was or complete, and ``--resume``
publishes again (a merge is idempotent). Object stores publish the same plan (:mod:`connector.storage.sink`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote
from zoneinfo import ZoneInfo

from ..deferred import deferred
from ..errors import ConfigError, InvalidArgumentError
from ..schema import SCHEMA_VERSION

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:
    pa = deferred("pyarrow")
    pc = deferred("pyarrow.compute")
    pq = deferred("pyarrow.parquet")

__all__ = [
    "NULL_VALUE",
    "PARTITION_COLUMNS",
    "PART_FILE",
    "SUCCESS_MARKER",
    "Coverage",
    "Leaf",
    "Partitioning",
    "PublishPlan",
    "check_dataset",
    "leaves_in",
    "publish_dataset",
    "start_months",
    "survey",
]

_log = logging.getLogger(__name__)

PARTITION_COLUMNS = ("workspace_id", "start_month")
PART_FILE = "part-0.parquet"
SUCCESS_MARKER = "_SUCCESS"
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a null partition value
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_TIME_FILTERS = frozenset({"limit", "sort", "timezone", "ends_from", "starts_before"})
_WHAT = {"start_month": "a month's", "workspace_id": "a workspace's"}

Leaf = tuple[str, ...]  # one partition: its folder names' values, in the layout's order


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

    @property
    def everything(self) -> bool:
        """True when the run holds every meeting (no filter, no time bound)."""
        return self.complete and self.ends_from is None and self.starts_before is None

    def covers(self, month: str) -> bool:
        """True when every meeting starting in ``month`` (``YYYY-MM``, timed: UTC; all-day: its date) is in the run."""
        if not self.complete:
            return False
        found = _MONTH.fullmatch(month)
        if found is None:
            return month == NULL_VALUE and self.everything
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


def start_months(batch: pa.RecordBatch) -> pa.Array:
    """``YYYY-MM`` of each meeting's start: the start date (all-day) or the UTC start."""
    timed = pc.strftime(batch.column("start_datetime"), format="%Y-%m")
    dated = pc.strftime(batch.column("start_date").cast(pa.timestamp("s")), format="%Y-%m")
    return pc.if_else(batch.column("is_all_day"), dated, timed)


def _folder_value(value: str | None) -> str:
    """A partition value as a folder name: Hive's escapes, so that no value can name another folder."""
    if value is None or value == "":
        return NULL_VALUE
    text = quote(value, safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def _column_of(segment: str) -> str | None:
    """The partition column a path segment names (``start_month=...``), if any."""
    name, equals, _ = segment.partition("=")
    return name if equals and name in PARTITION_COLUMNS else None


@dataclass(frozen=True)
class Partitioning:
    """The partition columns of a dataset, outermost first: ``start_month``, ``workspace_id``, or both."""

    columns: tuple[str, ...]

    @classmethod
    def parse(cls, value: str | Sequence[str] | Partitioning) -> Partitioning:
        """From ``"workspace_id,start_month"`` (or a sequence of names); InvalidArgumentError for anything else."""
        if isinstance(value, Partitioning):
            return value
        names = tuple(n.strip() for n in (value.split(",") if isinstance(value, str) else value))
        if not names or any(n not in PARTITION_COLUMNS for n in names) or len(set(names)) != len(names):
            raise InvalidArgumentError(
                "partition_by",
                f"{','.join(names) or repr(value)} is not a partitioning; use start_month, workspace_id or "
                "workspace_id,start_month (columns from workspace_id, start_month, each once, outermost first)",
            )
        return cls(names)

    def __str__(self) -> str:
        return ",".join(self.columns)

    def _index(self, column: str) -> int | None:
        return self.columns.index(column) if column in self.columns else None

    def folder(self, leaf: Leaf) -> str:
        """The partition's folder below the dataset, ``/``-separated: ``workspace_id=W/start_month=M``."""
        return "/".join(f"{column}={value}" for column, value in zip(self.columns, leaf, strict=True))

    def part(self, leaf: Leaf) -> str:
        """The partition's data file below the dataset."""
        return f"{self.folder(leaf)}/{PART_FILE}"

    def leaf(self, name: str) -> Leaf | None:
        """The partition whose data file is ``name`` (relative, ``/``-separated), or None for any other file."""
        parts = name.split("/")
        if len(parts) != len(self.columns) + 1 or parts[-1] != PART_FILE:
            return None
        prefixes = [f"{column}=" for column in self.columns]
        if not all(p.startswith(prefix) for p, prefix in zip(parts, prefixes, strict=False)):
            return None
        return tuple(p[len(prefix) :] for p, prefix in zip(parts, prefixes, strict=False))

    def conflict(self, name: str) -> str | None:
        """Why the file ``name`` (relative to the dataset) stops a run, or None when it is not in the layout's way."""
        parts = name.split("/")
        for depth, segment in enumerate(parts):
            column = _column_of(segment)
            if column is None:
                return None  # not named like a partition: another tool's, left alone
            expected = self.columns[depth] if depth < len(self.columns) else None
            if column != expected:
                return (
                    f"{'/'.join(parts[: depth + 1])} belongs to a dataset partitioned another way "
                    f"(this run writes --partition-by {self})"
                )
            if depth == len(parts) - 1:
                return f"{name} is a file where {_WHAT[column]} folder belongs"
        return None

    def split(self, batch: pa.RecordBatch) -> list[tuple[Leaf, pa.RecordBatch]]:
        """The batch's rows by partition (each partition's rows in their order)."""
        keys = {
            column: pc.fill_null(start_months(batch) if column == "start_month" else batch.column(column), "")
            for column in self.columns
        }
        combos = pa.table(keys).group_by(list(self.columns)).aggregate([]).to_pylist()
        out = []
        for combo in combos:
            mask = None
            for column in self.columns:
                match = pc.equal(keys[column], combo[column])
                mask = match if mask is None else pc.and_(mask, match)
            out.append((tuple(_folder_value(combo[c]) for c in self.columns), batch.filter(mask)))
        return out

    def values(self, column: str, leaves: Iterable[Leaf]) -> frozenset[str] | None:
        """The values of ``column`` among ``leaves``; None when the layout has no such column."""
        where = self._index(column)
        return None if where is None else frozenset(leaf[where] for leaf in leaves)

    def covers(self, leaf: Leaf, coverage: Coverage, workspaces: frozenset[str] | None) -> bool:
        """True when a run of ``coverage`` that fetched meetings of ``workspaces`` holds all of the partition.

        ``workspaces`` None: judge time and filters only.
        """
        month, workspace = self._index("start_month"), self._index("workspace_id")
        if workspace is not None and workspaces is not None and leaf[workspace] not in workspaces:
            return False
        return coverage.covers(leaf[month]) if month is not None else coverage.everything


@dataclass(frozen=True)
class PublishPlan:
    """What publishing a run does to a dataset: partitions put in place as staged, merged, and removed."""

    replace: tuple[Leaf, ...]
    merge: tuple[Leaf, ...]
    remove: tuple[Leaf, ...]

    @classmethod
    def make(
        cls,
        output: str,
        partitioning: Partitioning,
        coverage: Coverage,
        staged: Iterable[Leaf],
        existing: Iterable[Leaf],
    ) -> PublishPlan:
        """The plan for a run that staged ``staged`` into a dataset holding ``existing`` (the module docstring's rules).

        A run that staged nothing changes nothing, and says so (a warning) when there was a dataset to change.
        """
        staged, existing = set(staged), set(existing)
        if not staged:
            if existing:
                kept = sum(partitioning.covers(leaf, coverage, None) for leaf in existing)
                _log.warning(
                    "%s: the extract fetched no meeting, so it changed no partition%s", output,
                    f"; {kept} that its range covers were kept, not emptied (a run that finds nothing removes "
                    "nothing: delete a partition's folder to empty it)" if kept else "",
                )  # fmt: skip
            return cls((), (), ())
        workspaces = partitioning.values("workspace_id", staged)
        merge = tuple(
            sorted(leaf for leaf in staged & existing if not partitioning.covers(leaf, coverage, workspaces))
        )
        replace = tuple(sorted(staged - set(merge)))
        remove = tuple(
            sorted(leaf for leaf in existing - staged if partitioning.covers(leaf, coverage, workspaces))
        )
        return cls(replace, merge, remove)


def _refuse(message: str) -> ConfigError:
    error = ConfigError(f"{message}; nothing was changed")
    error.hint = "extract into a new or empty folder, or move that file away"
    return error


def survey(output: str, partitioning: Partitioning, sizes: Mapping[str, int]) -> dict[str, Leaf]:
    """The data files among a dataset's files (relative name -> size) and their partitions.

    Refuses (ConfigError naming ``output``) a file in the layout's way (named like a partition folder, or a
    folder of another layout) and a ``_SUCCESS`` with content (another tool's). Whether each data file is
    the extract's is the caller's to check (locally its footer, in a store a ranged read).
    """
    if sizes.get(SUCCESS_MARKER):
        raise _refuse(f"output {output}: {SUCCESS_MARKER} has content, so another tool wrote it")
    leaves = {}
    for name in sorted(sizes):
        problem = partitioning.conflict(name)
        if problem is not None:
            raise _refuse(f"output {output}: {problem}")
        leaf = partitioning.leaf(name)
        if leaf is not None:
            leaves[name] = leaf
    return leaves


def _written_by_us(path: Path) -> bool:
    if path.is_symlink():
        return False
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return metadata.get(b"connector.schema_version") == SCHEMA_VERSION.encode()


def _files(folder: Path) -> dict[str, int]:
    """The files below ``folder`` that can matter to a dataset (relative name -> size): every file, except that
    folders not named like a partition are not entered (another tool's trees can be large)."""
    found: dict[str, int] = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if _column_of(d) is not None]
        base = Path(root).relative_to(folder)
        for name in names:
            found[(base / name).as_posix()] = (Path(root) / name).lstat().st_size
    return found


def check_dataset(folder: Path, partitioning: Partitioning) -> None:
    """Refuse (ConfigError) an output folder whose partitions are not this extract's to replace."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise _refuse(f"output {folder} is a file, and --partition-by writes a folder")
    for name in survey(str(folder), partitioning, _files(folder)):
        if not _written_by_us(folder / name):
            raise _refuse(f"output {folder}: {name} was not written by this version of the extract")


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


def leaves_in(folder: Path, partitioning: Partitioning) -> set[Leaf]:
    """The partitions whose data file is in ``folder`` (a dataset or its staging copy)."""
    pattern = "/".join(f"{column}=*" for column in partitioning.columns) + f"/{PART_FILE}"
    found = (partitioning.leaf(p.relative_to(folder).as_posix()) for p in folder.glob(pattern))
    return {leaf for leaf in found if leaf is not None}


def _remove_empty_folders(folder: Path, leaf_folder: Path) -> None:
    """Remove ``leaf_folder`` and its parents up to ``folder`` while they are empty (only if nothing else lives there)."""
    current = leaf_folder
    while current != folder:
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def publish_dataset(
    staging: Path,
    folder: Path,
    coverage: Coverage,
    partitioning: Partitioning,
    *,
    compression: str = "zstd",
    row_group_rows: int = 32_768,
) -> None:
    """Publish the partitions staged in ``staging`` into ``folder`` (see the module docstring), then remove ``staging``."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / SUCCESS_MARKER
    if marker.is_symlink() or (marker.exists() and marker.stat().st_size):
        raise _refuse(f"output {folder}: {SUCCESS_MARKER} has content, so another tool wrote it")
    marker.unlink(missing_ok=True)  # the last run's marker must not vouch for a half-published run
    plan = PublishPlan.make(
        str(folder), partitioning, coverage, leaves_in(staging, partitioning), leaves_in(folder, partitioning)
    )
    for leaf in plan.replace + plan.merge:
        name = partitioning.folder(leaf)
        staged_dir, home = staging / name, folder / name
        staged, current = staged_dir / PART_FILE, home / PART_FILE
        if not home.exists():
            home.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged_dir, home)  # a new partition: the folder appears complete, in one rename
            continue
        if current.exists() or current.is_symlink():
            if not _written_by_us(current):
                raise _refuse(
                    f"output {folder}: {name}/{PART_FILE} was not written by this version of the extract"
                )
            if leaf in plan.merge:
                merged = staged_dir / f".merged-{PART_FILE}"
                _merge(current, staged, merged, compression=compression, row_group_rows=row_group_rows)
                staged = merged
        os.replace(staged, current)
    for leaf in plan.remove:
        current = folder / partitioning.part(leaf)
        if _written_by_us(current):
            current.unlink()  # the run covers the whole partition and found no meeting in it any more
            with contextlib.suppress(OSError):
                _remove_empty_folders(folder, current.parent)
    marker.write_bytes(b"")
    shutil.rmtree(staging, ignore_errors=True)
