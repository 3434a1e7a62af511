"""The meetings assets: one table (:func:`meetings_asset`), per workspace and day, several tables at once."""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import anyio
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    Output,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    asset,
    multi_asset,
)

from connector import (
    AttioClient,
    ClientConfig,
    ConfigError,
    ExtractConfig,
    ExtractReport,
    MeetingQuery,
    extract,
    extract_to_path,
    meetings_to_dataframe,
)
from connector.destinations import extract_to_database
from connector.extract.streams import TABLES, check_tables
from connector.schema import meeting_arrow_schema
from connector.storage import S3Settings, is_url

from .metadata import _extract_metadata, _table_metadata
from .partitions import _partition_label, _time_dimension, _window
from .resources import AttioResource, MeetingsRunConfig, Output_, _store_settings


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
