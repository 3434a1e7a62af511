"""``--partition-by workspace_id,start_month`` (and ``workspace_id`` alone) through the real CLI: Hive folders per
workspace and month, ``_SUCCESS`` last, runs of one workspace never touching another's, resume after SIGKILL,
and the safe reading of a run that fetched nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from extract_helpers import assert_table_matches, brute_force, checkpoint_has, kill_when
from test_extract_dataset import month_of

from connector.cli import main
from connector.emulator.config import Workspace
from connector.extract.checkpoint import default_checkpoint_path
from connector.models import MeetingQuery

ACME = Workspace("acme-token", meetings=150, seed=41, read_rate=0, write_rate=0)
GLOBEX = Workspace("globex-token", meetings=90, seed=42, read_rate=0, write_rate=0)
EMPTY = Workspace("empty-token", meetings=0, seed=43, read_rate=0, write_rate=0)


@pytest.fixture
def two(make_emulator: Any) -> Any:
    """An emulator serving ACME, GLOBEX and EMPTY (one token each), no rate limit."""
    return make_emulator(workspaces=(ACME, GLOBEX, EMPTY), read_rate=0)


def extract(emu: Any, token: str, monkeypatch: pytest.MonkeyPatch, output: Path | str, *flags: str) -> int:
    monkeypatch.setenv("ATTIO_API_KEY", token)
    args = [
        "extract",
        "--base-url",
        emu.url,
        "--read-rate",
        "0",
        "--quiet",
        "--slices",
        "3",
        "--output",
        str(output),
    ]
    return main([*args, *flags])


def meetings_of(emu: Any, workspace: Workspace) -> dict[str, dict[str, Any]]:
    return brute_force(emu.emulator.workspaces[workspace.token].store.all_meetings(), MeetingQuery())


def parts(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("part-0.parquet"))}


BY_BOTH = ["--partition-by", "workspace_id,start_month"]


def test_two_workspaces_land_in_their_own_hive_folders(
    two: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lake"
    for workspace in (ACME, GLOBEX):
        assert extract(two, workspace.token, monkeypatch, folder, *BY_BOTH) == 0
    for workspace in (ACME, GLOBEX):
        expected = meetings_of(two, workspace)
        home = folder / f"workspace_id={workspace.workspace_id}"
        files = sorted(home.glob("start_month=*/part-0.parquet"))
        assert files and len(files) == len({month_of(m) for m in expected.values()})
        for path in files:
            month = path.parent.name.removeprefix("start_month=")
            ids = pq.read_table(path).column("meeting_id").to_pylist()
            assert {month_of(expected[i]) for i in ids} == {month}
        assert_table_matches(pa.concat_tables(pq.read_table(p) for p in files), expected)
    assert (folder / "_SUCCESS").read_bytes() == b""
    # Any Hive reader sees both partition columns.
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table(columns=["workspace_id"])
    assert table.num_rows == ACME.meetings + GLOBEX.meetings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]  # no staging, checkpoint or lock left


def test_a_run_of_one_workspace_leaves_the_other_byte_for_byte(
    two: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lake"
    for workspace in (ACME, GLOBEX):
        assert extract(two, workspace.token, monkeypatch, folder, *BY_BOTH) == 0
    before = parts(folder)
    acme = meetings_of(two, ACME)
    month = sorted({month_of(m) for m in acme.values()})[1]
    following = f"{int(month[:4]) + int(month[5:]) // 12}-{int(month[5:]) % 12 + 1:02d}"
    window = ["--ends-from", f"{month}-01", "--starts-before", f"{following}-01", "--window", "start"]
    assert extract(two, ACME.token, monkeypatch, folder, *BY_BOTH, *window) == 0
    after = parts(folder)
    assert set(after) == set(before)
    changed = {name for name in after if after[name] != before[name]}
    assert changed <= {f"workspace_id={ACME.workspace_id}/start_month={month}/part-0.parquet"}
    assert_table_matches(
        pa.concat_tables(
            pq.read_table(folder / n) for n in after if n.startswith(f"workspace_id={ACME.workspace_id}")
        ),
        acme,
    )


def test_months_outermost_is_the_same_data_the_other_way_round(
    two: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lake"
    for workspace in (ACME, GLOBEX):
        assert (
            extract(two, workspace.token, monkeypatch, folder, "--partition-by", "start_month,workspace_id")
            == 0
        )
    names = list(parts(folder))
    assert names and all(n.startswith("start_month=") and "/workspace_id=" in n for n in names)
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == ACME.meetings + GLOBEX.meetings
    assert len(set(table.column("meeting_id").to_pylist())) == table.num_rows


def test_workspace_id_alone_merges_a_partial_run(
    two: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "lake"
    assert extract(two, ACME.token, monkeypatch, folder, "--partition-by", "workspace_id") == 0
    assert list(parts(folder)) == [f"workspace_id={ACME.workspace_id}/part-0.parquet"]
    # A run over part of the time: the workspace's file is merged, never shrunk.
    assert (
        extract(
            two,
            ACME.token,
            monkeypatch,
            folder,
            "--partition-by",
            "workspace_id",
            "--ends-from",
            "2025-06-01",
        )
        == 0
    )
    assert_table_matches(
        pq.read_table(folder / f"workspace_id={ACME.workspace_id}" / "part-0.parquet"), meetings_of(two, ACME)
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("start_month", "workspace_id,start_month", id="month-then-both"),
        pytest.param("workspace_id,start_month", "workspace_id", id="both-then-workspace"),
        pytest.param("workspace_id", "start_month,workspace_id", id="workspace-then-reversed"),
    ],
)
def test_a_folder_of_another_layout_is_refused_before_any_request(
    two: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: str,
    second: str,
) -> None:
    folder = tmp_path / "lake"
    assert extract(two, ACME.token, monkeypatch, folder, "--partition-by", first) == 0
    before = parts(folder)
    capsys.readouterr()
    requests = two.emulator.stats.requests
    assert extract(two, ACME.token, monkeypatch, folder, "--partition-by", second) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "partitioned another way" in err and f"--partition-by {second}" in err, err
    assert parts(folder) == before and two.emulator.stats.requests == requests


@pytest.mark.parametrize(
    "value",
    ["month", "workspace_id,workspace_id", "start_month,title", ""],
    ids=["unknown", "twice", "other-column", "empty"],
)
def test_a_bad_partitioning_is_a_usage_error_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["extract", "--output", str(tmp_path / "lake"), "--partition-by", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --partition-by" in err and "workspace_id,start_month" in err
    assert not (tmp_path / "lake").exists()


def test_a_run_that_fetches_nothing_removes_nothing_and_says_so(
    two: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A full-range run with another token (an empty workspace) would otherwise empty every month."""
    folder = tmp_path / "lake"
    assert extract(two, ACME.token, monkeypatch, folder, "--partition-by", "start_month") == 0
    before = parts(folder)
    capsys.readouterr()
    caplog.clear()
    assert extract(two, EMPTY.token, monkeypatch, folder, "--partition-by", "start_month", "--json") == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 0
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1 and "fetched no meeting" in warning[0], warning
    assert f"{len(before)} that its range covers were kept" in warning[0] and str(folder) in warning[0]
    assert parts(folder) == before and (folder / "_SUCCESS").read_bytes() == b""
    # With the workspace in the layout the empty workspace has no folder to touch at all.
    both = tmp_path / "both"
    assert extract(two, ACME.token, monkeypatch, both, *BY_BOTH) == 0
    kept = parts(both)
    assert extract(two, EMPTY.token, monkeypatch, both, *BY_BOTH) == 0
    assert parts(both) == kept


