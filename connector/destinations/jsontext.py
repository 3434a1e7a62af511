"""Arrow values as JSON text, column at a time (Arrow compute kernels, no Python loop over rows).

PostgreSQL receives ``participants`` and ``linked_records`` as ``jsonb``; building the JSON per row with
``to_pylist`` + ``orjson`` cost more than the whole COPY (measured in ``bench/destinations.py``).

A value is built as a list of pieces (constant strings and string arrays) that one element-wise join
turns into the text: a struct whose fields hold no nulls is one join of its field names, quotes and
values, not one pass per field and another per quote (about half the time of quoting each field on its
own, 100k meetings).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias

from ..deferred import deferred

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")
    pc = deferred("pyarrow.compute")


__all__ = ["json_text"]

_NEEDS_ESCAPE = '[\\\\"\x00-\x1f]'  # a backslash, a quote or a control character

_Piece: TypeAlias = "pa.Array | str"


def _plain(text: pa.Array) -> bool:
    """True when no string of ``text`` needs an escape: one pass over its bytes (the common case)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    values = text.buffers()[2]
    data = (
        np.frombuffer(values, dtype=np.uint8)[offsets[0] : offsets[-1]] if values else np.zeros(0, np.uint8)
    )
    # Three comparisons over the bytes are ~6x faster than the regex per string (and than a lookup table).
    return not ((data < 0x20).any() or (data == ord('"')).any() or (data == ord("\\")).any())


def _escaped(text: pa.Array) -> pa.Array:
    """The strings' JSON escapes, without the quotes (few need any: those are escaped in Python)."""
    if _plain(text):
        return text
    needs = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
    if not pc.any(needs).as_py():
        return text
    rows = pc.indices_nonzero(needs)
    escaped = [json.dumps(value, ensure_ascii=False)[1:-1] for value in text.take(rows).to_pylist()]
    return pc.replace_with_mask(text, needs, pa.array(escaped, pa.string()))


def _joined(pieces: list[_Piece], length: int) -> pa.Array:
    """The element-wise concatenation of ``pieces`` (adjacent constants merged first)."""
    merged: list[_Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    if len(merged) == 1:
        only = merged[0]
        return pa.repeat(only, length).cast(pa.string()) if isinstance(only, str) else only
    return pc.binary_join_element_wise(*merged, "")


def _text(array: pa.Array) -> pa.Array:
    """The JSON text of every value, ``null`` for a null."""
    text = _joined(_pieces(array), len(array))
    if array.null_count:
        text = pc.if_else(pc.is_null(array), pa.scalar("null"), text)
    return text


def _pieces(array: pa.Array) -> list[_Piece]:
    """Pieces that join into the JSON text of the values where ``array`` is not null."""
    kind = array.type
    if array.null_count and array.null_count == len(array):
        return ["null"]
    if pa.types.is_struct(kind):
        if not len(kind):
            return ["{}"]
        pieces: list[_Piece] = []
        for i, field in enumerate(kind):
            pieces.append(("{" if i == 0 else ",") + json.dumps(field.name, ensure_ascii=False) + ":")
            child = array.field(i)
            pieces += [_text(child)] if child.null_count else _pieces(child)
        return [*pieces, "}"]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = array.offsets
        first = offsets[0].as_py()
        # A slice's values buffer is its parent's: convert only the values this slice's rows point to.
        items = _text(array.values.slice(first, offsets[-1].as_py() - first))
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type)) if first else offsets
        joined = pc.binary_join(type(array).from_arrays(rebased, items), ",")
        return ["[", pc.fill_null(joined, "") if joined.null_count else joined, "]"]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return ['"', _escaped(array.cast(pa.string())), '"']
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return ['"', array.cast(pa.string()), '"']
    if pa.types.is_boolean(kind):
        return [pc.if_else(array, pa.scalar("true"), pa.scalar("false"))]
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return [array.cast(pa.string())]
    raise TypeError(f"no JSON text for Arrow type {kind}")


def json_text(array: pa.Array | pa.ChunkedArray, prefix: str = "") -> pa.Array | pa.ChunkedArray:
    """Each value of ``array`` as a JSON text after ``prefix`` (strings, booleans, integers, floats, timestamps,
    dates, structs, lists); a null value is ``null``."""
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([json_text(chunk, prefix) for chunk in array.chunks], pa.string())
    if array.null_count:
        return _joined([prefix, _text(array)], len(array))
    return _joined([prefix, *_pieces(array)], len(array))
