"""What partitioning costs the writer: the same batches through ParquetSink unpartitioned, by start_month, by
workspace_id and by workspace_id,start_month (CPU seconds of open/write/commit, publish included).

    python bench/partitions.py [--meetings 50000] [--repeat 5]

The meetings come from the emulator once (an extract to a temporary Parquet file); each layout then writes
them into a fresh folder ``--repeat`` times and the median CPU time is printed with its ratio to the
unpartitioned write. The fetch is not measured: at Attio's pace it costs ~73 us a meeting (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from connector import ClientConfig, RateLimits
from connector.emulator import EmulatorThread
from connector.extract import ParquetSink, extract_to_path


def _write(batches: list, schema, metadata: dict[str, str], folder: Path, partition_by: str | None) -> float:
    sink = ParquetSink(folder / "out", partition_by=partition_by)
    start = time.process_time()
    sink.open(schema, metadata)
    for batch in batches:
        sink.write(batch)
    sink.commit()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "meetings.parquet"
        with EmulatorThread(meetings=args.meetings, seed=3, read_rate=0, write_rate=0) as emu:
            config = ClientConfig(token=emu.token, base_url=emu.url, limits=RateLimits(0, 0, 32))
            extract_to_path(source, client_config=config)
        table = pq.read_table(source)
        metadata = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        schema = table.schema.remove_metadata()
        batches = table.to_batches(max_chunksize=10_000)
        results = {}
        for layout in (None, "start_month", "workspace_id", "workspace_id,start_month"):
            times = []
            for i in range(args.repeat):
                folder = Path(tmp) / f"{layout}-{i}"
                folder.mkdir()
                times.append(_write(batches, schema, metadata, folder, layout))
            results[layout or "unpartitioned"] = statistics.median(times)
    base = results["unpartitioned"]
    print(f"{table.num_rows:,} meetings, median of {args.repeat} runs, CPU seconds (ratio to unpartitioned):")
    for name, seconds in results.items():
        per_row = seconds / table.num_rows * 1e6
        print(f"  {name:<26} {seconds:7.3f} s  {per_row:5.1f} us/meeting  x{seconds / base:.2f}")


if __name__ == "__main__":
    main()
