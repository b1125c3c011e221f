"""The publish step: ``analytics.duckdb`` for analysts, only when every source is complete up to the as-of
date (the completeness ledger) and the quality gates passed."""

import dagster as dg

from orchestration.defs.ingest.completeness import (
    LedgerDay,
    build_ledger,
    held_days,
    held_key,
    held_list,
    held_text,
    ledger_counts,
    ledger_markdown,
)
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.ml.churn import MODEL_NAME as CHURN_MODEL
from orchestration.defs.ml.store import PUBLISHED as MODEL_TABLES
from orchestration.defs.ml.store import latest_run
from orchestration.defs.publish.analytics import (
    PUBLISHED_TABLES,
    PublishError,
    preview_markdown,
    privacy_report,
    publish_analytics,
)
from orchestration.defs.quality.checks import SUITES
from orchestration.defs.quality.results import latest_suite_results
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.as_of import resolve_as_of_date
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, bounds, days, run_as_of_date
from orchestration.lib.privacy_records import purged_tracking_days
from orchestration.lib.rules import load_business_rules
from orchestration.lib.settings import FundcdpSettings

GUARDING_SUITES = tuple(suite.name for suite in SUITES)


def gate_problems(results: dict[str, bool], model_run: dict | None = None) -> list[str]:
    """Why publishing must not happen: guarding suites not validated for the date, or failed; the churn
    model (its latest run for the date, ``model_run``) not run, or below its AUC floor."""
    missing = [f"gx_{name}: not validated for this date" for name in GUARDING_SUITES if name not in results]
    failed = [f"gx_{name}: failed" for name in GUARDING_SUITES if results.get(name) is False]
    if model_run is None:
        failed.append("churn_model_auc_floor: the churn model has not run for this date")
    elif model_run["status"] == "trained" and not model_run["passed_floor"]:
        failed.append(f"churn_model_auc_floor: failed (AUC {model_run['auc']:.4f} < {model_run['min_auc']})")
    return missing + failed


def publish_problems(layout, as_of: str) -> list[str]:
    """:func:`gate_problems` for the as-of date, from quality.duckdb and the warehouse's model runs."""
    from datetime import date

    run = latest_run(layout.warehouse_db, CHURN_MODEL, date.fromisoformat(as_of))
    return gate_problems(latest_suite_results(layout.quality_db, as_of), run)


COMPLETENESS_CHECK = "completeness"


def completeness_ledger(layout, as_of: str) -> list[LedgerDay]:
    """The completeness ledger (defs/ingest/completeness.py) of every source from the partitions' first day
    (or
    the first delivery, if later) to ``as_of``."""
    schedule = DeliverySchedule.from_rules(load_business_rules())
    return build_ledger(layout, bounds.first_day, as_of, schedule, purged_tracking_days(layout))


def hold_for_completeness(layout, as_of: str, asset: str, run_id: str | None) -> tuple[list, list]:
    """The ledger as of ``as_of`` and the days in it that hold publishing back (failed, missing, delivered
    but not loaded, and not waived). When some do, one ``publish_held`` alert per held set goes out
    (however many assets and runs are held by the same days)."""
    ledger = completeness_ledger(layout, as_of)
    held = held_days(ledger)
    if held:
        alert = Alert(
            kind="publish_held",
            summary=f"{held_text(held)}; nothing published as of {as_of}, the previous version stays "
            "(re-deliver and re-run the days, or waive them: python -m orchestration.cli waive)",
            asset=asset,
            partition=as_of,
            run_id=run_id,
            details={"held": held_list(held), "days_held": len(held)},
        )
        send_alert(alert, layout.alerts_log, once_key=held_key(held))
    return ledger, held


