"""Helpers of the load hardening tests: meeting rows, the real CLI in-process against an emulator, results."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main

HEADER = ["external_ref", "title", "start", "end", "participants"]


def meeting_rows(n: int, prefix: str = "ref") -> list[list[str]]:
    """``n`` valid rows, each its own meeting."""
    base = datetime(2031, 3, 2, 9, 0)
    out = []
    for i in range(n):
        start = base + timedelta(hours=2 * i)
        out.append(
            [
                f"{prefix}-{i}",
                f"Meeting {prefix}-{i}",
                start.isoformat() + "Z",
                (start + timedelta(minutes=30)).isoformat() + "Z",
                f"guest{i % 3}@example.org",
            ]
        )
    return out


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    """The rows as CSV text with a header row (``\n`` line ends)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def result_rows(path: Path) -> dict[int, dict[str, str]]:
    """The CSV results file by row number; fails on a row listed twice."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_row = {int(r["row_number"]): r for r in rows}
    assert len(by_row) == len(rows), "a row is in the results twice"
    return by_row


@dataclass
class CliRun:
    code: int
    out: str
    err: str


def run_load(
    emu: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> CliRun:
    """``python -m connector load ARGS`` in this process against ``emu`` (or none with --dry-run)."""
    monkeypatch.setenv("ATTIO_API_KEY", emu.token if emu is not None else "unused")
    extra = [] if emu is None else ["--base-url", emu.url, "--write-rate", "0", "--read-rate", "0"]
    code = main(["load", *args, *extra, "-q"])
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err)


def posts(emu: Any) -> int:
    """How many POSTs the emulator answered."""
    return emu.emulator.stats.count(method="POST")
