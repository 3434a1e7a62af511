"""One run of ``load-recordings``: inputs -> meetings -> look, then create at most once -> results.

Exactly once without an idempotency key (CONTRACT.md §13, choice 3). Before an input's first create, and
again after any create whose answer was lost, the run lists the meeting's recordings and reads each
(``GET``, transcript inline): one whose transcript equals the input's (:func:`~connector.transcripts.transcript_key`)
*is* the input's recording, and nothing is sent. Reads cost little next to the 1 create a second, so the
look also makes a re-run safe without the ledger, and two inputs with the same transcript for one meeting
make one recording. The ledger records the intent before each POST; a match after a POST that may have been
carried out (``created_at`` after the claim) is *created*, any other match *already_present*. A recording
made since the claim that is still ``processing`` with no transcript yet cannot be compared: the input
fails, keeps its mark and is looked at again on the next run; it is never sent twice.

Inputs of one meeting are handled one at a time (a lock per meeting), so two workers never race to create
the same transcript. Stages as in :class:`~connector.load.runner.LoadRun`: a reader (parsing in a worker
thread), ``concurrency`` workers, one writer of the results.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ...config import RetryPolicy
from ...errors import (
    BadRequestError,
    ConnectorError,
    InvalidArgumentError,
    NotFoundError,
)
from ...models import is_valid_uuid
from ...transcripts import transcript_fingerprint
from ..results import ResultWriter
from ..runner import _only_error
from ..sync import STOPS_THE_LOAD, error_text
from .config import RecordingResult, RecordingsConfig
from .inputs import InputRejection, RecordingInput, read_inputs
from .ledger import RecordingClaim, RecordingsLedger
from .mapping import MeetingsLedgerView, RecordingsMapping

if TYPE_CHECKING:
    from ...client import AttioClient

__all__ = ["RecordingsRun"]

_Job = tuple[RecordingInput, str]


def _created_at(recording: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(recording["created_at"])).timestamp()
    except (KeyError, ValueError):
        return None


class RecordingsRun:
    """One run: the ledger, the results, the per-meeting locks and the counters, from the first file to the report."""

    def __init__(
        self,
        *,
        client: AttioClient | None,
        config: RecordingsConfig,
        mapping: RecordingsMapping,
        ledger: RecordingsLedger | None,
        results: ResultWriter,
        meetings: MeetingsLedgerView | None = None,
        progress: Callable[[int], Any] | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.mapping = mapping
        self.ledger = ledger
        self.results = results
        self.progress = progress
        self.run_id = uuid.uuid4().hex
        self.counts: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self._meetings = meetings
        self._locks: dict[str, anyio.Lock] = {}

    async def run(self, files: list[Path], rejected: Sequence[InputRejection] = ()) -> None:
        """Read, send and record every input of ``files``; ``rejected``: inputs refused before reading."""
        jobs_in, jobs_out = anyio.create_memory_object_stream[_Job](self.config.concurrency)
        done_in, done_out = anyio.create_memory_object_stream[RecordingResult](self.config.concurrency)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, files, rejected, jobs_in, done_in.clone())
                for _ in range(self.config.concurrency if self.client is not None else 0):
                    tg.start_soon(self._work, jobs_out.clone(), done_in.clone())
                tg.start_soon(self._write, done_out)
                jobs_out.close()
                done_in.close()
        except BaseExceptionGroup as group:
            # The error that stopped the load (a refused token, a quota), not the group.
            error = _only_error(group)
            if error is None:
                raise
            raise error from None

    # ------------------------------------------------------------------------------------- reader

    async def _read(
        self,
        files: list[Path],
        rejected: Sequence[InputRejection],
        jobs: MemoryObjectSendStream[_Job],
        done: MemoryObjectSendStream[RecordingResult],
    ) -> None:
        async with jobs, done:
            for rejection in rejected:
                await done.send(
                    RecordingResult(
                        rejection.label, self._known_meeting(rejection), None, "rejected", rejection.reason
                    )
                )
            for path in files:
                items = await anyio.to_thread.run_sync(lambda p: list(read_inputs(p, self.mapping)), path)
                for item in items:
                    if isinstance(item, InputRejection):
                        await done.send(
                            RecordingResult(
                                item.label, self._known_meeting(item), None, "rejected", item.reason
                            )
                        )
                        continue
                    meeting_id, problem = self._meeting_id(item)
                    if meeting_id is None:
                        await done.send(
                            RecordingResult(item.label, None, None, "rejected", problem, len(item.segments))
                        )
                    elif self.client is None:
                        note = f"dry run: valid, {len(item.segments)} segment(s), not sent"
                        await done.send(
                            RecordingResult(item.label, meeting_id, None, "skipped", note, len(item.segments))
                        )
                    else:
                        await jobs.send((item, meeting_id))

    def _known_meeting(self, item: InputRejection) -> str | None:
        ref = item.meeting
        return ref.value if ref is not None and ref.kind == "meeting_id" else None

    def _meeting_id(self, item: RecordingInput) -> tuple[str | None, str]:
        """The input's meeting, or None and the reason it has none."""
        ref = item.meeting
        if ref is None:
            return None, (
                "no meeting for this transcript: the mapping's [meeting] sidecar and filename_pattern do "
                "not name one, and the table has no meeting_id or external_ref column"
            )
        if ref.kind == "meeting_id":
            if not is_valid_uuid(ref.value.lower()):
                return None, f"meeting_id {ref.value!r} ({ref.origin}) is not a UUID"
            return ref.value.lower(), ""
        if self._meetings is None:
            return None, (
                f"external_ref {ref.value!r} ({ref.origin}) needs the meetings ledger: set [meeting] "
                "meetings_ledger in the mapping"
            )
        meeting_id = self._meetings.meeting_id(ref.value)
        if meeting_id is None:
            return None, (
                f"external_ref {ref.value!r} ({ref.origin}) is not a loaded meeting in "
                f"{self._meetings.path}: load the meeting first"
            )
        return meeting_id, ""

    # ------------------------------------------------------------------------------------ workers

    async def _work(
        self, jobs: MemoryObjectReceiveStream[_Job], done: MemoryObjectSendStream[RecordingResult]
    ) -> None:
        async with jobs, done:
            async for item, meeting_id in jobs:
                lock = self._locks.setdefault(meeting_id, anyio.Lock())
                async with lock:
                    await done.send(await self.send_input(item, meeting_id))

    async def send_input(self, item: RecordingInput, meeting_id: str) -> RecordingResult:
        """Create the recording of one input unless the meeting has it already; the input's result."""
        assert self.ledger is not None and self.client is not None
        body = [segment.to_body() for segment in item.segments]
        fingerprint = transcript_fingerprint(body)
        n = len(body)
        claim = self.ledger.claim(item.label, meeting_id, fingerprint, self.run_id)
        if claim.done:
            note = "loaded by an earlier run"
            if claim.changed:
                note += "; the input changed since (meeting or transcript) and was not sent again"
            return RecordingResult(
                item.label, claim.meeting_id, claim.call_recording_id, "already_present", note, n
            )
        attempts, maybe_sent = claim.attempts, claim.maybe_sent
        try:
            found = await self._look(claim, maybe_sent)
            sends = 0
            while found is None:
                attempts += 1
                sends += 1
                self.counts["creates"] += 1
                try:
                    recording = await self.client.create_call_recording(
                        meeting_id,
                        body,
                        retry_ambiguous=False,
                        on_send=partial(self.ledger.sending, item.label, meeting_id, fingerprint, attempts),
                    )
                except ConnectorError as exc:
                    maybe_sent = maybe_sent or exc.ambiguous
                    if not (exc.ambiguous and sends < self.config.max_sends):
                        raise
                else:
                    self.counts["segments_sent"] += n
                    return self._finish(claim, recording, "created", attempts, n, None)
                # The create may have been carried out: wait a little, then look before sending it again.
                await anyio.sleep(self._backoff(sends))
                found = await self._look(claim, True)
            if maybe_sent and self._made_since_claim(found, claim):
                note = "the answer to a create was lost; the recording was found on the meeting"
                return self._finish(claim, found, "created", attempts, n, note)
            note = "the meeting already has a recording with this transcript"
            return self._finish(claim, found, "already_present", attempts, n, note)
        except STOPS_THE_LOAD:
            raise  # every input would fail the same way: stop the load
        except NotFoundError as exc:
            return self._failed(
                claim,
                "rejected",
                f"meeting {meeting_id} not found in Attio ({exc.status} {exc.code or 'not_found'})",
                attempts,
                maybe_sent,
                n,
            )
        except (BadRequestError, InvalidArgumentError) as exc:
            reason = error_text(exc) if isinstance(exc, BadRequestError) else str(exc)
            return self._failed(
                claim, "rejected", f"Attio refused the transcript: {reason}", attempts, maybe_sent, n
            )
        except _StillProcessing as exc:
            return self._failed(claim, "failed", str(exc), attempts, True, n)
        except ConnectorError as exc:
            return self._failed(claim, "failed", error_text(exc), attempts, maybe_sent, n)

    async def _look(self, claim: RecordingClaim, maybe_sent: bool) -> dict[str, Any] | None:
        """The meeting's recording whose transcript is one this input sent (or is), else None.

        A recording made since the claim that has no transcript yet may be this input's own create still
        being processed: when a create may have been sent, that is :class:`_StillProcessing`, not None.
        """
        assert self.client is not None
        unsure = None
        async for page in self.client.list_call_recordings(claim.meeting_id, limit=200):
            for summary in page.recordings:
                recording_id = (summary.get("id") or {}).get("call_recording_id")
                if not recording_id:
                    continue
                try:
                    recording = await self.client.get_call_recording(claim.meeting_id, recording_id)
                except NotFoundError:  # deleted since the list: not this input's, and not the meeting's 404
                    continue
                transcript = recording.get("transcript")
                segments = transcript.get("segments") if isinstance(transcript, dict) else None
                if segments is None:
                    if recording.get("status") == "processing" and self._made_since_claim(recording, claim):
                        unsure = recording_id
                    continue
                try:
                    if transcript_fingerprint(segments) in claim.fingerprints:
                        return recording
                except (KeyError, TypeError):  # a segment not shaped as documented cannot be this input's
                    continue
        if unsure is not None and maybe_sent:
            raise _StillProcessing(
                f"recording {unsure} was made since this input was claimed and is still processing, so its transcript "
                "cannot be compared yet; run the same command again later (nothing is sent twice)"
            )
        return None

    def _made_since_claim(self, recording: dict[str, Any], claim: RecordingClaim) -> bool:
        created_at = _created_at(recording)
        return created_at is None or created_at >= claim.claimed_at - self.config.clock_skew

    def _backoff(self, sends: int) -> float:
        policy = getattr(getattr(self.client, "config", None), "retry", None) or RetryPolicy()
        return random.uniform(
            0, min(policy.max_delay, policy.initial_delay * policy.multiplier ** (sends - 1))
        )

    def _finish(
        self,
        claim: RecordingClaim,
        recording: dict[str, Any],
        outcome: Literal["created", "already_present"],
        attempts: int,
        n: int,
        note: str | None,
    ) -> RecordingResult:
        assert self.ledger is not None
        recording_id = (recording.get("id") or {}).get("call_recording_id")
        self.ledger.record(claim.key, outcome, call_recording_id=recording_id, attempts=attempts)
        return RecordingResult(claim.key, claim.meeting_id, recording_id, outcome, note, n)

    def _failed(
        self,
        claim: RecordingClaim,
        outcome: Literal["rejected", "failed"],
        reason: str,
        attempts: int,
        maybe_sent: bool,
        n: int,
    ) -> RecordingResult:
        assert self.ledger is not None
        self.ledger.record(claim.key, "failed", attempts=attempts, maybe_sent=maybe_sent, error=reason)
        return RecordingResult(claim.key, claim.meeting_id, None, outcome, reason, n)

    # ------------------------------------------------------------------------------------- writer

    async def _write(self, done: MemoryObjectReceiveStream[RecordingResult]) -> None:
        async with done:
            async for result in done:
                self.counts["inputs"] += 1
                self.counts[result.outcome] += 1
                self.results.write(result)
                self.results.flush()
                if result.outcome in ("rejected", "failed") and len(self.errors) < self.config.error_sample:
                    self.errors.append(result.to_dict())
                if self.progress is not None:
                    self.progress(1)

    def summary(self) -> str:
        """The run's counts as JSON, for the ledger's runs table."""
        return json.dumps(dict(self.counts) | {"finished": time.time()})


class _StillProcessing(ConnectorError):
    """A recording that may be this input's is still processing: compare it on a later run."""
