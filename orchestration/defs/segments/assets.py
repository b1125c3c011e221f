"""Segments as a Dagster asset: evaluated as of the build and published (segments.duckdb and the outbox)
through the publish gate. The analytics asset runs after it and publishes the new versions to analysts."""

from datetime import date

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.ingest.completeness import held_list, held_text
from orchestration.defs.ml import store as model_store
from orchestration.defs.ml.assets import tags_model
from orchestration.defs.ml.churn import MODEL_NAME as CHURN_MODEL
from orchestration.defs.quality.publish_gate import hold_for_completeness, publish_problems
from orchestration.defs.quality.warehouse_as_of import warehouse_as_of_problem
from orchestration.defs.segments.compiler import referenced_tags
from orchestration.defs.segments.definition import Catalog, SegmentError, load_segments
from orchestration.defs.segments.guard import SegmentSQLRefused
from orchestration.defs.segments.versions import evaluate, members_without_consent, publish_segment
from orchestration.defs.transform.dbt import fundcdp_dbt_models
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.as_of import resolve_as_of_date
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, days, run_as_of_date
from orchestration.lib.settings import FundcdpSettings

# The dbt models the segments read, and the gated marts: a blocking gate failed on one of them stops the
# segments (and the analytics after them) in the run, as it stops the analytics asset.
SEGMENT_INPUTS = (
    "segment_persons",
    "int_segment_events",
    "int_events_attributed",
    "person_quarantine",
    "persons",
    "person_profile",
    "tag_coverage",
)


def _publish_problems(layout, as_of: date) -> list[str]:
    run = model_store.latest_run(layout.warehouse_db, CHURN_MODEL, as_of)
    return publish_problems(layout, as_of.isoformat(), run)


@dg.asset(
    key=["segments"],
    deps=[*(get_asset_key_for_model([fundcdp_dbt_models], model) for model in SEGMENT_INPUTS), tags_model],
    group_name="segments",
    kinds={"duckdb", "csv", "parquet"},
    pool=DUCKDB_WRITER_POOL,
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Every segment under segments/ evaluated as of the build and published as a new version "
    "(segments.duckdb, outbox/segments/<segment>/<version>/) when every source is complete up to the as-of "
    "date (the completeness ledger), the quality gates passed and its size and "
    "change are within bounds; otherwise the last good version stays and an alert goes out. A segment "
    "identical to its current version of the same as-of date (definition, members, groups, exclusions) "
    "publishes nothing: status unchanged. Analysts get the versions through analytics, which runs next. "
    "A segment naming a model tag whose model gave no tags that day (model_tags_unavailable in its "
    "summary) matches no one on that tag.",
)
def segments(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    as_of = resolve_as_of_date(settings, run_as_of_date(context.run.tags))
    catalog = Catalog.load()
    try:
        definitions = load_segments(catalog=catalog)
    except SegmentError as problem:
        raise dg.Failure(description=f"invalid segment definition: {problem}") from problem
    # A day of a source not loaded (nor waived) up to the as-of date: no segment is published at all
    # (the same held set alerts once, whether analytics or this asset notices it first).
    _, held = hold_for_completeness(layout, as_of.isoformat(), "segments", context.run.run_id)
    if held:
        raise dg.Failure(
            description=f"{held_text(held)}: no segment published, their previous versions stay",
            metadata={"held": dg.MetadataValue.json(held_list(held))},
        )
    problems = _publish_problems(layout, as_of)
    # another run may have rebuilt the warehouse for another day since this run's gates passed
    if (other_day := warehouse_as_of_problem(layout.warehouse_db, as_of)) is not None:
        problems = [*problems, other_day]
    checks_passed = not problems
    # a model that gave no tags today: segments naming its tags match no one on them (they are null)
    unavailable = model_store.unavailable_models(layout.warehouse_db, as_of)
    summary: dict[str, dict] = {}
    for definition in definitions:
        try:  # evaluate() runs the compiled SQL only after the guard passed it
            evaluation = evaluate(layout.warehouse_db, definition, catalog, as_of)
        except SegmentSQLRefused as refused:
            raise dg.Failure(description=str(refused)) from refused
        outcome = publish_segment(layout.segments_db, layout.outbox, evaluation, checks_passed)
        summary[definition.name] = {
            "status": outcome.status,
            "version": outcome.version,
            "size": outcome.size,
            "entered": outcome.entered,
            "exited": outcome.exited,
            "excluded": outcome.excluded,
            **({"reason": outcome.reason} if outcome.reason else {}),
            **(
                {"model_tags_unavailable": missing}
                if (missing := model_store.unavailable_tags(referenced_tags(definition.rule), unavailable))
                else {}
            ),
            "preview": evaluation.preview(),
        }
        if outcome.status == "blocked":
            alert = Alert(
                kind="check_failed",
                summary=f"segment {definition.name} not published: {outcome.reason}",
                asset="segments",
                partition=as_of.isoformat(),
                run_id=context.run.run_id,
                details={"size": outcome.size, "entered": outcome.entered, "exited": outcome.exited,
                         "kept_version": outcome.version, "gates": problems},
            )  # fmt: skip
            send_alert(alert, layout.alerts_log)
            context.log.error(alert.text())
    return dg.MaterializeResult(
        metadata={
            "as_of_date": as_of.isoformat(),
            "published": sum(1 for item in summary.values() if item["status"] == "published"),
            # identical to their current version of this as-of date: no version, no export (a re-run)
            "unchanged": dg.MetadataValue.json(
                sorted(name for name, item in summary.items() if item["status"] == "unchanged")
            ),
            "blocked": dg.MetadataValue.json(
                {name: item["reason"] for name, item in summary.items() if item["status"] == "blocked"}
            ),
            "segments": dg.MetadataValue.json(summary),
        }
    )


@dg.asset_check(
    asset=dg.AssetKey("segments"),
    name="segment_members_have_consent",
    blocking=True,
    pool=DUCKDB_WRITER_POOL,
    description="Zero members of the current version of any marketing segment without consent for its "
    "channel on the as-of date (most restrictive across merged CRM records; unknown means no).",
)
def segment_members_have_consent(
    context: dg.AssetCheckExecutionContext, settings: FundcdpSettings
) -> dg.AssetCheckResult:
    layout = settings.layout()
    day = run_as_of_date(context.run.tags)
    if day is not None and (other_day := warehouse_as_of_problem(layout.warehouse_db, day)) is not None:
        # consent as of another day than the run's: the warehouse was rebuilt by another run since
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=other_day,
            metadata={"as_of_date": day.isoformat(), "problem": other_day},
        )
    missing = members_without_consent(layout.segments_db, layout.warehouse_db, load_segments())
    return dg.AssetCheckResult(
        passed=missing == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"members_without_consent": missing},
    )
