"""Which failures are transient (worth retrying) and how long to wait.

A retry is for a failure that a second attempt can cure: the DuckDB file locked by another process (an
analyst who opened the warehouse read-write, a second pipeline), a file system hiccup. A failed quality
gate, a malformed delivery or a dbt test failure is not retried: it alerts instead.
"""

from __future__ import annotations

import os
import re

TRANSIENT_RETRIES = 3

_TRANSIENT = re.compile(
    r"could not set lock on file|conflicting lock is held|resource temporarily unavailable"
    r"|database is locked|stale file handle|connection reset by peer",
    re.IGNORECASE,
)


def is_transient_error(message: str) -> bool:
    """True if ``message`` describes a failure a retry can cure (a lock held elsewhere, an I/O hiccup)."""
    return bool(_TRANSIENT.search(message or ""))


def retry_wait_seconds() -> float:
    """Seconds to wait before a retry (``FUNDCDP_RETRY_WAIT_SECONDS``, default 30)."""
    return float(os.environ.get("FUNDCDP_RETRY_WAIT_SECONDS", "30"))
