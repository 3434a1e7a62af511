"""An extract output on an object store: the local file sinks, written in local scratch, published at commit.

    s3://bucket/attio/meetings.parquet  <- SCRATCH/s3/bucket/attio/meetings.parquet   (PATH below)
                                           PATH.partial, PATH.lock, PATH.checkpoint.json, PATH.checkpoint.parts/

:class:`ObjectStoreSink` is a :class:`~connector.extract.sinks.FileSink` whose path is in local scratch
(:func:`~connector.storage.location.scratch_root`), so the engine checkpoints and locks it like a local
file, and ``--resume`` continues from the part files there: a store is never written before the fetch
is complete, and never read to resume. The format writing is the local sink's (Parquet, CSV, JSON
Lines, the partitioned dataset); :meth:`commit` then publishes:

* a file as one object: a single PUT, or a multipart upload that is completed only after its last part
  (an error aborts it; a killed process leaves an unfinished upload, which no reader sees);
* a dataset month by month (each month one object, merged with the store's copy where the run covers
  the month only in part, as :mod:`connector.extract.dataset` does locally), then ``_SUCCESS`` last. The
  marker of an earlier run is removed first, so a reader never sees it over a half-published run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Literal

import pyarrow as pa

from ..errors import ConfigError
from ..extract.dataset import PART_FILE, PREFIX, Coverage
from ..extract.sinks import FileSink, sink_for_path
from ..paths import remove_path
from .location import StoreLocation, open_filesystem, scratch_root
from .transfer import Store, release_free_memory

__all__ = ["SUCCESS_MARKER", "ObjectStoreSink"]

SUCCESS_MARKER = "_SUCCESS"


def _scratch_path(location: StoreLocation, scratch: Path | None) -> Path:
    root = scratch if scratch is not None else scratch_root()
    account = [location.account] if location.account else []
    return root.joinpath(location.scheme, *account, location.bucket, *location.key.split("/"))


class ObjectStoreSink(FileSink):
    """Parquet, CSV or JSON Lines (or a Parquet dataset) at an object-store URL; see the module docstring.

    ``scratch``: the local folder for the staging file, the checkpoint and its parts (default
    :func:`~connector.storage.location.scratch_root`).
    """

    def __init__(
        self,
        url: str,
        format: str | None = None,
        *,
        partition_by: Literal["start_month"] | None = None,
        csv_formulas: Literal["escape", "keep"] = "escape",
        scratch: str | os.PathLike[str] | None = None,
    ) -> None:
        self.location = StoreLocation.parse(url)
        # The format rule is the local one, judged on the key so that an error names what the user wrote.
        format = sink_for_path(PurePosixPath(self.location.key), format, partition_by=partition_by).format
        local = _scratch_path(self.location, Path(scratch) if scratch is not None else None)
        super().__init__(local)
        self.local = sink_for_path(local, format, partition_by=partition_by, csv_formulas=csv_formulas)
        self.format = self.local.format
        self._store: Store | None = None
        self._coverage = Coverage()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location.url!r})"

    @property
    def store(self) -> Store:
        """The store's client, opened on first use (a missing extra or bad URL is a ConfigError)."""
        if self._store is None:
            self._store = Store(open_filesystem(self.location), self.location)
        return self._store

    @property
    def is_folder(self) -> bool:
        """True for a partitioned dataset (a prefix of month objects)."""
        return self.local.is_folder

    def check_destination(self) -> None:
        """Refuse, before anything is fetched, a store that cannot be used or a prefix the extract does not own."""
        self.local.check_destination()
        self.store.check_bucket()
        if self.is_folder:
            self.store.check_dataset(self.location, PREFIX, PART_FILE, SUCCESS_MARKER)
        elif self.store.is_prefix(self.location):
            error = ConfigError(
                f"output {self.location.url} is a folder (objects are stored below it); nothing was changed"
            )
            error.hint = (
                "name an object for the output (a folder is written only with --partition-by start_month)"
            )
            raise error
        # The client holds ~16 MB (botocore's service model): not kept through the fetch, made again to publish.
        self._store = None

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start the local staging copy (a scratch copy left by a killed upload is the sink's own: replaced)."""
        remove_path(self.path)
        self._coverage = Coverage.from_metadata(metadata)
        self.local.open(schema, metadata)

    def write(self, batch: pa.RecordBatch) -> None:
        """Write to the local staging copy."""
        self.local.write(batch)

    def commit(self) -> str:
        """Finish the local copy, publish it to the store, remove the local copy; return the URL."""
        if not self.is_folder:
            self.local.commit()
            release_free_memory()  # the writer's freed buffers go back before the client and the upload take theirs
            self.store.upload({self.path: self.location})
        else:
            remote = self._remote_months()
            self._fetch_months_to_merge(remote)
            self.local.commit()
            self._publish_dataset(remote)
        remove_path(self.path)
        return self.location.url

    def abort(self) -> None:
        """Drop the local copies; the store is untouched (an unfinished upload was aborted or never completed)."""
        self.local.abort()
        remove_path(self.path)

    # ---------------------------------------------------------------------------------- datasets
    def _remote_months(self) -> dict[str, int]:
        """The months in the store's dataset: ``YYYY-MM`` -> the size of its part file."""
        objects = self.store.objects(self.location)
        return {
            name.split("/")[0].removeprefix(PREFIX): size
            for name, size in objects.items()
            if name.startswith(PREFIX) and name.count("/") == 1 and name.endswith(f"/{PART_FILE}")
        }

    def _part(self, month: str) -> StoreLocation:
        return self.location.child(f"{PREFIX}{month}/{PART_FILE}")

    def _ours(self, months: dict[str, int]) -> list[str]:
        """Those of ``months`` whose part file an extract of this schema version wrote."""
        foreign = set(
            self.store.foreign(self.location, {f"{PREFIX}{m}/{PART_FILE}": n for m, n in months.items()})
        )
        return [m for m in months if f"{PREFIX}{m}/{PART_FILE}" not in foreign]

    def _fetch_months_to_merge(self, remote: dict[str, int]) -> None:
        """Copy into the local folder the store's months that this run covers only in part, for the local publish to merge."""
        staged = {
            p.name.removeprefix(PREFIX) for p in self.local.staging.iterdir() if p.name.startswith(PREFIX)
        }
        merge = {m: n for m, n in remote.items() if m in staged and not self._coverage.covers(m)}
        foreign = sorted(set(merge) - set(self._ours(merge)))
        if foreign:
            error = ConfigError(
                f"output {self.location.url}: {PREFIX}{foreign[0]}/{PART_FILE} was not written by this "
                "version of the extract; nothing was changed"
            )
            error.hint = "extract into a new or empty prefix, or move that object away"
            raise error
        self.store.download({self._part(m): self.path / f"{PREFIX}{m}" / PART_FILE for m in merge})

    def _publish_dataset(self, remote: dict[str, int]) -> None:
        """Upload the run's months (merged where needed), remove covered months it found empty, then ``_SUCCESS``."""
        marker = self.location.child(SUCCESS_MARKER)
        self.store.remove([marker])  # the last run's marker must not vouch for a half-published run
        written = sorted(
            p.name.removeprefix(PREFIX) for p in self.path.iterdir() if p.name.startswith(PREFIX)
        )
        self.store.upload({self.path / f"{PREFIX}{m}" / PART_FILE: self._part(m) for m in written})
        # A month the run covers whole and found no meeting in any more: removed, if an extract wrote it.
        emptied = {m: n for m, n in remote.items() if m not in written and self._coverage.covers(m)}
        self.store.remove(self._part(m) for m in self._ours(emptied))
        self.store.put_bytes(marker, b"")
