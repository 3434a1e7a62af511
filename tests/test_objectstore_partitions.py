"""Datasets by workspace and month on a real S3 server (moto), and S3 credentials handed over in-process
(:class:`connector.storage.S3Settings`, what the Airflow connection and the Dagster resource give)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config
from objectstore_helpers import KEY_ID, S3, SECRET, moto_fixture, s3_fixture, without_aws_environment  # noqa: F401 - fixtures

from connector import ClientConfig, MeetingQuery
from connector.cli import main
from connector.emulator.config import Workspace
from connector.errors import ConfigError
from connector.extract import extract_to_path
from connector.storage import ObjectStoreSink, S3Settings
from connector.storage.location import StoreLocation, open_filesystem

ACME = Workspace("acme-token", meetings=150, seed=41, read_rate=0, write_rate=0)
GLOBEX = Workspace("globex-token", meetings=90, seed=42, read_rate=0, write_rate=0)
BY_BOTH = ["--partition-by", "workspace_id,start_month"]


def _cli(emu: Any, monkeypatch: pytest.MonkeyPatch, token: str, *args: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", token)
    return main(["extract", "--base-url", emu.url, "--read-rate", "0", "--quiet", *args])


def test_two_workspaces_in_one_dataset_prefix_then_success(
    s3: S3, make_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator(workspaces=(ACME, GLOBEX), read_rate=0)
    url = s3.url("lake/meetings")
    for workspace in (ACME, GLOBEX):
        assert _cli(emu, monkeypatch, workspace.token, "--output", url, *BY_BOTH) == 0
    keys = s3.keys()
    assert "lake/meetings/_SUCCESS" in keys and s3.get("lake/meetings/_SUCCESS") == b""
    listed = s3.moto.client().list_objects_v2(Bucket=s3.bucket)["Contents"]
    last = max(listed, key=lambda o: (o["LastModified"], o["Key"].endswith("_SUCCESS")))
    assert last["Key"] == "lake/meetings/_SUCCESS"  # written last (ties within a second: the marker wins)
    for workspace in (ACME, GLOBEX):
        prefix = f"lake/meetings/workspace_id={workspace.workspace_id}/start_month="
        mine = [k for k in keys if k.startswith(prefix)]
        assert mine and all(k.endswith("/part-0.parquet") and k.count("/") == 4 for k in mine)
        expected = brute_force(emu.emulator.workspaces[workspace.token].store.all_meetings(), MeetingQuery())
        assert_table_matches(pa.concat_tables(pq.read_table(s3.buffer(k)) for k in mine), expected)
    assert len(keys) == 1 + sum(1 for k in keys if k.endswith("/part-0.parquet"))
    assert s3.scratch_files() == []


def test_a_store_prefix_of_another_layout_is_refused(
    s3: S3, make_emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(workspaces=(ACME,), read_rate=0)
    url = s3.url("lake")
    assert _cli(emu, monkeypatch, ACME.token, "--output", url, "--partition-by", "start_month") == 0
    before = {k: s3.get(k) for k in s3.keys()}
    capsys.readouterr()
    assert _cli(emu, monkeypatch, ACME.token, "--output", url, *BY_BOTH) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "partitioned another way" in err and "nothing was changed" in err, err
    assert {k: s3.get(k) for k in s3.keys()} == before


@pytest.fixture
def no_aws_env(s3: S3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    """The moto server, but an environment without the AWS credentials or endpoint: only settings can reach it."""
    without_aws_environment(monkeypatch, tmp_path)
    return s3


def _settings(s3: S3, **changes: Any) -> S3Settings:
    return S3Settings(
        **({"access_key_id": KEY_ID, "secret_access_key": SECRET, "endpoint_url": s3.moto.url, "region": "us-east-1"}
           | changes)
    )  # fmt: skip


def test_settings_reach_the_store_in_process_only(no_aws_env: S3, emulator: Any) -> None:
    s3 = no_aws_env
    environ = dict(os.environ)
    settings = _settings(s3)
    report = extract_to_path(
        s3.url("lib/m.parquet"), client_config=client_config(emulator), store_settings=settings
    )
    assert report.rows == 300 and report.output == s3.url("lib/m.parquet")
    assert s3.keys() == ["lib/m.parquet"]
    assert (
        dict(os.environ) == environ
    )  # nothing put into the environment, for other tasks of the worker to see
    for text in (
        repr(settings),
        str(settings),
        json.dumps(report.to_dict(), default=str),
        repr(ObjectStoreSink(s3.url("x.csv"), settings=settings)),
    ):
        assert SECRET not in text and KEY_ID not in text
    assert SECRET.encode() not in s3.get("lib/m.parquet")


def test_without_settings_the_same_environment_has_no_credentials(no_aws_env: S3, emulator: Any) -> None:
    """The oracle of the test above: with this environment alone the store cannot be used."""
    with pytest.raises(ConfigError, match="no S3 credentials were found"):
        extract_to_path(
            no_aws_env.url("lib/m.parquet"),
            client_config=client_config(emulator),
            store_settings=_settings(no_aws_env, access_key_id=None, secret_access_key=None),
        )
    assert no_aws_env.keys() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"access_key_id": "AKIA"}, "both an access key ID and a secret", id="key-without-secret"),
        pytest.param({"secret_access_key": "s3cr3t-value"}, "both an access key ID and a secret", id="secret-without-key"),
        pytest.param({"session_token": "tok-value"}, "session token needs", id="token-alone"),
        pytest.param({"endpoint_url": "http://user:s3cr3t-value@minio:9000"}, "no user or password", id="endpoint-with-password"),
        pytest.param({"endpoint_url": "minio:9000"}, "http:// or https://", id="endpoint-without-scheme"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_without_echoing_them(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        S3Settings(**fields)
    assert "s3cr3t-value" not in str(info.value) and "tok-value" not in str(info.value)


def test_s3_settings_for_another_store_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"S3 credentials were given for gs://acme-lake/m\.parquet"):
        open_filesystem(StoreLocation.parse("gs://acme-lake/m.parquet"), S3Settings(region="eu-west-1"))


def test_settings_for_a_local_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a local path"):
        extract_to_path(
            tmp_path / "m.parquet", client_config=ClientConfig(token="t"), store_settings=S3Settings()
        )
    assert list(tmp_path.iterdir()) == []
