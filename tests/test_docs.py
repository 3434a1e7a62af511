"""The documentation agrees with the code: generated pages are current, links resolve, the nav lists every page."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# Inline links and images, not inside code: [text](target) with a target that has no scheme.
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.M)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_gen", DOCS / "gen.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced blocks and code spans, where a bracket is not a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The ids MkDocs gives the headings of a page (Python-Markdown's toc slugify)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slugify(re.sub(r"[`*]", "", m.group(2)), "-") for m in HEADING.finditer(text)}


@pytest.mark.parametrize("page", ["cli.md", "schemas.md"])
def test_generated_pages_match_the_code(page: str) -> None:
    gen = load_generator()
    path = DOCS / "reference" / page
    expected = gen.pages()[path]
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run {gen.REGENERATE}"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} differs from the code: run `{gen.REGENERATE}` and commit the result"
    )


def test_generated_cli_page_has_every_command_and_flag() -> None:
    import argparse

    from connector.cli import COMMANDS, build_parser

    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        assert f"\n## {name}\n" in text, name
        for action in subparsers.choices[name]._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            for flag in action.option_strings:
                assert f"`{flag}`" in text, (name, flag)


def test_generated_schema_page_has_every_column() -> None:
    import json

    text = (DOCS / "reference" / "schemas.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "schemas").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        assert f"file `schemas/{path.name}`" in text
        for field in document["fields"]:
            assert f"| `{field['name']}` |" in text, (path.name, field["name"])


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def test_the_nav_lists_every_page_once() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(listed) == pages, {
        "not in the nav": sorted(set(pages) - set(listed)),
        "in the nav, no file": sorted(set(listed) - set(pages)),
        "listed twice": sorted({p for p in listed if listed.count(p) > 1}),
    }


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    first_block = FENCE.search(text)
    assert first_block is not None
    assert "pip install -e '.[dev]'" in first_block.group(0) and "python -m pytest -q" in first_block.group(0)
