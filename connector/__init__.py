"""Attio meetings connector: extract meetings to Arrow/Parquet/pandas, bulk-load them, and emulate Attio locally.

The public surface is what this module exports; orchestrator integrations import only from here.
"""

from .client import AttioClient, Page, SyncAttioClient
from .config import ClientConfig, RateLimits, RetryPolicy, Secret
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConnectError,
    ConnectorError,
    InvalidArgumentError,
    MalformedResponseError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RowError,
    SchemaError,
    ServerError,
    TransportError,
)
from .http import ClientStats
from .models import MeetingQuery, validate_meeting_body

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AttioClient",
    "AuthenticationError",
    "BadRequestError",
    "ClientConfig",
    "ClientStats",
    "ConfigError",
    "ConnectError",
    "ConnectorError",
    "InvalidArgumentError",
    "MalformedResponseError",
    "MeetingQuery",
    "NotFoundError",
    "Page",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimits",
    "RequestTimeoutError",
    "RetryPolicy",
    "RowError",
    "SchemaError",
    "Secret",
    "ServerError",
    "SyncAttioClient",
    "TransportError",
    "__version__",
    "validate_meeting_body",
]
