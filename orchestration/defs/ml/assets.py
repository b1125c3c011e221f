"""Predictive and cluster tags as Dagster assets (group ``models``), after the dbt tags: the churn model
(with its blocking AUC check), the behaviour clusters, and the sixth tag table ``tags_model`` that the
publish step and the segments read. Every step writes warehouse.duckdb, so all are in the writer pool."""

from datetime import date

import dagster as dg
import pandas as pd

from orchestration.defs.ml import store
from orchestration.defs.ml.churn import MODEL_NAME as CHURN_MODEL
from orchestration.defs.ml.churn import ChurnSettings, flag, train_and_score
from orchestration.defs.ml.clusters import MODEL_NAME as CLUSTER_MODEL
from orchestration.defs.ml.clusters import ClusterSettings, fit_clusters
from orchestration.lib.alerts import Alert, send_alert
from orchestration.lib.as_of import resolve_as_of_date
from orchestration.lib.asset_metadata import row_count_and_as_of
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, days, run_as_of_date
from orchestration.lib.rules import load_business_rules
from orchestration.lib.settings import FundcdpSettings

CHURN_KEY = dg.AssetKey(["models", "churn_propensity"])
CLUSTERS_KEY = dg.AssetKey(["models", "behaviour_clusters"])
TAGS_KEY = dg.AssetKey(["marts", "tags_model"])
# the dbt models the models read (their relations come from the manifest)
FEATURES = "int_churn_feature_snapshots"
BEHAVIOUR = "behaviour_features"


def _as_of(context, settings: FundcdpSettings) -> date:
    return resolve_as_of_date(settings, run_as_of_date(context.run.tags))


def _require_built_as_of(frame: pd.DataFrame, column: str, as_of: date, relation: str) -> None:
    """The dbt features must be those of the run's as-of date (a model asset materialised on its own
    after a build for another date must not score that date's rows as this one's)."""
    built = pd.to_datetime(frame[column]).dt.date.max() if len(frame) else None
    if built is not None and built != as_of:
        raise dg.Failure(
            description=f"{relation} is as of {built}, not {as_of}: build the dbt models as of {as_of} first"
        )


def _report_unavailable(
    context, layout, model: str, asset: str, as_of: date, status: str, reason: str, details: dict
) -> bool:
    """A model that gives no tags for this date: a warning in the log, and a ``model_unavailable`` alert
    through the configured channels when it newly became so (the previous run trained, had another
    status, or there is none), so a company without tracking is told once, not every day. Returns
    whether it alerted."""  # fmt: skip
    context.log.warning(f"{model} unavailable as of {as_of} ({status}): {reason}")
    previous = store.previous_run(layout.warehouse_db, model, as_of)
    if previous is not None and previous["status"] == status:
        return False
    alert = Alert(
        kind="model_unavailable",
        summary=f"{model} unavailable as of {as_of} ({status}): {reason}; its tags in tags_model are "
        "null with the status as the reason, and segments naming them keep their last version",
        asset=asset,
        partition=as_of.isoformat(),
        run_id=context.run.run_id,
        details={"status": status, "previous_status": previous["status"] if previous else None, **details},
    )
    send_alert(alert, layout.alerts_log)
    return True


def _markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    header = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n"
    body = "".join(
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()) + " |\n"
        for row in rows
    )
    return header + body


