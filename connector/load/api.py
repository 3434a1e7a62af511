"""The entry points of a load: :func:`load` (async) and :func:`load_sync` (sync)."""

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
from ..errors import BrokenInputError, ConfigError, ConnectorError, LedgerError
from ..paths import is_within, same_path
from .config import LoadConfig, LoadReport
from .ledger import Ledger
from .mapping import Mapping, load_mapping, mapping_from_dict
from .plan import SyncPlan
from .results import (
    MEETING_RESULTS,
    ResultsLayout,
    RowResult,
    check_results_path,
    open_results,
    results_format,
)
from .rows import Prepared, RowMapper
from .runner import LoadRun, conflict_result
from .sources import Source, open_source

__all__ = ["check_paths", "default_paths", "load", "load_sync"]

# The files SQLite and the ledger's lock keep beside a ledger.
_LEDGER_SIDE_FILES = ((".lock", "lock file"), ("-wal", "WAL file"), ("-shm", "shared-memory file"), ("-journal", "journal"))


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
        if Path(source).is_dir():  # "." or "/" name no file to put the defaults beside
            raise ConfigError(f"input {source} is a directory, not a file; give the file to load")
        stem = Path(source).with_suffix("")
        if results is None and not config.dry_run:
            results = stem.with_name(stem.name + ".results.csv")
        ledger = ledger or stem.with_name(stem.name + ".ledger.sqlite")
    return results, ledger


def check_paths(
    source: Any, config: Any, results: Path | None, ledger: Path | None, layout: ResultsLayout = MEETING_RESULTS
) -> None:
    """Refuse, before anything is read, sent or written, a load that would write over its own input, mapping or
    ledger: the results file, the ledger and the ledger's side files (``.lock``, ``-wal``, ``-shm``,
    ``-journal``) must each be a file of their own, in a folder that exists, and an existing ledger a regular
    file. Also refuses a results name that is not ``.csv`` or ``.parquet`` and an existing file there that is
    not a results file (see :func:`.results.check_results_path`).
    ``config`` has ``mapping`` and ``dry_run`` (a :class:`LoadConfig`, or ``load-recordings``' config with its
    results ``layout``).
    """
    for what, flag, path in (("results file", "--results", results), ("ledger", "--ledger", ledger)):
        if path is not None and (not path.name or path.is_dir()):
            raise ConfigError(f"{what} {path} is a folder; give {flag} a file name; nothing was sent or written")
    beside = Path(source).parent if isinstance(source, str | Path) else None
    for what, flag, path in (("results file", "--results", results), ("ledger", "--ledger", ledger)):
        if path is None or (what == "ledger" and config.dry_run) or path.parent.is_dir():
            continue
        if beside is not None and same_path(path.parent, beside):
            continue  # the input's own folder: opening the input says what is wrong with it
        why = "is a file, not a folder" if path.parent.exists() else "does not exist"
        raise ConfigError(
            f"{what} {path} cannot be written: the folder {path.parent} {why}; fix {flag}; "
            "nothing was sent or written"
        )
    if ledger is not None and ledger.exists() and not ledger.is_file():
        # SQLite would put its journal and lock beside a device (/dev/null-journal) before failing on it.
        raise ConfigError(
            f"ledger {ledger} is not a regular file (a device or a pipe); give --ledger a file name; "
            "nothing was sent or written"
        )
    read: list[tuple[str, Path]] = []
    if isinstance(source, str | Path):
        read.append(("the input", Path(source)))
    if isinstance(config.mapping, str | Path):
        read.append(("the mapping", Path(config.mapping)))
    written: list[list[tuple[str, Path]]] = []  # groups of files one writer owns
    if results is not None:
        group = [("the results file", results)]
        if results_format(results) == "parquet":
            group.append(("the results file's temporary copy", results.with_name(results.name + ".part")))
        written.append(group)
    if ledger is not None and not config.dry_run:
        side = [(f"the ledger's {what}", ledger.with_name(ledger.name + suffix)) for suffix, what in _LEDGER_SIDE_FILES]
        written.append([("the ledger", ledger), *side])
    folder = Path(source) if isinstance(source, str | Path) and Path(source).is_dir() else None
    for i, group in enumerate(written):
        others = read + [named for later in written[i + 1 :] for named in later]
        for what, path in group:
            if folder is not None and what.startswith("the results file") and is_within(path, folder):
                raise ConfigError(
                    f"{what} {path} is inside the input folder {folder}: a later run would read it as an input "
                    "(or it would replace one); give --results a path outside the folder; nothing was sent or written"
                )
            for other, other_path in others:
                if same_path(path, other_path):
                    same = str(path) if str(path) == str(other_path) else f"{path} and {other_path}"
                    raise ConfigError(
                        f"{what} and {other} are the same file ({same}): writing {what} would destroy {other}; "
                        "give the results file and the ledger paths of their own (--results, --ledger); "
                        "nothing was sent or written"
                    )
    if results is not None:
        check_results_path(results, layout, overwrite=getattr(config, "overwrite_results", False))


