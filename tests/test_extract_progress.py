"""Progress of an extract: the covered share of the time range, by hand-made windows and through real runs."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from extract_helpers import client_config

from connector import AttioClient, MeetingQuery
from connector.extract import CallableSink, ExtractConfig, ExtractProgress, ParquetSink, extract
from connector.extract.checkpoint import WindowState, default_checkpoint_path
from connector.extract.progress import BELOW_ONE, Reach, covered_fraction
from connector.extract.slices import WINDOWS_PER_SLICE, Window, to_key

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = 86_400 * 1000


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def ms(days: float) -> int:
    return to_key(at(days)) or 0


def window(index: int, lo: float | None, hi: float | None, *, keep_before: float | None = None) -> Window:
    """A window keeping starts in [lo, hi) days after T0 (None: open), as slices.split_windows makes them."""
    return Window(index, None if lo is None else at(lo), None if hi is None else at(hi), None if lo is None else at(lo),
                  None if keep_before is None else at(keep_before))


def fraction(*windows: tuple[Window, Reach], descending: bool = False, span: tuple[float, float] | None = None) -> float:
    return covered_fraction(windows, descending=descending, span=None if span is None else (ms(span[0]), ms(span[1])))


# ------------------------------------------------------------------------------------------ the pure function
def test_fresh_windows_have_covered_nothing() -> None:
    assert fraction((window(0, 0, 10), Reach()), (window(1, 10, 20), Reach())) == 0.0


@pytest.mark.parametrize(
    ("descending", "position", "expected"),
    [
        pytest.param(False, 5, 0.5, id="asc-half"),
        pytest.param(False, 2.5, 0.25, id="asc-quarter"),
        pytest.param(True, 5, 0.5, id="desc-half"),
        pytest.param(True, 7.5, 0.25, id="desc-quarter-from-the-end"),
        pytest.param(False, -3, 0.0, id="asc-before-the-window-clamps"),
        pytest.param(True, 12, 0.0, id="desc-after-the-window-clamps"),
    ],
)
def test_one_window_part_way(descending: bool, position: float, expected: float) -> None:
    # one window: rows per second read so far, extrapolated, is the time share whatever the row count
    assert fraction((window(0, 0, 10), Reach(ms(position), rows=40)), descending=descending) == pytest.approx(expected)


def test_time_share_before_any_row_is_read() -> None:
    # a cursor past 5 of 10 days that kept nothing yet (an overlap window's early meetings): time only
    assert fraction((window(0, 0, 10), Reach(ms(5))), (window(1, 10, 20), Reach())) == pytest.approx(0.25)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_a_split_changes_nothing(descending: bool) -> None:
    """[0, 20) read to day 5 (asc) / day 15 (desc) is as far as the running half plus the fresh half of its split."""
    position = ms(15 if descending else 5)
    whole = fraction((window(0, 0, 20), Reach(position, rows=50)), descending=descending)
    if descending:  # the running cursor keeps [10, 20), the new window takes [0, 10)
        halves = ((window(0, 10, 20), Reach(position, rows=50)), (window(1, 0, 10), Reach()))
    else:  # the running cursor keeps [0, 10), the new window takes [10, 20)
        halves = ((window(0, 0, 20, keep_before=10), Reach(position, rows=50)), (window(1, 10, 20), Reach()))
    assert whole == pytest.approx(0.25)
    assert fraction(*halves, descending=descending) == pytest.approx(whole)


def test_done_is_exactly_one_and_nothing_less_is() -> None:
    done = (window(0, 0, 10), Reach(ms(9), rows=10, done=True))
    assert fraction(done, (window(1, 10, 20), Reach(ms(19.9), rows=10, done=True))) == 1.0
    almost = fraction(done, (window(1, 10, 20), Reach(ms(19.999), rows=10)))
    assert almost == BELOW_ONE < 1.0
    assert f"{almost * 100:3.0f}%" == " 99%"  # as the bar rounds it
    assert covered_fraction([]) == 1.0


def test_the_checkpoint_keeps_how_far_a_window_has_read() -> None:
    state = WindowState(window(3, 0, 10), cursor="c", rows=7, pages=1, position=ms(4))
    assert WindowState.from_dict(state.to_dict()) == state
    older = {k: v for k, v in state.to_dict().items() if k != "position_ms"}  # a checkpoint written before positions
    assert WindowState.from_dict(older).position is None


def test_windows_weigh_the_rows_they_hold_not_their_length() -> None:
    sparse = (window(0, 0, 10), Reach(ms(9), rows=10, done=True))
    dense = (window(1, 10, 20), Reach(ms(15), rows=90))  # 90 rows in 5 days: 90 more expected
    assert fraction(sparse, dense) == pytest.approx(100 / 190)  # by time it would be 0.75


def test_a_window_not_started_takes_its_neighbours_density() -> None:
    first = (window(0, 0, 10), Reach(ms(9), rows=10, done=True))  # 1 row a day
    middle = (window(1, 10, 20), Reach())
    last = (window(2, 20, 30), Reach(ms(25), rows=50))  # 10 rows a day
    assert fraction(first, middle, last) == pytest.approx(60 / (10 + (1 + 10) / 2 * 10 + 100))
    assert fraction(first, (window(1, 10, 20), Reach())) == pytest.approx(0.5)  # only a neighbour to the left


def test_open_sides_are_bounded_by_the_probed_range() -> None:
    first, last = window(0, None, 10), window(1, 10, None)
    assert fraction((first, Reach(ms(5), rows=5)), (last, Reach()), span=(0, 20)) == pytest.approx(0.25)
    # no range known: only done windows count
    assert fraction((first, Reach(ms(5), rows=5, done=True)), (last, Reach(ms(15), rows=5))) == 0.5


# ------------------------------------------------------------------------------------ through the library
def check_values(values: list[ExtractProgress], report: Any, *, first: float = 0.0) -> None:
    """Non-decreasing, starting at ``first``, 1.0 exactly at the end and never before, counted as the report counts."""
    covered = [v.covered for v in values]
    assert covered == sorted(covered), "the share went back"
    assert covered[0] == pytest.approx(first)
    assert covered[-1] == 1.0 and max(covered[:-1]) < 1.0
    assert values[-1].rows == report.rows and values[-1].pages == report.pages
    assert len(values) == report.pages + 1  # before the first page, then after every page


@pytest.mark.anyio
@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
@pytest.mark.parametrize(
    ("slices", "bounds"),
    [
        pytest.param(1, {}, id="one-cursor-open-ended"),
        pytest.param(3, {}, id="sliced-open-ended"),
        pytest.param(1, {"ends_from": "2025-01-01", "starts_before": "2025-10-01"}, id="one-cursor-bounded"),
        pytest.param(3, {"ends_from": "2025-01-01"}, id="sliced-half-open"),
    ],
)
async def test_a_run_goes_from_zero_to_exactly_one(emulator: Any, sort: str, slices: int, bounds: dict[str, str]) -> None:
    values: list[ExtractProgress] = []
    pages: list[tuple[int, int]] = []
    query = MeetingQuery(limit=7, sort=sort, **bounds)
    config = ExtractConfig(query=query, slices=slices, on_progress=values.append, progress=lambda r, p: pages.append((r, p)))
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(client, config, CallableSink(lambda batch: None))
    check_values(values, report)
    assert values[1].covered < 0.2, "one page is a small part of the range"
    assert sum(r for r, _ in pages) == report.rows and len(pages) == report.pages  # the older callback, unchanged
    # the range was probed: its first page is the first window's (data), the last meeting the one request more
    assert report.requests == report.pages + 1


@pytest.mark.anyio
async def test_the_range_is_probed_for_one_cursor_only_when_progress_is_asked_for(emulator: Any) -> None:
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=50), slices=1), CallableSink(lambda b: None))
    assert report.requests == report.pages


@pytest.mark.anyio
async def test_splits_keep_it_monotonic(make_emulator: Any, make_raw: Any) -> None:
    emulator = make_emulator(meetings=600, seed=11)  # 2024-2026 evenly: twelve windows of ~10 pages
    # 250 more in November 2026, the last window: its cursor still has ~50 pages to go when the cursors
    # started beside it finish, so a split happens however the machine's load orders the cursors' pages.
    raw = make_raw(emulator)
    for i in range(250):
        start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=2 * i)
        new = {"title": f"Dense {i}", "description": "", "is_all_day": False, "linked_records": [],
               "participants": [{"email_address": "ana@example.org", "is_organizer": True, "status": "accepted"}],
               "start": {"datetime": start.isoformat()}, "end": {"datetime": (start + timedelta(hours=1)).isoformat()}}
        assert raw.post({"data": new}).status == 200
    values: list[ExtractProgress] = []
    async with AttioClient(client_config(emulator)) as client:
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=5), slices=3, on_progress=values.append),
                               CallableSink(lambda batch: None))
    assert report.windows > WINDOWS_PER_SLICE * report.slices, "no window was split"
    check_values(values, report)


class Interrupt(Exception):
    pass


def stop_after(pages: int) -> Any:
    seen = [0]

    def progress(rows: int, n: int) -> None:
        seen[0] += n
        if seen[0] == pages:
            raise Interrupt

    return progress


def share_in_checkpoint(path: Path, descending: bool) -> float | None:
    """The share done by the checkpoint's own account (None when it has no range of starts)."""
    data = json.loads(path.read_text())
    if data["span"] is None:
        return None
    states = [WindowState.from_dict(w) for w in data["windows"]]
    span = (ns_of(data["span"][0]), ns_of(data["span"][1]))
    sort = "start_desc" if descending else "start_asc"
    # each window as it is read (a reversed window of a start_asc query: start_desc)
    reaches = [(s.window, Reach(s.position, s.rows, s.done, s.window.descending(sort))) for s in states]
    return covered_fraction(reaches, span=span, descending=descending)


