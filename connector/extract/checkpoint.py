"""Checkpoints of an extract: per window the cursor of the next page, and the part files written so far.

Layout beside the output ``PATH``::

    PATH.checkpoint.json     this file: filters, windows, per window {bounds, cursor, done, rows, pages, parts, position},
                             and with child tables the fan-out {pending, parents, skipped, tables: {rows, parts}}
    PATH.parts/              Arrow IPC files, one per flushed batch: w0003-00012.arrow (a window's),
                             call_recordings-000004.arrow (a child table's)

Commit order makes a crash at any point safe: a part is written under a temporary name and renamed,
*then* the checkpoint that lists it is replaced atomically (tmp + ``os.replace``). A part that no
checkpoint lists (a crash between the two steps) is deleted on resume and its pages fetched again, so
every meeting ends up in the output exactly once.

A child stream's progress (:class:`FanOutState`) is the list of parent keys committed but not yet fanned
out (``pending``): a meetings commit adds its keys, and a child commit removes the keys whose rows it
holds, each in one checkpoint change with its parts. A resumed run fetches the pending keys again from
the start; their rows were in no committed part, so none is lost or written twice.

The checkpoint is the one owner of a run's windows, and it changes only on the event loop: a commit
(:meth:`Checkpoint.commit`) updates its window and takes a snapshot there, then writes the part file and
the snapshot in a worker thread. With ``save_every`` (a staged run: its rows are in part files, not yet
delivered anywhere) the snapshot is written at most that often, and at the end or on an error
(:meth:`Checkpoint.flush`): the part files are written at every commit, so a kill between two saves only
leaves parts no checkpoint lists, dropped on resume and fetched again (bench/extract.py: one save every
~1.4 pages of all ~100 windows cost ~5 us of client CPU per meeting). A run whose rows are delivered as
they come (no staging) saves at every commit, since a delivery must not be repeated. A split (:meth:`Checkpoint.split`, chosen by :mod:`.split`) narrows the
running window and appends the new one in one step. A save therefore sees either neither change of a
split or both, with no lock. A checkpoint without a path (an extract nobody asked to checkpoint) keeps
the same state in memory and writes nothing.

Only what the extract wrote is ever deleted: a checkpoint file is recognised by its content before it
is replaced or removed (:func:`read_checkpoint`), part files by their names, and the output's staging
path (``PATH.partial``) by the checkpoint that recorded it (:attr:`Checkpoint.staging`) before writing it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from ..deferred import deferred
from ..errors import ConfigError
from ..paths import remove_path
from ..schema import SCHEMA_VERSION
from .slices import Window

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.ipc as ipc
else:
    pa = deferred("pyarrow")
    ipc = deferred("pyarrow.ipc")

__all__ = [
    "Checkpoint",
    "FanOutState",
    "PartsNotWritten",
    "TableState",
    "WindowState",
    "default_checkpoint_path",
    "is_part_name",
    "parts_dir_for",
    "read_checkpoint",
    "staged_names",
    "temporary_path",
]

FORMAT_VERSION = 3  # 3: positions in epoch ms (position_ms); earlier formats are refused, not read

# Part files are scratch space, written once and mostly read back once: lz4 costs ~40 % of zstd's CPU
# (write + read back, ~5 vs ~9 us a meeting) for ~1.8x the bytes (~420 vs ~235 a meeting; raw ~1,100).
# One thread each: the parts are written and read in a worker thread of a run that already keeps both
# cores busy, where Arrow's per-column tasks on its own pool cost more in wake-ups than they save.
@cache
def _part_options() -> tuple[ipc.IpcWriteOptions, ipc.IpcReadOptions]:
    """How part files are written and read (a function: Arrow is imported when first used)."""
    return ipc.IpcWriteOptions(compression="lz4", use_threads=False), ipc.IpcReadOptions(use_threads=False)


# w0003-00012.arrow and .w0003-00012.arrow.tmp (a window's); call_recordings-000004.arrow (a child table's)
_PART_NAME = re.compile(r"\.?(w\d{4,}|[a-z][a-z_]*[a-z])-\d{5,}\.arrow(\.tmp)?")


def default_checkpoint_path(output: str | os.PathLike[str]) -> Path:
    """``<output>.checkpoint.json``."""
    return Path(f"{os.fspath(output)}.checkpoint.json")


def parts_dir_for(checkpoint: Path) -> Path:
    """The directory of part files that belongs to a checkpoint file."""
    name = checkpoint.name.removesuffix(".json").removesuffix(".checkpoint")
    return checkpoint.with_name(f"{name}.parts")


def is_part_name(name: str) -> bool:
    """True for the name of a part file (or its temporary name): the only files of a parts directory the extract deletes."""
    return _PART_NAME.fullmatch(name) is not None


def temporary_path(path: Path) -> Path:
    """Where :meth:`Checkpoint.save` writes before renaming onto ``path``."""
    return path.with_name(f".{path.name}.tmp")


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The content of the checkpoint at ``path``; None when there is no file; ConfigError when it is not a checkpoint.

    A checkpoint is JSON with a ``format`` number and a ``windows`` list, as :meth:`Checkpoint.save` writes it;
    any other file is somebody else's, and the extract neither replaces nor deletes it.
    """
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _not_ours(path, "is a directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the checkpoint {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("format"), int) and isinstance(data.get("windows"), list)):
        raise _not_ours(path, "is not an extract checkpoint")
    return data


def staged_names(data: Mapping[str, Any] | None) -> list[str]:
    """The staging names a checkpoint's content records (one per table of its run; none without one)."""
    staging = data.get("staging") if data is not None else None
    if isinstance(staging, str):
        return [staging]
    return [s for s in staging if isinstance(s, str)] if isinstance(staging, list) else []


def _not_ours(path: Path, what: str) -> ConfigError:
    error = ConfigError(f"checkpoint {path} {what}; nothing was changed")
    error.hint = "name a new file for the checkpoint (--checkpoint), or move that one away"
    return error


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    # No fsync: the checkpoint guards against a killed process (the page cache outlives it), as the part
    # files it lists do (they were never synced, so a synced checkpoint could not survive a power cut
    # either). A sync per commit cost 6-120 ms on the run's one consumer, and json 4 ms of CPU at 150
    # windows (orjson: 0.1): together ~20 us of client CPU per meeting (bench/extract.py, page 200).
    tmp = temporary_path(path)
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(tmp, path)


class PartsNotWritten(OSError):
    """A part file could not be written (a full disk, a file-size limit, an I/O error): the output it stages
    for cannot be either, and the run names the output (:class:`~.run.ExtractRun`)."""


@dataclass
class WindowState:
    """Progress of one window: the cursor to continue from, and what is already committed.

    ``position``: the API sort key (a start key, :func:`~.slices.to_key`) of the last meeting committed, i.e.
    how far the cursor has got in the API's order (for progress only; None before the first page).
    """

    window: Window
    cursor: str | None = None
    done: bool = False
    rows: int = 0
    pages: int = 0
    parts: list[str] = field(default_factory=list)
    position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.window.to_dict(), "cursor": self.cursor, "done": self.done, "rows": self.rows,
                "pages": self.pages, "parts": list(self.parts), "position_ms": self.position}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowState:
        position = data.get("position_ms")
        return cls(Window.from_dict(data), data.get("cursor"), bool(data.get("done")), int(data.get("rows", 0)),
                   int(data.get("pages", 0)), list(data.get("parts", [])), int(position) if position is not None else None)


