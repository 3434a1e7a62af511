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
from connector.storage import S3Settings

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
) -> S3Settings | None:
    return getattr(context.resources, key).settings() if key else None
