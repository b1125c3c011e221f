"""The daily job, its schedule and the delivery sensor: what runs the pipeline without anyone watching.

- ``fundcdp_daily`` builds one day end to end: load the day's delivery, stage, identity, tags as of the
  day, the quality gates, the models, the segments, then analytics.duckdb and the report (the last
  step). It selects every asset of the code location (the dbt macro checks' fixture models are no
  assets): the privacy and raw groups (:data:`LOAD`), then the rest (:data:`BUILD`).
- ``fundcdp_load`` and ``fundcdp_build`` are its two halves by those selections: the command line's runs
  (orchestration/runner.py) launch them or the daily job, always a named job, so that every run shows in
  the UI's Overview and on its job's page. Over a range of days it is one run (a backfill).
- ``fundcdp_daily_schedule`` (FUNDCDP_DAILY_RUN_AT, default 07:30 local time: vars fundcdp.time_zone) runs
  yesterday's day if its delivery is complete and no run built it yet.
- The full sweep of the data tests: a daily run tests only the rows its build wrote in the incremental
  models; the run of each Saturday's data (Sunday morning), launched by the schedule or the sensor, is
  tagged ``fundcdp/full_test_sweep=true`` and tests every table whole (:func:`full_test_sweep_tags`;
  docs/quality.md). Any run launched with that tag does the same.
- A day's delivery is complete when every source due that day (``vars: fundcdp: deliveries: schedule:``:
  daily, some weekdays, or none) delivered; a source not due is not waited for, nor alerted on.
- ``landing_delivery_sensor`` launches a day as soon as its delivery is complete and settled, re-runs a
  corrected day and the days after it, reports incomplete days in its tick and alerts once when a day is
  still incomplete after FUNDCDP_DELIVERY_DEADLINE. Switched on after a history import, it starts from
  the days that import built.

- ``dead_run_reaper`` (on by default, every 30 s) marks failed, frees the pool slots of and alerts
  ``run_crashed`` for any run whose process is gone (``kill -9``, out of memory), whoever launched it: every
  run is tagged with its process's pid and host when it starts (``FundcdpSettings``), and under the default
  run launcher Dagster's run monitoring never fails a daemon-launched run whose worker died.

Schedule and the delivery sensor are off until switched on (in the UI, or ``dagster schedule|sensor
start``), so opening the UI on the demo data does not start a backfill of every demo day.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from orchestration.defs.automation.dead_runs import reap_dead_runs
from orchestration.defs.ingest.definitions import RAW_GROUPS
from orchestration.defs.ingest.deliveries import (
    NOTHING_DUE,
    SensorState,
    decide,
    delivery_days,
    delivery_deadline,
    inspect_day,
    nothing_due_days,
)
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.publish.assets import analytics
from orchestration.defs.transform.dbt import FULL_TEST_SWEEP_TAG
from orchestration.lib.alerts import Alert, send_alert, was_skipped
from orchestration.lib.layout import SOURCES
from orchestration.lib.partitions import RANGE_END_TAG, RANGE_START_TAG, days
from orchestration.lib.rules import load_business_rules, local_time_zone_name, local_zone
from orchestration.lib.settings import FundcdpSettings, parse_clock_time

DAILY_JOB = "fundcdp_daily"

# What a run does, by group (groups are named after the stage that defines the assets, the dbt models'
# after their layer): the privacy step and the raw loads of landing/, then everything built from raw/
# (the dbt models and their gates, the models, the segments, analytics). The fixture models of the dbt
# macro checks are no assets (defs/transform/dbt.py), so they are in neither.
LOAD = dg.AssetSelection.groups("privacy", *RAW_GROUPS)
BUILD = dg.AssetSelection.all() - LOAD
DAILY = LOAD | BUILD
# A day is built once its run's last asset, analytics (after the segments), is materialised for it.
LAST_ASSET = analytics.key

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=DAILY,
    partitions_def=days,
    description="One day end to end: the privacy step, the raw loads, the dbt models (stage, identity, tags "
    "as of the day) and their quality gates, the models, the segments, then analytics.duckdb and the "
    "report, last. A range of days runs as one run, days in date order.",
    tags={
        # A run whose process died (killed, out of memory, machine restart) is retried from the failed
        # step; a failed step (a quality gate, a bad delivery) is not: it alerts instead.
        "dagster/max_retries": "2",
        "dagster/retry_strategy": "FROM_FAILURE",
        "dagster/retry_on_asset_or_op_failure": "false",
    },
)


# The two halves of the daily job, named so that the command line's runs (``make run``, ``cli
# import-history`` loads every day once, then builds as of a day) appear in the UI's Overview and on a
# job's page like any other run. They add no retry tags: the command line reports a failure itself.
LOAD_JOB = "fundcdp_load"
BUILD_JOB = "fundcdp_build"

load_job = dg.define_asset_job(
    LOAD_JOB,
    selection=LOAD,
    partitions_def=days,
    description="The first half of the daily job: the privacy step, then every raw load of landing/ (a day, "
    "a range of days, or a history import: tag fundcdp/history_from on the last day). `make run` and "
    "`cli import-history` launch it.",
)
build_job = dg.define_asset_job(
    BUILD_JOB,
    selection=BUILD,
    partitions_def=days,
    description="The second half of the daily job, as of one day: the dbt models and their quality gates, "
    "the models, the segments, then analytics.duckdb and the report (raw/ already loaded). `make run` "
    "launches it.",
)


# The weekday (Monday 0 .. Sunday 6) of the data whose run tests every table whole: Saturday's, built on
# Sunday morning.
FULL_TEST_SWEEP_WEEKDAY = 5


def full_test_sweep_tags(run_days: list[str]) -> dict[str, str]:
    """The full-sweep tag when the run's last day (the build its tests follow) is a
    :data:`FULL_TEST_SWEEP_WEEKDAY`, else none."""
    last = datetime.strptime(run_days[-1], "%Y-%m-%d")
    return {FULL_TEST_SWEEP_TAG: "true"} if last.weekday() == FULL_TEST_SWEEP_WEEKDAY else {}


def run_request_for(run_days: list[str], fingerprints: dict[str, str], reason: str) -> dg.RunRequest:
    """One run for ``run_days`` (consecutive, in order); its key changes whenever a delivery changes.

    The partitions end at the latest delivery the code location saw when it loaded. A day delivered since
    is past that end: Dagster refuses a run request's ``partition_key`` outside the partitions, so such a
    day is requested by its range tags (start = end), which Dagster does not check there; the run's own
    process loads the code afresh, with partitions that reach the new day."""
    key = hashlib.sha256(",".join(f"{d}={fingerprints[d]}" for d in run_days).encode()).hexdigest()[:12]
    tags = {"fundcdp/trigger": reason[:200], **full_test_sweep_tags(run_days)}
    if len(run_days) == 1 and days.has_partition_key(run_days[0]):
        return dg.RunRequest(run_key=f"{run_days[0]}@{key}", partition_key=run_days[0], tags=tags)
    if len(run_days) == 1:
        return dg.RunRequest(
            run_key=f"{run_days[0]}@{key}",
            tags={**tags, RANGE_START_TAG: run_days[0], RANGE_END_TAG: run_days[0]},
        )
    return dg.RunRequest(
        run_key=f"{run_days[0]}..{run_days[-1]}@{key}",
        tags={**tags, RANGE_START_TAG: run_days[0], RANGE_END_TAG: run_days[-1]},
    )


def missing_delivery_alerts(day: str, problems: list[str]) -> list[tuple[Alert, str]]:
    """One ``delivery_missing`` alert per source incomplete on ``day``, with its ``once_key``.

    A problem reading ``<source>: ...`` counts for that source, any other (files still changing) for
    ``landing``. A source's day is alerted once, however often the sensor or the schedule finds it still
    incomplete, and by whichever of them finds it first."""
    by_source: dict[str, list[str]] = {}
    for problem in problems:
        source = problem.partition(": ")[0]
        by_source.setdefault(source if source in SOURCES else "landing", []).append(problem)
    missing = sorted(by_source)
    return [
        (
            Alert(
                kind="delivery_missing",
                summary=f"{source} delivery for {day} still incomplete after its deadline; the day is not "
                f"loaded (sources incomplete: {', '.join(missing)})",
                asset=f"landing/{source}",
                partition=day,
                run_id=None,
                details={"source": source, "sources_incomplete": missing, "problems": source_problems},
            ),
            f"delivery_missing:{source}:{day}",
        )
        for source, source_problems in sorted(by_source.items())
    ]


def alert_missing_delivery(log_path: Path, day: str, problems: list[str]) -> list[Alert]:
    """Send :func:`missing_delivery_alerts` (each once); returns the alerts sent now."""
    sent = []
    for alert, once_key in missing_delivery_alerts(day, problems):
        if not was_skipped(send_alert(alert, log_path, once_key=once_key)):
            sent.append(alert)
    return sent


def _waiting_text(waiting: dict[str, list[str]], limit: int = 10) -> str:
    lines = [f"{day}: {'; '.join(reasons)}" for day, reasons in sorted(waiting.items())]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more day(s)"]
    return "\n".join(lines)


@dg.sensor(
    name="landing_delivery_sensor",
    job=daily_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches landing/: launches a day when every source's control file has arrived, every "
    "listed file is there with the listed row count and nothing changed for the settle period; re-runs "
    "a corrected day and the days after it; alerts once for a day still incomplete after the deadline.",
)
def landing_delivery_sensor(context: dg.SensorEvaluationContext, settings: FundcdpSettings):
    layout = settings.layout()
    schedule = DeliverySchedule.from_rules(load_business_rules())
    state = SensorState.from_cursor(context.cursor)
    first_day = days.start.strftime("%Y-%m-%d")
    now = datetime.now(local_zone())
    # A day's partition opens when the (local) day is over: a delivery dated today waits for it.
    # Not the partitions' last day: a day delivered after the code location loaded lies past it.
    last_day = (now.date() - timedelta(days=1)).isoformat()
    deliveries = [
        inspect_day(layout, day, state.line_counts, state.launched.get(day), schedule)
        for day in delivery_days(layout)
        if first_day <= day <= last_day
    ]
    if not state.launched:
        # First tick (a fresh cursor): days already built by a run the sensor did not launch (a history
        # import, `make run`, a backfill) count as launched as they are now, so that switching the sensor
        # on does not rebuild them all as one range.
        built = context.instance.get_materialized_partitions(LAST_ASSET)
        latest_built = max(built) if built else None
        for delivery in deliveries:
            if latest_built is not None and delivery.day <= latest_built and delivery.complete:
                state.launched[delivery.day] = delivery.fingerprint
        for day in nothing_due_days(deliveries, schedule):
            if latest_built is not None and day <= latest_built:
                state.launched[day] = NOTHING_DUE
    decision = decide(
        deliveries, state, now, settings.delivery_settle_seconds(), settings.delivery_deadline(), schedule
    )
    fingerprints = {day: NOTHING_DUE for day in nothing_due_days(deliveries, schedule)}
    fingerprints.update({delivery.day: delivery.fingerprint for delivery in deliveries})
    inspected = {delivery.day: delivery for delivery in deliveries}
    for day in decision.overdue:
        # A day without any folder is inspected too: its problems then name each source due.
        delivery = inspected.get(day) or inspect_day(layout, day, {}, schedule=schedule)
        problems = delivery.problems or decision.waiting.get(day, [])
        for alert in alert_missing_delivery(layout.alerts_log, day, problems):
            context.log.error(alert.text())
        state.alerted[day] = fingerprints.get(day, "missing")
    if decision.waiting:
        context.log.info("waiting:\n" + _waiting_text(decision.waiting))
    if not decision.run_days:
        state.line_counts = {path: value for path, value in state.line_counts.items() if os.path.exists(path)}
        waiting = _waiting_text(decision.waiting)
        return dg.SensorResult(
            skip_reason=decision.reason + (f"; waiting:\n{waiting}" if waiting else ""),
            cursor=state.to_cursor(),
        )
    for day in decision.run_days:
        state.launched[day] = fingerprints[day]
    # Launched days are not counted again unless they change: forget their files' line counts.
    launched_folders = tuple(
        str(layout.landing_day(source, day)) for day in decision.run_days for source in SOURCES
    )
    state.line_counts = {
        path: value
        for path, value in state.line_counts.items()
        if not path.startswith(launched_folders) and os.path.exists(path)
    }
    context.log.info(decision.reason)
    return dg.SensorResult(
        run_requests=[run_request_for(decision.run_days, fingerprints, decision.reason)],
        cursor=state.to_cursor(),
    )


@dg.sensor(
    name="dead_run_reaper",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: a started run whose process (pid and host in its tags) is gone is marked "
    "failed, its pool slots freed and run_crashed alerted once, so it neither blocks the queue nor "
    "goes unnoticed.",
)
def dead_run_reaper(context: dg.SensorEvaluationContext):
    # One query of the started runs of this host and a signal-0 probe per run: cheap at every tick.
    reaped = reap_dead_runs(context.instance)
    for run_id in reaped:
        context.log.error(f"run {run_id}: its process is gone (killed or crashed); marked failed")
    return dg.SkipReason(
        f"reaped {len(reaped)} dead run(s): {', '.join(reaped)}" if reaped else "no dead run"
    )


SCHEDULE_LOOKBACK_DAYS = 2


def alert_overdue_days(
    context: dg.ScheduleEvaluationContext,
    settings: FundcdpSettings,
    schedule: DeliverySchedule,
    scheduled: datetime,
) -> None:
    """The schedule's own check (the delivery sensor may be off): yesterday and the day before, when
    still incomplete past their deadline and not built, alert ``delivery_missing`` (once per source and
    day, shared with the sensor). With the default 07:30 run and 09:00 deadline, a day missing is alerted
    by the run of the day after next; with a deadline before the run time, by the next day's run."""
    layout = settings.layout()
    now = scheduled.astimezone(local_zone())
    first_day = days.start.strftime("%Y-%m-%d")
    built: set[str] | None = None
    for back in range(SCHEDULE_LOOKBACK_DAYS, 0, -1):
        day = (now.date() - timedelta(days=back)).isoformat()
        if day < first_day or now < delivery_deadline(day, settings.delivery_deadline()):
            continue
        delivery = inspect_day(layout, day, {}, schedule=schedule)
        if delivery.complete:
            continue
        if built is None:
            built = set(context.instance.get_materialized_partitions(LAST_ASSET))
        if day in built:
            continue
        for alert in alert_missing_delivery(layout.alerts_log, day, delivery.problems):
            context.log.error(alert.text())


