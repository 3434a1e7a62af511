"""An extract output on an object store: the local file sinks, written in local scratch, published at commit.

    s3://bucket/attio/meetings.parquet  <- SCRATCH/s3/bucket/attio/meetings.parquet   (PATH below)
                                           PATH.partial, PATH.lock, PATH.checkpoint.json, PATH.checkpoint.parts/

:class:`ObjectStoreSink` is a :class:`~connector.extract.sinks.FileSink` whose path is in local scratch
(:func:`~connector.storage.location.scratch_root`), so the engine checkpoints and locks it like a local
file, and ``--resume`` continues from the part files there: a store is never written before the fetch
is complete, and never read to resume. The format writing is the local sink's (Parquet, CSV, JSON
Lines, the partitioned dataset); :meth:`commit` then publishes:

* a file as one object: a single PUT, or a multipart upload that is completed only after its last part
  (an error aborts it; a killed process leaves an unfinished upload, which no reader sees). On S3 the
  parts of a file larger than one part are sent while the file is written (:mod:`.stream`), so the
  commit sends only the last one and completes the upload: the tail of an extract to S3 costs about what
  a local rename does;
* a dataset partition by partition (each one object, merged with the store's copy where the run covers
  the partition only in part: the plan of :mod:`connector.extract.dataset`, as locally), then ``_SUCCESS``
  last. The marker of an earlier run is removed first, so a reader never sees it over a half-published run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from ..deferred import deferred
from ..errors import ConfigError
from ..extract.dataset import SUCCESS_MARKER, Coverage, Leaf, Partitioning, PublishPlan, leaves_in
from ..extract.sinks import FileSink, ParquetSink, sink_for_path
from ..paths import remove_path
from .location import StoreLocation, open_filesystem, scratch_root
from .settings import StoreSettings
from .stream import PartStream
from .transfer import Store, release_free_memory

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = ["SUCCESS_MARKER", "ObjectStoreSink"]


def _scratch_path(location: StoreLocation, scratch: Path | None) -> Path:
    root = scratch if scratch is not None else scratch_root()
    account = [location.account] if location.account else []
    return root.joinpath(location.scheme, *account, location.bucket, *location.key.split("/"))


class ObjectStoreSink(FileSink):
    """Parquet, CSV or JSON Lines (or a Parquet dataset) at an object-store URL; see the module docstring.

    ``scratch``: the local folder for the staging file, the checkpoint and its parts (default
    :func:`~connector.storage.location.scratch_root`). ``settings``: the store's credentials given
    in-process (an orchestrator's connection or resource; :mod:`.settings`) instead of the environment's.
    """

    def __init__(
        self,
        url: str,
        format: str | None = None,
        *,
        partition_by: str | Partitioning | None = None,
        csv_formulas: Literal["escape", "keep"] | None = None,
        scratch: str | os.PathLike[str] | None = None,
        settings: StoreSettings | None = None,
        overwrite: bool = False,
    ) -> None:
        self.location = StoreLocation.parse(url)
        # The format rule is the local one, judged on the key so that an error names what the user wrote.
        format = sink_for_path(
            PurePosixPath(self.location.key), format, partition_by=partition_by, csv_formulas=csv_formulas,
            overwrite=overwrite,
        ).format  # fmt: skip
        local = _scratch_path(self.location, Path(scratch) if scratch is not None else None)
        super().__init__(local, overwrite=overwrite)
        # A scratch file is always the sink's own (one a killed upload left is replaced).
        self.local = sink_for_path(
            local,
            format,
            partition_by=partition_by,
            csv_formulas=csv_formulas,
            overwrite=partition_by is None,
        )
        self.format = self.local.format
        self.settings = settings
        self._store: Store | None = None
        self._stream: PartStream | None = None
        self._coverage = Coverage()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location.url!r})"

    @property
    def store(self) -> Store:
        """The store's client, opened on first use (a missing extra or bad URL is a ConfigError)."""
        if self._store is None:
            self._store = Store(open_filesystem(self.location, self.settings), self.location)
        return self._store

    @property
    def is_folder(self) -> bool:
        """True for a partitioned dataset (a prefix of partition objects)."""
        return self.local.is_folder

    @property
    def partitioning(self) -> Partitioning:
        """The dataset's layout (only for a partitioned output)."""
        assert isinstance(self.local, ParquetSink) and self.local.partitioning is not None
        return self.local.partitioning

    def check_destination(self) -> None:
        """Refuse, before anything is fetched, a store that cannot be used or a prefix the extract does not own."""
        self.local.check_destination()
        if self.is_folder:
            self.store.check_bucket()
            self.store.check_dataset(self.location, self.partitioning)
        else:
            self._check_object()
        if not self._streams:
            # The client holds ~16 MB (botocore's service model): not kept through the fetch, made again to publish.
            self._store = None

    def _check_object(self) -> None:
        """Refuse a key that is a folder, or an object there that is not this format's extract output (unless
        ``overwrite``); one listing on S3 for a new key (:meth:`Store.look`)."""
        folder, size = self.store.look(self.location)
        if folder:
            error = ConfigError(
                f"output {self.location.url} is a folder (objects are stored below it); nothing was changed"
            )
            error.hint = "name an object for the output (a folder is written only with --partition-by)"
            raise error
        if (
            size is not None
            and not self.overwrite
            and self.store.extract_output(self.location, self.format, size) is False
        ):
            error = ConfigError(
                f"output {self.location.url} exists and is not a {self.format} file this tool wrote; nothing was changed"
            )
            error.hint = "pass --overwrite to replace it, or choose another --output"
            raise error

    @property
    def _streams(self) -> bool:
        """True when the file goes up while it is written: one file (not a dataset) on S3."""
        return self.location.scheme == "s3" and not self.is_folder

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        """Start the local staging copy (a scratch copy left by a killed upload is the sink's own: replaced)."""
        remove_path(self.path)
        self._coverage = Coverage.from_metadata(metadata)
        self.local.open(schema, metadata)
        if self._streams:
            self._stream = PartStream(self.store.fs, self.location)
            self._stream.start(self.local.staging)

    def write(self, batch: pa.RecordBatch) -> None:
        """Write to the local staging copy (on S3, send the parts it has grown by)."""
        self.local.write(batch)
        if self._stream is not None:
            self._stream.advance()

    def commit(self) -> str:
        """Finish the local copy, publish it to the store, remove the local copy; return the URL."""
        if not self.is_folder:
            self.local.commit()
            release_free_memory()  # the writer's freed buffers go back before the client and the upload take theirs
            stream, self._stream = self._stream, None
            if stream is None or not stream.finish():
                self.store.upload({self.path: self.location})
        else:
            remote = self._remote_parts()
            plan = PublishPlan.make(
                self.location.url,
                self.partitioning,
                self._coverage,
                leaves_in(self.local.staging, self.partitioning),
                remote,
            )
            self._fetch_parts_to_merge(plan.merge, remote)
            self.local.commit()  # publishes into the scratch folder: the downloaded copies are merged there
            self._publish_dataset(plan, remote)
        remove_path(self.path)
        return self.location.url

    def abort(self) -> None:
        """Drop the local copies; the store is untouched (an unfinished upload was aborted or never completed)."""
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        self.local.abort()
        remove_path(self.path)

    # ---------------------------------------------------------------------------------- datasets
    def _remote_parts(self) -> dict[Leaf, int]:
        """The partitions in the store's dataset: each one's data file size."""
        found = {}
        for name, size in self.store.objects(self.location).items():
            leaf = self.partitioning.leaf(name)
            if leaf is not None:
                found[leaf] = size
        return found

    def _part(self, leaf: Leaf) -> StoreLocation:
        return self.location.child(self.partitioning.part(leaf))

    def _ours(self, leaves: Mapping[Leaf, int]) -> list[Leaf]:
        """Those of ``leaves`` whose data file an extract of this schema version wrote."""
        names = {self.partitioning.part(leaf): size for leaf, size in leaves.items()}
        foreign = set(self.store.foreign(self.location, names))
        return [leaf for leaf in leaves if self.partitioning.part(leaf) not in foreign]

    def _fetch_parts_to_merge(self, merge: tuple[Leaf, ...], remote: Mapping[Leaf, int]) -> None:
        """Copy into the local folder the store's partitions that this run covers only in part, for the local publish to merge."""
        wanted = {leaf: remote[leaf] for leaf in merge}
        foreign = sorted(set(wanted) - set(self._ours(wanted)))
        if foreign:
            error = ConfigError(
                f"output {self.location.url}: {self.partitioning.part(foreign[0])} was not written by this "
                "version of the extract; nothing was changed"
            )
            error.hint = "extract into a new or empty prefix, or move that object away"
            raise error
        self.store.download({self._part(leaf): self.path / self.partitioning.part(leaf) for leaf in wanted})

    def _publish_dataset(self, plan: PublishPlan, remote: Mapping[Leaf, int]) -> None:
        """Upload the run's partitions (merged where needed), remove covered ones it found empty, then ``_SUCCESS``."""
        marker = self.location.child(SUCCESS_MARKER)
        self.store.remove([marker])  # the last run's marker must not vouch for a half-published run
        written = sorted(leaves_in(self.path, self.partitioning))
        self.store.upload({self.path / self.partitioning.part(leaf): self._part(leaf) for leaf in written})
        emptied = {leaf: remote[leaf] for leaf in plan.remove}
        self.store.remove(self._part(leaf) for leaf in self._ours(emptied))
        self.store.put_bytes(marker, b"")
