"""Tasks and worker threads in the extract: the error that stopped a task group; Arrow memory of a thread."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import anyio

from ..deferred import deferred

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = deferred("pyarrow")

__all__ = ["first_error", "release_now_and_then"]

RELEASE_EVERY = 32  # calls in one thread between releases: a release costs ~30% of decoding a page of 200
_calls = threading.local()


def release_now_and_then() -> None:
    """Every ``RELEASE_EVERY``-th call in this thread, hand the Arrow memory it freed back to the OS.

    Arrow's default pool (mimalloc) keeps a heap per thread, and what a thread frees stays in it, so a
    library extract (which does not get the CLI's system allocator) grew with every worker thread:
    a sliced extract of 100k meetings peaked at 330 MB without, ~285 MB with.
    """
    count = getattr(_calls, "count", 0) + 1
    _calls.count = count % RELEASE_EVERY
    if count == RELEASE_EVERY:
        pa.default_memory_pool().release_unused()


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first real error of a task group's exception group (not a cancellation)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group.exceptions[0]
