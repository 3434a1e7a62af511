"""Stream schemas, loaded from ``schemas/*.json``: the one place a row and its JSON source are defined.

    load_schema(path)        a schema file -> :class:`StreamSchema` (Arrow schema + where each column comes from)
    meeting_schema()         ``schemas/meeting.json`` (the meetings stream)
    meeting_arrow_schema()   its Arrow schema (with field descriptions)
    SCHEMA_VERSION           the meeting schema's version, written into every output file's metadata
    input_limits()           find-or-create input limits the loader validates against
    schema_fields()          the fields as plain dicts, for docs (``schema_markdown()`` renders the table)

A schema file names each column, its Arrow type, whether it may be null, where it comes from in the
API's JSON (``source``) and a description. Types are a small vocabulary (``string``, ``bool``,
``int64``, ``float64``, ``date32``, ``timestamp[ms|us|ns, tz=UTC]``) plus ``{"list": {"struct": [fields]}}``
for nested lists, whose fields' sources are relative to a list item. The converter
(:mod:`connector.extract.convert`) is built from these declarations alone:

    "source": "id.meeting_id"            keys from the record down; a missing key reads as null
    "nullable": false                    null (or missing) is an error
    "source": "created_by_actor?.type"   ``?``: that object may be null (then so is the column); an
                                         object without ``?`` must be there
    "null_if": "date"                    null when the same object has a non-null ``date``
    "required_unless": "date"            the same, and otherwise required (one form of a union, e.g. a
                                         start is ``{"datetime", "timezone"}`` or an all-day ``{"date"}``)

A file's ``key`` names the column that identifies a record in error messages (default: the first);
``table`` the table its rows make (default: the name); ``omit`` the keys of the API's record that are
deliberately not stored, with the reason (so that they are not reported as drift).

A schema with ``each`` makes one row per item of a list in the record (transcript segments of a call
recording): ``"each": "transcript?.segments"`` names the list, a source ``"[].speech"`` is read from the
item, ``"[#]"`` is the item's position (int64, from 0), any other source from the record. The converter
reads the record shape (:attr:`StreamSchema.record`: the record's columns and the list, as a column named
:data:`EACH_COLUMN`) and :attr:`StreamSchema.explode` says how it becomes the rows of :attr:`StreamSchema.arrow`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .deferred import deferred
from .errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = [
    "EACH_COLUMN",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Column",
    "Explode",
    "StreamSchema",
    "input_limits",
    "load_schema",
    "meeting_arrow_schema",
    "meeting_schema",
    "participant_statuses",
    "schema_document",
    "schema_fields",
    "schema_markdown",
    "stream_schema",
]

# The file lives in schemas/ at the project root; connector/schemas is a link to it, which a built wheel
# turns into a copy inside the package. CONNECTOR_SCHEMA_PATH may point elsewhere.
SCHEMA_PATH = Path(
    os.environ.get("CONNECTOR_SCHEMA_PATH") or Path(__file__).resolve().parent / "schemas" / "meeting.json"
)


@cache
def _scalars() -> dict[str, pa.DataType]:
    """The schema files' scalar type names and their Arrow types (Arrow is imported on first use)."""
    return {
        "string": pa.string(),
        "bool": pa.bool_(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "date32": pa.date32(),
        "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
        "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"),
        "timestamp[ns, tz=UTC]": pa.timestamp("ns", tz="UTC"),
    }


@dataclass(frozen=True)
class Column:
    """One column and where its value is in a record's JSON (see the module docstring for the terms).

    ``path``: the keys from the record (or list item) down; ``nullable_at``: for each key but the last,
    whether the object it holds may be null; ``unless``: the key of the same object that makes this
    column null (``required`` otherwise, or not); ``children``: the columns of a list's items.
    """

    name: str
    type: pa.DataType
    nullable: bool
    path: tuple[str, ...]
    nullable_at: tuple[bool, ...]
    unless: str | None = None
    required: bool = False
    children: tuple[Column, ...] = ()

    @property
    def where(self) -> str:
        """The source path as written in the schema file."""
        return ".".join(k + "?" * n for k, n in zip(self.path, (*self.nullable_at, False), strict=True))


EACH_COLUMN = "[]"  # the record-shape column of a schema with ``each``: the list whose items become rows


