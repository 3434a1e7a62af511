"""``--partition-by start_month`` into a folder that already holds things: only the months a run covers change,
files that are not the extract's stay byte for byte, and each month is either as it was or complete."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, client_config, to_ns

from connector import AttioClient, ConfigError, MeetingQuery
from connector.cli import main
from connector.extract import ExtractConfig, ParquetSink, extract

USER = b"not the extract's\n"


def month_of(m: dict[str, Any]) -> str:
    """The start month the dataset files a meeting under: all-day by its date, others by the UTC start."""
    if m["is_all_day"]:
        return m["start"]["date"][:7]
    return pa.scalar(to_ns(m["start"]["datetime"]), pa.timestamp("ns", "UTC")).as_py().strftime("%Y-%m")


def months(folder: Path) -> dict[str, pa.Table]:
    """Each month's table, read from its part file alone."""
    return {
        p.parent.name.removeprefix("start_month="): pq.read_table(p)
        for p in sorted(folder.glob("start_month=*/part-0.parquet"))
    }


def part_bytes(folder: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in folder.glob("start_month=*/part-0.parquet")}


def assert_dataset_is(folder: Path, meetings: dict[str, dict[str, Any]]) -> None:
    """Every meeting exactly once, each in the folder of its start month."""
    tables = months(folder)
    assert_table_matches(pa.concat_tables(tables.values()), meetings)
    for month, table in tables.items():
        assert {month_of(meetings[mid]) for mid in table.column("meeting_id").to_pylist()} == {month}


