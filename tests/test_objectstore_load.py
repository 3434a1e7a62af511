"""``load s3://...`` with ``--results s3://...``: the input read from the store, the results published whole."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from objectstore_helpers import S3, SECRET, moto_fixture, s3_fixture  # noqa: F401 - fixtures

from connector.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"
MAPPING = str(SAMPLES / "meetings_mapping.toml")


@pytest.fixture
def dropped(s3: S3) -> str:
    s3.put("import/meetings.csv", (SAMPLES / "meetings_export.csv").read_bytes())
    return s3.url("import/meetings.csv")


def _results(s3: S3, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(s3.get(key).decode())))


def test_load_from_and_to_the_store_then_again_skips_everything(
    s3: S3, dropped: str, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    args = ["load", dropped, "--mapping", MAPPING, "--results", s3.url("import/results.csv"),
            "--base-url", emulator.url, "-q", "--json"]  # fmt: skip
    assert main(args) == 1  # the sample has bad rows on purpose
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["created"], report["rejected"]) == (51, 43, 7)
    results = _results(s3, "import/results.csv")
    assert sorted(int(r["row_number"]) for r in results) == list(range(2, 53))  # every input row, once
    assert s3.keys() == ["import/meetings.csv", "import/results.csv"]
    assert main(args) == 1
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["skipped"], again["requests"]) == (
        0,
        44,
        0,
    )  # the ledger in scratch remembers
    assert any(p.endswith("meetings.ledger.sqlite") for p in s3.scratch_files())
    assert SECRET.encode() not in s3.get("import/results.csv")


def test_results_default_beside_a_remote_input(
    s3: S3, dropped: str, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    assert main(["load", dropped, "--mapping", MAPPING, "--base-url", emulator.url, "-q"]) == 1
    assert "import/meetings.results.csv" in s3.keys()
    assert len(_results(s3, "import/meetings.results.csv")) == 51


def test_a_missing_input_object_is_exit_2_and_nothing_is_sent(
    s3: S3, emulator: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", emulator.token)
    url = s3.url("import/nothing.csv")
    assert main(["load", url, "--mapping", MAPPING, "--base-url", emulator.url, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: reading {url}: no such object (hint: check the URL)"
    assert s3.keys() == []