@dataclass(frozen=True)
class Explode:
    """How the record shape of a schema with ``each`` becomes rows: one per item of :data:`EACH_COLUMN`,
    the record's columns repeated, ``index`` (if any) the item's position."""

    index: str | None


@dataclass(frozen=True)
class StreamSchema:
    """A parsed schema file: its name, version, Arrow schema, and the columns' sources.

    ``columns`` and ``record`` are the record shape the converter reads; ``arrow`` the rows' schema (the
    same unless ``explode``). ``omitted``: the key paths the file's ``omit`` names.
    """

    name: str
    version: str
    key: str
    columns: tuple[Column, ...]
    arrow: pa.Schema
    document: Mapping[str, Any]
    path: Path
    table: str = ""
    record: pa.Schema | None = None
    explode: Explode | None = None
    omitted: tuple[tuple[str, ...], ...] = ()


@cache
def _read(path: Path) -> dict[str, Any]:
    """The schema file at ``path``, parsed (once) and checked for its name, version and fields."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the schema file {path} is missing") from None
    except ValueError as exc:
        raise ConfigError(f"the schema file {path} is not JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("fields"), list)
        or "version" not in doc
        or "name" not in doc
    ):
        raise ConfigError(f"{path} has no 'name', 'version' and 'fields'")
    return doc


def _column(spec: Mapping[str, Any], file: Path, where: str) -> tuple[Column, pa.Field]:
    """The column of one field spec and its Arrow field (recursively for lists of structs)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{file}: a field at {where} has no name")
    here = f"{where}.{name}"
    source = spec.get("source", name)
    segments = source.split(".") if isinstance(source, str) else []
    if not segments or any(not s.rstrip("?") for s in segments) or segments[-1].endswith("?"):
        raise ConfigError(f"{file}: cannot read the source {source!r} at {here}")
    nullable = bool(spec.get("nullable", True))
    if "null_if" in spec and "required_unless" in spec:
        raise ConfigError(f"{file}: {here} has both 'null_if' and 'required_unless'")
    unless = spec.get("null_if", spec.get("required_unless"))
    if unless is not None and (not isinstance(unless, str) or not nullable):
        raise ConfigError(
            f"{file}: 'null_if'/'required_unless' at {here} must name a key, on a nullable column"
        )
    kind = spec.get("type")
    children: tuple[Column, ...] = ()
    if isinstance(kind, str):
        try:
            arrow_type = _scalars()[kind]
        except KeyError:
            raise ConfigError(f"{file}: unknown type {kind!r} at {here}") from None
    elif (
        isinstance(kind, Mapping)
        and set(kind) == {"list"}
        and isinstance(kind["list"], Mapping)
        and set(kind["list"]) == {"struct"}
    ):
        pairs = [_column(child, file, here) for child in kind["list"]["struct"]]
        children = tuple(c for c, _ in pairs)
        arrow_type = pa.list_(pa.field("item", pa.struct([f for _, f in pairs]), nullable=False))
    else:
        raise ConfigError(f"{file}: cannot read type {kind!r} at {here}")
    column = Column(
        name,
        arrow_type,
        nullable,
        tuple(s.rstrip("?") for s in segments),
        tuple(s.endswith("?") for s in segments[:-1]),
        unless,
        "required_unless" in spec,
        children,
    )
    meta = {"description": spec.get("description", ""), "source": source}
    return column, pa.field(name, arrow_type, nullable=nullable, metadata=meta)


def _check_unions(columns: tuple[Column, ...], file: Path) -> None:
    """Each ``null_if``/``required_unless`` key must be a column of the same object (its value is read)."""
    keys = {c.path for c in columns}
    for c in columns:
        if c.unless is not None and (*c.path[:-1], c.unless) not in keys:
            raise ConfigError(
                f"{file}: {c.name} depends on {c.unless!r}, which is no column of the same object"
            )
        _check_unions(c.children, file)


