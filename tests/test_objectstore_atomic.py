"""The store going away half-way through a publish: nothing at the key (no completed partial object), then --resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config
from objectstore_helpers import S3, CuttingProxy, cutting_fixture, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector import AttioClient, MeetingQuery
from connector.extract import ExtractConfig, extract
from connector.storage import ObjectStoreSink, Store, StoreLocation, StoreUnreachableError, open_filesystem


def test_a_multipart_upload_cut_half_way_leaves_no_object(
    s3: S3, cutting: CuttingProxy, tmp_path: Path
) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(24 * 2**20))  # five parts of 5 MiB
    location = StoreLocation.parse(s3.url("big.bin"))
    store = Store(open_filesystem(location), location)
    cutting.cut_after(12 * 2**20)  # the store goes away after about half the bytes
    with pytest.raises(StoreUnreachableError, match=r"^writing s3://.*/big.bin: S3 could not be reached"):
        store.upload({local: location})
    cutting.heal()
    assert s3.keys() == []  # no destructor or retry completed the upload with the parts that got through
    store.upload({local: location})
    assert s3.get("big.bin") == local.read_bytes()
    etag = s3.moto.client().head_object(Bucket=s3.bucket, Key="big.bin")["ETag"]
    assert etag.strip('"').endswith("-5")  # one object made of five parts: a completed multipart upload


@pytest.mark.anyio
async def test_a_dataset_publish_cut_half_way_has_no_success_marker_and_resume_completes_it(
    s3: S3, cutting: CuttingProxy, emulator: Any
) -> None:
    url = s3.url("lake")
    armed: list[bool] = []

    def arm(rows: int, pages: int) -> None:  # once the checks before the fetch are done
        if not armed:
            armed.append(True)
            cutting.cut_after(60_000)

    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(StoreUnreachableError):
            config = ExtractConfig(query=MeetingQuery(limit=50), progress=arm)
            await extract(client, config, ObjectStoreSink(url, partition_by="start_month"))
    cutting.heal()
    published = s3.keys()
    assert published and "lake/_SUCCESS" not in published  # some months went up, each whole; no marker
    for key in published:
        pq.read_metadata(s3.buffer(key))  # every object there is a complete Parquet file
    async with AttioClient(client_config(emulator)) as client:
        config = ExtractConfig(query=MeetingQuery(limit=50), resume=True)
        report = await extract(client, config, ObjectStoreSink(url, partition_by="start_month"))
    assert report.pages == 0
    keys = s3.keys()
    assert "lake/_SUCCESS" in keys
    table = pa.concat_tables(pq.read_table(s3.buffer(k)) for k in keys if k.endswith(".parquet"))
    assert_table_matches(table, brute_force(emulator.emulator.store.all_meetings(), MeetingQuery()))
