"""Benchmark of one rate budget shared by several processes through Redis.

    .venv/bin/python bench/shared_budget.py                 # both parts
    .venv/bin/python bench/shared_budget.py primitives      # limiters only: ours, pyrate-limiter, limits
    .venv/bin/python bench/shared_budget.py extract         # 4 extracts of one workspace, with and without
    .venv/bin/python bench/shared_budget.py cpu             # CPU seconds per meeting of one extract process

Needs ``redis-server`` on the PATH (started here on a free loopback port). ``pyrate-limiter`` and ``limits``
are no dependencies of the project: ``pip install pyrate-limiter 'limits[async-redis]'`` to include them.

primitives  4 processes x 32 tasks ask one budget of 96 grants/s for 8 s, each task holding its grant
            150 ms (a request). Printed per limiter: grants/s together, the most grants in one
            wall-clock second (Attio's count: 100 is the limit), the most in any sliding second, and
            Redis commands per grant (from the server's own counter).
extract     4 ``python -m connector extract`` processes over disjoint windows of one workspace on an
            emulator at 150 ms latency and 100 reads/s: together rows/s against the ceiling (100
            reads/s x 200 meetings = 20k meetings/s), over the wall time from the first start to the
            last exit (the figure issue 14's ">= 0.9 together" is judged on) and over the longest
            extract's own time (Python's start-up left out), requests/s together, the 429s, the requests and how
            many more than full pages would need, rows per request (a full page is the page size) and the cursors and windows the four planned, with
            the shared budget and without it (each process then believes it owns 96 reads/s); the
            cursors are each process's at its end (more than planned once peers have left). Fails
            unless the four outputs hold every seeded meeting once. With the shared budget, a
            timeline of it from Redis' MONITOR: each process's start, connection to Redis, first grant,
            first grant after its range probe, last grant and exit, its plan (cursors / windows, from its
            output's metadata), grants given up (woken too late), grants per quarter second of the whole budget and per
            second of each process, the seconds of budget unused (before the first grant, between,
            after the last) and how late tasks woke for their grants. ``--tree DIR`` runs the
            extracts from another source tree (an A/B against an older commit's ``git archive``). The
            extracts run with compiled modules cached, as bench/extract.py's children (``child_env``).
cpu         one extract process against an emulator without latency or limits: its own user + system
            CPU time (``os.wait4``) per meeting written, the figure the README's "Scaling" sizes with.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import contextlib
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from extract import TOKEN, child_env, emulator  # noqa: E402  (bench/extract.py: an emulator process)
from redis_helpers import RedisServer  # noqa: E402

from connector.ratelimit import LATE_GRANT  # noqa: E402

PYTHON = sys.executable
RATE = 96
PROCESSES = 4
TASKS = 32
HOLD = 0.15


# ------------------------------------------------------------------------------------------ primitives
async def _ours(url: str, stop: float, times: list[float]) -> None:
    from connector.config import RateLimits
    from connector.ratelimit import RateLimiter, RedisBudget

    limiter = RateLimiter(
        RateLimits(reads_per_second=RATE, max_in_flight=TASKS), shared=RedisBudget(url, "bench")
    )
    await limiter.open()

    async def task() -> None:
        while time.time() < stop:
            async with limiter.slot("read"):
                times.append(time.time())
                await asyncio.sleep(HOLD)

    await asyncio.gather(*(task() for _ in range(TASKS)))
    await limiter.aclose()


async def _pyrate(url: str, stop: float, times: list[float], algorithm: str) -> None:
    import redis.asyncio as aioredis
    from pyrate_limiter import GCRA, Duration, Limiter, Rate, RedisBucket, RedisStateStore, StateBucket

    client = aioredis.Redis.from_url(url)
    if algorithm == "gcra":
        bucket: Any = StateBucket(
            [Rate(RATE, Duration.SECOND, burst=1)], GCRA(), RedisStateStore(client, "bench-gcra")
        )
    else:
        bucket = await RedisBucket.init([Rate(RATE, Duration.SECOND)], client, "bench-window")
    limiter = Limiter(bucket)

    async def task() -> None:
        while time.time() < stop:
            await limiter.try_acquire_async("read")
            times.append(time.time())
            await asyncio.sleep(HOLD)

    await asyncio.gather(*(task() for _ in range(TASKS)))
    await client.aclose()


async def _limits(url: str, stop: float, times: list[float]) -> None:
    from limits import RateLimitItemPerSecond
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    storage = RedisStorage(url.replace("redis://", "async+redis://"), implementation="redispy")
    limiter, item = MovingWindowRateLimiter(storage), RateLimitItemPerSecond(RATE)

    async def task() -> None:
        while time.time() < stop:
            while not await limiter.hit(item, "bench"):
                stats = await limiter.get_window_stats(item, "bench")
                await asyncio.sleep(max(0.001, stats.reset_time - time.time()))
            times.append(time.time())
            await asyncio.sleep(HOLD)

    await asyncio.gather(*(task() for _ in range(TASKS)))


def _worker(kind: str, url: str, window: Any, go: Any, out: Any) -> None:
    times: list[float] = []
    # Imports first (seconds on a busy machine), then every process starts at the same moment.
    __import__({"ours": "connector.ratelimit", "limits": "limits.aio.strategies"}.get(kind, "pyrate_limiter"))
    __import__("redis.asyncio")
    out.put("ready")
    go.wait()
    start, stop = window[0], window[1]

    async def run() -> None:
        await asyncio.sleep(max(0.0, start - time.time()))
        if kind == "ours":
            await _ours(url, stop, times)
        elif kind.startswith("pyrate"):
            await _pyrate(url, stop, times, kind.split("-")[1])
        else:
            await _limits(url, stop, times)

    asyncio.run(run())
    out.put(times)


def _commands(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("stats")["total_commands_processed"])


def _most_within(times: list[float], span: float) -> int:
    """The most grants in any half-open window of ``span`` seconds (times sorted)."""
    return max((bisect.bisect_left(times, t + span) - i for i, t in enumerate(times)), default=0)


def primitives(url: str, seconds: float = 8.0) -> list[list[str]]:
    """Each limiter's grants/s, worst wall-clock and sliding second, and Redis commands per grant."""
    rows = []
    for kind in ("ours", "pyrate-gcra", "pyrate-window", "limits"):
        if kind != "ours":
            try:
                __import__("pyrate_limiter" if kind.startswith("pyrate") else "limits")
            except ImportError:
                rows.append([kind, "not installed", "", "", "", "", ""])
                continue
        ctx = multiprocessing.get_context("spawn")
        queue, go, window = ctx.Queue(), ctx.Event(), ctx.Array("d", 2)
        procs = [ctx.Process(target=_worker, args=(kind, url, window, go, queue)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        for _ in procs:
            assert queue.get() == "ready"
        before = _commands(url)
        start = time.time() + 0.5
        stop = start + seconds
        window[0], window[1] = start, stop
        go.set()
        grants = sorted(t for _ in procs for t in queue.get())
        for p in procs:
            p.join()
        commands = _commands(url) - before
        inside = [
            t for t in grants if start + 1 <= t < stop - 1
        ]  # steady state: the first and last second out
        per_second = collections.Counter(math.floor(t) for t in inside)
        sliding, burst = _most_within(inside, 1.0), _most_within(inside, 0.1)
        rows.append(
            [
                kind,
                f"{len(inside) / (seconds - 2):.1f}",
                f"{max(per_second.values(), default=0)}",
                f"{sliding}",
                f"{burst}",
                f"{commands / max(1, len(grants)):.2f}",
                f"{len(grants)}",
            ]
        )
    return rows


# ------------------------------------------------------------------------------------------ extract
# The emulator's meetings fall on local days 2024-01-01 .. 2026-12-31, whose UTC starts reach from
# 2023-12-31 to 2027-01-01 (timed meetings far east or west of UTC): four disjoint quarters of it, the
# first and last open-ended, so that every meeting falls in exactly one (None: no bound).
WINDOWS = [
    (None, "2024-10-01"),
    ("2024-10-01", "2025-07-01"),
    ("2025-07-01", "2026-04-01"),
    ("2026-04-01", None),
]


def _extract_cmd(url: str, output: Path, *flags: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "connector",
        "extract",
        "--output",
        str(output),
        "--base-url",
        url,
        "--json",
        "--quiet",
        *flags,
    ]


class GrantLog:
    """Every read grant of the shared budget, recorded from Redis' ``MONITOR`` (the processes run unchanged).

    Each process connects with its own ``client_name`` (``?client_name=w0`` in its Redis URL); a reservation
    names the process's peer id and the script's ``HSET ... next`` gives the grant's time (``next`` minus the
    interval), on Redis' clock, which on this host is the bench's ``time.time()``. A grant in the future is
    slept for, then confirmed: a process's tasks wake in the order of their grants, so its confirmations,
    in order, tell how late each woke (``lateness``: past :data:`~connector.ratelimit.LATE_GRANT` it gives
    the grant up and queues again).
    """

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=None)  # silent while the processes start
        self._monitor = self._client.monitor()
        self.grants: dict[str, list[float]] = {}  # process name -> grant times, s since the epoch
        self.connected: dict[str, float] = {}  # process name -> its first connection to Redis (its name set)
        self._names: dict[str, str] = {}  # client address -> process name
        self._peers: dict[str, str] = {}  # peer id -> process name
        self.lateness: list[float] = []  # seconds from a slept-for grant to its confirmation
        self.pauses = 0  # of the whole budget, after a 429
        self._sleeping: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        # The reservation whose script runs next: process, interval, peer TTL and Redis' clock (us).
        self._pending: tuple[str, int, int, int] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def __enter__(self) -> GrantLog:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.echo(self.STOP)  # the monitor sees it, and stops
        self._thread.join()
        self._client.close()

    STOP = "connector-bench-grant-log-stop"

    def _listen(self) -> None:
        with self._monitor as monitor:
            self._ready.set()
            for event in monitor.listen():
                if event["command"] == f"ECHO {self.STOP}":
                    return
                self._record(event)

    def _record(self, event: dict[str, Any]) -> None:
        words = event["command"].split()
        where = f"{event['client_address']}:{event['client_port']}"
        if words[:2] == ["CLIENT", "SETNAME"]:
            self._names[where] = words[2]
            self.connected.setdefault(words[2], event["time"])
        elif words[0] == "EVALSHA" and words[2] == "1" and words[3].endswith(":read"):
            self.pauses += 1  # the pause script (KEYS: the budget), after a 429
        elif words[0] == "EVALSHA" and words[2] == "2" and words[3].endswith(":read"):
            peer = words[7]
            name = self._peers.setdefault(peer, self._names.get(where, peer[:8]))
            if words[6] == "reserve":
                self._pending = (name, int(words[5]), int(words[8]), 0)
            elif self._sleeping[name]:
                self.lateness.append(event["time"] - self._sleeping[name].popleft())
        elif event["client_type"] != "lua" or self._pending is None:
            return
        elif words[0] == "ZADD":  # the peer's expiry: Redis' clock in the script plus the TTL
            name, interval, ttl, _ = self._pending
            self._pending = (name, interval, ttl, int(words[2]) - ttl)
        elif words[0] == "HSET":
            name, interval, _, now = self._pending
            self._pending = None
            at = int(words[3]) - interval
            self.grants.setdefault(name, []).append(at / 1e6)
            if at > now:  # the script answered a wait: slept for, then confirmed
                self._sleeping[name].append(at / 1e6)


def timeline(starts: list[float], exits: list[float], log: GrantLog, reports: list[dict[str, Any]]) -> str:
    """Where the wall time went: each process's start, first and last grant and exit; the grants of the whole
    budget per quarter second; and the seconds of budget unused, from the first start to the last exit."""
    grants = log.grants
    t0, end = min(starts), max(exits)
    wall = end - t0
    lines = [
        "timeline, seconds from the first start (connected: to Redis; cursors: the first grant after its range"
        " probe's answer; planned: its cursors / windows as planned; slices: its cursors at its end):"
    ]
    lines.append(
        "  process  start  connected  first grant  cursors  last grant   exit  grants  sent  given up  planned  slices"
    )
    every: list[float] = []
    for i, (start, stop, report) in enumerate(zip(starts, exits, reports, strict=True)):
        mine = sorted(grants.get(f"w{i}", []))
        every += mine
        connected = log.connected.get(f"w{i}")
        joined = f"{connected - t0:9.2f}" if connected is not None else "        -"
        first = f"{mine[0] - t0:11.2f}" if mine else "          -"
        # The probe's two requests are granted together; the cursors' first grant waits for its answer (>= 0.1 s).
        after = [t for t in mine if t >= mine[0] + 0.1] if mine else []
        cursors = f"{after[0] - t0:7.2f}" if after else "      -"
        last = f"{mine[-1] - t0:10.2f}" if mine else "         -"
        sent = report["requests"]
        lines.append(
            f"  w{i:<6} {start - t0:6.2f}  {joined}  {first}  {cursors}  {last}  {stop - t0:5.2f}  {len(mine):6}"
            f"  {sent:4}  {len(mine) - sent:8}  {report['planned']:>7}  {report['slices']:6}"
        )
    every.sort()
    sent = sum(r["requests"] for r in reports)
    quarters = collections.Counter(int((t - t0) / 0.25) for t in every)
    full = RATE / 4
    cells = [quarters.get(q, 0) for q in range(math.ceil(wall / 0.25))]
    lines.append(f"grants per quarter second (full: {full:g}), from the first start:")
    for row in range(0, len(cells), 16):
        chunk = " ".join(f"{c:2}" for c in cells[row : row + 16])
        lines.append(f"  {row / 4:5.1f} s  {chunk}")
    lines.append("each process's grants per second:")
    for i in range(len(starts)):
        seconds = collections.Counter(int(t - t0) for t in grants.get(f"w{i}", []))
        lines.append(f"  w{i}  " + " ".join(f"{seconds.get(k, 0):2}" for k in range(math.ceil(wall))))
    if every:
        head, tail = every[0] - t0, end - every[-1]
        # Between the first grant and the last, the budget is used for (grants - 1) / rate seconds.
        between = max(0.0, (every[-1] - every[0]) - (len(every) - 1) / RATE)
        given_up = len(every) - sent
        lines.append(
            f"budget unused: {wall - sent / RATE:.2f} s of {wall:.2f} s wall ({sent:,} requests sent at {RATE}/s"
            f" fill {sent / RATE:.2f} s): {head:.2f} s before the first grant, {between:.2f} s between the first"
            f" and the last, {tail:.2f} s after the last; {given_up} grants given up (woken late);"
            f" {log.pauses} pauses after a 429"
        )
        lasts = sorted(max(g) for g in grants.values() if g)
        if len(lasts) > 1:
            alone = lasts[-1] - lasts[-2]
            late = [t for t in every if t > lasts[-2]]
            lines.append(
                f"the end: {alone:.2f} s from the second-to-last process's last grant to the last's, "
                f"{len(late)} grants in it ({len(late) / alone if alone else 0:.0f}/s)"
            )
    if log.lateness:
        late = sorted(log.lateness)
        pick = lambda q: late[min(len(late) - 1, int(q * len(late)))] * 1e3  # noqa: E731
        lines.append(
            f"woken after a slept-for grant (to its confirmation, {len(late):,}): median {pick(0.5):.1f} ms,"
            f" 90 % {pick(0.9):.1f} ms, 99 % {pick(0.99):.1f} ms; past {LATE_GRANT * 1e3:g} ms:"
            f" {sum(t > LATE_GRANT for t in late)}"
        )
    return "\n".join(lines)


def extract(
    emu_url: str, redis_url: str | None, workdir: Path, page: int, meetings: int, tree: Path = ROOT
) -> tuple[list[str], str]:
    """4 extracts side by side (run from the source ``tree``); together rows/s over the wall time of the slowest, and the 429s; with the
    shared budget, the timeline of its grants.

    Fails unless the four outputs hold every one of the ``meetings`` seeded, once.
    """
    # Compiled modules cached, as a user's installed process has them (bench/extract.py's child_env): under
    # PYTHONDONTWRITEBYTECODE each of the four would compile the connector's modules again at its start.
    env = child_env({"ATTIO_API_KEY": TOKEN, "PYTHONPATH": str(tree)})
    env.pop("CONNECTOR_RATE_LIMIT_URL", None)
    procs = []
    starts: list[float] = []
    exits = [0.0] * len(WINDOWS)
    outputs: list[tuple[str, str]] = [("", "")] * len(WINDOWS)
    log = GrantLog(redis_url) if redis_url else None
    with log or contextlib.nullcontext():
        began = time.perf_counter()
        for i, (start, end) in enumerate(WINDOWS):
            window = ["--window", "start", "--page-size", str(page)]
            window += ["--ends-from", start] if start else []
            window += ["--starts-before", end] if end else []
            cmd = _extract_cmd(emu_url, workdir / f"w{i}-{bool(redis_url)}.parquet", *window)
            if redis_url:
                cmd += ["--rate-limit-url", f"{redis_url}?client_name=w{i}"]  # names it in the timeline
            starts.append(time.time())
            procs.append(
                subprocess.Popen(
                    cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )

        def wait(i: int) -> None:
            outputs[i] = procs[i].communicate()
            exits[i] = time.time()

        waiters = [threading.Thread(target=wait, args=(i,)) for i in range(len(procs))]
        for thread in waiters:
            thread.start()
        for thread in waiters:
            thread.join()
        wall = time.perf_counter() - began
    reports = []
    for i, (p, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        if p.returncode:
            raise RuntimeError(f"an extract failed ({p.returncode}): {err.strip()[-400:]}")
        report = json.loads(out)
        # What it planned (cursors, windows), as its output's metadata records it: the report has them at its end.
        meta = pq.read_schema(workdir / f"w{i}-{bool(redis_url)}.parquet").metadata or {}
        report["planned"] = (
            f"{meta.get(b'connector.slices', b'?').decode()}/{meta.get(b'connector.windows', b'?').decode()}"
        )
        reports.append(report)
    rows = sum(r["rows"] for r in reports)
    ids = pa.chunked_array(
        [
            pq.read_table(workdir / f"w{i}-{bool(redis_url)}.parquet", columns=["meeting_id"]).column(0)
            for i in range(len(WINDOWS))
        ]
    )
    if rows != meetings or len(ids) != meetings or len(pc.unique(ids)) != meetings:
        raise RuntimeError(f"{len(ids):,} rows ({len(pc.unique(ids)):,} meetings) of the {meetings:,} seeded")
    requests = sum(r["requests"] for r in reports)
    minimum = sum(-(-r["rows"] // page) for r in reports)  # every request a full page
    running = max(r["seconds"] for r in reports)  # the longest extract, start-up of Python excluded
    row = [
        ("shared budget" if redis_url else "each on its own"),
        f"{rows:,}",
        f"{wall:.1f}",
        f"{rows / wall:,.0f}",
        f"{rows / running:,.0f}",
        f"{rows / running / (100 * page):.2f}",
        f"{rows / wall / (100 * page):.2f}",
        f"{requests / running:.1f}",
        f"{sum(r['rate_limited'] for r in reports)}",
        f"{requests:,}",
        f"{requests - minimum:+,}",
        f"{rows / requests:.0f}",
        "+".join(str(r["slices"]) for r in reports) + f" / {sum(r['windows'] for r in reports)}",
    ]
    return row, timeline(starts, exits, log, reports) if log is not None else ""


def cpu_per_meeting(meetings: int, workdir: Path) -> list[str]:
    """CPU seconds (user + system) of one extract process per meeting, page 200, Parquet."""
    with emulator(meetings, prerender=True) as url:
        env = child_env({"ATTIO_API_KEY": TOKEN})
        cmd = _extract_cmd(url, workdir / "cpu.parquet", "--read-rate", "0")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status:
            raise RuntimeError(f"the extract failed ({status})")
    rows = json.loads(out)["rows"]
    cpu = usage.ru_utime + usage.ru_stime
    return [f"{rows:,}", f"{cpu:.1f}", f"{cpu / rows * 1e6:.0f}", f"{rows / cpu:,.0f}"]


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
    return "\n".join([title, line(header), *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["primitives", "extract", "cpu"], help="one part only")
    parser.add_argument("--meetings", type=int, default=400_000, help="seeded meetings for the extract part")
    parser.add_argument(
        "--page-size",
        type=int,
        default=200,
        help="extract page size (20 makes the run light on CPU: budget-bound)",
    )
    parser.add_argument(
        "--shared-only", action="store_true", help="extract part: the shared budget only, not the contrast"
    )
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="extract part: run the extracts from this source tree (e.g. an older commit's, for an A/B)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            if args.part in (None, "primitives"):
                print(
                    table(
                        f"{PROCESSES} processes x {TASKS} tasks, one budget of {RATE}/s, Redis on loopback",
                        [
                            "limiter",
                            "grants/s",
                            "max in a wall second",
                            "max in any second",
                            "max in any 0.1 s",
                            "Redis cmds/grant",
                            "grants",
                        ],
                        primitives(server.url),
                    )
                )
            if args.part in (None, "extract"):
                with emulator(args.meetings, read_rate=100, latency_ms=150, prerender=True) as url:
                    runs = [
                        extract(url, redis, Path(tmp), args.page_size, args.meetings, args.tree.resolve())
                        for redis in ((server.url,) if args.shared_only else (server.url, None))
                    ]
                rows = [row for row, _ in runs]
                print(
                    table(
                        f"4 extracts of {args.meetings:,} meetings, page {args.page_size}, 150 ms latency, "
                        f"Attio's 100 reads/s (ceiling {100 * args.page_size:,} meetings/s)",
                        [
                            "",
                            "rows",
                            "wall s",
                            "rows/s (wall)",
                            "rows/s (running)",
                            "of ceiling",
                            "of ceiling (wall)",
                            "requests/s",
                            "429s",
                            "requests",
                            "over minimum",
                            "rows/request",
                            "cursors / windows",
                        ],
                        rows,
                    )
                )
                for _, lines in runs:
                    if lines:
                        print(lines)
            if args.part in (None, "cpu"):
                print(
                    table(
                        "one extract process, no latency, no limits, page 200, Parquet",
                        ["meetings", "CPU s", "CPU µs/meeting", "meetings per CPU s"],
                        [cpu_per_meeting(args.meetings // 2, Path(tmp))],
                    )
                )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
