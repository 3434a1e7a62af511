"""Bad object-store inputs: one line, the README's exit code, nothing at the output key, no secret anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force
from objectstore_helpers import S3, SECRET, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector import MeetingQuery
from connector.cli import main
from connector.errors import ConfigError
from connector.storage import ObjectStoreSink, transfer


def _extract(emulator: Any, output: str, *extra: str) -> list[str]:
    return ["extract", "--base-url", emulator.url, "--read-rate", "0", "--quiet", "--output", output, *extra]


def _run(args: list[str], env: dict[str, str], **more_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        env={**os.environ, **env, **more_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _sweep(*texts: str | bytes) -> None:
    for text in texts:
        assert SECRET not in (text.decode(errors="replace") if isinstance(text, bytes) else text)


@pytest.fixture
def token(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    return emulator.token


def test_a_missing_bucket_is_exit_2_before_any_request(s3: S3, emulator: Any, token: str) -> None:
    done = _run(_extract(emulator, "s3://no-such-bucket-here/m.parquet"), s3.env)
    line = _one_line(done.stderr)
    assert done.returncode == 2
    assert (
        "checking s3://no-such-bucket-here/m.parquet: the bucket no-such-bucket-here does not exist" in line
    )
    assert "hint: create it first" in line
    _sweep(done.stderr, done.stdout)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/m.parquet", "--output ftp://host/m.parquet: unknown URL scheme ftp://"),
        ("hdfs://nn/m.parquet", "unknown URL scheme hdfs://"),
        ("s3://bucket/m.parquet?X-Amz-Signature=abc", "an object-store URL takes no ?query or #fragment"),
        ("s3://AKIA:sekrit@bucket/m.parquet", "a s3:// URL takes no user, password or port"),
        ("s3://b/m.parquet", "s3://b: not a valid bucket or container name"),
        ("s3://bucket/", "name an object under the bucket"),
        ("s3://bucket/a/../m.parquet", "no empty, '.' or '..' parts"),
        ("s3://bucket/m.txt", "'m.txt' has the suffix .txt"),
    ],
    ids=["ftp", "hdfs", "query", "userinfo", "short-bucket", "no-key", "dot-dot", "suffix"],
)
def test_a_url_that_cannot_be_an_output_is_exit_2(
    s3: S3, emulator: Any, token: str, url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_extract(emulator, url)) == 2
    err = capsys.readouterr().err
    assert message in _one_line(err)
    assert "sekrit" not in err and "X-Amz-Signature" not in err


@pytest.mark.parametrize("url", ["s3://bucket", "s3://bucket/", "s3://bucket//"])
def test_a_dataset_at_a_buckets_root_is_exit_2_with_a_prefix_to_use(
    s3: S3, emulator: Any, token: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The root of a bucket is shared with whatever else it holds: a dataset goes under a prefix of its own."""
    assert main(_extract(emulator, url, "--partition-by", "start_month")) == 2
    line = _one_line(capsys.readouterr().err)
    assert "name an object under the bucket" in line
    assert "or a prefix such as s3://bucket/attio/meetings for --partition-by" in line
    assert emulator.emulator.stats.requests == 0


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("gs://acme-lake/m.parquet", "gcs"),
        ("az://lake/m.parquet", "azure"),
        ("abfs://lake/m.parquet", "azure"),
    ],
    ids=["gcs", "azure", "abfs"],
)
def test_a_missing_extra_names_the_pip_install(
    s3: S3, emulator: Any, token: str, url: str, extra: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fsspec")
    import importlib.util

    module = {"gcs": "gcsfs", "azure": "adlfs"}[extra]
    assert importlib.util.find_spec(module) is None, f"{module} is installed: this test needs it absent"
    assert main(_extract(emulator, url)) == 2
    assert f"(hint: pip install 'connector[{extra}]')" in _one_line(capsys.readouterr().err)


def test_without_s3fs_the_error_says_pip_install_connector_s3(s3: S3, emulator: Any, tmp_path: Path) -> None:
    # A site folder that hides s3fs, as an install without the [s3] extra would.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['s3fs'] = None\n")
    done = _run(
        _extract(emulator, s3.url("m.parquet")), s3.env, PYTHONPATH=str(hide), ATTIO_API_KEY=emulator.token
    )
    assert done.returncode == 2
    assert _one_line(done.stderr) == (
        "error: s3:// URLs need the s3fs package, which is not installed (hint: pip install 'connector[s3]')"
    )


def test_an_unreachable_store_is_exit_4_before_any_request(s3: S3, emulator: Any, token: str) -> None:
    env = {**s3.env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "2"}
    done = _run(_extract(emulator, s3.url("m.parquet")), env)
    assert done.returncode == 4
    line = _one_line(done.stderr)
    assert f"checking {s3.url('m.parquet')}: S3 could not be reached" in line and "--resume continues" in line
    _sweep(done.stderr)


def test_aws_endpoint_url_s3_is_honoured_over_aws_endpoint_url(s3: S3, emulator: Any, token: str) -> None:
    env = {**s3.env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3": s3.moto.url}
    done = _run(_extract(emulator, s3.url("m.parquet")), env)
    assert done.returncode == 0, done.stderr
    assert s3.keys() == ["m.parquet"]


@pytest.fixture
def enforced(s3: S3) -> Iterator[dict[str, str]]:
    """Credentials of an IAM user who may read the bucket but not write to it; the server checks every request."""
    iam = s3.moto.client("iam")
    user = f"reader-{s3.bucket}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    s3.moto.enforce_auth(True)
    try:
        yield {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    finally:
        s3.moto.enforce_auth(False)
        iam.delete_user_policy(UserName=user, PolicyName="read")
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)


def test_wrong_credentials_are_exit_2_and_never_shown(
    s3: S3, emulator: Any, token: str, enforced: Any
) -> None:
    # KEY_ID and SECRET are unknown to the server once it checks credentials.
    done = _run(["-v", *_extract(emulator, s3.url("m.parquet"))], s3.env)
    assert done.returncode == 2
    assert f"checking {s3.url('m.parquet')}: S3 refused the credentials (InvalidAccessKeyId)" in done.stderr
    assert "hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in done.stderr
    _sweep(done.stderr, done.stdout)


def test_no_permission_to_write_keeps_the_fetch_and_resume_publishes_once_allowed(
    s3: S3, emulator: Any, token: str, enforced: dict[str, str]
) -> None:
    url = s3.url("m.parquet")
    done = _run(_extract(emulator, url), s3.env, **enforced)
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert f"writing {url}: permission denied (AccessDenied)" in line and "grant these credentials" in line
    assert enforced["AWS_SECRET_ACCESS_KEY"] not in done.stderr
    s3.moto.enforce_auth(False)
    resumed = _run([*_extract(emulator, url), "--resume", "--json"], s3.env)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["pages"] == 0 and report["resumed_rows"] == 300  # the fetch was kept, not repeated
    expected = brute_force(emulator.emulator.store.all_meetings(), MeetingQuery())
    assert_table_matches(pq.read_table(s3.buffer("m.parquet")), expected)
    metadata = pq.read_schema(s3.buffer("m.parquet")).metadata
    _sweep(*(v for kv in metadata.items() for v in kv))
    assert s3.scratch_files() == []


def _requests_of_check(sink: ObjectStoreSink) -> tuple[list[str], ConfigError | None]:
    """The S3 operations that ``sink.check_destination()`` sends (botocore's events, registered on the session),
    and its refusal if any."""
    sent: list[str] = []
    sink.store.fs.session.register("before-call.s3", lambda model, **_: sent.append(model.name))
    try:
        sink.check_destination()
    except ConfigError as refused:
        return sent, refused
    return sent, None


def test_the_check_of_a_new_key_is_one_listing_and_of_an_existing_one_two_ranged_reads_more(s3: S3) -> None:
    """Before the fetch, S3 is asked once whether the bucket can be listed, the key is a folder or an object
    is there (connector/storage/transfer.py, Store.look); an object there is then read at its two ends."""
    for other in ("attio/a.parquet", "attio/m.parquet.bak", "attio/z/deep.parquet"):
        s3.put(other, b"not ours")
    sink = ObjectStoreSink(s3.url("attio/m.parquet"), scratch=s3.scratch)
    assert _requests_of_check(sink) == (["ListObjectsV2"], None)
    s3.put("attio/m.parquet", b"a user's file, " * 100)
    sent, refused = _requests_of_check(ObjectStoreSink(s3.url("attio/m.parquet"), scratch=s3.scratch))
    assert sent == ["ListObjectsV2", "GetObject", "GetObject"]
    assert refused is not None and "exists and is not a parquet file this tool wrote" in str(refused)


@pytest.mark.parametrize("page", [1000, 2])
def test_a_key_that_is_a_folder_is_refused_also_past_a_page_of_names(
    s3: S3, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``KEY/`` sorts after ``KEY-...`` and ``KEY.x``: when those fill the listing's page, the folder is still found."""
    monkeypatch.setattr(transfer, "LOOK_PAGE", page)
    for name in ("m.parquet-1", "m.parquet-2", "m.parquet.old", "m.parquet/part-0.parquet"):
        s3.put(f"attio/{name}", b"x")
    with pytest.raises(ConfigError, match=r"is a folder \(objects are stored below it\)"):
        ObjectStoreSink(s3.url("attio/m.parquet"), scratch=s3.scratch).check_destination()
    for name in ("m.parquet-1", "m.parquet-2", "m.parquet.old"):  # and a key beside such names is no folder
        sink = ObjectStoreSink(s3.url(f"attio/{name}"), "parquet", scratch=s3.scratch, overwrite=True)
        sink.check_destination()
