"""Extract at Attio's pace to S3 (moto's server) and to a local file, in the same run, alternating.

    .venv/bin/python bench/objectstore.py                  # 100k meetings, 7 rounds, Parquet
    .venv/bin/python bench/objectstore.py --meetings 40000 --rounds 2 --format csv

The emulator (150 ms per answer, Attio's 100 reads/s) and moto's S3 server (``python -m moto.server``)
each run in their own process, and so does every measured extract, so none shares a GIL with another.
Each round runs one local and one S3 extract back to back, the local one first in even rounds and last in
odd ones, so that a load that rises or falls through the run weighs on both alike.

What each child measures (inside the process, around the library's ``extract()`` call):

* **seconds**: the whole ``extract()`` call, from before the output's checks (for S3: importing the SDK,
  making the client, the pre-fetch requests) to the committed output (for S3: the last part and the
  completed upload). rows/s = rows / seconds. (The report's own ``seconds`` starts after the checks.)
* **check**: ``check_destination()`` in wall and CPU seconds, and the RSS it adds (nearly the same from run
  to run: the S3 SDK's import and its client); **tail**: ``commit()`` (finish the file, publish it), in
  wall and CPU seconds.
* **CPU**: the child's user + system seconds (``os.wait4``), per meeting; **peak**: its ``ru_maxrss``.

The targets (issue 10) are judged on the **median of the rounds' paired ratios** (S3 over the local run of
the same round) of rows/s (>= 0.95) and of peak RSS (<= 1.10). rows/s and the peak swing with the
machine's load (the local run alone by ~±10 %); the S3 run's own costs do not: **S3's fixed seconds**
(its check and tail over the local run's, medians) and the RSS its check adds. "ratio from the fixed
costs" is what rows/s would give if the fetch took the local median in both runs:
local seconds / (local seconds + S3's fixed seconds).

To compare two trees, run each tree's own copy of this script (``cd TREE && python bench/objectstore.py``):
the children run ``python -c`` in the script's repository, whose ``connector/`` comes first on ``sys.path``,
so ``PYTHONPATH=<other tree>`` would measure this one.
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
from collections.abc import Callable, Iterator, Sequence
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

def vm(name):  # kB, from /proc: VmRSS now, VmHWM the peak so far
    for line in open("/proc/self/status"):
        if line.startswith(name + ":"):
            return int(line.split()[1])

found = {}

def timed(name, step):  # a sink step in wall and CPU seconds, with the RSS before and after it
    def run(*args):
        found[name + "_rss_before_kb"] = vm("VmRSS")
        found[name + "_peak_before_kb"] = vm("VmHWM")
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return step(*args)
        finally:
            found[name + "_seconds"] = time.perf_counter() - began
            found[name + "_cpu"] = time.process_time() - cpu
            found[name + "_rss_after_kb"] = vm("VmRSS")
    return run

async def main(sink):
    async with AttioClient(cfg) as client:
        began = time.perf_counter()
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=200)), sink)
        found["whole_seconds"] = time.perf_counter() - began
        return report

with tempfile.TemporaryDirectory() as tmp:
    sink = ObjectStoreSink(target, scratch=tmp) if "://" in target else sink_for_path(Path(tmp) / target)
    sink.check_destination = timed("check", sink.check_destination)
    sink.commit = timed("tail", sink.commit)
    report = anyio.run(main, sink)
data = report.to_dict() | found
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


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _spread(values: Sequence[float], fmt: str) -> str:
    """The median and the range, e.g. ``0.962 (0.930-0.991)``."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="parquet")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--read-rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    results: dict[str, list[Result]] = {"local": [], "s3": []}
    loads: list[float] = []
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
                loads.append(os.getloadavg()[0])
                data, rss = measured(cmd, env)
                results[label].append(Result(label, data["rows"], data["whole_seconds"], rss, data))
                print(
                    f"round {i} {label:5s} {data['rows'] / data['whole_seconds']:8.0f} rows/s  "
                    f"{data['whole_seconds']:.2f} s  CPU {data['child_cpu_seconds']:.2f} s  peak {rss:4.0f} MB  "
                    f"check {data['check_seconds']:.2f} s (+{(data['check_rss_after_kb'] - data['check_rss_before_kb']) / 1024:.1f} MB)  "
                    f"tail {data['tail_seconds']:.2f} s, {data['tail_cpu']:.2f} s CPU  load {loads[-1]:.1f}",
                    file=sys.stderr,
                )
    print(_report(args, results, loads))
    return 0


