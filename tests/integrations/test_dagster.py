"""The Dagster integration: ``sample_configs/dagster_definitions.py`` materialized in-process against an emulator."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dagster", reason="needs the dagster extra: pip install -e '.[dagster,dev]'")

import io
import json

import pyarrow.parquet as pq
from dagster import AssetKey, DagsterInstance, Definitions, EnvVar, job, materialize
from objectstore_helpers import KEY_ID, SECRET, Moto, moto_fixture, without_aws_environment  # noqa: F401 - fixtures
from recording_helpers import assert_recordings_match

from connector import ConfigError, Secret
from connector.emulator import EmulatorThread
from connector.integrations.dagster import (
    AttioResource,
    AzureStoreResource,
    GCSStoreResource,
    S3StoreResource,
    meetings_asset,
    meetings_import_asset,
    meetings_import_op,
    tables_multi_asset,
    workspace_meetings_asset,
)
from connector.schema import SCHEMA_VERSION

pytestmark = pytest.mark.dagster

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "dagster_definitions.py"


@pytest.fixture(scope="module")
def emulator() -> Any:
    with EmulatorThread(meetings=3000, seed=5, read_rate=0, write_rate=0) as emu:
        yield emu


@pytest.fixture
def sample(emulator: EmulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The example definitions, with the token, base URL and data folder from the environment."""
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    monkeypatch.setenv("ATTIO_BASE_URL", emulator.url)
    monkeypatch.setenv("ATTIO_DATA_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("dagster_definitions", SAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instance() -> Any:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def test_sample_definitions_load(sample: Any) -> None:
    Definitions.validate_loadable(sample.defs)
    keys = {key.to_user_string() for a in sample.defs.assets for key in a.keys}
    assert keys == {
        "attio_meetings",
        "attio_meetings_recent",
        "attio_meetings_import",
        "attio_tables/attio_meetings",
        "attio_tables/attio_call_recordings",
        "attio_tables/attio_transcript_segments",
    }


def test_resource_keeps_the_token_out_of_sight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", "tok-abcdef")
    resource = AttioResource(
        api_key="tok-abcdef", base_url="http://127.0.0.1:9", reads_per_second=5, max_in_flight=3
    )
    config = resource.client_config()
    assert config.token == Secret("tok-abcdef")
    assert (config.base_url, config.limits.reads_per_second, config.limits.max_in_flight) == (
        "http://127.0.0.1:9",
        5,
        3,
    )
    assert "tok-abcdef" not in repr(resource) and "tok-abcdef" not in repr(config)
    assert isinstance(AttioResource.from_env().api_key, EnvVar)


def test_factory_refuses_parquet_without_a_path() -> None:
    with pytest.raises(ConfigError, match="needs a path"):
        meetings_asset(name="x", output="parquet")


def test_daily_partition_materializes_its_day_to_parquet(
    sample: Any, emulator: EmulatorThread, tmp_path: Path, instance: Any, starting_in: Any, busiest: Any
) -> None:
    meetings = emulator.emulator.store.all_meetings()
    day = busiest(meetings)
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    expected = starting_in(
        meetings, start, start + timedelta(days=1)
    )  # partitions: window="start" by default
    assert expected

    result = materialize(
        [sample.attio_meetings], resources=sample.resources, partition_key=day.isoformat(), instance=instance
    )

    assert result.success
    path = tmp_path / "meetings" / f"date={day.isoformat()}" / "meetings.parquet"
    table = pq.read_table(path)
    assert sorted(table.column("meeting_id").to_pylist()) == sorted(expected)
    (event,) = result.asset_materializations_for_node("attio_meetings")
    meta = event.metadata
    assert meta["dagster/row_count"].value == len(expected)
    assert meta["path"].value == str(path)
    assert meta["retries"].value == 0 and meta["requests"].value >= 1 and meta["rows_per_second"].value >= 0
    columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert columns == table.schema.names


def test_dataframe_asset_hands_the_window_to_the_io_manager(
    sample: Any, emulator: EmulatorThread, instance: Any, in_window: Any
) -> None:
    window = {"ends_from": "2025-06-01T00:00:00Z", "starts_before": "2025-06-08T00:00:00Z"}
    expected = in_window(
        emulator.emulator.store.all_meetings(),
        datetime(2025, 6, 1, tzinfo=timezone.utc),
        datetime(2025, 6, 8, tzinfo=timezone.utc),
    )

    result = materialize(
        [sample.attio_meetings_recent],
        resources=sample.resources,
        instance=instance,
        run_config={"ops": {"attio_meetings_recent": {"config": window}}},
    )

    assert result.success
    frame = result.output_for_node("attio_meetings_recent")
    assert sorted(frame["meeting_id"]) == sorted(expected)
    (event,) = result.asset_materializations_for_node("attio_meetings_recent")
    assert event.metadata["dagster/row_count"].value == len(frame) > 0


def test_import_returns_the_report_and_fails_on_bad_rows(
    sample: Any, emulator: EmulatorThread, instance: Any, import_csv: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "\n".join(import_csv.read_text(encoding="utf-8").splitlines()[:3]) + "\n", encoding="utf-8"
    )
    asset = meetings_import_asset(name="attio_meetings_import", source=str(good))

    result = materialize([asset], resources=sample.resources, instance=instance)

    assert result.success
    report = result.output_for_node("attio_meetings_import")
    assert (report["rows"], report["created"], report["ok"]) == (2, 2, True)
    (event,) = result.asset_materializations_for_node("attio_meetings_import")
    assert event.metadata["created"].value == 2
    assert Path(event.metadata["results_path"].value).exists()

    # The whole file at launch time: the two rows are sent again and Attio finds them (within seconds of their
    # creation the loader may still count them as created), the third is rejected.
    failed = materialize(
        [asset],
        resources=sample.resources,
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"attio_meetings_import": {"config": {"source": str(import_csv)}}}},
    )

    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    meta = failure.step_failure_data.user_failure_data.metadata
    assert (meta["rejected"].value, meta["failed"].value, meta["found"].value + meta["created"].value) == (
        1,
        0,
        2,
    )
    assert "orch-3" in Path(meta["results_path"].value).read_text(encoding="utf-8")
    assert sum(emulator.emulator.store.count_by_external_ref().values()) == 2  # nothing duplicated


