"""Partitions and time windows: a materialization's meeting query and its label."""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.

from dagster import (
    AssetExecutionContext,
    MultiPartitionsDefinition,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from connector import (
    ConfigError,
    MeetingQuery,
)

from .._common import parse_bound
from .resources import MeetingsRunConfig


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
