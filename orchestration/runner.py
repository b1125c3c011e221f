"""Run the pipeline in-process: the daily job for a day or a range of days (what the schedule, the
sensor and a backfill run), a history import, or its two halves (load every delivered day, build as of
one day: the jobs ``fundcdp_load`` and ``fundcdp_build``). Every run is of a named job, so it shows in
the UI's Overview and on the job's page; a ``progress`` (orchestration/lib/console.py) follows its events.

Used by the CLI (``make run``, ``cli day``, ``cli backfill``) and by the test suite, so both exercise the
same path as a run launched from the UI.
"""

import functools
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from orchestration.definitions import defs
from orchestration.defs.automation.alerting import (
    alert_failed_run,
    run_failure_error,
)
from orchestration.defs.automation.dead_runs import reap_dead_runs
from orchestration.defs.automation.jobs import BUILD, BUILD_JOB, DAILY, DAILY_JOB, LOAD, LOAD_JOB
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.console import RunPlan, RunProgress, is_gate, stage_of
from orchestration.lib.layout import restrict_umask
from orchestration.lib.partitions import HISTORY_FROM_TAG, RANGE_END_TAG, RANGE_START_TAG
from orchestration.lib.paths import location_name
from orchestration.lib.settings import HOST_TAG, PID_TAG, FundcdpSettings


def execute(
    instance: dg.DagsterInstance,
    job_name: str,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    progress: RunProgress | None = None,
) -> dg.ExecuteInProcessResult:
    """An in-process run of the named job ``job_name`` (:data:`DAILY_JOB`, :data:`LOAD_JOB` or
    :data:`BUILD_JOB`) of the assembled definitions: it shows in the UI's Overview and on the job's page.
    ``progress`` is told the run's plan (its assets and gates per stage), then each of its events as the
    run writes it to the event log (an event listener on the run's id), then the result."""
    job = defs().resolve_job_def(job_name)
    run_id = str(uuid.uuid4())
    # the label the UI gives runs launched from the code location (its job pages list runs by it): an
    # in-process run has no remote origin to derive it from
    tags = {REPOSITORY_LABEL_TAG: f"{SINGLETON_REPOSITORY_NAME}@{location_name()}", **(tags or {})}
    if progress is not None:
        progress.begin(_plan(job_name), run_id)
        instance.add_event_listener(run_id, progress.handle)
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        tags=tags,
        run_id=run_id,
        raise_on_error=False,
    )
    if progress is not None:
        progress.end(result.success)
    return result


def _plan(job_name: str) -> RunPlan:
    """What a run of the job ``job_name`` materialises, per stage of the console's progress display."""
    graph = defs().resolve_asset_graph()
    selection = {DAILY_JOB: DAILY, LOAD_JOB: LOAD, BUILD_JOB: BUILD}[job_name]
    stages = {}
    for key in selection.resolve(graph):
        node = graph.get(key)
        if node.is_materializable:
            stages[key] = stage_of(node.group_name, node.kinds)
    checks = selection.resolve_checks(graph)
    gates = sum(is_gate(check.name) for check in checks)
    return RunPlan(stage_of_asset=stages, gate_total=gates, job_name=job_name)


