"""Knobs that no other test turns: each one changes what it says it changes (a knob without a test is removed)."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connector import AttioClient, ClientConfig, LoadConfig, RetryPolicy, load_recordings_sync, load_sync
from connector.emulator.runner import add_arguments, config_from_args
from connector.http import _retry_waits
from connector.load.recordings import RecordingsConfig


@pytest.mark.anyio
async def test_user_agent_is_what_attio_sees() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("User-Agent", ""))
        return web.json_response({"data": [], "pagination": {"next_cursor": None}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        for config in (
            ClientConfig(token="t", base_url=url, user_agent="etl-nightly/2.1"),
            ClientConfig(token="t", base_url=url),
        ):
            async with AttioClient(config) as client:
                await client.list_page()
    finally:
        await runner.cleanup()
    assert seen == ["etl-nightly/2.1", ClientConfig().user_agent]


def test_multiplier_grows_the_ceiling_of_each_wait() -> None:
    random.seed(
        20261202
    )  # the waits are drawn at random under a ceiling; the seed makes the draws repeatable

    def waits(policy: RetryPolicy, n: int) -> list[float]:
        gen = _retry_waits(policy)()
        gen.send(None)
        return [gen.send(RuntimeError()) for _ in range(n)]

    flat = RetryPolicy(initial_delay=1.0, multiplier=1.0, max_delay=100.0)
    steep = RetryPolicy(initial_delay=1.0, multiplier=10.0, max_delay=100.0)
    for _ in range(50):
        assert all(w <= 1.0 for w in waits(flat, 4))
        assert all(w <= min(100.0, 10.0**k) for k, w in enumerate(waits(steep, 4)))
    assert max(max(waits(steep, 4)[2:]) for _ in range(50)) > 1.0


def _rejected_rows(path: Path, n: int) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["external_ref", "title", "start", "end", "participants"])
        for i in range(n):  # no title: every row is rejected before anything is sent
            writer.writerow([f"ref-{i}", "", "2031-01-06T09:00:00Z", "2031-01-06T09:30:00Z", "a@b.org"])
    return path


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "load"])
def test_error_sample_caps_the_errors_a_load_report_keeps(
    emulator: Any, tmp_path: Path, dry_run: bool
) -> None:
    source = _rejected_rows(tmp_path / "m.csv", 5)
    client = ClientConfig(token=emulator.token, base_url=emulator.url)
    report = load_sync(source, LoadConfig(dry_run=dry_run, error_sample=2), client_config=client)
    assert report.rejected == 5 and len(report.errors) == 2
    again = load_sync(source, LoadConfig(dry_run=dry_run, error_sample=20), client_config=client)
    assert again.rejected == 5 and len(again.errors) == 5


def test_error_sample_caps_the_errors_a_recordings_report_keeps(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    rows = [["file", "meeting_id"]]
    for i in range(4):  # a cue that ends before it starts: rejected while reading, before any request
        (folder / f"bad-{i}.srt").write_text("1\n00:00:05,000 --> 00:00:01,000\nA: b\n", encoding="utf-8")
        rows.append([f"bad-{i}.srt", f"0f0f0f0f-0000-4000-8000-00000000000{i}"])
    with open(tmp_path / "sidecar.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    mapping = tmp_path / "recordings.toml"
    mapping.write_text('[meeting]\nsidecar = "sidecar.csv"\n', encoding="utf-8")
    for sample, kept in ((1, 1), (20, 4)):
        config = RecordingsConfig(mapping=mapping, dry_run=True, error_sample=sample)
        report = load_recordings_sync(folder, config)
        assert (report.rejected, len(report.errors)) == (4, kept)


def test_emulator_flags_set_their_config_fields() -> None:
    args = add_arguments(__import__("argparse").ArgumentParser()).parse_args(
        ["--recording-quota", "3", "--recordings-now", "2030-01-01T00:00:00Z"]
    )
    config = config_from_args(args)
    assert (config.recording_quota, config.recordings_now) == (3, "2030-01-01T00:00:00Z")


def test_only_meetings_that_start_before_recordings_now_have_recordings(make_emulator: Any) -> None:
    def recorded(emu: Any) -> set[str]:
        return {r["id"]["meeting_id"] for r in emu.emulator.call_recordings.store.all_recordings(False)}

    usual = make_emulator(meetings=100)
    store = usual.emulator.store
    starts = {
        m["id"]["meeting_id"]: store.span(store.row_of(m["id"]["meeting_id"]), "UTC")[0]
        for m in store.all_meetings()
    }
    before_usual = sorted(ms for mid, ms in starts.items() if mid in recorded(usual))
    cut = before_usual[len(before_usual) // 2]  # half of the usual recorded meetings start before this
    now = datetime.fromtimestamp(cut / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    earlier = make_emulator(meetings=100, recordings_now=now)
    got = recorded(earlier)
    assert got and all(starts[mid] < earlier.emulator.config.recordings_now_ms for mid in got)
    assert got < recorded(usual), "the same meetings draw recordings; the later ones lose theirs"
