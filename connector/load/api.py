"""The entry points of a load: :func:`load` (async) and :func:`load_file` (sync)."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from ..config import ClientConfig
from .config import LoadConfig, LoadReport
from .ledger import Ledger
from .mapping import Mapping, load_mapping, mapping_from_dict
from .results import RowResult, open_results
from .rows import Prepared, RowMapper
from .runner import LoadRun, conflict_result
from .sources import Source, open_source

__all__ = ["default_paths", "load", "load_file"]


def _mapping(value: Mapping | dict[str, Any] | Path | str | None) -> Mapping:
    if value is None:
        return Mapping()
    if isinstance(value, dict):
        return mapping_from_dict(value)
    return value if isinstance(value, Mapping) else load_mapping(value)


def default_paths(source: Any, config: LoadConfig) -> tuple[Path | None, Path | None]:
    """Results and ledger paths: as configured, else ``<input stem>.results.csv`` and ``<input stem>.ledger.sqlite``
    beside a file input. An in-memory input (DataFrame, Arrow) gets neither by default."""
    results = Path(config.results_path) if config.results_path else None
    ledger = Path(config.ledger_path) if config.ledger_path else None
    if isinstance(source, str | Path):
        stem = Path(source).with_suffix("")
        if results is None and not config.dry_run:
            results = stem.with_name(stem.name + ".results.csv")
        ledger = ledger or stem.with_name(stem.name + ".ledger.sqlite")
    return results, ledger


async def load(
    source: str | Path | Any,
    client: Any = None,
    config: LoadConfig | None = None,
    *,
    progress: Callable[[int], Any] | None = None,
) -> LoadReport:
    """Load meetings from a file (CSV, Parquet, .xlsx), a pandas DataFrame or an Arrow table.

    Each valid row becomes one find-or-create call on ``client`` (an open
    :class:`~connector.client.AttioClient`; None opens one from the environment). ``progress`` is called
    with 1 per finished row. Returns a :class:`LoadReport`; bad rows never raise, a bad mapping or
    unreadable input raises :class:`~connector.errors.ConfigError` before anything is sent.
    """
    config = config or LoadConfig()
    mapping = _mapping(config.mapping)
    results_path, ledger_path = default_paths(source, config)
    started = time.monotonic()
    with open_source(source, **mapping.source_options()) as src:
        mapper = RowMapper(mapping, src.headers, src.name)
        if config.dry_run:
            report = await anyio.to_thread.run_sync(_dry_run, src, mapper, config, results_path, started)
            return dataclasses.replace(report, source=src.name)
        async with AsyncExitStack() as stack:
            if client is None:
                from ..client import AttioClient

                client = await stack.enter_async_context(AttioClient(ClientConfig.from_env()))
            before = client.stats.snapshot()
            kept_ledger = ledger_path
            if ledger_path is None:  # an in-memory input without a ledger path: exactly once within this run only
                ledger_path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="connector-load-"))) / "ledger.sqlite"
            ledger = Ledger(ledger_path, durable=config.durable)
            stack.callback(ledger.close)
            results = open_results(results_path)
            stack.callback(results.close)
            run = LoadRun(
                source=src, mapper=mapper, config=config, client=client, ledger=ledger, results=results, progress=progress
            )
            try:
                await run.run()
            finally:
                after = client.stats.snapshot()
                stats = {k: after.get(k, 0) - before.get(k, 0) for k in ("requests", "retries", "rate_limited", "writes")}
                report = dataclasses.replace(
                    run.report(
                        seconds=time.monotonic() - started,
                        stats=stats,
                        results_path=results_path,
                        ledger_path=kept_ledger,
                    ),
                    source=src.name,
                )
                ledger.finish_run(run.run_id, report.to_dict())
            return report
    raise AssertionError("unreachable")  # pragma: no cover - the with block always returns or raises


def _dry_run(src: Source, mapper: RowMapper, config: LoadConfig, results_path: Path | None, started: float) -> LoadReport:
    """Map and validate every row, find repeated refs (in a scratch ledger, so memory stays flat), send nothing.

    A row repeating an earlier row's external_ref is skipped when it is the same meeting, rejected when not.
    """
    counts = {"rows": 0, "rejected": 0, "skipped": 0}
    errors: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    results = open_results(results_path)
    with tempfile.TemporaryDirectory(prefix="connector-dry-run-") as tmp:
        scratch = Ledger(Path(tmp) / "seen.sqlite", keep_bodies=False)
        try:
            for batch in src.batches(config.batch_size):
                valid: list[Prepared] = []
                for item in mapper.map_batch(batch):
                    counts["rows"] += 1
                    if isinstance(item, Prepared):
                        valid.append(item)
                        continue
                    counts["rejected"] += 1
                    result = RowResult(
                        item.row_number, item.key, "rejected", error=f"invalid_row: {item.error.reason}", column=item.error.column
                    )
                    results.write(result)
                    if len(errors) < config.error_sample:
                        errors.append(result.to_dict())
                for claim in scratch.claim(valid, "dry-run"):
                    item = claim.item
                    if claim.action == "conflict":
                        counts["rejected"] += 1
                        result = conflict_result(claim, mapper)
                        results.write(result)
                        if len(errors) < config.error_sample:
                            errors.append(result.to_dict())
                        continue
                    if claim.action == "duplicate":
                        counts["skipped"] += 1
                        note = f"duplicate: external_ref repeats row {claim.first_row}; would be sent once"
                    else:
                        note = "dry run: valid, not sent"
                        if len(bodies) < config.sample_bodies:
                            bodies.append({"data": item.body})
                    results.write(RowResult(item.row_number, item.key, "skipped", error=note))
                results.flush()
        finally:
            scratch.close()
            results.close()
    return LoadReport(
        **counts,
        seconds=time.monotonic() - started,
        results_path=results_path,
        errors=tuple(errors),
        sample_bodies=tuple(bodies),
        dry_run=True,
        contract=config.contract,
    )


def load_file(
    source: str | Path | Any,
    config: LoadConfig | None = None,
    *,
    client_config: ClientConfig | None = None,
    progress: Callable[[int], Any] | None = None,
) -> LoadReport:
    """:func:`load` for code that is not async: opens its own client from ``client_config`` (else the environment)."""
    config = config or LoadConfig()

    async def main() -> LoadReport:
        if config.dry_run:
            return await load(source, None, config, progress=progress)
        from ..client import AttioClient

        async with AttioClient(client_config or ClientConfig.from_env()) as client:
            return await load(source, client, config, progress=progress)

    return anyio.run(main)
