"""Benchmark of the database destinations: the same extract into Parquet, DuckDB and PostgreSQL, and dlt.

    .venv/bin/python bench/destinations.py                   # 200k meetings, 3 rounds, dlt included
    .venv/bin/python bench/destinations.py --meetings 50000 --rounds 1 --no-dlt

No latency, no rate limit: the emulator runs in its own process (``python -m connector.emulator``), every
measured run is its own process (the library's ``extract`` into a sink, timed by its report: first request to
committed output), and the targets are measured in turns, round after round, so that a busy machine slows all
of them alike. PostgreSQL is a real server started for the bench (``tests/pg_server.py``: ``initdb`` into a
temporary folder, a free loopback port; ``fsync=off``, as for the tests). Figures are medians, shown as rows/s
and as the ratio to Parquet of the same round (target: >= 0.8x); dlt's ``rest_api`` source into duckdb
(``bench/extract.py``'s child, its own virtual environment; 20k meetings by default, as it needs ~2 GB at
10k) against the connector into DuckDB (target >= 20x). Peak RSS is each child's own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import extract as extract_bench
from extract import PYTHON, TOKEN, emulator, measured, run_dlt, table
from pg_server import PASSWORD, start_postgres

CHILD = r"""
import json, sys
import anyio
from connector import AttioClient, ClientConfig, MeetingQuery, RateLimits
from connector.destinations import database_sink
from connector.extract import ExtractConfig, extract, sink_for_path
url, token, target = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = ClientConfig(token=token, base_url=url, limits=RateLimits(reads_per_second=0, max_in_flight=64))

async def main():
    sink = database_sink(target, "meetings", "replace") or sink_for_path(target)
    async with AttioClient(cfg) as client:
        return await extract(client, ExtractConfig(query=MeetingQuery(limit=200)), sink)

print(json.dumps(anyio.run(main).to_dict(), default=str))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-dlt", action="store_true", help="skip dlt's rest_api into duckdb")
    parser.add_argument(
        "--dlt-meetings",
        type=int,
        default=20_000,
        help="meetings for dlt's run (it is slow and memory-hungry)",
    )
    args = parser.parse_args(argv)

    extras_venv = Path(__file__).resolve().parent.parent / ".venv-dlt"  # built by `bash .ci/extras dlt`
    if (extras_venv / "bin" / "python").exists():
        extract_bench.DLT_VENV = extras_venv
    server = start_postgres()
    os.environ["PGPASSWORD"] = PASSWORD
    tmp = Path(tempfile.mkdtemp(prefix="bench-dest-"))
    targets = {
        "parquet": str(tmp / "m.parquet"),
        "duckdb": f"duckdb:///{tmp / 'm.duckdb'}",
        "postgresql": server.url(),
    }
    runs: dict[str, list[float]] = {k: [] for k in targets}
    peaks: dict[str, list[float]] = {k: [] for k in targets}
    ratios: dict[str, list[float]] = {k: [] for k in targets}
    dlt_rates: list[float] = []
    try:
        with emulator(args.meetings) as url:
            for round_ in range(args.rounds):
                rates = {}
                for name, target in targets.items():
                    data, rss = measured([PYTHON, "-c", CHILD, url, TOKEN, target])
                    assert data["rows"] == args.meetings, data
                    rates[name] = data["rows"] / data["seconds"]
                    runs[name].append(rates[name])
                    peaks[name].append(rss)
                    print(
                        f"round {round_ + 1}: {name:<10} {rates[name]:>10,.0f} rows/s  peak {rss:,.0f} MB",
                        file=sys.stderr,
                    )
                for name in targets:
                    ratios[name].append(rates[name] / rates["parquet"])
        if not args.no_dlt:
            with emulator(args.dlt_meetings) as small:
                result = run_dlt("dlt rest_api -> duckdb", small, "duckdb")
                dlt_rates.append(result.rows_per_second)
                print(
                    f"dlt rest_api -> duckdb: {result.rows_per_second:,.0f} rows/s  peak {result.peak_rss_mb:,.0f} MB",
                    file=sys.stderr,
                )
    finally:
        server.stop()
    rows = [
        [
            name,
            f"{statistics.median(runs[name]):,.0f}",
            f"{statistics.median(ratios[name]):.2f}x",
            f"{statistics.median(peaks[name]):,.0f} MB",
        ]
        for name in targets
    ]
    print(
        table(
            f"{args.meetings:,} meetings, no latency, no limit, median of {args.rounds}",
            ["into", "rows/s", "vs parquet", "peak RSS"],
            rows,
        )
    )
    if dlt_rates:
        duck = statistics.median(runs["duckdb"])
        print(
            f"\ndlt rest_api -> duckdb: {dlt_rates[0]:,.0f} rows/s; the connector into DuckDB: {duck / dlt_rates[0]:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
