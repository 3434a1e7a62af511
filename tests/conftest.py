"""Shared fixtures: a real emulator on a free loopback port, and a raw HTTP client for it.

``emulator`` is a fresh :class:`EmulatorThread` per test (300 meetings, rate limits off, the
call-recording create budget too);
``make_emulator(**overrides)`` builds others (same defaults unless overridden). ``raw`` is a
small urllib client that shows exactly what the server sent, for tests of the wire itself
(``raw.all_call_recordings()`` walks every call recording over HTTP).

The suite runs on pytest-xdist workers (``addopts`` in pyproject.toml). Each worker is a process of its own,
so every server a fixture starts (emulator, PostgreSQL, Redis, moto) belongs to one worker, on a free port;
a test needs nothing more to run beside others. A test whose assertion depends on requests landing within
one wall-clock second (a 429 at a rate, or none) carries ``@pytest.mark.xdist_group("timing")``: those run
one after the other on one worker, so two of them never load the machine at once.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connector.emulator import EmulatorThread

pytest_plugins = ["pg_server"]  # the PostgreSQL server fixtures: postgres, pg_url

SMALL = {"meetings": 300, "read_rate": 0.0, "write_rate": 0.0, "recording_write_rate": 0.0}


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """With xdist off (``-p no:xdist``), accept the ``--numprocesses``/``--dist`` that pyproject's addopts passes, so that
    one in-process run for a debugger needs no other flag (``-n0`` is the other way)."""
    if pluginmanager.is_blocked("xdist"):
        parser.addoption("--numprocesses", dest="numprocesses", help="ignored: xdist is off")
        parser.addoption("--dist", dest="dist", help="ignored: xdist is off")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorThread]]:
    started: list[EmulatorThread] = []

    def factory(**overrides: Any) -> EmulatorThread:
        emu = EmulatorThread(**(SMALL | overrides)).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., EmulatorThread]) -> EmulatorThread:
    return make_emulator()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """Plain urllib against the emulator: no retries, no parsing beyond JSON on demand."""

    def __init__(self, url: str, token: str | None, timeout: float = 10.0) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        token: str | bool | None = True,
    ) -> RawResponse:
        url = self.url + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        hdrs = dict(headers or {})
        use = self.token if token is True else token
        if use:
            hdrs.setdefault("Authorization", f"Bearer {use}")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return RawResponse(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return RawResponse(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> RawResponse:
        return self.request("GET", path, params=params, **kw)

    def post(self, body: Any, **kw: Any) -> RawResponse:
        return self.request("POST", "/v2/meetings", body=body, **kw)

    def list_all(self, path: str = "/v2/meetings", **params: Any) -> list[dict[str, Any]]:
        """Follow next_cursor to the end of a list (the meetings, or ``path``'s); fails on any non-200."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, {**params, **({"cursor": cursor} if cursor else {})})
            assert page.status == 200, page.body
            doc = page.json()
            out.extend(doc["data"])
            cursor = doc["pagination"]["next_cursor"]
            if cursor is None:
                return out

    def all_call_recordings(self) -> list[dict[str, Any]]:
        """Every call recording as GET answers it (transcript inline), found the only way Attio allows:
        list every meeting, list each meeting's recordings, GET each one. Fails on any non-200."""
        out = []
        for meeting in self.list_all(limit=200):
            base = f"/v2/meetings/{meeting['id']['meeting_id']}/call_recordings"
            for rec in self.list_all(base, limit=200):
                resp = self.get(f"{base}/{rec['id']['call_recording_id']}")
                assert resp.status == 200, resp.body
                out.append(resp.json()["data"])
        return out


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode()


@pytest.fixture
def raw(emulator: EmulatorThread) -> RawClient:
    return RawClient(emulator.url, emulator.token)


@pytest.fixture
def make_raw() -> Callable[..., RawClient]:
    """``make_raw(emu, token=...)``: a raw client for another emulator or token."""

    def factory(emu: EmulatorThread, token: str | None = None, timeout: float = 10.0) -> RawClient:
        return RawClient(emu.url, token if token is not None else emu.token, timeout)

    return factory


@pytest.fixture
def basic_auth() -> Callable[[str], str]:
    return basic
