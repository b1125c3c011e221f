"""May we publish as of day D? The one answer both publishers read: ``segments`` (segments.duckdb and the
outbox) and then ``analytics`` (analytics.duckdb and the report), which runs after it.

Two conditions, each checked by the publisher itself (a publisher materialised on its own must not skip
them):

- **completeness**: every source loaded, not due or waived for every day up to D (the ledger of
  :mod:`orchestration.defs.ingest.completeness`); a held day sends one ``publish_held`` alert per held set,
  whichever publisher notices it first;
- **the gates**: the latest result of every guarding Great Expectations suite for D passed, and the churn
  model ran for D and met its AUC floor (its run is passed in by the publisher: the model's store is a
  stage above this one).
"""

from __future__ import annotations

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
from orchestration.defs.quality.checks import SUITES
from orchestration.defs.quality.results import latest_suite_results
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.partitions import bounds
from orchestration.lib.privacy_records import purged_tracking_days
from orchestration.lib.rules import load_business_rules

GUARDING_SUITES = tuple(suite.name for suite in SUITES)
COMPLETENESS_CHECK = "completeness"


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


def publish_problems(layout, as_of: str, model_run: dict | None) -> list[str]:
    """:func:`gate_problems` for the as-of date, from quality.duckdb and the churn model's run for it."""
    return gate_problems(latest_suite_results(layout.quality_db, as_of), model_run)


def completeness_ledger(layout, as_of: str) -> list[LedgerDay]:
    """The completeness ledger of every source from the partitions' first day (or the first delivery, if
    later) to ``as_of``."""
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
