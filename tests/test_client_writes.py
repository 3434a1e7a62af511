"""AttioClient.update_meeting and delete_meeting against the emulator (and SyncAttioClient's copies)."""

from __future__ import annotations

from typing import Any

import pytest
from test_load import client_config

from connector.client import AttioClient, SyncAttioClient
from connector.errors import BadRequestError, InvalidArgumentError, NotFoundError, PermissionDeniedError

DEAL = {"object": "deals", "record_id": "6f4c2c5b-1d8f-4b4f-8c2a-3e7a2dab8f21"}
COMPANY = {"object": "companies", "record_id": "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"}


def seeded(emu: Any, system: bool) -> str:
    store = emu.emulator.store
    return store.meeting(next(r for r in range(store.seed_data.n) if store.is_system(r) == system))["id"][
        "meeting_id"
    ]


def slugs(meeting: dict[str, Any]) -> set[tuple[str, str]]:
    return {(lr["object_slug"], lr["record_id"]) for lr in meeting["linked_records"]}


@pytest.mark.anyio
async def test_update_appends_or_replaces_the_links(emulator: Any) -> None:
    meeting_id = seeded(emulator, system=False)
    async with AttioClient(client_config(emulator)) as client:
        before = slugs(await client.get_meeting(meeting_id))
        after = await client.update_meeting(meeting_id, [DEAL], replace=False)
        assert slugs(after) == before | {("deals", DEAL["record_id"])}
        after = await client.update_meeting(meeting_id, [COMPANY])
        assert slugs(after) == {("companies", COMPANY["record_id"])}
        assert await client.get_meeting(meeting_id) == after
    assert emulator.emulator.stats.count(method="PATCH") == emulator.emulator.stats.count(method="PUT") == 1


@pytest.mark.anyio
async def test_delete_and_its_errors(emulator: Any) -> None:
    meeting_id = seeded(emulator, system=False)
    async with AttioClient(client_config(emulator)) as client:
        await client.delete_meeting(meeting_id)
        with pytest.raises(NotFoundError):
            await client.get_meeting(meeting_id)
        with pytest.raises(NotFoundError):
            await client.delete_meeting(meeting_id)
        with pytest.raises(BadRequestError) as info:
            await client.delete_meeting(seeded(emulator, system=True))
        assert info.value.code == "system_edit_unauthorized" and info.value.method == "DELETE"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("meeting_id", "links", "field"),
    [
        pytest.param("not-a-uuid", [], "meeting_id", id="bad-id"),
        pytest.param(
            "cb59ab17-ad15-460c-a126-0715617c0853",
            [{"object": "deals"}],
            "linked_records[0].record_id",
            id="no-record",
        ),
        pytest.param("cb59ab17-ad15-460c-a126-0715617c0853", "deals", "linked_records", id="not-a-list"),
    ],
)
async def test_bad_arguments_send_nothing(emulator: Any, meeting_id: str, links: Any, field: str) -> None:
    async with AttioClient(client_config(emulator)) as client:
        with pytest.raises(InvalidArgumentError) as info:
            await client.update_meeting(meeting_id, links)
        assert field in str(info.value)
        if field == "meeting_id":
            with pytest.raises(InvalidArgumentError):
                await client.delete_meeting(meeting_id)
    assert emulator.emulator.stats.requests == 0


@pytest.mark.anyio
async def test_a_token_without_record_permission_cannot_update(make_emulator: Any) -> None:
    emu = make_emulator(tokens={"rw": frozenset({"meeting:read-write"})})
    meeting_id = seeded(emu, system=False)
    async with AttioClient(client_config(emu).with_(token="rw")) as client:
        with pytest.raises(PermissionDeniedError):
            await client.update_meeting(meeting_id, [DEAL])
        await client.delete_meeting(meeting_id)  # DELETE needs meeting:read-write only


def test_the_sync_client_offers_them_too(emulator: Any) -> None:
    meeting_id = seeded(emulator, system=False)
    with SyncAttioClient(client_config(emulator)) as client:
        assert slugs(client.update_meeting(meeting_id, [DEAL])) == {("deals", DEAL["record_id"])}
        client.delete_meeting(meeting_id)
        with pytest.raises(NotFoundError):
            client.get_meeting(meeting_id)