def ns_of(text: str) -> int:
    return to_key(datetime.fromisoformat(text)) or 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("slices", "sort", "watched"),
    [
        pytest.param(1, "start_asc", True, id="one-cursor"),
        pytest.param(1, "start_asc", False, id="one-cursor-first-run-without-progress"),
        pytest.param(3, "start_asc", True, id="sliced"),
        pytest.param(3, "start_desc", True, id="sliced-desc"),
    ],
)
async def test_a_resumed_run_starts_where_the_checkpoint_is(
    emulator: Any, tmp_path: Path, slices: int, sort: str, watched: bool
) -> None:
    out = tmp_path / "m.parquet"
    query = MeetingQuery(limit=10, sort=sort)
    first: list[ExtractProgress] = []
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(Interrupt):
            await extract(client, ExtractConfig(query=query, slices=slices, batch_size=10, progress=stop_after(12),
                                                on_progress=first.append if watched else None), ParquetSink(out))
        committed = share_in_checkpoint(default_checkpoint_path(out), sort == "start_desc")
        values: list[ExtractProgress] = []
        report = await extract(client, ExtractConfig(query=query, slices=slices, resume=True, on_progress=values.append),
                               ParquetSink(out))
    assert report.resumed_rows > 0 and values[0].rows == report.resumed_rows
    if watched:
        assert committed is not None and 0 < committed < 1.0
        check_values(values, report, first=committed)
    else:  # the checkpoint has no range: the resumed run probes it, and starts from the committed position
        assert committed is None and 0 < values[0].covered < 1.0
        check_values(values, report, first=values[0].covered)
    assert pq.read_metadata(out).num_rows == report.rows == 300


