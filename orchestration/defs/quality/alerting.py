"""Alerts for failed runs (failed quality gates alert from the checks themselves)."""

import dagster as dg

from orchestration.defs.resources import FundcdpSettings
from orchestration.lib.alerts import Alert, send_alert


def run_failure_alert(run: dg.DagsterRun, error: str | None) -> Alert:
    """The alert sent for a failed run."""
    partition = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_end")
    return Alert(
        kind="run_failed",
        summary=f"run of job {run.job_name} failed",
        asset=None,
        partition=partition,
        run_id=run.run_id,
        details={"error": (error or "")[:2000]},
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Sends every failed run to the alert channels (FUNDCDP_ALERT_*) and logs/alerts.log.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    message = context.failure_event.message if context.failure_event else None
    send_alert(run_failure_alert(context.dagster_run, message), FundcdpSettings().layout().alerts_log)