def test_an_input_that_breaks_part_way_fails_without_retries(
    sample: Any, emulator: EmulatorThread, instance: Any, broken_csv: Path
) -> None:
    asset = meetings_import_asset(name="attio_meetings_import", source=str(broken_csv))

    failed = materialize([asset], resources=sample.resources, instance=instance, raise_on_error=False)

    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    meta = failure.step_failure_data.user_failure_data.metadata
    assert meta["created"].value == 2
    assert "row 4" in meta["input_error"].value and "never closes" in meta["input_error"].value
    assert sum(emulator.emulator.store.count_by_external_ref().values()) == 2


def test_import_op_dry_run_validates_without_sending(
    sample: Any, emulator: EmulatorThread, instance: Any, import_csv: Path
) -> None:
    import_op = meetings_import_op(name="check_meetings", source=str(import_csv))

    @job(resource_defs=sample.resources)
    def check() -> None:
        import_op()

    before = emulator.emulator.stats.requests
    result = check.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"check_meetings": {"config": {"dry_run": True}}}},
    )

    assert not result.success  # the row without a title is rejected in a dry run too
    (failure,) = result.get_step_failure_events()
    meta = failure.step_failure_data.user_failure_data.metadata
    assert (meta["rows"].value, meta["rejected"].value, meta["created"].value) == (3, 1, 0)
    assert meta["requests"].value == 0
    assert emulator.emulator.stats.requests == before


