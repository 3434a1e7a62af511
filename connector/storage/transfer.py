"""The few store operations the connector needs, each whole or not at all, with errors translated in one place.

An object is written only from a complete local file (:meth:`Store.upload`), and read only into a
temporary local file renamed when complete (:meth:`Store.download`). Uploads use the filesystem's
``put_file``: S3 sends a small file in one PUT and a large one as a multipart upload that s3fs
completes after the last part and aborts on an error; GCS a resumable upload finalised by its last
chunk; Azure staged blocks committed at the end. The file objects of fsspec (and pyarrow's S3 output
stream alike) are not used for writing: their destructors *complete* an upload that failed half-way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..deferred import deferred
from ..errors import ConfigError, ConnectorError
from ..extract.dataset import Partitioning, survey
from ..extract.sinks import OWN_HEAD_BYTES, OWN_TAIL_BYTES, is_extract_output
from ..schema import SCHEMA_VERSION
from .location import S3_PART_BYTES, StoreLocation, error_code, missing_bucket, store_error

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
else:
    pa = deferred("pyarrow")
    pq = deferred("pyarrow.parquet")

__all__ = ["Store", "release_free_memory"]


_TAIL_BYTES = (
    256 * 1024
)  # a Parquet footer (schema and key-value metadata) of the meeting schema is a few KiB


LOOK_PAGE = 1000  # names in the one listing of Store.look (S3's most per page)


def _ours(tail: object) -> bool:
    """True when ``tail`` (the end of a file) holds the footer of a Parquet file an extract of this schema wrote."""
    if not isinstance(tail, bytes):
        return False  # an error while reading it: not known to be ours
    try:
        metadata = pq.read_schema(pa.BufferReader(tail)).metadata or {}
    except (OSError, pa.ArrowException):
        return False
    return metadata.get(b"connector.schema_version") == SCHEMA_VERSION.encode()


def release_free_memory() -> None:
    """Return freed memory to the OS (glibc keeps it otherwise), as the extract engine does between its stages."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _refused(message: str, hint: str) -> ConfigError:
    error = ConfigError(f"{message}; nothing was changed")
    error.hint = hint
    return error


