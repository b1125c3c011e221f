"""Alerts for failed, crashed and failed-to-load runs (failed quality gates alert from the checks themselves).

Every path ends in :func:`alert_failed_run` or :func:`alert_crashed_run`: the in-process runs of
``orchestration/runner.py`` (``cli day``, backfills, history imports, ``make run``), the run-failure sensor
for
runs launched by the daemon or the UI (and, monitoring every code location, for in-process runs too while
the daemon runs), and :func:`orchestration.defs.automation.dead_runs.reap_dead_runs` for a killed in-process
run.
Each alert has a ``once_key`` (:func:`orchestration.lib.alerts.send_alert`), so a run that two paths see is
alerted once, and a load failing the same way on every retry once per cause:

- ``load_failed``: one per source table and day that did not load (``<source>.<table>``, the day, the
  loader's message naming file and line), key: source, table, day and message;
- ``run_failed`` / ``run_crashed``: one per run, key: the run id (shared by both kinds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from orchestration.lib.alerts import Alert, Delivery, send_alert
from orchestration.lib.partitions import HISTORY_FROM_TAG, RANGE_END_TAG, RANGE_START_TAG
from orchestration.lib.settings import PID_TAG, FundcdpSettings
from orchestration.lib.sources import ALL_TABLES

# The reaper's message (orchestration/runner.py) and Dagster's run monitoring's, for a run whose process died.
CRASH_MESSAGES = ("is gone: killed or crashed", "Detected run worker status")
# An error text in an alert is cut here (a traceback-sized message would drown the channel).
MAX_ERROR_CHARS = 2000
# A history import failing every day the same way (a refused key) must not send one alert per table and
# day: past this many in one run, the rest go out as one alert listing them (the first MAX_LISTED of them).
MAX_LOAD_ALERTS_PER_RUN = 20
MAX_LISTED_LOAD_FAILURES = 200
# The step key of each raw asset (its op name: the asset key joined by "__").
RAW_STEPS = {dg.AssetKey([spec.source, spec.name]).to_python_identifier(): spec for spec in ALL_TABLES}


def run_key(run_id: str) -> str:
    """The ``once_key`` of a run's failure or crash alert: one alert per run, whichever path sends it."""
    return f"run:{run_id}"


def load_failure_key(source: str, table: str, day: str, message: str) -> str:
    """The ``once_key`` of a load failure: the same day failing the same way alerts once."""
    return "\0".join(("load_failed", source, table, day, message))


def run_days_text(run: dg.DagsterRun) -> str | None:
    """The day(s) a run covers, from its tags: ``D``, ``D1..D2`` (a range) or None."""
    tags = run.tags
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        return start if start == end else f"{start}..{end}"
    day = tags.get("dagster/partition")
    if day and tags.get(HISTORY_FROM_TAG):
        return f"{tags[HISTORY_FROM_TAG]}..{day}"
    return day or tags.get("dagster/asset_partition_range_end")


def run_failure_alert(
    run: dg.DagsterRun, error: str | None, failed_steps: Mapping[str, str] | None = None
) -> Alert:
    """The alert sent for a failed run: its job, day(s), error and the steps that failed (step -> error)."""
    details: dict[str, object] = {"error": _clip(error or "")}
    if failed_steps:
        details["failed_steps"] = [f"{step}: {_clip(message, 300)}" for step, message in failed_steps.items()]
    days = run_days_text(run)
    if failed_steps:
        where = f" in step(s) {', '.join(failed_steps)}"
    else:  # failed before or between steps (a resource's setup: the run lock timing out): say why
        where = f": {_clip(' '.join((error or '').split()), 300)}" if error else ""
    return Alert(
        kind="run_failed",
        summary=f"{_run_label(run)}{f' for {days}' if days else ''} failed{where}",
        asset=None,
        partition=days,
        run_id=run.run_id,
        details=details,
    )


def _run_label(run: dg.DagsterRun) -> str:
    # dg.materialize() runs an unnamed job (Dagster calls it __ephemeral_asset_job__); cli's runs are named
    return "in-process asset run" if run.job_name.startswith("__") else f"run of job {run.job_name}"


