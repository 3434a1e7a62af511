"""Streams: what the engine extracts. A stream is an endpoint, a schema file in ``schemas/`` and its converter.

    MEETINGS = Stream("meetings", endpoint GET /v2/meetings, schemas/meeting.json, MeetingConverter, decode_page)

The engine (:mod:`.run`) asks a stream for three things: a fresh converter for a run (it collects the
fields the schema does not know), one page as an Arrow batch and the cursor after it
(:meth:`Stream.read_page`, on the client's one pagination rule and read budget), and the Arrow schema
of its rows. Meetings is the first stream and a *root* stream: its work is cut into time windows of
start keys (:mod:`.slices`), each read by its own cursor.

Child streams (designed here, built by the call-recordings issue)
-----------------------------------------------------------------
A child stream is fetched per row of a parent stream: call recordings per meeting
(``GET /v2/meetings/{meeting_id}/call_recordings``), then transcripts per call recording. It plugs into
the same run without a special case in the consumer, the checkpoint or the sinks:

* Work units. A root stream's unit is a time window; a child's unit is a *parent key* (a meeting id)
  with its own cursor over the child endpoint. Both are a state with ``cursor``, ``done``, ``rows``,
  ``pages`` and ``parts``: the checkpoint keeps one list of such states per stream
  (``{"streams": {"meetings": [...], "call_recordings": [...]}}``), saved in the same atomic file, so
  a resume continues every stream where it stood.
* Feeding. The parent's committed batches are the child's queue: when the run commits a meetings
  batch it hands the batch's keys (``meeting_id``) to the child stream as new units. The parent's
  checkpoint commit and the child units it creates are one checkpoint change, so a killed run never
  holds a committed meeting whose recordings nobody will fetch.
* Budget. Every cursor, root or child, calls the one client: the read budget and in-flight cap are
  shared by construction. The run caps the units in flight per stream (root windows first, so the
  child queue cannot grow past what the parents committed; a bounded memory stream between them keeps
  memory bounded by batch size).
* Output. Each stream has its own sink (a table or file of its own schema), opened and committed by
  the run like the meetings' sink; an atomic sink of a child stream gets the same staged parts and
  resume. A child's output order is its parents' order (units are queued in the parent's commit
  order), not time windows.
* Resume. Units done stay done; a unit with a cursor continues from it; parent batches committed but
  not yet fanned out are recognised by their part names (the checkpoint records how far the fan-out
  has gone, per parent part).

What a child stream needs to declare beyond a root stream: its parent stream's name, the parent column
holding the key, and how to build its endpoint path from that key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from ..client import MeetingReader, page_from_body
from ..models import MEETINGS_PATH, MeetingQuery
from ..schema import meeting_arrow_schema
from .arrow import MeetingConverter, start_keys
from .fastpath import decode_page
from .tasks import release_now_and_then

__all__ = ["MEETINGS", "Converter", "Stream"]


class Converter(Protocol):
    """Turns a page's parsed records into a RecordBatch of the stream's schema."""

    ignored_fields: set[str]

    def convert(self, records: list[dict[str, Any]]) -> pa.RecordBatch: ...


@dataclass(frozen=True)
class Stream:
    """An endpoint, the schema file its rows follow, and how its pages become Arrow batches.

    ``decode(body_bytes)`` runs in a worker thread inside the client's retry loop: it returns either an
    object with ``batch`` and ``next_cursor`` (a page converted without Python objects per record), or the
    parsed JSON body, which the stream's converter then turns into a batch (the reference path).
    ``start_keys(batch, timezone)`` gives each row's start key (:func:`~.slices.to_key` units), by which
    a root stream's time windows keep their rows.
    """

    name: str
    endpoint: str
    schema_file: str
    arrow_schema: Callable[[], pa.Schema]
    converter: Callable[[], Converter]
    decode: Callable[[bytes], Any]
    start_keys: Callable[[pa.RecordBatch, str], np.ndarray]

    async def read_page(
        self, client: MeetingReader, query: MeetingQuery, cursor: str | None, converter: Converter
    ) -> tuple[pa.RecordBatch | None, str | None]:
        """One page from ``cursor``: its rows as a batch (None when it has none) and the next cursor."""
        body = await client.fetch_page(query, cursor, self.decode)
        if not isinstance(body, dict):  # converted in the worker thread
            return body.batch, body.next_cursor
        page = page_from_body(body, cursor)
        del body
        return (converter.convert(page.meetings) if page.meetings else None), page.next_cursor


def _decode_meetings(body: bytes) -> Any:
    """:func:`~.fastpath.decode_page` in a worker thread, which now and then hands its freed Arrow memory back."""
    try:
        return decode_page(body)
    finally:
        release_now_and_then()


MEETINGS = Stream(
    name="meetings",
    endpoint=MEETINGS_PATH,
    schema_file="meeting.json",
    arrow_schema=meeting_arrow_schema,
    converter=MeetingConverter,
    decode=_decode_meetings,
    start_keys=start_keys,
)
