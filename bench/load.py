"""Benchmark of the bulk loader against the emulator (run in its own process).

1. Throughput: ~150 ms latency and Attio's 25 writes/s on the emulator; writes/s as a fraction of 25
   (target >= 90% with no 429).
2. CPU per row: no latency, no limits; the loader process's CPU seconds per loaded row.
3. Memory: peak RSS of a dry run over a generated CSV of 100k and 1M rows (each in a fresh process):
   flat in row count.
4. Sync: 5,000 rows loaded (no latency, no limits), then ``--sync --delete-missing`` of an export with 10 %
   changed (half only their links), 5 % removed and 5 % new, at ~150 ms latency and 25 writes/s:
   writes/s as a fraction of 25 (target >= 90 %, no 429), and the requests it took against the writes
   the changes need (no GET for an unchanged row).

    .venv/bin/python bench/load.py [--rows 400] [--big-rows 1000000] [--write-rate 24] [--sync-rows 5000]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.config import ClientConfig, RateLimits  # noqa: E402
from connector.load import LoadConfig, load_sync  # noqa: E402

HEADER = ["external_ref", "title", "start", "end", "participants", "organizer"]
ATTIO_WRITES_PER_SECOND = 25.0


def write_csv(path: Path, n: int, prefix: str) -> Path:
    base = datetime(2032, 1, 1, 8, 0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(n):
            start = base + timedelta(minutes=30 * i)
            out.writerow([
                f"{prefix}-{i}", f"Bench meeting {i}", start.isoformat() + "Z", (start + timedelta(minutes=30)).isoformat() + "Z",
                f"guest{i % 97}@example.org;other{i % 13}@example.com", "host@acme.com",
            ])
    return path


@contextmanager
def emulator(*args: str) -> Iterator[str]:
    """Start ``python -m connector.emulator`` in its own process; yield its URL."""
    cmd = [sys.executable, "-m", "connector.emulator", "--port", "0", "--meetings", "1000", "--read-rate", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise SystemExit(f"the emulator did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait()


def client_config(url: str, writes_per_second: float) -> ClientConfig:
    from connector.emulator import EmulatorConfig

    return ClientConfig(
        token=EmulatorConfig.token, base_url=url, limits=RateLimits(reads_per_second=0, writes_per_second=writes_per_second)
    )


def throughput(tmp: Path, rows: int, write_rate: float, concurrency: int) -> None:
    source = write_csv(tmp / "throughput.csv", rows, "tp")
    with emulator("--latency-ms", "150", "--write-rate", str(ATTIO_WRITES_PER_SECOND)) as url:
        report = load_sync(source, LoadConfig(concurrency=concurrency), client_config=client_config(url, write_rate))
    fraction = report.writes_per_second / ATTIO_WRITES_PER_SECOND
    print(
        f"throughput: {report.created} rows in {report.seconds:.1f} s at 150 ms latency: {report.writes_per_second:.1f} "
        f"writes/s = {fraction:.0%} of 25/s (client budget {write_rate}/s, concurrency {concurrency}); "
        f"429s={report.rate_limited} retries={report.retries} failed={report.failed}"
    )


def cpu_per_row(tmp: Path, rows: int) -> None:
    source = write_csv(tmp / "cpu.csv", rows, "cpu")
    with emulator("--write-rate", "0") as url:
        before = resource.getrusage(resource.RUSAGE_SELF)
        report = load_sync(source, LoadConfig(concurrency=16), client_config=client_config(url, 0))
        after = resource.getrusage(resource.RUSAGE_SELF)
    user = (after.ru_utime - before.ru_utime) / report.created * 1e6
    system = (after.ru_stime - before.ru_stime) / report.created * 1e6
    print(
        f"cpu: {report.created} rows, no latency, no limits: {user + system:.0f} µs CPU per row "
        f"(user {user:.0f} µs, system {system:.0f} µs; {report.created / report.seconds:.0f} rows/s wall)"
    )


_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from connector.load import LoadConfig, load_sync
t = time.perf_counter()
r = load_sync({path!r}, LoadConfig(dry_run=True))
print(r.rows, r.rejected, round(time.perf_counter() - t, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def dry_run_rss(tmp: Path, sizes: list[int]) -> None:
    for n in sizes:
        path = write_csv(tmp / f"dry-{n}.csv", n, "dry")
        size_mb = path.stat().st_size / 1e6
        out = subprocess.run(
            [sys.executable, "-c", _CHILD.format(root=str(ROOT), path=str(path))], capture_output=True, text=True, check=True
        ).stdout.split()
        rows, rejected, seconds, peak_mb = out
        print(f"dry run: {int(rows):>9,} rows ({size_mb:.0f} MB CSV), {rejected} rejected, {seconds} s, peak RSS {peak_mb} MB")
        path.unlink()


_SYNC_EMULATOR = """
import dataclasses, sys
sys.path.insert(0, {root!r})
from connector.emulator import EmulatorThread
from connector.emulator.ratelimit import WindowLimiter
emu = EmulatorThread(meetings=1000, read_rate=0, write_rate=0, contract="create-only").start()
print(emu.url, flush=True)
sys.stdin.readline()  # the initial load is done: from now on, Attio's latency and write limit
emu.emulator.config = dataclasses.replace(emu.emulator.config, latency_ms=150.0, write_rate=25.0)
emu.emulator.write_limiter = WindowLimiter(25.0)
print("ok", flush=True)
sys.stdin.readline()
emu.stop()
"""


def write_sync_csv(path: Path, n: int, changed: int = 0, removed: int = 0, new: int = 0) -> Path:
    """Rows 0..n-1 plus ``new`` more, less the last ``removed`` of the n; the first ``changed`` rows differ:
    the even ones only by a company link added, the odd ones by their title."""
    base = datetime(2032, 6, 1, 8, 0)
    deal, company = "deals:{}", "companies:{}"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([*HEADER, "linked_records"])
        for i in [*range(n - removed), *range(n, n + new)]:
            start = base + timedelta(minutes=30 * i)
            links = deal.format(uuid.uuid5(uuid.NAMESPACE_OID, f"deal-{i}"))
            title = f"Sync meeting {i}"
            if i < changed and i % 2 == 0:
                links += ";" + company.format(uuid.uuid5(uuid.NAMESPACE_OID, f"company-{i}"))
            elif i < changed:
                title += " (moved)"
            out.writerow([
                f"sync-{i}", title, start.isoformat() + "Z", (start + timedelta(minutes=30)).isoformat() + "Z",
                f"guest{i % 97}@example.org", "host@acme.com", links,
            ])
    return path


def sync(tmp: Path, rows: int, write_rate: float, concurrency: int) -> None:
    source = tmp / "sync.csv"
    changed, removed, new = rows // 10, rows // 20, rows // 20
    proc = subprocess.Popen(
        [sys.executable, "-c", _SYNC_EMULATOR.format(root=str(ROOT))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url = proc.stdout.readline().strip()
        config = LoadConfig(concurrency=32, contract="create-only", sync=True)
        load_sync(write_sync_csv(source, rows), config, client_config=client_config(url, 0))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.stdout.readline()
        write_sync_csv(source, rows, changed, removed, new)
        config = LoadConfig(concurrency=concurrency, contract="create-only", sync=True, delete_missing=True)
        report = load_sync(source, config, client_config=client_config(url, write_rate))
    finally:
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        proc.wait()
    # the writes the changes need: a PATCH per link change, a POST and a DELETE per replace, a POST per new
    # row, a DELETE per removed one
    needed = changed // 2 + 2 * (changed - changed // 2) + new + removed
    fraction = report.writes_per_second / ATTIO_WRITES_PER_SECOND
    print(
        f"sync: {rows:,} rows, {changed} changed (half links only), {removed} removed, {new} new: "
        f"{report.updated} updated, {report.replaced} replaced, {report.deleted} deleted, {report.created} created, "
        f"{report.unchanged} unchanged in {report.seconds:.1f} s at 150 ms latency; {report.writes} writes "
        f"({needed} needed), {report.requests - report.writes} reads; {report.writes_per_second:.1f} writes/s = "
        f"{fraction:.0%} of 25/s (client budget {write_rate}/s, concurrency {concurrency}); "
        f"429s={report.rate_limited} retries={report.retries} failed={report.failed}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="rows of the throughput run (default 400: ~17 s)")
    parser.add_argument("--write-rate", type=float, default=24.0, help="client write budget, requests/s")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--cpu-rows", type=int, default=3000)
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="rows of the largest dry run")
    parser.add_argument("--sync-rows", type=int, default=5000, help="rows loaded before the sync run")
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "cpu", "rss", "sync"])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}, maxrss now {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name:
        tmp = Path(tmp_name)
        if "throughput" not in args.skip:
            throughput(tmp, args.rows, args.write_rate, args.concurrency)
        if "cpu" not in args.skip:
            cpu_per_row(tmp, args.cpu_rows)
        if "sync" not in args.skip:
            sync(tmp, args.sync_rows, args.write_rate, args.concurrency)
        if "rss" not in args.skip:
            dry_run_rss(tmp, sorted({max(1, args.big_rows // 10), args.big_rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
