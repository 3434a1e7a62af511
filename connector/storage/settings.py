"""Store credentials handed over in-process (an Airflow connection, a Dagster resource), one frozen value per store.

    S3Settings      s3://            key pair, session token, endpoint, region            -> s3fs
    GCSSettings     gs://, gcs://    service-account key file (its JSON or its path), project -> gcsfs
    AzureSettings   az://, abfs[s]:// account name + key, SAS, connection string, or a service principal -> adlfs

Each goes to its run's store client only (:func:`~connector.storage.location.open_filesystem`), never
into ``os.environ``. Fields left empty fall back to the store's own chain (AWS environment and
profiles, Google's application default credentials, ``AZURE_STORAGE_*``). Secrets are
:class:`~connector.Secret` values: no repr, error or report shows them, and a value that cannot be
used is refused with a message that names the field, never its content.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..config import Secret
from ..errors import ConfigError

__all__ = ["AzureSettings", "GCSSettings", "S3Settings", "StoreSettings"]


def _secrets(settings: Any, *names: str) -> None:
    """Wrap the plain strings given for ``names`` in Secrets (empty: None), on a frozen dataclass."""
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, str):
            object.__setattr__(settings, name, Secret(value) if value else None)


def _check_endpoint(store: str, endpoint_url: str | None) -> None:
    if endpoint_url and not re.match(r"https?://[^/@\s]+(/|$)", endpoint_url):
        raise ConfigError(
            f"the {store} endpoint must be an http:// or https:// URL with no user or password in it"
        )


@dataclass(frozen=True)
class S3Settings:
    """S3 credentials, endpoint and region handed over in-process, e.g. from an Airflow AWS connection.

    Each field left None falls back to the AWS chain (environment, profile, instance role). The secrets
    are :class:`~connector.Secret` values and no field shows in the repr but the endpoint and region.
    """

    schemes: ClassVar[tuple[str, ...]] = ("s3",)
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: Secret | None = field(default=None, repr=False)
    session_token: Secret | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        _secrets(self, "secret_access_key", "session_token")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ConfigError("S3 settings need both an access key ID and a secret access key, or neither")
        if self.session_token and not self.access_key_id:
            raise ConfigError(
                "an S3 session token needs the access key ID and secret access key it belongs to"
            )
        _check_endpoint("S3", self.endpoint_url)

    def options(self) -> dict[str, Any]:
        """The s3fs keyword arguments of the fields that are set."""
        options: dict[str, Any] = {}
        if self.access_key_id and self.secret_access_key:
            options["key"] = self.access_key_id
            options["secret"] = self.secret_access_key.reveal()
            if self.session_token:
                options["token"] = self.session_token.reveal()
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        return options


@dataclass(frozen=True)
class GCSSettings:
    """Google Cloud Storage credentials handed over in-process, e.g. from an Airflow Google Cloud connection.

    ``keyfile_json``: a service account's key file, its JSON text (a Secret); ``keyfile_path``: the path of
    one; neither: application default credentials. ``project``: the project requests are made for;
    ``endpoint_url``: another endpoint (an emulator). Only the project, the path and the endpoint show in
    the repr.
    """

    schemes: ClassVar[tuple[str, ...]] = ("gs",)
    keyfile_json: Secret | None = field(default=None, repr=False)
    keyfile_path: str | None = None
    project: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        _secrets(self, "keyfile_json")
        if self.keyfile_json and self.keyfile_path:
            raise ConfigError("GCS settings take a key file's JSON or its path, not both")
        if self.keyfile_json:
            self._keyfile()  # refuse a key that cannot be read now, not at the first request
        _check_endpoint("GCS", self.endpoint_url)

    def _keyfile(self) -> dict[str, Any]:
        assert self.keyfile_json is not None
        try:
            parsed = json.loads(self.keyfile_json.reveal())
        except ValueError:
            raise ConfigError("the GCS key file JSON is not valid JSON (its content is not shown)") from None
        if not isinstance(parsed, dict) or "type" not in parsed:
            raise ConfigError(
                'the GCS key file JSON is not a key file: a JSON object with a "type" is expected'
            )
        return parsed

    def options(self) -> dict[str, Any]:
        """The gcsfs keyword arguments of the fields that are set (``token``: the key, parsed, or its path)."""
        options: dict[str, Any] = {}
        if self.keyfile_json:
            options["token"] = self._keyfile()
        elif self.keyfile_path:
            options["token"] = self.keyfile_path
        if self.project:
            options["project"] = self.project
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        return options


@dataclass(frozen=True)
class AzureSettings:
    """Azure Blob Storage / ADLS Gen2 credentials handed over in-process, e.g. from an Airflow Azure Blob connection.

    One way to sign in, or none (Azure's default credential chain, ``AZURE_STORAGE_*``): a
    ``connection_string``; or ``account_name`` with an ``account_key``, a ``sas_token``, or a service
    principal (``tenant_id``, ``client_id`` and ``client_secret``). Only the account name, tenant and
    client IDs show in the repr.
    """

    schemes: ClassVar[tuple[str, ...]] = ("az", "abfs")
    account_name: str | None = None
    account_key: Secret | None = field(default=None, repr=False)
    sas_token: Secret | None = field(default=None, repr=False)
    connection_string: Secret | None = field(default=None, repr=False)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _secrets(self, "account_key", "sas_token", "connection_string", "client_secret")
        principal = (self.tenant_id, self.client_id, self.client_secret)
        if any(principal) and not all(principal):
            raise ConfigError("an Azure service principal needs its tenant ID, client ID and client secret")
        ways = [
            name
            for name, given in (
                ("a connection string", self.connection_string),
                ("an account key", self.account_key),
                ("a SAS token", self.sas_token),
                ("a service principal", all(principal)),
            )
            if given
        ]
        if len(ways) > 1:
            raise ConfigError(f"Azure settings take one way to sign in, and {' and '.join(ways)} were given")

    def options(self) -> dict[str, Any]:
        """The adlfs keyword arguments of the fields that are set."""
        options: dict[str, Any] = {}
        if self.account_name:
            options["account_name"] = self.account_name
        for name in ("account_key", "sas_token", "connection_string", "client_secret"):
            value = getattr(self, name)
            if value:
                options[name] = value.reveal()
        if self.tenant_id and self.client_id:
            options["tenant_id"] = self.tenant_id
            options["client_id"] = self.client_id
        return options


StoreSettings = S3Settings | GCSSettings | AzureSettings
