"""The orchestrators' defaults are the named defaults of connector/defaults.py (as are the CLI's and the configs').

Each test needs its orchestrator's extra and runs in that extra's venv (``bash .ci/extras``).
"""

from __future__ import annotations

import inspect
import json

import pytest

from connector import defaults


@pytest.mark.airflow
def test_airflow_defaults_are_the_named_ones() -> None:
    pytest.importorskip("airflow", reason="needs the airflow extra: pip install -e '.[airflow,dev]'")
    from connector.integrations.airflow import AttioHook, AttioLoadOperator

    concurrency = inspect.signature(AttioLoadOperator.__init__).parameters["concurrency"].default
    assert concurrency is defaults.LOAD_CONCURRENCY
    extra = json.loads(AttioHook.get_ui_field_behaviour()["placeholders"]["extra"])
    assert extra == {
        "reads_per_second": defaults.READS_PER_SECOND,
        "writes_per_second": defaults.WRITES_PER_SECOND,
        "max_in_flight": defaults.MAX_IN_FLIGHT,
    }


@pytest.mark.dagster
def test_dagster_defaults_are_the_named_ones() -> None:
    pytest.importorskip("dagster", reason="needs the dagster extra: pip install -e '.[dagster,dev]'")
    from connector.integrations.dagster import AttioResource, meetings_import_asset, meetings_import_op

    fields = AttioResource.model_fields
    assert fields["reads_per_second"].default == defaults.READS_PER_SECOND
    assert fields["writes_per_second"].default == defaults.WRITES_PER_SECOND
    assert fields["max_in_flight"].default == defaults.MAX_IN_FLIGHT
    assert fields["timeout"].default == defaults.TIMEOUT
    assert fields["max_attempts"].default == defaults.MAX_ATTEMPTS
    for factory in (meetings_import_asset, meetings_import_op):
        assert inspect.signature(factory).parameters["concurrency"].default is defaults.LOAD_CONCURRENCY


@pytest.mark.dlt
def test_dlt_defaults_are_the_named_ones() -> None:
    pytest.importorskip("dlt", reason="needs the dlt extra: pip install -e '.[dlt,dev]'")
    from connector.integrations.dlt import attio_source, meetings

    for factory in (attio_source, meetings):
        parameters = inspect.signature(factory).parameters
        assert parameters["batch_size"].default is defaults.EXTRACT_BATCH_SIZE
        assert parameters["slices"].default is None  # None: the extractor's own default (ExtractConfig)
