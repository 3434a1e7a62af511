"""LoadConfig refuses values of the wrong type at once, naming the argument (a string "false" is no False)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import InvalidArgumentError
from connector.load import LoadConfig, Mapping


@pytest.mark.parametrize(
    ("kwargs", "argument", "reason"),
    [
        pytest.param(
            {"dry_run": "false"}, "dry_run", "must be True or False, got 'false'", id="dry_run-text"
        ),
        pytest.param({"dry_run": 0}, "dry_run", "must be True or False, got 0", id="dry_run-0"),
        pytest.param({"durable": "no"}, "durable", "must be True or False, got 'no'", id="durable-no"),
        pytest.param(
            {"concurrency": "10"}, "concurrency", "must be a whole number, got '10'", id="concurrency-text"
        ),
        pytest.param(
            {"concurrency": True}, "concurrency", "must be a whole number, got True", id="concurrency-bool"
        ),
        pytest.param({"batch_size": 2.5}, "batch_size", "must be a whole number, got 2.5", id="batch-float"),
        pytest.param(
            {"max_errors": "5"}, "max_errors", "must be a whole number, got '5'", id="max_errors-text"
        ),
        pytest.param(
            {"max_sends": None}, "max_sends", "must be a whole number, got None", id="max_sends-none"
        ),
        pytest.param(
            {"clock_skew": float("nan")},
            "clock_skew",
            "must be a number of seconds, 0 or more",
            id="skew-nan",
        ),
        pytest.param(
            {"clock_skew": "10"}, "clock_skew", "must be a number of seconds, 0 or more", id="skew-text"
        ),
        pytest.param(
            {"mapping": 5}, "mapping", "must be a Mapping, a dict, a path or None, got 5", id="mapping-5"
        ),
        pytest.param({"results_path": 5}, "results_path", "must be a path or None, got 5", id="results-5"),
    ],
)
def test_values_of_the_wrong_type_are_refused(kwargs: dict, argument: str, reason: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        LoadConfig(**kwargs)
    assert (info.value.argument, info.value.reason[: len(reason)]) == (argument, reason)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"dry_run": True, "durable": True, "max_errors": 0, "clock_skew": 0}, id="booleans-and-zeros"
        ),
        pytest.param(
            {"mapping": Mapping(), "results_path": Path("r.csv"), "ledger_path": "l.sqlite"}, id="paths"
        ),
        pytest.param({"mapping": {"columns": {"title": "Subject"}}}, id="mapping-dict"),
    ],
)
def test_values_of_the_right_type_pass(kwargs: dict) -> None:
    assert LoadConfig(**kwargs)
