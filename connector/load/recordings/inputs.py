"""From a file or a folder to recordings to create: :class:`RecordingInput` s, or :class:`InputRejection` s.

A ``.vtt`` or ``.srt`` file is one recording. A segment table (``.csv``, ``.tsv``, ``.parquet``/``.pq``, read
by the meetings loader's streaming readers) holds one recording per value of its ``recording`` column (else
per meeting, else the whole file), its segments in row order. A folder means every file in it with one
of those suffixes, in name order, not its sub-folders; other files are listed in the report as ignored.

A problem rejects the whole recording (a partial transcript is never sent): the reason names the line of a
transcript file, or the row and column of a table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import BrokenInputError, ConfigError, shown
from ...models import email_problem
from ...paths import same_path
from ...transcripts import MAX_SEGMENTS
from ..sources import open_source
from ..values import cell_text, is_blank
from .mapping import MeetingRef, RecordingsMapping
from .parsers import Segment, TranscriptError, parse_srt, parse_vtt, read_text

__all__ = ["SUFFIXES", "InputRejection", "RecordingInput", "list_inputs", "read_inputs", "unread_sidecar_files"]

SUFFIXES = {
    ".vtt": "vtt",
    ".srt": "srt",
    ".csv": "table",
    ".tsv": "table",
    ".parquet": "table",
    ".pq": "table",
}
# A table's time cell: seconds, or [hh:]mm:ss with an optional fraction.
_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2}(?:[.,]\d+)?)")


@dataclass(frozen=True, slots=True)
class RecordingInput:
    """One recording to create: its label in the results, its segments, and how it names its meeting."""

    label: str
    segments: tuple[Segment, ...]
    meeting: MeetingRef | None


@dataclass(frozen=True, slots=True)
class InputRejection:
    """An input that cannot be sent: its label and the reason, which names the line (or row and column)."""

    label: str
    reason: str
    meeting: MeetingRef | None = None


def list_inputs(path: Path, skip: tuple[Path, ...] = ()) -> tuple[list[Path], list[Path]]:
    """The files to read (sorted) and the files of a folder that are ignored; ConfigError for a bad path.

    ``skip``: files the run writes (results, ledger), never read as inputs even inside the folder.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not any(same_path(p, s) for s in skip))
        chosen = [p for p in files if p.suffix.lower() in SUFFIXES]
        return chosen, [p for p in files if p.suffix.lower() not in SUFFIXES]
    if not path.exists():
        raise ConfigError(f"input {path} does not exist")
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(
            f"input {path}: a transcript is a .vtt or .srt file, or a .csv/.tsv/.parquet table of segments"
        )
    return [path], []


def unread_sidecar_files(folder: Path, files: list[Path], mapping: RecordingsMapping) -> list[InputRejection]:
    """The files the sidecar names that a folder's run does not read (missing, or no transcript), each rejected:
    a row of the sidecar is an input the user expects loaded, never dropped in silence."""
    if not folder.is_dir():
        return []  # one file given: the sidecar may list the others of its folder
    read = {path.name for path in files}
    out = []
    for name, ref in mapping.sidecar.items():
        if name in read:
            continue
        if (folder / name).is_file():
            why = "it is not a transcript (.vtt, .srt) or a table of segments (.csv, .tsv, .parquet)"
        else:
            why = f"{folder} has no file of that name"
        out.append(InputRejection(name, f"{ref.origin} names this file, but {why}", ref))
    return out


def read_inputs(path: Path, mapping: RecordingsMapping) -> Iterator[RecordingInput | InputRejection]:
    """The recordings of one file, each ready to send or rejected with its reason."""
    if SUFFIXES[path.suffix.lower()] == "table":
        yield from _read_table(path, mapping)
        return
    meeting = mapping.meeting_of_file(path)
    try:
        lines = read_text(path)
        parse = parse_vtt if path.suffix.lower() == ".vtt" else parse_srt
        segments = parse(lines, mapping.rules)
    except OSError as exc:
        yield InputRejection(path.name, f"cannot be read: {exc.strerror or exc}", meeting)
        return
    except TranscriptError as exc:
        yield InputRejection(path.name, f"line {exc.line}: {exc.reason}", meeting)
        return
    yield _checked(path.name, segments, meeting, "line")


def _checked(
    label: str, segments: list[Segment], meeting: MeetingRef | None, unit: str
) -> RecordingInput | InputRejection:
    """The input, or its rejection for a transcript Attio would refuse as a whole (empty, too long)."""
    if not segments:
        return InputRejection(label, "an empty transcript: no speech in it", meeting)
    if len(segments) > MAX_SEGMENTS:
        first_over = segments[MAX_SEGMENTS].line
        return InputRejection(
            label,
            f"{unit} {first_over}: segment {MAX_SEGMENTS + 1:,} of {len(segments):,}; Attio takes at most "
            f"{MAX_SEGMENTS:,} segments per recording",
            meeting,
        )
    return RecordingInput(label, tuple(segments), meeting)


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float) or type(value).__module__ == "numpy":
        seconds = float(value)
    else:
        text = cell_text(value)
        if text.startswith("-"):
            raise ValueError(f"negative time {shown(text)}")
        try:
            seconds = float(text)
        except ValueError:
            match = _CLOCK.fullmatch(text)
            if match is None:
                raise ValueError(f"{shown(text)} is not a time (seconds, or [hh:]mm:ss.ttt)") from None
            hours, minutes, rest = match.groups()
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))
    if not math.isfinite(seconds):
        raise ValueError(f"{shown(value)} is not a time")
    if seconds < 0:
        raise ValueError(f"negative time {shown(value)}")
    return seconds


