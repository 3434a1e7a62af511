"""An S3 output goes up while it is written (connector/storage/stream.py): parts as the file grows, the object only
at commit, nothing after an abort, and the whole file at commit when the store failed during the writes."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from objectstore_helpers import S3, CuttingProxy, cutting_fixture, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector.schema import meeting_arrow_schema
from connector.storage import ObjectStoreSink, StoreLocation, open_filesystem, s3session
from connector.storage.location import S3_PART_BYTES
from connector.storage.s3session import KEPT_SERVICES, LeanJSONFileLoader
from connector.storage.stream import PartStream

BATCH_ROWS = 8_192  # two batches make a row group (ROW_GROUP_ROWS): ~6 MiB of Parquet, more than a part


def _batches(count: int) -> Iterator[pa.RecordBatch]:
    """Meeting batches of random titles (base64 of random bytes: zstd cannot shrink them much)."""
    schema = meeting_arrow_schema()
    for n in range(count):
        columns: dict[str, Any] = {field.name: [None] * BATCH_ROWS for field in schema}
        columns |= {
            "meeting_id": [f"m-{n}-{i}" for i in range(BATCH_ROWS)],
            "workspace_id": ["w"] * BATCH_ROWS,
            "title": [base64.b64encode(os.urandom(420)).decode() for _ in range(BATCH_ROWS)],
            "description": [""] * BATCH_ROWS,
            "is_all_day": [False] * BATCH_ROWS,
            "participants": [[]] * BATCH_ROWS,
            "linked_records": [[]] * BATCH_ROWS,
            "created_at": [0] * BATCH_ROWS,
        }
        yield pa.RecordBatch.from_pydict(columns, schema=schema)


def _parts_in_flight(s3: S3, key: str) -> int:
    """How many parts the store holds of an unfinished upload at ``key`` (0: none)."""
    client = s3.moto.client()
    uploads = [
        u for u in client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) if u["Key"] == key
    ]
    if not uploads:
        return 0
    return len(client.list_parts(Bucket=s3.bucket, Key=key, UploadId=uploads[0]["UploadId"]).get("Parts", []))


def _until(ready: Any, timeout: float = 60) -> None:
    """Poll the store (another process) until ``ready()``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"not ready after {timeout} s"
        time.sleep(0.02)


def _sink(s3: S3, key: str) -> ObjectStoreSink:
    sink = ObjectStoreSink(s3.url(key))
    sink.check_destination()
    sink.open(meeting_arrow_schema(), {"connector.schema_version": "test"})
    return sink


def test_a_large_file_goes_up_while_written_and_appears_whole_only_at_commit(s3: S3) -> None:
    sink = _sink(s3, "big.parquet")
    batches = list(_batches(4))
    for batch in batches[:2]:
        sink.write(batch)
    _until(lambda: _parts_in_flight(s3, "big.parquet") >= 1)  # a part went up while the file was written
    assert s3.keys() == []  # and nothing is visible under the key
    for batch in batches[2:]:
        sink.write(batch)
    assert sink.commit() == s3.url("big.parquet")
    assert s3.unfinished_uploads() == [] and s3.keys() == ["big.parquet"]
    assert pq.read_table(s3.buffer("big.parquet")).equals(
        pa.Table.from_batches(batches), check_metadata=False
    )
    etag = s3.moto.client().head_object(Bucket=s3.bucket, Key="big.parquet")["ETag"]
    assert int(etag.strip('"').rsplit("-", 1)[1]) >= 2  # one object of several parts
    assert s3.scratch_files() == []


def test_an_aborted_write_leaves_no_object_and_no_unfinished_upload(s3: S3) -> None:
    sink = _sink(s3, "big.parquet")
    for batch in _batches(2):
        sink.write(batch)
    _until(lambda: _parts_in_flight(s3, "big.parquet") >= 1)
    sink.abort()
    assert s3.keys() == [] and s3.unfinished_uploads() == []


def test_a_store_that_blinks_during_the_writes_still_gets_the_whole_file_at_commit(
    s3: S3, cutting: CuttingProxy
) -> None:
    sink = _sink(s3, "big.parquet")
    cutting.cut_after(2 * 2**20)  # the first part never arrives
    batches = list(_batches(4))
    for batch in batches[:2]:
        sink.write(batch)
    cutting.heal()
    for batch in batches[2:]:
        sink.write(batch)
    sink.commit()
    assert s3.keys() == ["big.parquet"]
    assert pq.read_table(s3.buffer("big.parquet")).num_rows == 4 * BATCH_ROWS


def test_a_failed_part_stops_the_stream_and_leaves_the_upload_to_the_caller(
    s3: S3, cutting: CuttingProxy, tmp_path: Path
) -> None:
    location = StoreLocation.parse(s3.url("raw.bin"))
    stream = PartStream(open_filesystem(location), location)
    path = tmp_path / "raw.bin"
    path.write_bytes(b"")
    stream.start(path)
    cutting.cut_after(2**20)  # the store goes away under the first part
    path.write_bytes(os.urandom(S3_PART_BYTES + 1))
    stream.advance()
    assert stream.finish() is False  # not an error: the sink uploads the whole file instead
    cutting.heal()
    assert s3.keys() == []


