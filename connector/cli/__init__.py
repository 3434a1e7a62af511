"""``python -m connector``: a thin layer over the library. Parse -> config -> library call -> report -> exit code.

Errors print one line and a hint, never a traceback (``-v`` shows it). Exit codes are in
:mod:`connector.cli.common` and docs/exit-codes.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..config import TOKEN_ENV
from ..errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    ConnectorError,
    DestinationError,
    PaginationError,
    SchemaError,
)
from .common import (
    EXIT_API,
    EXIT_BROKEN_PIPE,
    EXIT_DESTINATION,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TRANSPORT,
    EXIT_USAGE,
)
from .configfile import apply_config_file, split_config_option, workspace_option

__all__ = ["build_parser", "end", "exit_code", "main", "run"]

# Each module (the command's name, - as _) registers one subcommand through add_parser(subparsers).
COMMANDS = ("extract", "load", "load-recordings", "get", "emulator")


class _Parser(argparse.ArgumentParser):
    """argparse, except that a word that is no command is not repeated: it may be a command's option value.

    ``python -m connector --token-env sk_live_... get`` (the option before the command) made argparse print
    ``invalid choice: 'sk_live_...'``, the token itself.
    """

    def error(self, message: str) -> NoReturn:
        invalid = re.fullmatch(r"argument COMMAND: invalid choice: (.*) \(choose from (.*)\)", message, re.S)
        if invalid and not re.fullmatch(r"'?[a-z][a-z-]{0,15}'?", invalid.group(1)):
            message = (
                f"the first argument after -v and --config must be a command ({invalid.group(2)}); a command's "
                "options (--token-env, --base-url, ...) go after it (the word given is not shown, in case it is a token)"
            )
        super().error(message)


def build_parser(config_file: Path | None = None, workspace: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand; ``config_file`` supplies defaults (see :mod:`.configfile`),
    its ``[workspaces.<workspace>]`` table those of the connection."""
    parser = _Parser(
        prog="python -m connector",
        description="Move Attio meetings between Attio's API and your data stack.",
        epilog="Exit codes: 0 ok, 1 some rows rejected/failed (load), 2 usage/config/input error, "
        "3 Attio refused (401/403/404/400), 4 Attio (or the output database) unreachable or failing after retries, "
        "5 the input broke part-way (load: the rows before the break were loaded), 6 load --sync deleted nothing "
        "(over --max-delete), 7 the output database refused (login, permission, incompatible table; the table is "
        "unchanged), 70 internal error, "
        "130 interrupted, 141 the reader of the standard output went away (e.g. | head) before it was all written.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging; -vv for debug and tracebacks")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file of defaults: a [connection] table and one per command (flags win; see sample_configs/)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name.replace('-', '_')}":
                raise
            continue
        module.add_parser(subparsers)
    if config_file is not None:
        apply_config_file(config_file, subparsers.choices, workspace)
    return parser


def _lean_memory() -> None:
    """Arrow buffers from the system allocator, which hands freed batches back to the OS.

    Arrow's default pool (mimalloc or jemalloc) keeps freed memory for reuse; for a CLI job that only
    inflates the peak (measured: ~355 MB -> ~300 MB extracting 200k meetings). Library users choose their
    own pool; an ARROW_DEFAULT_MEMORY_POOL set by the user wins.
    """
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    else:  # Arrow reads it when it first allocates: an extract imports it while its first requests are out
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"


def _hint(exc: ConnectorError) -> str:
    return f" (hint: {exc.hint})" if exc.hint else ""


def run() -> NoReturn:
    """The ``python -m connector`` and ``attio-connector`` entry point: :func:`main`, then exit with its code."""
    # The imports' objects live as long as the process: the run's collections need not walk them.
    gc.freeze()
    end(main())


def end(code: int) -> NoReturn:
    """End a finished command's process with ``code`` now, as the interpreter's own end would but for its teardown:
    flush the standard streams, wait for the threads still running, run the ``atexit`` handlers (logging's
    shutdown and ``weakref.finalize`` callbacks among them), then ``os._exit``.

    What a command writes is closed before it returns (outputs committed, checkpoints, ledgers and locks
    released, temporary folders removed by their ``with``), so the rest of the interpreter's end would only
    tear down every module and collect the heap, freeing memory that the OS frees anyway: 0.1-0.3 s after an
    extract (docs/performance.md). A library must not end its caller's process; a finished CLI may. Where a
    standard stream cannot be flushed (a reader gone), the interpreter's own end is taken (``sys.exit``): it
    reports the stream as it always has.
    """
    gc.freeze()  # should the fast end not be taken, the final collections need not walk the heap
    try:
        _flush()
    except (OSError, ValueError):  # a closed pipe or stream: the interpreter's end reports it as before
        sys.exit(code)
    # What the interpreter's end runs first (CPython 3.11-3.14): the threading module's exit hooks (executors
    # told to stop) and a wait for every non-daemon thread, e.g. AnyIO's workers, told to stop as its event loop
    # closed and still ending. A private name, so an interpreter without it takes the ordinary end.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:  # pragma: no cover - CPython has it
        sys.exit(code)
    shutdown()
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):  # what the threads and handlers printed since
        _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    try:
        config_file, argv = split_config_option(sys.argv[1:] if argv is None else argv)
        parser = build_parser(config_file, workspace_option(argv))
    except ConnectorError as exc:
        print(f"error: {exc}{_hint(exc)}", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _lean_memory()
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a pipe's reader gone before the end shows here, not at exit as a traceback
        return code
    except KeyboardInterrupt:
        if getattr(args, "database_output", False):
            print("error: interrupted; the table is as it was before the run: run the same command again", file=sys.stderr)
            return EXIT_INTERRUPTED
        again = "run it again with --resume" if args.command == "extract" else "run the same command again"
        print(f"error: interrupted; files are consistent: {again} to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): the output is incomplete, so not 0; as quiet as a process that
        # SIGPIPE ended. What is still buffered for stdout goes nowhere (flushing it at exit would raise again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.verbose > 1:
            raise
        return _report(_unwrap(exc), getattr(args, "token_env", None) or TOKEN_ENV)


def _unwrap(exc: BaseException) -> BaseException:
    """The one ConnectorError inside a task group's exception group, if that is all it holds."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def exit_code(exc: ConnectorError) -> int:
    """The documented exit code of an error. Whether retries could have helped is the error's ``retryable``."""
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    if exc.retryable or isinstance(exc, PaginationError | SchemaError):
        return EXIT_TRANSPORT  # Attio, a store or a database kept failing after every retry, or broke its contract
    if isinstance(exc, DestinationError):
        return EXIT_DESTINATION
    if isinstance(exc, ApiError):
        return EXIT_API
    return EXIT_USAGE  # a ledger or input row the user can fix


def _report(exc: BaseException, token_env: str = TOKEN_ENV) -> int:
    """Print one line for ``exc`` and return its exit code; a refused token's hint names ``token_env``,
    the variable it was read from (a workspace's or ``--token-env``'s)."""
    if isinstance(exc, ConnectorError):
        hint = (
            f" (hint: set {token_env} to a valid access token)"
            if isinstance(exc, AuthenticationError)
            else _hint(exc)
        )
        print(f"error: {exc}{hint}", file=sys.stderr)
        return exit_code(exc)
    if isinstance(exc, OSError):
        print(f"error: {exc} (hint: check the path, its permissions and the free disk space)", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"error: internal error: {type(exc).__name__}: {exc} (hint: run with -vv for the traceback, and report it)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
