"""The emulator's settings: one frozen value, validated on construction."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from .timeutil import parse_rfc3339

__all__ = [
    "ALL_SCOPES",
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "RECORDINGS_NOW",
    "EmulatorConfig",
    "Workspace",
    "workspace_id_for_seed",
]

# Every scope the meetings and call-recording endpoints look at; the main token holds them all.
ALL_SCOPES = frozenset(
    {
        "meeting:read",
        "meeting:read-write",
        "record_permission:read",
        "call_recording:read",
        "call_recording:read-write",
    }
)
# The seed's "now": seeded meetings that start later have no recordings yet (a fixed instant, so that
# a data set does not change with the wall clock).
RECORDINGS_NOW = "2026-12-01T00:00:00Z"
# Kinds a test may script; random injection may draw any of them too.
FAULT_KINDS = ("429", "500", "502", "503", "504", "drop", "drop_after_commit", "slow", "truncate")
RANDOM_FAULT_KINDS = ("500", "502", "503", "drop", "slow", "truncate")

_NAMESPACE = uuid.UUID("6f1c2a52-3b0e-4d8e-9a57-5e0c7d1b2a90")

Contract = Literal["find-or-create", "create-only"]


def workspace_id_for_seed(seed: int) -> str:
    """The fixed workspace UUID of a data set (a pure function of the seed)."""
    return str(uuid.uuid5(_NAMESPACE, f"workspace:{seed}"))


@dataclass(frozen=True)
class Workspace:
    """Another workspace the emulator serves beside the main one: its own token, meetings and rate limits.

    Rate limits belong to the workspace (Attio does not say whether two tokens of one workspace share
    them; here each workspace has one token, so per token and per workspace are the same).
    """

    token: str
    meetings: int = 1000
    seed: int = 1
    read_rate: float = 100.0
    write_rate: float = 25.0

    @property
    def workspace_id(self) -> str:
        """The workspace's UUID, a pure function of its seed."""
        return workspace_id_for_seed(self.seed)


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves; every default matches live Attio where Attio documents one.

    ``tokens`` maps extra tokens to their scopes; ``token`` holds every meeting scope. Rates are
    requests per second per bucket (reads and writes apart), 0 turns the limit off. ``fault_rate``
    is the chance that a request gets a fault drawn from ``fault_kinds``; the draws come from
    ``random.Random(seed)`` in arrival order, so a run is reproducible. ``prerender`` renders every
    seeded meeting's JSON at start-up (for benchmarks of a client: about 1.9 kB a meeting).
    ``workspaces`` are served beside the main one, each by its own token (see :class:`Workspace`).

    Call recordings: ``recording_share`` of the seeded meetings that start before ``recordings_now``
    have one or more (0 = none at all); creating one is limited to ``recording_write_rate`` requests/s
    in a bucket of its own (Attio: 1/s), besides the write budget; a created recording turns from
    ``processing`` to ``completed`` ``recording_delay_s`` seconds after it was created. With
    ``recording_quota`` > 0, a create beyond that many recordings made through the API (and not deleted)
    is 403 ``quota_exceeded``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    meetings: int = 1000
    seed: int = 0
    token: str = "emulator-token"
    tokens: Mapping[str, frozenset[str]] = field(default_factory=dict)
    read_rate: float = 100.0
    write_rate: float = 25.0
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = RANDOM_FAULT_KINDS
    slow_ms: float = 5000.0
    contract: Contract = "find-or-create"
    workspace_id: str = ""
    prerender: bool = False
    workspaces: tuple[Workspace, ...] = ()
    recording_share: float = 0.4
    recordings_now: str = RECORDINGS_NOW
    recording_write_rate: float = 1.0
    recording_delay_s: float = 0.0
    recording_quota: int = 0

    def __post_init__(self) -> None:
        if not self.workspace_id:
            object.__setattr__(self, "workspace_id", workspace_id_for_seed(self.seed))
        object.__setattr__(self, "tokens", {t: frozenset(s) for t, s in dict(self.tokens).items()})
        object.__setattr__(self, "fault_kinds", tuple(self.fault_kinds))
        if self.meetings < 0:
            raise ValueError("meetings must be >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if not self.token:
            raise ValueError("token must not be empty")
        for name in (
            "read_rate",
            "write_rate",
            "latency_ms",
            "slow_ms",
            "recording_write_rate",
            "recording_delay_s",
        ):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.recording_quota < 0:
            raise ValueError(f"recording_quota must be >= 0, got {self.recording_quota!r}")
        if not 0.0 <= self.recording_share <= 1.0:
            raise ValueError(f"recording_share must be between 0 and 1, got {self.recording_share!r}")
        try:
            parse_rfc3339(self.recordings_now)
        except ValueError:
            raise ValueError(
                f"recordings_now must be an RFC 3339 timestamp with an offset, got {self.recordings_now!r}"
            ) from None
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; choose from {list(FAULT_KINDS)}")
        if self.fault_rate > 0 and not self.fault_kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        if self.contract not in ("find-or-create", "create-only"):
            raise ValueError("contract must be 'find-or-create' or 'create-only'")
        object.__setattr__(self, "workspaces", tuple(self.workspaces))
        tokens = [self.token, *self.tokens, *(w.token for w in self.workspaces)]
        if len(set(tokens)) != len(tokens):
            raise ValueError("every workspace needs its own token, apart from the main and scoped tokens")
        seeds = [self.seed, *(w.seed for w in self.workspaces)]
        if len(set(seeds)) != len(seeds):
            raise ValueError("every workspace needs its own seed (its workspace ID derives from it)")

    def for_workspace(self, workspace: Workspace) -> EmulatorConfig:
        """The settings of one extra workspace: its data and limits, this emulator's latency and faults."""
        return replace(
            self,
            token=workspace.token,
            tokens={},
            meetings=workspace.meetings,
            seed=workspace.seed,
            read_rate=workspace.read_rate,
            write_rate=workspace.write_rate,
            workspace_id="",
            workspaces=(),
        )

    @property
    def recordings_now_ms(self) -> int:
        """``recordings_now`` in epoch milliseconds."""
        return parse_rfc3339(self.recordings_now)

    def scopes_for(self, token: str) -> frozenset[str] | None:
        """The scopes a token holds, or None for an unknown token."""
        if token == self.token:
            return ALL_SCOPES
        return self.tokens.get(token)
