"""``ExtractRun``: one extract from plan to report, and the one owner of its state.

    plan        the windows: a resumed checkpoint's, or planned afresh (:mod:`.slices`); the run's
                :class:`~.checkpoint.Checkpoint` holds them from then on
    cursors     one task per window, ``slices`` at a time, all on the client's shared read budget:
                Stream.read_page -> keep the window's start keys -> a Chunk every ``flush`` rows
    splits      a cursor that ends while fewer than ``busy`` cursors run or wait (:mod:`.slices`, the
                rounds): :class:`~.split.Splitter` chooses the window and the point, :meth:`Checkpoint.split`
                applies it, a new cursor takes the freed slot; on a shared budget, also as soon as a grant
                counts fewer peers (the share grew: :meth:`ExtractRun._follow_share`)
    children    with child tables (call recordings): workers fetch each committed meeting's children
                (:mod:`.fanout`, :mod:`.streams`) on the same client, while the cursors wait for room
    consumer    ONE loop (:meth:`ExtractRun.deliveries`): every Chunk and every child result is committed
                to the checkpoint; delivered batches are yielded to the caller (``extract_batches``, a
                plain sink), or, for atomic sinks, kept as part files and yielded in output order as
                windows complete (a child table's as committed)
    report      :meth:`ExtractRun.report`

Only the run's event loop changes its state: cursors read their window afresh for every page (a split
may narrow it), the consumer commits, the splitter decides; the checkpoint's files are written in a
worker thread from a snapshot taken on the loop. The stream (:mod:`.streams`) is the only thing that
knows the endpoint and the row shape.

Output order: windows in time order (``start_desc``: reverse), each in the API's order. One window
(``slices=1``) is exactly the API's order. Sliced and single-cursor runs hold the same rows. A child
table's rows come in the order its parents finish. Memory is bounded by the batch size and the number of
slices (with a child stream: the fan-out's bound on pending parents and its workers), not by rows: a
page's records are Python objects only while that page is converted, and an atomic sink is written while
the run goes (no second pass).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..client import Cursors, MeetingReader, RecordingReader
from ..deferred import deferred
from ..errors import ConnectorError
from ..ratelimit import read_share
from ..schema import SCHEMA_VERSION
from .arrow import boolean_array, concat_batches
from .checkpoint import Checkpoint, FanOutState, PartsNotWritten, TableState, WindowState
from .config import ExtractConfig, query_filters
from .fanout import Fanned, FanOut
from .progress import ProgressTracker
from .report import ExtractReport
from .sinks import AtomicSink, Sink
from .slices import MAX_SLICES, discover_range, plan_windows, to_key
from .split import Splitter, past_window, sort_key_of_last
from .streams import CALL_RECORDINGS, MEETINGS, TABLES, ChildStream, Stream, check_tables
from .tasks import first_error, release_now_and_then

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")

__all__ = ["Chunk", "ExtractRun", "output_order"]

# A staged run's checkpoint is saved at most this often (seconds): a kill fetches at most this much again.
SAVE_EVERY = 0.25


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
    windows after the one it splits, so what went out stays in order. A reversed window (read against the
    output's order: :func:`~.slices.reversed_windows`) goes out once done, its parts last to first (each
    holds its rows in output order: :meth:`ExtractRun._cursor`); a split of one adds a window before it,
    which it then waits for.
    """

    def __init__(self, sort: str) -> None:
        self.sort = sort
        self._sent: dict[int, int] = {}
        self._finished: set[int] = set()

    def ready(self, windows: Sequence[WindowState]) -> list[str]:
        """The parts to deliver now, in order."""
        names: list[str] = []
        for state in output_order(windows, self.sort):
            index = state.window.index
            if index in self._finished:
                continue
            if state.window.reverse:
                if not state.done:
                    break
                names += state.parts[::-1]
            else:
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
    output order as the windows complete (needs a checkpoint). ``tables``: what to deliver (default the
    meetings); a child table runs its child stream, and meetings are fetched to find the parents
    whether or not they are delivered.
    """

    def __init__(
        self,
        client: MeetingReader,
        config: ExtractConfig,
        *,
        checkpoint: Path | None = None,
        staged: bool = False,
        stream: Stream = MEETINGS,
        tables: Sequence[str] | None = None,
    ) -> None:
        if staged and checkpoint is None:
            raise ValueError("a staged run keeps its parts beside a checkpoint: give one")
        self.client = client
        self.config = config
        self.stream = stream
        self.tables = check_tables(tables)
        self.child: ChildStream | None = (
            CALL_RECORDINGS if set(self.tables) & set(CALL_RECORDINGS.tables) else None
        )
        self.fanout: FanOut | None = None
        self.checkpoint_path = checkpoint
        self.staged = staged
        self.converter = stream.converter()
        self.began = time.perf_counter()
        self._before = client.stats.snapshot()
        self.pages = 0
        self.resumed_rows = 0
        self._checkpoint: Checkpoint | None = None
        self.slices = 1
        self.busy = 1
        self._share: float | None = None  # of a shared read budget, when the cursors grow with it
        self._planned: tuple[float, int, int] = (0.0, 1, 1)  # the share planned for, its slices and busy
        self.planned = 1
        self.splitter: Splitter | None = None
        self.tracker: ProgressTracker | None = None
        # The range probe's page of the query: the first page of a window's cursor (slices.plan_windows).
        self._first: dict[int, tuple[pa.RecordBatch | None, str | None]] = {}

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
        filters = self.filters()
        watched = config.on_progress is not None  # the covered share needs the range of starts
        if path is not None and config.resume and await anyio.Path(path).exists():
            cp = await anyio.to_thread.run_sync(Checkpoint.load, path, filters)
            span = cp.span
            if span is None and watched and not all(w.done for w in cp.windows):
                span = (await discover_range(self.client, config.query)).span
            self.resumed_rows = cp.rows
            self.begin(cp, min(config.slices or cp.slices, len(cp.windows)), span)
            return
        limits = self.client.config.limits
        shares: list[float] = []

        async def share() -> float:
            # Read once the range probe has answered, not before it: its grants made this process one of the
            # budget's peers, and peers started with it have had that round trip to become theirs (counted
            # before the probe, the first of four processes started together planned for all of the budget).
            shares.append(await read_share(self.client))
            return shares[-1]

        plan = await plan_windows(
            self.client,
            config.query,
            # With a child stream one meetings cursor (a page of 200 a round trip) outruns the children (a request
            # or more a meeting) a hundredfold: no range probe and no windows to plan unless asked for.
            config.slices if config.slices is not None or self.child is None else 1,
            reads_per_second=share,
            max_in_flight=int(limits.max_in_flight),
            by_start=config.window == "start",
            probe=watched,
            converter=self.converter,
        )
        if path is not None:
            await anyio.to_thread.run_sync(Checkpoint.discard, path)  # an earlier run's, not resumed
        fanout = (
            FanOutState(tables={t: TableState() for t in self.tables if t != "meetings"})
            if self.child
            else None
        )
        windows = [WindowState(w) for w in plan.windows]
        cp = Checkpoint(path, filters, windows, plan.slices, span=plan.span, fanout=fanout)
        await anyio.to_thread.run_sync(cp.save)
        self.begin(cp, plan.slices, plan.span, busy=plan.busy)
        if plan.first is not None:
            index, batch, cursor = plan.first
            self._first = {index: (batch, cursor)}
        if shares and shares[0] < float(limits.reads_per_second) and self.splitter:
            # Planned for a part of a shared budget: grow as peers leave (:meth:`_follow_share`).
            self._share, self._planned = shares[0], (shares[0], self.slices, self.busy)

    def filters(self) -> dict[str, str]:
        """What a checkpoint must have been made for to be resumed: the query's filters, the window mode and,
        beyond the meetings alone, the tables and whether future meetings are fanned out."""
        config = self.config
        filters = query_filters(config.query, config.window)
        if self.tables != ("meetings",):
            filters["tables"] = ",".join(self.tables)
            if self.child is not None and config.include_future_meetings:
                filters["include_future_meetings"] = "true"
        return filters

    def begin(
        self,
        checkpoint: Checkpoint,
        slices: int,
        span: tuple[datetime, datetime] | None = None,
        *,
        busy: int | None = None,
    ) -> None:
        """Take ``checkpoint``'s windows as the run's, with ``slices`` cursors (``span``: the range of starts),
        ``busy`` of which keep the read budget busy (default all)."""
        self._checkpoint = checkpoint
        if self.staged:  # the rows are in part files, delivered nowhere yet: saves may lag (checkpoint.py)
            checkpoint.save_every = SAVE_EVERY
        if self.child is not None:
            assert checkpoint.fanout is not None, "a child stream's run keeps its fan-out in the checkpoint"
            flush = max(self.config.query.limit, self.config.batch_size)
            limits = self.client.config.limits
            self.fanout = FanOut(
                self.child,
                checkpoint.fanout,
                workers=int(limits.max_in_flight),
                bound=8 * int(limits.max_in_flight),
                flush=flush,
            )
            began = datetime.fromisoformat(checkpoint.started_at)
            self._began_key = to_key(began if began.tzinfo else began.replace(tzinfo=UTC))
        self.slices = max(1, slices)
        self.busy = min(self.slices, busy or self.slices)
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
    async def _cursor(
        self, state: WindowState, send: MemoryObjectSendStream[Chunk | Fanned], flush: int
    ) -> None:
        """Page through one window from its saved cursor, sending a Chunk every ``flush`` rows.

        The window's kept range is read afresh for every page: a split may narrow it while a page is in
        flight; the cursor then stops as soon as the API's order is past the range.
        """
        base = self.config.query
        query = state.window.query(base)  # the cursor belongs to this query, whatever splits happen later
        descending = state.window.descending(base.sort)
        # A reversed window's pages come turned into output order (the last row read first), and its chunks
        # hold their pages in that order too: its parts, delivered last to first, are the window in order.
        flip = state.window.reverse
        cursors = Cursors(state.cursor)
        position = state.position
        pending: list[pa.RecordBatch] = []
        rows = pages = 0
        first = self._first.pop(state.window.index, None)
        while True:
            if self.fanout is not None:
                await self.fanout.room()  # the children set the pace
            if first is not None:
                (batch, nxt), first = first, None
            else:
                batch, nxt = await self.stream.read_page(
                    self.client, query, cursors.cursor, self.converter, flip=flip
                )
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
                past = past_window(state, full, base.timezone, descending, flipped=flip)
                last = sort_key_of_last(full, flipped=flip)
                position = last if position is None else (min if descending else max)(position, last)
                del full
            del batch  # the page's rows live on in ``pending`` only: free the rest before awaiting anything
            rows += added
            done = nxt is None or past
            self._on_page(state, added, position, done)
            if nxt is not None:
                cursors.follow(nxt)  # a repeated cursor is an error even on the last page we want
            if done or rows >= flush:
                rows_of = concat_batches(pending[::-1] if flip else pending) if pending else None
                await send.send(Chunk(state, rows_of, nxt, done, pages, position))
                pending, rows, pages = [], 0, 0
            if done:
                return

    def _rescale(self, limiter: anyio.CapacityLimiter, share: float) -> None:
        """This process's share of a shared read budget is now ``share``: if it has grown (peers left), open cursors
        in proportion to what they were planned for (:func:`~connector.ratelimit.read_share`).

        A peer that finishes first leaves its part to those still running, which need the cursors to use it.
        A share that shrinks (a peer came) changes nothing: the budget keeps every process within it, and on
        a busy CPU the cursors a process has are what keeps its requests coming (bench/shared_budget.py).
        """
        if self._share is None or share <= self._share:
            return
        planned, slices, busy = self._planned
        cap = min(int(self.client.config.limits.max_in_flight), MAX_SLICES)
        self._share = share
        self.slices = min(cap, math.ceil(slices * share / planned))
        self.busy = min(self.slices, math.ceil(busy * share / planned))
        limiter.total_tokens = max(limiter.total_tokens, self.busy)

    async def _follow_share(self, limiter: anyio.CapacityLimiter, fill: Callable[[], None]) -> None:
        """On a shared budget: rescale the cursors as soon as a grant counts the peers other than before, and
        ``fill`` the cursors that the share has grown by. Runs until cancelled."""
        rate_limiter = self.client.limiter
        assert rate_limiter is not None and self._share is not None
        seen = self._share
        while True:
            seen = await rate_limiter.share_changed("read", seen)
            self._rescale(limiter, seen)
            fill()

    def _on_page(self, state: WindowState, rows: int, position: int | None, done: bool) -> None:
        assert self.tracker is not None
        self.tracker.page(self.checkpoint.windows, state, rows, position, done)

    @asynccontextmanager
    async def _chunks(self) -> AsyncIterator[MemoryObjectReceiveStream[Chunk | Fanned]]:
        """Run the windows' cursors (``slices`` at a time, in output order) and any child workers, and give
        the one stream of their Chunks and Fanned results.

        A cursor that finishes while no window waits splits the largest running window, and the new
        window runs in the slot it freed. Child workers stop once the consumer closes the fan-out.
        """
        cp, query = self.checkpoint, self.config.query
        assert self.tracker is not None
        fanout = cp.fanout
        self.tracker.start(
            cp.windows, (fanout.parents + fanout.skipped, len(fanout.pending)) if fanout else None
        )
        # With a child stream every meetings page is a commit of its own: the keys become pending sooner.
        flush = (
            query.limit
            if self.fanout is not None
            else max(query.limit, -(-self.config.batch_size // self.slices))
        )
        workers = self.fanout.workers if self.fanout is not None else 0
        send, receive = anyio.create_memory_object_stream[Chunk | Fanned](self.slices + workers)
        limiter = anyio.CapacityLimiter(self.slices)
        running: list[WindowState] = []
        waiting = 0
        live: list[MemoryObjectSendStream[Chunk | Fanned]] = []  # of the cursors not yet ended

        def fill() -> None:
            """Split while fewer cursors than keep the budget busy run or wait: each split costs about a request
            (the running cursor's page past the split, the new window's first and last)."""
            nonlocal waiting
            while self.splitter is not None and live and len(running) + waiting < self.busy:
                choice = self.splitter.choose(running)
                if choice is None:
                    break
                descending = choice[0].window.descending(query.sort)
                new = cp.split(*choice, descending=descending, base_ends_from=query.ends_from)
                waiting += 1
                tg.start_soon(worker, new, live[-1].clone())

        async def worker(state: WindowState, stream: MemoryObjectSendStream[Chunk | Fanned]) -> None:
            nonlocal waiting
            async with stream:
                live.append(stream)
                async with limiter:
                    waiting -= 1
                    running.append(state)
                    if len(running) == self.slices:  # the first round runs: from now on, the cursors that
                        limiter.total_tokens = self.busy  # keep the budget busy (slices.py, the rounds)
                    try:
                        await self._cursor(state, stream, flush)
                    finally:
                        running.remove(state)
                        if self.splitter is not None:
                            self.splitter.finished(state)
                fill()
                live.remove(stream)

        try:
            async with anyio.create_task_group() as tg:
                if self._share is not None:
                    tg.start_soon(self._follow_share, limiter, fill)
                async with send:
                    for state in output_order(cp.windows, query.sort):
                        if not state.done:
                            waiting += 1
                            tg.start_soon(worker, state, send.clone())
                    if self.fanout is not None:
                        for _ in range(workers):
                            # A run with a child table is given a client that reads them too (the
                            # MeetingReader hint cannot say so per table): extract's callers pass an AttioClient.
                            reader = cast(RecordingReader, self.client)
                            tg.start_soon(self.fanout.worker, reader, send.clone())
                        if all(w.done for w in cp.windows):
                            await self.fanout.close()  # resumed after the last meetings page
                async with receive:
                    yield receive
                tg.cancel_scope.cancel()  # every cursor has ended: the share no longer matters
            if self.client.limiter is not None:
                await self.client.limiter.leave("read")  # on a shared budget its peers take its part at once
        except BaseExceptionGroup as group:
            leaf = first_error(group)
            raise leaf.with_traceback(leaf.__traceback__) from None

    # --------------------------------------------------------------------------------------- consumer
    async def deliveries(self) -> AsyncGenerator[tuple[str, pa.RecordBatch], None]:
        """The one consumer loop: commit every Chunk and child result; yield ``(table, batch)`` to deliver.

        Not staged: each fetched batch is yielded, and committed once the caller asks for the next one
        (it is delivered then). Staged: each batch is committed as a part file first; the meetings' parts
        are yielded in output order as soon as every window before theirs is done, the last of them once
        the cursors have finished; a child table's as they are committed. A resumed staged run yields
        the parts it already has first. Only the run's tables are yielded.
        """
        cp = self.checkpoint
        meetings = "meetings" in self.tables
        frontier = _Frontier(self.config.query.sort) if self.staged and meetings else None
        if frontier is not None:
            for name in frontier.ready(cp.windows):
                for batch in await self._part(name):
                    yield "meetings", batch
        if self.staged and cp.fanout is not None:
            for table, state in cp.fanout.tables.items():
                for batch in await self._part_batches(state.parts):
                    yield table, batch
        async with self._chunks() as chunks:
            async for chunk in chunks:
                if isinstance(chunk, Fanned):
                    async with aclosing(self._fanned(chunk)) as fanned:
                        async for item in fanned:
                            yield item
                    continue
                self.pages += chunk.pages
                batch = chunk.batch if chunk.batch is not None and chunk.batch.num_rows else None
                keys, skipped = self._parent_keys(batch)
                if frontier is None and batch is not None and meetings:
                    yield "meetings", batch  # delivered: committed below, once the caller asks for more
                kept = batch if frontier is not None else None  # a part file; else the rows were delivered
                delivered = batch.num_rows if batch is not None and kept is None else 0
                await cp.commit(
                    chunk.state, kept, chunk.cursor, chunk.done, chunk.pages, chunk.position,
                    rows=delivered, keys=keys, skipped=skipped,
                )  # fmt: skip
                if frontier is not None:
                    just = chunk.state.parts[-1] if batch is not None else None
                    for name in frontier.ready(cp.windows):
                        if name == just and batch is not None:  # still in memory: not read back
                            yield "meetings", batch
                        else:
                            for part in await self._part(name):
                                yield "meetings", part
                if self.fanout is not None:
                    await self.fanout.add(keys)
                    if chunk.done and all(w.done for w in cp.windows):
                        await self.fanout.close()
        # Every page is fetched: a kill from here on fetches nothing again.
        await anyio.to_thread.run_sync(cp.flush)
        if frontier is not None:
            for name in frontier.ready(cp.windows):
                for batch in await self._part(name):
                    yield "meetings", batch
        if self.fanout is not None:
            if self.fanout.ready:  # pragma: no cover - due() commits the last result
                raise RuntimeError("child results left uncommitted")
            assert self.tracker is not None and cp.fanout is not None
            self.tracker.fanned(cp.fanout.parents + cp.fanout.skipped, 0, finished=True)

    def _parent_keys(self, batch: pa.RecordBatch | None) -> tuple[list[str], int]:
        """The child stream's parent keys in a meetings batch, and how many meetings were skipped
        (they start after the run began, so they cannot have a recording yet)."""
        if self.child is None or batch is None:
            return [], 0
        keys = batch.column(self.child.parent_key)
        if self.config.include_future_meetings:
            return keys.to_pylist(), 0
        starts = self.stream.start_keys(batch, self.config.query.timezone)
        mask = starts <= self._began_key
        kept = keys.filter(pa.array(mask)).to_pylist()
        return kept, len(keys) - len(kept)

    async def _fanned(self, fanned: Fanned) -> AsyncGenerator[tuple[str, pa.RecordBatch], None]:
        """Keep one parent's child rows; once enough are kept, deliver and commit them together."""
        fan, cp = self.fanout, self.checkpoint
        assert fan is not None and cp.fanout is not None and self.tracker is not None
        fan.ready.append(fanned)
        self.tracker.found(fanned.batches["call_recordings"].num_rows)
        if not fan.due():
            return
        ready, fan.ready = fan.ready, []
        batches = {
            table: concat_batches([f.batches[table] for f in ready], TABLES[table].arrow_schema())
            for table in cp.fanout.tables
        }
        if not self.staged:
            for table, batch in batches.items():
                if batch.num_rows:
                    yield table, batch
        await cp.commit_children([f.key for f in ready], batches, staged=self.staged)
        self.tracker.fanned(cp.fanout.parents + cp.fanout.skipped, fan.backlog)
        await fan.committed()
        if self.staged:
            for table, batch in batches.items():
                if batch.num_rows:
                    yield table, batch  # committed as a part; still in memory

    async def _part(self, name: str) -> list[pa.RecordBatch]:
        """A committed part's batches, read in a worker thread (decompressing is CPU work)."""
        return await self._part_batches([name])

    async def _part_batches(self, names: Sequence[str]) -> list[pa.RecordBatch]:
        return await anyio.to_thread.run_sync(lambda: list(self.checkpoint.read_parts(names)))

    async def into(self, sink: Sink | Mapping[str, Sink]) -> ExtractReport:
        """Run the extract into ``sink`` (or a mapping of table to sink: one per table of the run): each opened in
        order, written, and committed once every table is complete (the first opened last: a database's shared
        transaction is its); every one aborted on any error. Then report."""
        sinks = dict(sink) if isinstance(sink, Mapping) else {self.tables[0]: sink}
        if set(sinks) != set(self.tables):
            raise ValueError(f"give one sink per table: {', '.join(self.tables)}")
        cp = self.checkpoint
        if self.staged:
            assert all(isinstance(s, AtomicSink) for s in sinks.values())
            # recorded before it exists: a killed run's copy is ours to remove
            names = [s.staging_name() for s in sinks.values() if isinstance(s, AtomicSink)]
            cp.staging = names if len(names) > 1 else names[0]
            await anyio.to_thread.run_sync(cp.save)
        call = _in_thread if self.staged else _inline
        opened: list[Sink] = []
        try:
            try:
                for table, target in sinks.items():
                    opened.append(target)
                    await _writing(
                        target, call(target.open, TABLES[table].arrow_schema(), self.metadata(table))
                    )
                async with aclosing(self.deliveries()) as batches:
                    try:
                        async for table, batch in batches:
                            await _writing(sinks[table], call(sinks[table].write, batch))
                    except PartsNotWritten as exc:  # the part files staged beside the output
                        raise _not_written(sinks[self.tables[0]], exc) from exc
                outputs: dict[str, str | None] = {}
                for table, target in reversed(
                    sinks.items()
                ):  # the first opened last: it may hold the transaction
                    outputs[table] = await _writing(target, call(target.commit))
                    opened.remove(target)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    for target in opened:
                        await call(target.abort)
                raise
        except BaseException:
            if not cp.touched:
                cp.remove()  # nothing to resume: leave no litter
            else:
                cp.flush()  # what was committed is resumed
            raise
        cp.remove()
        first = next(iter(sinks.values()))
        outputs = {t: outputs[t] for t in self.tables}
        output = outputs[self.tables[0]] if len(sinks) == 1 else _common_output(outputs)
        return self.report(output, getattr(first, "format", None) or None, outputs)

    def finish(self) -> None:
        """The caller has everything: the checkpoint (if any) is no longer needed."""
        self.checkpoint.remove()

    # ----------------------------------------------------------------------------------------- report
    def metadata(self, table: str = "meetings") -> dict[str, str]:
        """What the output of ``table`` records about the run (Parquet key-value metadata)."""
        config = self.config
        return {
            "connector.schema_version": TABLES[table].schema().version
            if table != "meetings"
            else SCHEMA_VERSION,
            "connector.filters": json.dumps(config.query.describe(), sort_keys=True),
            "connector.extracted_at": datetime.now(UTC).isoformat(),
            "connector.slices": str(self.slices),
            "connector.windows": str(self.planned),
            "connector.window": config.window,
        }

    def report(
        self, output: str | None, output_format: str | None, outputs: Mapping[str, str | None] | None = None
    ) -> ExtractReport:
        """The report of the run so far (rows from the checkpoint, requests from the client's counters)."""
        after, before = self.client.stats.snapshot(), self._before
        cp = self.checkpoint
        fanout = cp.fanout
        tables = {
            t: (cp.rows if t == "meetings" else fanout.tables[t].rows if fanout else 0) for t in self.tables
        }
        ignored = set(self.converter.ignored_fields)
        if self.fanout is not None:
            for converter in self.fanout.converters.values():
                ignored |= {f"{converter.schema.table}.{name}" for name in converter.ignored_fields}
        return ExtractReport(
            rows=cp.rows,
            pages=self.pages,
            requests=after["requests"] - before["requests"],
            retries=after["retries"] - before["retries"],
            rate_limited=after["rate_limited"] - before["rate_limited"],
            server_errors=after["server_errors"] - before["server_errors"],
            transport_errors=after["transport_errors"] - before["transport_errors"],
            seconds=time.perf_counter() - self.began,
            output=output,
            slices=self.slices,
            windows=len(cp.windows),
            filters=self.config.query.describe(),
            output_format=output_format,
            resumed_rows=self.resumed_rows,
            ignored_fields=tuple(sorted(ignored)),
            schema_version=SCHEMA_VERSION,
            tables=tables,
            outputs={t: outputs[t] for t in self.tables} if outputs is not None and len(outputs) > 1 else {},
            meetings_scanned=(fanout.parents + fanout.skipped) if fanout else 0,
            skipped_future_meetings=fanout.skipped if fanout else 0,
        )


