"""An S3 object uploaded while its local file is written: multipart parts sent as the file grows, completed at commit.

    sink's thread (write, commit)                 fsspec's I/O loop (s3fs)
    advance(): 5 MiB more on disk than sent  ->   [create_multipart_upload], upload_part n   (one in flight)
    finish():  the file is complete          ->   the remaining parts, complete_multipart_upload
    cancel()                                 ->   abort_multipart_upload

The local file only grows (Parquet, CSV and JSON Lines writers append; nothing written is rewritten), so
bytes below its size are final and a part can be read from it while the writer goes on. Nothing is
visible under the key until the upload is completed, after the file's last byte; an error aborts it (a
killed process leaves an unfinished upload, which no reader sees: an ``AbortIncompleteMultipartUpload``
lifecycle rule cleans those up).

A part that fails while the meetings are fetched does not fail the run: the streaming stops, its upload
is aborted, and :meth:`PartStream.finish` returns False, so the sink uploads the whole file at commit as
it would have without streaming (where a store that is still failing is the run's error, after the
SDK's retries, and ``--resume`` continues).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import mimetypes
import os
from pathlib import Path
from typing import Any

from .location import S3_PART_BYTES, StoreLocation, store_error

__all__ = ["PartStream"]

_log = logging.getLogger(__name__)


class _Window(io.RawIOBase):
    """``size`` bytes of the file ``fd`` from ``start``, as a seekable stream (the SDK reads a part's body in
    chunks, and seeks back to its start to retry)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        super().__init__()
        self._fd, self._start, self._size, self._at = fd, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = min(max(0, base + offset), self._size)
        return self._at

    def read(self, size: int = -1) -> bytes:
        # One allocation per chunk: RawIOBase.read would fill a bytearray, then copy it into bytes.
        count = self._size - self._at if size is None or size < 0 else min(size, self._size - self._at)
        if count <= 0:
            return b""
        data = os.pread(self._fd, count, self._start + self._at)
        self._at += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class PartStream:
    """Follows one growing local file and sends it to ``location`` on S3 as a multipart upload (module docstring).

    ``fs`` is the location's s3fs filesystem; ``part_bytes`` the size of every part but the last (S3's
    minimum, 5 MiB, by default). Memory: one part in flight, streamed from the file (:class:`_Window`), so
    no part is held whole.
    """

    def __init__(self, fs: Any, location: StoreLocation, part_bytes: int = S3_PART_BYTES) -> None:
        self.fs = fs
        self.location = location
        self.part_bytes = part_bytes
        self._fd: int | None = None
        self._upload_id: str | None = None
        self._etags: list[str] = []
        self._pending: concurrent.futures.Future[str] | None = None
        self._sent = 0  # bytes of the file handed to parts
        self._failed = False

    def __repr__(self) -> str:
        return f"PartStream({self.location.url!r}, parts={len(self._etags)})"

    def start(self, path: Path) -> None:
        """Follow the local file at ``path`` (just created by the writer)."""
        self._fd = os.open(path, os.O_RDONLY)

    # ------------------------------------------------------------------------------ on the I/O loop
    async def _send(self, number: int, data: _Window) -> str:
        if self._upload_id is None:
            content_type, _ = mimetypes.guess_type(self.location.key)  # as s3fs's put_file sets it
            extra = {"ContentType": content_type} if content_type else {}
            created = await self.fs._call_s3(
                "create_multipart_upload", Bucket=self.location.bucket, Key=self.location.key, **extra
            )
            self._upload_id = str(created["UploadId"])
        answer = await self.fs._call_s3(
            "upload_part",
            Bucket=self.location.bucket,
            Key=self.location.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        return str(answer["ETag"])

    async def _complete(self) -> None:
        parts = [{"PartNumber": i + 1, "ETag": etag} for i, etag in enumerate(self._etags)]
        await self.fs._call_s3(
            "complete_multipart_upload",
            Bucket=self.location.bucket,
            Key=self.location.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": parts},
        )

    async def _abort(self) -> None:
        await self.fs._call_s3(
            "abort_multipart_upload",
            Bucket=self.location.bucket,
            Key=self.location.key,
            UploadId=self._upload_id,
        )

    def _run(self, coroutine: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.fs.loop)

    # ------------------------------------------------------------------------------ the sink's thread
    def _submit(self, size: int) -> None:
        assert self._fd is not None
        body = _Window(self._fd, self._sent, size)
        self._sent += size
        self._pending = self._run(self._send(len(self._etags) + 1, body))

    def _collect(self) -> None:
        """Wait for the part in flight; its ETag, or (an error) the streaming stops."""
        assert self._pending is not None
        try:
            self._etags.append(self._pending.result())
        except Exception as exc:  # the SDK's errors, after its retries: the commit uploads the file instead
            _log.debug("streaming upload to %s stopped: %r", self.location.url, exc)
            self._failed = True
            self._drop_upload()
        finally:
            self._pending = None

    def advance(self) -> None:
        """Send the next part when the file holds a whole part more than was sent and no part is in flight."""
        if self._fd is None or self._failed:
            return
        if self._pending is not None:
            if not self._pending.done():
                return  # never wait here: the fetch goes on while the part travels
            self._collect()
            if self._failed:
                return
        if os.fstat(self._fd).st_size - self._sent >= self.part_bytes:
            self._submit(self.part_bytes)

    def finish(self) -> bool:
        """The file is complete: send the rest and complete the upload, True; False when nothing was streamed
        (a file under one part, or the streaming stopped): the caller uploads the whole file then."""
        if self._fd is None:
            return False
        try:
            if self._pending is not None:
                self._collect()
            if self._failed or self._upload_id is None:
                return False
            size = os.fstat(self._fd).st_size
            try:
                while size - self._sent > 0:
                    # full parts while more than two remain; the last part takes the rest (1 to 2 parts' worth)
                    rest = size - self._sent
                    self._submit(self.part_bytes if rest >= 2 * self.part_bytes else rest)
                    assert self._pending is not None
                    self._etags.append(self._pending.result())
                    self._pending = None
                self._run(self._complete()).result()
            except Exception as exc:
                self._pending = None
                self._drop_upload()
                raise store_error(exc, self.location, "writing") from exc
            return True
        finally:
            self._close()

    def cancel(self) -> None:
        """Stop: the part in flight is cancelled and the upload aborted (best effort: the run is failing already)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._drop_upload()
        self._close()

    def _drop_upload(self) -> None:
        if self._upload_id is None:
            return
        try:
            self._run(self._abort()).result()
        except Exception as exc:  # unreachable store: the unfinished upload stays invisible, as after a kill
            _log.debug("could not abort the upload to %s: %r", self.location.url, exc)
        self._upload_id = None

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
