"""Great Expectations suites as blocking Dagster asset checks, one per suite under ``expectations/``.

Each check computes its suite's metric frame in SQL (read-only on the warehouse), validates it with GX
(imported lazily), appends every result to ``dq_results``, alerts on failure, and returns the counts as
metadata. Checks are ``blocking``: a failure stops the publish step in the same run, and the publish step
also re-checks ``dq_results`` itself (a publish materialised on its own must not skip the gate).

The persons gate judges the persons not quarantined (``person_quarantine``, docs/quality.md): when it
passes with quarantined persons, one ``persons_quarantined`` warning alert names their count and reasons.

Every gate first checks that the warehouse is as of its run's day (:mod:`orchestration.defs.quality.
warehouse_as_of`): if another run rebuilt it for another day, the gate fails naming both dates, records a
failed result for its day (so the publish step holds back) and alerts; the suite is not evaluated.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.defs.quality.gx_runner import ExpectationOutcome, SuiteOutcome
from orchestration.defs.quality.quarantine import quarantine_alert, quarantine_summary
from orchestration.defs.quality.results import record_results
from orchestration.defs.quality.suites import Suite, discover_suites, metric_frame
from orchestration.defs.quality.warehouse_as_of import warehouse_as_of_dates, warehouse_as_of_problem
from orchestration.lib.alerts import Alert, Delivery, content_key, send_alert
from orchestration.lib.as_of import resolve_as_of_date
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, run_as_of_date
from orchestration.lib.rules import load_business_rules
from orchestration.lib.settings import FundcdpSettings

FRESHNESS_SUITE = "freshness_and_volume"
# the expectation name a gate records when the warehouse was not as of its day (dq_results)
WAREHOUSE_AS_OF_EXPECTATION = "warehouse_is_as_of_run_day"
PERSONS_SUITE = "persons"


def run_quality_check(
    suite: Suite,
    settings: FundcdpSettings,
    run_id: str,
    log=None,
    as_of_date: date | None = None,
    rules: dict | None = None,
) -> dg.AssetCheckResult:
    """Validate ``suite`` as of the run's as-of date (``as_of_date``, else the configured or latest one);
    record, alert, and describe the outcome (``rules``: the business rules, default the dbt project's)."""
    from orchestration.defs.quality.gx_runner import data_docs_run_name, validate_frame

    layout = settings.layout()
    as_of = resolve_as_of_date(settings, as_of_date).isoformat()
    mismatch = warehouse_as_of_problem(layout.warehouse_db, as_of)
    if mismatch is not None:
        return _wrong_warehouse(suite, layout, run_id, as_of, mismatch, log)
    frame = metric_frame(layout.warehouse_db, suite, as_of, rules)
    outcome = validate_frame(
        suite.path, frame, layout.gx, parameters=rules, run_name=data_docs_run_name(as_of, run_id)
    )
    asset = "/".join(suite.guards)
    record_results(layout.quality_db, run_id, asset, as_of, suite.name, outcome)
    failed = [
        f"{item.expectation_type} on {item.column}: observed {item.observed_value}"
        + (f", {item.unexpected_count} unexpected" if item.unexpected_count else "")
        for item in outcome.expectations
        if not item.success
    ]
    metadata: dict[str, object] = {
        "as_of_date": as_of,
        "suite": suite.name,
        "rows_validated": len(frame),
        "evaluated": outcome.evaluated,
        "failed": outcome.failed,
        "failed_expectations": dg.MetadataValue.json(failed),
    }
    if {"rows_z_score", "prior_loads", "rows_loaded"} <= set(frame.columns):
        # tables that loaded rows today but have too few earlier deliveries with rows to judge the volume
        minimum = int(load_business_rules()["quality"]["freshness_and_volume"]["min_history_loads"])
        short = frame[(frame.prior_loads < minimum) & frame.rows_z_score.isna() & (frame.rows_loaded > 0)]
        if len(short):
            metadata["insufficient_history"] = dg.MetadataValue.json(sorted(short.source_table.astype(str)))
    quarantine_details: dict[str, object] = {}
    if suite.name == PERSONS_SUITE:
        quarantined = quarantine_summary(layout.warehouse_db)
        quarantine_details = {"quarantined_persons": quarantined.persons, "reasons": quarantined.by_reason}
        metadata["quarantined_persons"] = quarantined.persons
        metadata["quarantine_reasons"] = dg.MetadataValue.json(quarantined.by_reason)
        warning = quarantine_alert(quarantined, asset, as_of, run_id) if outcome.success else None
        if warning is not None:
            # the others publish; a failed gate (beyond the caps) sends the failure alert below instead
            send_quarantine_warning(warning, layout.alerts_log)
            if log is not None:
                log.warning(warning.text())
    if not outcome.success:
        alert = Alert(
            kind="stale_data" if suite.name == FRESHNESS_SUITE else "check_failed",
            summary=f"quality gate gx_{suite.name} failed: "
            f"{outcome.failed} of {outcome.evaluated} expectations",
            asset=asset,
            partition=as_of,
            run_id=run_id,
            details={
                "evaluated": outcome.evaluated,
                "failed": outcome.failed,
                "failed_expectations": failed,
                **quarantine_details,
            },
        )
        deliveries = send_alert(alert, layout.alerts_log)
        metadata["alert_deliveries"] = dg.MetadataValue.json(
            [{"channel": d.channel, "ok": d.ok, "error": d.error} for d in deliveries]
        )
        if log is not None:
            log.error(alert.text())
    return dg.AssetCheckResult(
        check_name=f"gx_{suite.name}",
        asset_key=dg.AssetKey(suite.asset_path),
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def send_quarantine_warning(warning: Alert, log_path: Path) -> list[Delivery]:
    """Send a ``persons_quarantined`` warning when it differs from the last one sent for its asset: the
    same quarantine found by every run is not news, a change is, also back to an earlier content (A, A,
    B, A sends A, B, A)."""
    return send_alert(
        warning, log_path, once_key=content_key(warning), stream=f"{warning.kind}:{warning.asset or '-'}"
    )


def _wrong_warehouse(suite: Suite, layout, run_id: str, as_of: str, problem: str, log) -> dg.AssetCheckResult:
    """The gate's result when the warehouse is not as of ``as_of``: failed, recorded failed for ``as_of``
    (the publish step reads the latest result per day), alerted; the suite is not evaluated."""
    built = [day.isoformat() for day in warehouse_as_of_dates(layout.warehouse_db)]
    asset = "/".join(suite.guards)
    outcome = SuiteOutcome(
        suite.name,
        False,
        (ExpectationOutcome(WAREHOUSE_AS_OF_EXPECTATION, None, False, json.dumps(built), None, None),),
    )
    record_results(layout.quality_db, run_id, asset, as_of, suite.name, outcome)
    alert = Alert(
        kind="check_failed",
        summary=f"quality gate gx_{suite.name} failed: {problem}",
        asset=asset,
        partition=as_of,
        run_id=run_id,
        details={"run_day": as_of, "warehouse_as_of": built},
    )
    deliveries = send_alert(alert, layout.alerts_log)
    if log is not None:
        log.error(alert.text())
    return dg.AssetCheckResult(
        check_name=f"gx_{suite.name}",
        asset_key=dg.AssetKey(suite.asset_path),
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=problem,
        metadata={
            "as_of_date": as_of,
            "warehouse_as_of": dg.MetadataValue.json(built),
            "suite": suite.name,
            "evaluated": 0,
            "failed": 1,
            "failed_expectations": dg.MetadataValue.json([problem]),
            "alert_deliveries": dg.MetadataValue.json(
                [{"channel": d.channel, "ok": d.ok, "error": d.error} for d in deliveries]
            ),
        },
    )


def _quality_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(suite.asset_path),
        name=f"gx_{suite.name}",
        description=f"Great Expectations suite expectations/{suite.name}.json: {suite.description}",
        blocking=True,
        pool=DUCKDB_WRITER_POOL,
    )
    def _check(context: dg.AssetCheckExecutionContext, settings: FundcdpSettings) -> dg.AssetCheckResult:
        return run_quality_check(
            suite, settings, context.run.run_id, context.log, run_as_of_date(context.run.tags)
        )

    return _check


SUITES = discover_suites()
quality_checks = [_quality_check(suite) for suite in SUITES]
