"""Example Airflow DAGs for the Attio meetings connector (Airflow 3 or 2.10; ``pip install 'connector[airflow]'``).

Copy this file into your DAGs folder and create the connection, for instance from the environment:

    export AIRFLOW_CONN_ATTIO_DEFAULT='{"conn_type": "attio", "host": "https://api.attio.com",
                                       "password": "<API token>", "extra": {"reads_per_second": 90}}'

- ``attio_meetings_daily`` extracts each day's meetings to ``<data_dir>/meetings/date=YYYY-MM-DD/meetings.parquet``.
  Its bounds default to the run's data interval, so the schedule must have one: ``CronDataIntervalTimetable``
  (in Airflow 3 a plain ``"@daily"`` gives start == end). Backfill with ``airflow backfill create``.
- ``attio_meetings_workspaces`` fans out over many workspaces x the days of each weekly data interval with
  dynamic task mapping: one Airflow connection per workspace (``AIRFLOW_CONN_ATTIO_ACME``, ...), listed in
  the ``workspaces`` param, files at ``<data_dir>/meetings/workspace=<conn>/date=YYYY-MM-DD/meetings.parquet``.
  The tasks of one workspace share its token's budget: give its connection ``"rate_limit_url":
  "redis://..."`` in the extra (see the README's "Scaling"), or keep ``max_active_tis_per_dagrun`` small.
- ``attio_meetings_lake`` extracts each day's meetings to an object store, ``$ATTIO_LAKE_URL/meetings/date=YYYY-MM-DD/
  meetings.parquet`` (default ``s3://acme-lake/attio``), with the S3 key pair, endpoint and region of the Airflow
  AWS connection ``attio_lake_aws`` (``AIRFLOW_CONN_ATTIO_LAKE_AWS``). Its output is the Asset
  ``$ATTIO_LAKE_URL/meetings``: ``attio_meetings_lake_consumer`` is scheduled on it and runs after each fresh day.
- ``attio_transcripts_daily`` extracts each day's meetings with their call recordings and transcript segments,
  one run, to ``$ATTIO_DATA_DIR/tables/date=YYYY-MM-DD/<table>.parquet``; each table is an Asset
  (``file://$ATTIO_DATA_DIR/tables/date=*/transcript_segments.parquet``, ...), and
  ``attio_transcripts_consumer`` is scheduled on the transcript segments' one: it runs after each fresh day.
- ``attio_meetings_import`` loads a spreadsheet when triggered (``source``/``mapping`` params); it fails
  when rows are rejected or fail, after pushing the load report (XCom ``report``) with the results file path.

Both operators push their report dict to XCom (``return_value``), for downstream tasks to read.
"""

from __future__ import annotations

import os

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, CronDataIntervalTimetable, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task
    from airflow.timetables.interval import CronDataIntervalTimetable

from connector.integrations.airflow import AttioExtractOperator, AttioLoadOperator, workspace_windows

DATA_DIR = os.environ.get("ATTIO_DATA_DIR", "/opt/airflow/data/attio")
LAKE_URL = os.environ.get("ATTIO_LAKE_URL", "s3://acme-lake/attio")

with DAG(
    dag_id="attio_meetings_daily",
    description="Extract each day's Attio meetings to Parquet",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,  # concurrent days share Attio's read budget: keep this small
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=2)},
    params={"data_dir": DATA_DIR},
    tags=["attio"],
) as daily:
    AttioExtractOperator(
        task_id="extract_meetings",
        output_path="{{ params.data_dir }}/meetings/date={{ data_interval_start | ds }}/meetings.parquet",
        # ends_from / starts_before default to "{{ data_interval_start }}" / "{{ data_interval_end }}"
    )

with DAG(
    dag_id="attio_meetings_workspaces",
    description="Extract each workspace's meetings, one task per workspace and day",
    schedule=CronDataIntervalTimetable("@weekly", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=2)},
    params={"data_dir": DATA_DIR, "workspaces": ["attio_acme", "attio_globex"]},
    tags=["attio"],
) as workspaces:

    @task
    def plan(params=None, data_interval_start=None, data_interval_end=None):
        """One extract per workspace (connection) and day of the data interval."""
        path = params["data_dir"] + "/meetings/workspace={workspace}/date={day}/meetings.parquet"
        return workspace_windows(params["workspaces"], data_interval_start, data_interval_end, path)

    # Workers run the mapped tasks in parallel (CeleryExecutor / KubernetesExecutor); cap them per run.
    AttioExtractOperator.partial(task_id="extract_meetings", max_active_tis_per_dagrun=8).expand_kwargs(
        plan()
    )

with DAG(
    dag_id="attio_meetings_lake",
    description="Extract each day's Attio meetings to the lake (an object store), declaring them as an Asset",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=2)},
    tags=["attio"],
) as lake:
    to_lake = AttioExtractOperator(
        task_id="extract_meetings",
        # The Asset is the folder before the first template: LAKE_URL/meetings; each run's event names its file.
        output_path=LAKE_URL + "/meetings/date={{ data_interval_start | ds }}/meetings.parquet",
        aws_conn_id="attio_lake_aws",  # S3 credentials from this AWS connection, for this task only
    )

with DAG(
    dag_id="attio_meetings_lake_consumer",
    description="Runs whenever fresh meetings land in the lake",
    schedule=to_lake.outlets,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["attio"],
) as lake_consumer:

    @task
    def fresh_files(**context):
        """The files the triggering extracts wrote (a warehouse load, e.g. COPY INTO, would read them)."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        return [event.extra.get("output") for asset_events in events.values() for event in asset_events]

    fresh_files()

with DAG(
    dag_id="attio_transcripts_daily",
    description="Extract each day's Attio meetings, call recordings and transcript segments, an Asset each",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,  # a recordings extract makes a request or more per meeting: it sets the pace
    default_args={"retries": 3, "retry_delay": pendulum.duration(minutes=2)},
    tags=["attio"],
) as transcripts:
    to_tables = AttioExtractOperator(
        task_id="extract_tables",
        tables=["meetings", "call_recordings", "transcript_segments"],  # checked when the DAG is parsed
        # A folder: each table goes to <folder>/<table>.parquet. DATA_DIR, not a param: an Asset needs a
        # static prefix, and "{{ params.data_dir }}" would leave none.
        output_path=DATA_DIR + "/tables/date={{ data_interval_start | ds }}",
    )

with DAG(
    dag_id="attio_transcripts_consumer",
    description="Runs whenever a fresh day of transcript segments lands",
    schedule=[to_tables.table_assets["transcript_segments"]],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["attio"],
) as transcripts_consumer:

    @task
    def fresh_transcripts(**context):
        """The transcript files the triggering extracts wrote, with their row counts."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        return [
            (event.extra.get("output"), event.extra.get("rows"))
            for batch in events.values()
            for event in batch
        ]

    fresh_transcripts()

with DAG(
    dag_id="attio_meetings_import",
    description="Find-or-create Attio meetings from a spreadsheet",
    schedule=None,  # triggered with {"source": ".../meetings.csv", "mapping": ".../mapping.toml"}
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={"source": f"{DATA_DIR}/import/meetings.csv", "mapping": ""},
    tags=["attio"],
) as imports:
    AttioLoadOperator(
        task_id="load_meetings",
        source="{{ params.source }}",
        mapping="{{ params.mapping }}",
        # results and ledger default to <source stem>.results.csv / .ledger.sqlite beside the source
    )
