"""What the Airflow and Dagster integrations share: parsing time bounds and making reports serialisable."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from connector import InvalidArgumentError

__all__ = ["jsonable", "parse_bound"]

# What Jinja renders for an unset value; a template such as "{{ prev_data_interval_end_success }}" gives these.
_UNSET_TEXT = frozenset({"", "none", "null"})


def parse_bound(name: str, value: datetime | str | None) -> datetime | None:
    """A time bound from a datetime or rendered template text; empty/None text means "no bound".

    Airflow renders ``{{ data_interval_start }}`` as ``2024-03-01 00:00:00+00:00`` (or with a ``T``); both
    parse. Naive values are taken as UTC, like :class:`connector.MeetingQuery` does.
    """
    if value is None or isinstance(value, datetime):
        parsed = value
    elif str(value).strip().lower() in _UNSET_TEXT:
        return None
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
        except ValueError:
            raise InvalidArgumentError(name, f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def jsonable(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report dict reduced to JSON types (paths and datetimes as text, NaN/inf as None).

    XCom backends and Dagster metadata both want plain JSON; a report may hold ``Path`` or ``datetime``.
    """

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    cleaned: dict[str, Any] = clean(json.loads(json.dumps(dict(report), default=str)))
    return cleaned
