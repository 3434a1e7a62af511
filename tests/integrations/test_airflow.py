"""The Airflow integration: the hook's connection parsing, and the example DAGs run with ``dag.test()``.

The DAGs are ``sample_configs/airflow_dag.py`` itself, copied into a temporary DAGs folder (Airflow 3's
``dag.test()`` runs DAGs that its DAG processor can find), with the connection in
``AIRFLOW_CONN_ATTIO_DEFAULT`` pointing at an emulator on loopback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("airflow") is None:
    pytest.skip("needs the airflow extra: pip install -e '.[airflow,dev]'", allow_module_level=True)

# Airflow reads its home and settings when first imported: point them at a scratch folder first.
_HOME = Path(tempfile.mkdtemp(prefix="connector-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_HOME / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
LAKE_BUCKET = "connector-lake"
os.environ["ATTIO_LAKE_URL"] = f"s3://{LAKE_BUCKET}/attio"  # read by the example DAGs when they are parsed
os.environ["ATTIO_DATA_DIR"] = str(
    _HOME / "data"
)  # the transcripts DAG's folder (static: it names its Assets)

import io  # noqa: E402

import pyarrow.parquet as pq  # noqa: E402
from airflow.sdk import Asset, Connection  # noqa: E402
from cloud_helpers import (  # noqa: E402, F401 - fixtures
    Azurite,
    Bucket,
    ServiceAccountKey,
    TokenEndpoint,
    azurite_fixture,
    bucket_fixture,
    fake_gcs_fixture,
    token_endpoint_fixture,
)
from extract_helpers import assert_table_matches, brute_force  # noqa: E402
from objectstore_helpers import KEY_ID, SECRET, Moto, moto_fixture, without_aws_environment  # noqa: E402, F401 - fixtures
from recording_helpers import assert_recordings_match, segment_rows, table_segment_rows  # noqa: E402

from connector import ConfigError, Secret  # noqa: E402
from connector.emulator import EmulatorThread  # noqa: E402
from connector.emulator.config import Workspace  # noqa: E402
from connector.integrations import _airflow_compat  # noqa: E402
from connector.integrations.airflow import (  # noqa: E402
    AttioExtractOperator,
    AttioLoadOperator,
    azure_settings_from_connection,
    client_config_from_connection,
    gcs_settings_from_connection,
    output_asset,
    output_assets,
    s3_settings_from_connection,
    workspace_windows,
)
from connector.models import MeetingQuery  # noqa: E402

pytestmark = pytest.mark.airflow

SAMPLE_DAGS = Path(__file__).resolve().parents[2] / "sample_configs" / "airflow_dag.py"


@pytest.fixture(scope="module")
def dags() -> Any:
    """The example DAG module, loaded from the DAGs folder of a fresh sqlite metadata DB."""
    from airflow.utils import db

    folder = _HOME / "dags"
    folder.mkdir(exist_ok=True)
    shutil.copy(SAMPLE_DAGS, folder / "attio_dags.py")
    db.initdb()
    spec = importlib.util.spec_from_file_location("attio_dags", folder / "attio_dags.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def attio_connection(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An emulator and ``AIRFLOW_CONN_ATTIO_DEFAULT`` (JSON form) pointing at it."""
    with EmulatorThread(meetings=3000, seed=11, read_rate=0, write_rate=0) as emu:
        host, port = emu.url.removeprefix("http://").rsplit(":", 1)
        conn = {
            "conn_type": "attio",
            "host": host,
            "port": int(port),
            "schema": "http",
            "password": emu.token,
            "extra": {"reads_per_second": 0, "writes_per_second": 0},
        }
        monkeypatch.setenv("AIRFLOW_CONN_ATTIO_DEFAULT", json.dumps(conn))
        yield emu


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("https://api.attio.com", None, None, "https://api.attio.com"),
        ("api.attio.com", None, None, "https://api.attio.com"),
        ("127.0.0.1", "http", 8080, "http://127.0.0.1:8080"),
        ("http://127.0.0.1/", "", 9000, "http://127.0.0.1:9000"),
        (None, None, None, "https://api.attio.com"),
    ],
    ids=["url", "bare-host", "host-schema-port", "url-plus-port", "default"],
)
def test_connection_fields_make_the_client_config(host: Any, schema: Any, port: Any, expected: str) -> None:
    conn = Connection(
        conn_id="attio_x",
        conn_type="attio",
        host=host,
        schema=schema,
        port=port,
        password="tok-123456",
        extra=json.dumps({"reads_per_second": "5", "max_in_flight": 4, "max_attempts": 2}),
    )
    config = client_config_from_connection(conn)
    assert config.base_url == expected
    assert config.token == Secret("tok-123456")
    assert (config.limits.reads_per_second, config.limits.max_in_flight, config.retry.max_attempts) == (
        5.0,
        4,
        2,
    )
    assert "tok-123456" not in repr(config)


