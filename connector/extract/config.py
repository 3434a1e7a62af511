"""``ExtractConfig``: what an extract fetches and how (a frozen value, checked when made)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import defaults
from ..errors import InvalidArgumentError
from ..models import MeetingQuery
from .progress import ExtractProgress, ProgressFn

__all__ = ["WINDOW_MODES", "ExtractConfig", "query_filters"]

WINDOW_MODES = ("overlap", "start")


@dataclass(frozen=True)
class ExtractConfig:
    """What to extract and how.

    ``slices``: concurrent cursors over time windows; None chooses from the read budget and the measured
    round trip, 1 is one plain cursor. ``batch_size``: rows per RecordBatch (rounded up to whole pages,
    split among the slices, so memory stays near ``batch_size`` rows whatever the slice count).
    ``checkpoint``: where to record progress (file sinks default to ``<output>.checkpoint.json``);
    ``resume``: continue from it if it exists. ``progress(rows, pages)`` is called after every page with
    that page's counts; ``on_progress`` with an :class:`~connector.extract.progress.ExtractProgress` (rows,
    pages, the share of the time range covered) before the first page and after every page; to know the
    range, a run with ``on_progress`` and one slice asks for the first and last meeting, as sliced runs do.
    ``window``: "overlap" (Attio's semantics: every meeting overlapping [ends_from, starts_before)) or
    "start" (only meetings whose start, all-day: 00:00 in the query's timezone, is in that range, so
    consecutive partitions hold each meeting exactly once).
    ``include_future_meetings``: with call-recording tables, also list the recordings of meetings that
    start after the run began (by default they are skipped and counted: they cannot have one yet).
    """

    query: MeetingQuery = field(default_factory=MeetingQuery)
    slices: int | None = None
    batch_size: int = defaults.EXTRACT_BATCH_SIZE
    checkpoint: Path | None = None
    resume: bool = False
    progress: ProgressFn | None = field(default=None, compare=False, repr=False)
    window: str = "overlap"
    on_progress: Callable[[ExtractProgress], object] | None = field(default=None, compare=False, repr=False)
    include_future_meetings: bool = False

    def __post_init__(self) -> None:
        if self.window not in WINDOW_MODES:
            raise InvalidArgumentError(
                "window", f"must be one of {', '.join(WINDOW_MODES)}, got {self.window!r}"
            )
        if self.slices is not None and (isinstance(self.slices, bool) or self.slices < 1):
            raise InvalidArgumentError(
                "slices", f"must be at least 1 (or None for automatic), got {self.slices!r}"
            )
        if self.batch_size < 1:
            raise InvalidArgumentError("batch_size", "must be at least 1")
        if self.checkpoint is not None and not isinstance(self.checkpoint, Path):
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))


def query_filters(query: MeetingQuery, window: str = "overlap") -> dict[str, str]:
    """The filters that must match to resume (the page size may change)."""
    filters = {k: v for k, v in query.describe().items() if k != "limit"}
    if window != "overlap":
        filters["window"] = window
    return filters
