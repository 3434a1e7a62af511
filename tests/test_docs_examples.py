"""The examples of README.md and docs/ run: each block marked ``<!-- test: run -->`` against a real emulator.

The convention (docs/development.md): an HTML comment on the line just before a fenced block marks it,

    <!-- test: run -->                              every command exits 0
    <!-- test: run exit=1 -->                       every command exits 1
    <!-- test: run exit=0,0,1 -->                   the commands' codes, in order
    <!-- test: run files=map.toml:sample_configs/meetings_mapping.toml -->   copy a sample to a name first

Unmarked blocks are illustrations (real Attio, a cloud store, a long-running server, an orchestrator).
The marked blocks of one page run in order in one folder (a copy of sample_configs/ in tmp_path), with
``ATTIO_API_KEY`` and ``ATTIO_BASE_URL`` pointing at a small emulator started for the page, so a command
without ``--emulator`` talks to it rather than to Attio. Shell blocks (``bash``, ``console``: the lines after
``$``) are read line by line: ``python -m connector ...`` runs the real CLI's ``main`` in this process (fast,
as test_cli does), ``python -c CODE`` runs CODE in this process, any other ``python ...`` a subprocess, ``export VAR=value`` sets the
environment, and a value of ``...`` (a placeholder for a secret) keeps the emulator's. Python blocks are
executed as a script.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^\s*<!-- test: run(?P<options>[^>]*)-->\s*$")
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
SHELL = {"bash", "sh", "console", ""}
PLACEHOLDER = "..."
# Variables a user's environment may set that would send a command elsewhere than the page's emulator.
FOREIGN_ENV = ("CONNECTOR_RATE_LIMIT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    code: str
    exits: list[int] = field(default_factory=lambda: [0])
    files: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def expected_exit(self, index: int) -> int:
        return self.exits[index] if len(self.exits) > 1 else self.exits[0]


def _options(text: str, where: str) -> tuple[list[int], dict[str, str]]:
    exits, files = [0], {}
    for word in text.split():
        key, _, value = word.partition("=")
        if key == "exit":
            exits = [int(code) for code in value.split(",")]
        elif key == "files":
            files = dict(pair.split(":", 1) for pair in value.split(","))
        else:
            raise ValueError(f"{where}: unknown option {word!r} in a '<!-- test: run -->' marker")
    return exits, files


def marked_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file that a ``<!-- test: run -->`` line introduces."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for number, line in enumerate(lines):
        marker = MARKER.match(line)
        if not marker:
            continue
        where = f"{path.relative_to(ROOT)}:{number + 1}"
        opening = FENCE_OPEN.match(lines[number + 1]) if number + 1 < len(lines) else None
        assert opening, f"{where}: a '<!-- test: run -->' marker must be followed at once by a fenced block"
        indent, body = len(opening.group("indent")), []
        for inner in lines[number + 2 :]:
            if inner.strip() == "```":
                break
            body.append(inner[indent:])
        exits, files = _options(marker.group("options"), where)
        blocks.append(Block(path, number + 2, opening.group("lang"), "\n".join(body) + "\n", exits, files))
    return blocks


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


PAGES = [path for path in documents() if marked_blocks(path)]


def shell_commands(block: Block) -> list[str]:
    """The block's commands: continuation lines joined; for ``console``, only the lines after ``$``."""
    lines = block.code.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands, current = [], ""
    for line in lines:
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if shlex.split(current, comments=True):
            commands.append(current)
        current = ""
    return commands


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in FOREIGN_ENV:
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield


class Page:
    """Runs a page's marked blocks in order, in one folder, against one emulator."""

    def __init__(self, folder: Path, emulator: Any) -> None:
        self.folder = folder
        self.env = {
            "ATTIO_API_KEY": emulator.token,
            "ATTIO_BASE_URL": emulator.url,
            "CONNECTOR_SCRATCH": str(folder / ".scratch"),
        }

    def run(self, block: Block) -> None:
        for target, source in block.files.items():
            shutil.copyfile(self.folder / source, self.folder / target)
        if block.lang == "python":
            self.run_python(block)
        elif block.lang in SHELL:
            for index, command in enumerate(shell_commands(block)):
                code = self.run_shell(command, block)
                expected = block.expected_exit(index)
                assert code == expected, f"{block.where}: `{command}` exited {code}, expected {expected}"
        else:
            raise AssertionError(f"{block.where}: a block of {block.lang!r} cannot run")

    def run_python(self, block: Block) -> None:
        code = compile(block.code, block.where, "exec")
        with environment(self.env):
            exec(code, {"__name__": "__main__"})

    def run_shell(self, command: str, block: Block) -> int:
        words = shlex.split(command, comments=True)
        if words[0] == "export":
            self.env.update(self._assignments(words[1:], block))
            return 0
        assigned = 0
        while assigned < len(words) and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[assigned]):
            assigned += 1
        env = self.env | self._assignments(words[:assigned], block)
        words = words[assigned:]
        if not words or not re.fullmatch(r"(\.venv/bin/)?python3?", words[0]):
            raise AssertionError(f"{block.where}: `{command}` is not a python command; unmark the block")
        if words[1:3] == ["-m", "connector"]:
            with environment(env):
                try:
                    return main(words[3:])
                except SystemExit as exc:  # argparse's own errors and --help
                    return exc.code if isinstance(exc.code, int) else 1
        if words[1] == "-c" and len(words) == 3:  # what a new interpreter would run, without its start-up
            with environment(env):
                exec(compile(words[2], f"{block.where} (python -c)", "exec"), {"__name__": "__main__"})
            return 0
        done = subprocess.run(
            [sys.executable, *words[1:]], cwd=self.folder, env=os.environ | env, timeout=120, check=False
        )
        return done.returncode

    @staticmethod
    def _assignments(words: list[str], block: Block) -> dict[str, str]:
        values = {}
        for word in words:
            name, _, value = word.partition("=")
            assert name and _, f"{block.where}: cannot read the assignment {word!r}"
            if value != PLACEHOLDER:
                values[name] = value
        return values


def test_the_marker_convention_is_found() -> None:
    """The README's tour and the getting-started page keep runnable examples."""
    names = {str(path.relative_to(ROOT)) for path in PAGES}
    assert {"README.md", "docs/getting-started.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(
    page: Path, make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "sample_configs", tmp_path / "sample_configs")
    monkeypatch.chdir(tmp_path)
    runner = Page(tmp_path, make_emulator(meetings=40))
    for block in marked_blocks(page):
        runner.run(block)
