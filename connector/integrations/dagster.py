"""Dagster integration (extra ``connector[dagster]``): a resource, a meetings asset factory and an import.

    from dagster import DailyPartitionsDefinition, Definitions, EnvVar
    from connector.integrations.dagster import AttioResource, meetings_asset, meetings_import_asset

    meetings = meetings_asset(
        path="data/attio/meetings/{partition_key}.parquet",
        partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"),
    )
    defs = Definitions(assets=[meetings], resources={"attio": AttioResource(api_key=EnvVar("ATTIO_API_KEY"))})

- :class:`AttioResource` holds the token (give it an ``EnvVar``: Dagster then shows the variable's name,
  never its value), the base URL and the client's rate limits; :meth:`AttioResource.client_config` makes
  the :class:`connector.ClientConfig`.
- :func:`meetings_asset` extracts meetings to Parquet (the asset writes the file itself: a local path or an
  ``s3://``, ``gs://``, ``az://`` URL) or hands an Arrow table / pandas DataFrame to the IO manager. A time-window partition maps onto ``ends_from`` (its start,
  inclusive) and ``starts_before`` (its end, exclusive), judged in the partitions' timezone. Metadata:
  row count, column schema, schema version, rows/s, requests, retries, 429s, and the path or URL written.
- :class:`S3StoreResource` holds S3 credentials, endpoint and region for ``s3://`` paths (give the secret
  an ``EnvVar``); an asset given ``store_resource_key`` uses it, else the standard AWS environment.
- :func:`workspace_meetings_asset` is multi-partitioned, workspace x day: each workspace has its own
  :class:`AttioResource` (resource key ``attio_<workspace>``: its own token and budget), each partition
  writes ``path`` with ``{workspace}`` and ``{day}`` filled in. Dagster's executor runs partitions in
  parallel (a backfill); ``rate_limit_url`` on a resource makes its processes share one budget.
- :func:`tables_multi_asset` is one multi-asset of several tables, by default ``attio_meetings`` ->
  ``attio_call_recordings`` -> ``attio_transcript_segments``: one extract run materializes all of them, a
  Parquet file (or database table) each, with each asset's own metadata (its rows, schema, path or URL). It
  is partitioned like the meetings assets: a time-window partitioning, or the workspace x day one of
  :func:`workspace_meetings_asset` (pass that asset's ``partitions_def``).
- :func:`meetings_import_asset` / :func:`meetings_import_op` load a spreadsheet (CSV, Parquet, .xlsx; local or
  on a store, ``store_resource_key`` as above),
  return the load report and fail the run when rows are rejected or fail, with the results file as
  metadata.
"""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import anyio
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    ConfigurableResource,
    DailyPartitionsDefinition,
    EnvVar,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    OpDefinition,
    OpExecutionContext,
    Output,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TableColumn,
    TableSchema,
    TimeWindowPartitionsDefinition,
    asset,
    multi_asset,
    op,
)
from pydantic import Field

from connector import (
    AttioClient,
    ClientConfig,
    ConfigError,
    ExtractConfig,
    ExtractReport,
    LoadConfig,
    MeetingQuery,
    RateLimits,
    RetryPolicy,
    Secret,
    defaults,
    extract,
    extract_to_path,
    load_sync,
    meetings_to_dataframe,
)
from connector.destinations import extract_to_database
from connector.extract.streams import TABLES, check_tables
from connector.schema import meeting_arrow_schema
from connector.storage import S3Settings, is_url
from connector.storage.load import staged_load

from ._common import jsonable, parse_bound

__all__ = [
    "AttioResource",
    "ImportRunConfig",
    "MeetingsRunConfig",
    "S3StoreResource",
    "meetings_asset",
    "meetings_import_asset",
    "meetings_import_op",
    "tables_multi_asset",
    "workspace_meetings_asset",
]

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


def _table_schema(schema: pa.Schema) -> TableSchema:
    return TableSchema(columns=[TableColumn(name=f.name, type=str(f.type)) for f in schema])


