"""An existing file is replaced only when it is the tool's own output, or with --overwrite (through the real CLI).

The rule (:func:`connector.extract.sinks.is_extract_output`, :func:`connector.load.results.is_results_file`):
an empty file, a Parquet file with the ``connector.schema_version`` key, a CSV/JSON Lines file shaped exactly
as an extract writes it, or a results file; anything else ends in a one-line error naming the file and
--overwrite, exit 2, the file untouched and nothing sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import client_config
from load_helpers import meeting_rows, posts, run_load, write_rows
from objectstore_helpers import S3, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector import AttioClient, MeetingQuery
from connector.cli import main
from connector.errors import ConfigError
from connector.extract import ExtractConfig, extract, sink_for_path

# A user's spreadsheet of meetings to import: a header like ours, but not ours.
SPREADSHEET = b"meeting_id,title,start,end\n,Kick-off,2026-12-01T10:00:00Z,2026-12-01T11:00:00Z\n"


def _user_file(path: Path) -> bytes:
    if path.suffix == ".parquet":
        pq.write_table(pa.table({"title": ["Kick-off"], "start": ["2026-12-01"]}), path)
    elif path.suffix == ".jsonl":
        path.write_bytes(b'{"meeting_id": null, "title": "Kick-off"}\n')
    else:
        path.write_bytes(SPREADSHEET)
    return path.read_bytes()


def _extract(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    code = main(["extract", "--base-url", emulator.url, "--read-rate", "0", "-q", *args])
    return code, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def cli(emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``extract ARGS`` against the emulator: (exit code, stderr)."""
    return lambda *args: _extract(emulator, monkeypatch, capsys, *args)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_file_the_tool_did_not_write_is_refused_then_replaced_with_overwrite_then_rerun_without_it(
    cli: Any, emulator: Any, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"meetings.{fmt}"
    before = _user_file(out)
    code, err = cli("--output", str(out))
    line = _one_line(err)
    assert code == 2 and str(out) in line and "--overwrite" in line and "not a" in line
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert emulator.emulator.stats.count(method="GET") == 0  # refused before the first request

    assert cli("--output", str(out), "--overwrite")[0] == 0
    assert out.read_bytes() != before
    os.utime(out, (0, 0))
    # The daily rerun of the same command replaces its own output without the flag.
    assert cli("--output", str(out))[0] == 0
    assert out.stat().st_mtime > 0  # a new file
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_an_empty_file_is_replaced_without_the_flag(cli: Any, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"m.{fmt}"
    out.touch()
    assert cli("--output", str(out))[0] == 0
    assert out.stat().st_size > 0


def test_an_extract_that_found_nothing_is_replaced_on_the_next_run(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.csv"
    window = ["--ends-from", "1990-01-01", "--starts-before", "1990-01-02"]
    assert _extract(emulator, monkeypatch, capsys, "--output", str(out), *window)[0] == 0
    assert len(out.read_text().splitlines()) == 1  # the header alone
    assert _extract(emulator, monkeypatch, capsys, "--output", str(out))[0] == 0
    assert len(out.read_text().splitlines()) > 1


def test_several_tables_refuse_a_foreign_file_in_the_folder(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    args = ["--output", str(folder), "--tables", "meetings,call_recordings", "--format", "csv"]
    assert _extract(emulator, monkeypatch, capsys, *args)[0] == 0
    assert _extract(emulator, monkeypatch, capsys, *args)[0] == 0  # both tables' own files: replaced
    mine = folder / "call_recordings.csv"
    mine.write_bytes(SPREADSHEET)
    code, err = _extract(emulator, monkeypatch, capsys, *args)
    assert code == 2 and str(mine) in _one_line(err) and mine.read_bytes() == SPREADSHEET


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--partition-by", "start_month"], "--overwrite is for a single output file"),
        (["--output", "duckdb:///x.duckdb"], "--overwrite is for file outputs"),
    ],
    ids=["partitioned", "database"],
)
def test_overwrite_where_it_means_nothing_is_refused(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    words: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--output", str(tmp_path / "ds"), "--overwrite", *extra]
    code, err = _extract(emulator, monkeypatch, capsys, *args)
    assert code == 2 and words in _one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_pipe_or_device_is_never_replaced_even_with_overwrite(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "m.csv"
    os.mkfifo(fifo)
    code, err = _extract(emulator, monkeypatch, capsys, "--output", str(fifo), "--overwrite")
    assert code == 2 and f"output {fifo} is not a regular file" in _one_line(err)
    assert fifo.is_fifo()


@pytest.mark.parametrize("target", ["empty", "ours", "dangling", "stdout"])
def test_a_symbolic_link_is_never_replaced_even_with_overwrite(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
) -> None:
    # `--output /dev/stdout > out.txt` once replaced the system's /dev/stdout link with a file: a rename onto a
    # link replaces the link. An empty target or one of our own outputs would pass the content check.
    real = tmp_path / "real.csv"
    if target == "empty":
        real.write_bytes(b"")
    elif target == "ours":
        assert _extract(emulator, monkeypatch, capsys, "--output", str(real))[0] == 0
    before = real.read_bytes() if real.exists() else None
    link = tmp_path / "m.csv"
    link.symlink_to("/proc/self/fd/1" if target == "stdout" else real)
    for extra in ([], ["--overwrite"]):
        code, err = _extract(emulator, monkeypatch, capsys, "--output", str(link), *extra)
        assert code == 2 and f"output {link} is a symbolic link" in _one_line(err)
        assert link.is_symlink() and (real.read_bytes() if real.exists() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"m.csv", *([real.name] if before is not None else [])}
    )


def test_load_results_on_a_symbolic_link_are_refused(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    link = tmp_path / "results.parquet"
    link.symlink_to(tmp_path / "elsewhere.parquet")
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(link), "--overwrite")
    assert run.code == 2 and f"results file {link} is a symbolic link" in _one_line(run.err)
    assert link.is_symlink() and posts(emulator) == 0


def test_a_file_that_appears_while_the_extract_runs_is_not_replaced(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"

    def appear(_: Any) -> None:
        if not out.exists():
            out.write_bytes(SPREADSHEET)

    async def go() -> Any:
        cfg = ExtractConfig(query=MeetingQuery(limit=50), slices=2, on_progress=appear)
        async with AttioClient(client_config(emulator)) as client:
            return await extract(client, cfg, sink_for_path(out))

    with pytest.raises(ConfigError, match="exists and is not a csv file this tool wrote"):
        anyio.run(go)
    assert out.read_bytes() == SPREADSHEET


@pytest.mark.parametrize("name", ["meetings.parquet", "meetings.csv"])
def test_an_object_the_tool_did_not_write_is_refused_then_replaced_with_overwrite(
    s3: S3, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    local = s3.scratch.parent / name
    s3.put(f"attio/{name}", _user_file(local))
    before = s3.get(f"attio/{name}")
    url = s3.url(f"attio/{name}")
    code, err = _extract(emulator, monkeypatch, capsys, "--output", url)
    line = _one_line(err)
    assert code == 2 and url in line and "--overwrite" in line and s3.get(f"attio/{name}") == before
    assert _extract(emulator, monkeypatch, capsys, "--output", url, "--overwrite")[0] == 0
    assert s3.get(f"attio/{name}") != before
    assert _extract(emulator, monkeypatch, capsys, "--output", url)[0] == 0  # its own output: replaced


# ---------------------------------------------------------------------------------------------- results files


def test_load_results_refused_then_replaced_with_overwrite(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    results = tmp_path / "out.csv"
    results.write_bytes(SPREADSHEET)
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(results))
    assert run.code == 2 and "--overwrite" in _one_line(run.err) and str(results) in run.err
    assert results.read_bytes() == SPREADSHEET and posts(emulator) == 0
    assert (
        run_load(emulator, monkeypatch, capsys, str(source), "--results", str(results), "--overwrite").code
        == 0
    )
    assert results.read_text().startswith("row_number,external_ref,outcome")
    assert run_load(emulator, monkeypatch, capsys, str(source), "--results", str(results)).code == 0


def test_load_results_on_a_store_follow_the_same_rule(
    s3: S3, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    s3.put("import/results.csv", SPREADSHEET)
    url = s3.url("import/results.csv")
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", url)
    assert run.code == 2 and url in _one_line(run.err) and "--overwrite" in run.err
    assert s3.get("import/results.csv") == SPREADSHEET and posts(emulator) == 0
    assert run_load(emulator, monkeypatch, capsys, str(source), "--results", url, "--overwrite").code == 0
    assert s3.get("import/results.csv").startswith(b"row_number,external_ref,outcome")
    assert run_load(emulator, monkeypatch, capsys, str(source), "--results", url).code == 0


def test_load_recordings_results_refused_then_replaced_with_overwrite(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    meeting = emulator.emulator.store.all_meetings()[0]["id"]["meeting_id"]
    vtt = tmp_path / f"{meeting}.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ana>Hello\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text("[meeting]\nfilename_pattern = '(?P<meeting_id>[0-9a-f-]{36})'\n", encoding="utf-8")
    results = tmp_path / "r.parquet"
    pq.write_table(pa.table({"a": [1]}), results)
    before = results.read_bytes()
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    args = [
        "load-recordings",
        str(vtt),
        "--mapping",
        str(mapping),
        "--results",
        str(results),
        "--dry-run",
        "-q",
    ]
    assert main(args) == 2
    assert "--overwrite" in _one_line(capsys.readouterr().err) and results.read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    assert pq.read_schema(results).names[:3] == ["input", "meeting_id", "call_recording_id"]
