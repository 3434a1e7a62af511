"""Running the emulator: in the current event loop, in a background thread, or from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .config import FAULT_KINDS, EmulatorConfig, Workspace

# The server (aiohttp.web, the app and its data) is imported when one starts: the CLI builds this module's
# flags for every command, and an extract should not import a server.
if TYPE_CHECKING:
    from aiohttp import web

    from .app import Emulator

__all__ = [
    "DEFAULT_PORT",
    "EmulatorThread",
    "RunningEmulator",
    "add_arguments",
    "config_from_args",
    "main",
    "run_emulator",
    "serve",
]

DEFAULT_PORT = 8787


@dataclass(frozen=True)
class RunningEmulator:
    """A listening emulator: its base URL, its state and the token that holds every scope."""

    url: str
    emulator: Emulator
    host: str
    port: int

    @property
    def token(self) -> str:
        """The access token the emulator accepts."""
        return self.emulator.config.token


def _config(config: EmulatorConfig | None, overrides: dict[str, Any]) -> EmulatorConfig:
    return replace(config or EmulatorConfig(), **overrides)


class _QuietClientErrors(logging.Filter):
    """Client mistakes are traffic, not server errors: no tracebacks for them.

    A client that goes away mid-answer (Ctrl-C, a timeout) is dropped; a request aiohttp cannot parse
    (over PARSER_LIMIT, not HTTP) stays as one warning line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionResetError | BrokenPipeError):
            return False
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "refused a request it cannot parse: %s", (exc.message.splitlines()[0],)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


# The emulator's own server log (aiohttp's RequestHandler logs there): other aiohttp servers in the
# process keep their logging as it was.
_SERVER_LOG = logging.getLogger("connector.emulator.server")
_SERVER_LOG.addFilter(_QuietClientErrors())


