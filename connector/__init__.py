"""Attio meetings connector: extract meetings to Arrow/Parquet/pandas, bulk-load them, and emulate Attio locally.

The public surface is what this module exports; orchestrator integrations import only from here. Naming: an
``async`` entry point takes an open :class:`AttioClient` (``extract_table``, ``load``, ``load_recordings``); its
twin for code that is not async has the same name with ``_sync``, opens a client of its own from a
:class:`ClientConfig` and runs its own event loop (``extract_table_sync``, ``load_sync``). ``extract_to_path``
and ``extract_to_database`` are sync only: their async form is :func:`extract` with a sink.

Importing the package loads only its errors: every other name is imported from its module when first used,
so that ``python -m connector extract`` does not pay for the loader, the database destinations or the
emulator (measured in docs/performance.md). ``from connector import X`` works for every name in ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .client import AttioClient, Page, SyncAttioClient
    from .config import ClientConfig, RateLimits, RetryPolicy, Secret
    from .destinations import extract_to_database
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

# Where each public name lives, imported on first use (module __getattr__, PEP 562).
_HOMES: dict[str, str] = {
    name: module
    for module, names in {
        ".client": ("AttioClient", "Page", "SyncAttioClient"),
        ".config": ("ClientConfig", "RateLimits", "RetryPolicy", "Secret"),
        ".destinations": ("extract_to_database",),
        ".extract": (
            "CallableSink",
            "CsvSink",
            "ExtractConfig",
            "ExtractProgress",
            "ExtractReport",
            "JsonlSink",
            "ParquetSink",
            "Sink",
            "extract_batches",
            "extract_dataframe",
            "extract_dataframe_sync",
            "extract_table",
            "extract_table_sync",
            "extract_tables",
            "extract_to_path",
            "meetings_to_dataframe",
        ),
        ".http": ("ClientStats",),
        ".load": ("LoadConfig", "LoadReport", "load_sync"),
        ".load.recordings": (
            "RecordingsConfig",
            "RecordingsReport",
            "load_recordings",
            "load_recordings_sync",
        ),
        ".models": ("MeetingQuery", "validate_meeting_body"),
    }.items()
    for name in names
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _entry_point(package: str) -> property:
    """``connector.<package>`` as the package's entry-point function of the same name.

    ``extract`` and ``load`` are both a subpackage and its main function. Importing a subpackage binds it
    on its parent, which would replace the function once anything imports ``connector.extract``; a property
    on the module's class wins over that binding (the import system's assignment is ignored, the package
    stays in ``sys.modules``), so ``connector.extract`` is the function whatever was imported first. Any
    other value assigned (a test's stand-in) is kept until deleted, as a plain attribute would be.
    """
    subpackage = f"{__name__}.{package}"
    replaced: dict[str, Any] = {}

    def get(_: types.ModuleType) -> Any:
        if package in replaced:
            return replaced[package]
        return getattr(importlib.import_module(subpackage), package)

    def bind(_: types.ModuleType, value: Any) -> None:
        if not (isinstance(value, types.ModuleType) and value.__name__ == subpackage):
            replaced[package] = value

    def unbind(_: types.ModuleType) -> None:
        if replaced.pop(package, None) is None:
            raise AttributeError(package)

    return property(get, bind, unbind, doc=f"the function :func:`connector.{package}.{package}`")


class _Connector(types.ModuleType):
    extract = _entry_point("extract")
    load = _entry_point("load")


sys.modules[__name__].__class__ = _Connector

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
