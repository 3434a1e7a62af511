"""Named defaults, in one place: the config values, the CLI's flags and help, and the orchestrator integrations
all take theirs from here, so that none can drift from another.

Attio publishes 100 reads/s and 25 writes/s (and 1 request/s for creating a call recording); the budgets stay a
little below (see :class:`~connector.config.RateLimits` for why).
"""

from __future__ import annotations

__all__ = [
    "CONNECT_TIMEOUT",
    "EXTRACT_BATCH_SIZE",
    "LOAD_BATCH_SIZE",
    "LOAD_CONCURRENCY",
    "MAX_ATTEMPTS",
    "MAX_DELETE",
    "MAX_IN_FLIGHT",
    "PAGE_SIZE",
    "READS_PER_SECOND",
    "RECORDINGS_CONCURRENCY",
    "RECORDING_WRITES_PER_SECOND",
    "TIMEOUT",
    "WRITES_PER_SECOND",
]

READS_PER_SECOND = 96.0  # client read budget, requests/s
WRITES_PER_SECOND = 24.0  # client write budget, requests/s
RECORDING_WRITES_PER_SECOND = 0.95  # call-recording creates/s
MAX_IN_FLIGHT = 32  # requests in flight at once
TIMEOUT = 30.0  # seconds per request before it is retried
CONNECT_TIMEOUT = 10.0  # seconds to open a connection
MAX_ATTEMPTS = 8  # tries per request, retries included
PAGE_SIZE = 200  # meetings per list request (Attio's maximum)
EXTRACT_BATCH_SIZE = 10_000  # rows per Arrow batch of an extract
LOAD_CONCURRENCY = 10  # rows a load sends at once
LOAD_BATCH_SIZE = 1000  # input rows a load reads at a time
MAX_DELETE = 0.2  # share of a ledger's meetings --delete-missing may delete
RECORDINGS_CONCURRENCY = 4  # inputs a recordings load handles at once
