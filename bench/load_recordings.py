"""Benchmark of ``load-recordings`` against the emulator (run in its own process) at Attio's limits.

The emulator answers after ~150 ms and allows 1 call-recording create a second (Attio's limit for that
endpoint) and 100 reads/s; 40 % of its past meetings already have recordings, which every look reads. The
loader runs with its default budgets (1 create/s, 96 reads/s) over ``--inputs`` WebVTT files of
``--segments`` segments, each on its own meeting. Reported: creates/s as a fraction of the 1/s budget
(target >= 0.9 with no 429), segments/s, the reads per create that the looks cost, and a re-run's requests.

    .venv/bin/python bench/load_recordings.py [--inputs 30] [--segments 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import emulator  # noqa: E402  (bench/ is a folder of scripts, imported as a namespace)
from connector.client import SyncAttioClient  # noqa: E402
from connector.config import ClientConfig, RateLimits  # noqa: E402
from connector.emulator import EmulatorConfig  # noqa: E402
from connector.load.recordings import RecordingsConfig, load_recordings_sync  # noqa: E402


def clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_inputs(folder: Path, meetings: list[str], segments: int) -> Path:
    folder.mkdir()
    rows = [["file", "meeting_id"]]
    for i, meeting in enumerate(meetings):
        cues = "".join(
            f"{clock(1500 * k)} --> {clock(1500 * k + 1400)}\n<v Speaker {k % 3}>input {i} segment {k} — ça va? 予算\n\n"
            for k in range(segments)
        )
        (folder / f"call-{i:04d}.vtt").write_text("WEBVTT\n\n" + cues, encoding="utf-8")
        rows.append([f"call-{i:04d}.vtt", meeting])
    with open(folder.parent / "sidecar.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    mapping = folder.parent / "mapping.toml"
    mapping.write_text('[meeting]\nsidecar = "sidecar.csv"\n', encoding="utf-8")
    return mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=30)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--recording-rate", type=float, default=RateLimits().recording_writes_per_second)
    args = parser.parse_args()
    limits = (
        "--latency-ms",
        "150",
        "--read-rate",
        "100",
        "--recording-write-rate",
        "1",
        "--recording-share",
        "0.4",
    )
    with tempfile.TemporaryDirectory() as tmp, emulator(*limits) as url:
        config = ClientConfig(
            token=EmulatorConfig.token,
            base_url=url,
            limits=RateLimits(recording_writes_per_second=args.recording_rate),
        )
        with SyncAttioClient(config) as client:
            page = client.list_page()
            meetings = [m["id"]["meeting_id"] for m in page.meetings][: args.inputs]
        folder = Path(tmp) / "calls"
        mapping = write_inputs(folder, meetings, args.segments)
        run = RecordingsConfig(
            mapping=mapping, concurrency=args.concurrency, results_path=Path(tmp) / "r.csv"
        )
        report = load_recordings_sync(folder, run, client_config=config)
        again = load_recordings_sync(folder, run, client_config=config)
    rate = report.creates / report.seconds
    reads = report.requests - report.creates
    print(
        f"load-recordings: {report.created} recordings of {args.segments} segments in {report.seconds:.1f} s at 150 ms "
        f"latency: {rate:.2f} creates/s = {rate / 1.0:.2f} of the 1/s budget, {report.segments_sent / report.seconds:.0f} "
        f"segments/s; {reads} reads ({reads / max(report.creates, 1):.1f} per create) for the looks; "
        f"429s={report.rate_limited} retries={report.retries} failed={report.failed} (client budget "
        f"{args.recording_rate}/s, concurrency {args.concurrency})"
    )
    print(
        f"re-run: {again.already_present} already present, {again.requests} requests, {again.seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
