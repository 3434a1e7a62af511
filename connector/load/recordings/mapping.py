"""The mapping of ``load-recordings``: where each transcript's meeting comes from, and a segment table's columns.

A TOML file (example in ``sample_configs/recordings_mapping.toml``); every table is optional::

    [meeting]                   # how a transcript finds its meeting, first that applies:
    # 1. a segment table's meeting_id / external_ref column ([columns]);
    sidecar = "meetings.csv"    # 2. a CSV with columns file and meeting_id (or external_ref), by file name;
    filename_pattern = '(?P<meeting_id>[0-9a-f-]{36})'   # 3. searched in the file name, or (?P<external_ref>...)
    meetings_ledger = "meetings.ledger.sqlite"   # the `load` ledger: turns an external_ref into its meeting

    [columns]                   # a CSV/Parquet of segments: field = input column (default: the field's name)
    recording = "call_id"       # rows with one value make one recording (default: one per meeting, or file)
    meeting_id = "meeting_id"   # or external_ref = "event_id"
    speaker = "speaker"
    email = "email"
    start = "start"             # seconds (a number) or [hh:]mm:ss[.ttt]
    end = "end"
    speech = "text"

    [transcripts]
    speaker_prefix = true       # "Ana: hello" in a cue is Ana saying "hello" (default true)
    default_speaker = "Unknown" # for a cue or row with no speaker (default: such a cue is rejected)

    [speakers]                  # emails by speaker name (VTT and SRT carry none)
    "Ana Díaz" = "ana@acme.com"

    [source]                    # how to read a CSV of segments (default: detected)
    encoding = "utf-8"
    delimiter = ";"

Relative paths are relative to the mapping file. A mistake is a :class:`~connector.errors.ConfigError` naming
the file, the table and the key, raised before anything is read or sent.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import read_toml, toml_type
from ...errors import ConfigError, did_you_mean, shown
from ...models import control_character, email_problem, is_valid_uuid
from ..ledger import DONE
from ..rows import ref_key
from .parsers import SpeakerRules

__all__ = [
    "COLUMN_FIELDS",
    "MeetingRef",
    "MeetingsLedgerView",
    "RecordingsMapping",
    "load_recordings_mapping",
]

COLUMN_FIELDS = ("recording", "meeting_id", "external_ref", "speaker", "email", "start", "end", "speech")
_KEYS = {
    "meeting": ("sidecar", "filename_pattern", "meetings_ledger"),
    "columns": COLUMN_FIELDS,
    "transcripts": ("speaker_prefix", "default_speaker"),
    "source": ("encoding", "delimiter"),
}


@dataclass(frozen=True, slots=True)
class MeetingRef:
    """How an input names its meeting: ``kind`` is ``meeting_id`` or ``external_ref``; where it came from."""

    kind: str
    value: str
    origin: str


@dataclass(frozen=True)
class RecordingsMapping:
    """A parsed mapping (see the module docs); :meth:`meeting_of_file` applies the sidecar and the pattern."""

    origin: str = "<defaults>"
    columns: dict[str, str] = field(default_factory=dict)
    sidecar: dict[str, MeetingRef] = field(default_factory=dict)
    filename_pattern: re.Pattern[str] | None = None
    meetings_ledger: Path | None = None
    rules: SpeakerRules = field(default_factory=SpeakerRules)
    encoding: str | None = None
    delimiter: str | None = None

    def column(self, name: str) -> str:
        """The input column of a field: the mapped one, else the field's own name."""
        return self.columns.get(name, name)

    def meeting_of_file(self, path: Path) -> MeetingRef | None:
        """The meeting of a whole file by the sidecar, else the filename pattern; None when neither says."""
        if (ref := self.sidecar.get(path.name)) is not None:
            return ref
        if self.filename_pattern is not None and (match := self.filename_pattern.search(path.name)):
            groups = {k: v for k, v in match.groupdict().items() if v}
            for kind in ("meeting_id", "external_ref"):
                if kind in groups:
                    return MeetingRef(kind, groups[kind], f"file name {path.name!r}")
        return None


