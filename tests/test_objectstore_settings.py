"""GCS and Azure credentials handed over in-process (connector/storage/settings.py): the options gcsfs and adlfs get,
secret-free reprs and errors, and settings refused for another store's URL.

gcsfs and adlfs are not in the dev venv, so these tests stop at the filesystem's keyword arguments
(:func:`connector.storage.location.filesystem_options`); the round trips to their emulators are in
test_gcs_azure.py, run in the cloud extra's venv (``bash .ci/extras cloud``).
"""

from __future__ import annotations

import json

import pytest

from connector import ConfigError
from connector.storage import AzureSettings, GCSSettings, S3Settings, StoreLocation, open_filesystem
from connector.storage.location import filesystem_options

KEYFILE = {"type": "service_account", "project_id": "acme", "private_key": "-----BEGIN KEY-999-----"}


def _options(url: str, settings: object) -> dict[str, object]:
    options = filesystem_options(StoreLocation.parse(url), settings)  # type: ignore[arg-type]
    assert options.pop("skip_instance_cache") is True
    return options


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(GCSSettings(keyfile_json=json.dumps(KEYFILE), project="acme"), {"token": KEYFILE, "project": "acme"}, id="keyfile-json"),
        pytest.param(GCSSettings(keyfile_path="/secrets/key.json"), {"token": "/secrets/key.json"}, id="keyfile-path"),
        pytest.param(GCSSettings(endpoint_url="http://127.0.0.1:4443"), {"endpoint_url": "http://127.0.0.1:4443"}, id="endpoint"),
        pytest.param(GCSSettings(), {}, id="application-default-credentials"),
    ],
)  # fmt: skip
def test_gcs_settings_reach_gcsfs_as_its_options(settings: GCSSettings, expected: dict[str, object]) -> None:
    assert _options("gs://acme-lake/m.parquet", settings) == expected
    assert _options("gcs://acme-lake/m.parquet", settings) == expected
    assert "KEY-999" not in repr(settings)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(AzureSettings(account_name="acme", account_key="key-999"), {"account_name": "acme", "account_key": "key-999"}, id="account-key"),
        pytest.param(AzureSettings(account_name="acme", sas_token="sv=1&sig=sas-999"), {"account_name": "acme", "sas_token": "sv=1&sig=sas-999"}, id="sas"),
        pytest.param(AzureSettings(connection_string="AccountName=acme;AccountKey=key-999"), {"connection_string": "AccountName=acme;AccountKey=key-999"}, id="connection-string"),
        pytest.param(AzureSettings(account_name="acme", tenant_id="t", client_id="c", client_secret="sp-999"), {"account_name": "acme", "tenant_id": "t", "client_id": "c", "client_secret": "sp-999"}, id="service-principal"),
        pytest.param(AzureSettings(), {}, id="default-chain"),
    ],
)  # fmt: skip
def test_azure_settings_reach_adlfs_as_its_options(
    settings: AzureSettings, expected: dict[str, object]
) -> None:
    assert _options("az://lake/m.parquet", settings) == expected
    assert not any(secret in repr(settings) for secret in ("key-999", "sas-999", "sp-999"))


def test_the_account_of_an_abfss_url_goes_with_the_settings_and_a_different_one_is_refused() -> None:
    url = "abfss://lake@acme.dfs.core.windows.net/m.parquet"
    assert _options(url, AzureSettings(sas_token="sas-999")) == {
        "account_name": "acme",
        "sas_token": "sas-999",
    }
    with pytest.raises(ConfigError, match="names the account acme, the Azure settings other") as info:
        _options(url, AzureSettings(account_name="other", account_key="key-999"))
    assert "key-999" not in str(info.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: GCSSettings(keyfile_json="{not json KEY-999"), "not valid JSON", id="gcs-bad-json"),
        pytest.param(lambda: GCSSettings(keyfile_json='["KEY-999"]'), "not a key file", id="gcs-not-a-keyfile"),
        pytest.param(lambda: GCSSettings(keyfile_json=json.dumps(KEYFILE), keyfile_path="/k.json"), "not both", id="gcs-json-and-path"),
        pytest.param(lambda: GCSSettings(endpoint_url="http://u:KEY-999@gcs:4443"), "no user or password", id="gcs-endpoint-password"),
        pytest.param(lambda: AzureSettings(account_name="acme", client_id="c", client_secret="KEY-999"), "tenant ID, client ID and client secret", id="azure-half-principal"),
        pytest.param(lambda: AzureSettings(account_name="acme", account_key="KEY-999", sas_token="sas"), "an account key and a SAS token", id="azure-two-ways"),
    ],
)  # fmt: skip
def test_settings_that_cannot_be_used_are_refused_without_echoing_them(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        make()  # type: ignore[operator]
    assert "KEY-999" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "settings", "message"),
    [
        pytest.param("s3://acme-lake/m.parquet", GCSSettings(), "Google Cloud Storage credentials were given for s3://", id="gcs-for-s3"),
        pytest.param("gs://acme-lake/m.parquet", AzureSettings(), "Azure Blob Storage credentials were given for gs://", id="azure-for-gcs"),
        pytest.param("az://lake/m.parquet", S3Settings(), "S3 credentials were given for az://", id="s3-for-azure"),
    ],
)  # fmt: skip
def test_settings_for_another_store_are_refused(url: str, settings: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_filesystem(StoreLocation.parse(url), settings)  # type: ignore[arg-type]


def test_a_gcs_emulator_takes_no_credentials_unless_a_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Google's own client: STORAGE_EMULATOR_HOST means anonymous requests (looking for application
    default credentials, the metadata server among them, costs seconds), unless a key file is named."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert _options("gs://acme-lake/m.parquet", None) == {}
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")
    assert _options("gs://acme-lake/m.parquet", None) == {"token": "anon"}
    keyed = GCSSettings(keyfile_json=json.dumps(KEYFILE))
    assert _options("gs://acme-lake/m.parquet", keyed) == {"token": KEYFILE}
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/secrets/key.json")
    assert _options("gs://acme-lake/m.parquet", None) == {}  # gcsfs reads the named key itself
