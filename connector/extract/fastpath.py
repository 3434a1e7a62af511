"""Page bodies (raw JSON bytes) -> RecordBatch in Arrow's C++ JSON reader, with no Python object per meeting.

:class:`~connector.extract.arrow.MeetingConverter` (orjson dicts -> Python loop -> Arrow) is the
reference and the fallback. :func:`decode_page` reads a ``GET /v2/meetings`` body with
``pyarrow.json`` against an explicit schema and builds the meeting columns with Arrow kernels; the
same string -> timestamp/date casts as the reference, so the batches are identical. It runs in a
worker thread (the reader releases the GIL), so parsing overlaps the event loop's network work.

The fast path only takes a page it can prove the reference would convert without a word: any
unexpected key (drift), wrong JSON type, duplicate key, null in a required place, or a key whose
absence the reference would notice but Arrow cannot see (missing vs null) makes :func:`decode_page`
hand back the orjson-parsed body instead, and the reference converts it (precise
:class:`~connector.errors.SchemaError` messages, "new field ignored, mentioned once").
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..schema import meeting_arrow_schema

__all__ = ["FastPage", "decode_page", "fast_batch"]

_S = pa.string()
_WHEN = pa.struct([("datetime", _S), ("date", _S), ("timezone", _S)])
_PARTICIPANT = pa.struct([("email_address", _S), ("name", _S), ("is_organizer", pa.bool_()), ("status", _S)])
_LINK = pa.struct([("object_slug", _S), ("object_id", _S), ("record_id", _S)])
_MEETING = pa.struct(
    [
        ("id", pa.struct([("meeting_id", _S), ("workspace_id", _S)])),
        ("title", _S),
        ("description", _S),
        ("is_all_day", pa.bool_()),
        ("start", _WHEN),
        ("end", _WHEN),
        ("participants", pa.list_(_PARTICIPANT)),
        ("linked_records", pa.list_(_LINK)),
        ("created_at", _S),
        ("created_by_actor", pa.struct([("type", _S), ("id", _S)])),
    ]
)
# The body exactly as the contract has it: any other key anywhere is an error here, i.e. a fallback.
_BODY = pa.schema([("data", pa.list_(_MEETING)), ("pagination", pa.struct([("next_cursor", _S)]))])
_PARSE = pj.ParseOptions(explicit_schema=_BODY, unexpected_field_behavior="error")


@dataclass(frozen=True, slots=True)
class FastPage:
    """A page the fast path converted: its batch (None when the page is empty) and the next cursor."""

    batch: pa.RecordBatch | None
    next_cursor: str | None

    @property
    def count(self) -> int:
        """How many meetings the page held."""
        return 0 if self.batch is None else self.batch.num_rows


class _Fallback(Exception):
    """The page is not plainly in the contract's shape: let the reference path look at it."""


def _no_nulls(*arrays: pa.Array) -> None:
    for arr in arrays:
        if arr.null_count:
            raise _Fallback


def _list_column(arr: pa.ListArray, list_type: pa.ListType, children: list[pa.Array]) -> pa.ListArray:
    offsets = arr.offsets
    if offsets[0].as_py() != 0:
        offsets = pc.subtract(offsets, offsets[0])
    struct = pa.StructArray.from_arrays(children, fields=list(list_type.value_type))
    return pa.ListArray.from_arrays(offsets, struct, type=list_type)


