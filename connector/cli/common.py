"""What every subcommand shares: client options, the --emulator switch, exit codes, progress bars, SIGTERM."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskStatus

from .. import defaults
from ..config import (
    TOKEN_ENV,
    ClientConfig,
    RateLimits,
    Secret,
    check_base_url,
    check_env_name,
    check_rate_limit_url,
)
from ..errors import ConfigError, InvalidArgumentError, shown
from ..storage.location import is_url
from ..timezones import is_valid_timezone

__all__ = [
    "EXIT_API",
    "EXIT_BROKEN_PIPE",
    "EXIT_DELETE_GUARD",
    "EXIT_DESTINATION",
    "EXIT_INPUT_BROKEN",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_ROWS_FAILED",
    "EXIT_TRANSPORT",
    "EXIT_USAGE",
    "add_client_options",
    "client_session",
    "non_negative_int",
    "option_error",
    "option_name",
    "output_path",
    "output_target",
    "positive_int",
    "positive_seconds",
    "print_report",
    "progress",
    "rate",
    "run_interruptible",
    "run_load_command",
    "run_with_client",
    "timezone_name",
    "want_progress",
]

T = TypeVar("T")

EXIT_OK = 0  # the job did everything it was asked
EXIT_ROWS_FAILED = 1  # a load finished but some rows were rejected or failed (see the results file)
EXIT_USAGE = 2  # bad arguments, configuration or input; nothing (more) was sent
EXIT_API = 3  # Attio refused: 401, 403, 404, 400 on a read
EXIT_TRANSPORT = 4  # Attio (or a database output) could not be reached or kept failing after every retry
EXIT_INPUT_BROKEN = 5  # a load's input broke part-way: the rows before the break were sent and are in the results
EXIT_DELETE_GUARD = 6  # load --sync --delete-missing deleted nothing: more than --max-delete of its meetings left
EXIT_DESTINATION = 7  # a database output refused the write (login, permission, incompatible table); table unchanged
EXIT_INTERNAL = 70  # a bug in the connector (EX_SOFTWARE); -vv shows the traceback
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; files are left consistent and --resume continues
EXIT_BROKEN_PIPE = 141  # stdout's reader went away (`| head`): what the shell reports for a process killed by SIGPIPE

EMULATOR_MEETINGS = 1000  # the same data set as `python -m connector emulator`


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def timezone_name(text: str) -> str:
    """An argparse type: a known IANA timezone name (not a tz database folder or file such as ``posixrules``)."""
    if not is_valid_timezone(text):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a known IANA timezone name (e.g. Europe/Berlin or UTC)")
    return text
def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    return _whole(text, 0)


def _finite(text: str, accept: Callable[[float], bool], expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def rate(text: str) -> float:
    """An argparse type: requests per second, a finite number, 0 for no limit."""
    return _finite(text, lambda v: v >= 0, "requests per second: 0 (no limit) or a positive number")


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0."""
    return _finite(text, lambda v: v > 0, "a number of seconds above 0")


