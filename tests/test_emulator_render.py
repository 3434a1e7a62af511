"""The batched renderer: byte for byte what ``orjson.dumps(SeedData.render(i))`` gives, cold or warm."""

from __future__ import annotations

import orjson
import pytest

from connector.emulator import EmulatorConfig
from connector.emulator.runner import add_arguments, config_from_args
from connector.emulator.seed import generate
from connector.emulator.store import MeetingStore


@pytest.mark.parametrize("seed", [0, 7])
def test_batched_render_equals_the_reference_render(seed: int) -> None:
    s = generate(6000, seed, 'ws-"é')
    rows = list(range(s.n))
    fast = [b for k in range(0, s.n, 200) for b in s.render_bytes(rows[k : k + 200])]
    assert fast == [orjson.dumps(s.render(i)) for i in rows]
    assert s.render_bytes([]) == [] and s.render_bytes([5]) == [fast[5]]


def test_a_page_rendered_cold_equals_the_same_page_warm_and_prerendered() -> None:
    ws = EmulatorConfig(seed=3).workspace_id
    cold = MeetingStore(3000, 3, ws)
    rows = cold.all.rows[1000:1200]
    first = cold.meetings_bytes(rows)
    assert cold.meetings_bytes(rows) == first  # warm: from the cache
    assert [cold.meeting_bytes(r) for r in rows] == first
    pre = MeetingStore(3000, 3, ws)
    pre.prerender()
    assert pre.meetings_bytes(rows) == first
    assert pre.all_meetings() == cold.all_meetings()


def test_prerender_flag() -> None:
    parser = add_arguments(__import__("argparse").ArgumentParser())
    assert config_from_args(parser.parse_args(["--prerender"])).prerender is True
    assert config_from_args(parser.parse_args([])).prerender is False


def test_prerendered_emulator_serves_created_meetings_too(make_emulator, make_raw) -> None:
    emu = make_emulator(prerender=True)
    raw = make_raw(emu)
    body = {
        "data": {
            "title": "Holiday",
            "description": "",
            "is_all_day": True,
            "start": {"date": "2025-01-02"},
            "end": {"date": "2025-01-03"},
            "participants": [
                {"email_address": "hol@example.com", "is_organizer": True, "status": "accepted"}
            ],
            "external_ref": "r1",
        }
    }
    assert raw.post(body).status == 200
    got = raw.list_all(limit=200)
    assert len(got) == 301
    assert got == emu.emulator.store.all_meetings()
