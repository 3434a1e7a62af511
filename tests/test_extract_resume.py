"""Interrupted extracts: nothing at the output path, and --resume gives every meeting exactly once."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import (
    Interrupt,
    assert_table_matches,
    brute_force,
    checkpoint_has,
    client_config,
    kill_when,
    stop_after,
)

from connector import AttioClient, MeetingQuery, RetryPolicy
from connector.cli import main
from connector.extract import CallableSink, ExtractConfig, JsonlSink, ParquetSink, extract
from connector.extract.checkpoint import default_checkpoint_path, parts_dir_for

pytestmark = pytest.mark.anyio


def exists(path: Path) -> bool:
    return path.exists()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def committed_rows(out: Path) -> int:
    checkpoint = json.loads(default_checkpoint_path(out).read_text())
    return sum(w["rows"] for w in checkpoint["windows"])


def _raise() -> None:
    raise Interrupt("stop")


async def test_error_midway_then_resume(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    cfg = ExtractConfig(query=MeetingQuery(limit=10), slices=3, batch_size=20, progress=stop_after(14, _raise))
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(Interrupt):
            await extract(client, cfg, ParquetSink(out))
        assert not exists(out) and not exists(Path(f"{out}.partial"))
        committed = committed_rows(out)
        assert 0 < committed < 300
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=10), slices=2, resume=True), ParquetSink(out))
    assert report.resumed_rows == committed and report.rows == 300
    assert_table_matches(pq.read_table(out), brute_force(emulator.emulator.store.all_meetings(), MeetingQuery()))
    assert listing(tmp_path) == ["m.parquet"]


async def test_cancelled_like_an_orchestrator_timeout_then_resume(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    query = MeetingQuery(limit=7, ends_from="2020-01-01T00:00:00Z")
    expected = brute_force(emulator.emulator.store.all_meetings(), query)
    async with AttioClient(client_config(emulator)) as client:
        with anyio.CancelScope() as scope:
            await extract(client, ExtractConfig(query=query, slices=4, batch_size=8, progress=stop_after(9, scope.cancel)), JsonlSink(out))
        assert scope.cancelled_caught and not exists(out)
        report = await extract(client, ExtractConfig(query=query, slices=4, resume=True), JsonlSink(out))
    ids = [json.loads(line)["meeting_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(expected) and report.resumed_rows > 0


async def test_exact_output_under_injected_faults(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=500, seed=3, slow_ms=2000)
    faults = ["429", "500", "drop", "truncate", "503", "502", "drop", "429", "504", "slow"]
    # injected once the cursors run (after the first page), so they hit concurrent pages mid-stream
    inject = stop_after(1, lambda: emu.emulator.faults.script(faults, method="GET"))
    out = tmp_path / "m.parquet"
    patient = RetryPolicy(max_attempts=12, initial_delay=0.01, max_delay=0.05, max_time=60)
    async with AttioClient(client_config(emu, timeout=0.5, retry=patient)) as client:
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=25), slices=4, progress=inject), ParquetSink(out))
    assert emu.emulator.faults.pending == 0
    assert report.retries >= 6 and report.rate_limited >= 2 and report.server_errors >= 4
    assert_table_matches(pq.read_table(out), brute_force(emu.emulator.store.all_meetings(), MeetingQuery()))


async def test_exact_output_under_random_faults(make_emulator: Any) -> None:
    emu = make_emulator(meetings=400, seed=5, fault_rate=0.2, fault_kinds=("500", "502", "drop", "truncate", "429"))
    batches: list[pa.RecordBatch] = []
    async with AttioClient(client_config(emu)) as client:
        report = await extract(client, ExtractConfig(query=MeetingQuery(limit=20), slices=3), CallableSink(batches.append))
    assert report.retries > 0
    assert_table_matches(pa.Table.from_batches(batches), brute_force(emu.emulator.store.all_meetings(), MeetingQuery()))


def test_sigkill_midway_then_resume(make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = make_emulator(meetings=300, latency_ms=40)
    out = tmp_path / "m.parquet"
    args = ["extract", "--base-url", emu.url, "--output", str(out), "--page-size", "5", "--slices", "2", "--batch-size", "10", "--quiet"]
    env = {**os.environ, "ATTIO_API_KEY": emu.token}
    proc = subprocess.Popen([sys.executable, "-m", "connector", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = default_checkpoint_path(out)
    kill_when(proc, checkpoint_has(checkpoint, 60))
    assert not out.exists()
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    assert main([*args, "--resume"]) == 0
    assert_table_matches(pq.read_table(out), brute_force(emu.emulator.store.all_meetings(), MeetingQuery()))
    assert not checkpoint.exists()


async def test_callable_sink_with_checkpoint_resumes_exactly_once(emulator: Any, tmp_path: Path) -> None:
    delivered: list[str] = []
    calls = {"n": 0}

    def store(batch: pa.RecordBatch) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise Interrupt("the warehouse went away")
        delivered.extend(batch.column("meeting_id").to_pylist())

    cfg = ExtractConfig(query=MeetingQuery(limit=20), slices=2, batch_size=40, checkpoint=tmp_path / "cp.json")
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(Interrupt):
            await extract(client, cfg, CallableSink(store))
        report = await extract(client, dataclasses.replace(cfg, resume=True), CallableSink(store))
    assert sorted(delivered) == sorted(m["id"]["meeting_id"] for m in emulator.emulator.store.all_meetings())
    assert report.rows == 300 and 0 < report.resumed_rows < 300
    assert not exists(tmp_path / "cp.json")


@pytest.mark.parametrize(
    ("output", "flags"),
    [
        pytest.param("m.parquet", [], id="parquet"),
        pytest.param("m.csv", ["--slices", "1"], id="csv-one-cursor"),
        pytest.param("ds", ["--partition-by", "start_month"], id="dataset"),
    ],
)
def test_sigterm_stops_like_ctrl_c_then_resume_is_exact(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, flags: list[str]
) -> None:
    emu = make_emulator(meetings=300, latency_ms=40)
    out = tmp_path / output
    args = ["extract", "--base-url", emu.url, "--output", str(out), "--page-size", "5", "--slices", "2",
            "--batch-size", "10", "--quiet", *flags]  # fmt: skip
    env = {**os.environ, "ATTIO_API_KEY": emu.token}
    proc = subprocess.Popen([sys.executable, "-m", "connector", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = default_checkpoint_path(out)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # poll the checkpoint (another process) until some rows are committed
            if checkpoint.exists() and sum(w["rows"] for w in json.loads(checkpoint.read_text())["windows"]) >= 30:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["error: interrupted; files are consistent: run it again with --resume to continue"]
    assert not out.exists() and not Path(f"{out}.partial").exists() and not Path(f"{out}.lock").exists()
    committed = committed_rows(out)
    assert 30 <= committed < 300  # the checkpoint is readable and holds what was committed
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    assert main([*args, "--resume", "--json"]) == 0
    expected = brute_force(emu.emulator.store.all_meetings(), MeetingQuery())
    if out.suffix == ".csv":
        import pyarrow.csv as pacsv

        ids = pacsv.read_csv(out).column("meeting_id").to_pylist()
        assert sorted(ids) == sorted(expected)
    else:
        table = pq.read_table(out)
        assert_table_matches(table.drop_columns(["start_month"]) if flags else table, expected)
    assert listing(tmp_path) == [output]


class StagedTableSink:
    """A sink that is not a file sink but publishes only at commit, like a database table: an AtomicSink.

    It stages batches in an Arrow stream beside the table and renames it onto ``table`` in commit; it
    records where each call ran, and the order of its rows is the order of its writes.
    """

    def __init__(self, table: Path, state: Path) -> None:
        self.table, self.state = table, state
        self.staged = table.with_name(table.name + ".staging")
        self.calls: list[str] = []
        self._writer: Any = None

    def default_checkpoint(self) -> Path:
        return self.state / "checkpoint.json"

    def staging_name(self) -> str:
        return str(self.staged)

    def open(self, schema: pa.Schema, metadata: Any) -> None:
        self.calls.append("open")
        self._writer = pa.ipc.new_stream(str(self.staged), schema)  # replaces what a killed run staged

    def write(self, batch: pa.RecordBatch) -> None:
        self.calls.append("write")
        self._writer.write_batch(batch)

    def commit(self) -> str:
        self.calls.append("commit")
        self._writer.close()
        os.replace(self.staged, self.table)
        return str(self.table)

    def abort(self) -> None:
        self.calls.append("abort")
        self._writer.close()
        self.staged.unlink()


async def test_any_atomic_sink_gets_checkpoint_and_resume_from_the_engine(emulator: Any, tmp_path: Path) -> None:
    from connector.extract import AtomicSink

    table, state = tmp_path / "meetings.arrow", tmp_path / "state"
    first = StagedTableSink(table, state)
    assert isinstance(first, AtomicSink)
    query = MeetingQuery(limit=10)
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(Interrupt):
            await extract(client, ExtractConfig(query=query, slices=3, batch_size=20, progress=stop_after(14, _raise)), first)
        assert first.calls[0] == "open" and first.calls[-1] == "abort"
        assert not table.exists() and not first.staged.exists()
        committed = sum(w["rows"] for w in json.loads(first.default_checkpoint().read_text())["windows"])
        assert 0 < committed < 300 and any(parts_dir_for(first.default_checkpoint()).iterdir())
        second = StagedTableSink(table, state)
        report = await extract(client, ExtractConfig(query=query, slices=2, resume=True), second)
    assert report.resumed_rows == committed and report.rows == 300 and report.output == str(table)
    assert second.calls[0] == "open" and second.calls[-1] == "commit" and "abort" not in second.calls
    written = pa.ipc.open_stream(str(table)).read_all()
    assert_table_matches(written, brute_force(emulator.emulator.store.all_meetings(), query))
    assert listing(tmp_path) == ["meetings.arrow", "state"]
    assert listing(state) == []  # checkpoint, its lock and its parts: gone