def output_path(text: str) -> Path:
    """An argparse type: a non-blank path ('.' or '/' are judged by the extract, which knows --partition-by)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"give a file name, e.g. meetings.parquet; {text!r} names no file")
    if text == "-":  # the Unix spelling of standard output: it would have made a file named '-'
        raise argparse.ArgumentTypeError(
            "'-' (standard output) is not supported: the output is published whole at the end; give a file name, "
            "e.g. meetings.csv"
        )
    return Path(text)


def output_target(text: str) -> str | Path:
    """An argparse type: a URL (``s3://...``) as written (a Path would fold its ``//``), else :func:`output_path`."""
    return text if is_url(text) else output_path(text)


def option_name(args: argparse.Namespace, dest: str) -> str:
    """How the user gave the option ``dest``: ``--linked-object``, and the config file's key when its value came from
    there (``--linked-object (linked_object in config file f.toml [extract])``)."""
    flag = "--" + dest.replace("_", "-")
    origin = getattr(args, "config_origins", {}).get(dest)
    return f"{flag} ({origin})" if origin and getattr(args, dest, None) is not None else flag


def option_error(
    args: argparse.Namespace, exc: InvalidArgumentError, dests: Mapping[str, str], *, in_reason: bool = True
) -> ConfigError:
    """``exc`` (about a library argument) reworded for the command line: each argument name in ``dests`` (library
    name -> option dest) becomes the option as the user gave it (:func:`option_name`), in the reason too unless
    ``in_reason`` is False (where the names are also plain words: "output", "format"). A reason that already
    starts with the flag is the message."""
    names = {name: option_name(args, dest) for name, dest in dests.items()}
    # Whole names only: "overwrite" in "--overwrite is for ..." is already a flag.
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w-])")
    argument = pattern.sub(lambda m: names[m.group(1)], exc.argument)
    reason = pattern.sub(lambda m: names[m.group(1)], exc.reason) if in_reason else exc.reason
    return ConfigError(reason if reason.startswith(argument.split(" ")[0]) else f"{argument}: {reason}")


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """Add --base-url, --emulator, rate and timeout options, and --quiet to a subcommand."""
    group = parser.add_argument_group("connection")
    group.add_argument("--base-url", help="Attio API base URL (default $ATTIO_BASE_URL or https://api.attio.com)")
    group.add_argument(
        "--emulator",
        action="store_true",
        help="start a local Attio emulator in-process and talk to it (no network, no token needed)",
    )
    group.add_argument(
        "--emulator-meetings",
        type=non_negative_int,
        default=EMULATOR_MEETINGS,
        metavar="N",
        help=f"meetings seeded into the --emulator (default {EMULATOR_MEETINGS})",
    )
    group.add_argument(
        "--read-rate", type=rate, metavar="R", help=f"client read budget, requests/s (default {defaults.READS_PER_SECOND:g})"
    )
    group.add_argument(
        "--write-rate", type=rate, metavar="R", help=f"client write budget, requests/s (default {defaults.WRITES_PER_SECOND:g})"
    )
    group.add_argument(
        "--max-in-flight", type=positive_int, metavar="N", help=f"cap on concurrent requests (default {defaults.MAX_IN_FLIGHT})"
    )
    group.add_argument(
        "--workspace",
        metavar="NAME",
        help="the workspace NAME of the --config file's [workspaces.NAME] tables: its token_env, base_url and limits",
    )
    group.add_argument(
        "--rate-limit-url",
        metavar="URL",
        help="Redis URL of a rate budget shared by every process using the token, e.g. redis://host:6379/0 "
        "(default $CONNECTOR_RATE_LIMIT_URL; none: this process's own budget)",
    )
    group.add_argument(
        "--timeout", type=positive_seconds, metavar="S", help=f"seconds per request before it is retried (default {defaults.TIMEOUT:g})"
    )
    group.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        metavar="VAR",
        help="environment variable holding the Attio token (default ATTIO_API_KEY); tokens are never flags",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _config_from_args(args: argparse.Namespace, **overrides: Any) -> ClientConfig:
    workspace = getattr(args, "workspace", None)
    if workspace is not None and getattr(args, "workspace_table", None) != workspace:
        raise ConfigError("--workspace needs --config FILE with a [workspaces.NAME] table of that name")
    standard = RateLimits()
    limits = RateLimits(
        reads_per_second=args.read_rate if args.read_rate is not None else standard.reads_per_second,
        writes_per_second=args.write_rate if args.write_rate is not None else standard.writes_per_second,
        max_in_flight=args.max_in_flight if args.max_in_flight is not None else standard.max_in_flight,
        recording_writes_per_second=(
            args.recording_rate
            if getattr(args, "recording_rate", None) is not None
            else standard.recording_writes_per_second
        ),
    )
    token_env = check_env_name(getattr(args, "token_env", TOKEN_ENV), "--token-env")
    base = None if args.base_url is None or "base_url" in overrides else check_base_url(args.base_url, "--base-url")
    url = getattr(args, "rate_limit_url", None)
    shared = None if url is None else check_rate_limit_url(url, "--rate-limit-url")
    settings = {"base_url": base, "timeout": args.timeout, "limits": limits, "rate_limit_url": shared} | overrides
    config = ClientConfig.from_env(token_env=token_env, **settings)
    if config.token is None:
        if token_env.isupper():
            raise ConfigError(f"no Attio access token: set {token_env}")
        # A lower-case "name" may well be the token itself, pasted by mistake.
        raise ConfigError(
            "no Attio access token: the environment variable named by --token-env is not set "
            "(the name is not repeated, in case it is a token)"
        )
    return config


