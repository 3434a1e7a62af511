"""Page bodies (raw JSON bytes) -> RecordBatch in the client's worker thread, or the parsed body.

:func:`decode_page` reads a ``GET /v2/meetings`` body with Arrow's C++ JSON reader into the struct type
that the one converter (:class:`~connector.extract.convert.Converter` over ``schemas/meeting.json``)
derives from the schema, and hands that to :meth:`~connector.extract.convert.Converter.convert_rows`:
the same columns, the same rules, no Python object per meeting. The reader releases the GIL, so in
the worker thread the page is parsed while the event loop does the network work: that is why the
extract does not simply run orjson and :meth:`~connector.extract.convert.Converter.convert` there
(same CPU per meeting, but whole extracts used more client CPU holding the GIL; ``bench/converter.py``).

A page Arrow's reader refuses (a key the schema does not know, a value of another JSON type, a
duplicate key, a pretty-printed body) is parsed by orjson and converted by a strict converter; one
that still does not fit or has drift comes back as the parsed body, for the extract's own converter
to name the drift in its report or raise the precise :class:`~connector.errors.SchemaError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from ..deferred import deferred
from ..errors import SchemaError
from .arrow import MeetingConverter
from .convert import Drift, Unfit

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.json as pj
else:
    pa = deferred("pyarrow")
    pj = deferred("pyarrow.json")

__all__ = ["FastPage", "decode_page"]


@dataclass(frozen=True, slots=True)
class FastPage:
    """A page converted in the worker thread: its batch (None when the page is empty) and the next cursor."""

    batch: pa.RecordBatch | None
    next_cursor: str | None

    @property
    def count(self) -> int:
        """How many meetings the page held."""
        return 0 if self.batch is None else self.batch.num_rows


@cache
def _decoder() -> tuple[MeetingConverter, pj.ParseOptions]:
    converter = MeetingConverter(strict=True)  # holds no state: strict drift raises instead of being noted
    body = pa.schema(
        [("data", pa.list_(converter.json_type)), ("pagination", pa.struct([("next_cursor", pa.string())]))]
    )
    return converter, pj.ParseOptions(explicit_schema=body, unexpected_field_behavior="error")


class _NotPlain(Exception):
    """The body is not plainly a page of the contract's shape: let orjson and the converter look at it."""


def _read(body: bytes) -> FastPage:
    converter, options = _decoder()
    # An Arrow buffer over the bytes, not a Python file: Arrow reads a file object on its IO thread,
    # which must take the GIL from the event loop for every read.
    table = pj.read_json(
        pa.BufferReader(body),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(len(body) + 64, 1 << 16)),
        parse_options=options,
    )
    if table.num_rows != 1:
        raise _NotPlain  # Arrow reads one document per line: Attio's bodies are one line
    data = table.column("data").chunk(0)
    pagination = table.column("pagination").chunk(0)
    # A missing key reads as null: the envelope's keys must be there (pagination is last, so rfind is quick).
    if data.null_count or pagination.null_count or body.rfind(b'"next_cursor":') < 0:
        raise _NotPlain
    cursor = pagination.field("next_cursor")[0].as_py()
    if cursor == "":
        raise _NotPlain
    meetings = data.flatten()
    return FastPage(converter.convert_rows(meetings) if len(meetings) else None, cursor)


def _parsed(body: bytes) -> FastPage | Any:
    """orjson's reading of the body, converted by the strict converter if it is a plain page."""
    parsed = orjson.loads(body)
    if type(parsed) is not dict or parsed.keys() != {"data", "pagination"}:
        return parsed
    data, pagination = parsed["data"], parsed["pagination"]
    if type(data) is not list or type(pagination) is not dict or pagination.keys() != {"next_cursor"}:
        return parsed
    cursor = pagination["next_cursor"]
    if not (cursor is None or (type(cursor) is str and cursor)):
        return parsed
    if not data:
        return FastPage(None, cursor)
    try:
        return FastPage(_decoder()[0].convert(data), cursor)
    except (Drift, SchemaError):
        return parsed


def decode_page(body: bytes) -> FastPage | Any:
    """A page body -> :class:`FastPage`, or the orjson-parsed body for the extract's converter.

    For :meth:`~connector.client.AttioClient.list_page`'s ``decode``: it runs in a worker thread, and
    a ``ValueError`` (invalid JSON) counts as a malformed answer there.
    """
    try:
        return _read(body)
    except (_NotPlain, Unfit, pa.ArrowException):
        return _parsed(body)
