"""The files one extract writes, checked before anything is fetched and locked while it runs.

    PATH                    the output (a file, or with --partition-by a folder)
    PATH.partial            the output being written (staging)
    PATH.lock               held while the extract runs; removed at the end
    CHECKPOINT              default PATH.checkpoint.json
    .CHECKPOINT.tmp         the checkpoint being replaced
    CHECKPOINT.lock         held while the extract runs; removed at the end
    <checkpoint>.parts/     part files

Before the first request (:meth:`ExtractFiles.claim`): no two of these may be one file (however
spelled: :func:`connector.paths.same_path`) or lie inside a folder of another; then the locks are
taken (a second extract of the same output or checkpoint stops there, having touched nothing); then
whatever is already at those paths must be the extract's own (a checkpoint, part files, a staged
output that the checkpoint recorded, the months of a dataset) or the run is refused. So a mistake in a
path ends in a one-line error, never in a deleted file. An extract of several tables has these paths
for each table's file, and one checkpoint (by default the first table's ``PATH.tables.checkpoint.json``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..locks import FileLock
from ..paths import is_within, remove_path, same_path
from .checkpoint import is_part_name, parts_dir_for, read_checkpoint, staged_names, temporary_path
from .sinks import AtomicSink, FileSink

__all__ = ["ExtractFiles"]


@dataclass(frozen=True)
class _Role:
    name: str
    path: Path
    folder: bool = False


def _lock_path(path: Path) -> Path:
    # Beside the file the path leads to: through a symlinked folder two runs would write one dataset.
    target = Path(os.path.realpath(path))
    return target.with_name(target.name + ".lock")


def _refused(message: str, hint: str) -> ConfigError:
    error = ConfigError(f"{message}; nothing was changed")
    error.hint = hint
    return error


@dataclass(frozen=True)
class ExtractFiles:
    """The paths of one extract: its file ``sinks`` (none when not writing files) and ``checkpoint`` (None: none kept)."""

    sinks: tuple[FileSink, ...]
    checkpoint: Path | None

    @classmethod
    def plan(cls, sink: object, checkpoint: Path | None) -> ExtractFiles:
        """The files of an extract into ``sink`` (or a mapping of table to sink); an atomic sink's checkpoint
        defaults to its ``default_checkpoint()`` (several tables': the first one's, named ``.tables.checkpoint.json``)."""
        sinks = list(sink.values()) if isinstance(sink, Mapping) else [sink]
        atomic = [s for s in sinks if isinstance(s, AtomicSink)]
        if sinks and len(atomic) == len(sinks):
            default = atomic[0].default_checkpoint()
            if len(sinks) > 1:
                default = default.with_name(
                    default.name.removesuffix(".checkpoint.json") + ".tables.checkpoint.json"
                )
            checkpoint = checkpoint or default
        return cls(tuple(s for s in sinks if isinstance(s, FileSink)), checkpoint)

    def _roles(self) -> list[_Role]:
        roles: list[_Role] = []
        for sink in self.sinks:
            folder = sink.is_folder
            roles += [
                _Role("the output", sink.path, folder),
                _Role("the output's temporary copy", sink.staging, folder),
                _Role("the output's lock file", _lock_path(sink.path)),
            ]
        if self.checkpoint is not None:
            roles += [
                _Role("the checkpoint", self.checkpoint),
                _Role("the checkpoint's temporary file", temporary_path(self.checkpoint)),
                _Role("the folder of part files", parts_dir_for(self.checkpoint), True),
                _Role("the checkpoint's lock file", _lock_path(self.checkpoint)),
            ]
        return roles

    def check_paths(self) -> None:
        """Refuse two roles on one file, or a file inside another role's folder (nothing is touched)."""
        roles = self._roles()
        for i, a in enumerate(roles):
            for b in roles[i + 1 :]:
                if same_path(a.path, b.path):
                    raise _refused(
                        f"{b.name} {b.path} is the same file as {a.name} {a.path}",
                        "give the output and the checkpoint (--output, --checkpoint) paths of their own",
                    )
                for outer, inner in ((a, b), (b, a)):
                    if outer.folder and is_within(inner.path, outer.path):
                        raise _refused(
                            f"{inner.name} {inner.path} is inside {outer.name} {outer.path}",
                            "keep the checkpoint (--checkpoint) out of the output's folder, and the output out of "
                            "the part files' folder",
                        )

    def _lock(self, stack: ExitStack, path: Path, what: str, flag: str) -> None:
        lock = FileLock(_lock_path(path), remove=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            taken = lock.acquire()
        except OSError as exc:
            blocker = next((p for p in path.parents if p.exists() or p.is_symlink()), None)
            if blocker is not None and not blocker.is_dir():
                raise _refused(f"{what} {path} cannot be written: {blocker} is a file, not a folder", f"fix {flag}") from None
            raise ConfigError(
                f"{what} {path} cannot be used: cannot open {lock.path}: {exc.strerror}"
            ) from None
        if not taken:
            error = ConfigError(f"{what} {path} is in use by another extract")
            error.hint = f"wait for it to finish, or give this extract its own {flag}"
            raise error
        stack.callback(lock.release)

    def _check_contents(self) -> None:
        """What is already at the paths must be this extract's own; a staged output the checkpoint recorded is removed."""
        recorded: list[str] = []
        if self.checkpoint is not None:
            data = read_checkpoint(self.checkpoint)  # ConfigError if it is a directory or not a checkpoint
            recorded = staged_names(data)
            parts = parts_dir_for(self.checkpoint)
            if parts.exists() and not parts.is_dir():
                raise _refused(
                    f"{parts} (the checkpoint's part files) is not a folder", "name another --checkpoint"
                )
            if parts.is_dir():
                foreign = sorted(p.name for p in parts.iterdir() if not is_part_name(p.name))
                if foreign:
                    raise _refused(
                        f"the folder of part files {parts} holds {foreign[0]!r}, which the extract did not write",
                        "name another --checkpoint, or move that folder away",
                    )
        for sink in self.sinks:
            sink.check_destination()
            staging = sink.staging
            if staging.exists() or staging.is_symlink():
                if not any(name and same_path(name, staging) for name in recorded):
                    raise _refused(
                        f"{staging} is in the way of the output's temporary copy, and the extract did not write it",
                        "move it away",
                    )
                remove_path(staging)  # the output a killed run was writing, as its checkpoint says

    @contextmanager
    def claim(self) -> Iterator[None]:
        """Check the paths, lock them for this run (released at exit) and check what is already there."""
        self.check_paths()
        with ExitStack() as stack:
            for sink in self.sinks:
                self._lock(stack, sink.path, "output", "--output")
            if self.checkpoint is not None:  # also when the output differs: two outputs, one checkpoint
                self._lock(stack, self.checkpoint, "checkpoint", "--checkpoint")
            self._check_contents()
            yield
