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
from orchestration.defs.segments.contradictions import empty_preview_warning, rule_warnings
from orchestration.defs.segments.definition import Catalog, load_valid_segments
from orchestration.defs.segments.guard import SegmentSQLRefused
from orchestration.defs.segments.versions import (
    current_members,
    evaluate,
    members_without_consent,
    publish_segment,
)
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
    "fund_products",
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
    description="The marketing and compliance audiences: every segment under segments/ evaluated as of "
    "the build and published as a new version (segments.duckdb, `outbox/segments/<segment>/<version>/`) when "
    "every source is complete up to the as-of date (the completeness ledger), the quality gates passed and "
    "its size and change are within bounds (max_change, min_changed_persons); otherwise the last good "
    "version stays, an alert goes out and `segments approve NAME --reason ...` (or the job "
    "approve_segment) can publish it. A segment identical to its current version of the same as-of date "
    "publishes nothing: status unchanged. An invalid segment file is skipped (alert segment_invalid) while "
    "the others publish. Metadata: dagster/row_count (members of the current versions), as_of_date, "
    "per segment its status, size, warnings and preview. Analysts get the versions through analytics, "
    "which runs next. A segment naming a model tag whose model gave no tags that day "
    "(model_tags_unavailable in its summary) matches no one on that tag.",
)
def segments(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    as_of = resolve_as_of_date(settings, run_as_of_date(context.run.tags))
    catalog = Catalog.load()
    # an invalid file is skipped with an alert of its own: one broken file stops no other segment
    files = load_valid_segments(catalog=catalog)
    definitions = files.valid
    for name, problems in files.invalid.items():
        alert = Alert(
            kind="segment_invalid",
            summary=f"segment file {name}.yml is invalid and was skipped ({len(problems)} problem(s)); "
            "the other segments publish",
            asset="segments",
            partition=as_of.isoformat(),
            run_id=context.run.run_id,
            details={"problems": [f"{problem.path}: {problem.reason}" for problem in problems]},
        )
        send_alert(alert, layout.alerts_log)
        context.log.warning(alert.text())
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
        preview = evaluation.preview()
        warnings = [*rule_warnings(definition, catalog)]
        if (empty := empty_preview_warning(definition, preview["size"], preview["matched"])) is not None:
            warnings.append(empty)
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
            **({"pending_version": outcome.pending_version} if outcome.status == "blocked" else {}),
            **({"warnings": [f"{w.path}: {w.reason}" for w in warnings]} if warnings else {}),
            "preview": preview,
        }
        if outcome.status == "blocked":
            alert = Alert(
                kind="check_failed",
                summary=f"segment {definition.name} not published: {outcome.reason}"
                + (
                    f"; to publish it: segments approve {definition.name} --version "
                    f"{outcome.pending_version} --reason '...'"
                    if checks_passed
                    else ""
                ),
                asset="segments",
                partition=as_of.isoformat(),
                run_id=context.run.run_id,
                details={"size": outcome.size, "entered": outcome.entered, "exited": outcome.exited,
                         "kept_version": outcome.version, "gates": problems},
            )  # fmt: skip
            send_alert(alert, layout.alerts_log)
            context.log.error(alert.text())
    members = sum(len(current_members(layout.segments_db, name)[1]) for name in summary)
    return dg.MaterializeResult(
        metadata={
            # the members of every segment's current version (published or kept)
            "dagster/row_count": dg.MetadataValue.int(members),
            "as_of_date": as_of.isoformat(),
            "published": sum(1 for item in summary.values() if item["status"] == "published"),
            # identical to their current version of this as-of date: no version, no export (a re-run)
            "unchanged": dg.MetadataValue.json(
                sorted(name for name, item in summary.items() if item["status"] == "unchanged")
            ),
            "blocked": dg.MetadataValue.json(
                {name: item["reason"] for name, item in summary.items() if item["status"] == "blocked"}
            ),
            "invalid": dg.MetadataValue.json(
                {
                    name: [f"{p.path}: {p.reason}" for p in problems]
                    for name, problems in files.invalid.items()
                }
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
    missing = members_without_consent(layout.segments_db, layout.warehouse_db, load_valid_segments().valid)
    return dg.AssetCheckResult(
        passed=missing == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"members_without_consent": missing},
    )
