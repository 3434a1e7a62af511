"""Example Airflow DAGs for the Attio meetings connector (Airflow 3 or 2.10; ``pip install 'connector[airflow]'``).

Copy this file into your DAGs folder and create the connection, for instance from the environment:

    export AIRFLOW_CONN_ATTIO_DEFAULT='{"conn_type": "attio", "host": "https://api.attio.com",
                                       "password": "<API token>", "extra": {"reads_per_second": 90}}'

- ``attio_meetings_daily`` extracts each day's meetings to ``<data_dir>/meetings/date=YYYY-MM-DD/meetings.parquet``.
  Its bounds default to the run's data interval, so the schedule must have one: ``CronDataIntervalTimetable``
  (in Airflow 3 a plain ``"@daily"`` gives start == end). Backfill with ``airflow backfill create``.
- ``attio_meetings_import`` loads a spreadsheet when triggered (``source``/``mapping`` params); it fails
  when rows are rejected or fail, after pushing the load report (XCom ``report``) with the results file path.

Both operators push their report dict to XCom (``return_value``), for downstream tasks to read.
"""

from __future__ import annotations

import os

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

from connector.integrations.airflow import AttioExtractOperator, AttioLoadOperator

DATA_DIR = os.environ.get("ATTIO_DATA_DIR", "/opt/airflow/data/attio")

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
