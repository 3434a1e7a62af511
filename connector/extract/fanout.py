"""Feeding a child stream: parent keys to its workers, and a bound on how far the parents run ahead.

    consumer   commits a meetings batch, its keys pending (checkpoint) -> :meth:`FanOut.add`
    workers    ``workers`` tasks, one parent key each: ``stream.fetch`` -> a :class:`Fanned` to the consumer
    consumer   keeps Fanned results (:attr:`FanOut.ready`) and commits them together when :meth:`FanOut.due`
    cursors    wait in :meth:`FanOut.room` while the pending keys reach ``bound``

The pending keys (the checkpoint's ``fanout.pending``: queued, in flight, or finished but not committed)
are the one measure of the backlog, so memory and the checkpoint's size are bounded by ``bound`` plus
one flush of the parents' cursors, however many meetings there are. A child fetch costs a request or
more per parent against one per page of 200 parents, so the children set the pace and the parents wait.
Everything here runs on the run's event loop; one :class:`anyio.Condition` wakes whoever waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..client import RecordingReader
from ..deferred import deferred
from .checkpoint import FanOutState
from .streams import ChildStream

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = ["COMMIT_EVERY", "FanOut", "Fanned"]

COMMIT_EVERY = 64  # parents per child commit at most: a checkpoint write per 64 meetings, not per meeting


@dataclass(frozen=True)
class Fanned:
    """One parent's child rows, a batch per table of the child stream."""

    key: str
    batches: dict[str, pa.RecordBatch]

    @property
    def rows(self) -> int:
        return sum(b.num_rows for b in self.batches.values())


class FanOut:
    """The child stream's work queue of one run: the keys to fetch, the results to commit, the parents' bound.

    ``state`` is the checkpoint's :class:`~.checkpoint.FanOutState` (its pending keys are queued first, a
    resumed run's included); ``flush``: commit once the results hold this many rows.
    """

    def __init__(
        self, stream: ChildStream, state: FanOutState, *, workers: int, bound: int, flush: int
    ) -> None:
        self.stream = stream
        self.state = state
        self.workers = max(1, workers)
        self.bound = max(
            bound, 2 * COMMIT_EVERY
        )  # above what ``due`` waits for, or parents and children wait on each other
        self.flush = flush
        self.converters = stream.converters()
        self.ready: list[Fanned] = []
        self._queue: deque[str] = deque(state.pending)
        self._closed = False
        self._changed = anyio.Condition()

    @property
    def backlog(self) -> int:
        """Parent keys committed but whose children are not: queued, in flight or ready."""
        return len(self.state.pending)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def add(self, keys: Sequence[str]) -> None:
        """Queue keys that a meetings commit has just made pending."""
        if keys:
            self._queue.extend(keys)
            await self._notify()

    async def close(self) -> None:
        """No more keys will come (every parent window is done): workers stop once the queue is empty."""
        self._closed = True
        await self._notify()

    async def committed(self) -> None:
        """A child commit shrank the backlog: parents waiting in :meth:`room` may go on."""
        await self._notify()

    async def room(self) -> None:
        """Wait while the backlog is at the bound (a parents' cursor calls this before each page)."""
        if self.backlog < self.bound:
            return
        async with self._changed:
            while self.backlog >= self.bound:
                await self._changed.wait()

    async def _take(self) -> str | None:
        async with self._changed:
            while not self._queue and not self._closed:
                await self._changed.wait()
            return self._queue.popleft() if self._queue else None

    def due(self) -> bool:
        """Whether the ready results should be committed now: enough of them, or nothing else outstanding."""
        if not self.ready:
            return False
        return (
            len(self.ready) >= COMMIT_EVERY
            or sum(f.rows for f in self.ready) >= self.flush
            or len(self.ready) >= self.backlog
        )

    async def worker(self, client: RecordingReader, send: MemoryObjectSendStream[Fanned]) -> None:
        """Fetch the children of one queued key after another, sending each parent's rows to the consumer."""
        async with send:
            while (key := await self._take()) is not None:
                batches = await self.stream.fetch(client, key, self.converters)
                await send.send(Fanned(key, batches))
