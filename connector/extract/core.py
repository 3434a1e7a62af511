"""The extract: time windows -> concurrent cursors -> Arrow RecordBatches -> a sink, with checkpoints.

    windows (slices.py) ─┬─ cursor task ── pages -> MeetingConverter -> filter to the window ─┐
                         ├─ cursor task ── ...                                                ├─ bounded stream ─> consumer
                         └─ ... (at most ``slices`` at once, all on the client's shared limits) ┘

When a cursor finishes and no window waits for a slot, the largest running window is split in two
(:mod:`.split`) so that the tail of the extract keeps every slot busy.

The consumer of :func:`extract` with a file sink commits every flushed batch to a part file and the
checkpoint, and at the end writes the output from the parts in window order, under a temporary name
renamed at commit. Memory is bounded by the batch size and the number of slices, not by rows: a
page's meetings are Python objects only while that page is converted.

Output order: windows in time order (``start_desc``: reverse), each in the API's order. One window
(``slices=1``) is exactly the API's order. Sliced and single-cursor runs hold the same rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyarrow as pa
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..errors import InvalidArgumentError, PaginationError
from ..models import MeetingQuery
from ..schema import SCHEMA_VERSION, meeting_arrow_schema
from .arrow import MeetingConverter, concat_batches, start_keys
from .checkpoint import Checkpoint, WindowState
from .fastpath import decode_page
from .files import ExtractFiles
from .progress import ExtractProgress, ProgressFn, ProgressTracker
from .report import ExtractReport
from .sinks import FileSink, Sink
from .slices import discover_range, plan_windows
from .split import Splitter, past_window, sort_key_of_last

__all__ = ["ExtractConfig", "extract", "extract_batches", "open_batch_stream"]

WINDOW_MODES = ("overlap", "start")


@dataclass(frozen=True)
class ExtractConfig:
    """What to extract and how.

    ``slices``: concurrent cursors over time windows; None chooses from the read budget and the measured
    round trip, 1 is one plain cursor. ``batch_size``: rows per RecordBatch (rounded up to whole pages,
    split among the slices, so memory stays near ``batch_size`` rows whatever the slice count).
    ``checkpoint``: where to record progress (file sinks default to ``<output>.checkpoint.json``);
    ``resume``: continue from it if it exists. ``progress(rows, pages)`` is called after every page with
    that page's counts; ``on_progress`` with an :class:`~connector.extract.progress.ExtractProgress` (rows,
    pages, the share of the time range covered) before the first page and after every page; to know the
    range, a run with ``on_progress`` and one slice asks for the first and last meeting, as sliced runs do.
    ``window``: "overlap" (Attio's semantics: every meeting overlapping [ends_from, starts_before)) or
    "start" (only meetings whose start, all-day: 00:00 in the query's timezone, is in that range, so
    consecutive partitions hold each meeting exactly once).
    """

    query: MeetingQuery = field(default_factory=MeetingQuery)
    slices: int | None = None
    batch_size: int = 10_000
    checkpoint: Path | None = None
    resume: bool = False
    progress: ProgressFn | None = field(default=None, compare=False, repr=False)
    window: str = "overlap"
    on_progress: Callable[[ExtractProgress], object] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.window not in WINDOW_MODES:
            raise InvalidArgumentError("window", f"must be one of {', '.join(WINDOW_MODES)}, got {self.window!r}")
        if self.slices is not None and (isinstance(self.slices, bool) or self.slices < 1):
            raise InvalidArgumentError("slices", f"must be at least 1 (or None for automatic), got {self.slices!r}")
        if self.batch_size < 1:
            raise InvalidArgumentError("batch_size", "must be at least 1")
        if self.checkpoint is not None and not isinstance(self.checkpoint, Path):
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))


@dataclass
class Chunk:
    """A flushed batch of one window, the cursor that follows it, and the sort key (epoch ms) its cursor has reached."""

    state: WindowState
    batch: pa.RecordBatch | None
    cursor: str | None
    done: bool
    pages: int
    position: int | None = None


def query_filters(query: MeetingQuery, window: str = "overlap") -> dict[str, str]:
    """The filters that must match to resume (the page size may change)."""
    filters = {k: v for k, v in query.describe().items() if k != "limit"}
    if window != "overlap":
        filters["window"] = window
    return filters


async def _run_window(
    client: Any,
    base: MeetingQuery,
    state: WindowState,
    converter: MeetingConverter,
    flush_rows: int,
    send: MemoryObjectSendStream[Chunk],
    tracker: ProgressTracker,
    splitter: Splitter | None = None,
) -> None:
    """Page through one window from its saved cursor, sending a Chunk every ``flush_rows`` rows.

    The window's kept range is read afresh for every page: a split may narrow it while a page is in
    flight; the cursor then stops as soon as the API's order is past the range.
    """
    query = state.window.query(base)  # the cursor belongs to this query, whatever splits happen later
    descending = base.sort == "start_desc"
    cursor = state.cursor
    position = state.position
    seen: set[str] = set()
    pending: list[pa.RecordBatch] = []
    rows = pages = 0
    while True:
        # The fast path converts the body in a worker thread; unusual pages come back parsed, for the converter.
        page = await client.list_page(query, cursor, decode=decode_page)
        pages += 1
        added = 0
        past = False
        if page.batch is not None or page.meetings:
            batch = page.batch if page.batch is not None else converter.convert(page.meetings)
            window = state.window
            keep_from, keep_before = window.keep_from_ms, window.keep_before_ms
            keys = start_keys(batch, base.timezone) if keep_from is not None or keep_before is not None or splitter else None
            full = batch
            if keys is not None and (keep_from is not None or keep_before is not None):
                mask = np.ones(len(keys), dtype=bool)
                if keep_from is not None:
                    mask &= keys >= keep_from
                if keep_before is not None:
                    mask &= keys < keep_before
                if not mask.all():
                    batch = batch.filter(pa.array(mask))
            if batch.num_rows:
                pending.append(batch)
                added = batch.num_rows
            if splitter is not None and keys is not None:
                splitter.observe(state, keys, added)
            past = past_window(state, full, base.timezone, descending)
            if full.num_rows:
                last = sort_key_of_last(full)
                position = last if position is None else (min if descending else max)(position, last)
            del full
        nxt = page.next_cursor
        del page  # the only Python copy of these meetings: free it before awaiting anything
        rows += added
        done = nxt is None or past
        tracker.page(state, added, position, done)
        if nxt is not None and (nxt == cursor or nxt in seen):
            raise PaginationError(f"the API returned cursor {nxt[:40]!r} a second time")
        if done or rows >= flush_rows:
            await send.send(Chunk(state, concat_batches(pending) if pending else None, nxt, done, pages, position))
            pending, rows, pages = [], 0, 0
        if done:
            return
        seen.add(nxt)
        cursor = nxt


def _leaf(group: BaseExceptionGroup) -> BaseException:
    """The first real error of a task group's exception group (not a cancellation)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _leaf(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group.exceptions[0]


@asynccontextmanager
async def open_batch_stream(
    client: Any,
    config: ExtractConfig,
    states: Sequence[WindowState],
    slices: int,
    converter: MeetingConverter,
    splitter: Splitter | None = None,
    tracker: ProgressTracker | None = None,
) -> AsyncIterator[MemoryObjectReceiveStream[Chunk]]:
    """Run the windows' cursors (``slices`` at a time) and give the stream of their Chunks.

    Windows start in output order, so with fewer slices than windows the earliest finish first. With
    a ``splitter``, a cursor that finishes while no window waits splits the largest running window
    and the new half runs in the slot it freed. ``tracker`` hears of every page (default: one for
    ``states`` and ``config``'s callbacks).
    """
    if tracker is None:
        tracker = _tracker(config, list(states), None)
    tracker.start()
    limit = config.query.limit
    flush_rows = max(limit, -(-config.batch_size // max(1, slices)))
    send, receive = anyio.create_memory_object_stream[Chunk](max(1, slices))
    limiter = anyio.CapacityLimiter(max(1, slices))
    running: list[WindowState] = []
    waiting = 0

    async def worker(state: WindowState, stream: MemoryObjectSendStream[Chunk], tg: anyio.abc.TaskGroup) -> None:
        nonlocal waiting
        async with stream:
            async with limiter:
                waiting -= 1
                running.append(state)
                try:
                    await _run_window(client, config.query, state, converter, flush_rows, stream, tracker, splitter)
                finally:
                    running.remove(state)
                    if splitter is not None:
                        splitter.finished(state)
            if splitter is not None and waiting == 0:
                new = splitter.split(running)
                if new is not None:
                    waiting += 1
                    tg.start_soon(worker, new, stream.clone(), tg)

    try:
        async with anyio.create_task_group() as tg:
            async with send:
                for state in states:
                    if not state.done:
                        waiting += 1
                        tg.start_soon(worker, state, send.clone(), tg)
            async with receive:
                yield receive
    except BaseExceptionGroup as group:
        leaf = _leaf(group)
        raise leaf.with_traceback(leaf.__traceback__) from None


def _ordered(states: Sequence[WindowState], sort: str) -> list[WindowState]:
    ordered = sorted(states, key=lambda s: s.window.order_key())
    return ordered[::-1] if sort == "start_desc" else ordered


def _tracker(config: ExtractConfig, registry: list[WindowState], span: tuple[datetime, datetime] | None) -> ProgressTracker:
    """The run's progress over ``registry`` (every window, splits appended), reporting to ``config``'s callbacks."""
    return ProgressTracker(registry, span=span, descending=config.query.sort == "start_desc",
                           progress=config.progress, on_progress=config.on_progress)


def _limits(client: Any) -> tuple[float, int]:
    limits = client.config.limits
    return float(limits.reads_per_second), int(limits.max_in_flight)


async def _prepare(
    client: Any, config: ExtractConfig, checkpoint_path: Path | None
) -> tuple[list[WindowState], int, Checkpoint | None, Splitter | None, ProgressTracker]:
    """Windows, slice count, checkpoint, splitter and progress: from the checkpoint when resuming, else planned afresh."""
    filters = query_filters(config.query, config.window)
    watched = config.on_progress is not None  # the covered share needs the range of starts
    if checkpoint_path is not None and config.resume and await anyio.Path(checkpoint_path).exists():
        cp = await anyio.to_thread.run_sync(Checkpoint.load, checkpoint_path, filters)
        slices = min(config.slices or cp.slices, len(cp.windows))
        splitter = Splitter(cp.windows, query=config.query, span=cp.span, lock=cp.lock) if slices > 1 else None
        span = cp.span
        if span is None and watched and not all(w.done for w in cp.windows):
            found = await discover_range(client, config.query)
            span = found[:2] if found is not None else None
        return _ordered(cp.windows, config.query.sort), slices, cp, splitter, _tracker(config, cp.windows, span)
    reads, in_flight = _limits(client)
    windows, slices, span = await plan_windows(
        client, config.query, config.slices, reads_per_second=reads, max_in_flight=in_flight, by_start=config.window == "start",
        probe=watched,
    )
    states = _ordered([WindowState(w) for w in windows], config.query.sort)
    cp = None
    registry = states
    if checkpoint_path is not None:
        Checkpoint.discard(checkpoint_path)  # a stale checkpoint of an earlier run, not resumed
        cp = Checkpoint(checkpoint_path, filters, list(states), slices, span=span)
        registry = cp.windows
        cp.save()
    lock = cp.lock if cp is not None else None
    splitter = Splitter(registry, query=config.query, span=span, lock=lock) if slices > 1 else None
    return states, slices, cp, splitter, _tracker(config, registry, span)


def _metadata(config: ExtractConfig, slices: int, windows: int) -> dict[str, str]:
    return {
        "connector.schema_version": SCHEMA_VERSION,
        "connector.filters": json.dumps(config.query.describe(), sort_keys=True),
        "connector.extracted_at": datetime.now(UTC).isoformat(),
        "connector.slices": str(slices),
        "connector.windows": str(windows),
        "connector.window": config.window,
    }


async def extract_batches(client: Any, config: ExtractConfig) -> AsyncIterator[pa.RecordBatch]:
    """Every meeting matching ``config.query`` as RecordBatches of the meeting schema.

    With several slices, batches of different windows interleave (each batch is from one window, in
    the API's order). With ``config.checkpoint``, a batch counts as delivered when the next one is asked
    for; ``resume`` then skips what was delivered. Close the iterator (``contextlib.aclosing``) if you may
    stop early.
    """
    converter = MeetingConverter()
    with ExtractFiles.plan(None, config.checkpoint).claim():
        states, slices, cp, splitter, tracker = await _prepare(client, config, config.checkpoint)
        async with open_batch_stream(client, config, states, slices, converter, splitter, tracker) as chunks:
            async for chunk in chunks:
                if chunk.batch is not None and chunk.batch.num_rows:
                    yield chunk.batch
                if cp is not None:  # the consumer asked for more: the batch is delivered
                    chunk.state.rows += chunk.batch.num_rows if chunk.batch is not None else 0
                    cp.commit(chunk.state, None, chunk.cursor, chunk.done, chunk.pages, chunk.position)
        if cp is not None:
            cp.remove()


def _release_free_memory() -> None:
    """Return memory freed by the fetch to the OS (glibc keeps it otherwise), so the peak is one stage's."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


async def extract(client: Any, config: ExtractConfig, sink: Sink) -> ExtractReport:
    """Extract into ``sink`` and return the report.

    A :class:`~connector.extract.sinks.FileSink` is always checkpointed (``config.checkpoint`` or
    ``<output>.checkpoint.json``): batches go to part files first and the output is written from them at
    the end, so an interrupted run leaves nothing at the output path and ``resume=True`` continues it.

    Before the first request the run's files are checked and locked (:mod:`.files`): a path that
    collides with another, a file there that the extract did not write, or another extract of the same
    output or checkpoint stops it with a :class:`~connector.errors.ConfigError`, having changed nothing.
    """
    files = ExtractFiles.plan(sink, config.checkpoint)
    with files.claim():
        return await _extract(client, config, sink, files.checkpoint)


async def _extract(client: Any, config: ExtractConfig, sink: Sink, cp_path: Path | None) -> ExtractReport:
    began = time.perf_counter()
    before = client.stats.snapshot()
    file_sink = isinstance(sink, FileSink)
    converter = MeetingConverter()
    states, slices, cp, splitter, tracker = await _prepare(client, config, cp_path)
    resumed = cp.rows if cp is not None and config.resume else 0
    pages = 0
    metadata = _metadata(config, slices, len(states))  # windows as planned (splits add more)
    schema = meeting_arrow_schema()
    output: str | None = None
    if file_sink:
        assert cp is not None
        try:
            async with open_batch_stream(client, config, states, slices, converter, splitter, tracker) as chunks:
                async for chunk in chunks:
                    pages += chunk.pages
                    await anyio.to_thread.run_sync(
                        cp.commit, chunk.state, chunk.batch, chunk.cursor, chunk.done, chunk.pages, chunk.position
                    )
        except BaseException:
            if not cp.touched:
                cp.remove()  # nothing to resume: leave no litter
            raise
        _release_free_memory()  # the fetch is over: give its freed pages back before the output is written
        assert isinstance(sink, FileSink)
        cp.staging = str(sink.staging.absolute())  # recorded before it exists: a killed run's copy is ours to remove
        cp.save()
        sink.open(schema, _metadata(config, slices, len(cp.windows)))
        try:
            for state in _ordered(cp.windows, config.query.sort):
                for batch in cp.read_window(state):
                    sink.write(batch)
            output = sink.commit()
        except BaseException:
            sink.abort()
            raise
        rows = cp.rows
        cp.remove()
    else:
        rows = resumed
        sink.open(schema, metadata)
        try:
            async with open_batch_stream(client, config, states, slices, converter, splitter, tracker) as chunks:
                async for chunk in chunks:
                    pages += chunk.pages
                    n = chunk.batch.num_rows if chunk.batch is not None else 0
                    if n:
                        sink.write(chunk.batch)
                    rows += n
                    if cp is not None:
                        chunk.state.rows += n
                        cp.commit(chunk.state, None, chunk.cursor, chunk.done, chunk.pages, chunk.position)
            output = sink.commit()
        except BaseException:
            sink.abort()
            raise
        if cp is not None:
            cp.remove()
    after = client.stats.snapshot()
    return ExtractReport(
        rows=rows,
        pages=pages,
        requests=after["requests"] - before["requests"],
        retries=after["retries"] - before["retries"],
        rate_limited=after["rate_limited"] - before["rate_limited"],
        server_errors=after["server_errors"] - before["server_errors"],
        transport_errors=after["transport_errors"] - before["transport_errors"],
        seconds=time.perf_counter() - began,
        output=output,
        slices=slices,
        windows=len(splitter.registry) if splitter is not None else len(states),
        filters=config.query.describe(),
        output_format=getattr(sink, "format", None) or None,
        resumed_rows=resumed,
        ignored_fields=tuple(sorted(converter.ignored_fields)),
        schema_version=SCHEMA_VERSION,
    )
