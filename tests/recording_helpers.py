"""Brute force for the call-recording extract tests: what the emulator serves, over its HTTP API, as rows.

Independent of connector.extract: what the emulator serves comes from the plain urllib client of conftest.py
(``make_raw(emu).all_call_recordings()``: every meeting listed, its recordings listed, each one GET); the
expected rows are built here in plain Python.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from extract_helpers import to_ns


@pytest.fixture(name="emu")
def emu_fixture(make_emulator: Any) -> Any:
    """The call-recording extract tests' emulator: 60 meetings (seed 11) with their seeded recordings.

    Test modules import it by name (``from recording_helpers import emu_fixture``)."""
    return make_emulator(meetings=60, seed=11)


VIDEO_HOST = "media.attio-emulator.invalid"  # every video_url the emulator hands out is on this host


def recording_rows(recordings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The call_recordings rows the schema promises, by call_recording_id (created_at as epoch ns)."""
    rows = {}
    for rec in recordings:
        actor = rec.get("created_by_actor") or {}
        transcript = rec["transcript"]
        rows[rec["id"]["call_recording_id"]] = {
            "meeting_id": rec["id"]["meeting_id"],
            "call_recording_id": rec["id"]["call_recording_id"],
            "workspace_id": rec["id"]["workspace_id"],
            "status": rec["status"],
            "web_url": rec["web_url"],
            "created_at": to_ns(rec["created_at"]),
            "created_by_actor_type": actor.get("type"),
            "created_by_actor_id": actor.get("id"),
            "raw_transcript": transcript["raw_transcript"] if transcript is not None else None,
        }
    return rows


def segment_rows(recordings: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """The transcript_segments rows as a multiset of tuples in the table's column order."""
    rows: Counter[tuple[Any, ...]] = Counter()
    for rec in recordings:
        segments = (rec["transcript"] or {}).get("segments", [])
        for i, seg in enumerate(segments):
            rows[(rec["id"]["meeting_id"], rec["id"]["call_recording_id"], i, seg["speaker"]["name"],
                  float(seg["start_time"]), float(seg["end_time"]), seg["speech"])] += 1  # fmt: skip
    return rows


def table_recording_rows(table: pa.Table) -> dict[str, dict[str, Any]]:
    """A call_recordings table by call_recording_id (created_at as epoch ns); a recording twice fails."""
    out = {}
    for row in table.set_column(
        table.schema.get_field_index("created_at"), "created_at", table.column("created_at").cast(pa.int64())
    ).to_pylist():
        assert row["call_recording_id"] not in out, f"recording {row['call_recording_id']} twice"
        out[row["call_recording_id"]] = row
    return out


def table_segment_rows(table: pa.Table) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(row.values()) for row in table.to_pylist())


def assert_recordings_match(recordings: pa.Table, segments: pa.Table, served: list[dict[str, Any]]) -> None:
    """The two tables hold exactly what the emulator serves: every recording and segment once."""
    from connector.extract.streams import TABLES

    assert recordings.schema.remove_metadata() == TABLES["call_recordings"].arrow_schema().remove_metadata()
    assert segments.schema.remove_metadata() == TABLES["transcript_segments"].arrow_schema().remove_metadata()
    assert table_recording_rows(recordings) == recording_rows(served)
    got = table_segment_rows(segments)
    assert max(got.values(), default=1) == 1, "a segment twice"
    assert got == segment_rows(served)


def leaked(folder: Path, secrets: list[bytes]) -> list[str]:
    """Files under ``folder`` (and the text cells of its Parquet and Arrow files) holding any of ``secrets``."""
    import pyarrow.parquet as pq

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        texts = [data]
        if path.suffix == ".parquet":
            texts.append(repr(pq.read_table(path).to_pylist()).encode())
        elif path.suffix == ".arrow":
            with pa.OSFile(str(path), "rb") as source:
                texts.append(repr(ipc.open_file(source).read_all().to_pylist()).encode())
        if any(secret in text for secret in secrets for text in texts):
            found.append(str(path))
    return found
