"""Where an extract's requests and read budget go: a per-request timeline of one sliced run at Attio's pace.

    .venv/bin/python bench/pace.py                       # 300k meetings, page 200, 150 ms, 100 reads/s
    .venv/bin/python bench/pace.py --meetings 60000 --json timeline.json

One extract through the library (auto slices, default flags but the read budget) against the emulator in
its own process. Every page request is recorded: when the cursor asked, when its grant came (its send),
when the answer was back, its window (the query's bounds) and its rows. Printed: requests against the
minimum (full pages), where the rest went (partly filled pages; meetings fetched and dropped, mostly those
crossing a window's start, and the range probe), windows and cursors, 429s; then the budget: grants per
second from the ramp-up (the first request sent once the probe is back) to the last page, the seconds of
budget left unused (gaps between grants beyond 1/rate), the probe and the tail (the rows written after the
last page), and grants per quarter second over the run (a full quarter is rate / 4). Counts do not depend on the machine's load; the seconds do.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract import TOKEN, emulator_process, warm_up  # bench/extract.py

from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits
from connector.extract import ExtractConfig, extract, sink_for_path


async def timeline(url: str, out: Path, rate: float, page: int) -> dict[str, Any]:
    """Run one extract, recording every page request and every read grant."""
    requests: list[dict[str, Any]] = []
    grants: list[float] = []
    config = ClientConfig(
        token=TOKEN, base_url=url, limits=RateLimits(reads_per_second=rate, max_in_flight=64)
    )
    async with AttioClient(config) as client:
        fetch_page, limiter = client.fetch_page, client.limiter
        wait_turn = limiter._wait_turn  # the moment a grant is given is the request's send

        async def granted(kind: Any) -> None:
            await wait_turn(kind)
            grants.append(time.perf_counter())

        async def timed(query: MeetingQuery, cursor: str | None, decode: Any) -> Any:
            rec: dict[str, Any] = {
                "window": [str(query.ends_from), str(query.starts_before)],
                "limit": query.limit,
                "asked": time.perf_counter(),
            }

            def counted(body: bytes) -> Any:
                result = decode(body)
                batch = getattr(result, "batch", None)
                rec["rows"] = batch.num_rows if batch is not None else len(result.get("data", []))
                return result

            result = await fetch_page(query, cursor, counted)
            rec["back"] = time.perf_counter()
            requests.append(rec)
            return result

        limiter._wait_turn = granted
        client.fetch_page = timed  # type: ignore[method-assign]
        sink = sink_for_path(out)
        write, written = sink.write, []

        def counted(batch: Any) -> None:
            # when rows reach the output: those written after the last page are the tail's
            write(batch)
            written.append((time.perf_counter(), batch.num_rows))

        sink.write = counted  # type: ignore[method-assign]
        start = time.perf_counter()
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=page)), sink)
        end = time.perf_counter()
    return {
        "report": report.to_dict(),
        "requests": requests,
        "grants": grants,
        "written": written,
        "start": start,
        "end": end,
    }


def summary(run: dict[str, Any], rate: float, page: int) -> list[str]:
    """The printed lines of one run."""
    report, start, end = run["report"], run["start"], run["end"]
    requests = sorted(run["requests"], key=lambda r: r["asked"])
    # The range probe is the one meeting of the range's far end (limit 1); its first page is data (slices.py).
    probes = [r for r in requests if r.get("limit", page) != page]
    data = [r for r in requests if r.get("limit", page) == page]
    minimum = -(-report["rows"] // page)
    fetched = sum(r.get("rows", 0) for r in data)
    partial = sum(page - r.get("rows", page) for r in data)
    grants = sorted(run["grants"])
    answered = max((r["back"] for r in probes), default=start)
    # The ramp-up starts with the first request sent once the probe is back (planned): until then only the
    # probe and the query's first page are in flight.
    first = min((r["asked"] for r in data if r["asked"] >= answered), default=data[0]["asked"])
    last = max(r["back"] for r in data)
    steady = [t for t in grants if first <= t <= last]
    idle = sum(max(0.0, b - a - 1 / rate) for a, b in itertools.pairwise(steady))
    quarters = collections.Counter(int((t - start) / 0.25) for t in grants)
    windows = {tuple(r["window"]) for r in data}
    ends: dict[tuple[str, str], float] = {}
    for r in data:
        ends[tuple(r["window"])] = max(ends.get(tuple(r["window"]), 0.0), r["back"])
    tail_rows = sum(n for t, n in run.get("written", []) if t > last)
    return [
        f"rows {report['rows']:,}; requests {report['requests']:,} (minimum {minimum:,}: "
        f"{report['requests'] - minimum:+,}); slices {report['slices']}, windows {report['windows']} "
        f"({len(windows)} queries); 429s {report['rate_limited']}",
        f"over the minimum: {partial / page:.1f} pages' room left in partly filled pages, "
        f"{(fetched - report['rows']) / page:.1f} pages of meetings fetched and dropped, "
        f"{len(probes)} probe request(s)",
        f"seconds: {end - start:.2f} in all; probe {first - start:.2f}, steady {last - first:.2f}, tail {end - last:.2f}",
        f"budget: {(len(steady) - 1) / max(steady[-1] - steady[0], 1e-9):.1f} grants/s of {rate:g} in the steady "
        f"part; {idle:.2f} s of it unused (gaps beyond 1/rate)",
        f"tail: {tail_rows:,} rows written after the last page; windows ending in the last 0.5 s: "
        f"{sum(1 for t in ends.values() if t > last - 0.5)}",
        "grants per 0.25 s: " + " ".join(str(quarters[i]) for i in range(max(quarters) + 1)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=300_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument(
        "--attio-rate", type=float, default=100.0, help="the emulator's read limit (Attio: 100/s)"
    )
    parser.add_argument(
        "--client-rate", type=float, default=RateLimits().reads_per_second, help="the read budget"
    )
    parser.add_argument("--json", type=Path, help="also write the timeline here")
    args = parser.parse_args(argv)
    warm_up()
    with (
        emulator_process(args.meetings, read_rate=args.attio_rate, latency_ms=args.latency_ms) as emu,
        tempfile.TemporaryDirectory() as tmp,
    ):
        run = anyio.run(timeline, emu.url, Path(tmp) / "m.parquet", args.client_rate, args.page_size)
    print("\n".join(summary(run, args.client_rate, args.page_size)))
    if args.json:
        args.json.write_text(json.dumps(run, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
