"""Fault injection: scripted faults for exact tests, and random ones reproducible from the seed.

Kinds: ``429`` (a rate-limit answer), ``500``/``502``/``503``/``504`` (JSON error envelope, type
``api_error``; the request is not carried out), ``drop`` (the connection is closed without an
answer; not carried out), ``drop_after_commit`` (carried out, then the headers and half the body
are sent and the connection is cut), ``slow`` (carried out, answered after ``slow_ms``) and
``truncate`` (carried out, answered 200 with a JSON body cut in half and a Content-Length that
matches the cut body). Faults come after authentication and rate limiting.
"""

from __future__ import annotations

import random
from collections import deque

from .config import FAULT_KINDS, EmulatorConfig

__all__ = ["SERVER_ERRORS", "FaultInjector"]

SERVER_ERRORS = {
    "500": ("internal_server_error", "An unexpected error occurred."),
    "502": ("bad_gateway", "Bad gateway."),
    "503": ("service_unavailable", "The service is temporarily unavailable."),
    "504": ("gateway_timeout", "The upstream service timed out."),
}


class FaultInjector:
    """Chooses the fault (or None) for each request, in arrival order."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._rate = config.fault_rate
        self._kinds = config.fault_kinds
        self._rng = random.Random(config.seed)
        self._script: deque[tuple[str, str | None]] = deque()

    def script(self, kinds: list[str] | tuple[str, ...], method: str | None = None) -> None:
        """Apply these faults, in order, to the next requests (only those with ``method`` if given)."""
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; choose from {list(FAULT_KINDS)}")
        self._script.extend((k, method.upper() if method else None) for k in kinds)

    def clear(self) -> None:
        self._script.clear()

    @property
    def pending(self) -> int:
        return len(self._script)

    def next(self, method: str) -> str | None:
        for i, (kind, only) in enumerate(self._script):
            if only is None or only == method:
                del self._script[i]
                return kind
        if self._rate <= 0:
            return None
        draw, pick = self._rng.random(), self._rng.random()
        if draw < self._rate:
            return self._kinds[int(pick * len(self._kinds))]
        return None
