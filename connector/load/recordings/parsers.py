"""Strict readers of transcript files: WebVTT (``.vtt``) and SubRip (``.srt``) into :class:`Segment` s.

Every problem is a :class:`TranscriptError` naming the line (1-based) and the reason; nothing is guessed
or skipped silently. Own code rather than a library, by measurement (docs/call-recordings.md, "Inputs"):
webvtt-py 0.6.0 drops a malformed cue in its default mode and names no line in strict mode (its message
quotes the block), and srt 3.5.3 reads ``00:00:0x,000`` as the end time 00:00:00 with ``x,000`` as
"proprietary" data, so a typo would be sent as a wrong transcript. The cue grammar is small: a timing
line ``start --> end`` (VTT ``[hh:]mm:ss.ttt``; SRT ``hh:mm:ss,ttt``, a ``.`` accepted too) and text lines.

Speakers: a WebVTT voice span ``<v Ana Díaz>…</v>`` (several in one cue make several segments with the cue's
times), else a ``Name: text`` prefix (``speaker_prefix``), else the mapping's default speaker. Other tags
(``<b>``, ``<i>``, ``<c.x>``, inline timestamps) are dropped; WebVTT character references (``&amp;``) are
decoded. The lines of a cue are joined with a space; a cue with no text is no speech and is left out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...errors import shown
from ...models import control_character
from ..sources import describe_bytes

__all__ = ["Segment", "SpeakerRules", "TranscriptError", "parse_srt", "parse_time", "parse_vtt", "read_text"]


class TranscriptError(Exception):
    """One problem in a transcript input: ``line`` (or table row), ``column`` of a table, and the reason."""

    def __init__(self, line: int | None, reason: str, column: str | None = None) -> None:
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of speech: seconds from the recording's start, the speaker, and where it was read."""

    speech: str
    start: float
    end: float
    speaker: str
    email: str | None = None
    line: int | None = None

    def to_body(self) -> dict[str, object]:
        """The segment as Attio's create body takes it."""
        speaker: dict[str, object] = {"name": self.speaker}
        if self.email:
            speaker["email_address"] = self.email
        return {"speech": self.speech, "start_time": self.start, "end_time": self.end, "speaker": speaker}


@dataclass(frozen=True)
class SpeakerRules:
    """How a cue finds its speaker: the ``Name: text`` rule, the default name, and emails by speaker name."""

    speaker_prefix: bool = True
    default_speaker: str | None = None
    emails: tuple[tuple[str, str], ...] = ()

    def email_of(self, name: str) -> str | None:
        """The email the mapping gives this speaker (names compared case-insensitively), or None."""
        folded = name.casefold()
        return next((email for who, email in self.emails if who.casefold() == folded), None)


_VTT_TIME = re.compile(r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})")
_SRT_TIME = re.compile(r"(\d{1,}):([0-5]\d):([0-5]\d)[,.](\d{3})")
_TIMING = re.compile(r"\s*(\S+)\s+-->\s+(\S+)(?:\s+.*)?")
_TAG = re.compile(r"<(/?)([^>\s.]*)([^>]*)>")
_PREFIX = re.compile(r"([^:<>\[\]]{1,80}?):\s+(\S.*)", re.S)
_SPACES = re.compile(r"\s+")


