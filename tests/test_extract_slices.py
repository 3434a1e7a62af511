"""Time slicing: every meeting exactly once, also at window edges, for equal starts and all-day meetings."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from extract_helpers import brute_force, client_config

from connector import AttioClient, MeetingQuery
from connector.config import RateLimits
from connector.emulator import EmulatorThread
from connector.extract import ExtractConfig, extract_table
from connector.extract.checkpoint import Checkpoint, WindowState
from connector.extract.run import ExtractRun
from connector.extract.slices import (
    FIRST_ROUND_RAMP,
    MIN_WINDOW_PAGES,
    ROUND_SHARES,
    WINDOWS_PER_SLICE,
    Window,
    auto_slices,
    busy_cursors,
    discover_range,
    reversed_windows,
    round_weights,
    split_windows,
)

pytestmark = pytest.mark.anyio

EDGE = datetime(2027, 3, 1, tzinfo=UTC)
ZONES = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def _timed(ref: str, start: datetime, minutes: int, tz: str = "UTC") -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {
        "title": ref,
        "description": "",
        "is_all_day": False,
        "external_ref": ref,
        "start": {"datetime": start.isoformat(), "timezone": tz},
        "end": {"datetime": end.isoformat(), "timezone": tz},
        "participants": [{"email_address": "edge@example.com", "is_organizer": True, "status": "accepted"}],
    }


def _all_day(ref: str, day: str, days: int = 1) -> dict[str, Any]:
    start = datetime.fromisoformat(day)
    return {
        "title": ref,
        "description": "",
        "is_all_day": True,
        "external_ref": ref,
        "start": {"date": day},
        "end": {"date": (start + timedelta(days=days)).date().isoformat()},
        "participants": [{"email_address": "edge@example.com", "is_organizer": True, "status": "accepted"}],
    }


def edge_meetings() -> list[dict[str, Any]]:
    out = [_timed(f"same-{i}", EDGE, 30) for i in range(6)]  # equal starts, exactly on the edge
    out += [_timed(f"before-{i}", EDGE - timedelta(milliseconds=1), 30) for i in range(3)]
    out += [_timed(f"after-{i}", EDGE + timedelta(milliseconds=1), 30) for i in range(3)]
    out += [
        _timed("crossing", EDGE - timedelta(hours=2), 240),
        _timed("long", EDGE - timedelta(days=10), 60 * 24 * 20),
    ]
    out += [_timed("offset", datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), 60, "Asia/Tokyo")]
    for zone in ZONES:  # meetings starting exactly at each zone's local midnight of the edge day
        local = datetime(2027, 3, 1, tzinfo=ZoneInfo(zone))
        out += [_timed(f"midnight-{zone}-{i}", local, 45) for i in range(2)]
    for day in ("2027-02-27", "2027-02-28", "2027-03-01", "2027-03-02"):
        out += [_all_day(f"allday-{day}-{i}", day, 1 + i) for i in range(3)]
    for d in range(-20, 20, 3):  # background spread
        out.append(_timed(f"spread-{d}", EDGE + timedelta(days=d, hours=d % 7), 50))
    return out


@pytest.fixture(scope="module")
def edge_emulator() -> Iterator[EmulatorThread]:
    """One emulator for the module (read-only after seeding): the edge meetings only."""

    async def seed(emu: EmulatorThread) -> None:
        async with AttioClient(client_config(emu)) as client:
            for body in edge_meetings():
                await client.find_or_create_meeting(body)

    with EmulatorThread(meetings=0, read_rate=0, write_rate=0) as emu:
        anyio.run(seed, emu)
        yield emu


async def _collect(client: AttioClient, query: MeetingQuery, windows: list[Window], slices: int) -> list[str]:
    ids: list[str] = []
    run = ExtractRun(client, ExtractConfig(query=query))
    run.begin(Checkpoint(None, {}, [WindowState(w) for w in windows], slices), slices)
    async for _, batch in run.deliveries():  # (table, batch): meetings only here
        ids += batch.column("meeting_id").to_pylist()
    return ids


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    "bounds",
    [
        pytest.param({}, id="open"),
        pytest.param(
            {"ends_from": EDGE - timedelta(days=3), "starts_before": EDGE + timedelta(days=2)}, id="bounded"
        ),
        pytest.param({"ends_from": EDGE, "starts_before": EDGE + timedelta(hours=30)}, id="from-edge"),
    ],
)
@pytest.mark.parametrize("count", [2, 5, 24])
@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
async def test_windows_hold_every_meeting_exactly_once(
    edge_emulator: Any, zone: str, bounds: dict[str, Any], count: int, reverse: bool
) -> None:
    meetings = edge_emulator.emulator.store.all_meetings()
    query = MeetingQuery(limit=4, timezone=zone, **bounds)
    expected = sorted(brute_force(meetings, query))
    local_edge = datetime(2027, 3, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    async with AttioClient(client_config(edge_emulator)) as client:
        # ranges chosen so that boundaries fall exactly on the UTC edge and on the zone's local midnight
        for lo, hi in (
            (EDGE - timedelta(days=1), EDGE + timedelta(days=1)),
            (local_edge - timedelta(days=2), local_edge + timedelta(days=2)),
        ):
            windows = split_windows(query, lo, hi, count)
            if reverse:  # every window but the first read start_desc, as a planned start_asc run's are
                windows = reversed_windows(windows, query)
                assert sum(w.reverse for w in windows) == len(windows) - 1
            got = await _collect(client, query, windows, slices=3)
            assert sorted(got) == expected, (lo, hi, [w.to_dict() for w in windows])
        table = await extract_table(client, ExtractConfig(query=query, slices=1))
    assert sorted(table.column("meeting_id").to_pylist()) == expected


async def test_a_window_read_from_its_top_does_not_fetch_the_meetings_crossing_its_start() -> None:
    # 60 all-day meetings of 90 days (one a day from 2027-01-01) cross every boundary of the windows below:
    # a window read in start order from its boundary fetches them all first (6 pages of 10), and drops them.
    bodies = [_all_day(f"long-{d}", (date(2027, 1, 1) + timedelta(days=d)).isoformat(), 90) for d in range(60)]
    bodies += [_timed(f"short-{i}", datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=14 * i), 30) for i in range(200)]
    query = MeetingQuery(limit=10)
    with EmulatorThread(meetings=0, read_rate=0, write_rate=0) as emu:
        async with AttioClient(client_config(emu)) as client:
            for body in bodies:
                await client.find_or_create_meeting(body)
            expected = sorted(brute_force(emu.emulator.store.all_meetings(), query))
            windows = split_windows(query, datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 4, 25, tzinfo=UTC), 4)
            wasted = {}
            for name, planned in (("in order", windows), ("reversed", reversed_windows(windows, query))):
                gets = emu.emulator.stats.count(method="GET")
                got = await _collect(client, query, planned, slices=1)
                assert sorted(got) == expected, name
                wasted[name] = emu.emulator.stats.count(method="GET") - gets - -(-len(expected) // query.limit)
    # In order, the boundaries (~Jan 30, Feb 28, Mar 28) are crossed by 29, 58 and 60 long meetings: 3 + 6 + 6
    # pages fetched and dropped. Reversed: at most a partly used page a window.
    assert wasted["reversed"] <= len(windows) < 15 <= wasted["in order"], wasted


async def test_public_sliced_run_on_edges(edge_emulator: Any) -> None:
    meetings = edge_emulator.emulator.store.all_meetings()
    for zone in ZONES:
        query = MeetingQuery(limit=3, timezone=zone, participants=("edge@example.com",))
        async with AttioClient(client_config(edge_emulator)) as client:
            sliced = await extract_table(client, ExtractConfig(query=query, slices=6))
            single = await extract_table(client, ExtractConfig(query=query, slices=1))
        assert sliced.sort_by("meeting_id").equals(single.sort_by("meeting_id"))
        assert sorted(sliced.column("meeting_id").to_pylist()) == sorted(brute_force(meetings, query))


def test_split_windows_shape() -> None:
    q = MeetingQuery(ends_from=EDGE, starts_before=EDGE + timedelta(days=4))
    windows = split_windows(q, EDGE - timedelta(days=100), EDGE + timedelta(days=100), 4)
    assert [w.index for w in windows] == [0, 1, 2, 3]
    assert windows[0].ends_from == EDGE and windows[0].keep_from is None
    assert windows[-1].starts_before == q.starts_before
    for a, b in itertools.pairwise(windows):
        assert a.starts_before == b.ends_from == b.keep_from
        assert b.keep_from.microsecond == 0
    assert split_windows(q, EDGE, EDGE, 8) == [Window(0, q.ends_from, q.starts_before, None)]
    assert Window.from_dict(windows[2].to_dict()) == windows[2]


@pytest.mark.parametrize(
    ("reads", "rtt", "in_flight", "expected"),
    [
        (100, 0.150, 32, 23),
        (90, 0.150, 32, 21),
        (90, 0.002, 32, 1),
        (0, 0.001, 32, 2),
        (100, 1.0, 32, 32),
        (100, 0.3, 8, 8),
    ],
)
def test_auto_slices_fill_the_read_budget(reads: float, rtt: float, in_flight: int, expected: int) -> None:
    assert auto_slices(reads, rtt, in_flight) == expected


def test_rounds_ramp_the_first_and_give_the_later_a_window_per_busy_cursor() -> None:
    weights = round_weights(24, 18, descending=False)
    assert len(weights) == 24 + 18 * (WINDOWS_PER_SLICE - 1)
    first, later = weights[:24], weights[24:]
    assert first == sorted(first) and first[-1] == pytest.approx(FIRST_ROUND_RAMP * first[0]), (
        "they end in output order"
    )
    assert sum(first) == pytest.approx(ROUND_SHARES[0]) and sum(weights) == pytest.approx(1.0)
    assert later[:18] == [pytest.approx(ROUND_SHARES[1] / 18)] * 18 and later[-1] == pytest.approx(
        ROUND_SHARES[-1] / 18
    )
    assert round_weights(24, 18, descending=True) == weights[::-1]
    assert (busy_cursors(24, auto=True), busy_cursors(24, auto=False), busy_cursors(1, auto=True)) == (
        18,
        24,
        1,
    )


def test_an_estimate_of_few_pages_plans_fewer_windows_of_at_least_min_window_pages() -> None:
    pages = 300.0  # 60k meetings at 200 a page
    weights = round_weights(24, 18, descending=False, pages=pages)
    counts = [round(share * pages / MIN_WINDOW_PAGES) for share in ROUND_SHARES]
    assert counts == [30, 5, 2] and len(weights) == 24 + 5 + 2, (
        "the first round: one window per cursor at most"
    )
    assert sum(weights) == pytest.approx(1.0)
    assert len(round_weights(24, 18, descending=False, pages=4.0)) == WINDOWS_PER_SLICE, (
        "at least one a round"
    )
    assert round_weights(24, 18, descending=False, pages=1e9) == round_weights(24, 18, descending=False)


async def test_an_auto_sliced_run_plans_its_later_rounds_for_the_busy_cursors(make_emulator: Any) -> None:
    emu = make_emulator(meetings=10_000, latency_ms=100)
    query = MeetingQuery(
        limit=50
    )  # ~200 pages: windows of at least MIN_WINDOW_PAGES, fewer than a cursor each
    limits = RateLimits(reads_per_second=96, max_in_flight=16)
    async with AttioClient(client_config(emu, limits=limits)) as client:
        run = ExtractRun(client, ExtractConfig(query=query))
        await run.plan()
        # 96 reads/s x >= 0.1 s round trip x 1.5: 15 or 16 cursors; ~1.1 per (rate x round trip) stay busy
        assert run.busy <= run.slices <= 16 and run.busy == min(
            run.slices, busy_cursors(run.slices, auto=True)
        )
        assert run.planned < WINDOWS_PER_SLICE * run.slices, "later rounds: fewer windows than cursors"
        ids = [i async for _, batch in run.deliveries() for i in batch.column("meeting_id").to_pylist()]
    assert sorted(ids) == sorted(brute_force(emu.emulator.store.all_meetings(), query))


@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
@pytest.mark.parametrize(
    ("slices", "bounds"),
    [
        pytest.param(None, {}, id="auto-open"),
        pytest.param(3, {}, id="three-open"),
        pytest.param(3, {"ends_from": datetime(2025, 1, 1, tzinfo=UTC)}, id="three-from"),
        pytest.param(3, {"starts_before": datetime(2025, 6, 1, tzinfo=UTC)}, id="three-before"),
        pytest.param(3, {"ends_from": datetime(2099, 1, 1, tzinfo=UTC)}, id="none-match"),
    ],
)
async def test_the_probes_first_page_is_the_first_windows_first_page(
    emulator: Any, sort: str, slices: int | None, bounds: dict[str, Any]
) -> None:
    query = MeetingQuery(limit=20, sort=sort, **bounds)
    gets = emulator.emulator.stats.count(method="GET")
    async with AttioClient(client_config(emulator)) as client:
        run = ExtractRun(client, ExtractConfig(query=query, slices=slices))
        await run.plan()
        planned = {s.window.index: s.window for s in run.checkpoint.windows}
        first = (
            min(planned.values(), key=lambda w: w.order_key())
            if sort == "start_asc"
            else max(planned.values(), key=lambda w: w.order_key())
        )
        assert (first.ends_from, first.starts_before) == (query.ends_from, query.starts_before), (
            "the first window in output order asks for the whole query, whose first page the probe read"
        )
        if len(planned) > 1:
            assert (first.keep_before if sort == "start_asc" else first.keep_from) is not None
        ids = [i async for _, batch in run.deliveries() for i in batch.column("meeting_id").to_pylist()]
        report = run.report(None, None)
    assert sorted(ids) == sorted(brute_force(emulator.emulator.store.all_meetings(), query))
    assert report.requests == report.pages + 1, (
        "no page fetched twice: one request more, the far end's meeting"
    )
    assert emulator.emulator.stats.count(method="GET") - gets == report.requests


@pytest.mark.parametrize("sort", ["start_asc", "start_desc"])
async def test_the_range_probe_estimates_a_window_from_a_lower_bound(make_emulator: Any, sort: str) -> None:
    # In start order the first page of a query with ends_from begins with the meetings that started days before
    # it and end after it (all-day and long ones): their starts must not stretch the density the estimate uses
    # (it was ~3x low, and a run from the bound planned a third of the cursors its read budget needs).
    emu = make_emulator(meetings=20_000)
    query = MeetingQuery(limit=50, ends_from="2025-03-01", starts_before="2025-09-01", sort=sort)
    meetings = len(brute_force(emu.emulator.store.all_meetings(), query))
    async with AttioClient(client_config(emu)) as client:
        probe = await discover_range(client, query, limit=query.limit)
    assert probe.estimate is not None and 0.7 < probe.estimate / meetings < 1.4, (probe.estimate, meetings)