def _common_output(outputs: Mapping[str, str | None]) -> str | None:
    """Where several tables went, in one line: the folder of local files, the database of tables (its URL,
    password hidden), else the first table's place."""
    places = [o for o in outputs.values() if o]
    if places and all("://" not in o for o in places):
        return os.path.commonpath(places)
    databases = {o.split(" table ")[0] for o in places}
    if len(databases) == 1 and all(" table " in o for o in places):
        return databases.pop()
    return places[0] if places else None


async def _writing(sink: Sink, step: Awaitable[Any]) -> Any:
    """Await a sink's ``step``; a file system's refusal (a full disk, a file-size limit, an I/O error) names the
    output it was writing, which the bare error (Arrow's "Error writing bytes to file") does not."""
    try:
        return await step
    except OSError as exc:
        if isinstance(exc, ConnectorError):
            raise
        raise _not_written(sink, exc) from exc


def _not_written(sink: Sink, exc: OSError) -> OSError:
    """The error of a write the file system refused under ``sink``'s output, naming the output (and the
    system's words for the errno: Arrow's own say "Error writing bytes to file. Detail: ...")."""
    where = getattr(sink, "path", None) or type(sink).__name__  # a sink's repr is not ours to print
    reason = os.strerror(exc.errno) if exc.errno else exc.strerror or str(exc)
    return OSError(exc.errno, f"output {where} cannot be written: {reason}")


def _released(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    finally:
        release_now_and_then()


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(_released, fn, *args)


async def _inline(fn: Any, *args: Any) -> Any:
    return fn(*args)
