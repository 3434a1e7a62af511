"""Page bodies (raw JSON bytes) -> RecordBatch, in the client's worker thread, or the parsed body.

:func:`decode_page` parses a ``GET /v2/meetings`` body with orjson and converts it with a strict
:class:`~connector.extract.convert.Converter` (the one converter, built from ``schemas/meeting.json``).
It runs in a worker thread, so the page is decoded off the event loop. A page that is not plainly in
the contract's shape (a key the schema does not know, a record that does not fit, an odd envelope)
comes back as the orjson-parsed body instead: the extract's own converter then converts it, naming
drift once in its report or raising the precise :class:`~connector.errors.SchemaError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import pyarrow as pa

from ..errors import SchemaError
from .arrow import MeetingConverter
from .convert import Drift

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
def _converter() -> MeetingConverter:
    return MeetingConverter(strict=True)  # holds no state: strict drift raises instead of being noted


def decode_page(body: bytes) -> FastPage | Any:
    """A page body -> :class:`FastPage`, or the orjson-parsed body for the extract's converter.

    For :meth:`~connector.client.AttioClient.list_page`'s ``decode``: it runs in a worker thread, and
    a ``ValueError`` (invalid JSON) counts as a malformed answer there.
    """
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
        return FastPage(_converter().convert(data), cursor)
    except (Drift, SchemaError):
        return parsed
