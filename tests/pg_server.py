"""A real PostgreSQL server for the tests: ``initdb`` into a temporary folder, ``pg_ctl start`` on a free
loopback port, password authentication (scram-sha-256), stopped and removed at the end.

PostgreSQL refuses to run as root (CI runs as root): then the server runs as ``nobody``. The binaries come
from Debian's ``postgresql`` package (``.ci/run`` installs it when missing); a server that cannot start
raises :class:`PostgresUnavailable` with the reason, and the fixtures fail with it (no skip).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"
PASSWORD = "pg-test-secret-7f3a"  # a test server's own password; tests check it never appears in output


class PostgresUnavailable(RuntimeError):
    """The test server could not be started; the message says why."""


def _bin_dir() -> Path:
    """Where initdb and pg_ctl are: $PG_BIN, PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql package "
        "(apt-get install -y postgresql, as .ci/run does) or set PG_BIN"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: ``url(db)`` is a libpq URL without the password (tests pass it by PGPASSWORD or in the URL)."""

    root: Path
    port: int
    bin_dir: Path
    user: str | None  # the OS user the server runs as (None: this process's)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, db: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
        return subprocess.run(args, capture_output=True, text=True, cwd=self.root, check=False, **kwargs)

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb + start on a free loopback port; raises PostgresUnavailable saying why it could not."""
    bin_dir = _bin_dir()
    user = "nobody" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="connector-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    server = PostgresServer(root, 0, bin_dir, user)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if user is not None:
        os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
    init = server._run(
        str(bin_dir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        SUPERUSER,
        "--pwfile",
        str(pwfile),
        "--auth",
        "scram-sha-256",
        "-E",
        "UTF8",
        "--locale",
        "C",
        "--no-sync",
    )
    pwfile.unlink()
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    last = ""
    for _ in range(5):  # a port taken between choosing and binding: choose again
        server.port = free_port()
        options = (
            f"-p {server.port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"
        )
        started = server._run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(server.data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if started.returncode == 0:
            return server
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        last = (
            started.stderr.strip() + " " + log.strip().splitlines()[-1]
            if log.strip()
            else started.stderr.strip()
        ).strip()
    server.stop()
    raise PostgresUnavailable(f"pg_ctl start failed: {last}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One server for the session; fails (never skips) when it cannot start."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL test server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database of its own; the URL has no password (PGPASSWORD holds it, as users are told to do)."""
    import adbc_driver_postgresql.dbapi as dbapi

    name = f"t_{uuid.uuid4().hex[:12]}"
    with dbapi.connect(postgres.url(password=PASSWORD), autocommit=True) as con, con.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("PGPASSFILE", os.devnull)  # this machine's ~/.pgpass plays no part
    return postgres.url(name)
