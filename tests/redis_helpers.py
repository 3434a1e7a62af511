"""A real Redis server on a free loopback port, for the shared rate budget's tests and bench.

``.ci/run`` installs Debian's ``redis-server`` when missing; without it the fixture fails with that reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from connector.ratelimit import RedisBudget, budget_key

__all__ = ["RedisServer", "other_peers", "redis_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server`` in a child process, without persistence; ``url`` is its redis:// URL."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (apt-get install -y redis-server; .ci/run does this)"
            )
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> RedisServer:
        """Start and return once the server says it accepts connections (no polling, no sleeps)."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--loglevel",
                "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        seen = []
        for line in self.process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                # Keep reading its log so that a full pipe never blocks the server.
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return self
        raise RuntimeError("redis-server stopped before accepting connections:\n" + "".join(seen[-10:]))

    def stop(self) -> None:
        """Stop the server and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh Redis for one test."""
    try:
        server = RedisServer(tmp_path).start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def other_peers(redis_server: RedisServer, emu: Any, count: int) -> AsyncIterator[list[RedisBudget]]:
    """``count`` other processes' budgets on the emulator token's read budget, each counted as a peer."""
    others = [RedisBudget(redis_server.url, budget_key(emu.url, emu.token)) for _ in range(count)]
    try:
        for other in others:
            await other.open()
            await other.peers("read")
        yield others
    finally:
        for other in others:
            await other.aclose()
