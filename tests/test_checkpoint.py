"""The extract's checkpoint (connector/extract/checkpoint.py): saved and read back, refused when it does not
belong to the run, its part files kept or cleared, and files that are not its own never touched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from extract_helpers import Interrupt, client_config, stop_after

from connector import AttioClient, MeetingQuery
from connector.errors import ConfigError
from connector.extract import ExtractConfig, ParquetSink, extract
from connector.extract.checkpoint import (
    Checkpoint,
    WindowState,
    default_checkpoint_path,
    is_part_name,
    parts_dir_for,
    read_checkpoint,
)
from connector.extract.slices import Window

LZ4_FRAME, ZSTD_FRAME = b"\x04\x22\x4d\x18", b"\x28\xb5\x2f\xfd"  # the codecs' magic numbers
FILTERS = {"sort": "start_asc", "timezone": "UTC"}


def saved(path: Path, **changes: Any) -> Checkpoint:
    """A two-window checkpoint saved at ``path``, its first window part-way with one part file."""
    first = WindowState(Window(0, None, datetime(2025, 1, 1, tzinfo=UTC), None), cursor="c1", rows=10, pages=1,
                        parts=["w0000-00000.arrow"], position=1_700_000_000_000)  # fmt: skip
    last = WindowState(Window(1, datetime(2025, 1, 1, tzinfo=UTC), None, datetime(2025, 1, 1, tzinfo=UTC)))
    cp = Checkpoint(path, FILTERS, [first, last], 2, **changes)
    parts = parts_dir_for(path)
    parts.mkdir(parents=True, exist_ok=True)
    (parts / "w0000-00000.arrow").write_bytes(b"part")
    cp.save()
    return cp


def test_a_saved_checkpoint_reads_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet.checkpoint.json"
    span = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    cp = saved(path, span=span, staging=str(tmp_path / ".m.parquet.tmp"))
    back = Checkpoint.load(path, FILTERS)
    assert back.windows == cp.windows and back.rows == 10 and back.touched
    assert (back.slices, back.span, back.staging, back.started_at) == (2, span, cp.staging, cp.started_at)
    assert path == default_checkpoint_path(tmp_path / "m.parquet")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda d: d | {"format": 2}, "was written by another version", id="older-format"),
        pytest.param(lambda d: d | {"schema_version": "0"}, "was written by another version", id="other-schema"),
        pytest.param(lambda d: d | {"filters": FILTERS | {"sort": "start_desc"}},
                     r"is for other filters \(sort: 'start_desc' -> 'start_asc'\)", id="other-filters"),
        pytest.param(lambda d: d | {"windows": [w | {"parts": ["w0000-00001.arrow"]} for w in d["windows"]]},
                     r"lists part files that are gone \(w0000-00001\.arrow\)", id="part-gone"),
    ],
)  # fmt: skip
def test_a_checkpoint_that_is_not_this_runs_is_refused_by_name(
    tmp_path: Path, change: Any, message: str
) -> None:
    path = tmp_path / "m.checkpoint.json"
    saved(path)
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    with pytest.raises(ConfigError, match=message) as info:
        Checkpoint.load(path, FILTERS)
    assert str(path) in str(info.value)
    (path.with_name("gone.json")).unlink(missing_ok=True)
    with pytest.raises(ConfigError, match="is gone"):
        Checkpoint.load(path.with_name("gone.json"), FILTERS)


def test_parts_are_written_in_lz4_and_a_zstd_part_of_an_earlier_version_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "m.checkpoint.json"
    cp = saved(path)
    batch = pa.record_batch({"meeting_id": ["a", "b"], "n": [1, 2]})
    Checkpoint._write_many(path, None, [("w0000-00001.arrow", batch)])
    earlier = parts_dir_for(path) / "w0000-00000.arrow"  # as the version before wrote it: zstd
    with (
        pa.OSFile(str(earlier), "wb") as sink,
        ipc.new_file(sink, batch.schema, options=ipc.IpcWriteOptions(compression="zstd")) as writer,
    ):
        writer.write_batch(batch)
    raw = (parts_dir_for(path) / "w0000-00001.arrow").read_bytes()
    assert LZ4_FRAME in raw and ZSTD_FRAME not in raw  # each buffer is one compressed frame
    assert ZSTD_FRAME in earlier.read_bytes()
    back = list(cp.read_parts(["w0000-00000.arrow", "w0000-00001.arrow"]))
    assert [b.to_pylist() for b in back] == [batch.to_pylist(), batch.to_pylist()]


def test_loading_drops_parts_it_does_not_list_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "m.checkpoint.json"
    saved(path)
    parts = parts_dir_for(path)
    (parts / "w0000-00007.arrow").write_bytes(b"orphan")  # renamed into place, the checkpoint never updated
    (parts / "notes.txt").write_text("someone's")
    Checkpoint.load(path, FILTERS)
    assert sorted(p.name for p in parts.iterdir()) == ["notes.txt", "w0000-00000.arrow"]


def test_discard_and_remove_delete_only_the_checkpoints_own_files(tmp_path: Path) -> None:
    path = tmp_path / "m.checkpoint.json"
    staging = tmp_path / ".m.parquet.tmp"
    staging.write_bytes(b"half an output")
    saved(path, staging=str(staging))
    (parts_dir_for(path) / "keep.txt").write_text("someone's")
    Checkpoint.discard(path)
    assert not path.exists() and not staging.exists()
    assert [p.name for p in parts_dir_for(path).iterdir()] == ["keep.txt"]
    cp = saved(path)
    cp.remove()
    assert not path.exists() and [p.name for p in parts_dir_for(path).iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "started_at",
    [None, "2025-01-01T00:00:00+00:00", "unreadable"],
    ids=["young-one-by-one", "old-from-threads", "unknown-age-from-threads"],
)
def test_remove_deletes_every_part_and_nothing_else_whatever_the_run_s_age(
    tmp_path: Path, started_at: str | None
) -> None:
    path = tmp_path / "m.checkpoint.json"
    cp = saved(path, started_at=started_at)
    parts = parts_dir_for(path)
    for i in range(1, 40):
        (parts / f"w0000-{i:05d}.arrow").write_bytes(b"part")
    (parts / "keep.txt").write_text("someone's")
    cp.remove()
    assert not path.exists() and [p.name for p in parts.iterdir()] == ["keep.txt"]
    (parts / "keep.txt").unlink()
    saved(path, started_at=started_at).remove()
    assert not parts.exists()  # the folder goes with its last part


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('{"format": 3}', "is not an extract checkpoint", id="json-without-windows"),
        pytest.param("meeting notes", "is not an extract checkpoint", id="text"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_never_deleted(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "notes.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=f"{message}; nothing was changed"):
        read_checkpoint(path)
    with pytest.raises(ConfigError, match=message):
        Checkpoint.discard(path)
    assert path.read_text() == content
    assert read_checkpoint(tmp_path / "none.json") is None


def test_part_names_are_the_only_files_the_extract_deletes() -> None:
    assert all(
        map(is_part_name, ["w0003-00012.arrow", ".w0003-00012.arrow.tmp", "call_recordings-000004.arrow"])
    )
    assert not any(map(is_part_name, ["w3-1.arrow", "notes.arrow", "w0003-00012.parquet", "m.parquet"]))


# ------------------------------------------------------------------------------------- through an extract
async def interrupted(client: AttioClient, out: Path, pages: int) -> None:
    """An extract to ``out`` in pages of 10, stopped after ``pages`` pages: its checkpoint and parts are left."""
    with pytest.raises(Interrupt):
        config = ExtractConfig(
            query=MeetingQuery(limit=10), slices=1, batch_size=10, progress=stop_after(pages)
        )
        await extract(client, config, ParquetSink(out))


@pytest.mark.anyio
async def test_resume_with_other_filters_is_refused(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    async with AttioClient(client_config(emulator)) as client:
        await interrupted(client, out, pages=3)
        with pytest.raises(ConfigError, match=r"other filters.*sort"):
            await extract(
                client, ExtractConfig(query=MeetingQuery(sort="start_desc"), resume=True), ParquetSink(out)
            )
        # without --resume the stale checkpoint is replaced by a fresh run
        report = await extract(client, ExtractConfig(query=MeetingQuery(sort="start_desc")), ParquetSink(out))
    assert report.rows == 300 and report.resumed_rows == 0
    assert not default_checkpoint_path(out).exists()


@pytest.mark.anyio
async def test_orphan_part_from_a_crash_is_dropped(emulator: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    async with AttioClient(client_config(emulator)) as client:
        await interrupted(client, out, pages=5)
        parts = parts_dir_for(default_checkpoint_path(out))
        # a part renamed into place whose checkpoint update never happened (killed in between)
        victim = sorted(parts.iterdir())[-1]
        victim.rename(parts / "w0000-00099.arrow")
        checkpoint = json.loads(default_checkpoint_path(out).read_text())
        checkpoint["windows"][0]["parts"].remove(victim.name)
        checkpoint["windows"][0]["rows"] -= 10
        default_checkpoint_path(out).write_text(json.dumps(checkpoint))
        # ...and its cursor is still the one before that page: rewind it as the crash would have left it
        report = await extract(
            client, ExtractConfig(query=MeetingQuery(limit=10), slices=1, resume=True), ParquetSink(out)
        )
    ids = pq.read_table(out).column("meeting_id").to_pylist()
    assert len(ids) == len(set(ids)) == report.rows