@pytest.mark.parametrize(
    "size",
    [3 * 2**20, 2 * S3_PART_BYTES + 7],
    ids=["under-a-part", "two-parts-and-7-bytes"],
)
def test_a_part_stream_sends_exactly_the_file(s3: S3, tmp_path: Path, size: int) -> None:
    location = StoreLocation.parse(s3.url("raw.bin"))
    stream = PartStream(open_filesystem(location), location)
    path = tmp_path / "raw.bin"
    data = os.urandom(size)
    path.write_bytes(b"")
    stream.start(path)
    with path.open("ab") as f:
        for start in range(0, size, 2**20):
            f.write(data[start : start + 2**20])
            f.flush()
            stream.advance()
    streamed = stream.finish()
    assert streamed == (size >= S3_PART_BYTES)  # under one part, the caller PUTs the file
    if streamed:
        assert s3.get("raw.bin") == data
    assert s3.unfinished_uploads() == []


def test_the_s3_client_reads_botocores_data_lean_and_still_works(s3: S3) -> None:
    """The session under the client kept through the fetch parses botocore's data files into plain dicts and keeps
    of the endpoint table S3's entries only (connector/storage/s3session.py); another service's endpoints are
    read when asked for, and the client goes on working."""
    location = StoreLocation.parse(s3.url("lean/m.bin"))
    fs = open_filesystem(location)
    fs.pipe_file(location.path, b"still writes")  # the client is made
    assert s3.get("lean/m.bin") == b"still writes"
    loader = fs.session.get_component("data_loader")
    # a botocore upgrade that no longer reads through the loader's file_loader fails here
    assert isinstance(loader.file_loader, LeanJSONFileLoader)
    model = loader.load_service_model("s3", "service-2")
    assert type(model) is dict and type(model["shapes"]) is dict
    assert model["operations"]["PutObject"]["documentation"] == ""
    aws = next(p for p in loader.load_data("endpoints")["partitions"] if p["partition"] == "aws")
    assert aws["services"]._kept.keys() == {"s3"}
    # S3 is known from its own folder; the other ~400 are listed only when asked for
    known = loader.list_available_services("service-2")
    assert "s3" in known and known._all is None
    assert "sts" in known and "no-such-service" not in known and len(known) > 100
    # on demand: every service and region of the whole table
    assert "eu-west-1" in asyncio.run(fs.session.get_available_regions("sts"))
    assert "eu-west-1" in asyncio.run(fs.session.get_available_regions("s3"))
    fs.pipe_file(location.path, b"and again")
    assert s3.get("lean/m.bin") == b"and again"


_CLIENT_HEAP = """
import gc, os, tracemalloc
os.environ.update(AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_REGION="eu-west-1",
                  AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
from connector.storage import StoreLocation, open_filesystem
import s3fs, aiobotocore.client, aiobotocore.endpoint, aiobotocore.httpsession
tracemalloc.start()
fs = open_filesystem(StoreLocation.parse("s3://bucket/m.parquet"))
fs.connect()
gc.collect()
print(tracemalloc.get_traced_memory()[0])
"""


def test_the_s3_client_keeps_under_4_mb_of_python_objects() -> None:
    """What the S3 client keeps through the fetch (its own Python objects, measured by tracemalloc in a fresh
    process): 11.9 MB as botocore reads its data, 2.7 MB as connector/storage/s3session.py does. An upgrade of
    botocore, aiobotocore or s3fs that defeats it fails here."""
    done = subprocess.run([sys.executable, "-c", _CLIENT_HEAP], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    kept = int(done.stdout.split()[-1])
    assert kept < 4 * 2**20, f"the S3 client keeps {kept / 2**20:.1f} MB of Python objects"


def test_the_endpoint_table_is_cut_to_s3_before_it_is_parsed_as_the_whole_table_cut_after() -> None:
    """endpoints.json's text is cut to S3's entries before it is parsed (s3session._kept_text): the same table as
    the whole one parsed and cut, for the botocore installed. A layout it does not know is parsed whole."""
    path = Path(importlib.import_module("botocore").__file__).parent / "data" / "endpoints.json"
    text = path.read_text("utf-8")
    whole = json.loads(text, object_pairs_hook=s3session._plain)
    for partition in whole["partitions"]:
        partition["services"] = {n: s for n, s in partition["services"].items() if n in KEPT_SERVICES}
    cut = s3session._kept_text(text)
    assert len(cut) < len(text) / 10  # a botocore whose file no longer looks as expected fails here
    assert json.loads(cut, object_pairs_hook=s3session._plain) == whole
    compact = json.dumps(json.loads(text))
    assert s3session._kept_text(compact) == compact