@pytest.mark.parametrize(
    ("password", "extra", "message"),
    [
        (None, None, "has no password"),
        ("tok-123456", {"read_per_second": 1}, "unknown extra key(s) read_per_second"),
        ("tok-123456", {"max_in_flight": "many"}, "'max_in_flight' must be a int"),
    ],
    ids=["no-token", "typo-in-extra", "bad-number"],
)
def test_bad_connections_are_refused_without_the_token(password: Any, extra: Any, message: str) -> None:
    conn = Connection(
        conn_id="attio_x",
        conn_type="attio",
        host="h",
        password=password,
        extra=json.dumps(extra) if extra else None,
    )
    with pytest.raises(ConfigError) as info:
        client_config_from_connection(conn)
    assert message in str(info.value)
    assert "tok-123456" not in str(info.value)


def test_an_empty_data_interval_is_refused_with_a_hint() -> None:
    op = AttioExtractOperator(
        task_id="x",
        output_path="x.parquet",
        ends_from="2024-03-01 00:00:00+00:00",
        starts_before="2024-03-01T00:00:00+00:00",
    )
    with pytest.raises(ConfigError, match="CronDataIntervalTimetable"):
        op.query()


def test_hook_test_connection_reports_a_bad_token(
    monkeypatch: pytest.MonkeyPatch, attio_connection: Any
) -> None:
    from connector.integrations.airflow import AttioHook

    assert AttioHook().test_connection() == (True, "Connection to Attio works")
    conn = json.loads(os.environ["AIRFLOW_CONN_ATTIO_DEFAULT"]) | {"password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_ATTIO_DEFAULT", json.dumps(conn))
    ok, message = AttioHook().test_connection()
    assert not ok and "wrong-token" not in message


def test_daily_dag_extracts_its_data_interval(
    dags: Any,
    attio_connection: EmulatorThread,
    tmp_path: Path,
    starting_in: Any,
    in_window: Any,
    busiest: Any,
) -> None:
    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(meetings)
    logical = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    run = dags.daily.test(logical_date=logical, run_conf={"data_dir": str(tmp_path)})

    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    assert end - start == timedelta(days=1)
    expected = starting_in(meetings, start, end)  # window="start" by default: each meeting in one day only
    assert expected  # the busiest day's neighbourhood is never empty
    assert expected <= in_window(meetings, start, end)
    path = tmp_path / "meetings" / f"date={start:%Y-%m-%d}" / "meetings.parquet"
    table = pq.read_table(path)
    assert sorted(table.column("meeting_id").to_pylist()) == sorted(expected)

    report = run.get_task_instance("extract_meetings").xcom_pull(task_ids="extract_meetings")
    assert report["rows"] == len(expected) == table.num_rows
    assert report["output"] == str(path)
    assert report["retries"] == 0 and report["requests"] >= report["pages"] >= 1


def test_import_dag_fails_on_rejected_rows_and_pushes_the_report(
    dags: Any, attio_connection: EmulatorThread, import_csv: Path
) -> None:
    run = dags.imports.test(
        logical_date=datetime(2024, 3, 5, tzinfo=timezone.utc), run_conf={"source": str(import_csv)}
    )

    assert run.state == "failed"
    ti = run.get_task_instance("load_meetings")
    assert ti.try_number == 1  # rejected rows need a fixed file: AirflowFailException skips the retries
    report = ti.xcom_pull(task_ids="load_meetings", key="report")
    assert (report["rows"], report["created"], report["rejected"], report["failed"], report["ok"]) == (
        3,
        2,
        1,
        0,
        False,
    )
    results = Path(report["results_path"])
    assert results.exists() and "orch-3" in results.read_text(encoding="utf-8")
    assert sorted(attio_connection.emulator.store.count_by_external_ref().values()) == [1, 1]


def test_an_input_that_breaks_part_way_fails_without_retries(
    dags: Any, attio_connection: EmulatorThread, broken_csv: Path
) -> None:
    run = dags.imports.test(
        logical_date=datetime(2024, 3, 5, tzinfo=timezone.utc), run_conf={"source": str(broken_csv)}
    )

    assert run.state == "failed"
    ti = run.get_task_instance("load_meetings")
    assert ti.try_number == 1  # a broken file needs fixing, not a retry
    report = ti.xcom_pull(task_ids="load_meetings", key="report")
    assert (report["created"], report["ok"]) == (2, False)
    assert "row 4" in report["input_error"] and "never closes" in report["input_error"]
    results = Path(report["results_path"]).read_text(encoding="utf-8")
    assert "orch-1" in results and "orch-2" in results
    assert sorted(attio_connection.emulator.store.count_by_external_ref().values()) == [1, 1]


