"""Streams: what the engine extracts. A stream is an endpoint, a schema file in ``schemas/`` and its converter.

    MEETINGS = Stream("meetings", endpoint GET /v2/meetings, schemas/meeting.json, MeetingConverter, decode_page)

The engine (:mod:`.run`) asks a stream for three things: a fresh converter for a run (it collects the
fields the schema does not know), one page as an Arrow batch and the cursor after it
(:meth:`Stream.read_page`, on the client's one pagination rule and read budget), and the Arrow schema
of its rows. Meetings is the first stream and a *root* stream: its work is cut into time windows of
start keys (:mod:`.slices`), each read by its own cursor.

Child streams
-------------
A child stream is fetched per row of its parent stream: :data:`CALL_RECORDINGS` per meeting. For each
meeting it lists the recordings (``GET /v2/meetings/{meeting_id}/call_recordings``, paged by the
client's one :class:`~connector.client.Cursors` rule), then GETs each one, its transcript inline (never
the deprecated transcript endpoint); one recording's answer gives the rows of two tables,
``call_recordings`` and ``transcript_segments`` (:class:`Table`: a name and a schema file, converted by
the one schema-driven converter). ``video_url``, a download link that is a credential in effect, is
dropped from the answer in the worker thread that parses it, before anything else sees it.

A child stream declares its name, the parent column holding the key, the tables it fills and one
``fetch(client, key, converters)`` that returns a parent's rows per table (:class:`ChildStream`). How the
run (:mod:`.run`) drives it, with one addition to the checkpoint (its fan-out state) and none to the sinks:

* Feeding. A committed meetings batch's keys (``meeting_id``) become the child's pending keys in the
  same checkpoint change (``fanout.pending``), so a killed run never holds a committed meeting whose
  recordings nobody will fetch. Meetings that start after the run began are skipped and counted
  (unless ``include_future_meetings``): they cannot have a recording yet.
* Budget. Child workers (one meeting each, as many as the client's in-flight cap) and the meetings'
  cursors all call the one client: the read budget and in-flight cap are shared by construction. The
  meetings' cursors wait while the pending keys reach a bound (:class:`~.fanout.FanOut`), so memory and
  the checkpoint stay bounded however many meetings there are.
* Output. Each table has its own sink. A finished meeting's rows are committed, several meetings at a
  time, as one part file per table, in the same checkpoint change that removes their keys from the
  pending ones; an atomic sink gets each part as it is committed (output order: the order meetings
  finish, not time order). One recording's rows are never split between parts, so a database's merge
  can replace a recording's transcript by its ``call_recording_id``.
* Resume. Pending keys are fetched again from the start of their meeting (a meeting's rows are
  committed whole or not at all); committed parts are written to the sinks again; so no recording is
  lost or duplicated. (The first design tracked the fan-out per parent part file; a bounded list of
  pending keys does the same for runs without part files, a callable sink's, and needs no part read back.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from ..client import Cursors, MeetingReader, RecordingReader, call_recordings_path, page_from_body
from ..deferred import deferred
from ..errors import InvalidArgumentError, MalformedResponseError, NotFoundError
from ..models import MEETINGS_PATH, MeetingQuery
from ..schema import StreamSchema, meeting_arrow_schema, meeting_schema, stream_schema
from .arrow import MeetingConverter, concat_batches, reversed_batch, start_keys
from .convert import Converter as SchemaConverter
from .fastpath import decode_page
from .tasks import release_now_and_then

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")

__all__ = [
    "CALL_RECORDINGS",
    "MEETINGS",
    "TABLES",
    "ChildStream",
    "Converter",
    "Stream",
    "Table",
    "check_tables",
]


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
        self, client: MeetingReader, query: MeetingQuery, cursor: str | None, converter: Converter,
        *, flip: bool = False,
    ) -> tuple[pa.RecordBatch | None, str | None]:
        """One page from ``cursor``: its rows as a batch (None when it has none) and the next cursor;
        ``flip``: the rows last to first (a window read against the output's order)."""
        body = await client.fetch_page(query, cursor, partial(_flipped, self.decode) if flip else self.decode)
        if not isinstance(body, dict):  # converted in the worker thread
            return body.batch, body.next_cursor
        page = page_from_body(body, cursor)
        del body
        records = page.meetings[::-1] if flip else page.meetings
        return (converter.convert(records) if records else None), page.next_cursor


def _flipped(decode: Callable[[bytes], Any], body: bytes) -> Any:
    """``decode``'s page with its rows last to first, turned in the decoding thread: the page as decoded
    is freed where it was made (turned by the consumer, the copies cost ~+40 MB of peak RSS at 300k)."""
    page = decode(body)
    if isinstance(page, dict) or page.batch is None:
        return page  # parsed: the records are turned before they are converted
    return replace(page, batch=reversed_batch(page.batch))


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


@dataclass(frozen=True)
class Table:
    """A table an extract can write: its name and its schema (``schemas/<file>``), and the stream that fills it."""

    name: str
    schema: Callable[[], StreamSchema]
    stream: str

    def arrow_schema(self) -> pa.Schema:
        """The table's one Arrow schema, from its schema file."""
        return self.schema().arrow

    @property
    def key(self) -> str:
        """The column a database's merge replaces rows by (a transcript's segments: by their recording)."""
        return self.schema().key


TABLES: Mapping[str, Table] = {
    t.name: t
    for t in (
        Table("meetings", meeting_schema, "meetings"),
        Table("call_recordings", partial(stream_schema, "call_recording.json"), "call_recordings"),
        Table("transcript_segments", partial(stream_schema, "transcript_segment.json"), "call_recordings"),
    )
}


def check_tables(tables: str | Sequence[str] | None) -> tuple[str, ...]:
    """The table names of ``tables`` (a list, or text separated by commas), in :data:`TABLES` order, each once.

    None means ``("meetings",)``. InvalidArgumentError names an unknown table, or an empty list.
    """
    if tables is None:
        return ("meetings",)
    names = [t.strip() for t in (tables.split(",") if isinstance(tables, str) else tables)]
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise InvalidArgumentError(
            "tables", f"unknown table {unknown[0]!r}; the tables are {', '.join(TABLES)}"
        )
    if not names:
        raise InvalidArgumentError("tables", f"name at least one of {', '.join(TABLES)}")
    return tuple(n for n in TABLES if n in names)


Fetch = Callable[
    [RecordingReader, str, Mapping[str, SchemaConverter]], Awaitable[dict[str, "pa.RecordBatch"]]
]


@dataclass(frozen=True)
class ChildStream:
    """A stream fetched per parent row: ``fetch(client, key, converters)`` gives one parent's rows per table.

    ``parent_key``: the parent stream's column holding the key; ``tables``: the tables its answers fill.
    """

    name: str
    parent_key: str
    tables: tuple[str, ...]
    fetch: Fetch

    def converters(self) -> dict[str, SchemaConverter]:
        """A fresh converter per table, for one run (each collects the fields its schema does not know)."""
        return {name: SchemaConverter(TABLES[name].schema()) for name in self.tables}


def _decode_recording(converters: Mapping[str, SchemaConverter], body: bytes) -> dict[str, pa.RecordBatch]:
    """One recording's answer as a batch per table, in the worker thread; ``video_url`` goes first of all."""
    parsed = orjson.loads(body)  # a ValueError is a malformed answer, retried
    record = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(record, dict):
        raise ValueError("the answer has no 'data' object")
    record.pop("video_url", None)
    del parsed
    return {name: converter.convert([record]) for name, converter in converters.items()}


async def _fetch_recordings(
    client: RecordingReader, meeting_id: str, converters: Mapping[str, SchemaConverter]
) -> dict[str, pa.RecordBatch]:
    """A meeting's call recordings and transcript segments: list them (paged), then GET each.

    A meeting or recording deleted in Attio since it was listed (404) has no rows: the extract holds what
    was there when it was read.
    """
    ids: list[str] = []
    cursors = Cursors()
    try:
        while True:
            page = await client.call_recordings_page(meeting_id, cursors.cursor, limit=200)
            for item in page.recordings:
                ident = item.get("id") if isinstance(item, dict) else None
                rid = ident.get("call_recording_id") if isinstance(ident, dict) else None
                if not isinstance(rid, str):
                    raise MalformedResponseError(
                        "a listed call recording has no id.call_recording_id",
                        method="GET",
                        path=call_recordings_path(meeting_id),
                    )
                ids.append(rid)
            if not cursors.follow(page.next_cursor):
                break
    except NotFoundError:
        ids = []
    decode = partial(_decode_recording, converters)
    found: dict[str, list[pa.RecordBatch]] = {name: [] for name in converters}
    for rid in ids:
        try:
            batches = await client.get_call_recording(meeting_id, rid, decode=decode)
        except NotFoundError:
            continue
        for name, batch in batches.items():
            found[name].append(batch)
    return {name: concat_batches(batches, converters[name].arrow) for name, batches in found.items()}


CALL_RECORDINGS = ChildStream(
    name="call_recordings",
    parent_key="meeting_id",
    tables=("call_recordings", "transcript_segments"),
    fetch=_fetch_recordings,
)
