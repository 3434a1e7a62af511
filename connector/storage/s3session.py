"""The botocore session under s3fs, reading botocore's data files leaner (issue 10: an extract to S3 peaks within
10 % of the memory of a local one).

botocore parses its JSON data files into OrderedDicts, and its session keeps them for as long as the client
lives, which for an extract to S3 is the whole fetch (the parts go up while the file is written: :mod:`.stream`).
Python objects the S3 client keeps (tracemalloc, botocore 1.43):

    data file                                   as botocore reads it     as read here
    s3/2006-03-01/service-2, endpoint rule set  4.3 MB, OrderedDicts     plain dicts, documentation texts empty
    endpoints.json (every region of every       6.7 MB parsed            S3's entries, cut from the text before
      AWS service)                                                       it is parsed; the rest read again only
                                                                         if a service other than S3 is asked for
    the client, in all                          11.9 MB                  2.7 MB

Plain dicts keep the order botocore relies on; the documentation texts serve docstrings and ``help()``,
which nobody sees on a client the connector makes for itself. Another service's endpoints (STS, for a
profile that assumes a role) are read from the whole table when botocore asks for them.

Before it loads a model, botocore checks that the service is one it knows by listing every service's folder
of its data (~400 folders, ~3,700 ``stat`` calls, ~25 ms of the S3 check's CPU, twice per client). The
session's loader answers that for S3 from S3's own folder, and lists the rest only when asked for another
service or for the whole list (:class:`_KnownServices`).

The hook is the loader's public ``file_loader``; tests/test_objectstore_stream.py fails if a botocore
upgrade stops reading through it.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

__all__ = ["KEPT_SERVICES", "LeanJSONFileLoader", "lean_session"]

KEPT_SERVICES = ("s3",)  # the only service whose endpoints a session of the connector's is built for
_OPENERS: tuple[tuple[str, Callable[..., Any]], ...] = ((".json", open), (".json.gz", gzip.open))


def _plain(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # An empty documentation text: botocore reads the key (a client's context parameters), never shows it here.
    return {key: "" if key == "documentation" and isinstance(value, str) else value for key, value in pairs}


class _WholeTable:
    """The whole endpoint table, read when a partition is asked for a service it was not kept with."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self._read = read
        self._services: dict[str, dict[str, Any]] | None = None

    def services(self, partition: str) -> dict[str, Any]:
        if self._services is None:
            self._services = {p["partition"]: p.get("services", {}) for p in self._read()["partitions"]}
        return self._services.get(partition, {})


class _ServicesOnDemand(Mapping[str, Any]):
    """One partition's ``services``: the kept entries at hand, any other from the whole table."""

    def __init__(self, kept: dict[str, Any], whole: _WholeTable, partition: str) -> None:
        self._kept = kept
        self._whole = whole
        self._partition = partition

    def __getitem__(self, name: str) -> Any:
        if name in self._kept:
            return self._kept[name]
        return self._whole.services(self._partition)[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole.services(self._partition))

    def __len__(self) -> int:
        return len(self._whole.services(self._partition))


class LeanJSONFileLoader:
    """A botocore ``file_loader``: ``load_file`` as botocore's (``.json`` then ``.json.gz``), read as described in
    the module docstring; anything else (a format a later botocore adds) goes to the loader it replaces."""

    def __init__(self, replaced: Any) -> None:
        self._replaced = replaced

    def exists(self, file_path: str) -> bool:
        """As the replaced loader's."""
        return bool(self._replaced.exists(file_path))

    def load_file(self, file_path: str) -> Any:
        """The data at ``file_path`` (without its extension), or None when there is no such file."""
        for suffix, opener in _OPENERS:
            if os.path.isfile(file_path + suffix):
                read = functools.partial(_read, file_path + suffix, opener)
                if os.path.basename(file_path) != "endpoints":
                    return read()
                data = _read(file_path + suffix, opener, _kept_text)
                return _kept_endpoints(data, read) if isinstance(data, dict) else data
        return self._replaced.load_file(file_path)


def _read(path: str, opener: Callable[..., Any], cut: Callable[[str], str] | None = None) -> Any:
    with opener(path, "rb") as fp:
        text = fp.read().decode("utf-8")
    return json.loads(cut(text) if cut is not None else text, object_pairs_hook=_plain)


_SERVICES_AT = re.compile(r'\n    "services" : \{')


def _kept_text(text: str) -> str:
    """endpoints.json's ``text`` with each partition's ``services`` cut to :data:`KEPT_SERVICES` before it is
    parsed: parsing the whole table to keep ~1 % of it leaves ~3 MB of RSS behind (pymalloc arenas that a few
    survivors keep) and takes ~20 ms. It relies on the layout botocore ships (two spaces per level: a partition's
    ``services`` at 4, each service at 6); text of another layout is returned whole, and parsed and cut after."""
    pieces: list[str] = []
    at = 0
    for found in _SERVICES_AT.finditer(text):
        end = text.find("\n    }", found.end())
        if end < 0:
            return text
        kept = []
        for name in KEPT_SERVICES:
            start = text.find(f'\n      "{name}" : {{', found.end(), end)
            stop = text.find("\n      }", start, end) if start >= 0 else -1
            if start >= 0 and stop < 0:
                return text
            if start >= 0:
                kept.append(text[start + 1 : stop + len("\n      }")])
        pieces += [text[at : found.end()], "\n", ",\n".join(kept)]
        at = end
    return "".join(pieces) + text[at:]


def _kept_endpoints(table: dict[str, Any], read: Callable[[], Any]) -> dict[str, Any]:
    """``table`` with each partition's services cut to :data:`KEPT_SERVICES`, the others on demand."""
    whole = _WholeTable(read)
    for partition in table.get("partitions", []):
        services = partition.get("services", {})
        kept = {name: services[name] for name in KEPT_SERVICES if name in services}
        partition["services"] = _ServicesOnDemand(kept, whole, partition["partition"])
    return table


class _KnownServices(Sequence[str]):
    """What the loader's ``list_available_services(type_name)`` returns, listed only when needed: whether a kept
    service is known is read from its own folder (the versions that hold a ``type_name`` file)."""

    def __init__(self, loader: Any, type_name: str, listing: Callable[[str], list[str]]) -> None:
        self._loader = loader
        self._type_name = type_name
        self._listing = listing
        self._all: list[str] | None = None

    def _services(self) -> list[str]:
        if self._all is None:
            self._all = self._listing(self._type_name)
        return self._all

    def __contains__(self, name: object) -> bool:
        if name in KEPT_SERVICES and self._all is None:
            try:
                return bool(self._loader.list_api_versions(name, self._type_name))
            except _data_not_found():
                return False
        return name in self._services()

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._services()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._services())

    def __len__(self) -> int:
        return len(self._services())


def _data_not_found() -> type[Exception]:
    exception: type[Exception] = importlib.import_module("botocore.exceptions").DataNotFoundError
    return exception


def lean_session() -> Any:
    """A new aiobotocore session (as s3fs would make) whose data loader reads through :class:`LeanJSONFileLoader`
    and answers whether it knows S3 without listing every service (:class:`_KnownServices`)."""
    session = importlib.import_module("aiobotocore.session").AioSession()
    loader = session.get_component("data_loader")
    loader.file_loader = LeanJSONFileLoader(loader.file_loader)
    listing = loader.list_available_services  # the loader's own, cached per type
    loader.list_available_services = functools.partial(_KnownServices, loader, listing=listing)
    return session
