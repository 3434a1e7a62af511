"""Brute force for the extract tests: the emulator's data set filtered and typed in plain Python.

Independent of connector.extract: the time filters and the expected column values are computed
here from the meeting dicts, so that the tests compare two separate implementations.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from connector import ClientConfig, MeetingQuery, RateLimits, RetryPolicy

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=8, initial_delay=0.01, max_delay=0.05, max_time=60)
_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d(?::\d\d)?)$")  # +00:53:28: local mean time


def client_config(emu: Any, **changes: Any) -> ClientConfig:
    values = {
        "token": emu.token,
        "base_url": emu.url,
        "retry": FAST_RETRY,
        "limits": RateLimits(reads_per_second=0, writes_per_second=0, max_in_flight=16),
    } | changes
    return ClientConfig(**values)


def to_ns(text: str) -> int:
    """Epoch ns of an RFC 3339 string, every fraction digit kept."""
    m = _FRACTION.match(text)
    assert m, text
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    frac = int(((m.group(2) or "") + "000000000")[:9])
    return (base - _EPOCH) // timedelta(seconds=1) * 1_000_000_000 + frac


def _midnight_ns(day: str, tz: str) -> int:
    d = date.fromisoformat(day)
    return (datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)) - _EPOCH) // timedelta(seconds=1) * 1_000_000_000


def span_ns(m: dict[str, Any], tz: str) -> tuple[int, int]:
    if m["is_all_day"]:
        return _midnight_ns(m["start"]["date"], tz), _midnight_ns(m["end"]["date"], tz)
    return to_ns(m["start"]["datetime"]), to_ns(m["end"]["datetime"])


def _dt_ns(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000) * 1000


def matches(m: dict[str, Any], q: MeetingQuery) -> bool:
    start, end = span_ns(m, q.timezone)
    ends_from, starts_before = _dt_ns(q.ends_from), _dt_ns(q.starts_before)
    if ends_from is not None and end < ends_from:
        return False
    if starts_before is not None and start >= starts_before:
        return False
    checks = []
    if q.participants:
        wanted = {e.lower() for e in q.participants}
        checks.append(any((p.get("email_address") or "").lower() in wanted for p in m["participants"]))
    if q.linked_record_id:
        checks.append(any(
            r["record_id"] == q.linked_record_id and q.linked_object in (r["object_slug"], r["object_id"])
            for r in m["linked_records"]
        ))
    return any(checks) if checks else True  # Attio ORs participants with the linked record


def brute_force(meetings: list[dict[str, Any]], q: MeetingQuery) -> dict[str, dict[str, Any]]:
    return {m["id"]["meeting_id"]: m for m in meetings if matches(m, q)}


def expected_row(m: dict[str, Any]) -> dict[str, Any]:
    """The row the schema promises for a meeting, with times as epoch ns / dates."""
    s, e = m["start"], m["end"]
    actor = m.get("created_by_actor") or {}
    return {
        "meeting_id": m["id"]["meeting_id"],
        "workspace_id": m["id"]["workspace_id"],
        "title": m["title"],
        "description": m["description"],
        "is_all_day": m["is_all_day"],
        "start_datetime": to_ns(s["datetime"]) if "datetime" in s else None,
        "start_date": date.fromisoformat(s["date"]) if "date" in s else None,
        "start_timezone": s.get("timezone"),
        "end_datetime": to_ns(e["datetime"]) if "datetime" in e else None,
        "end_date": date.fromisoformat(e["date"]) if "date" in e else None,
        "end_timezone": e.get("timezone"),
        "participants": [
            {"email_address": p.get("email_address"), "name": p.get("name"), "is_organizer": p["is_organizer"], "status": p["status"]}
            for p in m["participants"]
        ],
        "linked_records": [
            {"object_slug": r["object_slug"], "object_id": r["object_id"], "record_id": r["record_id"]} for r in m["linked_records"]
        ],
        "created_at": to_ns(m["created_at"]),
        "created_by_actor_type": actor.get("type"),
        "created_by_actor_id": actor.get("id"),
    }


def rows_of(table: pa.Table) -> dict[str, dict[str, Any]]:
    """Table rows keyed by meeting_id, timestamps as epoch ns (exact, no float)."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):  # any unit, as exact Python ints of ns (no int64 limit)
            per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[col.type.unit]
            cols[name] = [None if v is None else v * per_ns for v in col.cast(pa.int64()).to_pylist()]
        else:
            cols[name] = col.to_pylist()
    out = {}
    for i, mid in enumerate(cols["meeting_id"]):
        assert mid not in out, f"meeting {mid} twice"
        out[mid] = {name: values[i] for name, values in cols.items()}
    return out