def run(emu: Any, monkeypatch: pytest.MonkeyPatch, folder: Path, *flags: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", emu.token)
    args = ["extract", "--base-url", emu.url, "--read-rate", "0", "--quiet", "--output", str(folder)]
    return main([*args, "--partition-by", "start_month", "--slices", "3", *flags])


def post(raw: Any, title: str, start: str, end: str) -> None:
    body = {
        "title": title,
        "description": "",
        "is_all_day": False,
        "start": {"datetime": start, "timezone": "UTC"},
        "end": {"datetime": end, "timezone": "UTC"},
        "participants": [{"email_address": "edge@example.com", "is_organizer": True, "status": "accepted"}],
        "linked_records": [],
    }
    assert raw.post({"data": body}).status == 200


UNRELATED = [
    pytest.param({"README.md": USER}, id="top-level-file"),
    pytest.param({"notes/2025/a.txt": USER}, id="nested-folder"),
    pytest.param({"start_month=2025-03/notes.txt": USER}, id="file-in-a-month-folder"),
    pytest.param({".DS_Store": USER, "_SUCCESS": b""}, id="hidden-and-marker"),
    pytest.param({"start_month=1999-01/keep.txt": USER}, id="month-folder-without-data"),
    pytest.param({"start_month=2025-04/part-1.parquet": USER}, id="other-part-file-in-a-month"),
]


@pytest.mark.parametrize("unrelated", UNRELATED)
def test_files_beside_the_data_are_never_touched(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unrelated: dict[str, bytes]
) -> None:
    folder = tmp_path / "ds"
    for name, content in unrelated.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    everything = brute_force(emulator.emulator.store.all_meetings(), MeetingQuery())
    assert run(emulator, monkeypatch, folder) == 0  # into a folder that is not yet a dataset
    assert_dataset_is(folder, everything)
    assert run(emulator, monkeypatch, folder) == 0  # a full re-extract replaces every month
    assert (
        run(emulator, monkeypatch, folder, "--ends-from", "2025-03-10", "--starts-before", "2025-05-01") == 0
    )
    assert_dataset_is(folder, everything)
    for name, content in unrelated.items():
        assert (folder / name).read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging, checkpoint or lock left


@pytest.mark.parametrize(
    ("flags", "may_change"),
    [
        pytest.param(["--ends-from", "2025-03-01", "--starts-before", "2025-04-01"], ("2025-02", "2025-03"), id="one-month"),
        pytest.param(["--ends-from", "2025-03-01", "--starts-before", "2025-04-01", "--window", "start"], ("2025-03", "2025-03"),
                     id="one-month-start"),
        pytest.param(["--ends-from", "2025-03-15T12:00:00Z"], ("2025-03", "9999-12"), id="trailing-from-mid-month"),
        pytest.param(["--ends-from", "2025-02-20", "--starts-before", "2025-03-05"], ("2025-02", "2025-03"),
                     id="across-a-month-edge"),
        pytest.param(["--ends-from", "2025-03-01", "--starts-before", "2025-05-01", "--timezone", "Pacific/Kiritimati"],
                     ("2025-02", "2025-04"), id="far-east-zone"),
        pytest.param(["--participants", "edge@example.com"], ("2025-02", "2025-03"), id="participant-filter"),
    ],
)  # fmt: skip
def test_a_partial_extract_never_shrinks_the_months_around_it(
    emulator: Any,
    raw: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    may_change: tuple[str, str],
) -> None:
    post(raw, "crosses into March", "2025-02-28T23:30:00Z", "2025-03-01T00:30:00Z")  # filed under February
    post(raw, "ends in April", "2025-03-31T23:00:00Z", "2025-04-01T01:00:00Z")
    folder = tmp_path / "ds"
    everything = brute_force(emulator.emulator.store.all_meetings(), MeetingQuery())
    assert run(emulator, monkeypatch, folder) == 0
    before = part_bytes(folder)
    assert run(emulator, monkeypatch, folder, *flags) == 0
    assert_dataset_is(folder, everything)  # every meeting still there, once
    after = part_bytes(folder)
    assert set(after) == set(before)
    lo, hi = (f"start_month={m}" for m in may_change)
    assert all(after[name] == before[name] for name in before if not lo <= name <= hi)


def test_a_covered_month_is_replaced_and_one_left_empty_is_removed(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Months the run covers whole hold exactly what Attio has now (meetings deleted since are gone)."""
    old, new = make_emulator(meetings=300, seed=1), make_emulator(meetings=120, seed=2)
    folder = tmp_path / "ds"
    assert run(old, monkeypatch, folder) == 0
    before = part_bytes(folder)
    march = ["--ends-from", "2025-03-01", "--starts-before", "2025-04-01", "--window", "start"]
    assert run(new, monkeypatch, folder, *march) == 0
    new_march = {m["id"]["meeting_id"] for m in new.emulator.store.all_meetings() if month_of(m) == "2025-03"}
    tables = months(folder)
    assert sorted(tables["2025-03"].column("meeting_id").to_pylist()) == sorted(new_march)
    assert {k: v for k, v in part_bytes(folder).items() if k != "start_month=2025-03"} == {
        k: v for k, v in before.items() if k != "start_month=2025-03"
    }
    # a run over everything: the dataset is now exactly the new data set; months only the old one had are gone
    (folder / "start_month=2024-01" / "notes.txt").write_bytes(USER)
    assert run(new, monkeypatch, folder) == 0
    newer = brute_force(new.emulator.store.all_meetings(), MeetingQuery())
    assert_dataset_is(folder, newer)
    assert (folder / "start_month=2024-01" / "notes.txt").read_bytes() == USER
    assert not any(p.is_dir() and not any(p.iterdir()) for p in folder.iterdir())  # no empty month folders


def test_an_interrupted_publish_leaves_each_month_old_or_complete(
    make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = make_emulator(meetings=300, seed=1), make_emulator(meetings=300, seed=2)
    folder = tmp_path / "ds"
    assert run(old, monkeypatch, folder) == 0
    before = part_bytes(folder)
    blocked = sorted(before)[len(before) // 2]
    foreign = pq.read_table(folder / blocked / "part-0.parquet").replace_schema_metadata(None)

    def sneak_in(rows: int, pages: int) -> None:
        # Once the run has checked the folder, someone puts a file of their own in one month's place.
        pq.write_table(foreign, folder / blocked / "part-0.parquet")

    async def extract_new(resume: bool) -> Any:
        cfg = ExtractConfig(
            query=MeetingQuery(limit=50), slices=2, resume=resume, progress=None if resume else sneak_in
        )
        async with AttioClient(client_config(new)) as client:
            return await extract(client, cfg, ParquetSink(folder, partition_by="start_month"))

    with pytest.raises(ConfigError, match="was not written by this version"):
        anyio.run(extract_new, False)
    expected = brute_force(new.emulator.store.all_meetings(), MeetingQuery())
    by_month: dict[str, set[str]] = defaultdict(set)
    for mid, m in expected.items():
        by_month[f"start_month={month_of(m)}"].add(mid)
    after = part_bytes(folder)
    for name, content in after.items():
        if name == blocked:
            assert pq.read_schema(folder / name / "part-0.parquet").metadata is None  # theirs, untouched
        elif content != before.get(name):  # published: complete
            ids = pq.read_table(folder / name / "part-0.parquet").column("meeting_id").to_pylist()
            assert sorted(ids) == sorted(by_month[name]), name
    assert any(after[n] != before[n] for n in before if n < blocked)
    assert all(after[n] == before[n] for n in before if n > blocked)
    os.remove(
        folder / blocked / "part-0.parquet"
    )  # the user moves their file away; the run resumes and publishes
    report = anyio.run(extract_new, True)
    assert report.resumed_rows == report.rows == len(expected)
    tables = months(folder)
    for name, ids in by_month.items():
        assert sorted(tables[name.removeprefix("start_month=")].column("meeting_id").to_pylist()) == sorted(
            ids
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_an_existing_output_file_is_replaced_only_when_the_new_one_is_complete(
    emulator: Any, tmp_path: Path, fmt: str
) -> None:
    """With overwrite=True (a foreign file), the replacement is still atomic: the old bytes until the commit."""
    out = tmp_path / f"m.{fmt}"
    out.write_bytes(USER)
    seen: list[bytes] = []

    class Stop(Exception):
        pass

    def watch(rows: int, pages: int) -> None:
        seen.append(out.read_bytes())
        if len(seen) == 4:
            raise Stop

    async def go(progress: Any) -> Any:
        cfg = ExtractConfig(query=MeetingQuery(limit=20), slices=2, batch_size=20, progress=progress)
        async with AttioClient(client_config(emulator)) as client:
            from connector.extract import sink_for_path

            return await extract(client, cfg, sink_for_path(out, overwrite=True))

    with pytest.raises(Stop):
        anyio.run(go, watch)
    assert set(seen) == {USER} and out.read_bytes() == USER
    assert not (tmp_path / f"m.{fmt}.partial").exists()
    report = anyio.run(go, None)
    assert report.rows == 300 and out.read_bytes() != USER
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