def _process_tags() -> dict[str, str]:
    """Which process runs an in-process run: lets a later run recognise it as dead if it was killed."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _range_tags(days: list[str]) -> dict[str, str]:
    return {RANGE_START_TAG: days[0], RANGE_END_TAG: days[-1], **_process_tags()}


def alerts_on_failure(
    execute: Callable[..., dg.ExecuteInProcessResult],
) -> Callable[..., dg.ExecuteInProcessResult]:
    """An in-process run that does not succeed alerts (:func:`alert_failed_run`: its loads that failed,
    then the run, once per cause); an exception escaping the run alerts ``run_failed`` too, then
    propagates. The run-failure sensor may see the same run: the run id keys both, so one alert."""

    @functools.wraps(execute)
    def run_and_alert(instance: dg.DagsterInstance, *args, **kwargs) -> dg.ExecuteInProcessResult:
        started = time.time()
        try:
            result = execute(instance, *args, **kwargs)
        except Exception as error:
            _alert_escaped(instance, execute.__name__, args, started, error)
            raise
        if not result.success:
            run = instance.get_run_by_id(result.run_id) or result.dagster_run
            failure = next((e for e in result.all_events if e.is_run_failure), None)
            alert_failed_run(instance, run, run_failure_error(failure))
        return result

    return run_and_alert


def _alert_escaped(
    instance: dg.DagsterInstance, what: str, args: tuple, started: float, error: Exception
) -> None:
    """Alert an exception that escaped an in-process run: for the run it started if any (keyed by its
    id), else for the call (``what`` and its days)."""
    message = f"{type(error).__name__}: {error}"
    try:
        runs = instance.get_runs(
            dg.RunsFilter(
                tags={PID_TAG: str(os.getpid())}, created_after=datetime.fromtimestamp(started, UTC)
            ),
            limit=1,
        )
    except Exception:  # the instance itself is broken: alert for the call
        runs = []
    if runs:
        alert_failed_run(instance, runs[0], message)
        return
    days = [str(day) for arg in args for day in (arg if isinstance(arg, list) else [arg])]
    span = days[0] if len(set(days)) == 1 else f"{days[0]}..{days[-1]}" if days else ""
    alert = Alert(
        kind="run_failed",
        summary=f"{what} for {span or '-'} failed before its run started: {message}"[:500],
        partition=span or None,
        details={"error": message[:2000]},
    )
    send_alert(alert, FundcdpSettings().layout().alerts_log)


@alerts_on_failure
def load_raw(
    instance: dg.DagsterInstance, days: list[str], progress: RunProgress | None = None
) -> dg.ExecuteInProcessResult:
    """The privacy step, then every raw asset (the daily job's load groups), for the arrival days
    ``days[0] .. days[-1]`` in one run."""
    restrict_umask()
    reap_dead_runs(instance)
    return execute(instance, LOAD_JOB, tags=_range_tags(days), progress=progress)


@alerts_on_failure
def load_history(
    instance: dg.DagsterInstance, first: str, last: str, progress: RunProgress | None = None
) -> dg.ExecuteInProcessResult:
    """The privacy step, then every raw asset, for every delivered day from ``first`` to ``last`` as one
    run of the day ``last`` (tag ``fundcdp/history_from``): what :func:`load_raw` loads, with one partition
    to plan and record per asset instead of one per asset and day."""
    restrict_umask()
    reap_dead_runs(instance)
    tags = {HISTORY_FROM_TAG: first, **_process_tags()}
    return execute(instance, LOAD_JOB, partition_key=last, tags=tags, progress=progress)


@alerts_on_failure
def build_warehouse(
    instance: dg.DagsterInstance, as_of: str, progress: RunProgress | None = None
) -> dg.ExecuteInProcessResult:
    """Build (run + test) every dbt model as of ``as_of``, run the quality gates and the models, and
    publish the segments, then analytics.duckdb, if they passed (raw/ must already hold the deliveries):
    the daily job's assets but the privacy step and the raw loads."""
    restrict_umask()
    reap_dead_runs(instance)
    return execute(instance, BUILD_JOB, partition_key=as_of, tags=_process_tags(), progress=progress)


@alerts_on_failure
def run_days(
    instance: dg.DagsterInstance, days: list[str], progress: RunProgress | None = None
) -> dg.ExecuteInProcessResult:
    """The daily job for one day, or for consecutive ``days`` as one run (a backfill): exactly what the
    schedule, the delivery sensor or a backfill from the UI launch."""
    restrict_umask()
    reap_dead_runs(instance)
    if len(days) == 1:
        return execute(instance, DAILY_JOB, partition_key=days[0], tags=_process_tags(), progress=progress)
    return execute(instance, DAILY_JOB, tags=_range_tags(days), progress=progress)


@alerts_on_failure
def import_history(
    instance: dg.DagsterInstance, first: str, last: str, progress: RunProgress | None = None
) -> dg.ExecuteInProcessResult:
    """A history import: the daily job for the day ``last`` with the tag ``fundcdp/history_from=first``.
    The raw assets load every delivered day from ``first`` to ``last`` in one pass; dbt builds once, as of
    ``last``; the gates, the segments and analytics run for ``last``. One partition to plan and record per
    asset, whatever the number of days (the same run can be launched from the UI: the job, day ``last``,
    that tag)."""
    restrict_umask()
    reap_dead_runs(instance)
    tags = {HISTORY_FROM_TAG: first, **_process_tags()}
    return execute(instance, DAILY_JOB, partition_key=last, tags=tags, progress=progress)
