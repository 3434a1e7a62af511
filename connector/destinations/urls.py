"""Database URLs and table names as the ``--output`` and ``--table`` flags take them, and their redacted forms.

duckdb:///attio.duckdb                a path relative to the working directory (SQLAlchemy's convention,
                                      as dlt and duckdb_engine read it; ``duckdb://attio.duckdb`` too)
duckdb:////data/attio.duckdb          an absolute path: /data/attio.duckdb (``~`` is expanded in both)
postgresql://etl@db.internal:5432/analytics   libpq's URL (``postgres://`` too); the password comes from
                                      PGPASSWORD or ~/.pgpass, or from the URL, which is then never printed
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import InvalidArgumentError

__all__ = [
    "DUCKDB_SCHEMES",
    "POSTGRES_SCHEMES",
    "DatabaseURL",
    "TableName",
    "is_database_url",
    "looks_like_url",
    "parse_database_url",
]

DUCKDB_SCHEMES = ("duckdb",)
POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
_SECRET_PARAMS = ("password", "sslpassword")


def looks_like_url(text: str) -> bool:
    """True for ``scheme://...`` (not a file path)."""
    return bool(_URL.match(text))


def is_database_url(text: object) -> bool:
    """True for a ``duckdb://`` or ``postgresql://`` (``postgres://``) URL."""
    match = _URL.match(text) if isinstance(text, str) else None
    return match is not None and match.group(1).lower() in DUCKDB_SCHEMES + POSTGRES_SCHEMES


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed destination URL: ``kind`` is "duckdb" or "postgresql"; ``redacted`` is safe to print."""

    kind: str
    url: str
    path: str | None = None  # DuckDB: the database file

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted!r})"

    @property
    def redacted(self) -> str:
        """The URL with any password replaced by ``***``."""
        if self.kind != "postgresql":
            return self.url
        return redact(self.url)


def redact(url: str) -> str:
    """``url`` with the password of its user part and of ``password=`` parameters replaced by ``***``; a path as it is."""
    if not looks_like_url(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        netloc = f"{auth}@{host}"
    query = parts.query
    if query:
        pairs = [
            (k, "***" if k.lower() in _SECRET_PARAMS else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    """The password written in ``url`` (user part or ``password=``), to scrub from driver messages."""
    parts = urlsplit(url)
    if parts.password:
        return parts.password
    for key, value in parse_qsl(parts.query):
        if key.lower() == "password":
            return value
    return None


def parse_database_url(text: str) -> DatabaseURL | None:
    """The database URL in ``text``; None when ``text`` is no URL (a file path). Unknown schemes are refused."""
    match = _URL.match(text)
    if not match:
        return None
    scheme = match.group(1).lower()
    if scheme in DUCKDB_SCHEMES:
        path = text[match.end() :]
        # SQLAlchemy's rule: the third slash ends the (empty) host, so what follows is relative; a fourth makes
        # it absolute. `duckdb://file` (no host slash) is read as relative too.
        path = path[1:] if path.startswith("/") else path
        if not path or path == "/":
            raise InvalidArgumentError("output", "a duckdb URL needs a file: duckdb:///file.duckdb")
        return DatabaseURL("duckdb", text, os.path.expanduser(path))
    if scheme in POSTGRES_SCHEMES:
        parts = urlsplit(text)
        if not parts.path.strip("/"):
            raise InvalidArgumentError(
                "output", f"{redact(text)} names no database: postgresql://user@host:port/DATABASE"
            )
        return DatabaseURL("postgresql", text)
    raise InvalidArgumentError(
        "output",
        f"unknown URL scheme {scheme + '://'!r}: use duckdb:///file.duckdb, postgresql://user@host:port/db, "
        "or a file path",
    )


def _identifier_problem(name: str) -> str | None:
    """Why ``name`` is no plain SQL name (one that finds the table unquoted, as written), or None."""
    if _IDENTIFIER.match(name):
        return None
    if not name:
        return "is empty"
    if len(name) > 63:
        return "is longer than the 63 characters a PostgreSQL name may have"
    if name != name.lower() and _IDENTIFIER.match(name.lower()):
        return "has upper-case letters (SQL reads an unquoted name in lower case): write it in lower case"
    if not (name[0].isalpha() or name[0] == "_"):
        return f"starts with {name[0]!r}: start with a letter or _"
    return "may hold only lower-case letters, digits, _ and $"


@dataclass(frozen=True)
class TableName:
    """``schema.table`` or ``table``; lower-case identifiers (unquoted names in SQL find them as written)."""

    table: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: str) -> TableName:
        """Parse ``--table``; a name that would need quoting in SQL is refused, saying why."""
        parts = text.split(".")
        if len(parts) > 2:
            raise InvalidArgumentError(
                "table", f"{text!r} has {len(parts) - 1} dots: give TABLE or SCHEMA.TABLE"
            )
        roles = ("schema", "table") if len(parts) == 2 else ("table",)
        for role, part in zip(roles, parts, strict=True):
            why = _identifier_problem(part)
            if why is not None:
                where = f"{text!r}: its {role} {part!r}" if len(parts) == 2 else repr(text)
                raise InvalidArgumentError("table", f"{where} {why}")
        return cls(parts[-1], parts[0] if len(parts) == 2 else None)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def sql(self) -> str:
        """The quoted name for SQL."""
        return f'"{self.schema}"."{self.table}"' if self.schema else f'"{self.table}"'
