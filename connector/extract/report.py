"""``ExtractReport``: what an extract did, returned to the caller (CLI, Airflow, Dagster)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ExtractReport"]


@dataclass(frozen=True)
class ExtractReport:
    """Counts and timings of one extract. ``rows`` counts every meeting fetched, resumed ones included.

    ``tables``: rows per table written (resumed ones included); ``outputs``: where each table went, when
    there are several. With call-recording tables, ``meetings_scanned`` counts the meetings whose
    recordings were looked for or skipped, ``skipped_future_meetings`` those skipped because they start
    after the run began (they cannot have a recording yet).
    """

    rows: int
    pages: int
    requests: int
    retries: int
    rate_limited: int
    seconds: float
    output: str | None
    slices: int
    windows: int
    filters: dict[str, str] = field(default_factory=dict)
    output_format: str | None = None
    resumed_rows: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    ignored_fields: tuple[str, ...] = ()
    schema_version: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str | None] = field(default_factory=dict)
    meetings_scanned: int = 0
    skipped_future_meetings: int = 0

    @property
    def rows_per_second(self) -> float:
        """Rows fetched in this run per second of this run."""
        fetched = self.rows - self.resumed_rows
        return fetched / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), ``rows_per_second`` included."""
        data = asdict(self)
        data["ignored_fields"] = list(self.ignored_fields)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        return data

    def format(self) -> str:
        """A short human summary, one fact per line."""
        lines = [
            f"rows        {self.rows:,}" + (f" ({self.resumed_rows:,} from the checkpoint)" if self.resumed_rows else ""),
            f"pages       {self.pages:,}",
            f"requests    {self.requests:,}  (retries {self.retries:,}, 429s {self.rate_limited:,})",
            f"seconds     {self.seconds:,.2f}",
            f"rows/s      {self.rows_per_second:,.0f}",
            f"slices      {self.slices} cursor{'' if self.slices == 1 else 's'} over {self.windows} time window"
            + ("" if self.windows == 1 else "s"),
        ]
        if set(self.tables) - {"meetings"}:
            lines.append("tables      " + ", ".join(f"{name} {rows:,}" for name, rows in self.tables.items()))
            lines.append(
                f"meetings    {self.meetings_scanned:,} scanned for recordings"
                + (f" ({self.skipped_future_meetings:,} skipped: they start after the run began)"
                   if self.skipped_future_meetings else "")
            )
        if self.ignored_fields:
            lines.append(f"ignored     fields the schema does not know: {', '.join(self.ignored_fields)}")
        lines.append(f"output      {self.output or '-'}" + (f" ({self.output_format})" if self.output_format else ""))
        lines += [f"            {name}: {place}" for name, place in self.outputs.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
