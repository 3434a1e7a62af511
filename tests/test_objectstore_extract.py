"""``extract --output s3://...`` against a real S3-compatible server (moto) on loopback, through the real CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config
from objectstore_helpers import S3, SECRET, killed_then_resumed, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector import AttioClient, MeetingQuery
from connector.cli import main
from connector.extract import ExtractConfig, extract
from connector.storage import ObjectStoreSink, StoreUnreachableError

MULTILINE = pacsv.ParseOptions(newlines_in_values=True)


def _cli(emulator: Any, *args: str) -> list[str]:
    return ["extract", "--base-url", emulator.url, "--read-rate", "0", "--quiet", "--json", *args]


def _all(emulator: Any, **filters: Any) -> dict[str, dict[str, Any]]:
    return brute_force(emulator.emulator.store.all_meetings(), MeetingQuery(**filters))


def _token_env(monkeypatch: pytest.MonkeyPatch, emulator: Any) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)


def _jsonl_table(data: bytes) -> pa.Table:
    rows = [orjson.loads(line) for line in data.splitlines()]
    return pa.table({"meeting_id": [r["meeting_id"] for r in rows]})


@pytest.mark.parametrize(
    "name", ["meetings.parquet", "meetings.csv", "meetings.jsonl"], ids=["parquet", "csv", "jsonl"]
)
def test_one_file_in_each_format_lands_whole_at_the_key(
    s3: S3, emulator: Any, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _token_env(monkeypatch, emulator)
    url = s3.url(f"attio/{name}")
    assert main(_cli(emulator, "--output", url, "--slices", "3", "--page-size", "50")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output"] == url and report["rows"] == 300
    assert s3.keys() == [f"attio/{name}"]
    data = s3.get(f"attio/{name}")
    expected = _all(emulator)
    if name.endswith(".parquet"):
        assert_table_matches(pq.read_table(s3.buffer(f"attio/{name}")), expected)
    elif name.endswith(".csv"):
        ids = (
            pacsv.read_csv(s3.buffer(f"attio/{name}"), parse_options=MULTILINE)
            .column("meeting_id")
            .to_pylist()
        )
        assert sorted(ids) == sorted(expected)
    else:
        assert sorted(_jsonl_table(data).column("meeting_id").to_pylist()) == sorted(expected)
    assert s3.scratch_files() == []  # the local copy, checkpoint and parts are gone
    assert SECRET.encode() not in data


def test_partitioned_dataset_has_its_months_then_success(
    s3: S3, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token_env(monkeypatch, emulator)
    url = s3.url("lake/meetings")
    assert main(_cli(emulator, "--output", url, "--partition-by", "start_month")) == 0
    keys = s3.keys()
    assert "lake/meetings/_SUCCESS" in keys and s3.get("lake/meetings/_SUCCESS") == b""
    listed = s3.moto.client().list_objects_v2(Bucket=s3.bucket)["Contents"]
    assert max(listed, key=lambda o: (o["LastModified"], o["Key"] == "lake/meetings/_SUCCESS"))[
        "Key"
    ].endswith("_SUCCESS")
    months = [k for k in keys if k.endswith("/part-0.parquet")]
    assert len(months) == len(keys) - 1 and all(k.startswith("lake/meetings/start_month=") for k in months)
    table = pa.concat_tables(pq.read_table(s3.buffer(k)) for k in months)
    assert_table_matches(table, _all(emulator))
    assert s3.scratch_files() == []


def test_a_dataset_run_over_part_of_a_month_merges_and_keeps_other_files(
    s3: S3, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _token_env(monkeypatch, emulator)
    url = s3.url("lake/meetings")
    s3.put("lake/meetings/README.txt", b"not the extract's")
    assert main(_cli(emulator, "--output", url, "--partition-by", "start_month")) == 0
    before = {k: s3.get(k) for k in s3.keys() if k.endswith(".parquet")}
    middle = sorted(before)[len(before) // 2]
    month = middle.split("start_month=")[1].split("/")[0]
    # A run from the middle of that month on: that month is merged, the months before it are left alone.
    assert (
        main(
            _cli(
                emulator,
                "--output",
                url,
                "--partition-by",
                "start_month",
                "--ends-from",
                f"{month}-15T00:00:00Z",
            )
        )
        == 0
    )
    after = {k: s3.get(k) for k in s3.keys() if k.endswith(".parquet")}
    assert set(after) == set(before)
    assert s3.get("lake/meetings/README.txt") == b"not the extract's"
    table = pa.concat_tables(pq.read_table(s3.buffer(k)) for k in after)
    assert_table_matches(table, _all(emulator))
    assert all(after[k] == before[k] for k in after if k < middle)


def test_a_foreign_object_in_a_month_folder_is_refused_before_any_request(
    s3: S3, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _token_env(monkeypatch, emulator)
    s3.put("lake/start_month=2026-01/part-0.parquet", b"someone else's")
    before = emulator.emulator.requests if hasattr(emulator.emulator, "requests") else None
    assert main(_cli(emulator, "--output", s3.url("lake"), "--partition-by", "start_month")) == 2
    err = capsys.readouterr().err.strip()
    assert "was not written by this version of the extract; nothing was changed" in err and "\n" not in err
    assert s3.get("lake/start_month=2026-01/part-0.parquet") == b"someone else's"
    assert before is None or emulator.emulator.requests == before


def test_sigkill_then_resume_leaves_nothing_at_the_key_then_all(
    s3: S3, make_emulator: Any, tmp_path: Path
) -> None:
    emulator = make_emulator(meetings=300, latency_ms=40)
    killed_then_resumed(emulator, s3.url("m.parquet"), s3.scratch, s3.keys)
    assert_table_matches(pq.read_table(s3.buffer("m.parquet")), _all(emulator))
    assert s3.scratch_files() == []


@pytest.mark.anyio
async def test_store_going_away_before_the_upload_keeps_the_checkpoint_and_resume_publishes(
    s3: S3, emulator: Any
) -> None:
    sink = ObjectStoreSink(s3.url("m.parquet"))
    stopped: list[bool] = []

    def stop_store(rows: int, pages: int) -> None:
        if not stopped:
            stopped.append(True)
            s3.moto.stop()  # the store goes away while the meetings are being fetched

    os.environ["AWS_MAX_ATTEMPTS"] = "2"
    try:
        async with AttioClient(client_config(emulator)) as client:
            with pytest.raises(
                StoreUnreachableError, match=r"writing s3://.*/m.parquet: S3 could not be reached"
            ):
                await extract(
                    client, ExtractConfig(query=MeetingQuery(limit=20), slices=2, progress=stop_store), sink
                )
        s3.moto.start()
        assert s3.keys() == []
        async with AttioClient(client_config(emulator)) as client:
            report = await extract(
                client,
                ExtractConfig(query=MeetingQuery(limit=20), slices=2, resume=True),
                ObjectStoreSink(s3.url("m.parquet")),
            )
    finally:
        del os.environ["AWS_MAX_ATTEMPTS"]
        if s3.moto.server is None:
            s3.moto.start()
    assert report.pages == 0 and report.resumed_rows == 300  # nothing fetched again
    assert_table_matches(pq.read_table(s3.buffer("m.parquet")), _all(emulator))


def test_extract_to_path_takes_a_url_too(s3: S3, emulator: Any) -> None:
    from connector.extract import extract_to_path

    report = extract_to_path(s3.url("lib/m.jsonl"), client_config=client_config(emulator))
    assert report.output == s3.url("lib/m.jsonl") and report.rows == 300
    assert s3.keys() == ["lib/m.jsonl"] and not Path("s3:").exists()
