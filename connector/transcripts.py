"""Call-recording transcripts as Attio's create endpoint takes them, and how two of them are compared.

A create body (CONTRACT.md §13, ``openapi-call-recordings.json``)::

    {"data": {"transcript": [{"speech": "Hello,", "start_time": 0.51, "end_time": 0.81,
                              "speaker": {"name": "Alex Bell", "email_address": "alex@example.com"}}]}}

at most :data:`MAX_SEGMENTS` segments, ``start_time`` at least 0, times in seconds from the recording's start.
:func:`validate_transcript` checks a transcript before it is sent (the client's last guard; the loader's
parsers name the file and line of each problem first). ``end_time`` before ``start_time`` is refused here
although Attio's schema is silent on it: such a segment cannot be a real stretch of speech (docs/contract-choices.md).

:func:`transcript_key` is what "the same transcript" means when the loader looks for a recording whose
create answer was lost: speaker names, speech and the times to the millisecond, in order. A recording
read back (``GET``) carries no speaker emails, so they take no part.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, TypeGuard

from .errors import InvalidArgumentError, shown
from .models import email_problem

__all__ = [
    "MAX_SEGMENTS",
    "transcript_fingerprint",
    "transcript_key",
    "validate_transcript",
]

MAX_SEGMENTS = 4000  # the create body's transcript maxItems


def _seconds(value: Any) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def validate_transcript(transcript: Any) -> list[dict[str, Any]]:
    """The transcript as a list of plain segment dicts; InvalidArgumentError naming the first bad segment."""
    if not isinstance(transcript, Sequence) or isinstance(transcript, str):
        raise InvalidArgumentError("transcript", f"must be a list of segments, got {shown(transcript)}")
    if len(transcript) > MAX_SEGMENTS:
        raise InvalidArgumentError(
            "transcript", f"has {len(transcript):,} segments, over Attio's limit of {MAX_SEGMENTS:,}"
        )
    out = []
    for i, seg in enumerate(transcript):
        where = f"transcript[{i}]"
        if not isinstance(seg, dict):
            raise InvalidArgumentError(where, f"must be an object, got {shown(seg)}")
        speech, start, end, speaker = (
            seg.get("speech"),
            seg.get("start_time"),
            seg.get("end_time"),
            seg.get("speaker"),
        )
        if not isinstance(speech, str):
            raise InvalidArgumentError(f"{where}.speech", f"must be text, got {shown(speech)}")
        if not _seconds(start) or start < 0:
            raise InvalidArgumentError(
                f"{where}.start_time", f"must be a number of seconds, 0 or more, got {shown(start)}"
            )
        if not _seconds(end) or end < start:
            raise InvalidArgumentError(
                f"{where}.end_time", f"must be a number of seconds, not before start_time, got {shown(end)}"
            )
        if (
            not isinstance(speaker, dict)
            or not isinstance(speaker.get("name"), str)
            or not speaker["name"].strip()
        ):
            raise InvalidArgumentError(
                f"{where}.speaker", f"must be an object with a non-empty name, got {shown(speaker)}"
            )
        clean: dict[str, Any] = {"name": speaker["name"]}
        email = speaker.get("email_address")
        if email is not None:
            if (problem := email_problem(email)) is not None:
                raise InvalidArgumentError(f"{where}.speaker.email_address", problem)
            clean["email_address"] = email
        out.append({"speech": speech, "start_time": start, "end_time": end, "speaker": clean})
    return out


def transcript_key(segments: Sequence[dict[str, Any]]) -> list[tuple[str, int, int, str]]:
    """What two transcripts must share to be the same: per segment, speaker name, start and end (ms), speech."""
    return [
        (
            seg["speaker"]["name"],
            round(seg["start_time"] * 1000),
            round(seg["end_time"] * 1000),
            seg["speech"],
        )
        for seg in segments
    ]


def transcript_fingerprint(segments: Sequence[dict[str, Any]]) -> str:
    """A short hash of :func:`transcript_key`: equal for a transcript sent and the same one read back."""
    text = json.dumps(transcript_key(segments), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
