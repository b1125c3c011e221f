"""The publish step, the last of a run: ``analytics.duckdb`` for analysts and the HTML report, written
once, after the segments, and only when every source is complete up to the as-of date (the completeness
ledger) and the quality gates passed (:mod:`orchestration.defs.quality.publish_gate`)."""

import os
from datetime import date

import dagster as dg

from orchestration.defs.ingest.completeness import held_list, held_text, ledger_counts
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
from orchestration.defs.publish.report import write_report
from orchestration.defs.quality import publish_gate
from orchestration.defs.quality.publish_gate import (
    COMPLETENESS_CHECK,
    completeness_result,
    hold_for_completeness,
)
from orchestration.defs.segments.assets import segments
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.as_of import resolve_as_of_date
from orchestration.lib.asset_metadata import row_count_and_as_of
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, days, run_as_of_date
from orchestration.lib.settings import FundcdpSettings


def dashboards_url() -> str:
    """Where the dashboard app serves this data directory's analytics: ``FUNDCDP_DASHBOARDS_URL``, default
    the local ``make dashboards`` (port ``FUNDCDP_DASHBOARDS_PORT``, 8501)."""
    port = os.environ.get("FUNDCDP_DASHBOARDS_PORT", "8501")
    return os.environ.get("FUNDCDP_DASHBOARDS_URL") or f"http://127.0.0.1:{port}/"


def publish_problems(layout, as_of: str) -> list[str]:
    """The gates' problems for ``as_of`` (:func:`publish_gate.publish_problems`), with the churn model's
    run for that day."""
    run = latest_run(layout.warehouse_db, CHURN_MODEL, date.fromisoformat(as_of))
    return publish_gate.publish_problems(layout, as_of, run)


@dg.asset(
    key=["analytics"],
    # the dbt marts, tags_model (after the model assets, which write the other model tables), and the
    # segments: their new versions are published here, so analytics.duckdb is written once, last
    deps=[
        *(dg.AssetKey(["marts", table]) for table in PUBLISHED_TABLES if table not in MODEL_TABLES[1:]),
        segments,
    ],
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
    description="analytics.duckdb: the analyst-facing marts, tags and segment versions, written to a fresh "
    "file and swapped in atomically, then the HTML report (reports/); the last step of a run, after the "
    "segments. Only when every source is complete up to the as-of date (check completeness) and the "
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
            ledger=ledger,
        )
    except PublishError as problem:
        raise dg.Failure(description=str(problem)) from problem
    try:
        from orchestration.defs.quality.gx_runner import build_data_docs

        docs = str(build_data_docs(layout.gx))
    except Exception as problem:  # Data Docs are a convenience: never fail a publish over them
        context.log.warning(f"GX Data Docs not built: {problem}")
        docs = "not built"
    # The report shows the segments' latest versions: none before the segments first ran.
    report = (
        str(write_report(layout.analytics_db, layout.reports))
        if layout.segments_db.exists()
        else "not written (no segment published yet)"
    )
    yield dg.MaterializeResult(
        metadata={
            # the rows of every table published in analytics.duckdb
            **row_count_and_as_of(sum(counts.values()), as_of),
            "path": str(layout.analytics_db),
            "days_by_status": dg.MetadataValue.json(ledger_counts(ledger)),
            "rows": dg.MetadataValue.json(counts),
            "preview": dg.MetadataValue.md(preview_markdown(layout.analytics_db)),
            # k-anonymity of gender / birth year / city: smallest group before and after, counts generalised
            "quasi_identifiers": dg.MetadataValue.json(privacy_report(layout.analytics_db)),
            "data_docs": docs,
            "report": report,
            # the dashboard app over this file (make dashboards; FUNDCDP_DASHBOARDS_URL where it is served)
            "dashboards": dg.MetadataValue.url(dashboards_url()),
            **settings.hash_key_metadata(),  # "hash_key": the public demo key, said on the published file
        }
    )
