"""Failpoints: ``FUNDCDP_FAILPOINT=<name>`` makes a run SIGKILL itself at a named point, to prove that
re-running after a crash there ends with exactly the tables of a clean run.

- ``raw_partition_write``: after the first Parquet file of a raw partition is written, before its
  manifest row (the partition is half-written);
- ``dbt_build``: in the middle of ``dbt build``, after the first incremental daily aggregate committed
  and before the tags are built (only the run is killed: dbt dies of its parent-death signal, see
  :mod:`orchestration.defs.transform.dbt_child`);
- ``analytics_swap``: after the fresh ``analytics.duckdb`` is written, before it is swapped in.

Never set it in production. It is read when the point is reached, not at import.
"""

from __future__ import annotations

import os
import signal
import sys

FAILPOINTS = ("raw_partition_write", "dbt_build", "analytics_swap")


def armed(name: str) -> bool:
    """True if ``FUNDCDP_FAILPOINT`` names this point; an unknown name is an error, never ignored."""
    if name not in FAILPOINTS:
        raise ValueError(f"unknown failpoint {name!r}")
    value = os.environ.get("FUNDCDP_FAILPOINT", "").strip()
    if value and value not in FAILPOINTS:
        raise ValueError(f"FUNDCDP_FAILPOINT={value!r} is not one of {', '.join(FAILPOINTS)}")
    return value == name


def crash_if_armed(name: str, *, also_kill: int | None = None) -> None:
    """SIGKILL this process (and first the process ``also_kill``, e.g. dbt) if the point is armed."""
    if not armed(name):
        return
    print(f"FUNDCDP_FAILPOINT={name}: killing the run (SIGKILL)", file=sys.stderr, flush=True)
    if also_kill is not None:
        try:
            os.kill(also_kill, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)