def test_a_bad_token_fails_the_extract_without_retries(
    dags: Any, attio_connection: EmulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ATTIO_DEFAULT"]) | {"password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_ATTIO_DEFAULT", json.dumps(conn))

    run = dags.daily.test(
        logical_date=datetime(2024, 6, 2, tzinfo=timezone.utc), run_conf={"data_dir": str(tmp_path)}
    )

    assert run.state == "failed"
    ti = run.get_task_instance("extract_meetings")
    assert (ti.state, ti.try_number) == ("failed", 1)  # the DAG allows 3 retries: a 401 skips them
    assert not list(tmp_path.rglob("*.parquet"))


ACME = Workspace("acme-token", meetings=600, seed=21, read_rate=0, write_rate=0)
GLOBEX = Workspace("globex-token", meetings=400, seed=22, read_rate=0, write_rate=0)


@pytest.fixture
def two_workspaces(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An emulator serving two workspaces, and one Airflow connection per workspace."""
    with EmulatorThread(meetings=10, seed=20, read_rate=0, write_rate=0, workspaces=(ACME, GLOBEX)) as emu:
        for conn_id, workspace in (("ATTIO_ACME", ACME), ("ATTIO_GLOBEX", GLOBEX)):
            conn = {
                "conn_type": "attio",
                "host": emu.url,
                "password": workspace.token,
                "extra": {"reads_per_second": 0, "writes_per_second": 0},
            }
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", json.dumps(conn))
        yield emu


def test_workspaces_dag_maps_over_workspaces_and_days(
    dags: Any, two_workspaces: EmulatorThread, tmp_path: Path, starting_in: Any, busiest: Any
) -> None:
    day = busiest(two_workspaces.emulator.workspaces[ACME.token].store.all_meetings())
    logical = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    run = dags.workspaces.test(
        logical_date=logical,
        run_conf={"data_dir": str(tmp_path), "workspaces": ["attio_acme", "attio_globex"]},
    )

    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    days = (end - start).days
    assert days == 7
    for conn_id, workspace in (("attio_acme", ACME), ("attio_globex", GLOBEX)):
        meetings = two_workspaces.emulator.workspaces[workspace.token].store.all_meetings()
        files = sorted((tmp_path / "meetings" / f"workspace={conn_id}").glob("date=*/meetings.parquet"))
        assert len(files) == days, "one mapped task per workspace and day"
        tables = [pq.read_table(f) for f in files]
        ids = [i for t in tables for i in t.column("meeting_id").to_pylist()]
        assert len(ids) == len(set(ids)), "each meeting in one day's file"
        assert set(ids) == starting_in(meetings, start, end) and ids
        assert {w for t in tables for w in t.column("workspace_id").to_pylist()} == {workspace.workspace_id}
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "extract_meetings"]
    assert len(mapped) == 2 * days and {ti.state for ti in mapped} == {"success"}


def test_workspace_windows_follow_each_other() -> None:
    plan = workspace_windows(
        ["a", "b"], "2024-03-04T00:00:00Z", "2024-03-06T12:00:00Z", "out/{workspace}/{day}.parquet"
    )
    assert [(p["attio_conn_id"], p["ends_from"], p["starts_before"], p["output_path"]) for p in plan[:3]] == [
        ("a", "2024-03-04T00:00:00+00:00", "2024-03-05T00:00:00+00:00", "out/a/2024-03-04.parquet"),
        ("a", "2024-03-05T00:00:00+00:00", "2024-03-06T00:00:00+00:00", "out/a/2024-03-05.parquet"),
        ("a", "2024-03-06T00:00:00+00:00", "2024-03-06T12:00:00+00:00", "out/a/2024-03-06.parquet"),
    ]
    assert len(plan) == 6
    with pytest.raises(ConfigError, match="empty"):
        workspace_windows(["a"], "2024-03-04", "2024-03-04", "x")


def test_connection_extra_rate_limit_url_shares_the_budget() -> None:
    conn = Connection(
        conn_id="attio_x",
        conn_type="attio",
        host="https://api.attio.com",
        password="tok-123456",
        extra=json.dumps({"rate_limit_url": "redis://:pw-777@redis:6379/0"}),
    )
    config = client_config_from_connection(conn)
    assert config.rate_limit_url == "redis://:pw-777@redis:6379/0" and "pw-777" not in repr(config)


def test_extract_operator_replaces_its_window_in_a_database(
    attio_connection: EmulatorThread, tmp_path: Path, starting_in: Any, busiest: Any
) -> None:
    import duckdb

    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(meetings)
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    path = tmp_path / "warehouse.duckdb"
    op = AttioExtractOperator(
        task_id="x",
        output_path=f"duckdb:///{path}",
        ends_from=start.isoformat(),
        starts_before=end.isoformat(),
        table="attio.meetings",
    )
    for _ in range(2):  # the default write mode, replace-window: a re-run leaves the day exact
        report = op.execute({})
        with duckdb.connect(str(path), read_only=True) as con:
            ids = {r[0] for r in con.execute("SELECT meeting_id FROM attio.meetings").fetchall()}
        assert ids == set(starting_in(meetings, start, end)) and report["rows"] == len(ids) > 0


# ---------------------------------------------------------------------------------------- object stores


@pytest.fixture
def lake(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Moto:
    """The moto server with the example DAGs' bucket, the AWS connection ``attio_lake_aws`` pointing at it, and a
    worker environment that holds no AWS credentials or endpoint: only the connection can reach the store."""
    if moto.server is None:
        moto.start()
    client = moto.client()
    if LAKE_BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=LAKE_BUCKET)
    without_aws_environment(monkeypatch, tmp_path)
    conn = {"conn_type": "aws", "login": KEY_ID, "password": SECRET,
            "extra": {"endpoint_url": moto.url, "region_name": "us-east-1"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_ATTIO_LAKE_AWS", json.dumps(conn))
    return moto


def test_lake_dag_writes_the_store_through_the_aws_connection_and_emits_its_asset(
    dags: Any, attio_connection: EmulatorThread, lake: Moto, starting_in: Any, busiest: Any,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(meetings)
    environ = dict(os.environ)
    run = dags.lake.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=timezone.utc))

    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    key = f"attio/meetings/date={start:%Y-%m-%d}/meetings.parquet"
    body = lake.client().get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read()
    expected = starting_in(meetings, start, end)
    assert expected and sorted(pq.read_table(io.BytesIO(body)).column("meeting_id").to_pylist()) == sorted(
        expected
    )
    # The credentials never went into the worker's environment (Airflow itself adds only its AIRFLOW_CTX_*).
    changed = {k for k, v in os.environ.items() if environ.get(k) != v and not k.startswith("AIRFLOW_CTX_")}
    assert changed == set()
    assert not [k for k, v in os.environ.items() if SECRET in v and k != "AIRFLOW_CONN_ATTIO_LAKE_AWS"]

    # The output is declared as an Asset, and the run's event says which file, how many rows, which schema.
    asset = Asset(f"s3://{LAKE_BUCKET}/attio/meetings")
    assert dags.lake.get_task("extract_meetings").outlets == [asset]
    assert list(dags.lake_consumer.timetable.asset_condition.objects) == [
        asset
    ]  # scheduled on fresh meetings
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == asset.uri)
        ).all()
    extras = [e.extra for e in events if e.extra.get("output") == f"s3://{LAKE_BUCKET}/{key}"]
    assert extras and extras[-1]["rows"] == len(expected) and extras[-1]["schema_version"]

    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text, json.dumps([e.extra for e in events])):
        assert SECRET not in text


def test_load_operator_reads_and_writes_the_store_through_the_aws_connection(
    attio_connection: EmulatorThread, lake: Moto, import_csv: Path
) -> None:
    good = "\n".join(import_csv.read_text(encoding="utf-8").splitlines()[:3]) + "\n"  # the two good rows
    client = lake.client()
    client.put_object(Bucket=LAKE_BUCKET, Key="drop/meetings.csv", Body=good.encode())
    op = AttioLoadOperator(task_id="load", source=f"s3://{LAKE_BUCKET}/drop/meetings.csv",
                           results_path=f"s3://{LAKE_BUCKET}/drop/results.csv", aws_conn_id="attio_lake_aws")  # fmt: skip

    result = op.execute({})

    assert (result["rows"], result["created"], result["ok"]) == (2, 2, True)
    results = client.get_object(Bucket=LAKE_BUCKET, Key="drop/results.csv")["Body"].read().decode()
    assert "orch-1" in results and "orch-2" in results
    assert sorted(attio_connection.emulator.store.count_by_external_ref().values()) == [1, 1]


def test_extract_operator_to_a_store_without_a_connection_uses_the_worker_environment(
    attio_connection: EmulatorThread, lake: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", lake.url)
    url = f"s3://{LAKE_BUCKET}/env/meetings.parquet"
    op = AttioExtractOperator(task_id="x", output_path=url, ends_from=None, starts_before=None)
    assert op.outlets == [Asset(url)]

    report = op.execute({})

    body = lake.client().get_object(Bucket=LAKE_BUCKET, Key="env/meetings.parquet")["Body"].read()
    assert_table_matches(
        pq.read_table(io.BytesIO(body)),
        brute_force(attio_connection.emulator.store.all_meetings(), MeetingQuery()),
    )
    assert report["output"] == url and report["rows"] == 3000


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        pytest.param("s3://lake/attio/m.parquet", "s3://lake/attio/m.parquet", id="object"),
        pytest.param("gcs://lake/attio/date={{ ds }}/m.parquet", "gs://lake/attio", id="templated-gcs"),
        pytest.param("/data/attio/date={{ ds }}/m.parquet", "file:///data/attio", id="templated-local"),
        pytest.param("{{ params.data_dir }}/m.parquet", None, id="template-first"),
        pytest.param("duckdb:///w.duckdb", None, id="database"),
        pytest.param("s3://lake/{{ ds }}.parquet", None, id="no-key-before-the-template"),
    ],
)
def test_output_asset_of_each_kind_of_path(path: str, uri: str | None) -> None:
    asset = output_asset(path)
    assert (asset.uri if asset is not None else None) == uri
    op = AttioExtractOperator(task_id="x", output_path=path)
    assert op.outlets == ([Asset(uri)] if uri else [])
    assert (
        AttioExtractOperator(task_id="y", output_path=path, outlets=[]).outlets == []
    )  # the user's choice wins


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"role_arn": "arn:aws:iam::1:role/x"}, "role_arn is not supported", id="role"),
        pytest.param({"profile_name": "lake"}, "profile_name is not supported", id="profile"),
        pytest.param({"endpoint_url": "http://me:pw-999@minio:9000"}, "no user or password", id="endpoint-with-password"),
    ],
)  # fmt: skip
def test_aws_connections_that_cannot_be_honoured_are_refused(extra: dict[str, str], message: str) -> None:
    conn = Connection(conn_id="lake", conn_type="aws", login=KEY_ID, password=SECRET, extra=json.dumps(extra))
    with pytest.raises(ConfigError, match=message) as info:
        s3_settings_from_connection(conn)
    assert "'lake'" in str(info.value) and SECRET not in str(info.value) and "pw-999" not in str(info.value)


def test_aws_connection_fields_become_s3_settings() -> None:
    conn = Connection(conn_id="lake", conn_type="aws", login=KEY_ID, password=SECRET,
                      extra=json.dumps({"service_config": {"s3": {"endpoint_url": "http://minio:9000"}},
                                        "region_name": "eu-west-1", "aws_session_token": "tok-777"}))  # fmt: skip
    settings = s3_settings_from_connection(conn)
    options = settings.options()
    assert (options["key"], options["secret"], options["token"], options["endpoint_url"]) == (
        KEY_ID, SECRET, "tok-777", "http://minio:9000")  # fmt: skip
    assert settings.region == "eu-west-1" and SECRET not in repr(settings) and "tok-777" not in repr(settings)
    empty = s3_settings_from_connection(Connection(conn_id="role", conn_type="aws"))
    assert empty.options() == {}  # no key pair: the worker's AWS chain (its role)


# A service account key as the Google provider keeps it (the private key is never parsed here: only gcsfs does).
GCP_KEY = {"type": "service_account", "project_id": "lake", "private_key_id": "k1",
           "private_key": "-----BEGIN PRIVATE KEY-----\ngcp-sEcReT-0123456789\n-----END PRIVATE KEY-----\n",
           "client_email": "extract@lake.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"}  # fmt: skip
AZ_KEY = "YXotc0VjUmVULWFjY291bnQta2V5LW5ldmVyLXNob3du"


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"keyfile_dict": GCP_KEY, "project": "lake"}, id="keyfile-dict"),
        pytest.param({"keyfile_dict": json.dumps(GCP_KEY), "project": "lake"}, id="keyfile-json-text"),
        pytest.param(
            {
                "extra__google_cloud_platform__keyfile_dict": json.dumps(GCP_KEY),
                "extra__google_cloud_platform__project": "lake",
            },
            id="older-provider-prefix",
        ),
    ],
)
def test_google_connection_key_becomes_gcs_settings(extra: dict[str, Any]) -> None:
    conn = Connection(conn_id="lake_gcp", conn_type="google_cloud_platform", extra=json.dumps(extra))
    settings = gcs_settings_from_connection(conn)
    options = settings.options()
    assert options["token"] == GCP_KEY and options["project"] == "lake"
    assert "gcp-sEcReT" not in repr(settings) and "gcp-sEcReT" not in str(settings)


def test_google_connection_with_a_key_path_or_nothing_uses_that_file_or_the_default_credentials() -> None:
    path = Connection(
        conn_id="p", conn_type="google_cloud_platform", extra=json.dumps({"key_path": "/keys/k.json"})
    )
    assert gcs_settings_from_connection(path).options() == {"token": "/keys/k.json"}
    bare = Connection(conn_id="adc", conn_type="google_cloud_platform")
    assert gcs_settings_from_connection(bare).options() == {}  # application default credentials


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            {"impersonation_chain": "a@b.iam.gserviceaccount.com"},
            "impersonation_chain is not supported",
            id="impersonation",
        ),
        pytest.param(
            {"key_secret_name": "lake-key"}, "key_secret_name is not supported", id="secret-manager"
        ),
        pytest.param(
            {"keyfile_dict": '{"private_key": "gcp-sEcReT-0123456789", '}, "not valid JSON", id="broken"
        ),
        pytest.param({"keyfile_dict": GCP_KEY, "key_path": "/k.json"}, "not both", id="two-keys"),
    ],
)
def test_google_connections_that_cannot_be_honoured_are_refused(extra: dict[str, Any], message: str) -> None:
    conn = Connection(conn_id="lake_gcp", conn_type="google_cloud_platform", extra=json.dumps(extra))
    with pytest.raises(ConfigError, match=message) as info:
        gcs_settings_from_connection(conn)
    assert "'lake_gcp'" in str(info.value) and "gcp-sEcReT" not in str(info.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"extra": {"connection_string": f"AccountName=lake;AccountKey={AZ_KEY}"}},
                     {"connection_string": f"AccountName=lake;AccountKey={AZ_KEY}"}, id="connection-string"),
        pytest.param({"login": "lakeacct", "password": AZ_KEY},
                     {"account_name": "lakeacct", "account_key": AZ_KEY}, id="account-key"),
        pytest.param({"host": "https://lakeacct.blob.core.windows.net", "extra": {"shared_access_key": AZ_KEY}},
                     {"account_name": "lakeacct", "account_key": AZ_KEY}, id="shared-access-key"),
        pytest.param({"login": "lakeacct", "extra": {"sas_token": f"sv=2024&sig={AZ_KEY}"}},
                     {"account_name": "lakeacct", "sas_token": f"sv=2024&sig={AZ_KEY}"}, id="sas-token"),
        pytest.param({"extra": {"sas_token": f"https://lakeacct.blob.core.windows.net/?sv=2024&sig={AZ_KEY}"}},
                     {"account_name": "lakeacct", "sas_token": f"sv=2024&sig={AZ_KEY}"}, id="sas-url"),
        pytest.param({"host": "https://lakeacct.blob.core.windows.net", "login": "app-id", "password": AZ_KEY,
                      "extra": {"tenant_id": "tenant-1"}},
                     {"account_name": "lakeacct", "tenant_id": "tenant-1", "client_id": "app-id",
                      "client_secret": AZ_KEY}, id="service-principal"),
        pytest.param({"conn_type": "adls", "host": "lakeacct", "login": "app-id", "password": AZ_KEY,
                      "extra": {"tenant_id": "tenant-1"}},
                     {"account_name": "lakeacct", "tenant_id": "tenant-1", "client_id": "app-id",
                      "client_secret": AZ_KEY}, id="data-lake-service-principal"),
        pytest.param({"host": "https://lakeacct.blob.core.windows.net"}, {"account_name": "lakeacct"},
                     id="default-credential-chain"),
    ],
)  # fmt: skip
def test_azure_connection_fields_become_azure_settings(
    fields: dict[str, Any], expected: dict[str, str]
) -> None:
    fields = {"conn_type": "wasb", **fields, "extra": json.dumps(fields.get("extra", {}))}
    settings = azure_settings_from_connection(Connection(conn_id="lake_az", **fields))
    assert settings.options() == expected
    assert AZ_KEY not in repr(settings) and AZ_KEY not in str(settings)


def test_an_azure_service_principal_without_its_account_is_refused() -> None:
    conn = Connection(conn_id="lake_az", conn_type="wasb", login="app-id", password=AZ_KEY,
                      extra=json.dumps({"tenant_id": "tenant-1"}))  # fmt: skip
    with pytest.raises(ConfigError, match="needs the storage account in its host") as info:
        azure_settings_from_connection(conn)
    assert "'lake_az'" in str(info.value) and AZ_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"output_path": "s3://lake/m.parquet", "gcp_conn_id": "lake_gcp"},
                     "gcp_conn_id is for gs:// URLs, and s3://lake/m.parquet is not on that store", id="gcs-for-s3"),
        pytest.param({"output_path": "gs://lake/m.parquet", "wasb_conn_id": "lake_az"},
                     "wasb_conn_id is for az:// URLs", id="azure-for-gcs"),
        pytest.param({"output_path": "duckdb:///w.duckdb", "aws_conn_id": "lake_aws"},
                     "aws_conn_id is for s3:// URLs", id="aws-for-a-database"),
    ],
)  # fmt: skip
def test_a_store_connection_for_another_store_fails_the_task_without_a_retry(
    attio_connection: EmulatorThread, kwargs: dict[str, str], message: str
) -> None:
    op = AttioExtractOperator(task_id="x", ends_from=None, starts_before=None, **kwargs)
    with pytest.raises(_airflow_compat.AirflowFailException, match=message):
        op.execute({})


def test_the_operators_read_the_google_and_azure_connections_that_airflow_holds(
    attio_connection: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Connections in Airflow's own store (here AIRFLOW_CONN_* JSON) reach the store settings: a broken key in
    one fails the task naming the connection, never showing the key, before a meeting is fetched."""
    broken = {
        "conn_type": "google_cloud_platform",
        "extra": {"keyfile_dict": '{"private_key": "gcp-sEcReT-0123'},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_GCP", json.dumps(broken))
    principal = {"conn_type": "wasb", "login": "app-id", "password": AZ_KEY, "extra": {"tenant_id": "t"}}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_AZ", json.dumps(principal))
    before = attio_connection.emulator.store.count_by_external_ref()
    extract = AttioExtractOperator(task_id="x", output_path="gs://lake/m.parquet", gcp_conn_id="lake_gcp",
                                   ends_from=None, starts_before=None)  # fmt: skip
    with pytest.raises(
        _airflow_compat.AirflowFailException, match="'lake_gcp': the GCS key file JSON"
    ) as gcs:
        extract.execute({})
    load = AttioLoadOperator(task_id="y", source=str(tmp_path / "m.csv"),
                             results_path="az://drop/results.csv", wasb_conn_id="lake_az")  # fmt: skip
    with pytest.raises(_airflow_compat.AirflowFailException, match=r"'lake_az': .*storage account") as azure:
        load.execute({})
    for error in (gcs.value, azure.value):
        assert "gcp-sEcReT" not in str(error) and AZ_KEY not in str(error)
    assert attio_connection.emulator.store.count_by_external_ref() == before


def _store_connection(
    bucket: Bucket, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str, ServiceAccountKey | None]:
    """An Airflow connection (AIRFLOW_CONN_LAKE JSON) that alone holds the credentials for ``bucket``'s emulator;
    returns the operator's parameter naming it, the secret it holds, and (GCS) the service account key."""
    if bucket.scheme == "gs":
        # The key's token endpoint grants a token for what the key signs; the worker's environment only says where
        # the emulator is (STORAGE_EMULATOR_HOST, Google's convention), and gives no credentials.
        tokens: TokenEndpoint = request.getfixturevalue("token_endpoint")
        key = ServiceAccountKey(token_uri=tokens.url)
        conn: dict[str, Any] = {
            "conn_type": "google_cloud_platform",
            "extra": {"keyfile_dict": key.info, "project": "lake"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps(conn))
        return "gcp_conn_id", key.secret, key
    azurite: Azurite = request.getfixturevalue("azurite")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")  # only the connection reaches Azurite
    conn = {"conn_type": "wasb", "extra": {"connection_string": azurite.connection_string()}}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps(conn))
    return "wasb_conn_id", bucket.secrets[0], None


def test_the_extract_operator_writes_gcs_and_azure_through_airflow_connections(
    attio_connection: EmulatorThread, bucket: Bucket, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """End to end on fake-gcs-server and Azurite: a Google Cloud / Azure Blob Storage connection in Airflow's own
    store reaches the store's client, the object is read back whole, and the secret shows nowhere."""
    param, secret, key = _store_connection(bucket, request, monkeypatch)
    url = bucket.url("attio/meetings.parquet")
    environ = dict(os.environ)
    op = AttioExtractOperator(
        task_id="x", output_path=url, ends_from=None, starts_before=None, **{param: "lake"}
    )
    assert op.outlets == [Asset(url)]

    report = op.execute({})

    assert report["output"] == url and report["rows"] == 3000
    assert bucket.keys() == ["attio/meetings.parquet"]
    data = bucket.get("attio/meetings.parquet")
    assert_table_matches(
        pq.read_table(io.BytesIO(data)),
        brute_force(attio_connection.emulator.store.all_meetings(), MeetingQuery()),
    )
    if key is not None:  # GCS: the connection's key signed the grant behind the requests
        tokens: TokenEndpoint = request.getfixturevalue("token_endpoint")
        assert tokens.assertions and all(key.signed(a)["iss"] == key.email for a in tokens.assertions)
    # the credentials went to the store's client only: not into the worker's environment
    changed = {k for k, v in os.environ.items() if environ.get(k) != v and not k.startswith("AIRFLOW_CTX_")}
    assert changed == set()
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, caplog.text, repr(op), json.dumps(report, default=str), data):
        shown = text.decode(errors="replace") if isinstance(text, bytes) else text
        assert secret not in shown
        bucket.sweep(shown)


# ---------------------------------------------------------------------------------------- several tables

TABLE_NAMES = ("meetings", "call_recordings", "transcript_segments")


def _past(meetings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Meetings long past: the emulator seeds recordings for a share of past meetings only."""
    return [m for m in meetings if (m["start"].get("datetime") or m["start"]["date"]) < "2026"]


def test_on_airflow_3_the_shim_gives_the_task_sdk_names() -> None:
    import airflow.sdk

    assert (_airflow_compat.Asset, _airflow_compat.BaseOperator) == (
        airflow.sdk.Asset,
        airflow.sdk.BaseOperator,
    )


def test_transcripts_dag_writes_three_tables_in_one_run_and_an_asset_event_each(
    dags: Any, attio_connection: EmulatorThread, make_raw: Any, served_recordings: Any, starting_in: Any,
    busiest: Any,
) -> None:  # fmt: skip
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    requests_before = attio_connection.emulator.stats.requests
    # A run's data interval is the day before its logical date: this one's is the busy day.
    run = dags.transcripts.test(
        logical_date=datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    )

    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    assert start.date() == day
    folder = _HOME / "data" / "tables" / f"date={start:%Y-%m-%d}"
    files = {t: folder / f"{t}.parquet" for t in TABLE_NAMES}
    tables = {t: pq.read_table(f) for t, f in files.items()}
    expected = starting_in(meetings, start, end)
    assert expected and sorted(tables["meetings"].column("meeting_id").to_pylist()) == sorted(expected)
    made = attio_connection.emulator.stats.requests - requests_before
    served = served_recordings(make_raw(attio_connection), expected)
    assert_recordings_match(tables["call_recordings"], tables["transcript_segments"], served)
    assert tables["call_recordings"].num_rows > 0 and tables["transcript_segments"].num_rows > 0

    report = run.get_task_instance("extract_tables").xcom_pull(task_ids="extract_tables")
    assert report["outputs"] == {t: str(f) for t, f in files.items()}
    assert report["tables"] == {t: tables[t].num_rows for t in TABLE_NAMES}
    # One run: the meetings' pages once, then per meeting one list of its recordings and a GET per recording.
    assert made == report["requests"] == report["pages"] + len(expected) + len(served)

    # An Asset per table, each run's event naming its file; the consumer DAG waits on the transcripts' one.
    pattern = (_HOME / "data" / "tables").as_uri() + "/date=*/{}.parquet"
    assets = [Asset(pattern.format(t)) for t in TABLE_NAMES]
    task = dags.transcripts.get_task("extract_tables")
    assert task.outlets == assets and task.table_assets == dict(zip(TABLE_NAMES, assets, strict=True))
    assert list(dags.transcripts_consumer.timetable.asset_condition.objects) == [assets[2]]
    with create_session() as session:
        for table, asset in zip(TABLE_NAMES, assets, strict=True):
            events = session.scalars(
                select(AssetEvent)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.uri == asset.uri)
            ).all()
            (extra,) = [e.extra for e in events if e.extra.get("output") == str(files[table])]
            assert (
                extra["table"] == table
                and extra["rows"] == tables[table].num_rows
                and extra["schema_version"]
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"tables": "meetings,transcripts"}, "unknown table 'transcripts'", id="comma-text"),
        pytest.param({"tables": ["meetings", "recordings"]}, "unknown table 'recordings'", id="list"),
        pytest.param({"tables": []}, "name at least one of", id="none"),
        pytest.param({"tables": "meetings,call_recordings", "write_mode": "replace-window"},
                     "replace-window is for the meetings table alone", id="replace-window"),
        pytest.param({"tables": "meetings,call_recordings", "table": "attio_meetings"}, "names one table",
                     id="one-table-name"),
    ],
)  # fmt: skip
def test_bad_tables_are_refused_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        AttioExtractOperator(task_id="extract_tables", output_path="out", **kwargs)
    assert str(info.value).startswith("AttioExtractOperator 'extract_tables': ")


def test_tables_merge_into_a_database_and_a_rerun_leaves_them_exact(
    attio_connection: EmulatorThread, make_raw: Any, served_recordings: Any, tmp_path: Path, starting_in: Any,
    busiest: Any,
) -> None:  # fmt: skip
    import duckdb

    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    path = tmp_path / "warehouse.duckdb"
    op = AttioExtractOperator(task_id="x", output_path=f"duckdb:///{path}", ends_from=start.isoformat(),
                              starts_before=end.isoformat(), tables="meetings,call_recordings,transcript_segments")  # fmt: skip
    assert op.outlets == [] and op.write_mode == "merge"
    expected = starting_in(meetings, start, end)
    served = served_recordings(make_raw(attio_connection), expected)
    for _ in range(2):  # merge: a re-run replaces each recording and its transcript, adding nothing
        report = op.execute({})
        with duckdb.connect(str(path), read_only=True) as con:
            tables = {t: con.sql(f"SELECT * FROM {t}").to_arrow_table() for t in TABLE_NAMES}
        assert set(tables["meetings"].column("meeting_id").to_pylist()) == expected
        recordings = tables["call_recordings"].column("call_recording_id").to_pylist()
        assert sorted(recordings) == sorted(r["id"]["call_recording_id"] for r in served) and recordings
        assert table_segment_rows(tables["transcript_segments"]) == segment_rows(served)
        assert report["tables"] == {t: tables[t].num_rows for t in TABLE_NAMES}
        assert set(report["outputs"]) == set(TABLE_NAMES)


@pytest.mark.parametrize(
    ("path", "uris"),
    [
        pytest.param("s3://lake/attio", [f"s3://lake/attio/{t}.parquet" for t in TABLE_NAMES], id="store-folder"),
        pytest.param("gcs://lake/attio/date={{ ds }}", [f"gs://lake/attio/date=*/{t}.parquet" for t in TABLE_NAMES],
                     id="templated-store"),
        pytest.param("/data/attio/{{ ds }}/x", [f"file:///data/attio/*/x/{t}.parquet" for t in TABLE_NAMES],
                     id="templated-local"),
        pytest.param("{{ params.data_dir }}/attio", [], id="template-first"),
        pytest.param("duckdb:///w.duckdb", [], id="database"),
    ],
)  # fmt: skip
def test_output_assets_of_several_tables(path: str, uris: list[str]) -> None:
    assets = output_assets(path, TABLE_NAMES)
    assert [a.uri for a in assets.values()] == uris and (not uris or list(assets) == list(TABLE_NAMES))
    assert [
        a.uri for a in AttioExtractOperator(task_id="x", output_path=path, tables=TABLE_NAMES).outlets
    ] == uris


def test_tables_to_a_store_folder_through_the_aws_connection(
    attio_connection: EmulatorThread, lake: Moto, starting_in: Any, busiest: Any
) -> None:
    meetings = attio_connection.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    folder = f"s3://{LAKE_BUCKET}/tables/{day.isoformat()}"
    op = AttioExtractOperator(task_id="x", output_path=folder, ends_from=start.isoformat(),
                              starts_before=(start + timedelta(days=1)).isoformat(), tables=TABLE_NAMES,
                              aws_conn_id="attio_lake_aws")  # fmt: skip
    assert op.outlets == [Asset(f"{folder}/{t}.parquet") for t in TABLE_NAMES]

    report = op.execute({})

    assert report["outputs"] == {t: f"{folder}/{t}.parquet" for t in TABLE_NAMES}
    for table in TABLE_NAMES:
        body = lake.client().get_object(Bucket=LAKE_BUCKET, Key=f"tables/{day.isoformat()}/{table}.parquet")[
            "Body"
        ]
        assert pq.read_table(io.BytesIO(body.read())).num_rows == report["tables"][table] > 0
    assert report["tables"]["meetings"] == len(starting_in(meetings, start, start + timedelta(days=1)))
