"""The bulk load: file batches -> validated rows -> ledger claims -> N workers on one client -> results.

    reader (thread: read + map a batch) --claims--> [bounded stream] --> N workers --> [bounded stream] --> writer
           \\-- rejected / skipped rows ---------------------------------------------------------------/

A slow API fills the bounded streams and so slows the reader; memory is set by ``batch_size`` and
``concurrency``. The write rate is the client's (one limiter shared by all workers).

Exactly once: every valid row is claimed in the ledger (committed) before it is sent, the send itself is
recorded (committed, with the body) right before the POST goes out, after its rate-limit wait, and the
outcome right after the answer. A re-run skips done rows. The loader never
relies on the server alone to avoid duplicates: POSTs are sent with ``retry_ambiguous=False``, and a row
whose send may have been carried out without an answer (a killed run, a dropped connection, a timeout, a
5xx) is first looked for, on either contract, with a list call over the time window of every body sent
for it, matched on what was sent (:func:`same_meeting`), and sent again only when no meeting matches.

With ``sync`` a done row whose content changed goes to a worker too (:mod:`.sync`: update or replace), and
once the whole input is claimed the reader queues the steps for refs no longer in it: pending sync steps to
finish and, with ``delete_missing``, the meetings this ledger created for them to delete (behind the
``max_delete`` guard).

Found or created (Attio answers 200 for both): a row is *created* when the meeting's ``created_at`` is not
earlier than the moment this external_ref was first claimed in the ledger, less ``clock_skew`` seconds;
otherwise *found*, on either contract (a ``create-only`` flag on a server that de-duplicates would otherwise
call another ledger's meeting created, and ``--sync`` could delete it).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..config import RetryPolicy
from ..errors import BrokenInputError, ConnectorError, InvalidArgumentError
from ..models import MeetingQuery
from .config import LoadConfig, LoadReport
from .ledger import Claim, Ledger
from .results import ResultWriter, RowResult
from .rows import Prepared, Rejected, RowMapper, ref_label
from .sources import Source
from .sync import STOPS_THE_LOAD, Step, SyncSteps, error_text

if TYPE_CHECKING:
    from ..client import AttioClient

__all__ = ["LoadRun", "conflict_result", "error_text", "same_meeting"]

Progress = Callable[[int], Any]


def conflict_result(claim: Claim, mapper: RowMapper) -> RowResult:
    """The rejected result of a row that repeats an earlier row's external_ref with another meeting."""
    item = claim.item
    ref = item.body.get("external_ref", item.key)
    differ = f" ({', '.join(claim.differs)} differ)" if claim.differs else ""
    reason = (
        f"external_ref {ref_label(ref)} repeats row {claim.first_row} with different content{differ}; "
        "give each meeting its own ref"
    )
    return RowResult(item.row_number, item.key, "rejected", error=f"invalid_row: {reason}", column=mapper.ref_column(ref))


def _instant(moment: dict[str, Any]) -> Any:
    if "date" in moment:
        return moment["date"]
    at = datetime.fromisoformat(moment["datetime"].replace("z", "Z"))
    # Attio keeps milliseconds: compare at that precision (the mapper sends no more).
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _emails(participants: Any) -> set[str]:
    return {(p.get("email_address") or "").lower() for p in participants or () if p.get("email_address")}


def _links_included(meeting: dict[str, Any], body: dict[str, Any]) -> bool:
    """Every record the body links is among the meeting's (Attio links more: participants' people, companies)."""
    have: set[tuple[str, str]] = set()
    for link in meeting.get("linked_records") or ():
        record = str(link.get("record_id") or "").lower()
        for obj in (link.get("object_slug"), link.get("object_id")):
            if obj:
                have.add((str(obj).lower(), record))
    return all((str(link["object"]).lower(), str(link["record_id"]).lower()) in have for link in body.get("linked_records") or ())


def same_meeting(meeting: dict[str, Any], body: dict[str, Any]) -> bool:
    """True when a listed meeting is what ``body`` would have created: title, description, times (to the
    millisecond), participant emails, and the body's linked records (a subset of the meeting's)."""
    try:
        return (
            meeting.get("title") == body["title"]
            and (meeting.get("description") or "") == (body.get("description") or "")
            and bool(meeting.get("is_all_day")) == body["is_all_day"]
            and _instant(meeting["start"]) == _instant(body["start"])
            and _instant(meeting["end"]) == _instant(body["end"])
            and _emails(meeting.get("participants")) == _emails(body["participants"])
            and _links_included(meeting, body)
        )
    except (KeyError, TypeError, ValueError):
        return False