@contextmanager
def client_session(args: argparse.Namespace, **emulator_overrides: Any) -> Iterator[ClientConfig]:
    """The client configuration for a subcommand; with --emulator, an emulator runs for the block's duration.

    ``emulator_overrides`` go to the emulator's config (e.g. ``contract="create-only"``).
    """
    if not getattr(args, "emulator", False):
        yield _config_from_args(args)
        return
    from ..emulator import EmulatorThread

    try:
        emulator = EmulatorThread(**({"meetings": args.emulator_meetings} | emulator_overrides))
    except ValueError as exc:  # a setting from a config file, which argparse does not check
        raise ConfigError(f"--emulator: {exc}") from None
    with emulator as emu:
        if not getattr(args, "quiet", False):
            print(f"using the built-in Attio emulator at {emu.url}", file=sys.stderr)
        yield _config_from_args(args, base_url=emu.url, token=Secret(emu.token))


def want_progress(args: argparse.Namespace) -> bool:
    """A progress bar only for a person at a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty() and os.environ.get("CI") is None


def progress(args: argparse.Namespace, *, unit: str, total: float | None = None, desc: str = "", **options: Any) -> Any:
    """A tqdm bar on stderr, disabled when not on a terminal or with --quiet; ``options`` go to tqdm."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=not want_progress(args), file=sys.stderr, dynamic_ncols=True,
                **options)


def run_with_client(
    args: argparse.Namespace, fn: Callable[..., Awaitable[T]], *fn_args: Any, unit: str, desc: str, **bar_options: Any
) -> T:
    """``fn(*fn_args, client_config, bar)`` through :func:`run_interruptible`, in the command's client session
    (an --emulator runs meanwhile) with its progress bar (``bar_options`` go to tqdm)."""
    with client_session(args) as client_config, progress(args, unit=unit, desc=desc, **bar_options) as bar:
        return run_interruptible(fn, *fn_args, client_config, bar)


def run_load_command(
    args: argparse.Namespace, load: Callable[..., Awaitable[T]], source: Any, config: Any, *, unit: str, desc: str
) -> T:
    """``load(source, client, config, progress=...)`` for ``load`` and ``load-recordings``: with an open client and
    a bar counting ``unit``, or for ``--dry-run`` with neither (no token needed). SIGTERM cancels it like Ctrl-C:
    its cleanup commits the ledger and completes the results file up to the last finished input (exit 130)."""
    report: T  # the load's own report type (mypy cannot carry T through _load_with_client's arguments)
    if args.dry_run:
        report = run_interruptible(_load_with_client, load, source, config, None, None)
    else:
        report = run_with_client(args, _load_with_client, load, source, config, unit=unit, desc=desc)
    return report


async def _load_with_client(
    load: Callable[..., Awaitable[T]], source: Any, config: Any, client_config: ClientConfig | None, bar: Any
) -> T:
    on_progress = bar.update if bar is not None else None
    if client_config is None:
        return await load(source, None, config, progress=on_progress)
    from ..client import AttioClient

    async with AttioClient(client_config) as client:
        return await load(source, client, config, progress=on_progress)


def print_report(args: argparse.Namespace, report: Any) -> None:
    """A command's report on stdout: as JSON with --json, else its text (``report.format()``)."""
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        print(report.format())


def run_interruptible(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``anyio.run(fn, *args)``, where SIGTERM (a scheduler or container stopping the process) acts as Ctrl-C.

    SIGTERM cancels ``fn``, so its cleanup runs as on Ctrl-C (checkpoints and ledgers committed, partial
    files removed), then :class:`KeyboardInterrupt` is raised: :func:`~connector.cli.main` reports it and
    exits with 130. A second SIGTERM during that cleanup ends the process at once.
    """
    return anyio.run(_cancel_on_sigterm, fn, *args)


async def _cancel_on_sigterm(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    outcome: list[T] = []
    error: Exception | None = None
    terminated = False
    async with anyio.create_task_group() as tg:
        if threading.current_thread() is threading.main_thread() and sys.platform != "win32":

            async def on_sigterm(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
                nonlocal terminated
                with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                    task_status.started()  # listening before fn starts: no SIGTERM slips through
                    async for _ in signals:
                        terminated = True
                        tg.cancel_scope.cancel()
                        return

            await tg.start(on_sigterm)
        try:
            outcome.append(await fn(*args))
        except Exception as exc:  # raised as itself below, not wrapped in the task group's ExceptionGroup
            error = exc
        tg.cancel_scope.cancel()  # done: stop listening for SIGTERM
    if error is not None:
        raise error
    if not outcome:
        if terminated:
            raise KeyboardInterrupt
        raise AssertionError(f"{fn.__name__} neither finished nor was terminated")  # pragma: no cover
    return outcome[0]
