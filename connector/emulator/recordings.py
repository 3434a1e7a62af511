"""Call recordings and their transcripts: seeded ones (a pure function of the seed) and ones made by POST.

Seeding. ``recording_share`` of the seeded meetings that start before ``recordings_now`` get one to
five recordings (most one); later meetings get none. The recordings' columns (ID, status, size of the
transcript, video, created_at, actor) are drawn with NumPy for every meeting in one go, the first time
any recording is asked for, so starting the emulator costs nothing. About 86 % are ``completed``
(8 % of those without a transcript), 6 % ``processing`` and 8 % ``failed``, both without a transcript.
Transcripts run from 2 segments to 4,000 (Attio's limit): most are under 80, a few in the thousands, at
least one exactly 4,000. A transcript's segments are generated when it is served, from the seed and
the recording's ID alone (the same every time, nothing kept), with speech in many scripts and emoji.

Order. A meeting's recordings are listed by ``created_at``, ties broken by the recording ID (as for
meetings, the order of its hex text); a cursor holds the last one returned, so a recording created or
deleted between pages neither shifts nor repeats the others.

Raw transcript. Consecutive segments of one speaker make one line ``[MM:SS] Name: speech speech``
(``[H:MM:SS]`` from an hour on), lines joined by ``\\n``, as in the spec's example.

Video. A seeded ``completed`` recording with a video answers ``video_url`` with a fresh download link
that expires an hour after the answer (the host is ``.invalid``: nothing is served there); a recording
made by POST always answers ``null``, as Attio does. The link carries a signature: it is a credential in
effect, which a client must never store.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .config import EmulatorConfig
from .store import MeetingStore
from .timeutil import render_nanos

__all__ = ["MAX_SEGMENTS", "STATUSES", "Recording", "RecordingStore", "raw_transcript"]

MAX_SEGMENTS = 4000
STATUSES = ("processing", "completed", "failed")
_ACTORS = ("system", "app", "workspace-member")
_COUNTS = np.array([1] * 14 + [2] * 4 + [3, 4, 5])  # recordings of a meeting that has some
_SPEAKERS = (
    "Alex Bell",
    "Tom Watson",
    "María José Núñez",
    "Zoë Ångström",
    "Łukasz Wójcik",
    "王芳",
    "佐藤 健",
    "김민준",
    "Αλέξανδρος Παπαδόπουλος",
    "Дмитрий Иванов",
    "أحمد منصور",
    "שרה לוי",
    "Priya Raghunathan",
    "Ngozi Okafor",
    "O'Brien, Siobhán",
)
_SPEECH = (
    "Hello,",
    "Mr Watson,",
    "come here.",
    "I'm here.",
    "Can everyone hear me?",
    "Let's get started with the agenda.",
    "The renewal is due next quarter.",
    'She said "no discount", full stop.',
    "Pricing: $12,500 per year, net 30.",
    "Could you share your screen?",
    "Merci beaucoup, c'est très clair.",
    "Wir müssen über die Verlängerung sprechen.",
    "¿Podemos revisar el contrato mañana?",
    "É isso mesmo, obrigado.",
    "次のステップを確認しましょう。",
    "这个方案我们下周再讨论。",
    "좋습니다, 진행하겠습니다.",
    "Спасибо, всё понятно.",
    "شكراً لكم على وقتكم.",
    "תודה רבה, נתראה בשבוע הבא.",
    "Ευχαριστώ πολύ.",
    "नमस्ते, आप कैसे हैं?",
    "Great work 🎉",
    "Sounds good 👍",
    "Hmm…",
    "um, so, yeah",
    "Right — exactly.",
    "Next steps: legal review; then signature.",
    "Tab\tseparated? No, just a tab.",
    "OK.",
)


@dataclass
class Recording:
    """One call recording. Seeded ones have ``segments`` (how many to generate, -1 for no transcript);
    ones made by POST have ``given`` (the segments sent, None for none) and ``ready_ns``."""

    meeting_id: str
    recording_id: str
    created_ns: int
    status: str
    actor: dict[str, str | None]
    segments: int = -1
    video: bool = False
    given: list[dict[str, Any]] | None = None
    ready_ns: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """The listing's sort key: created_at, then the ID."""
        return self.created_ns, int(self.recording_id.replace("-", ""), 16)

    def status_at(self, now_ns: int) -> str:
        """The status now: a recording made by POST is ``processing`` until ``ready_ns``."""
        if self.ready_ns is not None and now_ns >= self.ready_ns:
            return "completed"
        return self.status