def completeness_result(ledger: list, held: list, as_of: str) -> dg.AssetCheckResult:
    """The ``completeness`` check's result: the ledger as a table, the held days named."""
    return dg.AssetCheckResult(
        check_name=COMPLETENESS_CHECK,
        passed=not held,
        severity=dg.AssetCheckSeverity.ERROR,
        description=held_text(held) if held else f"every source complete up to {as_of}",
        metadata={
            "as_of_date": as_of,
            "days_held": len(held),
            "held": dg.MetadataValue.json(held_list(held)),
            "days_by_status": dg.MetadataValue.json(ledger_counts(ledger)),
            "ledger": dg.MetadataValue.md(ledger_markdown(ledger)),
        },
    )


@dg.asset(
    key=["analytics"],
    # the dbt marts, and tags_model (after the model assets, which write the other model tables)
    deps=[dg.AssetKey(["marts", table]) for table in PUBLISHED_TABLES if table not in MODEL_TABLES[1:]],
    group_name="publish",
    kinds={"duckdb"},
    pool=DUCKDB_WRITER_POOL,
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # Checked before anything is published, by the asset itself: a check of its own shows the ledger in
    # the UI (Checks tab of analytics) whether it holds or not; a failed one means nothing was published.
    check_specs=[
        dg.AssetCheckSpec(
            COMPLETENESS_CHECK,
            asset="analytics",
            blocking=True,
            description="Every day up to the as-of date of every source loaded, not due or waived "
            "(the completeness ledger); otherwise nothing is published and the previous version stays.",
        )
    ],
    description="analytics.duckdb: the analyst-facing marts and tags, written to a fresh file and swapped in "
    "atomically, only when every source is complete up to the as-of date (check completeness) and the "
    "latest result of every quality gate for the as-of date passed. Person ids are "
    "published pseudonyms, identifiers dropped, gender / birth year / city k-anonymous.",
)
def analytics(context: dg.AssetExecutionContext, settings: FundcdpSettings):
    layout = settings.layout()
    as_of = resolve_as_of_date(settings, run_as_of_date(context.run.tags)).isoformat()
    ledger, held = hold_for_completeness(layout, as_of, "analytics", context.run.run_id)
    yield completeness_result(ledger, held, as_of)
    if held:
        raise dg.Failure(
            description=f"{held_text(held)}: analytics.duckdb not published, the previous version stays",
            metadata={"held": dg.MetadataValue.json(held_list(held))},
        )
    problems = publish_problems(layout, as_of)
    if problems:
        alert = Alert(
            kind="check_failed",
            summary=f"publishing blocked: {len(problems)} quality gate(s) not passed; "
            "the previous analytics file stays",
            asset="analytics",
            partition=as_of,
            run_id=context.run.run_id,
            details={"gates": problems},
        )
        send_alert(alert, layout.alerts_log)
        raise dg.Failure(description=alert.text(), metadata={"gates": dg.MetadataValue.json(problems)})
    try:
        counts = publish_analytics(
            layout.warehouse_db,
            layout.analytics_db,
            layout.quality_db,
            segments_db=layout.segments_db,
            private_db=layout.private_db,
        )
    except PublishError as problem:
        raise dg.Failure(description=str(problem)) from problem
    try:
        from orchestration.defs.quality.gx_runner import build_data_docs

        docs = str(build_data_docs(layout.gx))
    except Exception as problem:  # Data Docs are a convenience: never fail a publish over them
        context.log.warning(f"GX Data Docs not built: {problem}")
        docs = "not built"
    yield dg.MaterializeResult(
        metadata={
            "as_of_date": as_of,
            "path": str(layout.analytics_db),
            "days_by_status": dg.MetadataValue.json(ledger_counts(ledger)),
            "rows": dg.MetadataValue.json(counts),
            "preview": dg.MetadataValue.md(preview_markdown(layout.analytics_db)),
            # k-anonymity of gender / birth year / city: smallest group before and after, counts generalised
            "quasi_identifiers": dg.MetadataValue.json(privacy_report(layout.analytics_db)),
            "data_docs": docs,
            **settings.hash_key_metadata(),  # "hash_key": the public demo key, said on the published file
        }
    )
