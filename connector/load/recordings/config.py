"""The values of ``load-recordings``: :class:`RecordingsConfig` in, :class:`RecordingsReport` out, a
:class:`RecordingResult` per input in the results file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ... import defaults
from ...errors import InvalidArgumentError, shown
from ..results import ResultsLayout
from .mapping import RecordingsMapping

__all__ = ["RECORDING_RESULTS", "RecordingResult", "RecordingsConfig", "RecordingsReport"]

Outcome = Literal["created", "already_present", "rejected", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class RecordingResult:
    """What happened to one input: ``created`` (by this load), ``already_present`` (the meeting had a recording
    with this transcript, or an earlier run loaded it), ``rejected`` (bad input, unknown meeting, Attio refused
    it), ``failed`` (Attio unreachable or failing after every retry: a re-run tries again), ``skipped`` (dry run)."""

    input: str
    meeting_id: str | None
    call_recording_id: str | None
    outcome: Outcome
    reason: str | None = None
    segments: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


RECORDING_RESULTS = ResultsLayout(
    (
        ("input", "string"),
        ("meeting_id", "string"),
        ("call_recording_id", "string"),
        ("outcome", "string"),
        ("reason", "string"),
        ("segments", "int32"),
    )
)


@dataclass(frozen=True)
class RecordingsConfig:
    """How to load transcripts. ``mapping``: a :class:`RecordingsMapping`, a TOML path, or None (defaults).

    ``results_path``/``ledger_path`` None: ``<input>.recordings.results.csv`` and
    ``<input>.recordings.ledger.sqlite`` beside the input file or folder (no ledger in a dry run).
    ``concurrency``: inputs handled at once (their lookups overlap; creates still go one a second).
    ``max_sends``: creates of one input in one run after answers that were lost (each followed by a look).
    ``clock_skew``: seconds allowed between this machine's clock and Attio's when telling a recording this
    run created (after a lost answer) from one already there.
    """

    mapping: RecordingsMapping | Path | str | None = None
    results_path: Path | str | None = None
    ledger_path: Path | str | None = None
    concurrency: int = defaults.RECORDINGS_CONCURRENCY
    dry_run: bool = False
    max_sends: int = 3
    clock_skew: float = 10.0
    error_sample: int = 20
    overwrite_results: bool = False

    def __post_init__(self) -> None:
        for name in ("dry_run", "overwrite_results"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgumentError(name, f"must be True or False, got {shown(getattr(self, name))}")
        for name in ("concurrency", "max_sends", "error_sample"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "error_sample" else 1)
            ):
                raise InvalidArgumentError(name, f"must be a whole number of at least 1, got {shown(value)}")
        if (
            isinstance(self.clock_skew, bool)
            or not isinstance(self.clock_skew, int | float)
            or not self.clock_skew >= 0
        ):
            raise InvalidArgumentError(
                "clock_skew", f"must be a number of seconds, 0 or more, got {shown(self.clock_skew)}"
            )


@dataclass(frozen=True)
class RecordingsReport:
    """What a recordings load did. ``ok``: every input created, already present or (dry run) valid."""

    inputs: int = 0
    created: int = 0
    already_present: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0
    segments_sent: int = 0
    requests: int = 0
    creates: int = 0
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    files: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    results_path: Path | None = None
    ledger_path: Path | None = None
    errors: tuple[dict[str, Any], ...] = field(default=())
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when no input was rejected or failed."""
        return self.rejected == 0 and self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (paths as strings)."""
        data = asdict(self)
        for key in ("results_path", "ledger_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["files"], data["ignored"], data["errors"] = (
            list(self.files),
            list(self.ignored),
            list(self.errors),
        )
        data["ok"] = self.ok
        return data

    def format(self) -> str:
        """A short human summary: what was read, what happened, requests and speed, where the files are."""
        shown_files = ", ".join(self.files[:5]) + (
            f", ... ({len(self.files)} files)" if len(self.files) > 5 else ""
        )
        lines = [f"read: {shown_files or 'no transcript files'}"]
        if self.ignored:
            lines.append(
                f"ignored (not .vtt/.srt/.csv/.tsv/.parquet): {', '.join(self.ignored[:5])}"
                + (" ..." if len(self.ignored) > 5 else "")
            )
        if self.dry_run:
            lines.append(
                f"dry run (nothing sent): {self.inputs} recordings: {self.skipped} valid, {self.rejected} rejected"
            )
        else:
            lines.append(
                f"load-recordings: {self.inputs} recordings: {self.created} created, {self.already_present} already "
                f"present, {self.rejected} rejected, {self.failed} failed"
            )
            rate = self.creates / self.seconds if self.seconds > 0 else 0.0
            lines.append(
                f"{self.requests} requests ({self.creates} creates, {self.segments_sent} segments), {self.retries} "
                f"retries, {self.rate_limited} 429s, {self.seconds:.1f} s, {rate:.2f} creates/s"
            )
        if self.results_path:
            lines.append(f"results: {self.results_path}")
        if self.ledger_path and not self.dry_run:
            lines.append(f"ledger:  {self.ledger_path}")
        for err in self.errors[:10]:
            lines.append(f"  {err['outcome']}: {err['input']}: {err['reason']}")
        if self.rejected + self.failed > len(self.errors[:10]):
            lines.append(
                f"  ... see the results file for all {self.rejected + self.failed} rejected/failed inputs"
            )
        return "\n".join(lines)