def run_crash_alert(run: dg.DagsterRun, error: str | None, steps_in_progress: list[str]) -> Alert:
    """The alert sent for a run whose process died (killed, out of memory, machine restart)."""
    days = run_days_text(run)
    pid = run.tags.get(PID_TAG)
    where = f" in step(s) {', '.join(steps_in_progress)}" if steps_in_progress else ""
    return Alert(
        kind="run_crashed",
        summary=f"{_run_label(run)}{f' for {days}' if days else ''} crashed{where}: "
        f"its process{f' (pid {pid})' if pid else ''} died",
        asset=None,
        partition=days,
        run_id=run.run_id,
        details={
            "pid": pid or "-",
            "steps_in_progress": steps_in_progress or ["-"],
            "error": _clip(error or ""),
        },
    )


def load_failure_alert(run: dg.DagsterRun, source: str, table: str, day: str, message: str) -> Alert:
    """The alert sent for one source table's day that did not load; ``message`` is the loader's error
    (it names the file, and the line where one is to blame)."""
    details: dict[str, object] = {"source": source, "table": table, "day": day}
    file, line = file_and_line(message)
    if file:
        details["file"] = file
    if line:
        details["line"] = line
    details["error"] = _clip(message)
    return Alert(
        kind="load_failed",
        summary=f"{source}.{table} for {day} not loaded: {_clip(message, 300)}",
        asset=f"{source}/{table}",
        partition=day,
        run_id=run.run_id,
        details=details,
    )


def more_load_failures_alert(run: dg.DagsterRun, rest: list[tuple[str, str, str, str]]) -> Alert:
    """One ``load_failed`` for the failures of a run past :data:`MAX_LOAD_ALERTS_PER_RUN`."""
    days = sorted({day for _, _, day, _ in rest})
    return Alert(
        kind="load_failed",
        summary=f"{len(rest)} more source table day(s) not loaded, {days[0]} .. {days[-1]}",
        asset=None,
        partition=days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}",
        run_id=run.run_id,
        details={
            "not_loaded": [
                f"{source}.{table} {day}: {_clip(message, 300)}"
                for source, table, day, message in rest[:MAX_LISTED_LOAD_FAILURES]
            ]
            + (
                [f"... and {len(rest) - MAX_LISTED_LOAD_FAILURES} more"]
                if len(rest) > MAX_LISTED_LOAD_FAILURES
                else []
            )
        },
    )


_LEADING_PATH = re.compile(r"^(/[^:\n]+|[A-Za-z0-9_.-]+/[^:\n]+): ")
_LINE = re.compile(r"\blines? (\d+)\b")


def file_and_line(message: str) -> tuple[str | None, int | None]:
    """The file a loader message starts with (``<path>: ...``) and the first line number it names."""
    path = _LEADING_PATH.match(message)
    line = _LINE.search(message)
    return (path.group(1) if path else None), (int(line.group(1)) if line else None)


def _failures(instance: dg.DagsterInstance, run_id: str) -> list[dg.DagsterEvent]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    return [
        record.event_log_entry.dagster_event for record in records if record.event_log_entry.dagster_event
    ]


def _error_text(event: dg.DagsterEvent) -> str:
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = getattr(data, "error", None)
    if error is None:
        return event.message or ""
    # The user's exception, not Dagster's wrapper ("Error occurred while executing op ...").
    while error.cause is not None and error.message.startswith("dagster._core.errors."):
        error = error.cause
    return error.message.strip()


