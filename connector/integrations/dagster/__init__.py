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

from .assets import meetings_asset, tables_multi_asset, workspace_meetings_asset
from .imports import meetings_import_asset, meetings_import_op
from .resources import AttioResource, ImportRunConfig, MeetingsRunConfig, S3StoreResource

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
