"""The API contract for the contract tests: the vendored OpenAPI documents and Attio's error envelope.

The contract tests read the copies in ``tests/fixtures`` (never ``../shared/attio`` directly), so they run
wherever the repository is checked out; ``tests/test_contract_fixtures.py`` keeps the copies equal to
``../shared/attio``'s when that folder is beside the repository. A missing copy fails with its path.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).parents[2] / "shared" / "attio"
SPECS = ("openapi-meetings.json", "openapi-call-recordings.json")


@functools.cache
def spec(name: str) -> dict[str, Any]:
    """The vendored OpenAPI document ``name`` (one of :data:`SPECS`); fails, naming the file, when it is missing."""
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(
            f"the vendored API contract {path} is missing: copy it from ../shared/attio/{name}", pytrace=False
        )
    return json.loads(path.read_text(encoding="utf-8"))


def validator(name: str, ref: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at ``ref`` (a ``#/...`` pointer) in spec ``name``, so that $refs resolve."""
    cls = jsonschema.Draft202012Validator
    return cls({**spec(name), "$ref": ref}, format_checker=cls.FORMAT_CHECKER)


ENVELOPE = {
    "type": "object",
    "required": ["status_code", "type", "code", "message"],
    "properties": {
        "status_code": {"type": "integer"},
        "type": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string", "minLength": 1},
    },
}


def check_envelope(resp: Any, status: int) -> dict[str, Any]:
    """The body of a JSON error answer with this status, valid against the envelope."""
    assert resp.status == status
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = json.loads(resp.body)
    jsonschema.validate(doc, ENVELOPE)
    assert doc["status_code"] == status
    return doc
