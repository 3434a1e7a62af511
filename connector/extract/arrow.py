"""Meetings in Arrow: the meetings stream's converter, batch helpers, and each meeting's start key.

:class:`MeetingConverter` is :class:`~connector.extract.convert.Converter` over ``schemas/meeting.json``:
the schema file alone defines the meeting's JSON shape and its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from ..deferred import deferred
from ..schema import meeting_arrow_schema, meeting_schema
from .convert import Converter, timestamp_value

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow._compute as compute
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")
    compute = deferred("pyarrow._compute")

__all__ = [
    "MeetingConverter",
    "boolean_array",
    "concat_batches",
    "empty_batch",
    "reversed_batch",
    "start_keys",
    "timestamp_value",
]

_EPOCH_DAY_MS = 86_400 * 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class MeetingConverter(Converter):
    """Turns lists of meeting dicts into RecordBatches of :func:`~connector.schema.meeting_arrow_schema`."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__(meeting_schema, strict=strict)  # built when first used: Arrow may be importing still


def empty_batch(schema: pa.Schema | None = None) -> pa.RecordBatch:
    """A RecordBatch with no rows."""
    schema = schema or meeting_arrow_schema()
    return pa.RecordBatch.from_pylist([], schema=schema)


def concat_batches(batches: Sequence[pa.RecordBatch], schema: pa.Schema | None = None) -> pa.RecordBatch:
    """One RecordBatch from several (copies the data once)."""
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return empty_batch(schema)
    return pa.concat_batches(list(batches))


def reversed_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch's rows last to first.

    Through the compute kernel itself, with indices built from their buffer: ``batch.take`` imports
    ``pyarrow.compute`` (+11 MB of RSS) and ``pa.array(indices)`` pandas (+30 MB, as for
    :func:`boolean_array`), which a 300k extract's peak RSS showed (~205 -> ~245 MB).
    """
    indices = np.arange(batch.num_rows - 1, -1, -1, dtype=np.int64)
    array = pa.Array.from_buffers(pa.int64(), len(indices), [None, pa.py_buffer(indices)])
    return cast("pa.RecordBatch", compute.call_function("take", [batch, array]))


@lru_cache(maxsize=65_536)
def _local_midnight_ms(days: int, tz_name: str) -> int:
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name))
    return (local - _EPOCH) // timedelta(milliseconds=1)


def _validity(array: pa.Array) -> np.ndarray:
    """Which slots of ``array`` hold a value, as numpy booleans, read from its validity bitmap."""
    bitmap = array.buffers()[0]
    if bitmap is None:
        return np.ones(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].view(bool)


def boolean_array(mask: np.ndarray) -> pa.BooleanArray:
    """A numpy bool array as an Arrow one (e.g. for ``RecordBatch.filter``), built from its bits.

    ``pa.array(mask)`` does the same, but pyarrow's first conversion from Python or numpy imports pandas
    (~0.4 s of CPU, in the middle of a run).
    """
    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def start_keys(batch: pa.RecordBatch, tz_name: str) -> np.ndarray:
    """Each meeting's start as epoch milliseconds, as the API's time filters see it.

    Timed meetings: their UTC start. All-day meetings (a start date, no start time): 00:00 of the start
    date in ``tz_name`` (the query's timezone), which is how ``starts_before`` judges them. Milliseconds
    hold every year 0001-9999 in an int64 (nanoseconds stop at 1677 and 2262).
    """
    timed = batch.column("start_datetime")
    start_type = pa.timestamp("ms", "UTC")  # int64 epoch ms in its buffers: the start keys' unit
    if timed.type != start_type:  # the meeting schema's type is read as is: no cast on the event loop
        timed = timed.cast(start_type)
    # The converter leaves a start time null only where the start has a date: those slots are set below,
    # so the buffer's values under nulls (whatever they are) are never used and need no fill.
    keys = np.frombuffer(timed.buffers()[1], dtype=np.int64, count=len(timed), offset=timed.offset * 8).copy()
    if not timed.null_count:
        return keys
    dates = batch.column("start_date")
    # The raw buffers, as for ``timed``: only the valid slots are read. (fill_null would make a Python
    # scalar, and pyarrow's first conversion from Python imports pandas: ~0.4 s of CPU in the range probe.)
    days = np.frombuffer(dates.buffers()[1], dtype=np.int32, count=len(dates), offset=dates.offset * 4)
    idx = np.flatnonzero(_validity(dates))
    if tz_name in ("UTC", "Etc/UTC"):
        keys[idx] = days[idx].astype(np.int64) * _EPOCH_DAY_MS
    else:
        keys[idx] = [_local_midnight_ms(int(d), tz_name) for d in days[idx]]
    return keys
