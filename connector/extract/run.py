"""``ExtractRun``: one extract from plan to report, and the one owner of its state.

    plan        the windows: a resumed checkpoint's, or planned afresh (:mod:`.slices`); the run's
                :class:`~.checkpoint.Checkpoint` holds them from then on
    cursors     one task per window, ``slices`` at a time, all on the client's shared read budget:
                Stream.read_page -> keep the window's start keys -> a Chunk every ``flush`` rows
    splits      a cursor that ends while no window waits: :class:`~.split.Splitter` chooses the window
                and the point, :meth:`Checkpoint.split` applies it, a new cursor takes the freed slot
    consumer    ONE loop (:meth:`ExtractRun.deliveries`): every Chunk is committed to the checkpoint;
                delivered batches are yielded to the caller (``extract_batches``, a plain sink), or, for
                an atomic sink, kept as part files and yielded in output order as windows complete
    report      :meth:`ExtractRun.report`

Only the run's event loop changes its state: cursors read their window afresh for every page (a split
may narrow it), the consumer commits, the splitter decides; the checkpoint's files are written in a
worker thread from a snapshot taken on the loop. The stream (:mod:`.streams`) is the only thing that
knows the endpoint and the row shape.

Output order: windows in time order (``start_desc``: reverse), each in the API's order. One window
(``slices=1``) is exactly the API's order. Sliced and single-cursor runs hold the same rows. Memory is
bounded by the batch size and the number of slices, not by rows: a page's records are Python objects
only while that page is converted, and an atomic sink is written while the run goes (no second pass).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import numpy as np
import pyarrow as pa
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..client import Cursors, MeetingReader
from ..schema import SCHEMA_VERSION
from .arrow import boolean_array, concat_batches
from .checkpoint import Checkpoint, WindowState
from .config import ExtractConfig, query_filters
from .progress import ProgressTracker
from .report import ExtractReport
from .sinks import AtomicSink, Sink
from .slices import discover_range, plan_windows
from .split import Splitter, past_window, sort_key_of_last
from .streams import MEETINGS, Stream
from .tasks import first_error, release_now_and_then

__all__ = ["Chunk", "ExtractRun", "output_order"]


@dataclass(frozen=True)
class Chunk:
    """A flushed batch of one window, the cursor that follows it, and the sort key its cursor has reached."""

    state: WindowState
    batch: pa.RecordBatch | None
    cursor: str | None
    done: bool
    pages: int
    position: int | None = None


def output_order(states: Sequence[WindowState], sort: str) -> list[WindowState]:
    """Windows in output order: by the starts they hold, reversed for ``start_desc``."""
    ordered = sorted(states, key=lambda s: s.window.order_key())
    return ordered[::-1] if sort == "start_desc" else ordered


class _Frontier:
    """Which committed parts may go to an atomic sink now: the windows in output order, each whole.

    A window's parts go out as they are committed once every window before it is done; a split only adds
    windows after the one it splits, so what went out stays in order.
    """

    def __init__(self, sort: str) -> None:
        self.sort = sort
        self._sent: dict[int, int] = {}
        self._finished: set[int] = set()

    def ready(self, windows: Sequence[WindowState]) -> list[str]:
        names: list[str] = []
        for state in output_order(windows, self.sort):
            index = state.window.index
            if index in self._finished:
                continue
            names += state.parts[self._sent.get(index, 0) :]
            self._sent[index] = len(state.parts)
            if not state.done:
                break
            self._finished.add(index)
        return names


class ExtractRun:
    """One extract: plan (or resume) the windows, run the cursors and splits, consume, report.

    ``checkpoint``: the file to keep progress in (None: progress lives in memory only). ``staged``: the
    output is an atomic sink, so batches become part files beside the checkpoint and are delivered in
    output order as the windows complete (needs a checkpoint).
    """

    def __init__(
        self,
        client: MeetingReader,
        config: ExtractConfig,
        *,
        checkpoint: Path | None = None,
        staged: bool = False,
        stream: Stream = MEETINGS,
    ) -> None:
        if staged and checkpoint is None:
            raise ValueError("a staged run keeps its parts beside a checkpoint: give one")
        self.client = client
        self.config = config
        self.stream = stream
        self.checkpoint_path = checkpoint
        self.staged = staged
        self.converter = stream.converter()
        self.began = time.perf_counter()
        self._before = client.stats.snapshot()
        self.pages = 0
        self.resumed_rows = 0
        self._checkpoint: Checkpoint | None = None
        self.slices = 1
        self.planned = 1
        self.splitter: Splitter | None = None
        self.tracker: ProgressTracker | None = None

    @property
    def checkpoint(self) -> Checkpoint:
        """The run's state (after :meth:`plan` or :meth:`begin`)."""
        if self._checkpoint is None:
            raise RuntimeError("plan the run first")
        return self._checkpoint

    # ------------------------------------------------------------------------------------------- plan
    async def plan(self) -> None:
        """The windows: from the checkpoint when resuming it, else planned afresh (a stale checkpoint is discarded)."""
        config, path = self.config, self.checkpoint_path
        filters = query_filters(config.query, config.window)
        watched = config.on_progress is not None  # the covered share needs the range of starts
        if path is not None and config.resume and await anyio.Path(path).exists():
            cp = await anyio.to_thread.run_sync(Checkpoint.load, path, filters)
            span = cp.span
            if span is None and watched and not all(w.done for w in cp.windows):
                found = await discover_range(self.client, config.query)
                span = found[:2] if found is not None else None
            self.resumed_rows = cp.rows
            self.begin(cp, min(config.slices or cp.slices, len(cp.windows)), span)
            return
        limits = self.client.config.limits
        windows, slices, span = await plan_windows(
            self.client,
            config.query,
            config.slices,
            reads_per_second=float(limits.reads_per_second),
            max_in_flight=int(limits.max_in_flight),
            by_start=config.window == "start",
            probe=watched,
        )
        if path is not None:
            await anyio.to_thread.run_sync(Checkpoint.discard, path)  # an earlier run's, not resumed
        cp = Checkpoint(path, filters, [WindowState(w) for w in windows], slices, span=span)
        await anyio.to_thread.run_sync(cp.save)
        self.begin(cp, slices, span)

    def begin(
        self, checkpoint: Checkpoint, slices: int, span: tuple[datetime, datetime] | None = None
    ) -> None:
        """Take ``checkpoint``'s windows as the run's, with ``slices`` cursors (``span``: the range of starts)."""
        self._checkpoint = checkpoint
        self.slices = max(1, slices)
        self.planned = len(checkpoint.windows)
        query = self.config.query
        self.splitter = Splitter(query=query, span=checkpoint.span) if self.slices > 1 else None
        self.tracker = ProgressTracker(
            checkpoint.windows,
            span=span,
            descending=query.sort == "start_desc",
            progress=self.config.progress,
            on_progress=self.config.on_progress,
        )

    # ---------------------------------------------------------------------------------------- cursors
    async def _cursor(self, state: WindowState, send: MemoryObjectSendStream[Chunk], flush: int) -> None:
        """Page through one window from its saved cursor, sending a Chunk every ``flush`` rows.

        The window's kept range is read afresh for every page: a split may narrow it while a page is in
        flight; the cursor then stops as soon as the API's order is past the range.
        """
        base = self.config.query
        query = state.window.query(base)  # the cursor belongs to this query, whatever splits happen later
        descending = base.sort == "start_desc"
        cursors = Cursors(state.cursor)
        position = state.position
        pending: list[pa.RecordBatch] = []
        rows = pages = 0
        while True:
            batch, nxt = await self.stream.read_page(self.client, query, cursors.cursor, self.converter)
            pages += 1
            added = 0
            past = False
            if batch is not None and batch.num_rows:
                full = batch
                keep_from, keep_before = state.window.keep_from_key, state.window.keep_before_key
                bounded = keep_from is not None or keep_before is not None
                keys = self.stream.start_keys(batch, base.timezone) if bounded or self.splitter else None
                if keys is not None and bounded:
                    mask = np.ones(len(keys), dtype=bool)
                    if keep_from is not None:
                        mask &= keys >= keep_from
                    if keep_before is not None:
                        mask &= keys < keep_before
                    if not mask.all():
                        batch = batch.filter(boolean_array(mask))
                if batch.num_rows:
                    pending.append(batch)
                    added = batch.num_rows
                if self.splitter is not None and keys is not None:
                    self.splitter.observe(state, keys, added)
                past = past_window(state, full, base.timezone, descending)
                last = sort_key_of_last(full)
                position = last if position is None else (min if descending else max)(position, last)
                del full
            del batch  # the page's rows live on in ``pending`` only: free the rest before awaiting anything
            rows += added
            done = nxt is None or past
            self._on_page(state, added, position, done)
            if nxt is not None:
                cursors.follow(nxt)  # a repeated cursor is an error even on the last page we want
            if done or rows >= flush:
                await send.send(
                    Chunk(state, concat_batches(pending) if pending else None, nxt, done, pages, position)
                )
                pending, rows, pages = [], 0, 0
            if done:
                return

    def _on_page(self, state: WindowState, rows: int, position: int | None, done: bool) -> None:
        assert self.tracker is not None
        self.tracker.page(self.checkpoint.windows, state, rows, position, done)

    @asynccontextmanager
    async def _chunks(self) -> AsyncIterator[MemoryObjectReceiveStream[Chunk]]:
        """Run the windows' cursors (``slices`` at a time, in output order) and give the stream of their Chunks.

        A cursor that finishes while no window waits splits the largest running window, and the new
        window runs in the slot it freed.
        """
        cp, query = self.checkpoint, self.config.query
        assert self.tracker is not None
        self.tracker.start(cp.windows)
        flush = max(query.limit, -(-self.config.batch_size // self.slices))
        send, receive = anyio.create_memory_object_stream[Chunk](self.slices)
        limiter = anyio.CapacityLimiter(self.slices)
        running: list[WindowState] = []
        waiting = 0

        async def worker(
            state: WindowState, stream: MemoryObjectSendStream[Chunk], tg: anyio.abc.TaskGroup
        ) -> None:
            nonlocal waiting
            async with stream:
                async with limiter:
                    waiting -= 1
                    running.append(state)
                    try:
                        await self._cursor(state, stream, flush)
                    finally:
                        running.remove(state)
                        if self.splitter is not None:
                            self.splitter.finished(state)
                if self.splitter is not None and waiting == 0:
                    choice = self.splitter.choose(running)
                    if choice is not None:
                        new = cp.split(
                            *choice, descending=query.sort == "start_desc", base_ends_from=query.ends_from
                        )
                        waiting += 1
                        tg.start_soon(worker, new, stream.clone(), tg)

        try:
            async with anyio.create_task_group() as tg:
                async with send:
                    for state in output_order(cp.windows, query.sort):
                        if not state.done:
                            waiting += 1
                            tg.start_soon(worker, state, send.clone(), tg)
                async with receive:
                    yield receive
        except BaseExceptionGroup as group:
            leaf = first_error(group)
            raise leaf.with_traceback(leaf.__traceback__) from None

    # --------------------------------------------------------------------------------------- consumer
    async def deliveries(self) -> AsyncIterator[pa.RecordBatch]:
        """The one consumer loop: commit every Chunk and yield the batches to deliver, in delivery order.

        Not staged: each fetched batch is yielded, and committed once the caller asks for the next one
        (it is delivered then). Staged: each batch is committed as a part file first, and the parts are
        yielded in output order as soon as every window before theirs is done; the last of them once the
        cursors have finished. A resumed staged run yields the parts it already has first.
        """
        cp = self.checkpoint
        frontier = _Frontier(self.config.query.sort) if self.staged else None
        if frontier is not None:
            for name in frontier.ready(cp.windows):
                for batch in await self._part(name):
                    yield batch
        async with self._chunks() as chunks:
            async for chunk in chunks:
                self.pages += chunk.pages
                batch = chunk.batch if chunk.batch is not None and chunk.batch.num_rows else None
                if frontier is None:
                    if batch is not None:
                        yield batch
                    rows = batch.num_rows if batch is not None else 0
                    await cp.commit(
                        chunk.state, None, chunk.cursor, chunk.done, chunk.pages, chunk.position, rows=rows
                    )
                    continue
                await cp.commit(chunk.state, batch, chunk.cursor, chunk.done, chunk.pages, chunk.position)
                just = chunk.state.parts[-1] if batch is not None else None
                for name in frontier.ready(cp.windows):
                    if name == just and batch is not None:
                        yield batch  # still in memory: no need to read back the part just written
                    else:
                        for part in await self._part(name):
                            yield part
        if frontier is not None:
            for name in frontier.ready(cp.windows):
                for batch in await self._part(name):
                    yield batch

    async def _part(self, name: str) -> list[pa.RecordBatch]:
        """A committed part's batches, read in a worker thread (decompressing is CPU work)."""
        return await anyio.to_thread.run_sync(lambda: list(self.checkpoint.read_parts([name])))

    async def into(self, sink: Sink) -> ExtractReport:
        """Run the extract into ``sink`` (opened, written, committed; aborted on any error) and report."""
        cp = self.checkpoint
        if self.staged:
            assert isinstance(sink, AtomicSink)
            cp.staging = (
                sink.staging_name()
            )  # recorded before it exists: a killed run's copy is ours to remove
            await anyio.to_thread.run_sync(cp.save)
        call = _in_thread if self.staged else _inline
        metadata = self.metadata()
        try:
            await call(sink.open, self.stream.arrow_schema(), metadata)
            try:
                async with aclosing(self.deliveries()) as batches:
                    async for batch in batches:
                        await call(sink.write, batch)
                output = await call(sink.commit)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await call(sink.abort)
                raise
        except BaseException:
            if not cp.touched:
                cp.remove()  # nothing to resume: leave no litter
            raise
        cp.remove()
        return self.report(output, getattr(sink, "format", None) or None)

    def finish(self) -> None:
        """The caller has everything: the checkpoint (if any) is no longer needed."""
        self.checkpoint.remove()

    # ----------------------------------------------------------------------------------------- report
    def metadata(self) -> dict[str, str]:
        """What the output records about the run (Parquet key-value metadata)."""
        config = self.config
        return {
            "connector.schema_version": SCHEMA_VERSION,
            "connector.filters": json.dumps(config.query.describe(), sort_keys=True),
            "connector.extracted_at": datetime.now(UTC).isoformat(),
            "connector.slices": str(self.slices),
            "connector.windows": str(self.planned),
            "connector.window": config.window,
        }

    def report(self, output: str | None, output_format: str | None) -> ExtractReport:
        """The report of the run so far (rows from the checkpoint, requests from the client's counters)."""
        after, before = self.client.stats.snapshot(), self._before
        return ExtractReport(
            rows=self.checkpoint.rows,
            pages=self.pages,
            requests=after["requests"] - before["requests"],
            retries=after["retries"] - before["retries"],
            rate_limited=after["rate_limited"] - before["rate_limited"],
            server_errors=after["server_errors"] - before["server_errors"],
            transport_errors=after["transport_errors"] - before["transport_errors"],
            seconds=time.perf_counter() - self.began,
            output=output,
            slices=self.slices,
            windows=len(self.checkpoint.windows),
            filters=self.config.query.describe(),
            output_format=output_format,
            resumed_rows=self.resumed_rows,
            ignored_fields=tuple(sorted(self.converter.ignored_fields)),
            schema_version=SCHEMA_VERSION,
        )


def _released(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    finally:
        release_now_and_then()


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(_released, fn, *args)


async def _inline(fn: Any, *args: Any) -> Any:
    return fn(*args)
