"""The files of an extract: no path may be another's, nothing the extract did not write is ever deleted, one run
per output at a time. Every case runs the real CLI against the emulator and checks the folder byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config

from connector import AttioClient, ConfigError, MeetingQuery
from connector.cli import main
from connector.extract import ExtractConfig, ParquetSink, extract, extract_batches

USER_TEXT = b"my own notes, not an extract's\n"


class Stop(Exception):
    pass


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under ``folder``: file bytes, symlink targets, folders."""
    out: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = ("link", os.readlink(path))
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = path.read_bytes()
    return out


def foreign_parquet(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"meeting_id": ["not ours"]}), path)


def extract_cli(emulator: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    return main(["extract", "--base-url", emulator.url, "--read-rate", "0", "--quiet", *args])


Setup = Callable[[Path], None]


def nothing(tmp: Path) -> None:
    pass


def user_file(name: str, content: bytes = USER_TEXT) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)

    return setup


def symlink(name: str, target: str) -> Setup:
    return lambda tmp: (tmp / name).symlink_to(target)


def folder(name: str) -> Setup:
    return lambda tmp: (tmp / name).mkdir(parents=True)


def both(*steps: Setup) -> Setup:
    def setup(tmp: Path) -> None:
        for step in steps:
            step(tmp)

    return setup


REFUSED = [
    # --checkpoint is the output, however spelled
    pytest.param(nothing, ["-o", "m.parquet", "--checkpoint", "m.parquet"], "is the same file as the output", id="cp-is-output"),
    pytest.param(user_file("m.parquet"), ["-o", "m.parquet", "--checkpoint", "./m.parquet"], "same file as the output",
                 id="cp-is-existing-output-dot-slash"),
    pytest.param(both(folder("sub"), user_file("m.csv")), ["-o", "m.csv", "--checkpoint", "sub/../m.csv"], "same file",
                 id="cp-is-output-dot-dot"),
    pytest.param(both(user_file("m.parquet"), symlink("cp.json", "m.parquet")), ["-o", "m.parquet", "--checkpoint", "cp.json"],
                 "same file as the output", id="cp-symlink-to-output"),
    pytest.param(both(user_file("cp.json"), symlink("out.jsonl", "cp.json")), ["-o", "out.jsonl", "--checkpoint", "cp.json"],
                 "same file as the output", id="output-symlink-to-cp"),
    pytest.param(nothing, ["-o", "m.parquet", "--checkpoint", "m.parquet.partial"], "temporary copy", id="cp-is-staging"),
    pytest.param(nothing, ["-o", "m.parquet", "--checkpoint", "m.parquet.lock"], "lock file", id="cp-is-output-lock"),
    pytest.param(nothing, ["-o", "m.parts", "--format", "csv", "--checkpoint", "m.checkpoint.json"],
                 "folder of part files m.parts is the same file as the output", id="output-is-parts-folder"),
    # a path inside another's folder
    pytest.param(nothing, ["-o", "ds", "--partition-by", "start_month", "--checkpoint", "ds/cp.json"],
                 "inside the output", id="cp-inside-dataset"),
    pytest.param(nothing, ["-o", "x.parts/m.parquet", "--checkpoint", "x.json"], "inside the folder of part files",
                 id="output-inside-parts"),
    # a file at the checkpoint's path that is not a checkpoint
    pytest.param(user_file("notes.txt"), ["-o", "m.parquet", "--checkpoint", "notes.txt"], "is not an extract checkpoint",
                 id="cp-is-user-text"),
    pytest.param(user_file("notes.txt"), ["-o", "m.parquet", "--checkpoint", "notes.txt", "--resume"],
                 "is not an extract checkpoint", id="cp-is-user-text-resume"),
    pytest.param(user_file("conf.json", b'{"format": "mine"}'), ["-o", "m.parquet", "--checkpoint", "conf.json"],
                 "is not an extract checkpoint", id="cp-is-user-json"),
    pytest.param(user_file("m.parquet.checkpoint.json"), ["-o", "m.parquet"], "is not an extract checkpoint",
                 id="default-cp-path-holds-user-file"),
    pytest.param(folder("cpdir"), ["-o", "m.parquet", "--checkpoint", "cpdir"], "is a directory", id="cp-is-folder"),
    # part files' folder that is not the extract's
    pytest.param(user_file("data.parts/keep.txt"), ["-o", "m.parquet", "--checkpoint", "data.json"],
                 "which the extract did not write", id="parts-folder-holds-user-file"),
    pytest.param(user_file("data.parts"), ["-o", "m.parquet", "--checkpoint", "data.json"], "is not a folder",
                 id="parts-folder-is-a-file"),
    # the staging path holds something the extract did not leave there
    pytest.param(user_file("m.parquet.partial"), ["-o", "m.parquet"], "in the way of the output's temporary copy",
                 id="staging-is-user-file"),
    pytest.param(user_file("ds.partial/x.txt"), ["-o", "ds", "--partition-by", "start_month"], "temporary copy",
                 id="dataset-staging-is-user-folder"),
    # an output of the wrong kind
    pytest.param(user_file("out/keep.txt"), ["-o", "out", "--format", "parquet"], "is a folder", id="file-output-is-folder"),
    pytest.param(nothing, ["-o", "."], "is a folder", id="file-output-is-dot"),
    pytest.param(user_file("m.parquet"), ["-o", "m.parquet", "--partition-by", "start_month"], "is a file",
                 id="dataset-output-is-file"),
    pytest.param(user_file("ds/start_month=2025-01"), ["-o", "ds", "--partition-by", "start_month"],
                 "is a file where a month's folder belongs", id="dataset-month-is-file"),
    pytest.param(lambda tmp: foreign_parquet(tmp / "ds/start_month=2025-01/part-0.parquet"),
                 ["-o", "ds", "--partition-by", "start_month"], "was not written by this version", id="dataset-foreign-part"),
    pytest.param(both(user_file("elsewhere.parquet"), folder("ds/start_month=2025-01"),
                      symlink("ds/start_month=2025-01/part-0.parquet", "../../elsewhere.parquet")),
                 ["-o", "ds", "--partition-by", "start_month"], "was not written", id="dataset-part-is-symlink"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "args", "message"), REFUSED)
