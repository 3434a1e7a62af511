"""The emulator's edges: over-long URLs and headers get Attio's JSON envelope, a socket it cannot
listen on is one line and exit code 2."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from connector.emulator.app import MAX_HEADER_LINE, MAX_URL_BYTES, PARSER_LIMIT

ROOT = Path(__file__).resolve().parents[1]


def padded(path: str, size: int) -> str:
    """``path`` with an extra query parameter (ignored by the emulator) so that it is ``size`` bytes long."""
    head = path + ("&" if "?" in path else "?") + "pad="
    return head + "a" * (size - len(head))


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        pytest.param("/v2/meetings?limit=1", MAX_URL_BYTES, 200, id="list-at-the-limit"),
        pytest.param("/v2/meetings?limit=1", MAX_URL_BYTES + 1, 414, id="list-one-byte-over"),
        pytest.param("/v2/meetings?participants=ana@acme.com", 20_000, 414, id="list-20k"),
        pytest.param(
            "/v2/meetings/00000000-0000-4000-8000-000000000000", MAX_URL_BYTES + 1, 414, id="get-over"
        ),
        pytest.param("/v2/nowhere", MAX_URL_BYTES + 1, 414, id="unknown-route-over"),
        pytest.param("/v2/meetings?limit=1", PARSER_LIMIT - 100, 414, id="just-under-the-parser-limit"),
    ],
)
def test_url_length_limit_answers_with_the_json_envelope(emulator, raw, path, size, status) -> None:
    target = padded(path, size)
    assert len(target) == size
    answer = raw.get(target)
    assert answer.status == status, answer.body[:200]
    if status == 414:
        assert answer.headers["Content-Type"].startswith("application/json")
        body = answer.json()
        assert body["status_code"] == 414 and body["type"] == "invalid_request_error"
        assert body["code"] == "uri_too_long" and f"{size} bytes" in body["message"]
        assert emulator.emulator.stats.count(status=414) == 1


@pytest.mark.parametrize(
    ("header", "size", "status"),
    [
        pytest.param("X-Note", MAX_HEADER_LINE, 200, id="at-the-limit"),
        pytest.param("X-Note", MAX_HEADER_LINE + 1, 431, id="one-byte-over"),
        pytest.param("Authorization", 20_000, 431, id="huge-token"),
    ],
)
def test_header_line_limit_answers_with_the_json_envelope(emulator, raw, header, size, status) -> None:
    # A header line is "Name: value"; the size counts both and the ": " between them.
    value = "Bearer " + emulator.token + " " if header == "Authorization" else ""
    value += "x" * (size - len(header) - 2 - len(value))
    answer = raw.get("/v2/meetings", {"limit": 1}, headers={header: value})
    assert answer.status == status, answer.body[:200]
    if status == 431:
        body = answer.json()
        assert (body["status_code"], body["code"]) == (431, "header_too_large") and header in body["message"]
        assert "xxxx" not in body["message"], "the value is not echoed"


def test_beyond_the_parser_limit_is_one_warning_line_not_a_traceback(emulator, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="connector.emulator.server")
    request = urllib.request.Request(emulator.url + padded("/v2/meetings", PARSER_LIMIT + 10))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    records = [r for r in caplog.records if r.name == "connector.emulator.server"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "cannot parse" in records[0].getMessage() and "Traceback" not in caplog.text


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("ATTIO_")},
    )


@pytest.mark.parametrize("entry", [["connector", "emulator"], ["connector.emulator"]], ids=["cli", "module"])
def test_a_port_in_use_is_exit_2_with_a_hint(emulator, entry) -> None:
    result = run(*entry, "--port", str(emulator.port), "--meetings", "0")
    assert result.returncode == 2
    assert (
        result.stderr
        == f"error: port {emulator.port} is in use on 127.0.0.1 (hint: --port 0 picks a free one)\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("host", "message"),
    [
        # 192.0.2.0/24 is reserved for documentation (RFC 5737): no machine has it on an interface.
        pytest.param(
            "192.0.2.1",
            "error: cannot listen on 192.0.2.1: no such address on this machine",
            id="foreign-address",
        ),
        pytest.param(
            "no-such-host.invalid", "error: cannot resolve --host 'no-such-host.invalid'", id="unresolvable"
        ),
    ],
)
def test_a_host_it_cannot_bind_is_exit_2_with_a_hint(host, message) -> None:
    result = run("connector", "emulator", "--host", host, "--port", "0", "--meetings", "0")
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(message) and "(hint: " in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--port", "70000"], "port must be between 0 and 65535", id="port-out-of-range"),
        pytest.param(["--meetings", "-5"], "meetings must be >= 0", id="negative-meetings"),
        pytest.param(["--read-rate", "nan"], "read_rate must be a finite number", id="nan-rate"),
        pytest.param(["--latency-ms", "inf"], "latency_ms must be a finite number", id="infinite-latency"),
    ],
)
def test_bad_settings_are_exit_2(args, message) -> None:
    result = run("connector", "emulator", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
