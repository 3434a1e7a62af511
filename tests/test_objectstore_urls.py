"""Object-store URLs, scratch paths, extras and error translation for S3, GCS and Azure (no server needed)."""

from __future__ import annotations

import enum
import errno
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from connector.errors import ConfigError
from connector.storage import ObjectStoreSink, StoreLocation, StoreUnreachableError, is_url
from connector.storage.location import open_filesystem, scratch_root, store_error


@pytest.mark.parametrize(
    ("url", "scheme", "bucket", "key", "account"),
    [
        ("s3://acme-lake/attio/meetings.parquet", "s3", "acme-lake", "attio/meetings.parquet", None),
        ("s3://acme.lake/m.csv", "s3", "acme.lake", "m.csv", None),
        ("gs://acme-lake/attio/meetings.parquet", "gs", "acme-lake", "attio/meetings.parquet", None),
        ("gcs://acme_lake/m.jsonl", "gs", "acme_lake", "m.jsonl", None),
        ("az://container/attio/meetings.parquet", "az", "container", "attio/meetings.parquet", None),
        ("abfs://container/attio/meetings", "abfs", "container", "attio/meetings", None),
        (
            "abfss://lake@acmedata.dfs.core.windows.net/attio/m.parquet",
            "az",
            "lake",
            "attio/m.parquet",
            "acmedata",
        ),
        ("S3://acme-lake/dir/", "s3", "acme-lake", "dir", None),
    ],
    ids=["s3", "s3-dots", "gs", "gcs", "az", "abfs", "abfss-account", "upper-scheme-trailing-slash"],
)
def test_urls_parse_into_bucket_key_and_account(
    url: str, scheme: str, bucket: str, key: str, account: str | None
) -> None:
    location = StoreLocation.parse(url)
    assert (location.scheme, location.bucket, location.key, location.account) == (
        scheme,
        bucket,
        key,
        account,
    )
    assert is_url(url)
    assert location.url == f"{scheme}://{bucket}/{key}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://Upper/m.parquet", "not a valid bucket or container name"),
        ("az://a/m.parquet", "not a valid bucket or container name"),
        ("az://con--tainer/m.parquet", "not a valid bucket or container name"),
        ("abfss://lake@example.com/m.parquet", "the host must be ACCOUNT.dfs.core.windows.net"),
        ("az://user:key@container/m.parquet", "takes no user, password or port"),
        ("gs://acme-lake/m.parquet#frag", "takes no ?query or #fragment"),
        ("az://container/a/../x", "name an object under the bucket"),
        ("wasb://c/m.parquet", "unknown URL scheme wasb://"),
    ],
    ids=[
        "gs-upper",
        "az-short",
        "az-double-hyphen",
        "abfss-host",
        "az-userinfo",
        "fragment",
        "dotdot",
        "wasb",
    ],
)
def test_bad_urls_are_config_errors_that_echo_no_secret(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        StoreLocation.parse(url)
    assert "key@" not in str(caught.value) and "sig=" not in str(caught.value)


@pytest.mark.parametrize("text", ["C:\\data\\m.parquet", "meetings.parquet", "./s3:/x", "/tmp/m.csv"])
def test_local_paths_are_not_urls(text: str) -> None:
    assert not is_url(text)


def test_scratch_follows_connector_scratch_then_xdg_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONNECTOR_SCRATCH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert scratch_root() == tmp_path / "cache" / "connector" / "scratch"
    monkeypatch.setenv("CONNECTOR_SCRATCH", str(tmp_path / "s"))
    sink = ObjectStoreSink("abfss://lake@acmedata.dfs.core.windows.net/attio/m.parquet")
    assert sink.path == tmp_path / "s" / "az" / "acmedata" / "lake" / "attio" / "m.parquet"
    assert repr(sink) == "ObjectStoreSink('az://lake/attio/m.parquet')"


@pytest.mark.parametrize(
    ("url", "fmt"), [("gs://b-1/m.csv", "csv"), ("az://con/m.ndjson", "jsonl"), ("s3://b-1/m", "parquet")]
)
def test_the_format_comes_from_the_key_as_for_local_files(url: str, fmt: str) -> None:
    assert ObjectStoreSink(url).format == fmt


def test_csv_cannot_be_partitioned_on_a_store_either() -> None:
    with pytest.raises(ConfigError, match="only the parquet format can be partitioned"):
        ObjectStoreSink("gs://acme-lake/m.csv", partition_by="start_month")


@pytest.mark.parametrize(
    ("url", "extra"), [("gs://acme-lake/m.parquet", "gcs"), ("az://lake/m.parquet", "azure")]
)
def test_a_missing_sdk_names_its_extra(url: str, extra: str) -> None:
    import importlib.util

    module = {"gcs": "gcsfs", "azure": "adlfs"}[extra]
    if importlib.util.find_spec(module) is not None:
        pytest.fail(f"{module} is installed here; this test checks the message without it")
    with pytest.raises(ConfigError) as caught:
        open_filesystem(StoreLocation.parse(url))
    assert caught.value.hint == f"pip install 'connector[{extra}]'"


def test_aws_region_reaches_botocore_which_reads_only_aws_default_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    fs = open_filesystem(StoreLocation.parse("s3://acme-lake/m.parquet"))
    assert fs.client_kwargs == {"region_name": "eu-west-1"}
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")  # the SDK's own variable wins: nothing passed
    assert "region_name" not in open_filesystem(StoreLocation.parse("s3://acme-lake/m.parquet")).client_kwargs


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "secret-ish text"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


class StorageErrorCode(str, enum.Enum):  # noqa: UP042 - as azure declares it: a StrEnum would format as its value
    """As azure-storage-blob declares its error codes (azure.storage.blob.StorageErrorCode)."""

    AUTHENTICATION_FAILED = "AuthenticationFailed"
    AUTHORIZATION_FAILURE = "AuthorizationFailure"


def _wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


GS = StoreLocation.parse("gs://acme-lake/m.parquet")
AZ = StoreLocation.parse("az://lake/m.parquet")
S3 = StoreLocation.parse("s3://acme-lake/m.parquet")


@pytest.mark.parametrize(
    ("exc", "location", "kind", "text", "hint"),
    [
        (
            _wrapped(_client_error("NoSuchBucket", 404), FileNotFoundError("x")),
            S3,
            ConfigError,
            "the bucket acme-lake does not exist",
            "create it first",
        ),
        (
            _wrapped(_client_error("InvalidAccessKeyId", 403), PermissionError("x")),
            S3,
            ConfigError,
            "S3 refused the credentials (InvalidAccessKeyId)",
            "AWS_ACCESS_KEY_ID",
        ),
        (
            _wrapped(_client_error("AccessDenied", 403), PermissionError("x")),
            S3,
            ConfigError,
            "permission denied (AccessDenied)",
            "grant these credentials",
        ),
        (NoCredentialsError(), S3, ConfigError, "no S3 credentials were found", "AWS_PROFILE"),
        (
            EndpointConnectionError(endpoint_url="http://x"),
            S3,
            StoreUnreachableError,
            "S3 could not be reached",
            "--resume",
        ),
        (_client_error("SlowDown", 503), S3, StoreUnreachableError, "S3 kept failing (SlowDown)", "--resume"),
        (
            PermissionError(errno.EACCES, "Forbidden"),
            GS,
            ConfigError,
            "writing gs://acme-lake/m.parquet: permission denied (forbidden)",
            "grant",
        ),
        (
            type("DefaultCredentialsError", (Exception,), {})("no ADC"),
            GS,
            ConfigError,
            "no Google Cloud Storage credentials were found",
            "application-default",
        ),
        (
            type("ClientAuthenticationError", (Exception,), {})("bad key"),
            AZ,
            ConfigError,
            "no Azure Blob Storage credentials were found",
            "AZURE_STORAGE_CONNECTION_STRING",
        ),
        (
            ConnectionResetError(),
            AZ,
            StoreUnreachableError,
            "Azure Blob Storage could not be reached",
            "--resume",
        ),
        (
            # azure-core keeps the service's code and status on the exception (Azurite's answer to a wrong key)
            type(
                "HttpResponseError", (Exception,), {"error_code": "AuthorizationFailure", "status_code": 403}
            )("secret-ish signature text"),
            AZ,
            ConfigError,
            "Azure Blob Storage refused the request (AuthorizationFailure): wrong credentials or no permission",
            "AZURE_STORAGE_CONNECTION_STRING",
        ),
        (
            type("ClientAuthenticationError", (Exception,), {"error_code": "AuthenticationFailed"})(
                "secret-ish"
            ),
            AZ,
            ConfigError,
            "Azure Blob Storage refused the credentials (AuthenticationFailed)",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ),
        (
            # an expired or forged SAS on Azure: azure-storage-blob's code is a StorageErrorCode (a str Enum)
            type(
                "ClientAuthenticationError",
                (Exception,),
                {"error_code": StorageErrorCode.AUTHENTICATION_FAILED, "status_code": 403},
            )("secret-ish"),
            AZ,
            ConfigError,
            "Azure Blob Storage refused the credentials (AuthenticationFailed)",
            "AZURE_STORAGE_SAS_TOKEN",
        ),
        (
            type(
                "HttpResponseError",
                (Exception,),
                {"error_code": StorageErrorCode.AUTHORIZATION_FAILURE, "status_code": 403},
            )("secret-ish"),
            AZ,
            ConfigError,
            "Azure Blob Storage refused the request (AuthorizationFailure): wrong credentials or no permission",
            "AZURE_STORAGE_CONNECTION_STRING",
        ),
        (
            type(
                "ResourceNotFoundError", (Exception,), {"error_code": "ContainerNotFound", "status_code": 404}
            )(),
            AZ,
            ConfigError,
            "the bucket lake does not exist",
            "create it first",
        ),
        (
            type("RefreshError", (Exception,), {})("secret-ish token endpoint answer"),
            GS,
            ConfigError,
            "Google Cloud Storage refused the credentials",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (
            type("HttpError", (Exception,), {"code": 401})("secret-ish"),
            GS,
            ConfigError,
            "Google Cloud Storage refused the credentials (401)",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (
            type("HttpError", (Exception,), {"code": 503})("secret-ish"),
            GS,
            StoreUnreachableError,
            "Google Cloud Storage kept failing (503)",
            "--resume",
        ),
        (
            FileNotFoundError("http://127.0.0.1/upload/storage/v1/b/acme-lake/o?name=m.parquet"),
            GS,
            ConfigError,
            "writing gs://acme-lake/m.parquet: the bucket acme-lake does not exist",
            "create it first",
        ),
    ],
    ids=[
        "s3-bucket",
        "s3-credentials",
        "s3-denied",
        "s3-none",
        "s3-unreachable",
        "s3-slowdown",
        "gs-denied",
        "gs-no-adc",
        "az-credentials",
        "az-reset",
        "az-authorization-failure",
        "az-authentication-failed",
        "az-enum-authentication-failed",
        "az-enum-authorization-failure",
        "az-no-container",
        "gs-refresh",
        "gs-401",
        "gs-503",
        "gs-no-bucket-on-write",
    ],
)
def test_sdk_errors_become_one_line_connector_errors_without_sdk_text(
    exc: BaseException, location: StoreLocation, kind: type, text: str, hint: str
) -> None:
    error = store_error(exc, location, "writing")
    assert type(error) is kind
    assert text in str(error) and hint in (error.hint or "")
    assert "secret-ish" not in str(error) and "\n" not in str(error)
