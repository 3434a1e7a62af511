"""The token never reaches logs, reports or any file a job writes."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from connector.cli import main

SECRET = "sk-live-0123456789-never-print-me"
ALL_SCOPES = frozenset({"meeting:read", "meeting:read-write", "record_permission:read"})
SAMPLES = Path(__file__).resolve().parents[1] / "sample_configs"


def test_token_is_absent_from_every_output(make_emulator, tmp_path, monkeypatch, capsys, caplog) -> None:
    emu = make_emulator(tokens={SECRET: ALL_SCOPES})
    monkeypatch.setenv("ATTIO_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    shutil.copy(SAMPLES / "meetings_export.csv", tmp_path / "meetings.csv")
    out = tmp_path / "meetings.parquet"
    assert main(["-vv", "extract", "--output", str(out), "--base-url", emu.url, "--slices", "2", "-q"]) == 0
    code = main(
        ["-vv", "load", str(tmp_path / "meetings.csv"), "--mapping", str(SAMPLES / "meetings_mapping.toml"),
         "--results", str(tmp_path / "results.parquet"), "--base-url", emu.url, "-q"]
    )
    assert code == 1, "the sample has rejected rows on purpose"
    captured = capsys.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert out in written and (tmp_path / "results.parquet") in written
    assert any(p.suffix == ".sqlite" for p in written), "the ledger was written"
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in captured.out and SECRET not in captured.err and SECRET not in caplog.text
    assert emu.emulator.stats.count(method="POST") > 0, "the load really talked to Attio"


def test_token_never_in_a_config_dump() -> None:
    from connector import ClientConfig

    config = ClientConfig(token=SECRET)
    for text in (repr(config), str(config), repr(config.token), f"{config}"):
        assert SECRET not in text
    with pytest.raises(TypeError):
        __import__("pickle").dumps(config.token)
