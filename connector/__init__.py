"""Attio meetings connector: extract meetings to Arrow/Parquet/pandas, bulk-load them, and emulate Attio locally.

The public surface is what this module exports; orchestrator integrations import only from here. Naming: an
``async`` entry point takes an open :class:`AttioClient` (``extract_table``, ``load``, ``load_recordings``); its
twin for code that is not async has the same name with ``_sync``, opens a client of its own from a
:class:`ClientConfig` and runs its own event loop (``extract_table_sync``, ``load_sync``). ``extract_to_path``
and ``extract_to_database`` are sync only: their async form is :func:`extract` with a sink.
"""

from .client import AttioClient, Page, SyncAttioClient
from .config import ClientConfig, RateLimits, RetryPolicy, Secret
from .destinations import extract_to_database
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    BrokenInputError,
    ConfigError,
    ConnectError,
    ConnectorError,
    DestinationError,
    DestinationUnreachableError,
    InvalidArgumentError,
    LedgerError,
    MalformedResponseError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitStoreError,
    RequestTimeoutError,
    ResultsError,
    RowError,
    SchemaError,
    ServerError,
    StoreUnreachableError,
    TransportError,
)
from .extract import (
    CallableSink,
    CsvSink,
    ExtractConfig,
    ExtractProgress,
    ExtractReport,
    JsonlSink,
    ParquetSink,
    Sink,
    extract,
    extract_batches,
    extract_dataframe,
    extract_dataframe_sync,
    extract_table,
    extract_table_sync,
    extract_tables,
    extract_to_path,
    meetings_to_dataframe,
)
from .http import ClientStats
from .load import LoadConfig, LoadReport, load, load_sync
from .load.recordings import RecordingsConfig, RecordingsReport, load_recordings, load_recordings_sync
from .models import MeetingQuery, validate_meeting_body

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AttioClient",
    "AuthenticationError",
    "BadRequestError",
    "BrokenInputError",
    "CallableSink",
    "ClientConfig",
    "ClientStats",
    "ConfigError",
    "ConnectError",
    "ConnectorError",
    "CsvSink",
    "DestinationError",
    "DestinationUnreachableError",
    "ExtractConfig",
    "ExtractProgress",
    "ExtractReport",
    "InvalidArgumentError",
    "JsonlSink",
    "LedgerError",
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
    "RateLimitStoreError",
    "RateLimits",
    "RecordingsConfig",
    "RecordingsReport",
    "RequestTimeoutError",
    "ResultsError",
    "RetryPolicy",
    "RowError",
    "SchemaError",
    "Secret",
    "ServerError",
    "Sink",
    "StoreUnreachableError",
    "SyncAttioClient",
    "TransportError",
    "__version__",
    "extract",
    "extract_batches",
    "extract_dataframe",
    "extract_dataframe_sync",
    "extract_table",
    "extract_table_sync",
    "extract_tables",
    "extract_to_database",
    "extract_to_path",
    "load",
    "load_recordings",
    "load_recordings_sync",
    "load_sync",
    "meetings_to_dataframe",
    "validate_meeting_body",
]