# ------------------------------------------------------------------------------------------------ the bar
class _Stats:
    retries = 2


class _Client:
    stats = _Stats()


def test_the_bar_shows_the_share_eta_rows_and_pages() -> None:
    from tqdm import tqdm

    from connector.cli.extract import BAR_FORMAT, _Progress

    text = io.StringIO()
    bar = tqdm(total=1.0, file=text, bar_format=BAR_FORMAT, desc="extract", ncols=120, mininterval=0, smoothing=0.0)
    render = _Progress(bar, _Client())
    render(ExtractProgress(rows=1_000, pages=0, covered=0.25))  # a resumed run: a quarter done already
    render(ExtractProgress(rows=5_000, pages=20, covered=0.5))
    bar.close()
    shown = text.getvalue().replace("\r", "\n").splitlines()
    assert shown[-1].startswith("extract:  50%|")
    assert "5,000 rows" in shown[-1] and "pages=20" in shown[-1] and "retries=2" in shown[-1] and "rows/s" in shown[-1]
    assert any(line.startswith("extract:  25%|") for line in shown)
    assert bar.initial == 0.25  # the resumed share is not part of the rate behind the ETA


def test_no_bar_means_no_progress_callback_and_no_probe(emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.cli import main

    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    args = ["extract", "--base-url", emulator.url, "--output", str(tmp_path / "m.parquet"), "--slices", "1", "--read-rate", "0",
            "--json"]
    assert main(args) == 0  # stderr is not a terminal here
    assert emulator.emulator.stats.count(method="GET") == 2  # 300 meetings in pages of 200: no probe of the range

