"""The extract's entry points: :func:`extract` into a sink, :func:`extract_batches` as an async iterator.

Both are a few lines over :class:`~.run.ExtractRun`, which owns a run's state from plan to report
(windows, checkpoint, splits, cursors and the one consumer loop). Before the first request the run's
files are checked and locked (:mod:`.files`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

import anyio

from .. import deferred
from ..client import MeetingReader
from ..errors import InvalidArgumentError
from ..http import first_send
from .config import ExtractConfig
from .files import ExtractFiles
from .report import ExtractReport
from .run import ExtractRun
from .sinks import AtomicSink, Sink
from .streams import check_tables
from .tasks import first_error

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ExtractConfig", "extract", "extract_batches"]


async def extract_batches(
    client: MeetingReader, config: ExtractConfig
) -> AsyncGenerator[pa.RecordBatch, None]:
    """Every meeting matching ``config.query`` as RecordBatches of the meeting schema.

    With several slices, batches of different windows interleave (each batch is from one window, in
    the API's order). With ``config.checkpoint``, a batch counts as delivered when the next one is asked
    for; ``resume`` then skips what was delivered. Close the iterator (``contextlib.aclosing``) if you may
    stop early.
    """
    with ExtractFiles.plan(None, config.checkpoint).claim():
        run = ExtractRun(client, config, checkpoint=config.checkpoint)
        await _plan(run)
        async with aclosing(run.deliveries()) as batches:
            async for _, batch in batches:
                yield batch
        run.finish()


async def extract(
    client: MeetingReader,
    config: ExtractConfig,
    sink: Sink | Mapping[str, Sink],
    *,
    tables: str | Sequence[str] | None = None,
) -> ExtractReport:
    """Extract into ``sink`` and return the report.

    ``tables``: the tables to write (default ``meetings``; also ``call_recordings``,
    ``transcript_segments``, as a list or comma-separated); with several, ``sink`` maps each table to
    its sink (a mapping of one table also works for any table). Meetings are fetched to find the
    recordings' parents whether or not they are written. Every sink is opened first and committed only
    once every table is complete.

    An :class:`~connector.extract.sinks.AtomicSink` (every file sink) is always checkpointed
    (``config.checkpoint`` or the sink's ``default_checkpoint()``, for files ``<output>.checkpoint.json``):
    batches go to part files first and are written to the sink in output order while the run goes, so an
    interrupted run leaves nothing at the output and ``resume=True`` continues it.

    Before the first request the run's files are checked and locked (:mod:`.files`): a path that
    collides with another, a file there that the extract did not write, or another extract of the same
    output or checkpoint stops it with a :class:`~connector.errors.ConfigError`, having changed nothing.
    """
    names = check_tables(
        tables if tables is not None else (list(sink) if isinstance(sink, Mapping) else None)
    )
    sinks = dict(sink) if isinstance(sink, Mapping) else {names[0]: sink}
    if set(sinks) != set(names):
        raise InvalidArgumentError(
            "sink", f"give one sink per table, as a mapping of {', '.join(names)} to sinks"
        )
    atomic = [isinstance(s, AtomicSink) for s in sinks.values()]
    if any(atomic) and not all(atomic):
        raise InvalidArgumentError(
            "sink", "the tables' sinks must all be atomic (files, databases) or all not"
        )
    files = ExtractFiles.plan(sinks, config.checkpoint)
    with files.claim():
        run = ExtractRun(client, config, checkpoint=files.checkpoint, staged=all(atomic), tables=names)
        await _plan(run)
        return await run.into(sinks)


async def _plan(run: ExtractRun) -> None:
    """Plan ``run``, importing Arrow and numpy (if not yet) in a worker thread once its first request is out:
    the import then takes the range probe's round trip, not a time of its own before it (deferred.py).

    Started after the send, the import's thread does not hold the GIL while the request is made; a plan
    that sends nothing (one cursor, or a reader of the caller's own) imports once it is made.
    """
    if deferred.loaded():
        await run.plan()
        return

    async def load(sent: anyio.Event) -> None:
        await sent.wait()
        await anyio.to_thread.run_sync(deferred.load)

    try:
        with first_send() as sent:
            async with anyio.create_task_group() as tg:
                tg.start_soon(load, sent)
                await run.plan()
                sent.set()
    except BaseExceptionGroup as group:
        leaf = first_error(group)
        raise leaf.with_traceback(leaf.__traceback__) from None
