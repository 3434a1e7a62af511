"""``--sync``: keep Attio in step with the input, one recorded step at a time.

A row the ledger holds as done is compared field by field with what its meeting holds (the ledger's
``loaded_fields``, see :mod:`.ledger`):

- nothing differs: *unchanged*, nothing is sent (no GET either);
- only ``linked_records`` differ: *updated*. Links the row added are appended with ``PATCH``; when the
  row dropped some, the meeting is read (``GET``) and ``PUT`` with its links less the dropped ones plus the
  added ones. So the links Attio made itself (the participants' people, their companies) stay, unless
  the row listed one and then dropped it;
- anything else differs (title, description, times, participants): *replaced*. Attio allows no other
  change, so a new meeting is created and the old one deleted: on ``create-only`` create first, then
  delete; on ``find-or-create`` delete first (a POST with the same external_ref would find the old
  meeting), then create. Only a meeting this ledger created is replaced; a *found* one is skipped.

Every step is recorded in the ledger before it is sent (``op``, ``old_meeting_id``) and cleared when it
is done, so a run that finds a step pending finishes it: a replace interrupted between its create and its
delete gets its delete, one interrupted before its create gets the create (after the usual lookup). A
``DELETE`` whose answer was lost is checked with a ``GET``: 404 means done.

``--delete-missing``: after the input, each meeting this ledger *created* whose external_ref was not in
the input is deleted, unless that is more than ``max_delete`` of the ledger's created meetings (then none
is), the input broke part-way, the load was aborted, or a rejected row's external_ref could not be read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ..errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConnectorError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
)
from .ledger import Claim
from .results import RowResult
from .rows import Prepared, differing_fields, field_fingerprints

if TYPE_CHECKING:
    from .runner import LoadRun

__all__ = ["STOPS_THE_LOAD", "Step", "SyncSteps", "error_text", "link_changes"]

# Errors every row would meet (the token, its scopes, the ledger's file): they stop the load, never fail one row.
STOPS_THE_LOAD = (AuthenticationError, PermissionDeniedError, LedgerError)

# (external_ref key, meeting ID, pending op or None): a step for a ref the input no longer holds.
Step = tuple[str, str, str | None]
Gone = Literal["deleted", "gone", "refused"]


def error_text(exc: BaseException) -> str:
    """``type/code: message`` of an API error; ``transport/<Error>: message`` of anything else."""
    if isinstance(exc, ApiError):
        kind = "/".join(p for p in (exc.type, exc.code) if p) or f"http_{exc.status}"
        return f"{kind}: {exc.message}"
    return f"transport/{type(exc).__name__}: {exc}"


def _link_key(link: dict[str, Any]) -> tuple[str, str]:
    return str(link["object"]).lower(), str(link["record_id"]).lower()


def link_changes(
    old: tuple[dict[str, Any], ...] | list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """The links of ``new`` that ``old`` lacks, and the ``(object, record_id)`` keys ``new`` dropped."""
    have = {_link_key(link) for link in old}
    added = list({_link_key(link): link for link in new if _link_key(link) not in have}.values())
    return added, have - {_link_key(link) for link in new}


def _kept(meeting: dict[str, Any], dropped: set[tuple[str, str]]) -> list[dict[str, str]]:
    """The meeting's links, as a PUT body's, less those ``dropped`` names (by object slug or object ID)."""
    out = []
    for link in meeting.get("linked_records") or ():
        record = str(link.get("record_id") or "").lower()
        names = {str(link.get(k) or "").lower() for k in ("object_slug", "object_id")}
        if not any((name, record) in dropped for name in names):
            out.append({"object": link["object_slug"], "record_id": link["record_id"]})
    return out


class SyncSteps:
    """The sync steps of one :class:`~.runner.LoadRun`: rows to update or replace, meetings to delete."""

    def __init__(self, run: LoadRun) -> None:
        self.run = run
        self.ledger, self.client, self.config = run.ledger, run.client, run.config

    # ------------------------------------------------------------------------------------ rows

    async def row(self, claim: Claim) -> RowResult:
        """A row the ledger holds as done: finish its pending step, then update, replace or leave it."""
        item, meeting_id = claim.item, claim.meeting_id
        try:
            try:
                return await self._row(claim)
            except NotFoundError:
                # The meeting was deleted in Attio since it was loaded: the row gets a new one.
                return await self._create(item, None, replaced=meeting_id)
        except STOPS_THE_LOAD:
            raise
        except ConnectorError as exc:
            return self._failed(claim, exc, meeting_id)

    async def refresh(self, item: Prepared, result: RowResult, made_from: dict[str, Any]) -> RowResult:
        """A lookup found the row's meeting, made from an earlier body of the row: bring it up to the row."""
        changes = tuple(differing_fields(field_fingerprints(made_from), field_fingerprints(item.body)))
        if not changes:
            return result
        links = tuple(made_from.get("linked_records") or ())
        return await self.row(
            Claim(
                item, "done", state=result.outcome, meeting_id=result.meeting_id, changes=changes, links=links
            )
        )

    async def _row(self, claim: Claim) -> RowResult:
        item, meeting_id = claim.item, claim.meeting_id
        if claim.op == "delete" and meeting_id:
            # Its row left an earlier input, and is back: the delete may have been carried out (404 below).
            await self.client.get_meeting(meeting_id)
            self.ledger.old_deleted(item.key)
        if claim.op == "replace" and claim.old_meeting_id:
            old = claim.old_meeting_id
            await self.delete(old)
            if old == meeting_id:  # deleted first (find-or-create): the row has no meeting now
                return await self._create(item, None, replaced=old)
            self.ledger.old_deleted(item.key)
            if not claim.changes:
                return RowResult(item.row_number, item.key, "replaced", meeting_id, old_meeting_id=old)
        if claim.op == "update" or claim.changes == ("linked_records",):
            # (a pending update may have been carried out: its links are settled, whatever the row says now)
            return await self._update(claim)
        if not claim.changes:
            return RowResult(item.row_number, item.key, "unchanged", meeting_id)
        if claim.state != "created":
            return RowResult(
                item.row_number,
                item.key,
                "skipped",
                meeting_id,
                f"{', '.join(claim.changes)} changed, but the meeting was found in Attio, not created by this "
                "ledger: replacing it would delete a meeting the load did not make",
            )
        if self.run.create_only:
            return await self._create(item, meeting_id)
        self.ledger.begin(item.key, "replace", meeting_id)
        await self.delete(meeting_id)  # type: ignore[arg-type]
        return await self._create(item, None, replaced=meeting_id)

    async def _update(self, claim: Claim) -> RowResult:
        item, meeting_id = claim.item, claim.meeting_id
        assert meeting_id is not None
        wanted = item.body.get("linked_records") or []
        added, dropped = link_changes(claim.links, wanted)
        # links an earlier update, whose answer was lost, may have added and the row does not want
        dropped |= {_link_key(link) for link in claim.op_links} - {_link_key(link) for link in wanted}
        self.ledger.begin(item.key, "update", links=wanted)
        if dropped:
            meeting = await self.client.get_meeting(meeting_id)
            links = {_link_key(link): link for link in [*_kept(meeting, dropped), *added]}
            await self.client.update_meeting(meeting_id, list(links.values()), replace=True)
        elif added:
            await self.client.update_meeting(meeting_id, added, replace=False)
        self.ledger.updated(item.key, item.body)
        return RowResult(item.row_number, item.key, "updated", meeting_id)

    async def _create(self, item: Prepared, old: str | None, replaced: str | None = None) -> RowResult:
        """POST the row's new body; ``old``: the meeting to delete afterwards (create first), ``replaced``: the one
        deleted already (delete first)."""
        claimed_at = self.ledger.resend(item, old)
        result = await self.run.send_row(Claim(item, "send", claimed_at=claimed_at))
        return await self.after_create(item, result, old, replaced)

    async def after_create(
        self, item: Prepared, result: RowResult, old: str | None, replaced: str | None = None
    ) -> RowResult:
        """The POST of a replace is answered: delete the old meeting (``old``) now that the new one exists."""
        if result.outcome not in ("created", "found"):
            return replace(result, old_meeting_id=old or replaced)
        if old is not None:
            if result.meeting_id == old:
                # The server found the old meeting by its ref (find-or-create): delete it first after all.
                self.ledger.begin(item.key, "replace", old)
                await self.delete(old)
                return await self._create(item, None, replaced=old)
            await self.delete(old)
            self.ledger.old_deleted(item.key)
        return replace(result, outcome="replaced", old_meeting_id=old or replaced)

    # -------------------------------------------------------------------------------- deletions

    async def step(self, step: Step) -> RowResult:
        """A step for a ref the input no longer holds: a pending delete or replace, or a meeting to delete."""
        key, meeting_id, op = step
        try:
            if op == "undo":
                # The row left the input before its replace's create was confirmed: delete what that POST may
                # have made (found as any lost send is), and the old meeting is the ref's again.
                made = await self.run.look_for(key, self.ledger.sent_bodies(key))
                if made is not None and made["id"]["meeting_id"] != meeting_id:
                    await self.delete(made["id"]["meeting_id"])
                self.ledger.undo_replace(key, meeting_id)
                if not self.config.delete_missing:
                    note = "its row left the input before its replace was done: the replace was undone"
                    return RowResult(None, key, "skipped", meeting_id, note)
                op = None
            if op == "lost":  # a send of the row may have made a meeting: it is ours, and its row is gone
                made = await self.run.look_for(key, self.ledger.sent_bodies(key))
                if made is None:
                    self.ledger.forget(key)
                    return RowResult(
                        None, key, "skipped", None, "its row left the input; no meeting of it was found"
                    )
                meeting_id, op = made["id"]["meeting_id"], None
            if op is None:
                self.ledger.begin(key, "delete", meeting_id)
            gone = await self.delete(meeting_id)
            if gone == "refused":
                text = "invalid_request_error/system_edit_unauthorized: Attio refuses to delete a calendar-synced meeting"
                self.ledger.step_failed(key, text, keep=False)
                return RowResult(None, key, "skipped", meeting_id, text)
            if op == "replace" and self.ledger.meeting_id(key) != meeting_id:
                # The new meeting stays: it is the ref's now, and --delete-missing decides about it.
                self.ledger.old_deleted(key)
                return RowResult(
                    None, key, "replaced", self.ledger.meeting_id(key), old_meeting_id=meeting_id
                )
            self.ledger.removed(key, meeting_id, self.run.run_id)
            return RowResult(None, key, "deleted", old_meeting_id=meeting_id)
        except STOPS_THE_LOAD:
            raise
        except ConnectorError as exc:
            text = error_text(exc)
            self.ledger.step_failed(key, text, keep=True)
            return RowResult(None, key, "failed", None, text, old_meeting_id=meeting_id)

    async def delete(self, meeting_id: str) -> Gone:
        """Delete a meeting; a lost answer is checked with a GET (404: done) before the DELETE is sent again."""
        sends = 0
        while True:
            sends += 1
            try:
                await self.client.delete_meeting(meeting_id, retry_ambiguous=False)
                return "deleted"
            except NotFoundError:
                return "gone"
            except BadRequestError as exc:
                if exc.code == "system_edit_unauthorized":
                    return "refused"
                raise
            except ConnectorError as exc:
                if not (exc.ambiguous and sends < self.config.max_sends):
                    raise
            await anyio.sleep(self.run.backoff(sends))
            try:
                await self.client.get_meeting(meeting_id)
            except NotFoundError:
                return "deleted"

    def _failed(self, claim: Claim, exc: ConnectorError, meeting_id: str | None) -> RowResult:
        text = error_text(exc)
        self.ledger.step_failed(claim.item.key, text, keep=True)
        self.run.note_unreachable(exc)
        return RowResult(claim.item.row_number, claim.item.key, "failed", meeting_id, text)
