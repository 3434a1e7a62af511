"""Faults (scripted and seeded), the runners (thread and async) and the emulator's command line."""

from __future__ import annotations

import argparse
import http.client
import json
import socket
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from connector.cli import emulator as cli_emulator
from connector.emulator import EmulatorConfig, EmulatorThread, run_emulator
from connector.emulator.runner import config_from_args

NEW = {
    "data": {
        "title": "t",
        "description": "",
        "is_all_day": True,
        "start": {"date": "2031-01-01"},
        "end": {"date": "2031-01-02"},
        "external_ref": "fault-test",
        "participants": [{"email_address": "f@x.io", "is_organizer": True, "status": "accepted"}],
    }
}


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("500", "internal_server_error"),
        ("502", "bad_gateway"),
        ("503", "service_unavailable"),
        ("504", "gateway_timeout"),
    ],
)
def test_server_errors_are_json_and_not_carried_out(emulator, raw, kind, code) -> None:
    emulator.emulator.faults.script([kind])
    resp = raw.post(NEW)
    assert resp.status == int(kind)
    assert (
        resp.json()["status_code"] == int(kind)
        and resp.json()["type"] == "api_error"
        and resp.json()["code"] == code
    )
    assert emulator.emulator.store.created == []
    assert raw.post(NEW).status == 200, "only the next request is affected"
    assert emulator.emulator.stats.faults[kind] == 1


def test_scripted_429_has_retry_after(emulator, raw) -> None:
    emulator.emulator.faults.script(["429"])
    resp = raw.get("/v2/meetings")
    assert resp.status == 429 and resp.json()["code"] == "rate_limit_exceeded"
    assert parsedate_to_datetime(resp.headers["Retry-After"])


def test_drop_closes_without_answer_and_does_nothing(emulator, raw) -> None:
    emulator.emulator.faults.script(["drop"])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        raw.post(NEW)
    assert emulator.emulator.store.created == []
    assert emulator.emulator.stats.count(method="POST", status=0) == 1


def test_drop_after_commit_creates_then_cuts_the_body(emulator, raw) -> None:
    emulator.emulator.faults.script(["drop_after_commit"], method="POST")
    assert raw.get("/v2/meetings").status == 200, "a GET is not the scripted method"
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        raw.post(NEW)
    assert len(emulator.emulator.store.created) == 1
    # the find-or-create retry finds it
    assert raw.post(NEW).json()["data"] == emulator.emulator.store.created[0]
    assert len(emulator.emulator.store.created) == 1


def test_truncate_sends_a_cut_json_body_with_matching_length(emulator, raw) -> None:
    emulator.emulator.faults.script(["truncate"])
    resp = raw.post(NEW)
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(resp.body)
    with pytest.raises(json.JSONDecodeError):
        resp.json()
    assert len(emulator.emulator.store.created) == 1


def test_slow_answers_after_a_client_timeout_but_carries_out(make_emulator, make_raw) -> None:
    emu = make_emulator(slow_ms=3000)
    emu.emulator.faults.script(["slow"])
    with pytest.raises((TimeoutError, socket.timeout)):
        make_raw(emu, timeout=0.3).post(NEW)
    assert len(emu.emulator.store.created) == 1


def test_faults_come_after_auth(emulator, raw) -> None:
    emulator.emulator.faults.script(["500"])
    assert raw.get("/v2/meetings", token=None).status == 401
    assert raw.get("/v2/meetings").status == 500


def test_unknown_scripted_kind_is_refused(emulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emulator.emulator.faults.script(["teapot"])


def _statuses(make_emulator, make_raw, seed: int) -> list[int]:
    emu = make_emulator(seed=seed, fault_rate=0.4, fault_kinds=("500", "503", "truncate"))
    raw = make_raw(emu)
    return [_status(raw) for _ in range(40)]


def _status(raw) -> int:
    """The status, or -1 for a truncated 200."""
    resp = raw.get("/v2/meetings", {"limit": 1})
    return -1 if resp.status == 200 and not resp.body.endswith(b"}}") else resp.status


def test_random_faults_are_reproducible_from_the_seed(make_emulator, make_raw) -> None:
    a = _statuses(make_emulator, make_raw, seed=3)
    b = _statuses(make_emulator, make_raw, seed=3)
    c = _statuses(make_emulator, make_raw, seed=4)
    assert a == b
    assert a != c
    assert {500, 503, -1, 200} <= set(a)


# ---- runners and CLI ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_run_emulator_in_the_current_loop() -> None:
    async with run_emulator(meetings=20, read_rate=0) as running, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {running.token}"}
        async with session.get(f"{running.url}/v2/meetings", params={"limit": 200}, headers=headers) as resp:
            assert resp.status == 200
            assert len((await resp.json())["data"]) == 20
    assert running.emulator.stats.count(status=200) == 1


def test_thread_start_error_is_raised_in_the_caller() -> None:
    with EmulatorThread(meetings=0) as first:
        with pytest.raises(OSError):
            EmulatorThread(meetings=0, port=first.port, host="127.0.0.1").start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = EmulatorThread(meetings=0).url


def test_public_api_is_complete() -> None:
    import connector.emulator as emulator_pkg

    for name in ("EmulatorConfig", "Emulator", "run_emulator", "EmulatorThread", "RunningEmulator", "main"):
        assert name in emulator_pkg.__all__ and hasattr(emulator_pkg, name)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="fault_rate"):
        EmulatorConfig(fault_rate=2)
    with pytest.raises(ValueError, match="unknown fault kind"):
        EmulatorConfig(fault_kinds=("boom",))
    with pytest.raises(ValueError, match="contract"):
        EmulatorConfig(contract="upsert")  # type: ignore[arg-type]


def test_cli_flags_build_the_config() -> None:
    parser = argparse.ArgumentParser(prog="connector")
    cli_emulator.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "emulator",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--meetings",
            "5",
            "--seed",
            "9",
            "--token",
            "t",
            "--scoped-token",
            "ro=meeting:read,record_permission:read",
            "--read-rate",
            "10",
            "--write-rate",
            "0",
            "--latency-ms",
            "5",
            "--fault-rate",
            "0.1",
            "--fault-kinds",
            "500,drop_after_commit",
            "--slow-ms",
            "100",
            "--contract",
            "create-only",
        ]
    )
    assert args.run is cli_emulator.run
    config = config_from_args(args)
    assert config == EmulatorConfig(
        host="0.0.0.0",
        port=0,
        meetings=5,
        seed=9,
        token="t",
        tokens={"ro": frozenset({"meeting:read", "record_permission:read"})},
        read_rate=10,
        write_rate=0,
        latency_ms=5,
        fault_rate=0.1,
        fault_kinds=("500", "drop_after_commit"),
        slow_ms=100,
        contract="create-only",
    )
    defaults = parser.parse_args(["emulator"])
    assert (defaults.port, defaults.meetings, defaults.contract) == (8787, 1000, "find-or-create")
    with pytest.raises(SystemExit):
        parser.parse_args(["emulator", "--fault-kinds", "boom"])


def test_cli_run_reports_bad_settings_in_one_line(capsys) -> None:
    parser = argparse.ArgumentParser(prog="connector")
    cli_emulator.add_parser(parser.add_subparsers(dest="command"))
    assert cli_emulator.run(parser.parse_args(["emulator", "--fault-rate", "3"])) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fault_rate") and err.count("\n") == 1
