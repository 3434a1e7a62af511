"""Example Dagster definitions for the Attio meetings connector (``pip install 'connector[dagster]'``).

    export ATTIO_API_KEY=...            # read by Dagster at run time (EnvVar): never stored in config
    dagster dev -f sample_configs/dagster_definitions.py

- ``attio_meetings``: one Parquet file per UTC day, ``<data_dir>/meetings/date=YYYY-MM-DD/meetings.parquet``;
  each partition holds the meetings that start on its day. A daily schedule materializes yesterday.
- ``attio_tables/attio_meetings`` -> ``attio_call_recordings`` -> ``attio_transcript_segments``: one multi-asset,
  daily like ``attio_meetings``; one extract run per partition writes the three tables to
  ``<data_dir>/tables/date=YYYY-MM-DD/<table>.parquet``, each asset with its own metadata (rows, schema, path).
- ``attio_meetings_recent``: a pandas DataFrame for the IO manager; its window comes from the launch
  config (``ends_from`` / ``starts_before``, ISO 8601), open when left empty.
- ``attio_meetings_import``: loads ``<data_dir>/import/meetings.csv`` (or the ``source`` given at launch)
  into Attio; the run fails when rows are rejected or fail, with the per-row results file as metadata.

Settings from the environment: ``ATTIO_DATA_DIR`` (default ``data/attio``), ``ATTIO_BASE_URL``.
"""

from __future__ import annotations

import os

from dagster import (
    DailyPartitionsDefinition,
    Definitions,
    EnvVar,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from connector.integrations.dagster import (
    AttioResource,
    meetings_asset,
    meetings_import_asset,
    tables_multi_asset,
)

DATA_DIR = os.environ.get("ATTIO_DATA_DIR", "data/attio")
daily = DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")

attio_meetings = meetings_asset(
    name="attio_meetings",
    path=f"{DATA_DIR}/meetings/date={{partition_key}}/meetings.parquet",
    partitions_def=daily,
    group_name="attio",
)
# Meetings with their call recordings and transcripts; the key prefix keeps its meetings apart from attio_meetings.
attio_tables = tables_multi_asset(
    name="attio_tables",
    path=f"{DATA_DIR}/tables/date={{partition_key}}",
    partitions_def=daily,
    key_prefix="attio_tables",
    group_name="attio",
)
attio_meetings_recent = meetings_asset(name="attio_meetings_recent", output="dataframe", group_name="attio")
attio_meetings_import = meetings_import_asset(
    name="attio_meetings_import",
    source=f"{DATA_DIR}/import/meetings.csv",
    group_name="attio",
)

daily_job = define_asset_job("attio_meetings_daily", selection=[attio_meetings])

resources = {
    "attio": AttioResource(
        api_key=EnvVar("ATTIO_API_KEY"),
        base_url=os.environ.get("ATTIO_BASE_URL", "https://api.attio.com"),
        reads_per_second=90,  # Attio allows 100/s per workspace; leave room for other clients
        writes_per_second=22,
    )
}

defs = Definitions(
    assets=[attio_meetings, attio_tables, attio_meetings_recent, attio_meetings_import],
    jobs=[daily_job],
    schedules=[build_schedule_from_partitioned_job(daily_job)],
    resources=resources,
)