def test_workspace_meetings_asset_partitions_workspace_by_day(
    tmp_path: Path, starting_in: Any, busiest: Any
) -> None:
    from dagster import MultiPartitionKey

    from connector.emulator.config import Workspace
    from connector.integrations.dagster import workspace_meetings_asset

    acme = Workspace("acme-token", meetings=500, seed=31, read_rate=0, write_rate=0)
    globex = Workspace("globex-token", meetings=400, seed=32, read_rate=0, write_rate=0)
    with EmulatorThread(meetings=10, seed=30, read_rate=0, write_rate=0, workspaces=(acme, globex)) as emu:
        asset = workspace_meetings_asset(
            workspaces=["acme", "globex"],
            path=str(tmp_path / "{workspace}" / "{day}.parquet"),
            start_date="2024-01-01",
        )
        resources = {
            f"attio_{name}": AttioResource(api_key=w.token, base_url=emu.url, reads_per_second=0)
            for name, w in (("acme", acme), ("globex", globex))
        }
        for name, workspace in (("acme", acme), ("globex", globex)):
            meetings = emu.emulator.workspaces[workspace.token].store.all_meetings()
            # A day in the past: Dagster's daily partitions end today.
            busy = busiest(m for m in meetings if (m["start"].get("datetime") or m["start"]["date"]) < "2026")
            day, start = busy.isoformat(), datetime(busy.year, busy.month, busy.day, tzinfo=timezone.utc)
            key = MultiPartitionKey({"workspace": name, "day": day})
            result = materialize([asset], resources=resources, partition_key=key)
            assert result.success
            expected = starting_in(meetings, start, start + timedelta(days=1))
            assert expected
            table = pq.read_table(tmp_path / name / f"{day}.parquet")
            assert sorted(table.column("meeting_id").to_pylist()) == sorted(expected)
            assert set(table.column("workspace_id").to_pylist()) <= {workspace.workspace_id}
            metadata = result.asset_materializations_for_node(asset.op.name)[0].metadata
            assert metadata["dagster/row_count"].value == len(expected)
            assert metadata["workspace"].value == name
    with pytest.raises(ConfigError, match="distinct"):
        workspace_meetings_asset(workspaces=["a", "a"], path="x", start_date="2024-01-01")


def test_partition_materializes_into_a_database_with_replace_window(
    sample: Any, emulator: EmulatorThread, tmp_path: Path, instance: Any, starting_in: Any, busiest: Any
) -> None:
    import duckdb
    from dagster import DailyPartitionsDefinition

    meetings = emulator.emulator.store.all_meetings()
    day = busiest(meetings)
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    path = tmp_path / "warehouse.duckdb"
    asset_def = meetings_asset(
        name="attio_db",
        destination=f"duckdb:///{path}",
        partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"),
    )
    for _ in range(2):  # re-materializing the partition leaves its rows exact
        result = materialize(
            [asset_def], resources=sample.resources, partition_key=day.isoformat(), instance=instance
        )
        assert result.success
        with duckdb.connect(str(path), read_only=True) as con:
            ids = {r[0] for r in con.execute("SELECT meeting_id FROM meetings").fetchall()}
        assert ids == set(starting_in(meetings, start, start + timedelta(days=1))) and ids


# ---------------------------------------------------------------------------------------- object stores


@pytest.fixture
def lake(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Moto, str]:
    """A bucket on the moto server, and a process environment without AWS credentials or endpoint: only the
    :class:`S3StoreResource` can reach it."""
    if moto.server is None:
        moto.start()
    bucket = f"lake-{tmp_path.name[-20:].lower().replace('_', '-')}".rstrip("-")
    moto.client().create_bucket(Bucket=bucket)
    without_aws_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    return moto, bucket


def _store(moto: Moto) -> S3StoreResource:
    return S3StoreResource(access_key_id=KEY_ID, secret_access_key=EnvVar("LAKE_SECRET"), endpoint_url=moto.url,
                           region="us-east-1")  # fmt: skip


