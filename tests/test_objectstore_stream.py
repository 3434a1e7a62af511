"""An S3 output goes up while it is written (connector/storage/stream.py): parts as the file grows, the object only
at commit, nothing after an abort, and the whole file at commit when the store failed during the writes."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from objectstore_helpers import S3, CuttingProxy, cutting_fixture, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector.schema import meeting_arrow_schema
from connector.storage import ObjectStoreSink, StoreLocation, open_filesystem
from connector.storage.location import S3_PART_BYTES
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


def test_the_s3_client_lets_go_of_botocores_endpoint_table_and_still_works(s3: S3, tmp_path: Path) -> None:
    """The client kept through the fetch does not keep botocore's parsed endpoints.json (~7 MB) beside the
    meetings; the table is read again if anything asks for it, and the client goes on working."""
    location = StoreLocation.parse(s3.url("shed/m.bin"))
    fs = open_filesystem(location)
    loader = fs.session.get_component("data_loader")
    # a botocore upgrade that defeats the shedding fails here
    assert ("load_data_with_path", "endpoints") not in loader._cache
    resolver = fs.session._internal_components.get_component("endpoint_resolver")
    assert resolver.construct_endpoint("s3", "eu-west-1")["hostname"] == "s3.eu-west-1.amazonaws.com"
    fs.pipe_file(location.path, b"still writes")
    assert s3.get("shed/m.bin") == b"still writes"
