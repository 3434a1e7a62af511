"""Benchmark the emulator: start-up time and memory with N meetings, and pages served per second.

Runs the emulator as a separate process (``python -m connector.emulator``, one core, rate limits
off) and drives it from here with aiohttp. Usage::

    python bench/emulator_bench.py [--meetings 1000000] [--pages 400] [--concurrency 8] [--prerender]

``--prerender`` starts the emulator with ``--prerender`` (every meeting rendered at start-up).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

TOKEN = "emulator-token"


def _rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    now = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    return now, peak


async def _walk(session: aiohttp.ClientSession, url: str, params: dict[str, str], pages: int) -> int:
    """Follow cursors for up to ``pages`` pages; returns the number of pages fetched."""
    cursor, n = None, 0
    while n < pages:
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        async with session.get(url + "/v2/meetings", params=q) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.read()
        n += 1
        # only the tail is parsed, so that the client costs little next to the server
        tail = body[body.rfind(b'"pagination"') :]
        if tail.endswith(b"null}}"):
            break
        cursor = tail.split(b'"')[-2].decode()
    return n


def _spread(params: dict[str, str], k: int) -> dict[str, str]:
    """Walker k starts at its own month, so that no two walkers read the same (cached) pages."""
    if params.get("ends_from") != "spread":
        return params
    return params | {"ends_from": f"{2024 + k // 12}-{k % 12 + 1:02d}-01T00:00:00Z"}


async def _rate(url: str, params: dict[str, str], pages: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        started = time.perf_counter()
        counts = await asyncio.gather(
            *(_walk(session, url, _spread(params, k), pages // concurrency) for k in range(concurrency))
        )
        return sum(counts) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prerender", action="store_true", help="start the emulator with --prerender")
    args = parser.parse_args()
    cmd = [
        sys.executable,
        "-m",
        "connector.emulator",
        "--port",
        "0",
        "--meetings",
        str(args.meetings),
        "--read-rate",
        "0",
        "--write-rate",
        "0",
        *(["--prerender"] if args.prerender else []),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"}
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        startup = time.perf_counter() - started
        url = re.search(r"(http://\S+)", line).group(1)  # type: ignore[union-attr]
        rss, peak = _rss_mb(proc.pid)
        print(
            f"meetings={args.meetings:,} prerender={args.prerender} startup={startup:.1f}s (incl. interpreter+imports) "
            f"rss={rss:.0f}MB peak={peak:.0f}MB"
        )
        cases = {
            "ends_from only, limit=50 (cold: rendered)": {"limit": "50", "ends_from": "spread"},
            "ends_from only, limit=200 (cold: rendered)": {
                "limit": "200",
                "ends_from": "spread",
                "timezone": "Asia/Tokyo",
            },
            "unfiltered limit=50 (walkers share pages)": {"limit": "50"},
            "unfiltered limit=50 (again: cached bytes)": {"limit": "50"},
            "window 2025 Q2, tz=America/New_York, limit=50": {
                "ends_from": "2025-04-01T00:00:00Z",
                "starts_before": "2025-07-01T00:00:00Z",
                "timezone": "America/New_York",
                "limit": "50",
            },
            "participants=2 emails, limit=50": {
                "participants": "alice.smith@acme.com,bob.garcia@gmail.com",
                "limit": "50",
            },
        }
        for name, params in cases.items():
            rate = asyncio.run(_rate(url, params, args.pages, args.concurrency))
            print(f"{name:<50} {rate:8.0f} pages/s")
        _, peak = _rss_mb(proc.pid)
        print(f"peak rss after the run={peak:.0f}MB")
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
