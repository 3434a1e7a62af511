"""Helpers of the sync tests: an input of meetings that changes between exports, and the emulator's oracle."""

from __future__ import annotations

import csv
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HEADER = [
    "external_ref",
    "title",
    "start",
    "end",
    "participants",
    "organizer",
    "description",
    "linked_records",
]


def link(kind: str, n: int) -> str:
    """``object:record_id`` of a made-up record (stable per kind and n)."""
    return f"{kind}:{uuid.uuid5(uuid.NAMESPACE_OID, f'{kind}-{n}')}"


def export(
    n: int,
    *,
    changed: dict[int, str] | None = None,
    removed: set[int] | frozenset[int] = frozenset(),
    new: int = 0,
) -> list[list[str]]:
    """An export of rows 0..n-1 (less ``removed``) plus ``new`` rows after them; ``changed[i]`` says how row i
    differs from the first export: ``links`` (a company linked besides its deal),
    ``unlink`` (its links dropped), ``title``, ``start`` or ``participants``."""
    changed = changed or {}
    base = datetime(2031, 5, 4, 8, 0)
    out = []
    for i in [*range(n), *range(n, n + new)]:
        if i in removed:
            continue
        start = base + timedelta(hours=2 * i)
        title, people, links = f"Sync {i}", f"p{i}@example.org", link("deals", i)
        how = changed.get(i)
        if how == "links":
            links = f"{link('deals', i)};{link('companies', i)}"
        elif how == "unlink":
            links = ""
        elif how == "title":
            title = f"Sync {i} (moved)"
        elif how == "start":
            start += timedelta(minutes=30)
        elif how == "participants":
            people += ";q@example.org"
        end = start + timedelta(minutes=45)
        out.append(
            [
                f"s-{i}",
                title,
                start.isoformat() + "Z",
                end.isoformat() + "Z",
                people,
                "host@acme.com",
                f"about {i}",
                links,
            ]
        )
    return out


def write(path: Path, data: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *data])
    return path


def _instant(moment: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(moment["datetime"].replace("Z", "+00:00"))


def assert_attio_matches(emu: Any, data: list[list[str]]) -> None:
    """The emulator holds exactly one meeting per row, with the row's content (and its links, no dropped ones)."""
    live = [m for m in emu.emulator.store.all_meetings() if m["title"].startswith("Sync ")]
    by_title: dict[str, list[dict[str, Any]]] = {}
    for meeting in live:
        by_title.setdefault(meeting["title"], []).append(meeting)
    assert sorted(by_title) == sorted(r[1] for r in data), "meetings do not match the rows one to one"
    for ref, title, start, end, people, organizer, description, links in data:
        (meeting,) = by_title[title]
        assert _instant(meeting["start"]) == datetime.fromisoformat(start.replace("Z", "+00:00")), ref
        assert _instant(meeting["end"]) == datetime.fromisoformat(end.replace("Z", "+00:00")), ref
        assert meeting["description"] == description, ref
        emails = {p["email_address"] for p in meeting["participants"]}
        assert emails == {*people.split(";"), organizer}, ref
        have = {f"{lr['object_slug']}:{lr['record_id']}" for lr in meeting["linked_records"]}
        want = set(filter(None, links.split(";")))
        assert want <= have, ref
        extra = {h for h in have if not h.startswith("people:")} - want
        assert not extra, f"{ref}: links the row dropped are still there: {extra}"
