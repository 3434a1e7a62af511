"""Shared by the orchestrator tests: brute-force window selection over the emulator's store, and an import file.

Only ``connector`` is imported here: this file is collected in every venv, with or without an extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

# Two good rows, and orch-3 without a title: rejected by the loader before anything is sent.
IMPORT_CSV = """external_ref,title,start,end,timezone,participants
orch-1,Kickoff,2024-03-05 09:00,2024-03-05 10:00,Europe/London,ann@example.com;bob@example.com
orch-2,Review,2024-03-05 14:00,2024-03-05 14:30,Europe/London,ann@example.com
orch-3,,2024-03-05 15:00,2024-03-05 16:00,Europe/London,bob@example.com
"""


def _instant(moment: dict[str, Any], tz: ZoneInfo) -> datetime:
    """A start/end as the API's time filters judge it: all-day dates at local midnight of the query's zone."""
    if moment.get("datetime"):
        return datetime.fromisoformat(moment["datetime"].replace("Z", "+00:00"))
    day = date.fromisoformat(moment["date"])
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def meeting_ids_in_window(
    meetings: Iterable[dict[str, Any]], ends_from: datetime, starts_before: datetime, tz: str = "UTC"
) -> set[str]:
    """IDs of the meetings that end at/after ``ends_from`` and start before ``starts_before`` (the contract)."""
    zone = ZoneInfo(tz)
    return {
        m["id"]["meeting_id"]
        for m in meetings
        if _instant(m["start"], zone) < starts_before and _instant(m["end"], zone) >= ends_from
    }


def meeting_ids_starting_in(
    meetings: Iterable[dict[str, Any]], ends_from: datetime, starts_before: datetime, tz: str = "UTC"
) -> set[str]:
    """IDs of the meetings that start in ``[ends_from, starts_before)`` (``window="start"``)."""
    zone = ZoneInfo(tz)
    return {
        m["id"]["meeting_id"] for m in meetings if ends_from <= _instant(m["start"], zone) < starts_before
    }


def busiest_day(meetings: Iterable[dict[str, Any]]) -> date:
    """The UTC day that the most meetings overlap, so a one-day window is never trivially empty."""
    best: dict[date, int] = {}
    utc = ZoneInfo("UTC")
    for m in meetings:
        day = _instant(m["start"], utc).date()
        best[day] = best.get(day, 0) + 1
    return max(best, key=lambda d: (best[d], d))


@pytest.fixture
def in_window() -> Callable[..., set[str]]:
    return meeting_ids_in_window


@pytest.fixture
def starting_in() -> Callable[..., set[str]]:
    return meeting_ids_starting_in


@pytest.fixture
def busiest() -> Callable[[Iterable[dict[str, Any]]], date]:
    return busiest_day


# Two good rows, then a quote that never closes: the input breaks part-way after rows were sent.
BROKEN_CSV = """external_ref,title,start,end,timezone,participants
orch-1,Kickoff,2024-03-05 09:00,2024-03-05 10:00,Europe/London,ann@example.com;bob@example.com
orch-2,Review,2024-03-05 14:00,2024-03-05 14:30,Europe/London,ann@example.com
orch-3,"Never closed,2024-03-05 15:00,2024-03-05 16:00,Europe/London,bob@example.com
orch-4,Later,2024-03-05 17:00,2024-03-05 18:00,Europe/London,bob@example.com
"""


@pytest.fixture
def broken_csv(tmp_path: Path) -> Path:
    path = tmp_path / "broken" / "meetings.csv"
    path.parent.mkdir()
    path.write_text(BROKEN_CSV, encoding="utf-8")
    return path


@pytest.fixture
def import_csv(tmp_path: Path) -> Path:
    path = tmp_path / "import" / "meetings.csv"
    path.parent.mkdir()
    path.write_text(IMPORT_CSV, encoding="utf-8")
    return path


def served_recordings(raw: Any, meeting_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The call recordings of ``meeting_ids`` as the emulator's GET answers them (transcript inline), found
    the only way Attio allows: list each meeting's recordings over HTTP, then GET each one."""
    out = []
    for meeting_id in meeting_ids:
        base = f"/v2/meetings/{meeting_id}/call_recordings"
        for rec in raw.list_all(base, limit=200):
            resp = raw.get(f"{base}/{rec['id']['call_recording_id']}")
            assert resp.status == 200, resp.body
            out.append(resp.json()["data"])
    return out


@pytest.fixture(name="served_recordings")
def served_recordings_fixture() -> Callable[..., list[dict[str, Any]]]:
    return served_recordings
