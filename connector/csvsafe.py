"""CSV cells that a spreadsheet will not run as formulas (CSV injection, as OWASP describes it)."""

from __future__ import annotations

__all__ = ["neutralise_cell"]

# A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|..., @SUM(...)).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(text: str) -> str:
    """``text`` with a leading single quote when a spreadsheet would read it as a formula, else unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