@dg.asset(
    key=CHURN_KEY,
    deps=[dg.AssetKey(["intermediate", "int_churn_feature_snapshots"])],
    group_name="ml",
    kinds={"python", "scikitlearn", "duckdb"},
    pool=DUCKDB_WRITER_POOL,
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Churn propensity: a logistic regression trained on the point-in-time feature snapshots "
    "(int_churn_feature_snapshots), evaluated on a later time split against the baseline 'days since last "
    "activity' (AUC, precision at the top decile, calibration: model_evaluations), refit on every labelled "
    "snapshot and used to score the persons active on the as-of date. Blocked from publishing below "
    "vars fundcdp.models.churn.min_auc.",
)
def churn_propensity(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    as_of = _as_of(context, settings)
    rules = load_business_rules()
    churn = ChurnSettings.from_rules(rules)
    frame = store.read_frame(layout.warehouse_db, FEATURES)
    scoring = frame[flag(frame.is_scoring_snapshot)]
    _require_built_as_of(scoring, "snapshot_date", as_of, FEATURES)
    result = train_and_score(frame, as_of, churn)
    parameters = {**churn.__dict__, "dormant_after_days": rules["tags"]["dormant_after_days"]}
    store.write_churn(layout.warehouse_db, result, churn.min_auc, parameters)
    metadata: dict[str, object] = {
        **row_count_and_as_of(len(result.scores), as_of),  # the persons scored
        "status": result.status,
        "model_version": result.model_version or "none",
        "feature_rows": len(frame),
        "training_rows": result.training_rows,
        "scored_persons": len(result.scores),
    }
    if result.status != "trained":
        metadata["reason"] = result.reason
        metadata["churn_propensity"] = "unavailable"
        metadata["alerted"] = _report_unavailable(
            context, layout, CHURN_MODEL, "models/churn_propensity", as_of, result.status, result.reason,
            {"feature_rows": len(frame), "training_rows": result.training_rows},
        )  # fmt: skip
        return dg.MaterializeResult(metadata=metadata)
    metadata.update(
        {
            "training_window": " .. ".join(result.training_window),
            "evaluated_model_training_window": " .. ".join(result.evaluated_training_window),
            "evaluation_window": " .. ".join(result.evaluation_window),
            **{name: dg.MetadataValue.float(round(value, 4)) for name, value in result.metrics.items()},
            "risk_bands": dg.MetadataValue.json(result.scores.churn_risk_band.value_counts().to_dict()),
            "calibration": dg.MetadataValue.md(_markdown_table(result.calibration)),
            "coefficients": dg.MetadataValue.json({k: round(v, 4) for k, v in result.coefficients.items()}),
        }
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(
    asset=CHURN_KEY,
    name="churn_model_auc_floor",
    blocking=True,
    pool=DUCKDB_WRITER_POOL,
    description="The churn model's AUC on the later time split is at least "
    "vars fundcdp.models.churn.min_auc. Blocking: below it, tags_model and everything published after "
    "it wait, and the engineers are alerted. "
    "With too little labelled history there is no model (churn tags stay empty) and the check passes.",
)
def churn_model_auc_floor(
    context: dg.AssetCheckExecutionContext, settings: FundcdpSettings
) -> dg.AssetCheckResult:
    layout = settings.layout()
    as_of = resolve_as_of_date(settings, run_as_of_date(context.run.tags))
    run = store.latest_run(layout.warehouse_db, CHURN_MODEL, as_of)
    if run is None:
        problem = f"the churn model has not run as of {as_of}"
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={"problem": problem})  # fmt: skip
    metadata = {"status": run["status"], "model_version": run["model_version"] or "none",
                "min_auc": run["min_auc"]}  # fmt: skip
    if run["status"] != "trained":
        metadata["reason"] = run["reason"]
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
    metadata.update({"auc": round(run["auc"], 4), "baseline_auc": round(run["baseline_auc"], 4)})
    if not run["passed_floor"]:
        alert = Alert(
            kind="check_failed",
            summary=f"churn model {run['model_version']} below its AUC floor: {run['auc']:.4f} < "
            f"{run['min_auc']:.2f} on {run['evaluation_from']} .. {run['evaluation_to']}; tags_model, "
            "analytics and segments not published",
            asset="models/churn_propensity",
            partition=as_of.isoformat(),
            run_id=context.run.run_id,
            details={"auc": run["auc"], "baseline_auc": run["baseline_auc"], "min_auc": run["min_auc"],
                     "training_rows": run["training_rows"]},
        )  # fmt: skip
        send_alert(alert, layout.alerts_log)
        context.log.error(alert.text())
    return dg.AssetCheckResult(
        passed=bool(run["passed_floor"]), severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
    )


@dg.asset(
    key=CLUSTERS_KEY,
    deps=[dg.AssetKey(["marts", "behaviour_features"])],
    group_name="ml",
    kinds={"python", "scikitlearn", "duckdb"},
    pool=DUCKDB_WRITER_POOL,
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Behaviour clusters: k-means on the standardised behaviour features (product-type mix, SIP "
    "use, purchases, activity, app-section and channel mix), k by silhouette, each cluster named by its "
    "dominant traits; a cluster close to one of the previous run keeps its id and name (behaviour_clusters).",
)
def behaviour_clusters(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    as_of = _as_of(context, settings)
    cluster_settings = ClusterSettings.from_rules(load_business_rules())
    frame = store.read_frame(layout.warehouse_db, BEHAVIOUR)
    _require_built_as_of(frame, "as_of_date", as_of, BEHAVIOUR)
    previous = store.previous_clusters(layout.warehouse_db, as_of)
    result = fit_clusters(frame, cluster_settings, previous)
    store.write_clusters(layout.warehouse_db, result, as_of, cluster_settings.__dict__)
    metadata: dict[str, object] = {
        **row_count_and_as_of(len(frame), as_of),  # the persons clustered
        "status": result.status,
        "model_version": result.model_version or "none",
        "persons": len(frame),
    }
    if result.status != "trained":
        metadata["reason"] = result.reason
        metadata["behaviour_cluster"] = "unavailable"
        metadata["alerted"] = _report_unavailable(
            context, layout, CLUSTER_MODEL, "models/behaviour_clusters", as_of, result.status, result.reason,
            {"persons": len(frame)},
        )  # fmt: skip
        return dg.MaterializeResult(metadata=metadata)
    clusters = result.clusters[["cluster_id", "cluster_name", "persons", "name_kept"]].to_dict("records")
    metadata.update(
        {
            "k": result.k,
            "silhouette_by_k": dg.MetadataValue.json({str(k): v for k, v in result.silhouettes.items()}),
            "clusters": dg.MetadataValue.md(_markdown_table(clusters)),
            "names_kept": int(result.clusters.name_kept.sum()),
        }
    )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=TAGS_KEY,
    deps=[CHURN_KEY, CLUSTERS_KEY, dg.AssetKey(["marts", "persons"])],
    group_name="ml",
    kinds={"duckdb"},
    pool=DUCKDB_WRITER_POOL,
    partitions_def=days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="The sixth tag table (dimension model_tags): churn_propensity, churn_risk_band and "
    "behaviour_cluster per person of persons as of the as-of date (null where there is no model or the "
    "person is not scored; churn_unavailable_reason / cluster_unavailable_reason say which), catalogued "
    "in tag_catalog like every tag.",
)
def tags_model(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> dg.MaterializeResult:
    layout = settings.layout()
    as_of = _as_of(context, settings)
    counts = store.write_tag_table(layout.warehouse_db, as_of)
    unavailable = store.unavailable_models(layout.warehouse_db, as_of)
    return dg.MaterializeResult(
        metadata={
            **row_count_and_as_of(counts["persons"], as_of),  # one row per person
            "persons": counts["persons"],
            "coverage": dg.MetadataValue.json({k: v for k, v in counts.items() if k != "persons"}),
            "unavailable_models": dg.MetadataValue.json(unavailable),
        }
    )


model_assets = [churn_propensity, behaviour_clusters, tags_model]
model_checks = [churn_model_auc_floor]
