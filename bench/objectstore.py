"""Extract at Attio's pace to S3 (moto's server) and to a local file, in the same run, alternating.

    .venv/bin/python bench/objectstore.py                  # 100k meetings, 3 rounds, Parquet
    .venv/bin/python bench/objectstore.py --meetings 40000 --rounds 2 --format csv

The emulator (150 ms per answer, Attio's 100 reads/s) and moto's S3 server (``python -m moto.server``)
each run in their own process, and so does every measured extract, so none shares a GIL with another.
rows/s is measured inside the child from the start of the extract to the committed output (the S3
upload included); peak RSS is the child's own ``ru_maxrss`` (``os.wait4``). The tail is the sink's
``commit()`` (finish the file and publish it), in wall and process CPU seconds: under load, compare it
and the peak rather than rows/s. Targets (issue 10): S3 at >= 0.95x the local rows/s, and peak memory
within 10 %.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract import PYTHON, TOKEN, Result, emulator, measured, table

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
import anyio
import pyarrow as pa
from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits
from connector.extract import ExtractConfig, extract, sink_for_path
from connector.storage import ObjectStoreSink
url, token, rate, target = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
pa.set_memory_pool(pa.system_memory_pool())  # as the CLI does
cfg = ClientConfig(token=token, base_url=url, limits=RateLimits(reads_per_second=rate))

def vm(name):  # kB, from /proc: VmHWM is the peak RSS so far
    for line in open("/proc/self/status"):
        if line.startswith(name + ":"):
            return int(line.split()[1])

tail = {}

def timed(commit):  # the tail: commit() (finish the file, publish it) in wall and CPU s; the peak before it
    def run():
        tail["fetch_peak_kb"] = vm("VmHWM")
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return commit()
        finally:
            tail["tail_seconds"] = time.perf_counter() - began
            tail["tail_cpu"] = time.process_time() - cpu
    return run

async def main(sink):
    async with AttioClient(cfg) as client:
        return await extract(client, ExtractConfig(query=MeetingQuery(limit=200)), sink)

with tempfile.TemporaryDirectory() as tmp:
    sink = ObjectStoreSink(target, scratch=tmp) if "://" in target else sink_for_path(Path(tmp) / target)
    sink.commit = timed(sink.commit)
    report = anyio.run(main, sink)
data = report.to_dict() | tail
data["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(data, default=str))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in its own process; yields its URL once it accepts connections."""
    port = _free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="parquet")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--read-rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    results: dict[str, list[Result]] = {"local": [], "s3": []}
    with (
        emulator(args.meetings, read_rate=args.read_rate, latency_ms=args.latency_ms, prerender=True) as url,
        moto_server() as s3,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": s3,
            "AWS_CONFIG_FILE": os.path.join(tmp, "none"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        import boto3

        boto3.client(
            "s3", endpoint_url=s3, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
        ).create_bucket(Bucket="bench")
        for i in range(args.rounds):
            for label in ("local", "s3") if i % 2 == 0 else ("s3", "local"):
                target = f"m.{args.format}" if label == "local" else f"s3://bench/r{i}/m.{args.format}"
                cmd = [PYTHON, "-c", CHILD, url, TOKEN, str(args.read_rate), target]
                data, rss = measured(cmd, env)
                results[label].append(Result(label, data["rows"], data["seconds"], rss, data))
                print(
                    f"round {i} {label:5s} {data['rows'] / data['seconds']:8.0f} rows/s  {rss:6.0f} MB peak "
                    f"({data['fetch_peak_kb'] / 1024:.0f} MB before the commit)  tail {data['tail_seconds']:.2f} s, "
                    f"{data['tail_cpu']:.2f} s CPU",
                    file=sys.stderr,
                )
    med = {
        label: (
            statistics.median(r.rows_per_second for r in rs),
            statistics.median(r.peak_rss_mb for r in rs),
            statistics.median(r.extra["tail_seconds"] for r in rs),
            statistics.median(r.extra["tail_cpu"] for r in rs),
        )
        for label, rs in results.items()
    }
    rows = [
        [
            label,
            f"{rate:,.0f}",
            f"{rss:,.0f}",
            f"{rate / med['local'][0]:.3f}",
            f"{rss / med['local'][1]:.3f}",
            f"{tail:.2f}",
            f"{cpu:.2f}",
        ]
        for label, (rate, rss, tail, cpu) in med.items()
    ]
    print(
        table(
            f"extract of {args.meetings:,} meetings ({args.format}) at {args.read_rate:g} reads/s, {args.latency_ms:g} ms "
            f"per answer; medians of {args.rounds}",
            ["to", "rows/s", "peak MB", "rows/s vs local", "peak vs local", "tail s", "tail CPU s"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