def daily_schedule(run_at: str) -> dg.ScheduleDefinition:
    """The daily schedule at ``run_at`` (HH:MM, local time: vars fundcdp.time_zone), for the day before."""
    at = parse_clock_time(run_at, "FUNDCDP_DAILY_RUN_AT")

    @dg.schedule(
        name="fundcdp_daily_schedule",
        job=daily_job,
        cron_schedule=f"{at.minute} {at.hour} * * *",
        execution_timezone=local_time_zone_name(),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every day at {run_at} {local_time_zone_name()}: builds yesterday's day if its delivery "
        "is complete and the delivery sensor has not built it already.",
    )
    def fundcdp_daily_schedule(context: dg.ScheduleEvaluationContext, settings: FundcdpSettings):
        scheduled = context.scheduled_execution_time or datetime.now(local_zone())
        day = (scheduled.astimezone(local_zone()).date() - timedelta(days=1)).isoformat()
        schedule = DeliverySchedule.from_rules(load_business_rules())
        delivery = inspect_day(settings.layout(), day, {}, schedule=schedule)
        alert_overdue_days(context, settings, schedule, scheduled)
        if not delivery.complete:
            return dg.SkipReason(f"delivery for {day} incomplete: {'; '.join(delivery.problems)}")
        if day in context.instance.get_materialized_partitions(LAST_ASSET):
            return dg.SkipReason(f"{day} already built (by the delivery sensor or an earlier run)")
        if day < days.start.strftime("%Y-%m-%d"):
            return dg.SkipReason(f"{day} is before the first day of the partitions")
        # Past the partitions' end when delivered after the code location loaded: see run_request_for.
        return run_request_for([day], {day: delivery.fingerprint}, f"scheduled run for {day}")

    return fundcdp_daily_schedule
