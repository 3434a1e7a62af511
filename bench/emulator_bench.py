"""Benchmark the emulator: start-up at N meetings, cold pages per second on one core, page time at 10k vs N.

Runs ``python -m connector emulator`` (rate limits off) as a separate process pinned to one core, and
drives it from here with aiohttp (pinned to the other cores when there are any). Figures that must hold
on a machine shared with other work are taken from the emulator's own CPU time (``/proc/PID/stat``),
which other processes do not inflate; wall-clock figures are printed beside them. Each measurement is
repeated ``--reps`` times, each time in a fresh emulator (so that every page is cold: served for the
first time, not pre-rendered), and the median is printed.

1. Start-up: seconds from ``Popen`` until the emulator prints its URL (interpreter and imports included),
   and the CPU seconds it used for that; RSS once listening.
2. Cold pages of 200 on one core: 8 walkers, each following cursors from its own month (no page served
   twice); pages per CPU second of the emulator, and pages per wall second.
3. Page time at ``--small`` vs ``--meetings``: one walker, 25 cold pages of 200 from an ``ends_from``;
   CPU ms per page. (Each fresh emulator first serves one page far from every measured walk, so that
   a new process's one-time costs are not counted.)
4. CPU per meeting served over HTTP: what the emulator spends per meeting a client receives (request
   parsing, the pipeline, the page, the rendering and the write), with 8 walkers reading one-month
   windows (``ends_from`` and ``starts_before``, as a sliced extract asks) in pages of 200; once without
   latency or limit, once as Attio (``--latency-ms 150 --read-rate 100``, the path the extract's
   ceiling is measured on). The meetings are counted in the bodies received.
5. The older table of cases (warm pages, filters), wall-clock pages/s, on the last emulator.

Usage::

    python bench/emulator_bench.py [--meetings 1000000] [--small 10000] [--reps 3] [--prerender]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "emulator-token"
LIMIT = "200"
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a process so far, summed over its threads (nanosecond schedstat, else ticks)."""
    try:
        return (
            sum(int(Path(t, "schedstat").read_text().split()[0]) for t in Path(f"/proc/{pid}/task").iterdir())
            / 1e9
        )
    except (OSError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK


def _rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    now = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    return now, peak


def _cores() -> tuple[set[int], set[int]]:
    """(the emulator's core, the client's cores)."""
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[-1]}, set(cpus[:-1]) or {cpus[-1]}


@dataclass
class Running:
    url: str
    pid: int
    startup_s: float
    startup_cpu_s: float
    rss_mb: float


@contextmanager
def emulator(
    meetings: int, prerender: bool, latency_ms: float = 0, read_rate: float = 0
) -> Iterator[Running]:
    """``python -m connector emulator`` pinned to one core; yields once it listens."""
    cmd = [
        sys.executable, "-m", "connector", "emulator", "--port", "0", "--meetings", str(meetings),
        "--read-rate", str(read_rate), "--write-rate", "0", "--latency-ms", str(latency_ms),
        *(["--prerender"] if prerender else []),
    ]  # fmt: skip
    core, _ = _cores()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: os.sched_setaffinity(0, core),
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        startup = time.perf_counter() - started
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise SystemExit(f"the emulator did not start: {line!r}")
        yield Running(match.group(1), proc.pid, startup, _cpu_seconds(proc.pid), _rss_mb(proc.pid)[0])
    finally:
        proc.terminate()
        proc.wait()


async def _walk(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], pages: int, served: list[int]
) -> int:
    """Follow cursors for up to ``pages`` pages; returns the number of pages fetched (meetings: ``served``)."""
    cursor, n = None, 0
    while n < pages:
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        async with session.get(url + "/v2/meetings", params=q) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.read()
        n += 1
        served.append(body.count(b'"meeting_id"'))
        # only the tail is parsed, so that the client costs little next to the server
        tail = body[body.rfind(b'"pagination"') :]
        if tail.endswith(b"null}}"):
            break
        cursor = tail.split(b'"')[-2].decode()
    return n


def _month(k: int) -> str:
    return f"{2024 + k // 12}-{k % 12 + 1:02d}-01T00:00:00Z"


def _spread(params: dict[str, str], k: int) -> dict[str, str]:
    """Walker k starts at its own month of 2025, so that no two walkers read the same (cached) pages."""
    if params.get("ends_from") != "spread":
        return params
    return params | {"ends_from": _month(12 + k)}


async def _run(url: str, walkers: list[dict[str, str]], pages_each: int, served: list[int]) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=len(walkers))
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        counts = await asyncio.gather(*(_walk(session, url, w, pages_each, served) for w in walkers))
    return sum(counts)


def measure(
    emu: Running, walkers: list[dict[str, str]], pages_each: int, served: list[int] | None = None
) -> tuple[int, float, float]:
    """(pages, wall seconds, emulator CPU seconds) of one run of the walkers; meetings go to ``served``."""
    cpu, started = _cpu_seconds(emu.pid), time.perf_counter()
    pages = asyncio.run(_run(emu.url, walkers, pages_each, [] if served is None else served))
    return pages, time.perf_counter() - started, _cpu_seconds(emu.pid) - cpu


