"""Client CPU per meeting: the page decoders alone, and a whole no-latency, no-limit extract.

    .venv/bin/python bench/converter.py                    # decoders on emulator pages (in-process, no HTTP)
    .venv/bin/python bench/converter.py --extract 200000   # + a whole extract: client CPU us/meeting
    .venv/bin/python bench/converter.py --extract 200000 --profile   # + the extract's top functions (cProfile)

Decoders: pages of 200 meetings rendered by the emulator's own renderer (the bytes it serves), then

  decode_page  ``decode_page(body)``: the page body -> RecordBatch, as the extract runs it (worker thread)
  parse only   ``orjson.loads(body)``: the JSON parse every decoder pays
  converter    ``MeetingConverter().convert(data)`` on parsed pages (the extract's own converter)

each as CPU microseconds per meeting (``time.process_time``), the minimum of ``--reps`` passes over the
same pages: on a machine shared with other work the minimum is the figure least inflated by it.

Extract: the emulator in its own process (``python -m connector.emulator``, no latency, no rate limit),
the library's ``extract`` to Parquet in this process; the client's CPU seconds (user + system, threads
included) per meeting, and rows/s. ``--profile`` runs it under cProfile (slower) and prints the top 25
functions by their own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits  # noqa: E402
from connector.emulator.store import MeetingStore  # noqa: E402
from connector.extract import ExtractConfig, ParquetSink, extract  # noqa: E402
from connector.extract.arrow import MeetingConverter  # noqa: E402
from connector.extract.fastpath import FastPage, decode_page  # noqa: E402

TOKEN = "bench-token"


def pages(meetings: int, page: int = 200) -> list[bytes]:
    """Page bodies of ``meetings`` seeded meetings, as the emulator serves them."""
    store = MeetingStore(meetings, 7, "14beef7a-99f7-4534-a87e-70b564330a4c")
    rows = store.ordered_rows()
    tail = b'],"pagination":{"next_cursor":"x"}}'
    return [store.meetings_json(rows[i : i + page], b'{"data":[', tail) for i in range(0, len(rows), page)]


def per_meeting_us(fn: Callable[[Any], object], items: list[Any], meetings: int, reps: int) -> float:
    times = []
    for _ in range(reps):
        began = time.process_time()
        for item in items:
            fn(item)
        times.append(time.process_time() - began)
    return min(times) / meetings * 1e6


def bench_decoders(meetings: int, reps: int) -> None:
    bodies = pages(meetings)
    assert all(isinstance(decode_page(b), FastPage) for b in bodies), "every emulator page must be decoded"
    parsed = [orjson.loads(b)["data"] for b in bodies]
    converter = MeetingConverter()
    decode = per_meeting_us(decode_page, bodies, meetings, reps)
    parse = per_meeting_us(orjson.loads, bodies, meetings, reps)
    convert = per_meeting_us(converter.convert, parsed, meetings, reps)
    print(f"decoders over {meetings:,} meetings in pages of 200, CPU us/meeting (min of {reps}):")
    print(f"  decode_page  {decode:6.2f}")
    print(f"  parse only   {parse:6.2f}")
    print(f"  converter    {convert:6.2f}")


def bench_extract(meetings: int, profile: bool) -> None:
    cmd = [
        sys.executable,
        "-m",
        "connector.emulator",
        "--port",
        "0",
        "--meetings",
        str(meetings),
        "--token",
        TOKEN,
        "--read-rate",
        "0",
        "--latency-ms",
        "0",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"(http://\S+)", proc.stdout.readline())
        if not match:
            raise RuntimeError("the emulator did not start")
        config = ClientConfig(
            token=TOKEN, base_url=match.group(1), limits=RateLimits(reads_per_second=0, max_in_flight=64)
        )

        async def run(out: Path) -> int:
            async with AttioClient(config) as client:
                report = await extract(client, ExtractConfig(query=MeetingQuery(limit=200)), ParquetSink(out))
            return report.rows

        with tempfile.TemporaryDirectory() as tmp:
            profiler = cProfile.Profile() if profile else None
            before = resource.getrusage(resource.RUSAGE_SELF)
            began = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            rows = anyio.run(run, Path(tmp) / "m.parquet")
            if profiler is not None:
                profiler.disable()
            wall = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"extract of {rows:,} meetings (no latency, no limit, Parquet): client CPU {cpu / rows * 1e6:.1f} us/meeting, "
        f"{rows / wall:,.0f} rows/s wall{' (under cProfile)' if profile else ''}"
    )
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=20_000, help="meetings for the decoder figures")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument(
        "--extract", type=int, default=0, metavar="N", help="also extract N meetings end to end"
    )
    parser.add_argument("--profile", action="store_true", help="profile the extract with cProfile")
    args = parser.parse_args()
    bench_decoders(args.meetings, args.reps)
    if args.extract:
        bench_extract(args.extract, args.profile)


if __name__ == "__main__":
    main()
