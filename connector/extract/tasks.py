"""Task groups in the extract: callers get the error that stopped a group, not the group."""

from __future__ import annotations

import anyio

__all__ = ["first_error"]


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first real error of a task group's exception group (not a cancellation)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group.exceptions[0]