def served_us(
    meetings: int, prerender: bool, walkers: int, pages_each: int, latency_ms: float, rate: float
) -> float:
    """The emulator's CPU µs per meeting served over HTTP: ``walkers`` one-month windows, pages of 200."""
    windows = [
        {"limit": LIMIT, "ends_from": _month(12 + k), "starts_before": _month(13 + k)} for k in range(walkers)
    ]
    with emulator(meetings, prerender, latency_ms, rate) as emu:
        measure(emu, [{"limit": LIMIT, "ends_from": "2026-11-01T00:00:00Z"}], 1)
        served: list[int] = []
        _, _, cpu = measure(emu, windows, pages_each, served)
    return cpu / max(sum(served), 1) * 1e6


def _rate(url: str, params: dict[str, str], pages: int, concurrency: int) -> float:
    started = time.perf_counter()
    n = asyncio.run(_run(url, [_spread(params, k) for k in range(concurrency)], pages // concurrency, []))
    return n / (time.perf_counter() - started)


CASES = {
    "ends_from only, limit=50 (cold: rendered)": {"limit": "50", "ends_from": "spread"},
    "ends_from only, limit=200, tz=Asia/Tokyo (cold)": {
        "limit": "200",
        "ends_from": "spread",
        "timezone": "Asia/Tokyo",
    },
    "unfiltered limit=50 (walkers share pages)": {"limit": "50"},
    "unfiltered limit=50 (again: the same pages)": {"limit": "50"},
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument(
        "--small", type=int, default=10_000, help="the small data set of the page-time comparison"
    )
    parser.add_argument("--reps", type=int, default=5, help="fresh emulators per measurement (median)")
    parser.add_argument("--walkers", type=int, default=8, help="concurrent cold walkers")
    parser.add_argument("--walk-pages", type=int, default=25, help="cold pages of 200 per walker")
    parser.add_argument("--pages", type=int, default=400, help="pages per case of the older table")
    parser.add_argument("--concurrency", type=int, default=8, help="walkers per case of the older table")
    parser.add_argument("--prerender", action="store_true", help="start the emulator with --prerender")
    args = parser.parse_args()
    core, client = _cores()
    os.sched_setaffinity(0, client)
    print(
        f"emulator pinned to core {sorted(core)}, client on {sorted(client)}; medians of {args.reps} fresh "
        f"emulators; prerender={args.prerender}; load average {os.getloadavg()[0]:.1f}"
    )

    cold = [{"limit": LIMIT, "ends_from": _month(k)} for k in range(args.walkers)]
    single = [{"limit": LIMIT, "ends_from": "2026-06-01T00:00:00Z"}]
    # one page far from every measured walk, so that one-time costs of a fresh process (first request,
    # lazily built tables) are not counted as page time
    warm_up = [{"limit": LIMIT, "ends_from": "2026-11-01T00:00:00Z"}]
    starts, start_cpus, rsss, cold_cpu, cold_wall, big_ms, small_ms = [], [], [], [], [], [], []
    served_fast, served_attio = [], []
    for rep in range(args.reps):
        with emulator(args.meetings, args.prerender) as emu:
            starts.append(emu.startup_s)
            start_cpus.append(emu.startup_cpu_s)
            rsss.append(emu.rss_mb)
            measure(emu, warm_up, 1)
            pages, wall, cpu = measure(emu, cold, args.walk_pages)
            cold_cpu.append(pages / cpu)
            cold_wall.append(pages / wall)
            pages, wall, cpu = measure(emu, single, args.walk_pages)
            big_ms.append(1000 * cpu / pages)
            if rep == args.reps - 1:
                print(f"\nolder table ({args.meetings:,} meetings; wall clock, client on the same machine):")
                for name, params in CASES.items():
                    rate = _rate(emu.url, params, args.pages, args.concurrency)
                    print(f"  {name:<50} {rate:8.0f} pages/s")
                print(f"  peak rss after the run={_rss_mb(emu.pid)[1]:.0f}MB")
        with emulator(args.small, args.prerender) as emu:
            measure(emu, warm_up, 1)
            pages, wall, cpu = measure(emu, [{"limit": LIMIT, "ends_from": _month(0)}], args.walk_pages)
            small_ms.append(1000 * cpu / pages)
        served_fast.append(served_us(args.meetings, args.prerender, args.walkers, args.walk_pages, 0, 0))
        served_attio.append(served_us(args.meetings, args.prerender, args.walkers, args.walk_pages, 150, 100))

    med = statistics.median
    print(f"\nresults (median of {args.reps}; all runs in brackets):")
    print(
        f"  start-up at {args.meetings:,} meetings: {med(starts):.2f} s wall, {med(start_cpus):.2f} s CPU, "
        f"rss {med(rsss):.0f} MB  [{', '.join(f'{s:.2f}' for s in starts)} s]"
    )
    print(
        f"  cold pages of 200, one core: {med(cold_cpu):.0f} pages per CPU second, "
        f"{med(cold_wall):.0f} pages per wall second  [{', '.join(f'{r:.0f}' for r in cold_cpu)}]"
    )
    print(
        f"  cold page of 200: {med(small_ms):.2f} ms CPU at {args.small:,} meetings, {med(big_ms):.2f} ms at "
        f"{args.meetings:,}  [{', '.join(f'{r:.2f}' for r in small_ms)} | {', '.join(f'{r:.2f}' for r in big_ms)}]"
    )
    print(
        f"  served over HTTP, pages of 200 in one-month windows: {med(served_fast):.1f} µs CPU per meeting "
        f"without latency or limit, {med(served_attio):.1f} µs at 150 ms and 100 reads/s  "
        f"[{', '.join(f'{r:.1f}' for r in served_fast)} | {', '.join(f'{r:.1f}' for r in served_attio)}]"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