class _Seeded:
    """Columns of every seeded recording; seeded meeting row i has recordings ``off[i]:off[i+1]``."""

    def __init__(self, store: MeetingStore, config: EmulatorConfig) -> None:
        s = store.seed_data
        n = s.n
        rng = np.random.default_rng([config.seed, 0xCA11])
        past = s.start_ms < config.recordings_now_ms
        counts = np.where(past & (rng.random(n) < config.recording_share), rng.choice(_COUNTS, n), 0)
        self.off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=self.off[1:])
        m = int(self.off[-1])
        ids = rng.integers(0, 2**64, size=(m, 2), dtype=np.uint64, endpoint=False)
        self.id_hi = (ids[:, 0] & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
        self.id_lo = (ids[:, 1] & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
        self.status = rng.choice(3, m, p=[0.06, 0.86, 0.08]).astype(np.int8)
        u = rng.random(m)
        sizes = np.select(
            [u < 0.70, u < 0.94, u < 0.98],
            [rng.integers(2, 80, m), rng.integers(80, 600, m), rng.integers(600, MAX_SEGMENTS, m)],
            MAX_SEGMENTS,
        )
        done = self.status == 1
        has_transcript = done & (rng.random(m) >= 0.08)
        eligible = np.flatnonzero(has_transcript)
        if len(eligible):  # Attio's limit, exactly, in every data set that has a transcript
            sizes[eligible[0]] = MAX_SEGMENTS
        self.segments = np.where(has_transcript, sizes, -1).astype(np.int32)
        self.video = done & (rng.random(m) < 0.6)
        row = np.repeat(np.arange(n), counts)
        lag_ms = rng.integers(5 * 60_000, 3 * 3_600_000, m)
        self.created_ns = (s.end_ms[row] + lag_ms) * 1_000_000 + rng.integers(0, 1_000_000, m)
        self.actor = rng.integers(0, len(_ACTORS), m).astype(np.int8)

    def recording(self, k: int, meeting_id: str) -> Recording:
        hi, lo = int(self.id_hi[k]), int(self.id_lo[k])
        return Recording(
            meeting_id=meeting_id,
            recording_id=_uuid_str((hi << 64) | lo),
            created_ns=int(self.created_ns[k]),
            status=STATUSES[self.status[k]],
            actor={
                "type": _ACTORS[self.actor[k]],
                "id": _uuid_str(((hi ^ 0x0A0A_0000_0000_0000) << 64) | (lo ^ 0x5050_5050)),
            },
            segments=int(self.segments[k]),
            video=bool(self.video[k]),
        )


class RecordingStore:
    """The call recordings of one workspace's meetings; answers in the API's JSON shapes."""

    def __init__(self, meetings: MeetingStore, config: EmulatorConfig) -> None:
        self.meetings = meetings
        self.config = config
        self._created: dict[str, list[Recording]] = {}  # meeting ID -> recordings made by POST
        self._deleted: set[str] = set()  # IDs of seeded recordings deleted
        self._web_base = f"https://app.attio.com/emulator-{config.workspace_id[:8]}/calls"
        self._ids = random.Random(f"recordings:{config.seed}")  # IDs of recordings made by POST

    @cached_property
    def _seeded(self) -> _Seeded:
        return _Seeded(self.meetings, self.config)

    # ---- reading --------------------------------------------------------------------------
    def exists(self, meeting_id: str) -> bool:
        """True when the meeting (lower-case UUID) exists now."""
        return self.meetings.row_of(meeting_id) is not None

    def of_meeting(self, meeting_id: str) -> list[Recording]:
        """The recordings of an existing meeting (lower-case UUID), in the listing's order."""
        found = list(self._created.get(meeting_id, ()))
        row = self.meetings.seeded_row_of(meeting_id)
        if row is not None and self.config.recording_share:
            seeded = self._seeded
            found += [
                rec
                for k in range(int(seeded.off[row]), int(seeded.off[row + 1]))
                if (rec := seeded.recording(k, meeting_id)).recording_id not in self._deleted
            ]
        return sorted(found, key=lambda r: r.order)

    def created_count(self) -> int:
        """How many recordings made through the API exist now."""
        return sum(len(recs) for recs in self._created.values())

    def find(self, meeting_id: str, recording_id: str) -> Recording | None:
        """A recording of this meeting by its (lower-case) ID, or None."""
        return next((r for r in self.of_meeting(meeting_id) if r.recording_id == recording_id), None)

    def all_recordings(self, transcripts: bool = True) -> list[dict[str, Any]]:
        """Every recording of every meeting (meetings in ``start_asc`` order), as GET answers it now
        (with ``transcripts``) or as the list does; for tests that compare with what a client fetched."""
        out = []
        for meeting in self.meetings.all_meetings():
            for rec in self.of_meeting(meeting["id"]["meeting_id"]):
                out.append(self.detail(rec) if transcripts else self.summary(rec))
        return out

    # ---- rendering ------------------------------------------------------------------------
    def summary(self, rec: Recording, status: str | None = None) -> dict[str, Any]:
        """The recording as the list (and POST) answer it."""
        return {
            "id": {
                "workspace_id": self.config.workspace_id,
                "meeting_id": rec.meeting_id,
                "call_recording_id": rec.recording_id,
            },
            "status": status or rec.status_at(time.time_ns()),
            "web_url": self.web_url(rec),
            "created_by_actor": rec.actor,
            "created_at": render_nanos(rec.created_ns),
        }

    def detail(self, rec: Recording) -> dict[str, Any]:
        """The recording as GET answers it: with ``video_url`` and the whole ``transcript`` (or nulls)."""
        now_ns = time.time_ns()
        status = rec.status_at(now_ns)
        segments = self.segments(rec) if status == "completed" else None
        return {
            **self.summary(rec, status),
            "video_url": self._video_url(rec, now_ns) if status == "completed" else None,
            "transcript": None
            if segments is None
            else {"segments": segments, "raw_transcript": raw_transcript(segments)},
        }

    def web_url(self, rec: Recording) -> str:
        return f"{self._web_base}/{rec.meeting_id}/{rec.recording_id}"

    def segments(self, rec: Recording) -> list[dict[str, Any]] | None:
        """The transcript's segments (output shape), or None when the recording has no transcript."""
        if rec.ready_ns is not None:
            return rec.given
        if rec.segments < 0:
            return None
        return _generate(self.config.seed, rec.recording_id, rec.segments)

    def _video_url(self, rec: Recording, now_ns: int) -> str | None:
        if not rec.video:
            return None
        expires = now_ns // 1_000_000_000 + 3600
        signature = hashlib.sha256(f"{self.config.seed}:{rec.recording_id}:{expires}".encode()).hexdigest()
        return (
            f"https://media.attio-emulator.invalid/call-recordings/{rec.recording_id}.mp4"
            f"?expires={expires}&signature={signature[:40]}"
        )

    # ---- writing --------------------------------------------------------------------------
    def add(self, meeting_id: str, given: list[dict[str, Any]] | None, actor_id: str) -> Recording:
        """Store a recording made by POST: ``processing`` until ``recording_delay_s`` has passed."""
        now = time.time_ns()
        rec = Recording(
            meeting_id=meeting_id,
            recording_id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            created_ns=now,
            status="processing",
            actor={"type": "api-token", "id": actor_id},
            given=given,
            ready_ns=now + int(self.config.recording_delay_s * 1e9),
        )
        self._created.setdefault(meeting_id, []).append(rec)
        return rec

    def delete(self, rec: Recording) -> None:
        """Remove a recording and its transcript."""
        if rec.ready_ns is None:
            self._deleted.add(rec.recording_id)
        else:
            self._created[rec.meeting_id].remove(rec)

    def forget_meeting(self, meeting_id: str) -> None:
        """Drop the recordings of a meeting being deleted."""
        for rec in self.of_meeting(meeting_id):
            self.delete(rec)
        self._created.pop(meeting_id, None)


def raw_transcript(segments: list[dict[str, Any]]) -> str:
    """One line per run of one speaker's segments: ``[MM:SS] Name: speech speech`` (hours as H:MM:SS)."""
    lines: list[str] = []
    run: list[str] = []
    speaker = None
    for seg in segments:
        name = seg["speaker"]["name"]
        if name == speaker:
            run.append(seg["speech"])
            continue
        if run:
            lines.append(" ".join(run))
        speaker, run = name, [f"[{_clock(seg['start_time'])}] {name}: {seg['speech']}"]
    if run:
        lines.append(" ".join(run))
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


_SPEECH_SECONDS = np.array([0.06 * len(s) for s in _SPEECH])


def _generate(seed: int, recording_id: str, n: int) -> list[dict[str, Any]]:
    """``n`` segments, a pure function of (seed, recording ID): a conversation of two to five speakers.

    Drawn with NumPy in one pass (a 4,000-segment transcript costs a few milliseconds)."""
    rng = np.random.default_rng([seed, *uuid.UUID(recording_id).fields[:3]])
    speakers = rng.choice(len(_SPEAKERS), int(rng.integers(2, 6)), replace=False)
    turns = rng.random(n) < 0.3  # a segment that may start another speaker's turn, after a pause
    turns[0] = False
    who = speakers[rng.integers(0, len(speakers), n)]  # each turn's speaker, held until the next turn
    who = who[np.maximum.accumulate(np.where(turns, np.arange(n), 0))]
    speech = rng.integers(0, len(_SPEECH), n)
    length = _SPEECH_SECONDS[speech] + rng.uniform(0.05, 0.5, n)
    gap = rng.uniform(0.0, 0.4, n) + np.where(turns, rng.uniform(0.1, 2.5, n), 0.0)
    gap[0] = rng.uniform(0.0, 4.0)
    start = np.cumsum(gap + np.concatenate(([0.0], length[:-1])))
    starts = np.round(start, 2).tolist()
    ends = np.round(start + length, 2).tolist()
    return [
        {"speech": _SPEECH[k], "start_time": a, "end_time": b, "speaker": {"name": _SPEAKERS[w]}}
        for k, a, b, w in zip(speech.tolist(), starts, ends, who.tolist(), strict=True)
    ]


def _uuid_str(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