def test_a_partition_materializes_to_s3_and_records_the_url(
    sample: Any,
    emulator: EmulatorThread,
    lake: tuple[Moto, str],
    instance: Any,
    starting_in: Any,
    busiest: Any,
) -> None:
    moto, bucket = lake
    meetings = emulator.emulator.store.all_meetings()
    day = busiest(meetings)
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    expected = starting_in(meetings, start, start + timedelta(days=1))
    asset_def = meetings_asset(
        name="attio_lake", path=f"s3://{bucket}/attio/date={{partition_key}}/meetings.parquet",
        partitions_def=sample.daily, store_resource_key="lake",
    )  # fmt: skip

    result = materialize([asset_def], resources={**sample.resources, "lake": _store(moto)},
                         partition_key=day.isoformat(), instance=instance)  # fmt: skip

    assert result.success
    key = f"attio/date={day.isoformat()}/meetings.parquet"
    table = pq.read_table(io.BytesIO(moto.client().get_object(Bucket=bucket, Key=key)["Body"].read()))
    assert expected and sorted(table.column("meeting_id").to_pylist()) == sorted(expected)
    (event,) = result.asset_materializations_for_node("attio_lake")
    meta = event.metadata
    assert meta["url"].value == f"s3://{bucket}/{key}" and "path" not in meta
    assert meta["dagster/row_count"].value == len(expected) and meta["schema_version"].value == SCHEMA_VERSION
    assert [c.name for c in meta["dagster/column_schema"].schema.columns] == table.schema.names
    assert SECRET not in json.dumps({k: str(v) for k, v in meta.items()}) and SECRET not in repr(_store(moto))