def test_a_month_found_empty_by_a_run_with_meetings_is_removed(
    two: Any, make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the rule: a run that fetched meetings vouches for the months its range covers, in its
    own workspace only."""
    folder = tmp_path / "lake"
    for workspace in (ACME, GLOBEX):
        assert extract(two, workspace.token, monkeypatch, folder, *BY_BOTH) == 0
    acme_before = {
        n: b for n, b in parts(folder).items() if n.startswith(f"workspace_id={ACME.workspace_id}/")
    }
    # The same workspace later, with fewer meetings: the months it no longer has go.
    later = make_emulator(
        meetings=10, workspaces=(Workspace(GLOBEX.token, meetings=12, seed=GLOBEX.seed, read_rate=0),)
    )
    assert extract(later, GLOBEX.token, monkeypatch, folder, *BY_BOTH) == 0
    now = meetings_of(later, GLOBEX)
    home = folder / f"workspace_id={GLOBEX.workspace_id}"
    gone = {month_of(m) for m in meetings_of(two, GLOBEX).values()} - {month_of(m) for m in now.values()}
    assert gone, "the smaller workspace has fewer months"
    assert {p.name.removeprefix("start_month=") for p in home.iterdir()} == {
        month_of(m) for m in now.values()
    }
    assert_table_matches(pa.concat_tables(pq.read_table(p) for p in home.glob("*/part-0.parquet")), now)
    assert {
        n: b for n, b in parts(folder).items() if n.startswith(f"workspace_id={ACME.workspace_id}/")
    } == acme_before


def test_sigkill_then_resume_publishes_every_partition_once(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(meetings=10, latency_ms=40, workspaces=(ACME,), read_rate=0)
    folder = tmp_path / "lake"
    args = ["extract", "--base-url", emu.url, "--output", str(folder), *BY_BOTH, "--page-size", "5", "--slices", "2",
            "--batch-size", "10", "--quiet"]  # fmt: skip
    env = {**os.environ, "ATTIO_API_KEY": ACME.token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    kill_when(proc, checkpoint_has(default_checkpoint_path(folder), 30))
    assert not parts(folder) and not (folder / "_SUCCESS").exists()
    resumed = subprocess.run([sys.executable, "-m", "connector", *args, "--resume", "--json"], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["resumed_rows"] >= 30
    assert_table_matches(
        pa.concat_tables(pq.read_table(folder / n) for n in parts(folder)), meetings_of(emu, ACME)
    )
    assert (folder / "_SUCCESS").read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


@pytest.mark.parametrize(
    ("output", "flags"),
    [
        pytest.param("m.parquet", [], id="parquet-by-suffix"),
        pytest.param("m.jsonl", [], id="jsonl-by-suffix"),
        pytest.param("m.csv", ["--format", "parquet"], id="parquet-by-format"),
        pytest.param("lake", ["--partition-by", "start_month"], id="dataset"),
    ],
)
def test_csv_formulas_with_another_format_is_an_error_naming_the_flag(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    output: str, flags: list[str],
) -> None:  # fmt: skip
    code = extract(emulator, emulator.token, monkeypatch, tmp_path / output, *flags, "--csv-formulas", "keep")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--csv-formulas is for CSV output only" in err, err
    assert list(tmp_path.iterdir()) == [] and emulator.emulator.stats.requests == 0


def test_csv_formulas_still_applies_to_csv(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "m.csv"
    assert extract(emulator, emulator.token, monkeypatch, out, "--csv-formulas", "keep") == 0
    assert pacsv.read_csv(out).num_rows == 300


def test_csv_formulas_with_a_database_is_an_error_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", "--output", f"duckdb:///{tmp_path}/w.duckdb", "--csv-formulas", "escape"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --csv-formulas is for CSV output") and "database" in err