def _report(args: argparse.Namespace, results: dict[str, list[Result]], loads: list[float]) -> str:
    local, s3 = results["local"], results["s3"]

    def each(rs: list[Result], value: Callable[[Result], float]) -> list[float]:
        return [value(r) for r in rs]

    def check_mb(r: Result) -> float:
        return (r.extra["check_rss_after_kb"] - r.extra["check_rss_before_kb"]) / 1024

    def fixed(r: Result) -> float:  # the seconds of the run that are the output's own: its check and its tail
        return float(r.extra["check_seconds"] + r.extra["tail_seconds"])

    def cpu_us(r: Result) -> float:
        return float(r.extra["child_cpu_seconds"]) / r.rows * 1e6

    measures: list[tuple[str, Callable[[Result], float], str]] = [
        ("rows/s", lambda r: r.rows_per_second, ",.0f"),
        ("seconds (whole extract() call)", lambda r: r.seconds, ".2f"),
        ("report's seconds (after the checks)", lambda r: float(r.extra["seconds"]), ".2f"),
        ("peak RSS, MB", lambda r: r.peak_rss_mb, ".0f"),
        ("RSS added by the check, MB", check_mb, ".1f"),
        ("check, wall s", lambda r: float(r.extra["check_seconds"]), ".3f"),
        ("check, CPU s", lambda r: float(r.extra["check_cpu"]), ".3f"),
        ("tail (commit), wall s", lambda r: float(r.extra["tail_seconds"]), ".3f"),
        ("tail (commit), CPU s", lambda r: float(r.extra["tail_cpu"]), ".3f"),
        ("child CPU, s", lambda r: float(r.extra["child_cpu_seconds"]), ".2f"),
        ("child CPU per meeting, us", cpu_us, ".1f"),
    ]
    rows = [[name, _spread(each(local, v), f), _spread(each(s3, v), f)] for name, v, f in measures]
    pair_rate = [b.rows_per_second / a.rows_per_second for a, b in zip(local, s3, strict=True)]
    pair_rss = [b.peak_rss_mb / a.peak_rss_mb for a, b in zip(local, s3, strict=True)]
    pair_cpu = [
        float(b.extra["child_cpu_seconds"]) - float(a.extra["child_cpu_seconds"])
        for a, b in zip(local, s3, strict=True)
    ]
    extra_fixed = _median(each(s3, fixed)) - _median(each(local, fixed))
    local_seconds = _median(each(local, lambda r: r.seconds))
    verdict = [
        ["rows/s, S3 / local (target >= 0.95)", _spread(pair_rate, ".3f")],
        ["peak RSS, S3 / local (target <= 1.10)", _spread(pair_rss, ".3f")],
        [
            "rows/s, ratio of the medians",
            f"{_median(each(s3, lambda r: r.rows_per_second)) / _median(each(local, lambda r: r.rows_per_second)):.3f}",
        ],
        [
            "peak RSS, ratio of the medians",
            f"{_median(each(s3, lambda r: r.peak_rss_mb)) / _median(each(local, lambda r: r.peak_rss_mb)):.3f}",
        ],
        ["S3's fixed seconds (check + tail, over local's)", f"{extra_fixed:.3f}"],
        ["ratio from the fixed costs alone", f"{local_seconds / (local_seconds + extra_fixed):.3f}"],
        ["S3's extra CPU s, paired", _spread(pair_cpu, ".2f")],
        ["load average (1 min) at the runs' starts", _spread(loads, ".1f")],
    ]
    title = (
        f"extract of {args.meetings:,} meetings ({args.format}) at {args.read_rate:g} reads/s, {args.latency_ms:g} ms "
        f"per answer; {args.rounds} rounds, each figure the median (range)"
    )
    return "\n\n".join(
        [
            table(title, ["measure", "local", "s3"], rows),
            table("the targets: medians (range) of the rounds' paired ratios", ["figure", "value"], verdict),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
