"""connector.paths: one answer to "is this the same file?" for every spelling of a path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.paths import is_within, refuse_same, same_path


def _case_insensitive(folder: Path) -> bool:
    probe = folder / "Probe"
    probe.write_text("")
    try:
        return (folder / "pROBE").exists()
    finally:
        probe.unlink()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("out.parquet", "out.parquet", True, id="identical"),
        pytest.param("out.parquet", "./out.parquet", True, id="dot-slash"),
        pytest.param("out.parquet", "sub/../out.parquet", True, id="dot-dot"),
        pytest.param("sub//x.csv", "sub/x.csv", True, id="double-slash"),
        pytest.param("out.parquet", "out.parquet.checkpoint.json", False, id="other-name"),
        pytest.param("sub/x", "x", False, id="other-folder"),
        # A leading ~ is part of the name (the shell expands it, the tool opens paths as given);
        # expanding '~x.csv' looked up a user 'x.csv' and ended in exit 70.
        pytest.param("~x.csv", "./~x.csv", True, id="tilde-name"),
        pytest.param("~", "~.lock", False, id="tilde-alone"),
    ],
)
@pytest.mark.parametrize("exists", [False, True], ids=["missing", "existing"])
def test_spellings_of_one_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, a: str, b: str, same: bool, exists: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    if exists:
        for name in (a, b):
            Path(name).write_text("x")
    assert same_path(a, b) is same
    assert same_path(tmp_path / a, b) is same


@pytest.mark.parametrize("target_exists", [True, False], ids=["target", "dangling"])
def test_a_symlink_is_its_target(tmp_path: Path, target_exists: bool) -> None:
    target = tmp_path / "real.parquet"
    if target_exists:
        target.write_text("x")
    (tmp_path / "link.parquet").symlink_to(target)
    assert same_path(tmp_path / "link.parquet", target)
    (tmp_path / "dir-link").symlink_to(tmp_path, target_is_directory=True)
    assert same_path(tmp_path / "dir-link" / "real.parquet", target)


def test_a_hard_link_is_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "b")
    assert same_path(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "existing"])
def test_case_follows_the_file_system(tmp_path: Path, exists: bool) -> None:
    if exists:
        (tmp_path / "Out.parquet").write_text("x")
    assert same_path(tmp_path / "Out.parquet", tmp_path / "out.PARQUET") is _case_insensitive(tmp_path)


@pytest.mark.parametrize(
    ("path", "folder", "inside"),
    [
        pytest.param("d", "d", True, id="itself"),
        pytest.param("d/x.json", "d", True, id="child"),
        pytest.param("d/e/f/x.json", "./d", True, id="grandchild"),
        pytest.param("d2/x.json", "d", False, id="prefix-is-not-parent"),
        pytest.param("x.json", "d", False, id="sibling"),
        pytest.param("d", "d/x", False, id="parent-of-folder"),
    ],
)
def test_is_within(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, folder: str, inside: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    assert is_within(path, folder) is inside


def test_refuse_same_names_both_roles(tmp_path: Path) -> None:
    refuse_same("--checkpoint", tmp_path / "a", "the output", tmp_path / "b")
    with pytest.raises(ConfigError, match=r"--checkpoint .*a is the same file as the output") as info:
        refuse_same("--checkpoint", tmp_path / "a", "the output", tmp_path / "." / "a")
    assert "different paths" in (info.value.hint or "")
