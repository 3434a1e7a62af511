"""A model of a sliced extract's scheduling, without a server: how long the pages take, what they cost, what waits.

    .venv/bin/python bench/schedule_model.py                          # 300k at page 200, 96 reads/s, 165 ms
    .venv/bin/python bench/schedule_model.py --shares 0.85,0.1,0.05 --min-window-pages 16   # against an alternative

The machine's load moves bench/pace.py's seconds by more than a scheduling change does (2 December 2026:
the same tree gave 1.3 and 19.6 s of unused budget at load 1 and 8); this model gives the scheduling's own
share, the same on any machine. It runs the engine's planning (``round_weights`` with the estimated pages,
``busy_cursors``) and its rules: cursors open windows in output order, ``slices`` of them until the first
round runs, then ``busy``; a cursor that ends while fewer than ``busy`` run splits the running window with
the most pages left (at least two) at its midpoint; every request waits for the budget's next grant (one
every 1/rate s, first come first served) and takes a round trip (± ``jitter``). A window's meetings are
spread evenly; each window but the first fetches ``crossing`` pages of meetings that started before it
(none since such windows are read from their top down, ``slices.reversed_windows``; before, bench/pace.py
measured ~0.43 at 300k meetings, in proportion to them: ``--crossing``), and its last page is partly filled
(half on average). Printed, as means over the seeds: the last page's time (the minimum is
pages / rate), requests, windows, and pages still to write at the last page because a window before them
in output order ended last (the sink writes windows in output order). Not modelled: CPU (the client's and
the sink's work, which on 2 cores is what a real run's tail and gaps mostly are), the probe, 429s.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from connector.extract import slices

SPLIT_MIN_PAGES = 2.0  # the Splitter's min_rows: two pages


@dataclass
class _Window:
    lo: float  # in pages along the range of starts
    hi: float
    pos: float
    end: float | None = None


def model(
    pages: float, rate: float, rtt: float, n: int, busy: int, weights: list[float], *, jitter: float,
    crossing: float, seed: int,
) -> dict[str, float]:  # fmt: skip
    """One run of the model: the last page's time, requests, windows, and pages held at the last page."""
    rnd = random.Random(seed)

    def phase() -> float:  # where a window's first page ends: its last page is half full on average
        return rnd.random() - 0.5

    edges = [0.0]
    for w in weights:
        edges.append(edges[-1] + w * pages / sum(weights))
    windows = [
        _Window(lo, hi, lo - (crossing if lo else 0.0) - phase()) for lo, hi in itertools.pairwise(edges)
    ]
    order = list(range(len(windows)))
    waiting = list(order)
    running: set[int] = set()
    events: list[tuple[float, int, int]] = []
    grant, requests, limit, seq = 0.0, 0, n, 0

    def send(i: int, now: float) -> None:
        nonlocal grant, requests, seq
        at = max(now, grant)
        grant, requests, seq = at + 1 / rate, requests + 1, seq + 1
        heapq.heappush(events, (at + rtt * (1 + rnd.uniform(-jitter, jitter)), seq, i))

    def open_more(now: float) -> None:
        nonlocal limit
        while waiting and len(running) < limit:
            i = waiting.pop(0)
            running.add(i)
            if len(running) == n:
                limit = busy  # the first round runs: from now on the busy cursors
            send(i, now)

    open_more(0.0)
    while events:
        now, _, i = heapq.heappop(events)
        w = windows[i]
        w.pos = min(w.hi, w.pos + 1)
        if w.pos < w.hi:
            send(i, now)
            continue
        w.end = now
        running.discard(i)
        open_more(now)
        while len(running) + len(waiting) < busy:
            left = [(windows[j].hi - windows[j].pos, j) for j in running]
            left = [x for x in left if x[0] >= SPLIT_MIN_PAGES]
            if not left:
                break
            rest, j = max(left)
            mid = windows[j].pos + rest / 2
            windows.append(_Window(mid, windows[j].hi, mid - crossing - phase()))
            windows[j].hi = mid
            order.insert(order.index(j) + 1, len(windows) - 1)
            running.add(len(windows) - 1)
            send(len(windows) - 1, now)
    ends = [windows[i].end or 0.0 for i in order]
    last = max(range(len(order)), key=ends.__getitem__)
    held = sum(windows[i].hi - windows[i].lo for i in order[last + 1 :])
    return {"last": ends[last], "requests": requests, "windows": len(windows), "held": held}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=300_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--rate", type=float, default=96.0, help="the read budget")
    parser.add_argument("--rtt", type=float, default=0.165, help="a page's round trip, seconds")
    parser.add_argument("--jitter", type=float, default=0.3, help="round trips vary by up to this share")
    parser.add_argument(
        "--crossing",
        type=float,
        default=0.0,
        help="pages fetched and dropped at a window start (default 0: windows are read from their top down; "
        "read in start order, ~0.43 at 300k meetings, in proportion)",
    )
    parser.add_argument("--seeds", type=int, default=24)
    parser.add_argument("--shares", help="round shares to compare with the engine's, e.g. 0.85,0.1,0.05")
    parser.add_argument(
        "--min-window-pages", type=float, help="with --shares: the smallest window of a round"
    )
    args = parser.parse_args(argv)
    pages = args.meetings / args.page_size
    crossing = args.crossing
    n = slices.auto_slices(args.rate, args.rtt, 64)
    busy = slices.busy_cursors(n, auto=True)
    plans = {"engine": slices.round_weights(n, busy, descending=False, pages=pages)}
    if args.shares:
        shares = tuple(float(x) for x in args.shares.split(","))
        saved = slices.ROUND_SHARES, slices.MIN_WINDOW_PAGES
        slices.ROUND_SHARES = shares
        slices.MIN_WINDOW_PAGES = args.min_window_pages or slices.MIN_WINDOW_PAGES
        try:
            plans[f"shares {args.shares}"] = slices.round_weights(n, busy, descending=False, pages=pages)
        finally:
            slices.ROUND_SHARES, slices.MIN_WINDOW_PAGES = saved
    print(f"{pages:,.0f} pages, {args.rate:g} reads/s (minimum {pages / args.rate:.2f} s), round trip "
          f"{args.rtt * 1000:.0f} ms ± {args.jitter:.0%}; {n} cursors, {busy} busy; means of {args.seeds} seeds")  # fmt: skip
    for name, weights in plans.items():
        runs = [
            model(
                pages,
                args.rate,
                args.rtt,
                n,
                busy,
                weights,
                jitter=args.jitter,
                crossing=crossing,
                seed=s,
            )
            for s in range(args.seeds)
        ]
        mean = {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}
        print(f"{name}: last page {mean['last']:.2f} s; requests {mean['requests']:,.0f}; windows "
              f"{mean['windows']:.1f}; held at the last page {mean['held']:.1f} pages "
              f"(max {max(r['held'] for r in runs):.0f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