def test_a_path_that_is_not_the_extracts_is_refused_and_untouched(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: Setup,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    before = snapshot(tmp_path)
    assert extract_cli(emulator, monkeypatch, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert "nothing was changed" in err[0] and "hint:" in err[0]
    assert snapshot(tmp_path) == before
    assert emulator.emulator.stats.count(method="GET") == 0  # refused before the first request


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-o", "m.parquet", "--checkpoint", "state/cp.json"], id="cp-in-subfolder"),
        pytest.param(["-o", "out/m.csv", "--checkpoint", "out/m.csv.json"], id="cp-beside-output"),
        pytest.param(
            ["-o", "ds", "--partition-by", "start_month", "--checkpoint", "ds.json"], id="dataset-cp-beside"
        ),
        pytest.param(["-o", "M.jsonl", "--checkpoint", "m.jsonl.json"], id="other-case-other-name"),
    ],
)
def test_distinct_paths_run_and_leave_only_the_output(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_bytes(USER_TEXT)
    assert extract_cli(emulator, monkeypatch, "--slices", "2", "--batch-size", "50", *args) == 0
    output = Path(args[1])
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert {p for p in left if not p.startswith(args[1])} == {"keep.txt"}  # no checkpoint, parts or lock left
    assert (tmp_path / "keep.txt").read_bytes() == USER_TEXT
    assert output.exists()


def test_a_stale_checkpoint_is_replaced_but_a_user_file_among_its_parts_is_not(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale checkpoint is the extract's own: a fresh run replaces it, its parts and its staged copy, nothing else."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "m.parquet"

    async def interrupted() -> None:
        seen = []

        def stop(rows: int, pages: int) -> None:
            seen.append(pages)
            if len(seen) == 3:  # two batches committed, then the run fails
                raise Stop

        cfg = ExtractConfig(query=MeetingQuery(limit=10), slices=1, batch_size=10, progress=stop)
        async with AttioClient(client_config(emulator)) as client:
            await extract(client, cfg, ParquetSink(out))

    with pytest.raises(Stop):
        anyio.run(interrupted)
    assert (tmp_path / "m.parquet.checkpoint.json").exists()
    (tmp_path / "m.parquet.parts" / "mine.txt").write_bytes(USER_TEXT)  # someone's file among the parts
    assert (
        extract_cli(emulator, monkeypatch, "-o", "m.parquet") == 2
    )  # refused: that folder is no longer only ours
    (tmp_path / "m.parquet.parts" / "mine.txt").unlink()
    assert extract_cli(emulator, monkeypatch, "-o", "m.parquet") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]
    assert pq.read_metadata(out).num_rows == 300


def test_an_output_with_no_name_is_refused(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert extract_cli(emulator, monkeypatch, "-o", "/", "--partition-by", "start_month") == 2
    assert "has no name" in capsys.readouterr().err


def test_the_current_folder_can_be_the_dataset(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_bytes(USER_TEXT)
    monkeypatch.chdir(tmp_path / "ds")
    assert extract_cli(emulator, monkeypatch, "-o", ".", "--partition-by", "start_month") == 0
    assert (tmp_path / "ds" / "keep.txt").read_bytes() == USER_TEXT
    assert (
        sum(pq.read_metadata(p).num_rows for p in (tmp_path / "ds").glob("start_month=*/part-0.parquet"))
        == 300
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # its scratch files beside it, then gone


# ------------------------------------------------------------------------------------------- one run at a time


def _committed(checkpoint: Path) -> int:
    try:
        return sum(w["rows"] for w in json.loads(checkpoint.read_text())["windows"])
    except (FileNotFoundError, ValueError):
        return 0


def wait_for_rows(proc: subprocess.Popen[str], checkpoint: Path, rows: int) -> None:
    """Until the extract in ``proc`` has committed ``rows`` rows to its checkpoint (polled: it is another process)."""
    deadline = time.monotonic() + 60
    while _committed(checkpoint) < rows:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the extract made no progress"
        time.sleep(0.01)


def start_extract(emu: Any, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ATTIO_API_KEY": emu.token}
    cmd = [sys.executable, "-m", "connector", "extract", "--base-url", emu.url, "--quiet", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        pytest.param(["-o", "m.parquet"], ["-o", "m.parquet"], "output m.parquet is in use by another extract", id="same-output"),
        pytest.param(["-o", "m.parquet"], ["-o", "./m.parquet", "--checkpoint", "other.json"], "is in use by another extract",
                     id="same-output-other-spelling-and-checkpoint"),
        pytest.param(["-o", "a.csv", "--checkpoint", "cp.json"], ["-o", "b.csv", "--checkpoint", "cp.json"],
                     "checkpoint cp.json is in use by another extract", id="same-checkpoint"),
        pytest.param(["-o", "ds", "--partition-by", "start_month"], ["-o", "ds", "--partition-by", "start_month", "--resume"],
                     "output ds is in use by another extract", id="dataset-resume"),
    ],
)  # fmt: skip
def test_a_second_extract_of_the_same_files_stops_at_once(
    make_emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: list[str],
    second: list[str],
    message: str,
) -> None:
    emu = make_emulator(meetings=300, latency_ms=30)
    monkeypatch.chdir(tmp_path)
    tuning = ["--page-size", "10", "--slices", "2", "--batch-size", "20"]
    proc = start_extract(emu, *tuning, *first)
    checkpoint = (
        Path(first[first.index("--checkpoint") + 1])
        if "--checkpoint" in first
        else Path(f"{first[1]}.checkpoint.json")
    )
    try:
        wait_for_rows(proc, tmp_path / checkpoint, 20)
        requests = emu.emulator.stats.count(method="GET")
        assert extract_cli(emu, monkeypatch, *tuning, *second) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        _, first_err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, first_err
    assert emu.emulator.stats.count(method="GET") > requests  # only the first run went on asking
    output = tmp_path / first[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        output.name
    ]  # no stale parts, checkpoint or lock beside it
    if output.suffix != ".csv":
        table = pq.read_table(output)
        table = table.drop_columns(["start_month"]) if "start_month" in table.column_names else table
        assert_table_matches(table, brute_force(emu.emulator.store.all_meetings(), MeetingQuery()))


@pytest.mark.parametrize("target", ["ds", "m.parquet"])
def test_an_output_in_use_is_in_use_through_a_symlink(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    # Locks were taken beside the path as written: `-o dslink` (-> ds) ran while `-o ds` was publishing into ds.
    from connector.locks import FileLock

    monkeypatch.chdir(tmp_path)
    args = ["--partition-by", "start_month"] if target == "ds" else []
    if target == "ds":
        Path("ds").mkdir()
    Path("link").symlink_to(target, target_is_directory=target == "ds")
    busy = FileLock(tmp_path / f"{target}.lock")  # stands in for an extract of `target` running
    assert busy.acquire()
    try:
        assert extract_cli(emulator, monkeypatch, "-o", "link", *args) == 2
    finally:
        busy.release()
    assert "is in use by another extract" in capsys.readouterr().err
    assert emulator.emulator.stats.count(method="GET") == 0


def test_a_second_library_extract_is_refused_while_the_first_runs(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    outcome: dict[str, Any] = {}

    async def run() -> None:
        async with AttioClient(client_config(emulator)) as client:

            async def second() -> None:
                with pytest.raises(ConfigError, match="is in use by another extract") as info:
                    await extract(client, ExtractConfig(), ParquetSink(out))
                outcome["second"] = info.value
                cp_cfg = ExtractConfig(checkpoint=tmp_path / "m.parquet.checkpoint.json")
                with pytest.raises(ConfigError, match="in use by another extract"):
                    async for _ in extract_batches(client, cp_cfg):
                        pass

            def progress(rows: int, pages: int) -> None:
                if "started" not in outcome:
                    outcome["started"] = True
                    tg.start_soon(second)

            async with anyio.create_task_group() as tg:
                cfg = ExtractConfig(query=MeetingQuery(limit=20), slices=1, batch_size=20, progress=progress)
                outcome["report"] = await extract(client, cfg, ParquetSink(out))

    anyio.run(run)
    assert outcome["report"].rows == 300 and "second" in outcome
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet"]


@pytest.mark.parametrize("api", ["extract-callable", "extract_batches"])
@pytest.mark.parametrize("content", [USER_TEXT, b'{"windows": "mine"}', b""], ids=["text", "json", "empty"])
def test_the_library_never_takes_a_user_file_for_a_checkpoint(
    emulator: Any, tmp_path: Path, api: str, content: bytes
) -> None:
    from connector.extract import CallableSink

    path = tmp_path / "state.json"
    path.write_bytes(content)

    async def go() -> None:
        cfg = ExtractConfig(checkpoint=path)
        async with AttioClient(client_config(emulator)) as client:
            if api == "extract_batches":
                async for _ in extract_batches(client, cfg):
                    pass
            else:
                await extract(client, cfg, CallableSink(lambda batch: None))

    with pytest.raises(ConfigError, match="is not an extract checkpoint"):
        anyio.run(go)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
