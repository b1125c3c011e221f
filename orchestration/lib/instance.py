"""The Dagster instance settings fundcdp needs, written to ``$DAGSTER_HOME/dagster.yaml`` when absent.

- pools: every pool has a limit of 1, so the steps of pool ``duckdb_writer`` (everything that writes the
  warehouse, the quality store, analytics.duckdb or the segments) never run at the same time, whatever
  executor a run uses;
- run queue: one run at a time, in the order launched (days are built in date order);
- run monitoring and run retries: a run whose process died is detected and, per the daily job's tags,
  retried from the failed step.

Runs that do not pass through the queue (the command line's in-process runs) are kept apart by the data
directory's run lock instead (:mod:`orchestration.lib.run_lock`), which every run holds whoever launched it.

An existing dagster.yaml is left as it is (a deployment may have its own storage, launcher, …); it should
keep these settings.
"""

from __future__ import annotations

from pathlib import Path

INSTANCE_YAML = """\
# Written by fundcdp (orchestration/lib/instance.py). Keep these settings if you edit this file.
concurrency:
  pools:
    default_limit: 1        # pool duckdb_writer: one warehouse writer at a time
  runs:
    max_concurrent_runs: 1  # one run at a time, in launch order
run_monitoring:
  enabled: true             # a run whose process died is marked failed ...
run_retries:
  enabled: true             # ... and retried as the job's dagster/max_retries tag says
  max_retries: 0
telemetry:
  enabled: false
"""


def ensure_instance_config(dagster_home: Path) -> Path:
    """Write fundcdp's dagster.yaml into ``dagster_home`` unless one exists; return its path."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        path.write_text(INSTANCE_YAML, encoding="utf-8")
    return path