def run_failure_error(event: dg.DagsterEvent | None) -> str | None:
    """The error of a run's failure event: the user's exception when one failed the run outside any step
    (a resource's setup, e.g. the run lock timing out: ``RunLockTimeout: gave up after ...``), not
    Dagster's "An exception was thrown during execution."; else the event's message (the steps that
    failed, the reaper's "is gone: killed or crashed")."""
    if event is None:
        return None
    return _error_text(event)


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Each failed step of the run and its error (first failure per step)."""
    steps: dict[str, str] = {}
    for event in _failures(instance, run_id):
        steps.setdefault(event.step_key or "-", _error_text(event))
    return steps


def load_failures(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[tuple[str, str, str, str]]:
    """(source, table, day, message) of each source table's day the run failed to load.

    A raw asset that failed some days raises ``dg.Failure`` with metadata ``failed_days`` (day -> the
    loader's message); a raw step failing otherwise (an unexpected error) counts for the run's day(s)."""
    found: list[tuple[str, str, str, str]] = []
    for event in _failures(instance, run.run_id):
        spec = RAW_STEPS.get(event.step_key or "")
        if spec is None:
            continue
        user = getattr(event.event_specific_data, "user_failure_data", None)
        failed_days = user.metadata.get("failed_days") if user is not None else None
        days = getattr(failed_days, "value", None) if failed_days is not None else None
        if isinstance(days, Mapping) and days:
            found.extend((spec.source, spec.name, str(day), str(days[day])) for day in sorted(days))
        else:
            found.append((spec.source, spec.name, run_days_text(run) or "-", _error_text(event)))
    return found


def steps_in_progress(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The steps a run had started and not finished (where a killed run was)."""
    finished = {"SUCCESS", "FAILURE", "SKIPPED"}  # StepEventStatus values (not exported by dagster)
    return sorted(
        stats.step_key
        for stats in instance.get_run_step_stats(run_id)
        if stats.end_time is None and getattr(stats.status, "value", None) not in finished
    )


def is_crash(message: str | None) -> bool:
    """Whether a run failure message says the run's process died (reaper or Dagster's run monitoring)."""
    return any(marker in (message or "") for marker in CRASH_MESSAGES)


def alert_failed_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    error: str | None,
    log_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[list[Delivery]]:
    """Alert a failed run: one ``load_failed`` per source table and day it did not load, then one
    ``run_failed`` (``run_crashed`` when ``error`` says its process died). Each once per cause: a repeat
    (the other path, the same load failing again) sends nothing. Never raises."""
    log_path = log_path or FundcdpSettings().layout().alerts_log
    sent: list[list[Delivery]] = []
    try:
        failures = load_failures(instance, run)
        for source, table, day, message in failures[:MAX_LOAD_ALERTS_PER_RUN]:
            alert = load_failure_alert(run, source, table, day, message)
            key = load_failure_key(source, table, day, message)
            sent.append(send_alert(alert, log_path, environ, once_key=key))
        rest = failures[MAX_LOAD_ALERTS_PER_RUN:]
        if rest:
            key = "\n".join(load_failure_key(*failure) for failure in rest)
            sent.append(send_alert(more_load_failures_alert(run, rest), log_path, environ, once_key=key))
        if is_crash(error):
            alert = run_crash_alert(run, error, steps_in_progress(instance, run.run_id))
        else:
            alert = run_failure_alert(run, error, failed_steps(instance, run.run_id))
    except Exception as exc:  # reading the event log failed: still say the run failed
        alert = run_failure_alert(run, f"{error or ''} (its steps could not be read: {exc})")
    sent.append(send_alert(alert, log_path, environ, once_key=run_key(run.run_id)))
    return sent


def alert_crashed_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    error: str,
    log_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """Alert a run whose process died (``run_crashed``), naming its pid and the step(s) it was in."""
    log_path = log_path or FundcdpSettings().layout().alerts_log
    try:
        steps = steps_in_progress(instance, run.run_id)
    except Exception:  # a damaged event log: the crash is still alerted
        steps = []
    alert = run_crash_alert(run, error, steps)
    return send_alert(alert, log_path, environ, once_key=run_key(run.run_id))


def _clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Sends every failed run to the alert channels (FUNDCDP_ALERT_*) and logs/alerts.log: "
    "load_failed per source table and day not loaded, run_failed or run_crashed once per run. Monitors "
    "every run of the instance, also in-process runs (cli day, backfills), which have no code location.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    alert_failed_run(context.instance, context.dagster_run, run_failure_error(context.failure_event))
