"""connector.locks: one holder at a time; a lock file is removed only when the lock made it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.locks import FileLock


def test_a_second_holder_is_refused_until_release(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.acquire() and first.held
    assert second.acquire() is False and not second.held
    first.release()
    assert second.acquire()
    second.release()


def test_a_lock_held_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from connector.locks import FileLock; l = FileLock({str(path)!r}); "
            "assert l.acquire(); print('held', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert FileLock(path).acquire() is False
    finally:
        holder.communicate("\n", timeout=30)
    with FileLock(path) as lock:  # the process ended: the OS let go of its lock
        assert lock.acquire()


@pytest.mark.parametrize(
    ("before", "removed"),
    [
        pytest.param(None, True, id="made-here"),
        pytest.param("ours", True, id="left-by-a-killed-run"),
        pytest.param(b"", False, id="empty-foreign-file"),
        pytest.param(b"my notes\n", False, id="user-file"),
    ],
)
def test_remove_deletes_only_our_lock_files(
    tmp_path: Path, before: bytes | str | None, removed: bool
) -> None:
    path = tmp_path / "out.csv.lock"
    if before == "ours":  # a run killed while holding it: the OS let go of the lock, the file stayed
        code = (
            f"import os; from connector.locks import FileLock; FileLock({str(path)!r}).acquire(); os._exit(9)"
        )
        assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 9
        content = path.read_bytes()
    elif before is not None:
        path.write_bytes(before)
        content = before
    lock = FileLock(path, remove=True)
    assert lock.acquire()
    lock.release()
    assert path.exists() is not removed
    if not removed:
        assert path.read_bytes() == content


def test_without_remove_the_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite.lock"
    with FileLock(path) as lock:
        assert lock.acquire()
    assert path.exists()