def lookup_query(body: dict[str, Any]) -> MeetingQuery:
    """The narrowest list query that returns the meeting ``body`` would have created."""
    if body["is_all_day"]:
        start = datetime.fromisoformat(body["start"]["date"] + "T00:00:00+00:00")
    else:
        start = _instant(body["start"])
    emails = sorted(_emails(body["participants"]))
    # Meetings ending at/after the start and starting before start + 1 s: ours, and few others.
    return MeetingQuery(ends_from=start, starts_before=start + timedelta(seconds=1), participants=tuple(emails[:1]))


def _created_at(meeting: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(meeting["created_at"]).replace("z", "Z")).timestamp()
    except (KeyError, ValueError):
        return None


class _Counts(TypedDict):
    """A run's rows and its rows per outcome, by the names of the LoadReport fields they become."""

    rows: int
    created: int
    found: int
    updated: int
    replaced: int
    deleted: int
    unchanged: int
    rejected: int
    failed: int
    skipped: int


class LoadRun:
    """One run of a load: counters, the streams between the stages, and the stage coroutines."""

    def __init__(
        self,
        *,
        source: Source,
        mapper: RowMapper,
        config: LoadConfig,
        client: AttioClient,
        ledger: Ledger,
        results: ResultWriter,
        progress: Progress | None = None,
    ) -> None:
        self.source, self.mapper, self.config, self.client = source, mapper, config, client
        self.ledger, self.results, self.progress = ledger, results, progress
        self.run_id = uuid.uuid4().hex
        self.counts = _Counts(
            rows=0, created=0, found=0, updated=0, replaced=0, deleted=0, unchanged=0, rejected=0, failed=0, skipped=0
        )
        self.errors: list[dict[str, Any]] = []
        self.aborted: str | None = None
        self.input_error: str | None = None
        # Rows in a row that failed for want of Attio (every retry spent), with no success since: one per
        # worker means Attio is down for everyone, and the rest of the file would only wait out retries.
        self._unreachable_streak = 0
        self.unreachable = False
        self.create_only = config.contract == "create-only"
        self.sync = SyncSteps(self)
        self.delete_guard = False
        self._unkeyed_rejects = 0  # rejected rows whose external_ref could not be read (--delete-missing stops)
        self._tg: TaskGroup | None = None

    async def run(self) -> None:
        """Read, send and write until the input is done (with ``sync``: and the steps for refs that left it),
        breaks (rows in flight finish) or the load is aborted."""
        self.ledger.start_run(self.run_id, self.source.name)
        buffer = 2 * self.config.concurrency
        jobs_send, jobs_recv = anyio.create_memory_object_stream[Claim | Step](buffer)
        done_send, done_recv = anyio.create_memory_object_stream[RowResult](buffer)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._write, done_recv)
                async with jobs_recv, done_send:
                    for _ in range(self.config.concurrency):
                        tg.start_soon(self._work, jobs_recv.clone(), done_send.clone())
                    tg.start_soon(self._read, jobs_send, done_send.clone())
        except BaseExceptionGroup as group:
            # Callers (and the CLI's one-line errors) get the error that stopped the load, not a group.
            error = _only_error(group)
            if error is None:
                raise
            raise error from None

    def _unseen_steps(self) -> list[Step]:
        """Pending steps of refs not in the input, and (``delete_missing``, within the guard) meetings to delete."""
        steps, total = self.ledger.unseen(self.run_id)
        pending = [step for step in steps if step[2] not in (None, "lost")]
        missing = [step for step in steps if step[2] in (None, "lost")] if self.config.delete_missing else []
        if missing and self._unkeyed_rejects:
            self.aborted = (
                f"--delete-missing deleted nothing: {self._unkeyed_rejects} rejected rows have no readable external_ref, "
                "so which meetings left the input is unknown; fix those rows and run again"
            )
            missing = []
        elif len(missing) > self.config.max_delete * total:
            self.delete_guard = True
            self.aborted = (
                f"--delete-missing deleted nothing: {len(missing)} of the {total} meetings this ledger created are not "
                f"in the input ({len(missing) / total:.0%}), over --max-delete {self.config.max_delete:.0%}; "
                "check the input, or raise --max-delete if that many really left"
            )
            missing = []
        return pending + missing

    # ------------------------------------------------------------------------------------- reader

    async def _read(self, jobs: MemoryObjectSendStream[Claim | Step], done: MemoryObjectSendStream[RowResult]) -> None:
        chunk = max(16, 2 * self.config.concurrency)
        async with jobs, done:
            batches = iter(self.source.batches(self.config.batch_size))
            rule_checked = False
            while True:
                try:
                    mapped = await anyio.to_thread.run_sync(_next_mapped, batches, self.mapper)
                except BrokenInputError as exc:
                    # The rows before the break were read and are being sent: let them finish and be recorded.
                    self.input_error = str(exc)
                    return
                if mapped is None:
                    break
                if not rule_checked and (keys := [item.key for item in mapped if item.key is not None]):
                    # Before anything of this run is written: a mapping that makes refs another way would send
                    # every row again (1,000 refs tell a renamed column from a changed key).
                    self.ledger.check_ref_rule(self.mapper.ref_rule, keys[:1000])
                    rule_checked = True
                valid: list[Prepared] = []
                if self.config.sync:  # a rejected row is still in the input: its meeting must not be deleted
                    rejected = [item.key for item in mapped if isinstance(item, Rejected)]
                    self.ledger.mark_seen([k for k in rejected if k is not None], self.run_id)
                    self._unkeyed_rejects += rejected.count(None)
                for item in mapped:
                    if isinstance(item, Rejected):
                        err = item.error
                        await done.send(
                            RowResult(item.row_number, item.key, "rejected", error=f"invalid_row: {err.reason}", column=err.column)
                        )
                    else:
                        valid.append(item)
                # Claims are committed per small group, so few rows are ever claimed but not yet sent.
                for i in range(0, len(valid), chunk):
                    for claim in self.ledger.claim(valid[i : i + chunk], self.run_id):
                        await self._dispatch(claim, jobs, done)
            # The whole input is claimed, so every ref in it is marked seen: the steps for the others can start
            # while the last rows are still being sent (they touch other refs).
            if self.config.sync and not self.aborted:
                for step in self._unseen_steps():
                    await jobs.send(step)

    async def _dispatch(
        self, claim: Claim, jobs: MemoryObjectSendStream[Claim | Step], done: MemoryObjectSendStream[RowResult]
    ) -> None:
        item = claim.item
        if claim.action == "send" or (claim.action == "done" and self.config.sync and (claim.changes or claim.op)):
            await jobs.send(claim)
        elif claim.action == "done" and self.config.sync:
            await done.send(RowResult(item.row_number, item.key, "unchanged", claim.meeting_id))
        elif claim.action == "done":
            note = "loaded by an earlier run"
            if claim.changed:
                note += "; the row changed since and was not sent again (find-or-create does not update)"
            await done.send(RowResult(item.row_number, item.key, "skipped", claim.meeting_id, note))
        elif claim.action == "conflict":
            await done.send(conflict_result(claim, self.mapper))
        else:
            await done.send(
                RowResult(
                    item.row_number,
                    item.key,
                    "skipped",
                    claim.meeting_id,
                    f"duplicate: external_ref repeats row {claim.first_row}; sent once",
                )
            )

    # ------------------------------------------------------------------------------------ workers

    async def _work(self, jobs: MemoryObjectReceiveStream[Claim | Step], done: MemoryObjectSendStream[RowResult]) -> None:
        async with jobs, done:
            async for job in jobs:
                await done.send(await self._job(job))

    async def _job(self, job: Claim | Step) -> RowResult:
        if not isinstance(job, Claim) or job.action == "done":
            result = await (self.sync.row(job) if isinstance(job, Claim) else self.sync.step(job))
            if result.outcome != "failed":
                self._unreachable_streak = 0
            return result
        result = await self.send_row(job)
        if job.op == "replace" and job.old_meeting_id:  # an earlier run's replace, its create unconfirmed
            try:
                return await self.sync.after_create(job.item, result, job.old_meeting_id)
            except STOPS_THE_LOAD:
                raise
            except ConnectorError as exc:
                return RowResult(job.item.row_number, job.item.key, "failed", result.meeting_id, error_text(exc),
                                 old_meeting_id=job.old_meeting_id)
        return result

    async def send_row(self, claim: Claim) -> RowResult:
        """Create (or find) the meeting of a claimed row, looking first when an earlier send may have made it."""
        item = claim.item
        attempts = claim.attempts
        # Whether a send of this ref may have been carried out unseen (an earlier run's, or this run's).
        maybe_sent = claim.maybe_sent
        try:
            if maybe_sent:
                # An earlier run may have created it, perhaps from a body the row had then: look for each
                # body sent (only those: a meeting like a body never sent is someone else's).
                bodies = list(claim.sent_bodies)
                if (meeting := await self.look_for(item.key, bodies)) is not None:
                    made_from = next((b for b in bodies if same_meeting(meeting, b)), item.body)
                    result = self._finish(claim, meeting, attempts, fresh=False, body=made_from)
                    if self.config.sync and made_from != item.body:
                        return await self.sync.refresh(item, result, made_from)
                    return result
            sends = 0
            sending = partial(self.ledger.sending, item.key, item.body)
            while True:
                attempts += 1
                sends += 1
                try:
                    # Never let the client repeat a POST whose answer was lost: on a create-only API that
                    # duplicates, and the contract flag cannot be trusted to say what the server does.
                    meeting = await self.client.find_or_create_meeting(
                        item.body, retry_ambiguous=False, on_send=sending
                    )
                    return self._finish(claim, meeting, attempts, fresh=self.create_only)
                except ConnectorError as exc:
                    maybe_sent = maybe_sent or exc.ambiguous
                    if isinstance(exc, STOPS_THE_LOAD):
                        raise  # every row would fail the same way: stop the load
                    if not (exc.ambiguous and sends < self.config.max_sends):
                        raise
                # The POST may have been carried out: back off, then look before sending it again.
                await anyio.sleep(self.backoff(sends))
                if (meeting := await self.look_for(item.key, [item.body])) is not None:
                    return self._finish(claim, meeting, attempts, fresh=False)
        except STOPS_THE_LOAD:
            raise
        except InvalidArgumentError as exc:
            self.ledger.record(item.key, "failed", attempts=attempts, maybe_sent=maybe_sent, error=str(exc))
            return RowResult(item.row_number, item.key, "rejected", error=f"invalid_row: {exc}", attempts=attempts)
        except ConnectorError as exc:
            text = error_text(exc)
            self.ledger.record(item.key, "failed", attempts=attempts, maybe_sent=maybe_sent, error=text)
            self.note_unreachable(exc)
            return RowResult(item.row_number, item.key, "failed", error=text, attempts=attempts)

    def note_unreachable(self, exc: ConnectorError) -> None:
        """Count a row that failed for want of Attio (every retry spent); any other failure ends the streak."""
        self._unreachable_streak = self._unreachable_streak + 1 if exc.retryable else 0

    def backoff(self, sends: int) -> float:
        """Full-jitter exponential delay before the next send of a row, from the client's retry policy."""
        policy = getattr(getattr(self.client, "config", None), "retry", None)
        if not isinstance(policy, RetryPolicy):
            policy = RetryPolicy()
        return random.uniform(0, min(policy.max_delay, policy.initial_delay * policy.multiplier ** (sends - 1)))

    async def look_for(self, key: str, bodies: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The meeting one of ``bodies`` created, found by list calls over their time windows, or None.

        A meeting the ledger holds for another external_ref is never taken (two rows may look alike). The
        check and the caller's record of the match happen with no await between them, so two rows of one
        run cannot take the same meeting either.
        """
        queries: list[MeetingQuery] = []
        for body in bodies:
            query = lookup_query(body)
            if query not in queries:
                queries.append(query)
        for query in queries:
            async for page in self.client.list_meetings(query):
                for meeting in page.meetings:
                    meeting_id = (meeting.get("id") or {}).get("meeting_id")
                    if not any(same_meeting(meeting, body) for body in bodies):
                        continue
                    if meeting_id and self.ledger.owned_by_other(meeting_id, key):
                        continue
                    return meeting
        return None

    def _finish(
        self, claim: Claim, meeting: dict[str, Any], attempts: int, *, fresh: bool, body: dict[str, Any] | None = None
    ) -> RowResult:
        """Record the row's meeting, made from ``body`` (the row's body unless an earlier one of it was found);
        ``fresh``: the answer to this row's POST on create-only, which decides only when the meeting has no
        ``created_at``."""
        item = claim.item
        meeting_id = (meeting.get("id") or {}).get("meeting_id")
        created_at = _created_at(meeting)
        # Even on create-only: a meeting older than the claim was not made by it (the flag may be wrong, and a
        # meeting called created may later be replaced or deleted by --sync).
        created = fresh if created_at is None else created_at >= claim.claimed_at - self.config.clock_skew
        outcome: Literal["created", "found"] = "created" if created else "found"
        self.ledger.record(item.key, outcome, meeting_id=meeting_id, attempts=attempts, body=body or item.body)
        self._unreachable_streak = 0
        return RowResult(item.row_number, item.key, outcome, meeting_id, attempts=attempts)

    # ------------------------------------------------------------------------------------- writer

    async def _write(self, done: MemoryObjectReceiveStream[RowResult]) -> None:
        async with done:
            async for result in done:
                self.counts["rows"] += result.row_number is not None
                self.counts[result.outcome] += 1
                self.results.write(result)
                if self.progress is not None:
                    self.progress(1)
                if result.outcome in ("rejected", "failed"):
                    if len(self.errors) < self.config.error_sample:
                        self.errors.append(result.to_dict())
                    bad = self.counts["rejected"] + self.counts["failed"]
                    if self._unreachable_streak >= self.config.concurrency and not self.unreachable:
                        self.unreachable = True
                        self.aborted = (
                            f"Attio unreachable: {self._unreachable_streak} rows in a row failed after every retry "
                            f"(last: {result.error}); run the same command again once it is back"
                        )
                        self._flush()
                        assert self._tg is not None
                        self._tg.cancel_scope.cancel()
                        return
                    if self.config.max_errors is not None and bad > self.config.max_errors:
                        self.aborted = f"more than {self.config.max_errors} rows rejected or failed (--max-errors)"
                        self._flush()
                        assert self._tg is not None
                        self._tg.cancel_scope.cancel()
                        return
                # Make outcomes durable and visible whenever the stream is momentarily empty.
                if done.statistics().current_buffer_used == 0:
                    self._flush()

    def _flush(self) -> None:
        self.results.flush()
        self.ledger.commit()

    def report(self, *, seconds: float, stats: dict[str, Any], results_path: Path | None, ledger_path: Path | None) -> LoadReport:
        """The report of this run."""
        return LoadReport(
            **self.counts,
            requests=stats.get("requests", 0),
            retries=stats.get("retries", 0),
            rate_limited=stats.get("rate_limited", 0),
            writes=stats.get("writes", 0),
            seconds=seconds,
            writes_per_second=stats.get("writes", 0) / seconds if seconds > 0 else 0.0,
            results_path=results_path,
            ledger_path=ledger_path,
            errors=tuple(self.errors),
            aborted=self.aborted,
            input_error=self.input_error,
            unreachable=self.unreachable,
            contract=self.config.contract,
            sync=self.config.sync,
            delete_guard=self.delete_guard,
        )


def _only_error(group: BaseExceptionGroup) -> ConnectorError | None:
    """The first ConnectorError of a group that holds nothing but ConnectorErrors (and the BrokenResourceErrors
    of stages that sent to the stage the error stopped), else None."""
    rest = group.subgroup(
        lambda exc: not isinstance(exc, ConnectorError | BaseExceptionGroup | anyio.BrokenResourceError)
    )
    if rest is not None:
        return None
    for exc in group.exceptions:
        found = _only_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, ConnectorError):
            return found
    return None


def _next_mapped(batches: Any, mapper: RowMapper) -> list[Prepared | Rejected] | None:
    """Read and map the next batch (runs in a worker thread); None at the end."""
    batch = next(batches, None)
    return None if batch is None else mapper.map_batch(batch)

