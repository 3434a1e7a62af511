"""Attio's error envelope, for the emulator's answers that the OpenAPI documents do not declare."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

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