class Store:
    """An fsspec filesystem bound to one store location (for error messages); every call translates errors."""

    def __init__(self, fs: Any, location: StoreLocation) -> None:
        self.fs = fs
        self.location = location

    def __repr__(self) -> str:
        return f"Store({self.location.url!r})"

    @contextmanager
    def _translated(self, location: StoreLocation, action: str) -> Iterator[None]:
        try:
            yield
        except ConnectorError:
            raise
        except Exception as exc:
            raise store_error(exc, location, action) from exc

    def check_bucket(self) -> None:
        """ConfigError unless the bucket exists and the credentials may list it; StoreUnreachableError if unreachable."""
        with self._translated(self.location, "checking"):
            try:
                self.fs.ls(
                    f"{self.location.bucket}/{self._parent(self.location.key)}", detail=False, refresh=True
                )
            except FileNotFoundError as exc:
                if error_code(exc) is not None:  # the store said why (S3: NoSuchBucket)
                    raise
                # An empty prefix, or (GCS and Azure answer both alike) no bucket at all.
                if not self.fs.exists(self.location.bucket):
                    raise missing_bucket(self.location, "checking") from None

    @staticmethod
    def _parent(key: str) -> str:
        return key.rsplit("/", 1)[0] + "/" if "/" in key else ""

    def is_prefix(self, location: StoreLocation) -> bool:
        """True when objects are stored below ``location`` (it is a folder)."""
        with self._translated(location, "checking"):
            return bool(self._listing(location))

    def _listing(self, location: StoreLocation) -> list[dict[str, Any]]:
        try:
            return [
                e
                for e in self.fs.ls(location.path, detail=True, refresh=True)
                if e["name"].rstrip("/") != location.path
            ]
        except FileNotFoundError:
            return []

    def objects(self, location: StoreLocation) -> dict[str, int]:
        """Every object below the prefix ``location``: its key relative to the prefix -> its size (one listing)."""
        with self._translated(location, "listing"):
            try:
                found = self.fs.find(location.path, detail=True, withdirs=False)
            except FileNotFoundError:
                return {}
        start = len(location.path) + 1
        return {
            name[start:]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(location.path + "/")
        }

    def foreign(self, location: StoreLocation, sizes: Mapping[str, int]) -> list[str]:
        """Those of ``sizes`` (keys below ``location`` -> size) that are not Parquet files an extract of this schema
        version wrote; their footers are read concurrently, each from one ranged read of its tail."""
        names = sorted(sizes)
        paths = [f"{location.path}/{name}" for name in names]
        starts = [max(0, sizes[name] - _TAIL_BYTES) for name in names]
        with self._translated(location, "reading"):
            tails = self.fs.cat_ranges(paths, starts, [sizes[name] for name in names], on_error="return")
        return [name for name, tail in zip(names, tails, strict=True) if not _ours(tail)]

    def look(self, location: StoreLocation) -> tuple[bool, int | None]:
        """Whether objects are stored below ``location`` (it is a folder), and the size of the object at it (None:
        none); ConfigError unless the bucket exists and the credentials may list it (:meth:`check_bucket`).

        On S3 one listing answers all three (the object, and ``KEY/`` as a common prefix); elsewhere, or when more
        than a page of names start with the key, a listing of the key's folder, of the key and a look-up of the
        object.
        """
        if location.scheme == "s3":
            with self._translated(location, "checking"):
                answer = self.fs.call_s3(
                    "list_objects_v2",
                    Bucket=location.bucket,
                    Prefix=location.key,
                    Delimiter="/",
                    MaxKeys=LOOK_PAGE,
                )
            folder = any(p.get("Prefix") == location.key + "/" for p in answer.get("CommonPrefixes", []))
            # "KEY" sorts before every other name that starts with it, so a first page that holds no "KEY/"
            # has seen the object if there is one; only "KEY/" may be on a later page.
            if folder or not answer.get("IsTruncated"):
                sizes = (
                    int(o.get("Size") or 0)
                    for o in answer.get("Contents", [])
                    if o.get("Key") == location.key
                )
                return folder, next(sizes, None)
        self.check_bucket()
        if self.is_prefix(location):
            return True, None
        with self._translated(location, "checking"):
            try:
                return False, int(self.fs.info(location.path).get("size") or 0)
            except FileNotFoundError:
                return False, None

    def ends(
        self, location: StoreLocation, head: int, tail: int, size: int | None = None
    ) -> tuple[int, bytes, bytes] | None:
        """The size, first ``head`` bytes and last ``tail`` bytes of the object at ``location`` (two ranged reads in
        one call); None when there is none. ``size``: the object's, when known (no look-up then). An object that
        cannot be read reads as empty ends."""
        with self._translated(location, "checking"):
            if size is None:
                try:
                    size = int(self.fs.info(location.path).get("size") or 0)
                except FileNotFoundError:
                    return None
            if size == 0:
                return 0, b"", b""
            found = self.fs.cat_ranges(
                [location.path] * 2, [0, max(0, size - tail)], [min(size, head), size], on_error="return"
            )
        first, last = (part if isinstance(part, bytes) else b"" for part in found)
        return size, first, last

    def extract_output(self, location: StoreLocation, format: str, size: int | None = None) -> bool | None:
        """None when no object is at ``location``; else whether it is an extract's output in ``format``
        (:func:`~connector.extract.sinks.is_extract_output`). ``size``: the object's, when known."""
        ends = self.ends(location, OWN_HEAD_BYTES, OWN_TAIL_BYTES, size)
        return None if ends is None else is_extract_output(format, *ends)

    def check_dataset(self, location: StoreLocation, partitioning: Partitioning) -> None:
        """Refuse a dataset prefix that is an object, or whose partitions hold objects the extract did not write."""
        with self._translated(location, "checking"):
            if self.fs.isfile(location.path):
                raise _refused(
                    f"output {location.url} is an object, and --partition-by writes a folder",
                    "name a prefix that holds no object",
                )
        objects = self.objects(location)
        parts = survey(location.url, partitioning, objects)
        foreign = self.foreign(location, {name: objects[name] for name in parts})
        if foreign:
            raise _refused(
                f"output {location.url}: {foreign[0]} was not written by this version of the extract",
                "extract into a new or empty prefix, or move that object away",
            )

    def upload(self, files: Mapping[Path, StoreLocation]) -> None:
        """Publish each complete local file as its object, concurrently: each whole, or not at all."""
        if not files:
            return
        first = next(iter(files.values()))
        options = {"chunksize": S3_PART_BYTES} if first.scheme == "s3" else {}
        with self._translated(first if len(files) == 1 else self.location, "writing"):
            self.fs.put([os.fspath(p) for p in files], [loc.path for loc in files.values()], **options)

    def put_bytes(self, location: StoreLocation, data: bytes) -> None:
        """Write a small object in one request."""
        with self._translated(location, "writing"):
            self.fs.pipe_file(location.path, data)

    def download(self, files: Mapping[StoreLocation, Path]) -> None:
        """Copy each object to its local path, concurrently, through temporary names renamed when complete."""
        if not files:
            return
        temporary = {loc: local.with_name(f".{local.name}.download") for loc, local in files.items()}
        for tmp in temporary.values():
            tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._translated(next(iter(files)) if len(files) == 1 else self.location, "reading"):
                self.fs.get([loc.path for loc in temporary], [os.fspath(t) for t in temporary.values()])
            for loc, tmp in temporary.items():
                os.replace(tmp, files[loc])
        finally:
            for tmp in temporary.values():
                tmp.unlink(missing_ok=True)

    def remove(self, locations: Iterable[StoreLocation]) -> None:
        """Delete the objects that are there (only objects the caller made or checked to be the extract's)."""
        paths = [loc.path for loc in locations]
        if not paths:
            return
        with self._translated(self.location, "deleting"):
            try:
                self.fs.rm(paths)
            except FileNotFoundError:
                pass
