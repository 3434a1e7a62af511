"""Arrow values as JSON text, column at a time (Arrow compute kernels, no Python loop over rows).

PostgreSQL receives ``participants`` and ``linked_records`` as ``jsonb``; building the JSON per row with
``to_pylist`` + ``orjson`` cost more than the whole COPY (measured in ``bench/destinations.py``).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["json_text"]

_NEEDS_ESCAPE = '[\\\\"\x00-\x1f]'  # a backslash, a quote or a control character


def _quoted(strings: pa.Array) -> pa.Array:
    text = strings.cast(pa.string())
    needs = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
    if pc.any(needs).as_py():  # few values: escape those in Python, leave the rest as they are
        rows = pc.indices_nonzero(needs)
        escaped = [json.dumps(value, ensure_ascii=False)[1:-1] for value in text.take(rows).to_pylist()]
        text = pc.replace_with_mask(text, needs, pa.array(escaped, pa.string()))
    return pc.binary_join_element_wise('"', text, '"', "")


def _with_nulls(source: pa.Array, text: pa.Array) -> pa.Array:
    """``null`` (JSON) where ``source`` is null."""
    if not source.null_count:
        return text
    return pc.if_else(pc.is_null(source), pa.scalar("null"), text)


def json_text(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Each value of ``array`` as a JSON text (strings, booleans, integers, floats, timestamps, dates, structs, lists)."""
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([json_text(chunk) for chunk in array.chunks], pa.string())
    kind = array.type
    if pa.types.is_struct(kind):
        parts: list[pa.Array | str] = []
        for i, field in enumerate(kind):
            prefix = ("{" if i == 0 else ",") + '"' + field.name.replace('"', '\\"') + '":'
            parts += [prefix, json_text(array.field(i))]
        parts.append("}" if len(kind) else "{}")
        text = pc.binary_join_element_wise(*parts, "")
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = array.offsets
        first = offsets[0].as_py()
        # A slice's values buffer is its parent's: convert only the values this slice's rows point to.
        items = json_text(array.values.slice(first, offsets[-1].as_py() - first))
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type)) if first else offsets
        joined = pc.binary_join(type(array).from_arrays(rebased, items), ",")
        text = pc.binary_join_element_wise("[", pc.fill_null(joined, ""), "]", "")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _quoted(array)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        text = _quoted(array.cast(pa.string()))
    elif pa.types.is_boolean(kind):
        text = pc.if_else(array, pa.scalar("true"), pa.scalar("false"))
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        text = array.cast(pa.string())
    else:
        raise TypeError(f"no JSON text for Arrow type {kind}")
    return _with_nulls(array, pc.fill_null(text, "null") if text.null_count else text)
