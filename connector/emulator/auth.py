"""Bearer (or HTTP Basic, token as user name) authentication and scope checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid

from .config import EmulatorConfig

__all__ = [
    "DELETE_SCOPES",
    "READ_SCOPES",
    "WRITE_SCOPES",
    "missing_scopes",
    "token_actor_id",
    "token_from_header",
]

READ_SCOPES = ("meeting:read", "record_permission:read")
WRITE_SCOPES = ("meeting:read-write", "record_permission:read")  # POST, PATCH, PUT
DELETE_SCOPES = ("meeting:read-write",)  # openapi-call-recordings.json: DELETE needs no record_permission
# A read-write scope holds its read scope too (CONTRACT.md §5).
_IMPLIED = {
    "meeting:read": "meeting:read-write",
    "record_permission:read": "record_permission:read-write",
    "call_recording:read": "call_recording:read-write",
}


def token_from_header(value: str | None) -> str | None:
    """The token of an ``Authorization`` header, or None when absent or malformed."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        return rest or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _password = decoded.partition(":")
        return user or None
    return None


def missing_scopes(config: EmulatorConfig, token: str, required: tuple[str, ...]) -> list[str] | None:
    """Scopes the token lacks (empty list if none), or None when the token is unknown."""
    scopes = config.scopes_for(token)
    if scopes is None:
        return None
    return [s for s in required if s not in scopes and _IMPLIED.get(s) not in scopes]


def token_actor_id(token: str) -> str:
    """The ``created_by_actor.id`` of what a token creates: a UUID derived from a hash of the token."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, "token:" + hashlib.sha256(token.encode()).hexdigest()))