def _each(
    doc: Mapping[str, Any], path: Path
) -> tuple[list[tuple[Column, pa.Field]], list[pa.Field], Explode]:
    """The record shape of a schema with ``each`` (its columns and the list), the rows' fields, and the Explode."""
    each, name = doc["each"], doc["name"]
    if not isinstance(each, str) or not each:
        raise ConfigError(f"{path}: 'each' must be the source path of a list")
    index: str | None = None
    record_specs: list[Mapping[str, Any]] = []
    item_specs: list[Mapping[str, Any]] = []
    for spec in doc["fields"]:
        source = spec.get("source", spec.get("name")) if isinstance(spec, Mapping) else None
        if source == "[#]":
            if spec.get("type") != "int64" or spec.get("nullable", True) or index is not None:
                raise ConfigError(
                    f"{path}: '[#]' (the item's position) must be one int64 column, not nullable"
                )
            index = spec.get("name")
        elif isinstance(source, str) and source.startswith("[]."):
            item_specs.append({**spec, "source": source[3:]})
        else:
            record_specs.append(spec)
    listed = {"name": EACH_COLUMN, "source": each, "nullable": True, "type": {"list": {"struct": item_specs}}}
    pairs = [_column(spec, path, name) for spec in (*record_specs, listed)]
    made = {f.name: f for _, f in pairs[:-1]} | {f.name: f for f in pairs[-1][1].type.value_type}
    fields = []
    for spec in doc["fields"]:
        if spec.get("name") == index:
            meta = {"description": spec.get("description", ""), "source": "[#]"}
            fields.append(pa.field(index, pa.int64(), nullable=False, metadata=meta))
        else:
            field = made[spec["name"]]
            fields.append(
                field.with_metadata({**field.metadata, b"source": spec.get("source", spec["name"])})
            )
    return pairs, fields, Explode(index)


def _omitted(doc: Mapping[str, Any], path: Path) -> tuple[tuple[str, ...], ...]:
    omit = doc.get("omit", {})
    if not isinstance(omit, Mapping) or not all(isinstance(k, str) and k for k in omit):
        raise ConfigError(f"{path}: 'omit' must map key paths to the reason they are not stored")
    return tuple(tuple(k.split(".")) for k in omit)


@cache
def load_schema(path: Path) -> StreamSchema:
    """The schema file at ``path``, parsed and checked (ConfigError naming the file and field otherwise)."""
    doc = _read(path)
    explode: Explode | None = None
    if "each" in doc:
        pairs, fields, explode = _each(doc, path)
    else:
        pairs = [_column(spec, path, doc["name"]) for spec in doc["fields"]]
        fields = [f for _, f in pairs]
    columns = tuple(c for c, _ in pairs)
    _check_unions(columns, path)
    key = doc.get("key", columns[0].name if columns else "")
    if key not in {c.name for c in columns if c.name != EACH_COLUMN}:
        raise ConfigError(f"{path}: the key {key!r} is not a column of the record")
    metadata = {"connector.schema": doc["name"], "connector.schema_version": doc["version"]}
    arrow = pa.schema(fields, metadata=metadata)
    record = pa.schema([f for _, f in pairs], metadata=metadata) if explode is not None else arrow
    table = doc.get("table", doc["name"])
    return StreamSchema(
        doc["name"],
        str(doc["version"]),
        key,
        columns,
        arrow,
        doc,
        path,
        table,
        record,
        explode,
        _omitted(doc, path),
    )


def stream_schema(file_name: str) -> StreamSchema:
    """The schema file ``file_name`` of ``schemas/`` (beside the meeting schema)."""
    return load_schema(SCHEMA_PATH.with_name(file_name))


def meeting_schema() -> StreamSchema:
    """The meetings stream's schema (``schemas/meeting.json``)."""
    return load_schema(SCHEMA_PATH)


def schema_document() -> Mapping[str, Any]:
    """The parsed meeting schema file (read without building its Arrow schema)."""
    return _read(SCHEMA_PATH)


def meeting_arrow_schema() -> pa.Schema:
    """The Arrow schema of a meeting row, built from the schema file (field metadata: description, source)."""
    return meeting_schema().arrow


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


def schema_markdown(schema: StreamSchema | None = None) -> str:
    """The docs table of a schema (default the meeting's): column, Arrow type, nullable, API source, description."""
    lines = ["| column | Arrow type | null | from the API | description |", "|---|---|---|---|---|"]
    for f in (schema or meeting_schema()).document["fields"]:
        lines.append(
            f"| `{f['name']}` | `{_type_text(f['type'])}` | {'yes' if f.get('nullable', True) else 'no'} "
            f"| `{f.get('source', f['name'])}` | {f.get('description', '')} |"
        )
    return "\n".join(lines)


SCHEMA_VERSION: str = str(schema_document()["version"])