def assert_table_matches(table: pa.Table, expected: dict[str, dict[str, Any]]) -> None:
    from connector.schema import meeting_arrow_schema

    assert table.schema.remove_metadata() == meeting_arrow_schema().remove_metadata()
    got = rows_of(table)
    assert sorted(got) == sorted(expected)
    for mid, meeting in expected.items():
        assert got[mid] == expected_row(meeting), mid


def some_filters(meetings: list[dict[str, Any]]) -> dict[str, Any]:
    """Real values from the data set: a frequent email, a linked record, a mid-range time."""
    from collections import Counter

    emails = Counter(p["email_address"] for m in meetings for p in m["participants"] if p.get("email_address"))
    (top, _), (second, _) = emails.most_common(2)
    rare = emails.most_common()[-1][0]
    deal = next(r for m in meetings for r in m["linked_records"] if r["object_slug"] == "deals")
    starts = sorted(span_ns(m, "UTC")[0] for m in meetings)
    mid = datetime.fromtimestamp(starts[len(starts) // 2] // 10**9, UTC)
    late = datetime.fromtimestamp(starts[(len(starts) * 3) // 4] // 10**9, UTC)
    return {"top": top, "second": second, "rare": rare, "deal": deal, "mid": mid, "late": late}


def committed_meetings(data: dict[str, Any]) -> int:
    """Meetings a checkpoint's content records as committed."""
    return sum(w["rows"] for w in data["windows"])


def kill_when(
    proc: subprocess.Popen[Any], ready: Callable[[], bool], timeout: float = 150, sig: int = signal.SIGKILL
) -> None:
    """Send ``sig`` (SIGKILL) to ``proc`` as soon as ``ready()`` is true (polled); fails if it exits first or
    ``timeout`` s pass (a guard against a hang, wide enough for a CLI that starts slowly on a loaded machine
    beside three other test workers); returns once it has exited."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():  # another process's progress: nothing to wait on but its files
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "the process ended first"
            assert time.monotonic() < deadline, f"not ready to be killed after {timeout} s"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    assert sig != signal.SIGKILL or proc.returncode == -signal.SIGKILL


def checkpoint_has(checkpoint: Path, rows: int, committed: Any = committed_meetings) -> Callable[[], bool]:
    """A ``ready`` for :func:`kill_when`: the checkpoint records at least ``rows`` committed rows.

    ``committed(checkpoint_content)`` counts them (default: the meetings; a child table's, e.g.)."""

    def ready() -> bool:
        return checkpoint.exists() and committed(json.loads(checkpoint.read_text())) >= rows

    return ready


class Interrupt(Exception):
    """Stands in for a crash or a Ctrl-C in the middle of an extract."""


def stop_after(pages: int, action: Callable[[], object] | None = None) -> Callable[[int, int], None]:
    """A ``progress`` callback that calls ``action`` (default: raise :class:`Interrupt`) after ``pages`` pages."""
    count = {"pages": 0}

    def progress(rows: int, n: int) -> None:
        count["pages"] += n
        if count["pages"] == pages:
            if action is None:
                raise Interrupt("stop")
            action()

    return progress
