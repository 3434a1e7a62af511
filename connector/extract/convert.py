"""JSON records (parsed pages) -> Arrow ``RecordBatch``, built from a stream's schema file alone.

:class:`Converter` reads nothing but a :class:`~connector.schema.StreamSchema`: each column's ``source``
path says where its value is, ``?`` which objects may be null, ``null_if``/``required_unless`` which key
selects the other form of a union (an all-day ``{"date"}`` start), and list columns convert their items
by the same rules. A new stream (call recordings, transcript segments) is a new schema file, not new
converter code. A schema with ``each`` (one row per item of a list: transcript segments) is converted
in its record shape and then exploded (:func:`_explode`: Arrow's list kernels, no loop per item).

How: the schema's JSON shape becomes one Arrow struct type (text for timestamps and dates), and Arrow
converts a page's dicts to it in C++ (``pa.array(records, type)``); the columns are then taken out of
that struct and typed with Arrow kernels (timestamps with offsets by Arrow's ISO 8601 cast; offsets
with seconds, which it refuses, by :func:`timestamp_value`). A record is a Python object only while
its page is converted. A missing key reads as null, so it is an error exactly where a null is.

Drift: a key Attio adds later is ignored and reported once (``ignored_fields`` and a log warning); with
``strict=True`` it raises :class:`Drift` instead (for a decoder whose caller reports it). A missing
required key, a null where the schema forbids one, or a value of the wrong type raises
:class:`~connector.errors.SchemaError` naming the record (by the schema's ``key``) and the field, found
by a plain walk of the page once the Arrow conversion has refused it.

One converter, two readers of JSON: :meth:`Converter.convert` takes orjson's dicts (``pa.array`` into
:attr:`Converter.json_type`), :meth:`Converter.convert_rows` takes the same struct from Arrow's C++ JSON
reader (:func:`~connector.extract.fastpath.decode_page`, which releases the GIL in the worker thread);
both end in the same column rules. Figures (``bench/converter.py``, CPU us per meeting, pages of 200,
the shared 2-core machine): orjson's parse ~8-9, :meth:`Converter.convert` ~12-15 (the hand-written
loop it replaced: ~13-16); ``decode_page`` 20.5 (the former separate fast path: 21.8); a whole
100k-meeting extract without latency or limit, 57.6-57.9 us of client CPU per meeting (was 62.1-63.3).
Decoding every page with orjson and :meth:`Converter.convert` instead used the same CPU per page but
68-80 us per meeting in the whole extract (holding the GIL), so the Arrow reader stays in front.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from ..deferred import deferred
from ..errors import ConfigError, SchemaError
from ..schema import EACH_COLUMN, Column, Explode, StreamSchema

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    np = deferred("numpy")
    pa = deferred("pyarrow")
    pc = deferred("pyarrow.compute")

__all__ = ["Converter", "Drift", "Unfit", "timestamp_value"]

log = logging.getLogger(__name__)


def _arrow_errors(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """The errors by which Arrow refuses a value, and ``more`` (a function: Arrow is imported when first used)."""
    return (*more, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


_MISSING = object()


class Drift(Exception):
    """A strict converter met a key its schema does not know."""


class Unfit(Exception):
    """Records do not fit the schema somewhere (:meth:`Converter.convert` then finds where and says so)."""


def _is_text_typed(type_: pa.DataType) -> bool:
    """Timestamps and dates come as text and are cast by Arrow."""
    return bool(pa.types.is_timestamp(type_) or pa.types.is_date(type_))


def _json_leaf(type_: pa.DataType) -> pa.DataType:
    """The Arrow type a scalar column is read as from JSON, before :func:`_typed` casts it.

    Text for timestamps and dates; a JSON number for an integer, so that 2.5 is refused by the safe
    cast rather than truncated by the conversion (integers are exact up to 2**53, as in JSON).
    """
    if _is_text_typed(type_):
        return pa.string()
    if pa.types.is_integer(type_):
        return pa.float64()
    return type_


def _json_type(columns: Sequence[Column], where: str = "") -> pa.StructType:
    """The Arrow struct type of the JSON objects that hold ``columns`` (dates and timestamps as text)."""
    tree: dict[str, Any] = {}
    for column in columns:
        node = tree
        for key in column.path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}{key} is both a value and an object in the schema")
        if isinstance(node.get(column.path[-1]), dict):
            raise ConfigError(f"{where}{column.where} is both a value and an object in the schema")
        if column.path[-1] in node:
            raise ConfigError(f"{where}{column.where} is the source of two columns")
        if column.children:
            node[column.path[-1]] = pa.list_(_json_type(column.children, f"{where}{column.name}[]."))
        else:
            node[column.path[-1]] = _json_leaf(column.type)

    def struct(node: dict[str, Any]) -> pa.StructType:
        return pa.struct([(k, struct(v) if isinstance(v, dict) else v) for k, v in node.items()])

    return struct(tree)


def _field(obj: pa.StructArray, key: str) -> pa.Array:
    """A child of a struct array, null wherever the struct is (``.field`` alone keeps the child's own validity)."""
    return obj.field(key) if not obj.null_count else pc.struct_field(obj, [key])


def _typed(column: Column, values: pa.Array) -> pa.Array:
    """A scalar column in its final type; Unfit if a value does not fit."""
    type_ = column.type
    if pa.types.is_integer(type_):
        try:
            values = values.cast(type_)  # safe: a fraction is an error
        except _arrow_errors():
            raise Unfit from None
    elif _is_text_typed(type_):
        try:
            values = values.cast(type_)
        except _arrow_errors():
            if not pa.types.is_timestamp(type_):
                raise Unfit from None
            try:
                ints = [None if v is None else timestamp_value(v, type_.unit) for v in values.to_pylist()]
            except ValueError:
                raise Unfit from None
            values = pa.array(ints, pa.int64()).cast(type_)
    if not column.nullable and values.null_count:
        raise Unfit
    return values


# What a converter derives from its schema (Converter._build).
_BUILT = frozenset({"schema", "arrow", "_json", "_known", "_record", "_top", "_key"})


class Converter:
    """Turns lists of JSON records (dicts) into RecordBatches of the schema's Arrow schema."""

    def __init__(self, schema: StreamSchema | Callable[[], StreamSchema], *, strict: bool = False) -> None:
        self.strict = strict
        self.ignored_fields: set[str] = set()
        self._source = schema
        if isinstance(schema, StreamSchema):
            self._build(schema)

    def __getattr__(self, name: str) -> Any:
        # A schema given as a function is built when first needed: until then the converter needs no Arrow
        # (an extract makes its converter before its first request; docs/performance.md). Only called for
        # attributes not set yet, so a built converter's lookups are plain ones.
        if name in _BUILT and "_source" in vars(self):
            source = self._source
            self._build(source if isinstance(source, StreamSchema) else source())
            return getattr(self, name)
        raise AttributeError(name)

    def _build(self, schema: StreamSchema) -> None:
        self.schema = schema
        self.arrow = schema.arrow
        try:
            self._json = _json_type(schema.columns)
        except ConfigError as exc:
            raise ConfigError(f"{schema.path}: {exc}") from None
        self._known = _known_keys(schema.columns)
        for path in schema.omitted:  # deliberately not stored: not drift
            self._known.setdefault(path[:-1], set()).add(path[-1])
        self._record = schema.record or schema.arrow
        self._top = len(self._known[()])
        self._key = next(c for c in schema.columns if c.name == schema.key)

    # ------------------------------------------------------------------------------------ convert
    def convert(self, records: Sequence[Any]) -> pa.RecordBatch:
        """One RecordBatch holding these records, in order."""
        records = records if isinstance(records, list) else list(records)
        try:
            if records:
                self._check_drift(records)
            batch = self.convert_rows(pa.array(records, type=self.json_type))
        except _arrow_errors(Unfit, TypeError):
            raise self._diagnose(records) from None
        return batch

    @property
    def json_type(self) -> pa.StructType:
        """The Arrow type of one record's JSON as the schema knows it (text for dates and timestamps)."""
        return self._json

    def convert_rows(self, rows: pa.StructArray) -> pa.RecordBatch:
        """The RecordBatch of records already in Arrow as :attr:`json_type` (e.g. from Arrow's JSON reader).

        :class:`Unfit`, without saying where, if they do not fit; missing keys are nulls here, as in
        :meth:`convert`, and drift cannot be seen (a reader must refuse unknown keys itself).
        """
        if rows.null_count:
            raise Unfit
        batch = pa.RecordBatch.from_arrays(_columns(self.schema.columns, rows), schema=self._record)
        explode = self.schema.explode
        return batch if explode is None else _explode(batch, explode, self.arrow)

    # -------------------------------------------------------------------------------------- drift
    def _check_drift(self, records: list[Any]) -> None:
        # Top-level keys on every record (a cheap length test first); nested ones on the page's first
        # record, which is enough to see drift: Attio adds a key to every record at once.
        if max(map(len, records)) > self._top:
            for record in records:
                if isinstance(record, dict) and len(record) > self._top:
                    self._note((), record)
        for where, obj in _objects(records[0], ()):
            if where and where in self._known:
                self._note(where, obj)

    def _note(self, where: tuple[str, ...], obj: dict[str, Any]) -> None:
        known = self._known[where]
        for key in obj:
            if key not in known:
                name = ".".join(k.removesuffix("[]") for k in (*where, key))
                if self.strict:
                    raise Drift(name)
                if name not in self.ignored_fields:
                    self.ignored_fields.add(name)
                    log.warning(
                        "ignoring field %r that the %s schema does not know (Attio added it?)",
                        name,
                        self.schema.name,
                    )

    # ------------------------------------------------------------------------------------- errors
    def _diagnose(self, records: list[Any]) -> SchemaError:
        """The error naming the first record that does not fit, and why."""
        noun = self.schema.name
        for record in records:
            problem = _problem(record, self.schema.columns, "")
            if problem is not None:
                ident = _lookup(record, self._key) if isinstance(record, dict) else None
                return SchemaError(f"{noun} {'<no id>' if ident in (None, _MISSING) else ident}{problem}")
        return SchemaError(f"a page of {noun} records does not fit the schema")  # pragma: no cover


def _columns(columns: Sequence[Column], rows: pa.StructArray) -> list[pa.Array]:
    """The typed columns of ``columns`` out of the struct array of their records (or list items)."""
    objects: dict[tuple[str, ...], pa.StructArray] = {(): rows}
    arrays = []
    for column in columns:
        obj = rows
        for depth, nullable in enumerate(column.nullable_at):
            path = column.path[: depth + 1]
            found = objects.get(path)
            if found is None:
                found = objects[path] = _field(obj, path[-1])
                if not nullable and found.null_count != obj.null_count:
                    raise Unfit  # an object that must be there is null (or missing)
            obj = found
        values = _field(obj, column.path[-1])
        if column.unless is not None:
            values = _one_form(column, obj, values)
        arrays.append(_list(column, values) if column.children else _typed(column, values))
    return arrays


def _explode(batch: pa.RecordBatch, explode: Explode, arrow: pa.Schema) -> pa.RecordBatch:
    """One row per item of the record-shape batch's list column: the record's columns repeated, the
    item's fields, and its position in the list."""
    lists = batch.column(EACH_COLUMN)
    parents = pc.list_parent_indices(lists)
    items = lists.flatten()
    offsets = lists.offsets.to_numpy()
    arrays = []
    for field in arrow:
        if field.name == explode.index:
            first = offsets[parents.to_numpy(zero_copy_only=False)] if len(items) else offsets[:0]
            arrays.append(pa.array(np.arange(len(items), dtype=np.int64) + offsets[0] - first, pa.int64()))
        elif field.name in batch.schema.names:
            arrays.append(batch.column(field.name).take(parents))
        else:
            arrays.append(items.field(field.name))
    return pa.RecordBatch.from_arrays(arrays, schema=arrow)


def _one_form(column: Column, obj: pa.StructArray, values: pa.Array) -> pa.Array:
    """``values`` null where ``obj`` has its ``unless`` key; Unfit where a required value has neither form.

    Counts decide the usual page (every object in exactly one form) without building masks.
    """
    other = _field(obj, column.unless).is_valid()  # type: ignore[arg-type]
    n, has_other, has_value = len(values), other.true_count, len(values) - values.null_count
    if column.required:
        present = obj.is_valid() if obj.null_count else None  # a null ?-object needs neither form
        covered = pc.or_(values.is_valid(), other)
        if present is not None:
            covered = pc.or_(covered, pc.invert(present))
        if covered.false_count:
            raise Unfit  # neither the value nor the other form
        if has_value + has_other == n - (obj.null_count if present is not None else 0):
            return values  # the two forms never overlap: nothing to null
    elif not has_other or not pc.and_(values.is_valid(), other).true_count:
        return values
    return pc.if_else(other, pa.scalar(None, values.type), values)


def _list(column: Column, values: pa.ListArray) -> pa.ListArray:
    if values.null_count and not column.nullable:
        raise Unfit
    items = values.flatten()
    if items.null_count:
        raise Unfit  # a null item
    struct = pa.StructArray.from_arrays(_columns(column.children, items), fields=list(column.type.value_type))
    offsets = values.offsets
    if offsets[0].as_py():
        offsets = pc.subtract(offsets, offsets[0])
    mask = values.is_null() if values.null_count else None
    return pa.ListArray.from_arrays(offsets, struct, type=column.type, mask=mask)


def _lookup(obj: Any, column: Column) -> Any:
    """One record's raw value of ``column`` (None: null or missing), or _MISSING where an object must be."""
    for key, nullable in zip(column.path[:-1], column.nullable_at, strict=True):
        obj = obj.get(key)
        if obj is None and nullable:
            return None
        if not isinstance(obj, dict):
            return _MISSING
    if column.unless is not None and obj.get(column.unless) is not None:
        return None
    return obj.get(column.path[-1])


def _problem(record: Any, columns: Sequence[Column], prefix: str) -> str | None:
    """What is wrong with one record (or list item), as the end of a message; None if nothing is."""
    if not isinstance(record, dict):
        return f" has a field of the wrong shape: {prefix.rstrip('.') or 'the record'} must be an object, got {record!r}"
    for column in columns:
        value = _lookup(record, column)
        name = prefix + column.name
        if value is _MISSING:
            return _shape_or_missing(record, column)
        if value is None:
            if not column.nullable or (column.required and _lookup(record, _sibling(column)) is None):
                key = column.path[-1]
                if key not in _parent(record, column):
                    return f" lacks the required field {key!r}"
                return f": field {name!r} is null (expected {column.type})"
            continue
        if column.children:
            if not isinstance(value, list):
                return f" has a field of the wrong shape: {column.where!r} must be a list, got {value!r}"
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    return f" has a field of the wrong shape: '{column.where}[{i}]' must be an object, got {item!r}"
                problem = _problem(item, column.children, f"{name}.")
                if problem is not None:
                    return problem
            continue
        why = _fits(column, value)
        if why is not None:
            return f": field {name!r} has the invalid value {value!r} (expected {column.type}{': ' + why if why else ''})"
    return None


def _sibling(column: Column) -> Column:
    """The column at ``column.unless`` in the same object (for reading one record's value)."""
    return Column(
        column.unless or "", pa.string(), True, (*column.path[:-1], column.unless or ""), column.nullable_at
    )


def _parent(record: dict[str, Any], column: Column) -> dict[str, Any]:
    obj: Any = record
    for key in column.path[:-1]:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else {}


def _fits(column: Column, value: Any) -> str | None:
    """Why one non-null value does not fit its column (None if it does)."""
    try:
        _typed(column, pa.array([value], _json_leaf(column.type)))
    except _arrow_errors(Unfit):
        if pa.types.is_timestamp(column.type) and isinstance(value, str):
            try:
                timestamp_value(value, column.type.unit)
            except ValueError as exc:
                return f"{exc}"
        return ""
    return None


def _shape_or_missing(record: dict[str, Any], column: Column) -> str:
    obj: Any = record
    for depth, key in enumerate(column.path[:-1]):
        if not isinstance(obj, dict):
            return f" has a field of the wrong shape: {'.'.join(column.path[:depth])!r} must be an object, got {obj!r}"
        if obj.get(key) is None:
            return (
                f" lacks the required field {key!r}"
                if key not in obj
                else f": field {key!r} is null (expected an object)"
            )
        obj = obj[key]
    return f" has a field of the wrong shape: {'.'.join(column.path[:-1])!r} must be an object, got {obj!r}"


def _known_keys(columns: Sequence[Column], where: tuple[str, ...] = ()) -> dict[tuple[str, ...], set[str]]:
    """Per object path (list items as ``name[]``), the keys the schema knows there."""
    known: dict[tuple[str, ...], set[str]] = {where: set()}
    for column in columns:
        path = where
        for key in column.path[:-1]:
            known.setdefault(path, set()).add(key)
            path = (*path, key)
        known.setdefault(path, set()).add(column.path[-1])
        if column.children:
            for sub, keys in _known_keys(column.children, (*path, f"{column.path[-1]}[]")).items():
                known.setdefault(sub, set()).update(keys)
    return known


def _objects(obj: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every object inside ``obj`` with its path (only a list's first item)."""
    if not isinstance(obj, dict):
        return
    yield where, obj
    for key, value in obj.items():
        if isinstance(value, dict):
            yield from _objects(value, (*where, key))
        elif isinstance(value, list) and value:
            yield from _objects(value[0], (*where, f"{key}[]"))


# ----------------------------------------------------------------------------------- timestamps
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d)(?::(\d\d))?)"
)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def timestamp_value(text: str, unit: str) -> int:
    """Epoch ``unit`` (s, ms, us, ns) of an RFC 3339 timestamp, exactly; ValueError saying why not.

    Arrow's cast covers Attio's usual text; this covers the rest it refuses: offsets with seconds (a
    zone's local mean time before ~1890, e.g. ``+00:53:28``, which Python's ``isoformat`` writes too).
    A fraction finer than ``unit`` or an instant ``unit`` cannot hold in int64 is refused, not rounded.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("the time of day is out of range")
    seconds = (
        (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * 86_400 + hour * 3600 + minute * 60 + second
    )
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60 + int(m.group(12) or 0)
        seconds -= -offset if m.group(9) == "-" else offset
    per_second = _PER_SECOND[unit]
    units, finer = divmod(int((m.group(7) or "").ljust(9, "0")), 1_000_000_000 // per_second)
    if finer:
        raise ValueError(f"it is more precise than the column's unit ({unit})")
    value = seconds * per_second + units
    if not -(2**63) <= value < 2**63:
        held = " (1677-09-21 to 2262-04-11)" if unit == "ns" else ""
        raise ValueError(f"it is outside the instants the column can hold{held}")
    return value