async def _start(emulator: Emulator) -> tuple[web.AppRunner, int]:
    from aiohttp import web

    from .app import PARSER_LIMIT

    runner = web.AppRunner(
        emulator.app(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=0.5,
        max_line_size=PARSER_LIMIT,
        max_field_size=PARSER_LIMIT,
        logger=_SERVER_LOG,
    )
    await runner.setup()
    site = web.TCPSite(runner, emulator.config.host, emulator.config.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def run_emulator(
    config: EmulatorConfig | None = None, **overrides: Any
) -> AsyncIterator[RunningEmulator]:
    """Serve an emulator in the running event loop for the duration of the block."""
    from .app import Emulator

    emulator = Emulator(_config(config, overrides))
    runner, port = await _start(emulator)
    try:
        yield RunningEmulator(_url(emulator.config.host, port), emulator, emulator.config.host, port)
    finally:
        await runner.cleanup()


class EmulatorThread:
    """An emulator in a daemon thread with its own event loop, for synchronous callers."""

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        from .app import Emulator

        self.config = _config(config, overrides)
        self.emulator = Emulator(self.config)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The emulator's base URL (``http://127.0.0.1:PORT``), once started."""
        if not self.port:
            raise RuntimeError("the emulator is not running; call start() first")
        return _url(self.config.host, self.port)

    @property
    def token(self) -> str:
        """The access token the emulator accepts."""
        return self.config.token

    def start(self) -> EmulatorThread:
        """Start serving; returns once the socket is listening (raises what startup raised)."""
        if self._thread is not None:
            raise RuntimeError("the emulator thread was already started")
        self._thread = threading.Thread(target=self._main, name="attio-emulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may be finishing already
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            runner, self.port = await _start(self.emulator)
        except BaseException as exc:  # handed to start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()


# ---- command line -----------------------------------------------------------------------------
def _scoped_token(text: str) -> tuple[str, frozenset[str]]:
    token, sep, scopes = text.partition("=")
    if not sep or not token:
        raise argparse.ArgumentTypeError("expected TOKEN=scope1,scope2")
    return token, frozenset(s.strip() for s in scopes.split(",") if s.strip())


def _workspace(text: str) -> tuple[str, int]:
    token, sep, meetings = text.partition("=")
    if not sep or not token or not meetings.isdigit():
        raise argparse.ArgumentTypeError("expected TOKEN=MEETINGS, e.g. acme-token=5000")
    return token, int(meetings)


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault kind(s) {unknown}; choose from {', '.join(FAULT_KINDS)}"
        )
    return kinds


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The emulator's flags; defaults are EmulatorConfig's, except the port."""
    d = EmulatorConfig()
    parser.add_argument("--host", default=d.host, help="interface to listen on (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port, 0 = any free port (default %(default)s)"
    )
    parser.add_argument(
        "--meetings", type=int, default=d.meetings, help="seeded meetings (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=d.seed, help="seed of the data and the faults (default %(default)s)"
    )
    parser.add_argument(
        "--token", default=d.token, help="token with every meeting scope (default %(default)s)"
    )
    parser.add_argument(
        "--scoped-token",
        action="append",
        type=_scoped_token,
        default=[],
        metavar="TOKEN=SCOPES",
        help="extra token with comma-separated scopes, e.g. ro=meeting:read,record_permission:read (repeatable)",
    )
    parser.add_argument(
        "--workspace",
        action="append",
        type=_workspace,
        default=[],
        metavar="TOKEN=MEETINGS",
        help="serve another workspace to this token, with its own meetings (seeds --seed+1, +2, ...) and its "
        "own --read-rate/--write-rate budgets (repeatable)",
    )
    parser.add_argument(
        "--read-rate", type=float, default=d.read_rate, help="read requests/s, 0 = off (default %(default)s)"
    )
    parser.add_argument(
        "--write-rate",
        type=float,
        default=d.write_rate,
        help="write requests/s, 0 = off (default %(default)s)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=d.latency_ms, help="added to every answer (default %(default)s)"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=d.fault_rate,
        help="chance of a fault per request (default %(default)s)",
    )
    parser.add_argument(
        "--fault-kinds",
        type=_kinds,
        default=d.fault_kinds,
        help=f"comma-separated, from {','.join(FAULT_KINDS)} (default {','.join(d.fault_kinds)})",
    )
    parser.add_argument(
        "--slow-ms", type=float, default=d.slow_ms, help="delay of a 'slow' fault (default %(default)s)"
    )
    parser.add_argument(
        "--contract",
        choices=("find-or-create", "create-only"),
        default=d.contract,
        help="POST /v2/meetings semantics (default %(default)s)",
    )
    parser.add_argument(
        "--recording-share",
        type=float,
        default=d.recording_share,
        metavar="F",
        help="share of the seeded meetings before --recordings-now that have call recordings, 0 = none "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--recordings-now",
        default=d.recordings_now,
        metavar="TIMESTAMP",
        help="the seed's 'now': seeded meetings that start later have no recordings (default %(default)s)",
    )
    parser.add_argument(
        "--recording-write-rate",
        type=float,
        default=d.recording_write_rate,
        metavar="R",
        help="call-recording creates/s, a budget of its own besides --write-rate, 0 = off (default %(default)s)",
    )
    parser.add_argument(
        "--recording-delay-s",
        type=float,
        default=d.recording_delay_s,
        metavar="SECONDS",
        help="a created call recording is 'processing' this long, then 'completed' (default %(default)s)",
    )
    parser.add_argument(
        "--recording-quota",
        type=int,
        default=d.recording_quota,
        metavar="N",
        help="at most N call recordings made through the API, then 403 quota_exceeded; 0 = no quota "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--prerender",
        action="store_true",
        help="render every seeded meeting at start-up, so that pages cost no rendering (benchmarks)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        meetings=args.meetings,
        seed=args.seed,
        token=args.token,
        tokens=dict(args.scoped_token),
        read_rate=args.read_rate,
        write_rate=args.write_rate,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds,
        slow_ms=args.slow_ms,
        contract=args.contract,
        prerender=args.prerender,
        recording_share=args.recording_share,
        recordings_now=args.recordings_now,
        recording_write_rate=args.recording_write_rate,
        recording_delay_s=args.recording_delay_s,
        recording_quota=args.recording_quota,
        workspaces=tuple(
            Workspace(token, meetings, args.seed + i, args.read_rate, args.write_rate)
            for i, (token, meetings) in enumerate(args.workspace, 1)
        ),
    )


async def _serve_forever(config: EmulatorConfig, stop_on_sigterm: bool = False) -> None:
    stop = asyncio.Event()
    # a profiled run stops on SIGTERM as on Ctrl-C, from inside the loop, so that it writes its profile
    if stop_on_sigterm:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with run_emulator(config) as running:
        hint = (
            f"set ATTIO_API_KEY={config.token}"
            if config.token == EmulatorConfig.token
            else "the token given by --token"
        )
        print(
            f"Attio emulator listening on {running.url} ({len(running.emulator.store)} meetings; token: {hint})",
            flush=True,
        )
        await stop.wait()


def _listen_error(exc: OSError, host: str, port: int) -> str:
    """One line (with a hint) for a socket the emulator cannot listen on."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve --host {host!r} (hint: use 127.0.0.1, or 0.0.0.0 for every interface)"
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use on {host} (hint: --port 0 picks a free one)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: no such address on this machine (hint: use 127.0.0.1, or 0.0.0.0)"
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} needs more privileges (hint: a port above 1023, or --port 0 for a free one)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc} (hint: pick another --host or --port)"


PROFILE_ENV = "CONNECTOR_EMULATOR_PROFILE"


def serve(config: EmulatorConfig) -> int:
    """Serve until Ctrl-C; returns the exit code (0 on Ctrl-C, 2 if it cannot listen on the host and port).

    With ``CONNECTOR_EMULATOR_PROFILE=FILE`` set (benchmarks), the process's CPU time is profiled
    (cProfile on ``time.process_time``) and written to FILE when it stops, on Ctrl-C or SIGTERM.
    """
    profile_to = os.environ.get(PROFILE_ENV)
    profiler = cProfile.Profile(time.process_time) if profile_to else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(_serve_forever(config, stop_on_sigterm=profiler is not None))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"error: {_listen_error(exc, config.host, config.port)}", file=sys.stderr)
        return 2
    finally:
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m connector.emulator``: serve until interrupted; return the exit code."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="python -m connector.emulator", description="Local emulator of Attio's meetings API."
        )
    )
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    return serve(config)