def _window(context: AssetExecutionContext, base: MeetingQuery, run: MeetingsRunConfig) -> MeetingQuery:
    """The query of this materialization: the partition's time window, else the run config's bounds."""
    partitions_def = context.assets_def.partitions_def
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        window = context.partition_time_window
        return base.replace(
            ends_from=window.start, starts_before=window.end, timezone=partitions_def.timezone
        )
    changes = {
        name: parse_bound(name, getattr(run, name))
        for name in ("ends_from", "starts_before")
        if getattr(run, name)
    }
    return base.replace(**changes) if changes else base


def _partition_label(context: AssetExecutionContext) -> str:
    if context.has_partition_key:
        key: str = context.partition_key
        return key
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return f"{keys.start}--{keys.end}"
    return "all"


class _TableSink:
    """Keeps every batch for one Arrow table: memory grows with the rows, so use Parquet for big windows."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.batches: list[pa.RecordBatch] = []

    def open(self, schema: pa.Schema, metadata: Mapping[str, str]) -> None:
        self.schema = schema.with_metadata(dict(metadata))

    def write(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)

    def commit(self) -> None:
        return None

    def abort(self) -> None:
        self.batches.clear()

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=self.schema)


async def _extract_in_memory(
    config: ExtractConfig, client_config: ClientConfig
) -> tuple[pa.Table, ExtractReport]:
    """The whole extract as one Arrow table, and its report."""
    sink = _TableSink()
    async with AttioClient(client_config) as client:
        report = await extract(client, config, sink)
    return sink.table(), report


def _extract_metadata(report: ExtractReport, schema: pa.Schema, query: MeetingQuery) -> dict[str, Any]:
    return {
        "dagster/row_count": MetadataValue.int(report.rows),
        "dagster/column_schema": _table_schema(schema),
        "schema_version": MetadataValue.text(report.schema_version),
        "filters": MetadataValue.json(dict(query.describe())),
        "rows_per_second": MetadataValue.float(round(report.rows_per_second, 1)),
        "seconds": MetadataValue.float(round(report.seconds, 3)),
        "requests": MetadataValue.int(report.requests),
        "pages": MetadataValue.int(report.pages),
        "retries": MetadataValue.int(report.retries),
        "rate_limited": MetadataValue.int(report.rate_limited),
        "report": MetadataValue.json(jsonable(report.to_dict())),
    }


def _store_settings(
    context: AssetExecutionContext | OpExecutionContext, key: str | None
) -> S3Settings | None:
    return getattr(context.resources, key).settings() if key else None


def _to_parquet(
    target: str, extract_config: ExtractConfig, resource: AttioResource, settings: S3Settings | None
) -> dict[str, Any]:
    """Extract to the Parquet file or object ``target``; the materialization metadata, with where it went."""
    report = extract_to_path(
        target,
        format="parquet",
        config=extract_config,
        client_config=resource.client_config(),
        store_settings=settings,
    )
    metadata = _extract_metadata(report, meeting_arrow_schema(), extract_config.query)
    if is_url(target):
        metadata["url"] = MetadataValue.url(target)
    else:
        metadata["path"] = MetadataValue.path(target)
    return metadata


def meetings_asset(
    *,
    name: str = "attio_meetings",
    output: Output_ = "parquet",
    path: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    batch_size: int | None = None,
    resource_key: str = "attio",
    window: str | None = None,
    destination: str | None = None,
    destination_table: str = "meetings",
    write_mode: str = "replace-window",
    store_resource_key: str | None = None,
    **asset_kwargs: Any,
) -> AssetsDefinition:
    """An asset of Attio meetings.

    ``output="parquet"`` writes ``path`` (``{partition_key}`` and ``{name}`` are filled in; a local path or an
    ``s3://``, ``gs://``, ``az://`` URL, credentials from the resource ``store_resource_key`` (an
    :class:`S3StoreResource`) if given, else the store's standard environment) and stores nothing in the IO manager; ``"table"`` / ``"dataframe"`` hand a ``pyarrow.Table`` / ``pandas.DataFrame``
    to the asset's IO manager. ``partitions_def`` must be a time-window one (daily, hourly, ...): each
    partition extracts the meetings that start in its window (``window="start"``, the default when
    partitioned: each meeting in exactly one partition; all-day ones by 00:00 in the partitions'
    timezone) or, with ``window="overlap"`` (the default unpartitioned), every meeting overlapping it
    (Attio's semantics: one crossing midnight is in both days). ``query`` sets the other filters
    (participants, linked record, page size). ``destination``, a database URL (``duckdb:///...``,
    ``postgresql://...``; the password from PGPASSWORD or ~/.pgpass), writes ``destination_table`` there instead of
    ``path`` with ``write_mode`` (default ``replace-window``: the rows starting in the partition's window are
    replaced, so re-materializing a partition leaves it exact; needs ``window="start"``). Other keyword
    arguments go to ``@asset`` (``group_name``, ``key_prefix``, ``io_manager_key``, ``deps``, ...).
    """
    if output not in ("parquet", "table", "dataframe"):
        raise ConfigError(f"output must be 'parquet', 'table' or 'dataframe', got {output!r}")
    if output == "parquet" and not path and not destination:
        raise ConfigError("output='parquet' needs a path, e.g. 'data/meetings/{partition_key}.parquet'")
    if partitions_def is not None and not isinstance(partitions_def, TimeWindowPartitionsDefinition):
        raise ConfigError(
            "partitions_def must be a time-window partitioning (Daily/Hourly/Weekly/Monthly...)"
        )
    base = query or MeetingQuery()
    options: dict[str, Any] = {
        k: v for k, v in (("slices", slices), ("batch_size", batch_size)) if v is not None
    }
    options["window"] = window or ("start" if partitions_def is not None else "overlap")
    ExtractConfig(**options)  # refuse a bad window or slice count when the asset is defined, not at run time
    asset_kwargs.setdefault(
        "description",
        f"Attio meetings ({'a Parquet file' if output == 'parquet' else output}) with filters {base.describe()}",
    )

    # No return annotation: Dagster would check an annotated return against Output / MaterializeResult.
    @asset(
        name=name,
        partitions_def=partitions_def,
        required_resource_keys={resource_key} | ({store_resource_key} if store_resource_key else set()),
        kinds={"attio", "parquet" if output == "parquet" else "python"},
        **asset_kwargs,
    )
    def _meetings(context: AssetExecutionContext, config: MeetingsRunConfig):  # type: ignore[no-untyped-def]
        resource: AttioResource = getattr(context.resources, resource_key)
        meeting_query = _window(context, base, config)
        extract_config = ExtractConfig(query=meeting_query, **options)
        context.log.info(f"extracting Attio meetings with filters {meeting_query.describe()}")
        if destination:
            report = extract_to_database(
                destination,
                table=destination_table,
                write_mode=write_mode,
                config=extract_config,
                client_config=resource.client_config(),
            )
            metadata = _extract_metadata(report, meeting_arrow_schema(), meeting_query)
            metadata["destination"] = MetadataValue.text(str(report.output))
            return MaterializeResult(metadata=metadata)
        if output == "parquet":
            target = str(path).format(partition_key=_partition_label(context), name=name)
            settings = _store_settings(context, store_resource_key)
            return MaterializeResult(metadata=_to_parquet(target, extract_config, resource, settings))
        table, report = anyio.run(_extract_in_memory, extract_config, resource.client_config())
        metadata = _extract_metadata(report, table.schema, meeting_query)
        value = table if output == "table" else meetings_to_dataframe(table)
        return Output(value, metadata=metadata)

    return _meetings


def _import_metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        key: MetadataValue.int(int(data.get(key) or 0))
        for key in (
            "rows",
            "created",
            "found",
            "rejected",
            "failed",
            "skipped",
            "requests",
            "retries",
            "rate_limited",
        )
    }
    metadata["writes_per_second"] = MetadataValue.float(float(data.get("writes_per_second") or 0.0))
    metadata["seconds"] = MetadataValue.float(float(data.get("seconds") or 0.0))
    if data.get("results_path"):
        metadata["results_path"] = MetadataValue.path(str(data["results_path"]))
    if data.get("errors"):
        metadata["errors"] = MetadataValue.json(list(data["errors"])[:20])
    if data.get("aborted"):
        metadata["aborted"] = MetadataValue.text(str(data["aborted"]))
    if data.get("input_error"):
        metadata["input_error"] = MetadataValue.text(str(data["input_error"]))
    return metadata


def _run_import(
    context: AssetExecutionContext | OpExecutionContext,
    resource: AttioResource,
    source: str | None,
    run: ImportRunConfig,
    settings: Mapping[str, Any],
    store: S3Settings | None,
) -> Output:
    """Load the file; the report as the output, or a Failure with the same metadata when rows went wrong.

    A source or results URL goes through local scratch (:func:`connector.storage.load.staged_load`): the
    input downloaded whole first, the results uploaded as one object once the load has returned."""
    source = run.source or source
    if not source:
        raise Failure(
            description="no file to import: give source= to the factory or in the run config",
            allow_retries=False,
        )
    config = LoadConfig(dry_run=run.dry_run, **settings)
    context.log.info(f"importing {source} into Attio ({'dry run' if run.dry_run else config.contract})")
    client_config = None if run.dry_run else resource.client_config()
    with staged_load(source, config.results_path, dry_run=run.dry_run, settings=store) as (local, results):
        report = load_sync(
            local, dataclasses.replace(config, results_path=results), client_config=client_config
        )
    context.log.info(report.format())
    data = jsonable(report.to_dict())
    metadata = _import_metadata(data)
    if not report.ok:
        raise Failure(
            description=f"{report.rejected} rows rejected, {report.failed} failed"
            + (f", aborted: {report.aborted}" if report.aborted else "")
            + (f", input broke: {report.input_error}" if report.input_error else "")
            + f"; per-row results in {report.results_path}",
            metadata=metadata,
            # rejected rows and a broken input need a fixed file, not a retry
            allow_retries=bool(report.failed or report.aborted) and not report.input_error,
        )
    return Output(data, metadata=metadata)


def _load_settings(
    mapping: str | None, results_path: str | None, ledger_path: str | None, concurrency: int, contract: str
) -> dict[str, Any]:
    settings = {"mapping": mapping, "results_path": results_path, "ledger_path": ledger_path}
    LoadConfig(concurrency=concurrency, contract=contract)  # type: ignore[arg-type]  # refuse bad values now
    return {k: v for k, v in settings.items() if v} | {"concurrency": concurrency, "contract": contract}


def meetings_import_asset(
    *,
    name: str = "attio_meetings_import",
    source: str | None = None,
    mapping: str | None = None,
    results_path: str | None = None,
    ledger_path: str | None = None,
    concurrency: int = defaults.LOAD_CONCURRENCY,
    contract: str = "find-or-create",
    resource_key: str = "attio",
    store_resource_key: str | None = None,
    **asset_kwargs: Any,
) -> AssetsDefinition:
    """An asset that imports a spreadsheet into Attio; its value is the load report (a dict).

    The run fails when any row is rejected or fails (``Failure`` with the counts and the results file
    as metadata). ``source`` can be overridden at launch (:class:`ImportRunConfig`). Re-materializing is
    safe: the ledger skips rows already sent. ``source`` and ``results_path`` may be ``s3://``, ``gs://``,
    ``az://`` URLs (S3 credentials from the resource ``store_resource_key``, an :class:`S3StoreResource`,
    if given; the results, by default ``<source stem>.results.csv`` beside the source, uploaded as one
    object; ``results_path`` metadata names the local scratch copy). Other keyword arguments go to
    ``@asset`` (e.g. ``deps``).
    """
    settings = _load_settings(mapping, results_path, ledger_path, concurrency, contract)
    asset_kwargs.setdefault("description", f"Meetings imported into Attio from {source or 'a file'}")
    required = {resource_key} | ({store_resource_key} if store_resource_key else set())

    @asset(name=name, required_resource_keys=required, kinds={"attio"}, **asset_kwargs)
    def _import(context: AssetExecutionContext, config: ImportRunConfig) -> Output:
        store = _store_settings(context, store_resource_key)
        return _run_import(context, getattr(context.resources, resource_key), source, config, settings, store)

    return _import


def meetings_import_op(
    *,
    name: str = "attio_import_meetings",
    source: str | None = None,
    mapping: str | None = None,
    results_path: str | None = None,
    ledger_path: str | None = None,
    concurrency: int = defaults.LOAD_CONCURRENCY,
    contract: str = "find-or-create",
    resource_key: str = "attio",
    store_resource_key: str | None = None,
) -> OpDefinition:
    """The import as an op, for jobs built from ops; same behaviour and output as :func:`meetings_import_asset`."""
    settings = _load_settings(mapping, results_path, ledger_path, concurrency, contract)
    required = {resource_key} | ({store_resource_key} if store_resource_key else set())

    @op(name=name, required_resource_keys=required)
    def _import(context: OpExecutionContext, config: ImportRunConfig) -> Output:
        store = _store_settings(context, store_resource_key)
        return _run_import(context, getattr(context.resources, resource_key), source, config, settings, store)

    return _import


def workspace_meetings_asset(
    *,
    workspaces: list[str],
    path: str,
    start_date: str,
    name: str = "attio_workspace_meetings",
    timezone: str = "UTC",
    query: MeetingQuery | None = None,
    slices: int | None = None,
    store_resource_key: str | None = None,
    **asset_kwargs: Any,
) -> AssetsDefinition:
    """Meetings of many workspaces, multi-partitioned ``workspace`` x ``day``, written to Parquet.

    A partition extracts the meetings of one workspace that start on one day (all-day ones by 00:00 in
    ``timezone``) to ``path`` with ``{workspace}`` and ``{day}`` filled in, through the workspace's own
    resource ``attio_<workspace>`` (an :class:`AttioResource`: its token, base URL and limits). ``path`` may
    be an object-store URL, as for :func:`meetings_asset` (``store_resource_key``). Other keyword arguments
    go to ``@asset``.
    """
    if not workspaces or len(set(workspaces)) != len(workspaces):
        raise ConfigError("workspaces must be a non-empty list of distinct names")
    days = DailyPartitionsDefinition(start_date=start_date, timezone=timezone)
    partitions = MultiPartitionsDefinition(
        {"workspace": StaticPartitionsDefinition(list(workspaces)), "day": days}
    )
    base = query or MeetingQuery()
    options: dict[str, Any] = {"window": "start", **({"slices": slices} if slices is not None else {})}
    ExtractConfig(**options)
    asset_kwargs.setdefault("description", f"Attio meetings per workspace and day, filters {base.describe()}")

    @asset(
        name=name,
        partitions_def=partitions,
        required_resource_keys={f"attio_{workspace}" for workspace in workspaces}
        | ({store_resource_key} if store_resource_key else set()),
        kinds={"attio", "parquet"},
        **asset_kwargs,
    )
    def _meetings(context: AssetExecutionContext):  # type: ignore[no-untyped-def]  # unannotated for Dagster, as above
        key = context.partition_key
        assert isinstance(key, MultiPartitionKey)
        workspace, day = key.keys_by_dimension["workspace"], key.keys_by_dimension["day"]
        window = days.time_window_for_partition_key(day)
        meeting_query = base.replace(ends_from=window.start, starts_before=window.end, timezone=timezone)
        resource: AttioResource = getattr(context.resources, f"attio_{workspace}")
        target = path.format(workspace=workspace, day=day)
        context.log.info(f"extracting workspace {workspace}'s meetings of {day} to {target}")
        extract_config = ExtractConfig(query=meeting_query, **options)
        metadata = _to_parquet(target, extract_config, resource, _store_settings(context, store_resource_key))
        metadata["workspace"] = MetadataValue.text(workspace)
        return MaterializeResult(metadata=metadata)

    return _meetings


def _time_dimension(
    partitions_def: PartitionsDefinition | None,
) -> tuple[TimeWindowPartitionsDefinition | None, str | None]:
    """The time-window partitioning of a tables asset and its dimension's name (None: not multi-partitioned).

    Refuses what the meetings assets do not use: a partitioning without time windows, or a multi-partitioning
    other than a static ``workspace`` dimension x a time-window one (:func:`workspace_meetings_asset`'s).
    """
    if partitions_def is None:
        return None, None
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        return partitions_def, None
    if isinstance(partitions_def, MultiPartitionsDefinition):
        dims = {d.name: d.partitions_def for d in partitions_def.partitions_defs}
        times = [n for n, d in dims.items() if isinstance(d, TimeWindowPartitionsDefinition)]
        if isinstance(dims.get("workspace"), StaticPartitionsDefinition) and len(times) == 1:
            time_def = dims[times[0]]
            assert isinstance(time_def, TimeWindowPartitionsDefinition)
            return time_def, times[0]
    raise ConfigError(
        "partitions_def must be a time-window partitioning (Daily/Hourly/...) or workspace_meetings_asset's "
        "workspace x day one (pass its partitions_def)"
    )


def _table_metadata(
    report: ExtractReport, table: str, place: str | None, query: MeetingQuery, *, database: bool
) -> dict[str, Any]:
    """One table's materialization metadata: the run's figures, with the table's rows, schema and place
    (``destination``, a database table; ``url``, an object; ``path``, a local file)."""
    metadata = _extract_metadata(report, TABLES[table].arrow_schema(), query)
    metadata["dagster/row_count"] = MetadataValue.int(report.tables.get(table, 0))
    metadata["schema_version"] = MetadataValue.text(TABLES[table].schema().version)
    if place is not None and database:
        metadata["destination"] = MetadataValue.text(place)
    elif place is not None and is_url(place):
        metadata["url"] = MetadataValue.url(place)
    elif place is not None:
        metadata["path"] = MetadataValue.path(place)
    if table != "meetings":
        metadata["meetings_scanned"] = MetadataValue.int(report.meetings_scanned)
        metadata["skipped_future_meetings"] = MetadataValue.int(report.skipped_future_meetings)
    return metadata


def tables_multi_asset(
    *,
    tables: str | Sequence[str] = tuple(TABLES),
    path: str | None = None,
    partitions_def: PartitionsDefinition | None = None,
    query: MeetingQuery | None = None,
    slices: int | None = None,
    resource_key: str = "attio",
    window: str | None = None,
    destination: str | None = None,
    write_mode: str = "merge",
    store_resource_key: str | None = None,
    name: str = "attio_tables",
    names: Mapping[str, str] | None = None,
    key_prefix: str | Sequence[str] | None = None,
    group_name: str | None = None,
    include_future_meetings: bool = False,
    **multi_asset_kwargs: Any,
) -> AssetsDefinition:
    """One multi-asset of ``tables`` (default meetings -> call_recordings -> transcript_segments, each asset
    depending on the one before), all materialized by one extract run.

    Asset keys are ``names[table]`` (default ``attio_<table>``) under ``key_prefix``: the meetings asset's key
    is that of :func:`meetings_asset`'s default, so use one of the two for meetings, or rename. ``path`` is a
    folder (a local path or an ``s3://``, ``gs://``, ``az://`` URL; ``{partition_key}``, ``{name}`` and, when
    multi-partitioned, ``{workspace}`` and the time dimension's name, e.g. ``{day}``, are filled in) that gets
    ``<table>.parquet`` each; or ``destination``, a database URL, gets a table of each name, with ``write_mode``
    (default ``merge``: meetings by ``meeting_id``, recordings by ``call_recording_id``, a transcript's segments
    as a whole, so re-materializing a partition leaves it exact).

    ``partitions_def``: none (the window comes from the launch config, :class:`MeetingsRunConfig`), a
    time-window partitioning (each partition extracts the meetings starting in its window, by default, and
    their recordings), or the workspace x day partitioning of :func:`workspace_meetings_asset` (each workspace
    through its own resource ``attio_<workspace>``). ``window``, ``query``, ``slices``, ``store_resource_key``
    as for :func:`meetings_asset`; ``include_future_meetings`` lists the recordings of meetings that start after
    the run began too (skipped by default: they cannot have one yet). Other keyword arguments go to
    ``@multi_asset``.
    """
    selected = check_tables(tables)
    if not path and not destination:
        raise ConfigError(
            "tables_multi_asset needs a path (a folder, e.g. 'data/attio/{partition_key}') or a destination"
        )
    if path and destination:
        raise ConfigError("give tables_multi_asset a path or a destination, not both")
    time_def, time_dim = _time_dimension(partitions_def)
    base = query or MeetingQuery()
    options: dict[str, Any] = {k: v for k, v in (("slices", slices),) if v is not None}
    options["window"] = window or ("start" if partitions_def is not None else "overlap")
    options["include_future_meetings"] = include_future_meetings
    ExtractConfig(**options)  # refuse a bad window or slice count when the asset is defined
    if destination and write_mode == "replace-window" and selected != ("meetings",):
        raise ConfigError("write_mode replace-window is for the meetings table alone; use merge or replace")
    unknown = sorted(set(names or {}) - set(selected))
    if unknown:
        raise ConfigError(f"names= renames {', '.join(unknown)}, which tables= does not select")
    prefix = [key_prefix] if isinstance(key_prefix, str) else list(key_prefix or [])
    keys = {t: AssetKey([*prefix, (names or {}).get(t, f"attio_{t}")]) for t in selected}
    workspaces: list[str] = []
    if time_dim is not None:
        assert isinstance(partitions_def, MultiPartitionsDefinition)
        workspaces = list(partitions_def.get_partitions_def_for_dimension("workspace").get_partition_keys())
    kinds = {"attio", "parquet" if path else "sql"}
    specs = [
        AssetSpec(
            keys[t], deps=[keys[selected[i - 1]]] if i else [], group_name=group_name, kinds=kinds,
            description=f"Attio {t.replace('_', ' ')} with meeting filters {base.describe()}",
        )
        for i, t in enumerate(selected)
    ]  # fmt: skip
    required = {f"attio_{w}" for w in workspaces} if workspaces else {resource_key}

    @multi_asset(
        name=name,
        specs=specs,
        partitions_def=partitions_def,
        required_resource_keys=required | ({store_resource_key} if store_resource_key else set()),
        **multi_asset_kwargs,
    )
    def _tables(context: AssetExecutionContext, config: MeetingsRunConfig) -> Iterator[MaterializeResult]:
        fill = {"name": name, "partition_key": _partition_label(context)}
        key = resource_key
        if time_dim is not None and time_def is not None:  # workspace x time
            partition = context.partition_key
            assert isinstance(partition, MultiPartitionKey)
            fill |= partition.keys_by_dimension
            key = f"attio_{fill['workspace']}"
            span = time_def.time_window_for_partition_key(fill[time_dim])
            meeting_query = base.replace(
                ends_from=span.start, starts_before=span.end, timezone=time_def.timezone
            )
        else:
            meeting_query = _window(context, base, config)
        resource: AttioResource = getattr(context.resources, key)
        extract_config = ExtractConfig(query=meeting_query, **options)
        context.log.info(f"extracting Attio {', '.join(selected)} with filters {meeting_query.describe()}")
        if destination:
            report = extract_to_database(
                destination,
                write_mode=write_mode,
                config=extract_config,
                client_config=resource.client_config(),
                tables=selected,
            )
        else:
            report = extract_to_path(
                str(path).format(**fill),
                format="parquet",
                config=extract_config,
                client_config=resource.client_config(),
                store_settings=_store_settings(context, store_resource_key),
                tables=selected,
            )
        outputs = report.outputs or {selected[0]: report.output}
        for table in selected:
            metadata = _table_metadata(
                report, table, outputs.get(table), meeting_query, database=bool(destination)
            )
            if workspaces:
                metadata["workspace"] = MetadataValue.text(fill["workspace"])
            yield MaterializeResult(asset_key=keys[table], metadata=metadata)

    return _tables
