"""A real S3-compatible server (moto's server mode) on a free loopback port, and the AWS environment that reaches it.

``moto`` is one server per test module (:class:`Moto`); ``s3`` gives each test its own bucket and an
environment with only the standard AWS variables (``AWS_ENDPOINT_URL`` points at the server; no
profile or config file of this machine is read) and a scratch folder in ``tmp_path``.
Test modules import the fixtures (``moto_fixture``, ``s3_fixture``, ``cutting_fixture``) by name, so that
only they load moto and boto3.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from extract_helpers import checkpoint_has, kill_when
from moto.server import ThreadedMotoServer

from connector.extract.checkpoint import default_checkpoint_path
from connector.storage import ObjectStoreSink

KEY_ID = "AKIAEXAMPLEEXAMPLE12"
SECRET = "sEcReT-never-shown-0123456789abcdefghijkl"  # swept for in every output


class Moto:
    """moto's S3 server in a thread on 127.0.0.1; :meth:`stop` and :meth:`start` again keep its data and port."""

    def __init__(self) -> None:
        self.port = 0
        self.server: ThreadedMotoServer | None = None

    def start(self) -> Moto:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "s3", **credentials: str) -> Any:
        keys = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET} | credentials
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", **keys)

    def enforce_auth(self, on: bool) -> None:
        """Make the server check credentials and IAM policies (moto's reset-auth), or stop checking them."""
        body = b"0" if on else b"inf"
        with urllib.request.urlopen(
            urllib.request.Request(
                f"{self.url}/moto-api/reset-auth", data=body, headers={"Content-Type": "text/plain"}
            )
        ) as r:
            json.load(r)


@pytest.fixture(scope="module", name="moto")
def moto_fixture() -> Iterator[Moto]:
    server = Moto().start()
    yield server
    server.stop()


@dataclass
class S3:
    """One test's bucket on the moto server, and its environment."""

    moto: Moto
    bucket: str
    env: dict[str, str]
    scratch: Path

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def keys(self) -> list[str]:
        pages = self.moto.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.moto.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def buffer(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.get(key))

    def put(self, key: str, data: bytes) -> None:
        self.moto.client().put_object(Bucket=self.bucket, Key=key, Body=data)

    def unfinished_uploads(self) -> list[str]:
        return [
            u["Key"] for u in self.moto.client().list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        ]

    def scratch_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.scratch)) for p in self.scratch.rglob("*") if p.is_file())


@pytest.fixture(name="s3")
def s3_fixture(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3:
    if moto.server is None:
        moto.start()
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    scratch = tmp_path / "scratch"
    env = {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CONNECTOR_SCRATCH": str(scratch),
    }
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return S3(moto, bucket, env, scratch)


def without_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment in which no AWS credentials, endpoint, profile or instance role can be found, and a
    scratch folder in ``tmp_path``: only credentials handed over in-process (S3Settings) reach a store."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CONNECTOR_SCRATCH", str(tmp_path / "scratch"))


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of the moto server: the store going away at a chosen moment.

    :meth:`cut_after` arms it: once that many more bytes went from clients to the server, every open
    connection is closed and new ones are refused until :meth:`heal`.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.budget: int | None = None
        self.down = False
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, nbytes: int) -> None:
        with self.lock:
            self.budget = nbytes

    def heal(self) -> None:
        with self.lock:
            self.budget, self.down = None, False

    def close(self) -> None:
        self.listener.close()
        self._cut()

    def _cut(self) -> None:
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.down:
                    client.close()
                    continue
                server = socket.create_connection(("127.0.0.1", self.target_port))
                self.open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                with self.lock:
                    if self.down:
                        return
                    if upstream and self.budget is not None:
                        self.budget -= len(data)
                        if self.budget <= 0:
                            self.down = True
                            self._cut()
                            return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.fixture(name="cutting")
def cutting_fixture(s3: S3, monkeypatch: pytest.MonkeyPatch) -> Iterator[CuttingProxy]:
    """The store reached through a :class:`CuttingProxy` (``AWS_ENDPOINT_URL`` points at it), two attempts a call."""
    proxy = CuttingProxy(s3.moto.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    yield proxy
    proxy.close()


def killed_then_resumed(
    emulator: Any, url: str, scratch: Path, keys: Callable[[], list[str]]
) -> dict[str, Any]:
    """``extract --output URL`` in a CLI process, SIGKILLed once 60 rows are checkpointed: nothing may be in the
    store (``keys()``) and the checkpoint must be in local ``scratch``; then ``--resume``: its JSON report."""
    args = ["extract", "--base-url", emulator.url, "--output", url, "--page-size", "5", "--slices", "2",
            "--batch-size", "10", "--quiet"]  # fmt: skip
    env = {**os.environ, "ATTIO_API_KEY": emulator.token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = default_checkpoint_path(ObjectStoreSink(url).path)
    assert checkpoint.is_relative_to(scratch)  # the checkpoint lives in local scratch, not in the store
    kill_when(proc, checkpoint_has(checkpoint, 60))
    assert keys() == []
    resumed = subprocess.run(
        [sys.executable, "-m", "connector", *args, "--resume", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    report: dict[str, Any] = json.loads(resumed.stdout)
    assert report["resumed_rows"] >= 60
    return report