@dataclass
class _Group:
    """The rows of one recording of a table, while the table is read."""

    label: str
    meeting: MeetingRef | None
    meeting_row: int
    segments: list[Segment]
    error: str | None = None


class _Columns:
    """A table's header bound to the mapping: the position of each field's column."""

    def __init__(self, headers: list[str], mapping: RecordingsMapping) -> None:
        index: dict[str, int] = {}
        for i, header in enumerate(headers):
            index.setdefault(str(header).strip().lower(), i)
        self.names: dict[str, str] = {}
        self.at: dict[str, int] = {}
        required = ["start", "end", "speech"] + ([] if mapping.rules.default_speaker else ["speaker"])
        for name in ("recording", "meeting_id", "external_ref", "speaker", "email", "start", "end", "speech"):
            column = mapping.column(name)
            position = index.get(column.strip().lower())
            if position is None:
                if name in required or name in mapping.columns:
                    shown_headers = ", ".join(repr(str(h)) for h in headers[:12])
                    raise TranscriptError(
                        1, f"no column {column!r} for {name} (the header has {shown_headers})", column
                    )
                continue
            self.names[name], self.at[name] = column, position

    def cell(self, row: Any, name: str) -> Any:
        position = self.at.get(name)
        return None if position is None or position >= len(row) else row[position]


def _read_table(path: Path, mapping: RecordingsMapping) -> Iterator[RecordingInput | InputRejection]:
    try:
        source = open_source(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    except ConfigError as exc:
        yield InputRejection(path.name, str(exc), mapping.meeting_of_file(path))
        return
    groups: dict[str, _Group] = {}
    with source:
        try:
            columns = _Columns(source.headers, mapping)
        except TranscriptError as exc:
            yield InputRejection(
                path.name,
                f"row {exc.line}, column {exc.column!r}: {exc.reason}",
                mapping.meeting_of_file(path),
            )
            return
        try:
            for batch in source.batches(1000):
                for number, row in zip(batch.row_numbers, batch.rows, strict=True):
                    _add_row(groups, path, mapping, columns, number, row)
        except BrokenInputError as exc:
            # Every recording of the file may have rows past the break: none is sent.
            yield InputRejection(
                path.name, f"the file broke ({exc}); none of its {len(groups)} recordings read so far is sent"
            )
            return
    if not groups:
        yield InputRejection(
            path.name, "an empty transcript: the table has no rows", mapping.meeting_of_file(path)
        )
    for group in groups.values():
        if group.error is not None:
            yield InputRejection(group.label, group.error, group.meeting)
        else:
            yield _checked(group.label, group.segments, group.meeting, "row")


def _add_row(
    groups: dict[str, _Group],
    path: Path,
    mapping: RecordingsMapping,
    columns: _Columns,
    number: int,
    row: Any,
) -> None:
    meeting_field = next((f for f in ("meeting_id", "external_ref") if f in columns.at), None)
    meeting_value = cell_text(columns.cell(row, meeting_field)) if meeting_field else ""
    key_value = columns.cell(row, "recording") if "recording" in columns.at else None
    key = cell_text(key_value) if key_value is not None and not is_blank(key_value) else meeting_value
    group = groups.get(key)
    if group is None:
        label = f"{path.name}#{key}" if key else path.name
        meeting = (
            MeetingRef(meeting_field, meeting_value, f"row {number}")
            if meeting_field and meeting_value
            else None
        )
        group = groups[key] = _Group(label, meeting or mapping.meeting_of_file(path), number, [])
    if group.error is not None:
        return
    try:
        group.segments.append(_segment(mapping, columns, number, row))
        if (
            meeting_field
            and meeting_value
            and group.meeting is not None
            and meeting_value != group.meeting.value
        ):
            raise TranscriptError(
                number,
                f"{meeting_field} {meeting_value!r} differs from {group.meeting.value!r} of row "
                f"{group.meeting_row} in the same recording",
                columns.names[meeting_field],
            )
    except TranscriptError as exc:
        group.error = f"row {exc.line}, column {exc.column!r}: {exc.reason}"


def _segment(mapping: RecordingsMapping, columns: _Columns, number: int, row: Any) -> Segment:
    times = {}
    for name in ("start", "end"):
        try:
            times[name] = _seconds(columns.cell(row, name))
        except ValueError as exc:
            raise TranscriptError(number, str(exc), columns.names[name]) from None
    if times["end"] < times["start"]:
        raise TranscriptError(
            number,
            f"the segment ends ({times['end']:g} s) before it starts ({times['start']:g} s)",
            columns.names["end"],
        )
    speech_cell = columns.cell(row, "speech")
    if is_blank(speech_cell):
        raise TranscriptError(number, "no speech (the cell is empty)", columns.names["speech"])
    speech = speech_cell if isinstance(speech_cell, str) else cell_text(speech_cell)
    speaker_cell = columns.cell(row, "speaker")
    speaker = cell_text(speaker_cell) if not is_blank(speaker_cell) else mapping.rules.default_speaker
    if not speaker:
        raise TranscriptError(
            number,
            "no speaker (the cell is empty and the mapping sets no default_speaker)",
            columns.names.get("speaker", "speaker"),
        )
    email_cell = columns.cell(row, "email")
    email = None if is_blank(email_cell) else cell_text(email_cell)
    if email is not None and (problem := email_problem(email)) is not None:
        raise TranscriptError(number, f"{shown(email)}: {problem}", columns.names["email"])
    return Segment(
        speech.strip(),
        times["start"],
        times["end"],
        speaker,
        email or mapping.rules.email_of(speaker),
        number,
    )
