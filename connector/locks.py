"""One process at a time: an exclusive, non-blocking lock held through a lock file.

The load takes one on ``<ledger>.lock``, the extract on ``<output>.lock`` (and on its checkpoint's). The
lock is ``flock`` on the open file: the operating system releases it when the process ends, however it
ends, so a killed run never leaves a lock that blocks the next one. Without ``fcntl`` (Windows) the lock
is a no-op.

A lock file this module created is removed on release (``remove=True``); a file that was already there
and is not one of ours (another program's, a user's) is locked but never written or deleted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileLock"]

_MARK = b"connector lock file: held while a run uses the file beside it\n"


class FileLock:
    """An exclusive lock on ``path``; :meth:`acquire` never waits.

    ``remove``: delete the lock file on :meth:`release` when it is one of ours (created by this module,
    here or in an earlier run that was killed).
    """

    def __init__(self, path: str | os.PathLike[str], *, remove: bool = False) -> None:
        self.path = Path(path)
        self.remove = remove
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self._fd is not None})"

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock: True when taken, False when another process holds it; OSError if the file cannot be opened."""
        if self._fd is not None:
            return True
        for _ in range(100):  # another run may remove the file between our open and our lock: open it again
            fd = self._open()
            if fcntl is None:  # pragma: no cover - Windows
                self._fd = fd
                return True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            if self._is_current(fd):
                # Held as long as the descriptor is open: closed by release(), or by the OS at exit.
                self._fd = fd
                return True
            os.close(fd)
        raise OSError(f"cannot lock {self.path}: it keeps being replaced")  # pragma: no cover

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return os.open(self.path, os.O_RDWR)
        os.write(fd, _MARK)
        return fd

    def _is_current(self, fd: int) -> bool:
        """Whether the locked file is still the one at ``path`` (a releasing run may have removed it)."""
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

    def _ours(self, fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            return os.read(fd, len(_MARK) + 1) == _MARK
        except OSError:
            return False

    def release(self) -> None:
        """Let go of the lock (removing the file first if ``remove`` and it is ours)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self.remove and self._ours(fd) and self._is_current(fd):
                # Removed while still locked: a run waiting on this file sees it gone and opens a new one.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