def _text(origin: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or control_character(value) is not None:
        raise ConfigError(f"{origin}: {key} must be non-empty text, got {toml_type(value)} {shown(value)}")
    return value


def _sidecar(path: Path) -> dict[str, MeetingRef]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise ConfigError(f"sidecar file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"sidecar file {path} cannot be read: {exc}") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    kind = "meeting_id" if "meeting_id" in header else "external_ref" if "external_ref" in header else None
    if "file" not in header or kind is None:
        raise ConfigError(
            f"sidecar file {path}: the header must name the columns file and meeting_id (or external_ref)"
        )
    at, ref_at = header.index("file"), header.index(kind)
    out: dict[str, MeetingRef] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        name = row[at].strip() if at < len(row) else ""
        value = row[ref_at].strip() if ref_at < len(row) else ""
        if not name or not value:
            raise ConfigError(f"sidecar file {path} row {number}: both file and {kind} are needed")
        if kind == "meeting_id" and not is_valid_uuid(value):
            raise ConfigError(
                f"sidecar file {path} row {number}, column meeting_id: {shown(value)} is not a UUID"
            )
        if name in out:
            raise ConfigError(f"sidecar file {path} row {number}: file {name!r} is listed twice")
        out[name] = MeetingRef(kind, value, f"sidecar {path.name} row {number}")
    return out


def load_recordings_mapping(path: str | Path | None) -> RecordingsMapping:
    """Read and check a mapping file; None gives the defaults (table columns by their field names)."""
    if path is None:
        return RecordingsMapping()
    path = Path(path)
    data = read_toml(path, "mapping file")
    origin = str(path)
    unknown = sorted(set(data) - set(_KEYS) - {"speakers"})
    if unknown:
        raise ConfigError(
            f"{origin}: unknown table [{unknown[0]}]{did_you_mean(unknown[0], [*_KEYS, 'speakers'])}; "
            f"known: {', '.join(sorted([*_KEYS, 'speakers']))}"
        )
    for table, keys in _KEYS.items():
        value = data.get(table, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: [{table}] must be a table, got {toml_type(value)}")
        if bad := sorted(set(value) - set(keys)):
            raise ConfigError(
                f"{origin}: [{table}] has unknown key {bad[0]!r}{did_you_mean(bad[0], keys)}; "
                f"known keys: {', '.join(keys)}"
            )
    base = path.parent
    meeting, columns, transcripts, source = (
        data.get(t, {}) for t in ("meeting", "columns", "transcripts", "source")
    )
    mapped = {name: _text(origin, f"[columns] {name}", column) for name, column in columns.items()}
    if "meeting_id" in mapped and "external_ref" in mapped:
        raise ConfigError(f"{origin}: [columns] maps both meeting_id and external_ref; map one of them")
    pattern = None
    if "filename_pattern" in meeting:
        text = _text(origin, "[meeting] filename_pattern", meeting["filename_pattern"])
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise ConfigError(
                f"{origin}: [meeting] filename_pattern is not a regular expression: {exc}"
            ) from None
        if not {"meeting_id", "external_ref"} & set(pattern.groupindex):
            raise ConfigError(
                f"{origin}: [meeting] filename_pattern needs a group (?P<meeting_id>...) or (?P<external_ref>...)"
            )
    sidecar = (
        _sidecar(base / _text(origin, "[meeting] sidecar", meeting["sidecar"]))
        if "sidecar" in meeting
        else {}
    )
    ledger = None
    if "meetings_ledger" in meeting:
        ledger = base / _text(origin, "[meeting] meetings_ledger", meeting["meetings_ledger"])
    prefix = transcripts.get("speaker_prefix", True)
    if not isinstance(prefix, bool):
        raise ConfigError(
            f"{origin}: [transcripts] speaker_prefix must be true or false, got {toml_type(prefix)} {shown(prefix)}"
        )
    default = transcripts.get("default_speaker")
    if default is not None:
        default = _text(origin, "[transcripts] default_speaker", default).strip()
    speakers = data.get("speakers", {})
    if not isinstance(speakers, dict):
        raise ConfigError(f"{origin}: [speakers] must be a table of name = email")
    emails = []
    for name, email in speakers.items():
        if not isinstance(email, str) or (problem := email_problem(email)) is not None:
            reason = problem if isinstance(email, str) else f"must be text, got {toml_type(email)}"
            raise ConfigError(f"{origin}: [speakers] {name!r}: {reason}")
        emails.append((name, email))
    for key in ("encoding", "delimiter"):
        if key in source:
            _text(origin, f"[source] {key}", source[key])
    return RecordingsMapping(
        origin=origin,
        columns=mapped,
        sidecar=sidecar,
        filename_pattern=pattern,
        meetings_ledger=ledger,
        rules=SpeakerRules(prefix, default, tuple(emails)),
        encoding=source.get("encoding"),
        delimiter=source.get("delimiter"),
    )


class MeetingsLedgerView:
    """The meetings loader's ledger, read-only: the meeting a done external_ref was loaded as.

    The ``load`` ledger keys each external_ref by :func:`~connector.load.rows.ref_key` and keeps the meeting of
    a row it created or found (states ``created``/``found``). It is opened read-only, without its lock, so a
    meetings load may run meanwhile; an external_ref it has not finished is unknown here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ConfigError(
                f"meetings ledger {path} does not exist; it is the --ledger of the `load` that made the meetings"
            )
        try:
            self._db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            tables = {
                row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.Error as exc:
            raise ConfigError(f"meetings ledger {path} cannot be read: {exc}") from None
        if "refs" not in tables:
            self._db.close()
            raise ConfigError(f"meetings ledger {path} is not a ledger of `load` (it has no refs table)")

    def meeting_id(self, external_ref: str) -> str | None:
        """The meeting loaded for this external_ref, or None."""
        placeholders = ", ".join("?" for _ in DONE)
        try:
            row = self._db.execute(
                f"SELECT meeting_id FROM refs WHERE key = ? AND state IN ({placeholders})",
                (ref_key(external_ref), *DONE),
            ).fetchone()
        except sqlite3.Error as exc:
            raise ConfigError(f"meetings ledger {self.path} cannot be read: {exc}") from None
        return row[0] if row else None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
