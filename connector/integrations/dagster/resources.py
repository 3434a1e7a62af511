"""Dagster resources and run configs: Attio's credentials and client settings, a store's credentials."""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.
from typing import Any, Literal

from dagster import (
    AssetExecutionContext,
    Config,
    ConfigurableResource,
    EnvVar,
    OpExecutionContext,
)
from pydantic import Field

from connector import (
    ClientConfig,
    RateLimits,
    RetryPolicy,
    Secret,
)
from connector.storage import AzureSettings, GCSSettings, S3Settings, StoreSettings

Output_ = Literal["parquet", "table", "dataframe"]
_LIMITS = RateLimits()
_RETRY = RetryPolicy()
_CLIENT = ClientConfig()


class AttioResource(ConfigurableResource):
    """Attio credentials and client settings. Give ``api_key=EnvVar("ATTIO_API_KEY")``."""

    api_key: str = Field(
        repr=False, description="Attio API token; pass an EnvVar so it is never stored in config"
    )
    base_url: str = Field(default=_CLIENT.base_url, description="API base URL (an emulator's URL in tests)")
    reads_per_second: float = Field(
        default=_LIMITS.reads_per_second, description="client read budget; 0 = off"
    )
    writes_per_second: float = Field(
        default=_LIMITS.writes_per_second, description="client write budget; 0 = off"
    )
    max_in_flight: int = Field(default=_LIMITS.max_in_flight, description="cap on concurrent requests")
    timeout: float = Field(default=_CLIENT.timeout, description="seconds per request")
    max_attempts: int = Field(default=_RETRY.max_attempts, description="tries per request, retries included")
    rate_limit_url: str = Field(
        default="",
        repr=False,
        description="Redis URL of a budget shared by every process using this token (empty: per process); "
        "pass an EnvVar when it holds a password",
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> "AttioResource":
        """The resource with the token from ``ATTIO_API_KEY`` (resolved by Dagster at run time)."""
        return cls(api_key=EnvVar("ATTIO_API_KEY"), **overrides)

    def client_config(self) -> ClientConfig:
        """The :class:`connector.ClientConfig` of these settings (the token wrapped in a Secret)."""
        return ClientConfig(
            token=Secret(self.api_key),
            base_url=self.base_url,
            timeout=self.timeout,
            limits=RateLimits(self.reads_per_second, self.writes_per_second, self.max_in_flight),
            retry=RetryPolicy(max_attempts=self.max_attempts),
            rate_limit_url=self.rate_limit_url or None,
        )


class S3StoreResource(ConfigurableResource):
    """S3 credentials, endpoint and region for ``s3://`` paths, handed to the store's client in-process.

    Give the secrets as ``EnvVar`` (Dagster then shows the variable's name, never its value). Empty fields
    fall back to the AWS chain (environment, profile, instance role), so
    ``S3StoreResource(endpoint_url="http://minio:9000")`` alone points the standard credentials elsewhere.
    """

    access_key_id: str = Field(default="", repr=False, description="AWS access key ID (empty: the AWS chain)")
    secret_access_key: str = Field(
        default="", repr=False, description="AWS secret access key; pass an EnvVar"
    )
    session_token: str = Field(default="", repr=False, description="temporary credentials' session token")
    endpoint_url: str = Field(default="", description="an S3-compatible store's endpoint (MinIO, R2, Ceph)")
    region: str = Field(default="", description="the bucket's region, e.g. eu-west-1")

    def settings(self) -> S3Settings:
        """The :class:`connector.storage.S3Settings` of these fields."""
        return S3Settings(
            access_key_id=self.access_key_id or None,
            secret_access_key=Secret(self.secret_access_key) if self.secret_access_key else None,
            session_token=Secret(self.session_token) if self.session_token else None,
            endpoint_url=self.endpoint_url or None,
            region=self.region or None,
        )


class GCSStoreResource(ConfigurableResource):
    """Google Cloud Storage credentials for ``gs://`` paths, handed to the store's client in-process.

    Give the key file's JSON as an ``EnvVar`` (Dagster then shows the variable's name, never its value), or
    the path of a key file; neither: application default credentials.
    """

    keyfile_json: str = Field(
        default="", repr=False, description="a service account's key file, its JSON; pass an EnvVar"
    )
    keyfile_path: str = Field(default="", description="the path of a service account's key file")
    project: str = Field(default="", description="the project requests are made for")
    endpoint_url: str = Field(default="", description="another endpoint (an emulator)")

    def settings(self) -> GCSSettings:
        """The :class:`connector.storage.GCSSettings` of these fields."""
        return GCSSettings(
            keyfile_json=Secret(self.keyfile_json) if self.keyfile_json else None,
            keyfile_path=self.keyfile_path or None,
            project=self.project or None,
            endpoint_url=self.endpoint_url or None,
        )


class AzureStoreResource(ConfigurableResource):
    """Azure Blob Storage / ADLS Gen2 credentials for ``az://`` and ``abfs[s]://`` paths, handed over in-process.

    One way to sign in: ``connection_string``; or ``account_name`` with ``account_key``, ``sas_token``, or a
    service principal (``tenant_id``, ``client_id``, ``client_secret``); none: Azure's default chain. Give
    the secrets as ``EnvVar``.
    """

    account_name: str = Field(default="", description="the storage account")
    account_key: str = Field(default="", repr=False, description="the account's key; pass an EnvVar")
    sas_token: str = Field(default="", repr=False, description="a SAS token; pass an EnvVar")
    connection_string: str = Field(default="", repr=False, description="a connection string; pass an EnvVar")
    tenant_id: str = Field(default="", description="a service principal's tenant")
    client_id: str = Field(default="", description="a service principal's client (application) ID")
    client_secret: str = Field(
        default="", repr=False, description="a service principal's secret; pass an EnvVar"
    )

    def settings(self) -> AzureSettings:
        """The :class:`connector.storage.AzureSettings` of these fields."""
        return AzureSettings(
            account_name=self.account_name or None,
            account_key=Secret(self.account_key) if self.account_key else None,
            sas_token=Secret(self.sas_token) if self.sas_token else None,
            connection_string=Secret(self.connection_string) if self.connection_string else None,
            tenant_id=self.tenant_id or None,
            client_id=self.client_id or None,
            client_secret=Secret(self.client_secret) if self.client_secret else None,
        )


class MeetingsRunConfig(Config):
    """Launch-time settings of an unpartitioned meetings asset: the time window (ISO 8601, empty = open)."""

    ends_from: str = ""
    starts_before: str = ""


class ImportRunConfig(Config):
    """Launch-time settings of an import: the file to load (overrides the factory's) and a dry run."""

    source: str = ""
    dry_run: bool = False


def _store_settings(
    context: AssetExecutionContext | OpExecutionContext, key: str | None
) -> StoreSettings | None:
    """The settings of the store resource ``key`` (an S3, GCS or Azure one), if an asset names one."""
    return getattr(context.resources, key).settings() if key else None
