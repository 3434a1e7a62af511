"""The entry points of a recordings load: :func:`load_recordings` (async) and :func:`load_recordings_sync` (sync)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from ...config import ClientConfig
from ..api import check_paths
from ..results import open_results
from .config import RECORDING_RESULTS, RecordingsConfig, RecordingsReport
from .inputs import list_inputs, unread_sidecar_files
from .ledger import RecordingsLedger
from .mapping import MeetingsLedgerView, RecordingsMapping, load_recordings_mapping
from .run import RecordingsRun

__all__ = ["default_paths", "load_recordings", "load_recordings_sync"]


def default_paths(source: Path, config: RecordingsConfig) -> tuple[Path | None, Path | None]:
    """Results and ledger paths: as configured, else ``<input>.recordings.results.csv`` and
    ``<input>.recordings.ledger.sqlite`` beside the input file or folder (a dry run writes neither unless told)."""
    base = source.with_suffix("") if source.is_file() else source
    if not base.name:  # "." or "/": name the files after the folder it stands for
        base = base.resolve()
    results = None
    if config.results_path:
        results = Path(config.results_path)
    elif not config.dry_run:
        results = base.with_name(base.name + ".recordings.results.csv")
    ledger = None
    if not config.dry_run:
        ledger = (
            Path(config.ledger_path)
            if config.ledger_path
            else base.with_name(base.name + ".recordings.ledger.sqlite")
        )
    return results, ledger


async def load_recordings(
    source: str | Path,
    client: Any,
    config: RecordingsConfig | None = None,
    *,
    progress: Callable[[int], Any] | None = None,
) -> RecordingsReport:
    """Create a call recording for each transcript in ``source`` (a file, or a folder of them), exactly once.

    ``client``: an open :class:`~connector.client.AttioClient` (None with ``dry_run``). Bad inputs, unknown
    meetings and transcripts Attio refuses are results, not exceptions; a bad mapping or colliding paths raise
    :class:`~connector.errors.ConfigError` before anything is read or sent, and a refused token
    (401/403) stops the load with its error.
    """
    config = config or RecordingsConfig()
    source = Path(source)
    mapping = (
        config.mapping
        if isinstance(config.mapping, RecordingsMapping)
        else load_recordings_mapping(config.mapping)
    )
    results_path, ledger_path = default_paths(source, config)
    check_paths(source, config, results_path, ledger_path, RECORDING_RESULTS)
    files, ignored = list_inputs(source, tuple(p for p in (results_path, ledger_path) if p is not None))
    started = time.monotonic()
    before = client.stats.snapshot() if client is not None else {}
    # Everything that can refuse to open does so before the results file is written.
    meetings = MeetingsLedgerView(mapping.meetings_ledger) if mapping.meetings_ledger else None
    try:
        ledger = RecordingsLedger(ledger_path) if ledger_path is not None else None
    except BaseException:
        if meetings is not None:
            meetings.close()
        raise
    results = open_results(results_path, layout=RECORDING_RESULTS)
    run = RecordingsRun(
        client=None if config.dry_run else client,
        config=config,
        mapping=mapping,
        ledger=ledger,
        results=results,
        meetings=meetings,
        progress=progress,
    )
    try:
        if ledger is not None:
            ledger.start_run(run.run_id, str(source))
        await run.run(files, unread_sidecar_files(source, files, mapping))
        if ledger is not None:
            ledger.finish_run(run.run_id, run.summary())
    finally:
        results.close()
        if ledger is not None:
            ledger.close()
        if meetings is not None:
            meetings.close()
    after = client.stats.snapshot() if client is not None else {}
    counts = run.counts

    def spent(key: str) -> int:
        return int(after.get(key, 0)) - int(before.get(key, 0))

    return RecordingsReport(
        inputs=counts["inputs"],
        created=counts["created"],
        already_present=counts["already_present"],
        rejected=counts["rejected"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        segments_sent=counts["segments_sent"],
        requests=spent("requests"),
        creates=counts["creates"],
        retries=spent("retries"),
        rate_limited=spent("rate_limited"),
        seconds=time.monotonic() - started,
        files=tuple(p.name for p in files),
        ignored=tuple(p.name for p in ignored),
        results_path=results_path,
        ledger_path=ledger_path,
        errors=tuple(run.errors),
        dry_run=config.dry_run,
    )


def load_recordings_sync(
    source: str | Path,
    config: RecordingsConfig | None = None,
    *,
    client_config: ClientConfig | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RecordingsReport:
    """:func:`load_recordings` for code that is not async: opens its own client (none in a dry run)."""
    config = config or RecordingsConfig()

    async def main() -> RecordingsReport:
        if config.dry_run:
            return await load_recordings(source, None, config, progress=progress)
        from ...client import AttioClient

        async with AttioClient(client_config or ClientConfig.from_env()) as client:
            return await load_recordings(source, client, config, progress=progress)

    return anyio.run(main)
