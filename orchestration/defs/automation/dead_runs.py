"""Runs whose process is gone: a run killed (``kill -9``, out of memory, a machine restart) never reports
its own failure, so the next command or the ``dead_run_reaper`` sensor marks it failed, frees its pool
slots and sends the crash alert. Every run is tagged with its process by the settings resource
(``PID_TAG``, ``HOST_TAG``)."""

import os
import socket

import dagster as dg

from orchestration.defs.automation.alerting import alert_crashed_run
from orchestration.lib.settings import HOST_TAG, PID_RUN_TAG, PID_TAG


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs of this host whose process is gone (killed, crashed) as failed and free their
    pool slots, so that the next run is not blocked by a slot a dead run still holds. Daemon-launched runs
    too: the settings resource tags every run with its process (called by the dead_run_reaper sensor and
    at every command's start). Returns the run ids reaped."""
    host = socket.gethostname()
    records = instance.get_run_records(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING], tags={HOST_TAG: host}
        )
    )
    reaped = []
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if pid is None or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        if run.tags.get("dagster/parent_run_id") and run.tags.get(PID_RUN_TAG) != run.run_id:
            continue  # a retry still carrying its parent's pid (Dagster's start timeout covers it)
        message = f"the process of run {run.run_id} (pid {pid}) is gone: killed or crashed"
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        alert_crashed_run(instance, run, message)
        reaped.append(run.run_id)
    return reaped
