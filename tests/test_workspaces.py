"""Many workspaces: the emulator serves one per token, and ``--workspace NAME`` picks one from the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from connector.cli import main
from connector.config import RateLimits, WorkspaceConfig, read_workspaces
from connector.emulator import EmulatorConfig
from connector.emulator.config import Workspace, workspace_id_for_seed
from connector.errors import ConfigError

ACME = Workspace("acme-token", meetings=120, seed=11)
GLOBEX = Workspace("globex-token", meetings=80, seed=12, read_rate=2)


def test_each_token_sees_its_own_workspace(make_emulator: Any, make_raw: Any) -> None:
    emu = make_emulator(workspaces=(ACME, GLOBEX))
    seen = {}
    for token, count in ((emu.token, 300), (ACME.token, 120), (GLOBEX.token, 80)):
        meetings = make_raw(emu, token).list_all(limit=200)
        assert len(meetings) == count
        seen[token] = {m["id"]["workspace_id"] for m in meetings}
        one = meetings[0]["id"]["meeting_id"]
        assert make_raw(emu, token).get(f"/v2/meetings/{one}").status == 200
    assert seen[ACME.token] == {workspace_id_for_seed(11)} and seen[GLOBEX.token] == {
        workspace_id_for_seed(12)
    }
    assert len(set().union(*seen.values())) == 3
    acme_one = make_raw(emu, ACME.token).get("/v2/meetings", {"limit": 1}).json()["data"][0]["id"]["meeting_id"]
    assert make_raw(emu, emu.token).get(f"/v2/meetings/{acme_one}").status == 404, (
        "another workspace's meeting"
    )


@pytest.mark.xdist_group("timing")  # see tests/conftest.py
def test_each_workspace_has_its_own_rate_limit(make_emulator: Any, make_raw: Any) -> None:
    emu = make_emulator(
        workspaces=(ACME, GLOBEX)
    )  # the main workspace: no limit (the fixture's); GLOBEX: 2/s
    globex = [make_raw(emu, GLOBEX.token).get("/v2/meetings", {"limit": 1}).status for _ in range(8)]
    main_ws = [make_raw(emu, emu.token).get("/v2/meetings", {"limit": 1}).status for _ in range(8)]
    assert 429 in globex and set(main_ws) == {200}


@pytest.mark.parametrize(
    ("workspaces", "message"),
    [
        pytest.param((Workspace("emulator-token"),), "its own token", id="main-token"),
        pytest.param((Workspace("a", seed=1), Workspace("a", seed=2)), "its own token", id="same-token"),
        pytest.param((Workspace("a", seed=0),), "its own seed", id="main-seed"),
    ],
)
def test_emulator_workspaces_are_checked(workspaces: tuple[Workspace, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(workspaces=workspaces)


def _config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "connector.toml"
    path.write_text(
        f"""
[connection]
read_rate = 0

[workspaces.acme]
token_env = "ACME_ATTIO_TOKEN"
base_url = "{url}"

[workspaces.globex]
token_env = "GLOBEX_ATTIO_TOKEN"
base_url = "{url}"
read_rate = 1.5
max_in_flight = 4
"""
    )
    return path


def test_extract_workspace_by_name(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(workspaces=(ACME, GLOBEX), read_rate=0)
    config = _config_file(tmp_path, emu.url)
    monkeypatch.setenv("ACME_ATTIO_TOKEN", ACME.token)
    monkeypatch.setenv("GLOBEX_ATTIO_TOKEN", GLOBEX.token)
    monkeypatch.delenv("ATTIO_BASE_URL", raising=False)
    for name, workspace in (("acme", ACME), ("globex", GLOBEX)):
        out = tmp_path / f"{name}.parquet"
        assert (
            main(["--config", str(config), "extract", "--workspace", name, "--output", str(out), "--quiet"])
            == 0
        )
        table = pq.read_table(out, columns=["workspace_id"])
        assert table.num_rows == workspace.meetings
        assert set(table.column("workspace_id").to_pylist()) == {workspace.workspace_id}
    assert ACME.token not in capsys.readouterr().out


def test_a_refused_workspace_token_names_its_variable(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = make_emulator(workspaces=(ACME, GLOBEX), read_rate=0)
    config = _config_file(tmp_path, emu.url)
    monkeypatch.setenv("ACME_ATTIO_TOKEN", "revoked-token")
    monkeypatch.delenv("ATTIO_BASE_URL", raising=False)
    out = str(tmp_path / "m.parquet")
    assert main(["--config", str(config), "extract", "--workspace", "acme", "--output", out, "--quiet"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "401" in err[0], err
    assert "hint: set ACME_ATTIO_TOKEN to a valid access token" in err[0] and "ATTIO_API_KEY" not in err[0]
    assert "revoked-token" not in err[0]


def test_unknown_or_unconfigured_workspace_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, "http://127.0.0.1:9")
    out = str(tmp_path / "m.parquet")
    assert main(["--config", str(config), "extract", "--workspace", "initech", "--output", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'initech'" in err[0] and "known: acme, globex" in err[0]
    assert main(["extract", "--workspace", "acme", "--output", out]) == 2
    assert "--workspace needs --config FILE" in capsys.readouterr().err


def test_read_workspaces_gives_client_configs(tmp_path: Path) -> None:
    workspaces = read_workspaces(_config_file(tmp_path, "http://127.0.0.1:9"))
    assert workspaces["globex"] == WorkspaceConfig(
        "globex", "GLOBEX_ATTIO_TOKEN", "http://127.0.0.1:9", RateLimits(1.5, 24.0, 4)
    )
    client = workspaces["acme"].client_config({"ACME_ATTIO_TOKEN": "acme-secret"})
    assert client.token is not None and client.token.reveal() == "acme-secret"
    assert client.base_url == "http://127.0.0.1:9" and client.limits == RateLimits()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param('base_url = "http://x"', "needs token_env", id="no-token-env"),
        pytest.param('token_env = "A"\ntoken = "sk"', "unknown key 'token'", id="token-in-file"),
        pytest.param('token_env = "A"\nread_rate = "fast"', "read_rate must be a number", id="rate-text"),
        pytest.param('token_env = "A"\nread_rate = -1', "rate limit", id="rate-negative"),
        pytest.param('token_env = "sk live"', "token_env", id="token-as-env-name"),
    ],
)
def test_workspace_tables_are_checked(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[workspaces.acme]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as info:
        read_workspaces(path)
    assert "[workspaces.acme]" in str(info.value) and "sk live" not in str(info.value)
