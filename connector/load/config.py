"""The values of a load: :class:`LoadConfig` in, :class:`LoadReport` out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import defaults
from ..errors import InvalidArgumentError, shown
from .mapping import Mapping

__all__ = ["LoadConfig", "LoadReport"]

Contract = Literal["find-or-create", "create-only"]


@dataclass(frozen=True)
class LoadConfig:
    """How to load a file. Paths left as None get defaults beside a file input (see :func:`load`).

    ``mapping``: a :class:`Mapping`, a TOML file, the TOML structure as a dict, or None for default columns.

    ``contract``: ``find-or-create`` (the API of Attio's OpenAPI document: Attio de-duplicates by
    external_ref) or ``create-only`` (Attio's API since 2026-07-31: every POST creates). The loader never
    relies on the server to de-duplicate, so both contracts look for a meeting before sending a row again
    whose earlier send may have been carried out; the contract only decides how *found* and *created* are
    told apart (on create-only the answer to a POST is always *created*). ``max_sends`` bounds the sends
    of one row in one run after dropped connections, timeouts and 5xx (each followed by such a lookup);
    ``clock_skew`` (seconds) is the allowance of the found/created rule.

    ``sync`` keeps Attio in step with the input (see :mod:`.sync`): a done row whose linked records changed
    is updated, one whose other content changed is replaced. ``delete_missing`` (needs ``sync``) also
    deletes the meetings this ledger created whose external_ref is not in the input, unless they are more
    than ``max_delete`` (a share, 0..1) of the meetings it created. With ``dry_run`` the plan is counted
    against the ledger and nothing is sent. ``overwrite_results``: replace an existing file at ``results_path``
    even when it is not a results file (by default only a results file, or an empty file, is replaced).
    """

    mapping: Mapping | dict[str, Any] | Path | str | None = None
    results_path: Path | str | None = None
    ledger_path: Path | str | None = None
    concurrency: int = defaults.LOAD_CONCURRENCY
    dry_run: bool = False
    max_errors: int | None = None
    batch_size: int = defaults.LOAD_BATCH_SIZE
    contract: Contract = "find-or-create"
    max_sends: int = 5
    clock_skew: float = 10.0
    error_sample: int = 20
    sample_bodies: int = 3
    durable: bool = False
    sync: bool = False
    delete_missing: bool = False
    max_delete: float = defaults.MAX_DELETE
    overwrite_results: bool = False

    def __post_init__(self) -> None:
        # Types first: a string "false" would be a true dry_run, "10" < 1 a TypeError far from its cause.
        for name in ("dry_run", "durable", "sync", "delete_missing", "overwrite_results"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise InvalidArgumentError(name, f"must be True or False, got {shown(value)}")
        for name in ("concurrency", "batch_size", "max_sends", "error_sample", "sample_bodies", "max_errors"):
            value = getattr(self, name)
            if (value is not None or name != "max_errors") and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidArgumentError(name, f"must be a whole number, got {shown(value)}")
        if isinstance(self.clock_skew, bool) or not isinstance(self.clock_skew, int | float) or not self.clock_skew >= 0:
            raise InvalidArgumentError("clock_skew", f"must be a number of seconds, 0 or more, got {shown(self.clock_skew)}")
        if not isinstance(self.mapping, Mapping | dict | Path | str | None):
            raise InvalidArgumentError("mapping", f"must be a Mapping, a dict, a path or None, got {shown(self.mapping)}")
        for name in ("results_path", "ledger_path"):
            if not isinstance(getattr(self, name), Path | str | None):
                raise InvalidArgumentError(name, f"must be a path or None, got {shown(getattr(self, name))}")
        if self.concurrency < 1:
            raise InvalidArgumentError("concurrency", "must be at least 1")
        if self.batch_size < 1:
            raise InvalidArgumentError("batch_size", "must be at least 1")
        if self.max_errors is not None and self.max_errors < 0:
            raise InvalidArgumentError("max_errors", "must be 0 or more")
        if self.contract not in ("find-or-create", "create-only"):
            raise InvalidArgumentError("contract", f"must be find-or-create or create-only, got {self.contract!r}")
        if self.max_sends < 1:
            raise InvalidArgumentError("max_sends", "must be at least 1")
        share = self.max_delete
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise InvalidArgumentError("max_delete", f"must be a share from 0 to 1 (0.2 = 20 %), got {shown(share)}")
        if self.delete_missing and not self.sync:
            raise InvalidArgumentError("delete_missing", "needs sync (--delete-missing only with --sync)")


@dataclass(frozen=True)
class LoadReport:
    """What a load did. ``ok`` is False when any row was rejected or failed, or the load was aborted.

    ``input_error``: the input broke part-way (bytes not in its encoding, a quote that never closes, a damaged
    row group); the message names the first row not read. The rows before it were loaded (or, in a dry run,
    checked) and are in the results; a re-run of the fixed file skips the done rows.
    ``unreachable``: the load stopped because Attio could not be reached: as many rows in a row as there are
    workers failed after every retry (network, timeouts, 5xx, 429), with no row succeeding in between.
    ``delete_guard``: ``--delete-missing`` deleted nothing because it would have deleted more than
    ``max_delete`` of the ledger's meetings (the message is in ``aborted``; in a dry run: would delete nothing). ``plan``: a sync dry run's
    counts per step (create, update, replace, delete, unchanged) and ``plan_sample`` the first refs of each.
    """

    rows: int = 0
    created: int = 0
    found: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0
    updated: int = 0
    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    writes: int = 0
    seconds: float = 0.0
    writes_per_second: float = 0.0
    results_path: Path | None = None
    ledger_path: Path | None = None
    errors: tuple[dict[str, Any], ...] = ()
    sample_bodies: tuple[dict[str, Any], ...] = field(default=())
    dry_run: bool = False
    aborted: str | None = None
    input_error: str | None = None
    unreachable: bool = False
    contract: str = "find-or-create"
    source: str | None = None
    sync: bool = False
    delete_guard: bool = False
    plan: dict[str, int] = field(default_factory=dict)
    plan_sample: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every row was created, found or skipped and the load ran to the end of the input."""
        return self.rejected == 0 and self.failed == 0 and self.aborted is None and self.input_error is None

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (paths as strings)."""
        data = asdict(self)
        for key in ("results_path", "ledger_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["errors"] = list(self.errors)
        data["sample_bodies"] = list(self.sample_bodies)
        data["ok"] = self.ok
        return data

    def format(self) -> str:
        """A short human summary: counts, then requests and speed, then where the files are."""
        head = "dry run (nothing sent)" if self.dry_run else "load"
        if self.dry_run:
            valid = self.rows - self.rejected - self.skipped
            lines = [f"{head}: {self.rows} rows: {valid} valid, {self.rejected} rejected, {self.skipped} duplicates"]
            if self.plan:
                lines.append("plan: " + ", ".join(f"{n} to {kind}" if kind != "unchanged" else f"{n} unchanged" for kind, n in self.plan.items()))
                for kind, refs in self.plan_sample.items():
                    if refs:
                        more = " ..." if self.plan.get(kind, 0) > len(refs) else ""
                        lines.append(f"  {kind}: {', '.join(refs)}{more}")
                if self.delete_guard:
                    lines.append("  more than --max-delete of the ledger's meetings left the input: a real run deletes none")
        elif self.sync:
            lines = [
                f"{head}: {self.rows} rows: {self.created} created, {self.updated} updated, {self.replaced} replaced, "
                f"{self.unchanged} unchanged, {self.found} found, {self.rejected} rejected, {self.failed} failed, "
                f"{self.skipped} skipped; {self.deleted} meeting{'' if self.deleted == 1 else 's'} deleted",
                f"{self.requests} requests ({self.writes} writes), {self.retries} retries, {self.rate_limited} 429s, "
                f"{self.seconds:.1f} s, {self.writes_per_second:.1f} writes/s ({self.contract})",
            ]
        else:
            lines = [
                f"{head}: {self.rows} rows: {self.created} created, {self.found} found, {self.rejected} rejected, "
                f"{self.failed} failed, {self.skipped} skipped",
                f"{self.requests} requests ({self.writes} writes), {self.retries} retries, {self.rate_limited} 429s, "
                f"{self.seconds:.1f} s, {self.writes_per_second:.1f} writes/s ({self.contract})",
            ]
        if self.results_path:
            lines.append(f"results: {self.results_path}")
        if self.ledger_path and not self.dry_run:
            lines.append(f"ledger:  {self.ledger_path}")
        for err in self.errors[:10]:
            if err["row_number"] is None:  # a meeting --delete-missing could not delete
                where = f"meeting {err['old_meeting_id']} of external_ref {err['external_ref']!r}"
            else:
                where = f"row {err['row_number']}" + (f", column {err['column']!r}" if err.get("column") else "")
            if self.source:
                where = f"{self.source} {where}"
            lines.append(f"  {err['outcome']}: {where}: {err['error']}")
        if len(self.errors) > 10 or self.rejected + self.failed > len(self.errors[:10]):
            lines.append(f"  ... see the results file for all {self.rejected + self.failed} rejected/failed rows")
        if self.aborted:
            lines.append(f"aborted: {self.aborted}")
        if self.input_error:
            done = "checked" if self.dry_run else "loaded"
            lines.append(f"input broke: {self.input_error}")
            lines.append(f"  the rows before it were {done} and are in the results; fix the file and run the same command again")
        return "\n".join(lines)
