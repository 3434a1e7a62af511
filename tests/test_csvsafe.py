"""connector.csvsafe: cells a spreadsheet would run as formulas get a leading quote; nothing else changes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from connector.csvsafe import neutralise_array, neutralise_cell

CASES = [
    pytest.param('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="equals"),
    pytest.param("+1 call", "'+1 call", id="plus"),
    pytest.param("-3", "'-3", id="minus-text"),
    pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
    pytest.param("\t=1", "'\t=1", id="tab"),
    pytest.param("\r=1", "'\r=1", id="carriage-return"),
    pytest.param("Weekly sync", "Weekly sync", id="plain"),
    pytest.param("a=b", "a=b", id="equals-inside"),
    pytest.param("", "", id="empty"),
    pytest.param("'=already", "'=already", id="quoted"),
    pytest.param("  =padded", "  =padded", id="leading-space"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_cell(text: str, expected: str) -> None:
    assert neutralise_cell(text) == expected


@pytest.mark.parametrize("type_", [pa.string(), pa.large_string()], ids=["string", "large_string"])
def test_array_agrees_with_the_cell_function(type_: pa.DataType) -> None:
    texts = [p.values[0] for p in CASES]
    values = pa.array([*texts, None], type_)
    out = neutralise_array(values)
    assert out.type == type_
    assert out.to_pylist() == [*(neutralise_cell(t) for t in texts), None]
    chunked = neutralise_array(pa.chunked_array([values, values]))
    assert chunked.to_pylist() == out.to_pylist() * 2


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(pa.array([-3, 4]), id="negative-int"),
        pytest.param(pa.array([-1.5]), id="negative-float"),
        pytest.param(pa.array([True, None]), id="bool"),
        pytest.param(pa.array(["ok", None]), id="no-risky-text"),
    ],
)
def test_arrays_without_formulas_come_back_unchanged(values: pa.Array) -> None:
    assert neutralise_array(values) is values