async def load(
    source: str | Path | Any,
    client: Any = None,
    config: LoadConfig | None = None,
    *,
    progress: Callable[[int], Any] | None = None,
) -> LoadReport:
    """Load meetings from a file (CSV, Parquet, .xlsx), a pandas DataFrame or an Arrow table.

    Each valid row becomes one find-or-create call on ``client`` (an open
    :class:`~connector.client.AttioClient`; None opens one from the environment); with ``config.sync`` a row
    loaded before whose content changed is updated or replaced, and with ``delete_missing`` the meetings of
    rows that left the input are deleted (see :mod:`.sync`). ``progress`` is called
    with 1 per finished row. Returns a :class:`LoadReport`; bad rows never raise, a bad mapping, unreadable
    input or results/ledger paths that collide with the input raise :class:`~connector.errors.ConfigError`
    before anything is sent. An input that breaks part-way does not raise: the rows before the break are
    loaded and the report's ``input_error`` says where it broke.
    """
    config = config or LoadConfig()
    results_path, ledger_path = default_paths(source, config)
    check_paths(source, config, results_path, ledger_path)
    mapping = _mapping(config.mapping)
    started = time.monotonic()
    with open_source(source, **mapping.source_options()) as src:
        try:
            mapper = RowMapper(mapping, src.headers, src.name)
        except ConfigError as exc:
            if (row := _header_below(src, mapping)) is not None:
                read = ", ".join(h for h in src.headers if h)
                raise ConfigError(
                    f"{src.name}: row {row} looks like the header row ({read!r} was read as the header: the first "
                    f"row that is not blank is); delete the rows above row {row}"
                ) from None
            exc.hint = src.headers_hint or exc.hint
            raise
        if config.dry_run:
            report = await anyio.to_thread.run_sync(_dry_run, src, mapper, config, results_path, ledger_path, started)
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
            stopped = True
            try:
                await run.run()
                stopped = False
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
                try:
                    ledger.finish_run(run.run_id, report.to_dict())
                except LedgerError:
                    if not stopped:
                        raise
                    # else the error that stopped the load (a full disk, say) is the one to show, not this echo
            return report
    raise AssertionError("unreachable")  # pragma: no cover - the with block always returns or raises


def _header_below(src: Source, mapping: Mapping) -> int | None:
    """The number of a row among the next few that the mapping could read as the header (a title line above
    the table, say), or None."""
    try:
        batch = next(iter(src.batches(10)), None)
    except ConnectorError:
        return None
    for number, row in zip(batch.row_numbers, batch.rows, strict=True) if batch else ():
        cells = ["" if cell is None else str(cell).strip() for cell in row]
        # A CSV's delimiter is guessed from its first line: a title line has none, so ';' rows come whole.
        splits = [cells.copy()] + [cells[0].split(d) for d in ";\t|" if len(cells) == 1 and d in cells[0]]
        for headers in splits:
            try:
                RowMapper(mapping, [h.strip() for h in headers], src.name)
            except ConfigError:
                continue
            return number
    return None


def _dry_run(
    src: Source, mapper: RowMapper, config: LoadConfig, results_path: Path | None, ledger_path: Path | None, started: float
) -> LoadReport:
    """Map and validate every row, find repeated refs (in a scratch ledger, so memory stays flat), send nothing.

    A row repeating an earlier row's external_ref is skipped when it is the same meeting, rejected when not.
    With ``sync`` each valid row is planned against the ledger (read-only, :class:`.plan.SyncPlan`).
    """
    counts = {"rows": 0, "rejected": 0, "skipped": 0}
    errors: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    input_error: str | None = None
    results = open_results(results_path)
    plan = SyncPlan(ledger_path)  # read-only: the sync plan, and the ref rule a real run would check
    rule_checked = False
    over = False
    steps: dict[str, int] = {}
    sample: dict[str, list[str]] = {}

    def planned(step: str, key: str) -> None:
        steps[step] = steps.get(step, 0) + 1
        if len(refs := sample.setdefault(step, [])) < 5:
            refs.append(key)

    with tempfile.TemporaryDirectory(prefix="connector-dry-run-") as tmp:
        scratch = Ledger(Path(tmp) / "seen.sqlite", fingerprints=False)
        batches = iter(src.batches(config.batch_size))
        try:
            while True:
                try:
                    batch = next(batches, None)
                except BrokenInputError as exc:
                    input_error = str(exc)  # the rows before the break were checked: report them
                    break
                if batch is None:
                    break
                valid: list[Prepared] = []
                mapped = mapper.map_batch(batch)
                if not rule_checked and (keys := [item.key for item in mapped if item.key is not None]):
                    plan.check_ref_rule(mapper.ref_rule, keys[:1000])
                    rule_checked = True
                for item in mapped:
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
                    elif config.sync:
                        step, meeting_id, what = plan.classify(item)
                        planned(step, item.key)
                        verb = "unchanged, nothing to send" if step == "unchanged" else f"would {step}"
                        note = f"dry run: {verb}" + (f" ({what})" if what else "")
                        results.write(RowResult(item.row_number, item.key, "skipped", meeting_id, note))
                        continue
                    else:
                        note = "dry run: valid, not sent"
                        if len(bodies) < config.sample_bodies:
                            bodies.append({"data": item.body})
                    results.write(RowResult(item.row_number, item.key, "skipped", error=note))
                results.flush()
            if config.delete_missing and input_error is None:
                gone, total = plan.missing(Path(tmp) / "seen.sqlite")
                over = len(gone) > config.max_delete * total
                note = "dry run: would delete" if not over else (
                    f"dry run: {len(gone)} of {total} is over --max-delete {config.max_delete:.0%}: a real run deletes none"
                )
                for key, meeting_id in gone:
                    planned("delete", key)
                    results.write(RowResult(None, key, "skipped", error=note, old_meeting_id=meeting_id))
        finally:
            plan.close()
            scratch.close()
            results.close()
    return LoadReport(
        rows=counts["rows"],
        rejected=counts["rejected"],
        skipped=counts["skipped"],
        seconds=time.monotonic() - started,
        results_path=results_path,
        errors=tuple(errors),
        sample_bodies=tuple(bodies),
        dry_run=True,
        input_error=input_error,
        contract=config.contract,
        sync=config.sync,
        plan=steps,
        plan_sample={step: tuple(refs) for step, refs in sample.items()},
        delete_guard=over,
    )


def load_sync(
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
