"""The public surface stays honest: each public package exports exactly the names users are meant to use, sorted,
each documented; sync twins are named after their async entry points; every public error is in the tree."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

import connector
from connector import errors
from connector.cli import build_parser, exit_code
from connector.cli import common as cli_common

PUBLIC: dict[str, set[str]] = {
    "connector": {
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
    },
    "connector.extract": {
        "AtomicSink",
        "CallableSink",
        "CsvSink",
        "ExtractConfig",
        "ExtractProgress",
        "ExtractReport",
        "FileSink",
        "JsonlSink",
        "MeetingConverter",
        "ParquetSink",
        "Sink",
        "extract",
        "extract_batches",
        "extract_dataframe",
        "extract_dataframe_sync",
        "extract_table",
        "extract_table_sync",
        "extract_tables",
        "extract_to_path",
        "meetings_to_dataframe",
        "sink_for_path",
    },
    "connector.load": {
        "RESULT_COLUMNS",
        "LoadConfig",
        "LoadReport",
        "Mapping",
        "RowResult",
        "default_paths",
        "load",
        "load_mapping",
        "load_sync",
        "mapping_from_dict",
    },
    "connector.load.recordings": {
        "RECORDING_RESULTS",
        "RecordingResult",
        "RecordingsConfig",
        "RecordingsMapping",
        "RecordingsReport",
        "load_recordings",
        "load_recordings_mapping",
        "load_recordings_sync",
    },
    "connector.emulator": {
        "FAULT_KINDS",
        "Emulator",
        "EmulatorConfig",
        "EmulatorThread",
        "RunningEmulator",
        "Stats",
        "main",
        "run_emulator",
    },
    "connector.storage": {
        "SUCCESS_MARKER",
        "AzureSettings",
        "GCSSettings",
        "ObjectStoreSink",
        "S3Settings",
        "Store",
        "StoreLocation",
        "StoreSettings",
        "StoreUnreachableError",
        "is_url",
        "local_or_url",
        "open_filesystem",
        "scratch_root",
    },
    "connector.destinations": {
        "WRITE_MODES",
        "DatabaseSink",
        "DuckDBSink",
        "PostgresSink",
        "StartWindow",
        "TableName",
        "check_write_mode",
        "database_sink",
        "database_sinks",
        "extract_to_database",
        "looks_like_url",
        "redact",
    },
    "connector.errors": {
        "RETRYABLE_STATUSES",
        "ApiError",
        "AuthenticationError",
        "BadRequestError",
        "BrokenInputError",
        "ConfigError",
        "ConnectError",
        "ConnectorError",
        "DestinationError",
        "DestinationUnreachableError",
        "InvalidArgumentError",
        "LedgerError",
        "MalformedResponseError",
        "NotFoundError",
        "PaginationError",
        "PermissionDeniedError",
        "RateLimitError",
        "RateLimitStoreError",
        "RequestTimeoutError",
        "ResultsError",
        "RowError",
        "SchemaError",
        "ServerError",
        "StoreUnreachableError",
        "TransportError",
        "error_for_status",
        "shown",
    },
    "connector.defaults": {
        "CONNECT_TIMEOUT",
        "EXTRACT_BATCH_SIZE",
        "LOAD_BATCH_SIZE",
        "LOAD_CONCURRENCY",
        "MAX_ATTEMPTS",
        "MAX_DELETE",
        "MAX_IN_FLIGHT",
        "PAGE_SIZE",
        "READS_PER_SECOND",
        "RECORDINGS_CONCURRENCY",
        "RECORDING_WRITES_PER_SECOND",
        "TIMEOUT",
        "WRITES_PER_SECOND",
    },
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_all_is_exactly_the_public_names_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package], (
        "add the name here and to the docs, or take it out of __all__"
    )
    assert len(module.__all__) == len(set(module.__all__)), "a name twice"
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for name in module.__all__:
        assert hasattr(module, name), name


def _undocumented(name: str, value: Any) -> list[str]:
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        return []  # constants and the version string are documented where they are defined
    missing = [] if (value.__doc__ or "").strip() else [name]
    if inspect.isclass(value):
        for attr, member in vars(value).items():
            if attr.startswith("_") or not (
                inspect.isfunction(member) or isinstance(member, property | classmethod | staticmethod)
            ):
                continue
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if not (function.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    return missing


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_every_exported_class_function_and_public_method_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    missing = [m for name in module.__all__ for m in _undocumented(name, getattr(module, name))]
    assert missing == []


def test_sync_twins_are_named_after_their_async_entry_points() -> None:
    """The naming rule: ``X`` is async and takes an open client; ``X_sync`` opens its own and runs its own loop."""
    from connector.load import recordings

    names = set(connector.__all__) | set(recordings.__all__)
    twins = {name for name in names if name.endswith("_sync")}
    assert twins == {"extract_dataframe_sync", "extract_table_sync", "load_recordings_sync", "load_sync"}
    for twin in twins:
        home = connector if twin in connector.__all__ else recordings
        sync, run = getattr(home, twin), getattr(home, twin.removesuffix("_sync"))
        assert inspect.iscoroutinefunction(run) and not inspect.iscoroutinefunction(sync), twin
        assert "client_config" in inspect.signature(sync).parameters, twin
    # the other sync entry points write to a destination named by a path or URL; their async form is extract()
    for name in ("extract_to_path", "extract_to_database"):
        assert not inspect.iscoroutinefunction(getattr(connector, name))


def _public_errors() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseException):
                found[value.__qualname__] = value
    return sorted(found.values(), key=lambda cls: cls.__name__)


def _example(cls: type[BaseException]) -> Any:
    if issubclass(cls, errors.ApiError):
        status = {errors.RateLimitError: 429, errors.ServerError: 503}.get(cls, 418)
        example = errors.error_for_status(status, None, method="GET", path="/v2/meetings")
        return example if type(example) is cls else cls("refused", status=status, method="GET", path="/")
    if issubclass(cls, errors.InvalidArgumentError):
        return cls("limit", "must be 1 to 200")
    if issubclass(cls, errors.BrokenInputError):
        return cls("a quote never closes", file="m.csv", row=7)
    return cls("failed")


EXPECTED_EXIT = {
    "ApiError": cli_common.EXIT_API,
    "AuthenticationError": cli_common.EXIT_API,
    "BadRequestError": cli_common.EXIT_API,
    "BrokenInputError": cli_common.EXIT_USAGE,
    "ConfigError": cli_common.EXIT_USAGE,
    "ConnectError": cli_common.EXIT_TRANSPORT,
    "ConnectorError": cli_common.EXIT_USAGE,
    "DestinationError": cli_common.EXIT_DESTINATION,
    "DestinationUnreachableError": cli_common.EXIT_TRANSPORT,
    "InvalidArgumentError": cli_common.EXIT_USAGE,
    "LedgerError": cli_common.EXIT_USAGE,
    "MalformedResponseError": cli_common.EXIT_TRANSPORT,
    "NotFoundError": cli_common.EXIT_API,
    "PaginationError": cli_common.EXIT_TRANSPORT,
    "PermissionDeniedError": cli_common.EXIT_API,
    "RateLimitError": cli_common.EXIT_TRANSPORT,
    "RateLimitStoreError": cli_common.EXIT_TRANSPORT,
    "RequestTimeoutError": cli_common.EXIT_TRANSPORT,
    "ResultsError": cli_common.EXIT_USAGE,
    "RowError": cli_common.EXIT_USAGE,
    "SchemaError": cli_common.EXIT_TRANSPORT,
    "ServerError": cli_common.EXIT_TRANSPORT,
    "StoreUnreachableError": cli_common.EXIT_TRANSPORT,
    "TransportError": cli_common.EXIT_TRANSPORT,
}


def test_every_public_error_is_in_the_tree_and_maps_to_a_documented_exit_code() -> None:
    public = _public_errors()
    assert {cls.__name__ for cls in public} == set(EXPECTED_EXIT)
    epilog = build_parser().epilog or ""
    for cls in public:
        assert issubclass(cls, errors.ConnectorError), f"{cls.__name__} is outside the error tree"
        assert cls.__module__ == "connector.errors", f"{cls.__name__} belongs in connector/errors.py"
        assert cls.__name__ in errors.__doc__, (
            f"{cls.__name__} is missing from the tree in errors.py's docstring"
        )
        code = exit_code(_example(cls))
        assert code == EXPECTED_EXIT[cls.__name__], cls.__name__
        assert f" {code} " in f" {epilog}", f"exit code {code} of {cls.__name__} is not in the CLI's --help"


def test_retryable_statuses_are_decided_by_the_error_alone() -> None:
    for status in (400, 401, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504, 505):
        error = errors.error_for_status(status, None, method="GET", path="/v2/meetings")
        assert error.retryable == (status in {429, 500, 502, 503, 504}), status
        assert exit_code(error) == (cli_common.EXIT_TRANSPORT if error.retryable else cli_common.EXIT_API), (
            status
        )
    assert not hasattr(connector.RetryPolicy(), "retry_statuses"), "the policy says how often, never what"


def test_the_sync_client_offers_every_call_of_the_async_one_under_the_same_name() -> None:
    def calls(cls: type) -> set[str]:
        return {
            name
            for name, member in vars(cls).items()
            if not name.startswith("_") and inspect.isfunction(member)
        }

    # the extract engine's raw page reads (MeetingReader, RecordingReader) have no use outside an event loop
    engine_only = {"fetch_page", "call_recordings_page"}
    async_calls = calls(connector.AttioClient) - engine_only - {"aclose"}
    assert async_calls <= calls(connector.SyncAttioClient), async_calls - calls(connector.SyncAttioClient)
    for name in async_calls:
        run = getattr(connector.AttioClient, name)
        assert inspect.iscoroutinefunction(run) or inspect.isasyncgenfunction(run), name
