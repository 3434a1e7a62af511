"""The human summaries of the extract and load reports count in words that agree with the numbers."""

from __future__ import annotations

import pytest

from connector.extract.report import ExtractReport
from connector.load.config import LoadReport


@pytest.mark.parametrize(
    ("slices", "windows", "line"),
    [
        (1, 1, "slices      1 cursor over 1 time window"),
        (1, 4, "slices      1 cursor over 4 time windows"),
        (8, 32, "slices      8 cursors over 32 time windows"),
    ],
)
def test_the_extract_summary_says_cursor_and_window_in_the_right_number(
    slices: int, windows: int, line: str
) -> None:
    report = ExtractReport(
        rows=5,
        pages=1,
        requests=1,
        retries=0,
        rate_limited=0,
        seconds=1.0,
        output="m.parquet",
        slices=slices,
        windows=windows,
    )
    assert line in report.format().splitlines()


@pytest.mark.parametrize(
    ("deleted", "words"), [(0, "0 meetings deleted"), (1, "1 meeting deleted"), (2, "2 meetings deleted")]
)
def test_the_sync_summary_says_meeting_in_the_right_number(deleted: int, words: str) -> None:
    summary = LoadReport(rows=3, deleted=deleted, sync=True).format().splitlines()[0]
    assert summary.endswith(f"skipped; {words}"), summary
