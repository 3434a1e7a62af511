"""Checkpoints of an extract: per window the cursor of the next page, and the part files written so far.

Layout beside the output ``PATH``::

    PATH.checkpoint.json     this file: filters, windows, per window {bounds, cursor, done, rows, pages, parts, position}
    PATH.parts/              Arrow IPC files, one per flushed batch: w0003-00012.arrow

Commit order makes a crash at any point safe: a part is written under a temporary name and renamed,
*then* the checkpoint that lists it is replaced atomically (tmp + ``os.replace``). A part that no
checkpoint lists (a crash between the two steps) is deleted on resume and its pages fetched again, so
every meeting ends up in the output exactly once.

Windows split while running (:mod:`.split`) are saved like the others: the split narrows the running
window's ``keep_before``/``keep_from`` and appends the new window, both under :attr:`Checkpoint.lock`,
so a save (from a worker thread) sees either neither change or both.

Only what the extract wrote is ever deleted: a checkpoint file is recognised by its content before it
is replaced or removed (:func:`read_checkpoint`), part files by their names, and the output's staging
path (``PATH.partial``) by the checkpoint that recorded it (:attr:`Checkpoint.staging`) before writing it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from ..errors import ConfigError
from ..paths import remove_path
from ..schema import SCHEMA_VERSION
from .slices import Window

__all__ = [
    "Checkpoint",
    "WindowState",
    "default_checkpoint_path",
    "is_part_name",
    "parts_dir_for",
    "read_checkpoint",
    "temporary_path",
]

FORMAT_VERSION = 3  # 3: positions in epoch ms (position_ms); earlier formats are refused, not read

# Part files are scratch space: zstd keeps them near three times the final Parquet size (raw: ~12x).
_PART_OPTIONS = ipc.IpcWriteOptions(compression="zstd")
_PART_NAME = re.compile(r"\.?w\d{4,}-\d{5,}\.arrow(\.tmp)?")  # w0003-00012.arrow, and .w0003-00012.arrow.tmp


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


def _not_ours(path: Path, what: str) -> ConfigError:
    error = ConfigError(f"checkpoint {path} {what}; nothing was changed")
    error.hint = "name a new file for the checkpoint (--checkpoint), or move that one away"
    return error


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = temporary_path(path)
    with open(tmp, "wb") as fh:
        fh.write(json.dumps(data, indent=1, sort_keys=True).encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class WindowState:
    """Progress of one window: the cursor to continue from, and what is already committed.

    ``position``: the API sort key (epoch ms) of the last meeting committed, i.e. how far the cursor has got
    in the API's order (for progress only; None before the first page).
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
class Checkpoint:
    """The resumable state of one extract; :meth:`save` writes it atomically."""

    path: Path
    filters: dict[str, str]
    windows: list[WindowState]
    slices: int
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    span: tuple[datetime, datetime] | None = None  # the probed range of starts (guides splits)
    staging: str | None = None  # the output's temporary path, recorded before it is written
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def parts_dir(self) -> Path:
        return parts_dir_for(self.path)

    @property
    def rows(self) -> int:
        """Rows committed so far."""
        return sum(w.rows for w in self.windows)

    @property
    def touched(self) -> bool:
        """True once any window has committed a page."""
        return any(w.pages or w.done for w in self.windows)

    # ------------------------------------------------------------------------------------- files
    def save(self) -> None:
        """Write the checkpoint atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:  # a consistent snapshot while a split may change the windows
            windows = [w.to_dict() for w in self.windows]
        _write_json_atomic(self.path, {
            "format": FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "filters": self.filters,
            "slices": self.slices,
            "started_at": self.started_at,
            "span": [t.isoformat() for t in self.span] if self.span else None,
            "staging": self.staging,
            "windows": windows,
        })

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
        cp = cls(path, dict(filters), windows, int(data.get("slices", 1)), str(data.get("started_at")),
                 (datetime.fromisoformat(span[0]), datetime.fromisoformat(span[1])) if span else None,
                 data.get("staging"))
        cp._drop_orphans()
        return cp

    @classmethod
    def discard(cls, path: Path) -> None:
        """Delete an earlier run's checkpoint (not resumed), its part files and its staged output, if any.

        A file at ``path`` that is not a checkpoint is refused (ConfigError), never deleted.
        """
        data = read_checkpoint(path)
        staging = data.get("staging") if data is not None else None
        if isinstance(staging, str) and staging:
            remove_path(staging)
        _clear_parts(parts_dir_for(path), keep=())
        if data is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _drop_orphans(self) -> None:
        listed = {name for w in self.windows for name in w.parts}
        _clear_parts(self.parts_dir, keep=listed)
        missing = [name for name in listed if not (self.parts_dir / name).is_file()]
        if missing:
            raise ConfigError(f"the checkpoint {self.path} lists part files that are gone ({missing[0]}); delete it to start again")

    def commit(
        self, state: WindowState, batch: pa.RecordBatch | None, cursor: str | None, done: bool, pages: int,
        position: int | None = None,
    ) -> None:
        """Make a flushed batch durable (part file, then checkpoint) and advance the window (to ``position``, if given)."""
        if batch is not None and batch.num_rows:
            self.parts_dir.mkdir(parents=True, exist_ok=True)
            name = f"w{state.window.index:04d}-{len(state.parts):05d}.arrow"
            tmp = self.parts_dir / f".{name}.tmp"
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(
                sink, batch.schema, options=_PART_OPTIONS
            ) as writer:
                writer.write_batch(batch)
            os.replace(tmp, self.parts_dir / name)
            state.parts.append(name)
            state.rows += batch.num_rows
        state.cursor = cursor
        state.done = done
        state.pages += pages
        if position is not None:
            state.position = position
        self.save()

    def read_window(self, state: WindowState) -> Iterator[pa.RecordBatch]:
        """The committed batches of one window, in order (memory-mapped, not loaded)."""
        for name in state.parts:
            # No ``with``: batches handed on (to a row-group buffer) keep the mapping alive themselves.
            reader = ipc.open_file(pa.memory_map(str(self.parts_dir / name)))
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def remove(self) -> None:
        """Delete the checkpoint and its parts (after the output was committed)."""
        _clear_parts(self.parts_dir, keep=())
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _clear_parts(folder: Path, keep: Collection[str]) -> None:
    """Delete the part files in ``folder`` except ``keep``; then the folder, if that left it empty."""
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if is_part_name(entry.name) and entry.name not in keep:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: files someone else put there stay, and so does the folder


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    changed = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(changed) or "no difference"
