"""The meeting schema, loaded from ``schemas/meeting.json``: the one place a meeting row is defined.

    meeting_arrow_schema()   the Arrow schema of an extracted meeting row (with field descriptions)
    SCHEMA_VERSION           the schema file's version, written into every output file's metadata
    input_limits()           find-or-create input limits the loader validates against
    schema_fields()          the fields as plain dicts, for docs (``schema_markdown()`` renders the table)

The JSON file names each column, its Arrow type, whether it may be null, where it comes from in the
API's JSON (``source``) and a description. Types are a small vocabulary (``string``, ``bool``,
``date32``, ``timestamp[ms|us|ns, tz=UTC]``) plus ``{"list": {"struct": [fields]}}`` for nested lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from .errors import ConfigError

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "input_limits",
    "meeting_arrow_schema",
    "participant_statuses",
    "schema_document",
    "schema_fields",
    "schema_markdown",
]

# The file lives in schemas/ at the project root; connector/schemas is a link to it, which a built wheel
# turns into a copy inside the package. CONNECTOR_SCHEMA_PATH may point elsewhere.
SCHEMA_PATH = Path(os.environ.get("CONNECTOR_SCHEMA_PATH") or Path(__file__).resolve().parent / "schemas" / "meeting.json")

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bool": pa.bool_(),
    "date32": pa.date32(),
    "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
    "timestamp[ns, tz=UTC]": pa.timestamp("ns", tz="UTC"),
    "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"),
    "int64": pa.int64(),
}


@cache
def schema_document() -> dict[str, Any]:
    """The parsed schema file."""
    try:
        doc = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the meeting schema file {SCHEMA_PATH} is missing") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("fields"), list) or "version" not in doc:
        raise ConfigError(f"{SCHEMA_PATH} has no 'version' and 'fields'")
    return doc


def _arrow_type(spec: Any, where: str) -> pa.DataType:
    if isinstance(spec, str):
        try:
            return _SCALARS[spec]
        except KeyError:
            raise ConfigError(f"{SCHEMA_PATH}: unknown type {spec!r} at {where}") from None
    if isinstance(spec, Mapping) and set(spec) == {"list"}:
        return pa.list_(pa.field("item", _arrow_type(spec["list"], where), nullable=False))
    if isinstance(spec, Mapping) and set(spec) == {"struct"}:
        return pa.struct([_arrow_field(f, where) for f in spec["struct"]])
    raise ConfigError(f"{SCHEMA_PATH}: cannot read type {spec!r} at {where}")


def _arrow_field(spec: Mapping[str, Any], where: str) -> pa.Field:
    name = spec["name"]
    meta = {"description": spec.get("description", ""), "source": spec.get("source", name)}
    return pa.field(name, _arrow_type(spec["type"], f"{where}.{name}"), nullable=bool(spec.get("nullable", True)), metadata=meta)


@cache
def meeting_arrow_schema() -> pa.Schema:
    """The Arrow schema of a meeting row, built from the schema file (field metadata: description, source)."""
    doc = schema_document()
    fields = [_arrow_field(f, doc["name"]) for f in doc["fields"]]
    return pa.schema(fields, metadata={"connector.schema": doc["name"], "connector.schema_version": doc["version"]})


def schema_fields() -> list[dict[str, Any]]:
    """The top-level fields as plain dicts (name, type, nullable, source, description)."""
    return [dict(f) for f in schema_document()["fields"]]


def input_limits() -> dict[str, int]:
    """Find-or-create input limits: title, description, participants, linked_records."""
    return dict(schema_document()["input"]["limits"])


def participant_statuses() -> tuple[str, ...]:
    """The participant statuses Attio knows."""
    return tuple(schema_document()["input"]["participant_statuses"])


def _type_text(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if "list" in spec:
        inner = spec["list"]["struct"]
        return "list<struct<" + ", ".join(f"{f['name']}: {_type_text(f['type'])}" for f in inner) + ">>"
    return json.dumps(spec)


def schema_markdown() -> str:
    """The README table of the schema: column, Arrow type, nullable, API source, description."""
    lines = ["| column | Arrow type | null | from the API | description |", "|---|---|---|---|---|"]
    for f in schema_document()["fields"]:
        lines.append(
            f"| `{f['name']}` | `{_type_text(f['type'])}` | {'yes' if f.get('nullable', True) else 'no'} "
            f"| `{f.get('source', f['name'])}` | {f.get('description', '')} |"
        )
    return "\n".join(lines)


SCHEMA_VERSION: str = schema_document()["version"]