@dataclass
class TableState:
    """A child table's committed rows and part files."""

    rows: int = 0
    parts: list[str] = field(default_factory=list)


@dataclass
class FanOutState:
    """A child stream's progress: parent keys committed but not fanned out yet (in commit order), parents
    whose rows are committed, parents skipped (meetings that start after the run began), and per table
    the rows and parts committed."""

    pending: dict[str, None] = field(default_factory=dict)  # an ordered set
    parents: int = 0
    skipped: int = 0
    tables: dict[str, TableState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"pending": list(self.pending), "parents": self.parents, "skipped": self.skipped,
                "tables": {name: {"rows": t.rows, "parts": list(t.parts)} for name, t in self.tables.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FanOutState:
        tables = {name: TableState(int(t.get("rows", 0)), list(t.get("parts", []))) for name, t in data["tables"].items()}
        return cls(dict.fromkeys(data.get("pending", [])), int(data.get("parents", 0)), int(data.get("skipped", 0)), tables)


class Checkpoint:
    """The resumable state of one extract: every window's progress, and the part files committed.

    Owned by one :class:`~.run.ExtractRun` and changed only on its event loop. ``path`` None keeps the
    state in memory only (no file, no parts).
    """

    def __init__(
        self,
        path: Path | None,
        filters: Mapping[str, str],
        windows: Sequence[WindowState],
        slices: int,
        *,
        started_at: str | None = None,
        span: tuple[datetime, datetime] | None = None,
        staging: str | list[str] | None = None,
        fanout: FanOutState | None = None,
    ) -> None:
        self.path = path
        self.save_every = 0.0  # seconds between saves of commits; 0: every commit (see the module docstring)
        self._saved_at = time.monotonic()
        self._unsaved = False  # changes since the last save
        self.filters = dict(filters)
        self._windows = list(windows)
        self.slices = slices
        self.started_at = started_at or datetime.now(UTC).isoformat()
        self.span = span  # the probed range of starts (guides splits and progress)
        self.staging = staging  # the output's temporary path (one per table), recorded before it is written
        self.fanout = fanout  # a child stream's progress; None without child tables

    @property
    def windows(self) -> tuple[WindowState, ...]:
        """Every window's state, split ones included (a copy of the list: change them through this object)."""
        return tuple(self._windows)

    @property
    def parts_dir(self) -> Path | None:
        return parts_dir_for(self.path) if self.path is not None else None

    @property
    def rows(self) -> int:
        """Rows committed so far."""
        return sum(w.rows for w in self._windows)

    @property
    def touched(self) -> bool:
        """True once any window has committed a page."""
        return any(w.pages or w.done for w in self._windows)

    def _all_parts(self) -> set[str]:
        parts = {name for w in self._windows for name in w.parts}
        if self.fanout is not None:
            parts.update(name for t in self.fanout.tables.values() for name in t.parts)
        return parts

    # ------------------------------------------------------------------------------------- files
    def _snapshot(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "filters": self.filters,
            "slices": self.slices,
            "started_at": self.started_at,
            "span": [t.isoformat() for t in self.span] if self.span else None,
            "staging": self.staging,
            "windows": [w.to_dict() for w in self._windows],
        } | ({"fanout": self.fanout.to_dict()} if self.fanout is not None else {})

    def save(self) -> None:
        """Write the checkpoint atomically (nothing without a path)."""
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(self.path, self._snapshot())
            self._saved_at, self._unsaved = time.monotonic(), False

    def flush(self) -> None:
        """Save the changes not saved yet (``save_every``)."""
        if self._unsaved:
            self.save()

    def _due(self) -> bool:
        """Whether this commit's snapshot is written now (else later: ``save_every``, :meth:`flush`)."""
        return time.monotonic() - self._saved_at >= self.save_every

    @classmethod
    def load(cls, path: Path, filters: Mapping[str, str]) -> Checkpoint:
        """Read a checkpoint; refuse one made for other filters or another schema version."""
        data = read_checkpoint(path)
        if data is None:
            raise ConfigError(f"the checkpoint {path} is gone")
        if data.get("format") != FORMAT_VERSION or data.get("schema_version") != SCHEMA_VERSION:
            raise ConfigError(f"the checkpoint {path} was written by another version; delete it to start again")
        if data.get("filters") != dict(filters):
            raise ConfigError(
                f"the checkpoint {path} is for other filters ({_diff(data.get('filters') or {}, filters)}); "
                "use the same filters to resume, or delete the checkpoint to start again"
            )
        windows = [WindowState.from_dict(w) for w in data["windows"]]
        span = data.get("span")
        fanout = FanOutState.from_dict(data["fanout"]) if data.get("fanout") is not None else None
        cp = cls(path, filters, windows, int(data.get("slices", 1)), started_at=str(data.get("started_at")),
                 span=(datetime.fromisoformat(span[0]), datetime.fromisoformat(span[1])) if span else None,
                 staging=data.get("staging"), fanout=fanout)
        cp._drop_orphans(path)
        return cp

    @classmethod
    def discard(cls, path: Path) -> None:
        """Delete an earlier run's checkpoint (not resumed), its part files and its staged output, if any.

        A file at ``path`` that is not a checkpoint is refused (ConfigError), never deleted. A staged output
        is removed only when it was a local path (an absolute one, as file sinks record it); any other
        name (a table, an object) is its sink's own, which replaces it when it opens.
        """
        data = read_checkpoint(path)
        for staging in staged_names(data):
            if os.path.isabs(staging):
                remove_path(staging)
        _clear_parts(parts_dir_for(path), keep=())
        if data is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _drop_orphans(self, path: Path) -> None:
        listed = self._all_parts()
        folder = parts_dir_for(path)
        _clear_parts(folder, keep=listed)
        missing = [name for name in listed if not (folder / name).is_file()]
        if missing:
            raise ConfigError(f"the checkpoint {path} lists part files that are gone ({missing[0]}); delete it to start again")

    # ----------------------------------------------------------------------------------- changes
    def split(self, state: WindowState, at: datetime, *, descending: bool, base_ends_from: datetime | None) -> WindowState:
        """Hand the far side of ``at`` of a running window to a new window; return the new window's state.

        Both windows change in this one call (no await), so any later save holds both or neither.
        """
        index = max(s.window.index for s in self._windows) + 1
        state.window, new = state.window.split_at(at, index, descending=descending, base_ends_from=base_ends_from)
        fresh = WindowState(new)
        self._windows.append(fresh)
        self._saved_at = float("-inf")  # rare: the next commit saves it, and a resumed run keeps the balance
        return fresh

    async def commit(
        self, state: WindowState, batch: pa.RecordBatch | None, cursor: str | None, done: bool, pages: int,
        position: int | None = None, *, rows: int = 0, keys: Sequence[str] = (), skipped: int = 0,
    ) -> None:
        """Advance a window past a flushed batch and make it durable (part file, then checkpoint).

        ``batch`` is kept as a part file (a staged output reads it back); ``rows`` counts rows delivered
        elsewhere (no part). ``keys``: the batch's parent keys for the child stream (``skipped``: those
        left out), pending from this change on. The part is written in a worker thread first; the state
        changes on the event loop once it is there (a failed or cancelled write leaves the state as it
        was); then the checkpoint that lists it is saved, in a worker thread, when due.
        """
        name: str | None = None
        parts: list[tuple[str, pa.RecordBatch]] = []
        if batch is not None and batch.num_rows and self.path is not None:
            name = f"w{state.window.index:04d}-{len(state.parts):05d}.arrow"
            parts.append((name, batch))
            rows += batch.num_rows
        await self._write_parts(parts)
        if self.fanout is not None:
            self.fanout.pending.update(dict.fromkeys(keys))
            self.fanout.skipped += skipped
        if name is not None:
            state.parts.append(name)
        state.rows += rows
        state.cursor = cursor
        state.done = done
        state.pages += pages
        if position is not None:
            state.position = position
        await self._changed()

    async def commit_children(
        self, keys: Sequence[str], batches: Mapping[str, pa.RecordBatch], *, staged: bool
    ) -> dict[str, str]:
        """The child rows of the parents ``keys``, committed: one part per table (``staged``; else the rows
        were delivered), the keys no longer pending, in one checkpoint change. Returns the new parts' names."""
        fanout = self.fanout
        assert fanout is not None, "a checkpoint without a child stream"
        named: dict[str, str] = {}
        for table, batch in batches.items():
            state = fanout.tables.setdefault(table, TableState())
            if staged and batch.num_rows and self.path is not None:
                named[table] = f"{table}-{len(state.parts):06d}.arrow"
        await self._write_parts([(name, batches[table]) for table, name in named.items()])
        for table, batch in batches.items():
            state = fanout.tables[table]
            state.rows += batch.num_rows
            if table in named:
                state.parts.append(named[table])
        for key in keys:
            fanout.pending.pop(key, None)
        fanout.parents += len(keys)
        await self._changed()
        return named

    async def _write_parts(self, parts: Sequence[tuple[str, pa.RecordBatch]]) -> None:
        if parts and self.path is not None:
            try:
                await anyio.to_thread.run_sync(self._write_many, self.path, None, parts)
            except OSError as exc:
                raise PartsNotWritten(exc.errno, exc.strerror or str(exc)) from exc

    async def _changed(self) -> None:
        """The state changed: save it now if due (``save_every``), else mark it for a later save or :meth:`flush`."""
        if self.path is None:
            return
        self._unsaved = True
        if self._due():
            snapshot = self._snapshot()
            self._saved_at = time.monotonic()
            await anyio.to_thread.run_sync(self._write_many, self.path, snapshot, [])
            self._unsaved = False  # not reached when cancelled meanwhile: flush() then saves again

    @staticmethod
    def _write_many(
        path: Path, snapshot: Mapping[str, Any] | None, parts: Sequence[tuple[str, pa.RecordBatch]]
    ) -> None:
        for name, batch in parts:
            folder = parts_dir_for(path)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, batch.schema, options=_part_options()[0]) as writer:
                writer.write_batch(batch)
            os.replace(tmp, folder / name)
        if snapshot is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(path, snapshot)

    def read_parts(self, names: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """The batches of committed part files, in order, one part in memory at a time.

        Read, not memory-mapped: parts are compressed, so their batches are copies anyway, and a mapping
        kept alive by a batch would count every page of the file in the resident memory.
        """
        folder = self.parts_dir
        assert folder is not None, "a checkpoint without a path has no parts"
        for name in names:
            with pa.OSFile(str(folder / name), "rb") as source:
                reader = ipc.open_file(source, options=_part_options()[1])
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            yield from batches

    def remove(self) -> None:
        """Delete the checkpoint and its parts (after the output was committed)."""
        if self.path is None:
            return
        _clear_parts(parts_dir_for(self.path), keep=(), written_back=_age(self.started_at) > WRITTEN_BACK_AFTER)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# Deleting a part whose blocks are on disk is mostly waiting on the file system: 560 such files of 250 kB took
# 2.3-2.6 s one by one on the dev machine's ext4 (mounted with discard), 0.2-0.7 s from 4 threads (docs/
# performance.md). A part still only in the page cache is cheap to drop, and 4 threads then cost ~1.3x the
# time: Linux writes dirty pages back after 30 s (vm.dirty_expire_centisecs), so a run younger than that
# deletes its parts one by one.
WRITTEN_BACK_AFTER = 30.0
_UNLINKERS = 4


def _age(started_at: str) -> float:
    """Seconds since ``started_at`` (ISO 8601); infinite when it cannot be read."""
    try:
        began = datetime.fromisoformat(started_at)
    except ValueError:
        return math.inf
    return (datetime.now(UTC) - (began if began.tzinfo else began.replace(tzinfo=UTC))).total_seconds()


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _clear_parts(folder: Path, keep: Collection[str], *, written_back: bool = True) -> None:
    """Delete the part files in ``folder`` except ``keep``; then the folder, if that left it empty.

    ``written_back``: the parts may be on disk by now (an earlier run's, or a run older than
    :data:`WRITTEN_BACK_AFTER`), so they are deleted from several threads.
    """
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    doomed = [e for e in entries if is_part_name(e.name) and e.name not in keep]
    if written_back and len(doomed) > 1:
        with ThreadPoolExecutor(_UNLINKERS) as pool:
            list(pool.map(_unlink, doomed))
    else:
        for entry in doomed:
            _unlink(entry)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: files someone else put there stay, and so does the folder


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    changed = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(changed) or "no difference"
