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
from .extract import (
    CallableSink,
    CsvSink,
    ExtractConfig,
    ExtractReport,
    JsonlSink,
    ParquetSink,
    Sink,
    extract,
    extract_batches,
    extract_dataframe,
    extract_table,
    extract_to_path,
    meetings_to_pandas,
    read_meetings_dataframe,
    read_meetings_table,
)
from .http import ClientStats
from .load import LoadConfig, LoadReport, load, load_file
from .models import MeetingQuery, validate_meeting_body

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AttioClient",
    "AuthenticationError",
    "BadRequestError",
    "CallableSink",
    "ClientConfig",
    "ClientStats",
    "ConfigError",
    "ConnectError",
    "ConnectorError",
    "CsvSink",
    "ExtractConfig",
    "ExtractReport",
    "InvalidArgumentError",
    "JsonlSink",
    "LoadConfig",
    "LoadReport",
    "MalformedResponseError",
    "MeetingQuery",
    "NotFoundError",
    "Page",
    "PaginationError",
    "ParquetSink",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimits",
    "RequestTimeoutError",
    "RetryPolicy",
    "RowError",
    "SchemaError",
    "Secret",
    "ServerError",
    "Sink",
    "SyncAttioClient",
    "TransportError",
    "__version__",
    "extract",
    "extract_batches",
    "extract_dataframe",
    "extract_table",
    "extract_to_path",
    "load",
    "load_file",
    "meetings_to_pandas",
    "read_meetings_dataframe",
    "read_meetings_table",
    "validate_meeting_body",
]