def fast_batch(body: bytes, schema: pa.Schema | None = None) -> FastPage:
    """Convert one page body; raise ``_Fallback`` (or an Arrow error) when the reference must do it."""
    schema = schema or meeting_arrow_schema()
    if b"\n" in body.strip():  # one JSON document per line for Arrow: Attio's bodies are one line
        raise _Fallback
    table = pj.read_json(
        io.BytesIO(body),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(len(body) + 64, 1 << 16)),
        parse_options=_PARSE,
    )
    if table.num_rows != 1:
        raise _Fallback
    data = table.column("data").combine_chunks()
    pagination = table.column("pagination").combine_chunks()
    _no_nulls(data, pagination)
    # The reference (client) needs the key pagination.next_cursor and data[]; Arrow shows a missing key as null.
    if body.count(b'"next_cursor":') != 1:
        raise _Fallback
    next_cursor = pagination.field("next_cursor")[0].as_py()
    if next_cursor == "":
        raise _Fallback
    meetings: pa.StructArray = data.flatten()
    n = len(meetings)
    if n == 0:
        return FastPage(None, next_cursor)
    _no_nulls(meetings)
    ident, start, end, parts, links, actor = (
        meetings.field(name) for name in ("id", "start", "end", "participants", "linked_records", "created_by_actor")
    )
    _no_nulls(ident, start, end, parts, links)
    mid, wid = ident.field("meeting_id"), ident.field("workspace_id")
    title, desc, all_day, created = (meetings.field(name) for name in ("title", "description", "is_all_day", "created_at"))
    _no_nulls(mid, wid, title, desc, all_day, created)

    # start/end: the reference takes the date branch when the key "date" is present. Take a page only if
    # every start/end has exactly one of date/datetime non-null and "date" keys are exactly the non-null ones.
    when_cols = []
    n_dates = 0
    for w in (start, end):
        dt, d, tz = w.field("datetime"), w.field("date"), w.field("timezone")
        has_d = d.is_valid()
        if not pc.all(pc.xor(has_d, dt.is_valid())).as_py():
            raise _Fallback
        n_dates += len(d) - d.null_count
        if d.null_count != len(d):
            tz = pc.if_else(has_d, pa.scalar(None, _S), tz)
        when_cols.append((dt, d, tz))
    if body.count(b'"date":') != n_dates:
        raise _Fallback
    # created_by_actor: null is fine, a missing key is not (the reference indexes it).
    if body.count(b'"created_by_actor":') != n:
        raise _Fallback
    a_type, a_id = actor.flatten() if actor.null_count else (actor.field("type"), actor.field("id"))

    types = {f.name: f.type for f in schema}
    p_type, l_type = types["participants"], types["linked_records"]
    p_items = parts.flatten()
    _no_nulls(p_items)
    p_email, p_name, p_org, p_status = (p_items.field(c.name) for c in p_type.value_type)
    _no_nulls(p_org, p_status)
    if body.count(b'"email_address":') != len(p_items):  # the key is required, its value may be null
        raise _Fallback
    l_items = links.flatten()
    _no_nulls(l_items)
    l_cols = [l_items.field(c.name) for c in l_type.value_type]
    _no_nulls(*l_cols)

    ts, date = types["start_datetime"], types["start_date"]
    (s_dt, s_d, s_tz), (e_dt, e_d, e_tz) = when_cols
    arrays = [
        mid,
        wid,
        title,
        desc,
        all_day,
        s_dt.cast(ts),
        s_d.cast(date),
        s_tz,
        e_dt.cast(ts),
        e_d.cast(date),
        e_tz,
        _list_column(parts, p_type, [p_email, p_name, p_org, p_status]),
        _list_column(links, l_type, l_cols),
        created.cast(types["created_at"]),
        a_type,
        a_id,
    ]
    return FastPage(pa.RecordBatch.from_arrays(arrays, schema=schema), next_cursor)


def decode_page(body: bytes) -> FastPage | Any:
    """A page body -> :class:`FastPage`, or the orjson-parsed body for the reference path.

    For :meth:`~connector.client.AttioClient.list_page`'s ``decode``: it runs in a worker thread, and
    a ``ValueError`` (invalid JSON) counts as a malformed answer there.
    """
    try:
        return fast_batch(body)
    except (_Fallback, pa.ArrowException, ValueError, TypeError, KeyError):
        return orjson.loads(body)