def parse_time(text: str, pattern: re.Pattern[str] = _VTT_TIME, form: str = "[hh:]mm:ss.ttt") -> float:
    """Seconds of a timestamp; ValueError with the reason (negative, malformed)."""
    if text.startswith("-"):
        raise ValueError(f"negative time {shown(text)}")
    match = pattern.fullmatch(text)
    if match is None:
        raise ValueError(f"malformed timestamp {shown(text)} (expected {form})")
    hours, minutes, seconds, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def read_text(path: Path) -> list[str]:
    """The file's lines (UTF-8, a byte-order mark allowed, any line ends); TranscriptError on bad bytes."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if (what := describe_bytes(data[:64])) is not None:
            raise TranscriptError(
                None, f"it looks like {what}, not a transcript: give the .vtt or .srt text file (or a table of segments)"
            ) from None
        line = data.count(b"\n", 0, exc.start) + 1
        raise TranscriptError(
            line, f"byte 0x{data[exc.start]:02x} is not UTF-8 (transcripts are read as UTF-8)"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _blocks(lines: list[str], first: int = 0) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 1-based number of their first line."""
    block: list[str] = []
    start = 0
    for number, line in enumerate(lines[first:], start=first + 1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _timing(line: str, number: int, pattern: re.Pattern[str], form: str) -> tuple[float, float]:
    match = _TIMING.fullmatch(line)
    if match is None:
        raise TranscriptError(
            number, f"malformed cue timing line {shown(line.strip())} (expected 'start --> end')"
        )
    try:
        start = parse_time(match.group(1), pattern, form)
        end = parse_time(match.group(2), pattern, form)
    except ValueError as exc:
        raise TranscriptError(number, str(exc)) from None
    if end < start:
        raise TranscriptError(number, f"the cue ends ({match.group(2)}) before it starts ({match.group(1)})")
    return start, end


def _voice_name(rest: str) -> str | None:
    """The speaker of a ``<v ...>`` tag: in ``<v.loud Ana Díaz>`` the classes come first, then the name."""
    if rest.startswith("."):
        rest = rest.partition(" ")[2]
    return rest.strip() or None


def _voice_parts(payload: str, voices: bool, unescape: bool) -> list[tuple[str | None, str]]:
    """The cue text split by voice span, tags dropped: ``[(voice or None, text), ...]``."""
    parts: list[tuple[str | None, str]] = []
    voice: str | None = None
    buffer: list[str] = []

    def flush() -> None:
        text = "".join(buffer)
        text = _SPACES.sub(" ", html.unescape(text) if unescape else text).strip()
        buffer.clear()
        if not text:
            return
        if parts and parts[-1][0] == voice:
            parts[-1] = (voice, f"{parts[-1][1]} {text}")
        else:
            parts.append((voice, text))

    pos = 0
    for tag in _TAG.finditer(payload):
        buffer.append(payload[pos : tag.start()])
        pos = tag.end()
        closing, name, rest = tag.groups()
        if voices and name == "v":
            flush()
            voice = None if closing else _voice_name(rest)
    buffer.append(payload[pos:])
    flush()
    return parts


def _segments(
    payload: list[str],
    start: float,
    end: float,
    number: int,
    rules: SpeakerRules,
    *,
    voices: bool,
    unescape: bool,
) -> list[Segment]:
    for offset, line in enumerate(payload, start=1):
        if "-->" in line:
            raise TranscriptError(
                number + offset, "'-->' in cue text: a timing line needs a blank line before it"
            )
        if (problem := control_character(line)) is not None:
            raise TranscriptError(number + offset, f"the text holds {problem}")
    out = []
    for voice, text in _voice_parts(" ".join(line.strip() for line in payload), voices, unescape):
        speaker = voice
        if speaker is None and rules.speaker_prefix and (prefix := _PREFIX.fullmatch(text)):
            speaker, text = prefix.group(1).strip(), prefix.group(2).strip()
        speaker = speaker or rules.default_speaker
        if not speaker:
            raise TranscriptError(
                number,
                f"no speaker for {shown(text, 40)}: no <v Name> tag and no 'Name:' prefix; "
                "set [transcripts] default_speaker in the mapping",
            )
        out.append(Segment(text, start, end, speaker, rules.email_of(speaker), number))
    return out


def parse_vtt(lines: list[str], rules: SpeakerRules) -> list[Segment]:
    """The segments of a WebVTT file's lines; TranscriptError at the first problem."""
    if not any(line.strip() for line in lines):
        raise TranscriptError(1, "the file is empty: a WebVTT file starts with a 'WEBVTT' line, then its cues")
    if not re.fullmatch(r"WEBVTT(?:[ \t].*)?", lines[0]):
        raise TranscriptError(1, "not a WebVTT file: the first line must be 'WEBVTT'")
    segments: list[Segment] = []
    seen_cue = False
    for index, (number, block) in enumerate(_blocks(lines)):
        head = block[0].strip()
        if index == 0 or re.match(r"NOTE(?:\s|$)", head):
            continue  # the header block, a comment
        if not seen_cue and re.fullmatch(r"(?:STYLE|REGION)(?:\s.*)?", head) and "-->" not in block[0]:
            continue
        timing = 0 if "-->" in block[0] else 1 if len(block) > 1 and "-->" in block[1] else None
        if timing is None:
            raise TranscriptError(
                number, f"{shown(head, 40)} starts no cue: no 'start --> end' line in its first two lines"
            )
        seen_cue = True
        start, end = _timing(block[timing], number + timing, _VTT_TIME, "[hh:]mm:ss.ttt")
        segments += _segments(
            block[timing + 1 :], start, end, number + timing, rules, voices=True, unescape=True
        )
    return segments


def parse_srt(lines: list[str], rules: SpeakerRules) -> list[Segment]:
    """The segments of a SubRip file's lines; TranscriptError at the first problem."""
    segments: list[Segment] = []
    for number, block in _blocks(lines):
        head = block[0].strip()
        if head.isdigit():
            if len(block) < 2:
                raise TranscriptError(number, f"cue {head} has no 'start --> end' line")
            timing = 1
        elif "-->" in block[0]:
            timing = 0
        else:
            raise TranscriptError(
                number, f"expected a cue number or a 'start --> end' line, got {shown(head, 40)}"
            )
        start, end = _timing(block[timing], number + timing, _SRT_TIME, "hh:mm:ss,ttt")
        segments += _segments(
            block[timing + 1 :], start, end, number + timing, rules, voices=False, unescape=False
        )
    return segments