def test_two_workspace_partitions_to_s3_in_one_test(
    lake: tuple[Moto, str], instance: Any, starting_in: Any, busiest: Any
) -> None:
    from dagster import MultiPartitionKey

    from connector.emulator.config import Workspace

    moto, bucket = lake
    acme = Workspace("acme-token", meetings=500, seed=31, read_rate=0, write_rate=0)
    globex = Workspace("globex-token", meetings=400, seed=32, read_rate=0, write_rate=0)
    with EmulatorThread(meetings=10, seed=30, read_rate=0, write_rate=0, workspaces=(acme, globex)) as emu:
        asset = workspace_meetings_asset(
            workspaces=["acme", "globex"], path=f"s3://{bucket}/attio/workspace={{workspace}}/{{day}}.parquet",
            start_date="2024-01-01", store_resource_key="lake",
        )  # fmt: skip
        resources = {
            "lake": _store(moto),
            **{f"attio_{name}": AttioResource(api_key=w.token, base_url=emu.url, reads_per_second=0)
               for name, w in (("acme", acme), ("globex", globex))},
        }  # fmt: skip
        done: list[str] = []
        for name, workspace in (("acme", acme), ("globex", globex)):
            meetings = emu.emulator.workspaces[workspace.token].store.all_meetings()
            busy = busiest(m for m in meetings if (m["start"].get("datetime") or m["start"]["date"]) < "2026")
            start = datetime(busy.year, busy.month, busy.day, tzinfo=timezone.utc)
            key = MultiPartitionKey({"workspace": name, "day": busy.isoformat()})
            result = materialize([asset], resources=resources, partition_key=key, instance=instance)
            assert result.success
            object_key = f"attio/workspace={name}/{busy.isoformat()}.parquet"
            body = moto.client().get_object(Bucket=bucket, Key=object_key)["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            expected = starting_in(meetings, start, start + timedelta(days=1))
            assert expected and sorted(table.column("meeting_id").to_pylist()) == sorted(expected)
            assert set(table.column("workspace_id").to_pylist()) == {workspace.workspace_id}
            meta = result.asset_materializations_for_node(asset.op.name)[0].metadata
            assert meta["url"].value == f"s3://{bucket}/{object_key}" and meta["workspace"].value == name
            assert meta["dagster/row_count"].value == len(expected)
            done.append(str(key))
        # both workspaces' partitions are recorded against the one asset
        records = instance.fetch_materializations(asset.key, limit=10).records
        assert sorted(str(r.partition_key) for r in records) == sorted(done)


# ---------------------------------------------------------------------------------------- several tables

TABLE_NAMES = ("meetings", "call_recordings", "transcript_segments")


def _past(meetings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Meetings long past: the emulator seeds recordings for a share of past meetings only."""
    return [m for m in meetings if (m["start"].get("datetime") or m["start"]["date"]) < "2026"]


def test_tables_multi_asset_materializes_three_tables_in_one_run(
    sample: Any, emulator: EmulatorThread, tmp_path: Path, instance: Any, make_raw: Any, served_recordings: Any,
    starting_in: Any, busiest: Any,
) -> None:  # fmt: skip
    meetings = emulator.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    expected = starting_in(meetings, start, start + timedelta(days=1))
    keys = [AssetKey(["attio_tables", f"attio_{t}"]) for t in TABLE_NAMES]
    assert sample.attio_tables.keys == set(keys) and sample.attio_tables.partitions_def == sample.daily
    assert [sample.attio_tables.asset_deps[k] for k in keys] == [set(), {keys[0]}, {keys[1]}]
    before = emulator.emulator.stats.requests

    result = materialize([sample.attio_tables], resources=sample.resources, partition_key=day.isoformat(),
                         instance=instance)  # fmt: skip

    assert result.success
    made = emulator.emulator.stats.requests - before
    folder = tmp_path / "tables" / f"date={day.isoformat()}"
    tables = {t: pq.read_table(folder / f"{t}.parquet") for t in TABLE_NAMES}
    assert expected and sorted(tables["meetings"].column("meeting_id").to_pylist()) == sorted(expected)
    served = served_recordings(make_raw(emulator), expected)
    assert_recordings_match(tables["call_recordings"], tables["transcript_segments"], served)
    assert tables["call_recordings"].num_rows > 0 and tables["transcript_segments"].num_rows > 0
    events = {
        ev.materialization.asset_key: ev.materialization.metadata
        for ev in result.get_asset_materialization_events()
    }
    assert set(events) == set(keys)
    for table, key in zip(TABLE_NAMES, keys, strict=True):
        meta = events[key]
        assert meta["dagster/row_count"].value == tables[table].num_rows
        assert meta["path"].value == str(folder / f"{table}.parquet")
        assert [c.name for c in meta["dagster/column_schema"].schema.columns] == tables[table].schema.names
        assert (
            meta["schema_version"].value
            == tables[table].schema.metadata[b"connector.schema_version"].decode()
        )
    # One extract: the meetings' pages, one list per meeting, one GET per recording, nothing fetched twice.
    assert (
        made
        == events[keys[0]]["requests"].value
        == events[keys[0]]["pages"].value + len(expected) + len(served)
    )
    assert events[keys[1]]["meetings_scanned"].value == len(expected)


def test_tables_multi_asset_partitioned_workspace_by_day(
    tmp_path: Path, instance: Any, make_raw: Any, served_recordings: Any, starting_in: Any, busiest: Any
) -> None:
    from dagster import MultiPartitionKey

    from connector.emulator.config import Workspace

    acme = Workspace("acme-token", meetings=500, seed=31, read_rate=0, write_rate=0)
    globex = Workspace("globex-token", meetings=400, seed=32, read_rate=0, write_rate=0)
    with EmulatorThread(meetings=10, seed=30, read_rate=0, write_rate=0, workspaces=(acme, globex)) as emu:
        meetings_def = workspace_meetings_asset(
            workspaces=["acme", "globex"], path="unused", start_date="2024-01-01"
        )
        asset = tables_multi_asset(
            path=str(tmp_path / "{workspace}" / "{day}"), partitions_def=meetings_def.partitions_def
        )
        assert asset.partitions_def == meetings_def.partitions_def
        resources = {
            f"attio_{name}": AttioResource(api_key=w.token, base_url=emu.url, reads_per_second=0)
            for name, w in (("acme", acme), ("globex", globex))
        }
        recorded = 0
        for name, workspace in (("acme", acme), ("globex", globex)):
            meetings = emu.emulator.workspaces[workspace.token].store.all_meetings()
            busy = busiest(_past(meetings))
            start = datetime(busy.year, busy.month, busy.day, tzinfo=timezone.utc)
            key = MultiPartitionKey({"workspace": name, "day": busy.isoformat()})
            result = materialize([asset], resources=resources, partition_key=key, instance=instance)
            assert result.success
            folder = tmp_path / name / busy.isoformat()
            tables = {t: pq.read_table(folder / f"{t}.parquet") for t in TABLE_NAMES}
            expected = starting_in(meetings, start, start + timedelta(days=1))
            assert expected and sorted(tables["meetings"].column("meeting_id").to_pylist()) == sorted(
                expected
            )
            assert set(tables["meetings"].column("workspace_id").to_pylist()) == {workspace.workspace_id}
            served = served_recordings(make_raw(emu, token=workspace.token), expected)
            assert_recordings_match(tables["call_recordings"], tables["transcript_segments"], served)
            recorded += tables["transcript_segments"].num_rows
            metas = [e.materialization.metadata for e in result.get_asset_materialization_events()]
            assert [m["workspace"].value for m in metas] == [name] * 3
            assert [m["dagster/row_count"].value for m in metas] == [tables[t].num_rows for t in TABLE_NAMES]
        assert recorded > 0


def test_tables_multi_asset_merges_into_a_database(
    sample: Any, emulator: EmulatorThread, tmp_path: Path, instance: Any, starting_in: Any, busiest: Any
) -> None:
    import duckdb

    meetings = emulator.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    path = tmp_path / "warehouse.duckdb"
    asset = tables_multi_asset(destination=f"duckdb:///{path}", partitions_def=sample.daily)
    counts = []
    for _ in range(2):  # merge: re-materializing the partition replaces its rows, adding none
        result = materialize(
            [asset], resources=sample.resources, partition_key=day.isoformat(), instance=instance
        )
        assert result.success
        with duckdb.connect(str(path), read_only=True) as con:
            ids = {r[0] for r in con.execute("SELECT meeting_id FROM meetings").fetchall()}
            counts.append([con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLE_NAMES])
        assert ids == starting_in(meetings, start, start + timedelta(days=1)) and ids
        metas = {
            ev.materialization.asset_key.path[-1]: ev.materialization.metadata
            for ev in result.get_asset_materialization_events()
        }
        assert [metas[f"attio_{t}"]["dagster/row_count"].value for t in TABLE_NAMES] == counts[-1]
        assert all("table" in metas[f"attio_{t}"]["destination"].value for t in TABLE_NAMES)
    assert counts[0] == counts[1] and counts[0][2] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"tables": "meetings,transcripts", "path": "x"}, "unknown table 'transcripts'", id="unknown-table"),
        pytest.param({}, "needs a path", id="no-output"),
        pytest.param({"path": "x", "destination": "duckdb:///x.duckdb"}, "not both", id="path-and-destination"),
        pytest.param({"path": "x", "partitions_def": "static"}, "time-window partitioning", id="static-partitions"),
        pytest.param({"destination": "duckdb:///x.duckdb", "write_mode": "replace-window"}, "meetings table alone",
                     id="replace-window"),
        pytest.param({"path": "x", "names": {"transcripts": "t"}}, "renames transcripts", id="unknown-name"),
    ],
)  # fmt: skip
def test_tables_multi_asset_refuses_bad_settings_when_defined(kwargs: dict[str, Any], message: str) -> None:
    from dagster import StaticPartitionsDefinition

    if kwargs.get("partitions_def") == "static":
        kwargs["partitions_def"] = StaticPartitionsDefinition(["a", "b"])
    with pytest.raises(ConfigError, match=message):
        tables_multi_asset(**kwargs)


def test_import_reads_its_source_from_s3_and_writes_the_results_there(
    sample: Any, emulator: EmulatorThread, lake: tuple[Moto, str], instance: Any, import_csv: Path
) -> None:
    moto, bucket = lake
    good = "\n".join(import_csv.read_text(encoding="utf-8").splitlines()[:3]) + "\n"  # the two good rows
    moto.client().put_object(Bucket=bucket, Key="drop/meetings.csv", Body=good.encode())
    asset = meetings_import_asset(name="attio_meetings_import", source=f"s3://{bucket}/drop/meetings.csv",
                                  results_path=f"s3://{bucket}/drop/results.csv", store_resource_key="lake")  # fmt: skip

    result = materialize([asset], resources={**sample.resources, "lake": _store(moto)}, instance=instance)

    assert result.success
    report = result.output_for_node("attio_meetings_import")
    assert (report["rows"], report["created"] + report["found"], report["ok"]) == (2, 2, True)
    results = moto.client().get_object(Bucket=bucket, Key="drop/results.csv")["Body"].read().decode()
    assert "orch-1" in results and "orch-2" in results
    assert sum(emulator.emulator.store.count_by_external_ref().values()) == 2


def test_tables_multi_asset_writes_a_store_folder(
    sample: Any,
    emulator: EmulatorThread,
    lake: tuple[Moto, str],
    instance: Any,
    starting_in: Any,
    busiest: Any,
) -> None:
    moto, bucket = lake
    meetings = emulator.emulator.store.all_meetings()
    day = busiest(_past(meetings))
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    asset = tables_multi_asset(path=f"s3://{bucket}/attio/date={{partition_key}}", partitions_def=sample.daily,
                               store_resource_key="lake")  # fmt: skip

    result = materialize([asset], resources={**sample.resources, "lake": _store(moto)},
                         partition_key=day.isoformat(), instance=instance)  # fmt: skip

    assert result.success
    metas = {ev.materialization.asset_key.path[-1]: ev.materialization.metadata
             for ev in result.get_asset_materialization_events()}  # fmt: skip
    for table in TABLE_NAMES:
        key = f"attio/date={day.isoformat()}/{table}.parquet"
        body = moto.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        rows = pq.read_table(io.BytesIO(body))
        assert metas[f"attio_{table}"]["url"].value == f"s3://{bucket}/{key}"
        assert metas[f"attio_{table}"]["dagster/row_count"].value == rows.num_rows > 0
        if table == "meetings":
            assert set(rows.column("meeting_id").to_pylist()) == starting_in(
                meetings, start, start + timedelta(days=1)
            )


def test_gcs_and_azure_store_resources_give_their_settings_and_never_show_a_secret() -> None:
    keyfile = json.dumps({"type": "service_account", "private_key": "KEY-999"})
    gcs = GCSStoreResource(keyfile_json=keyfile, project="acme")
    azure = AzureStoreResource(account_name="acme", account_key="azkey-999")
    gcs_settings = gcs.settings()
    azure_settings = azure.settings()
    assert gcs_settings.options() == {"token": json.loads(keyfile), "project": "acme"}
    assert azure_settings.options() == {"account_name": "acme", "account_key": "azkey-999"}
    shown = " ".join(map(repr, (gcs, azure, gcs_settings, azure_settings)))
    assert "KEY-999" not in shown and "azkey-999" not in shown


def test_a_store_resource_of_another_store_fails_the_run_with_one_line(
    sample: Any, emulator: EmulatorThread, lake: tuple[Moto, str], instance: Any
) -> None:
    moto, bucket = lake
    asset_def = meetings_asset(
        name="attio_wrong_store", path=f"s3://{bucket}/m.parquet", store_resource_key="lake"
    )
    with pytest.raises(ConfigError, match=r"Google Cloud Storage credentials were given for s3://"):
        materialize([asset_def], resources={**sample.resources, "lake": GCSStoreResource(project="acme")},
                    instance=instance)  # fmt: skip
    assert moto.client().list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
