"""Where the model assets write, in ``warehouse.duckdb`` (one writer at a time: the writer pool).

Python writes these tables, not dbt, so they live in a schema of their own, ``ml`` (:data:`ML_SCHEMA`),
never inside dbt's schemas. Analyst-facing, published to ``analytics.duckdb`` under the same names:
``ml.tags_model`` (the sixth tag table), ``ml.model_runs``, ``ml.model_evaluations`` and
``ml.behaviour_clusters`` (one set of rows per model and as-of date; a re-run of the date replaces them).
Internal: ``ml.churn_scores`` and ``ml.cluster_members`` (the latest run of each model only). A warehouse
written before they moved has them in dbt's marts schema (and ``main_models``): :func:`connect` moves them
once. dbt models read none of them; what they read of dbt (``persons``) is named through the manifest.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.defs.ml.churn import MODEL_NAME as CHURN_MODEL
from orchestration.defs.ml.churn import ChurnResult
from orchestration.defs.ml.clusters import MODEL_NAME as CLUSTER_MODEL
from orchestration.defs.ml.clusters import ClusterResult
from orchestration.lib.relations import ModelRelation, model_relation
from orchestration.lib.sql import quote_identifier, quote_qualified

# The schema of the tables Python writes (no dbt model lives there).
ML_SCHEMA = "ml"
TAG_TABLE = "tags_model"
PUBLISHED = ("tags_model", "model_runs", "model_evaluations", "behaviour_clusters")
INTERNAL = ("churn_scores", "cluster_members")
# Where a warehouse written before the move keeps them: the DuckDB schemas dbt's marts and the old
# internal tables had then. Read only by the one-time move in connect().
LEGACY_SCHEMAS = {**dict.fromkeys(PUBLISHED, "main_marts"), **dict.fromkeys(INTERNAL, "main_models")}


def relation(table: str) -> str:
    """``"ml"."<table>"`` of one of the tables the model assets write (published or internal).

    Raises:
        ValueError: for a table that is not one of them.
    """
    if table not in PUBLISHED + INTERNAL:
        raise ValueError(
            f"{table!r} is not a table the model assets write ({', '.join(PUBLISHED + INTERNAL)})"
        )
    return quote_qualified(ML_SCHEMA, table)


RUNS, EVALUATIONS, CLUSTERS = (
    relation("model_runs"),
    relation("model_evaluations"),
    relation("behaviour_clusters"),
)
SCORES, MEMBERS, TAGS = relation("churn_scores"), relation("cluster_members"), relation(TAG_TABLE)
RUN_INSERT = f"insert into {RUNS} values ({', '.join(['?'] * 19)})"
EVALUATION_INSERT = f"insert into {EVALUATIONS} values ({', '.join(['?'] * 9)})"

DDL = f"""
create schema if not exists {quote_identifier(ML_SCHEMA)};
create table if not exists {RUNS} (
    model_name varchar, model_version varchar, algorithm varchar, status varchar, reason varchar,
    training_from date, training_to date, evaluated_training_from date, evaluated_training_to date,
    evaluation_from date, evaluation_to date, training_rows bigint, scored_persons bigint,
    auc double, baseline_auc double, min_auc double, passed_floor boolean, parameters varchar,
    as_of_date date
);
create table if not exists {EVALUATIONS} (
    model_name varchar, model_version varchar, metric varchar, calibration_bin integer, rows bigint,
    value double, baseline_value double, observed_rate double, as_of_date date
);
create table if not exists {CLUSTERS} (
    cluster_id integer, cluster_name varchar, persons bigint, name_kept boolean, centroid varchar,
    model_version varchar, as_of_date date
);
create table if not exists {SCORES} (
    person_id varchar, churn_propensity double, churn_risk_band varchar, model_version varchar,
    as_of_date date
);
create table if not exists {MEMBERS} (
    person_id varchar, cluster_id integer, model_version varchar, as_of_date date
);
"""


def connect(warehouse_db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse_db))
    _move_legacy_tables(con)
    con.execute(DDL)
    return con


def _move_legacy_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Move the tables of a warehouse written before they had a schema of their own into ``ml`` (once:
    a table already in ``ml`` is left alone), so that the run history and the cluster ids carry over."""
    found = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema in (select unnest(?)) "
        "and table_name in (select unnest(?))",
        [sorted(set(LEGACY_SCHEMAS.values()) | {ML_SCHEMA}), list(LEGACY_SCHEMAS)],
    ).fetchall()
    in_ml = {table for schema, table in found if schema == ML_SCHEMA}
    legacy = [(s, t) for s, t in found if s != ML_SCHEMA and LEGACY_SCHEMAS[t] == s and t not in in_ml]
    if not legacy:
        return
    con.execute("begin")
    con.execute(f"create schema if not exists {quote_identifier(ML_SCHEMA)}")
    for schema, table in legacy:
        con.execute(f"create table {relation(table)} as select * from {quote_qualified(schema, table)}")
        con.execute(f"drop table {quote_qualified(schema, table)}")
    con.execute("commit")


def read_frame(warehouse_db: Path, model: str | ModelRelation) -> pd.DataFrame:
    """Every row of the dbt model ``model`` (a name, looked up in the manifest, or its relation),
    read-only."""
    where = model if isinstance(model, ModelRelation) else model_relation(model)
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        return con.execute(f"select * from {where.quoted}").df()
    finally:
        con.close()


def _replace_run(con: duckdb.DuckDBPyConnection, model: str, as_of: date) -> None:
    for table in ("model_runs", "model_evaluations"):
        con.execute(
            f"delete from {relation(table)} where model_name = ? and as_of_date = ?",
            [model, as_of],
        )


def write_churn(warehouse_db: Path, result: ChurnResult, min_auc: float, parameters: dict) -> None:
    """The run, its evaluation rows and the scores (which replace the previous run's)."""
    con = connect(warehouse_db)
    try:
        con.execute("begin")
        _replace_run(con, CHURN_MODEL, result.as_of)
        training = result.training_window or (None, None)
        evaluated = result.evaluated_training_window or (None, None)
        evaluation = result.evaluation_window or (None, None)
        con.execute(
            RUN_INSERT,
            [CHURN_MODEL, result.model_version or None, "logistic_regression", result.status,
             result.reason or None, *training, *evaluated, *evaluation, result.training_rows,
             len(result.scores), result.metrics.get("auc"), result.metrics.get("baseline_auc"), min_auc,
             result.passes(min_auc), json.dumps(parameters, sort_keys=True), result.as_of],
        )  # fmt: skip
        metrics, version, as_of = result.metrics, result.model_version, result.as_of
        for metric in ("auc", "precision_top_decile", "base_rate", "evaluation_rows", "evaluation_positives"):
            if metric in metrics:
                baseline = metrics.get(f"baseline_{metric}")
                row = [CHURN_MODEL, version, metric, None, None, metrics[metric], baseline, None, as_of]
                con.execute(EVALUATION_INSERT, row)
        for item in result.calibration:
            bin_, rows, predicted, observed = (
                item["bin"],
                item["rows"],
                item["mean_predicted"],
                item["observed_rate"],
            )
            row = [CHURN_MODEL, version, "calibration", bin_, rows, predicted, None, observed, as_of]
            con.execute(EVALUATION_INSERT, row)
        scores = result.scores.assign(model_version=result.model_version, as_of_date=result.as_of)
        con.execute(f"delete from {SCORES}")
        con.register("scores_frame", scores)
        con.execute(
            f"insert into {SCORES} select person_id, churn_propensity, churn_risk_band, "
            "model_version, as_of_date from scores_frame"
        )
        con.unregister("scores_frame")
        con.execute("commit")
    finally:
        con.close()


def latest_run(warehouse_db: Path, model: str, as_of: date) -> dict | None:
    """The model's run for ``as_of`` as a dict of model_runs columns (None if it has not run)."""
    if not warehouse_db.exists():
        return None
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [ML_SCHEMA, "model_runs"],
        ).fetchone()[0]
        if not exists:
            return None
        cursor = con.execute(f"select * from {RUNS} where model_name = ? and as_of_date = ?", [model, as_of])
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
    finally:
        con.close()


def previous_clusters(warehouse_db: Path, as_of: date) -> pd.DataFrame | None:
    """The clusters of the latest run before ``as_of`` (None if there is none)."""
    con = connect(warehouse_db)
    try:
        frame = con.execute(
            f"select cluster_id, cluster_name, centroid from {CLUSTERS} "
            "where as_of_date = "
            f"(select max(as_of_date) from {CLUSTERS} where as_of_date < ?) "
            "order by cluster_id",
            [as_of],
        ).df()
    finally:
        con.close()
    return frame if len(frame) else None


def write_clusters(warehouse_db: Path, result: ClusterResult, as_of: date, parameters: dict) -> None:
    con = connect(warehouse_db)
    try:
        con.execute("begin")
        _replace_run(con, CLUSTER_MODEL, as_of)
        con.execute(f"delete from {CLUSTERS} where as_of_date = ?", [as_of])
        con.execute(f"delete from {MEMBERS}")
        best = max(result.silhouettes.values()) if result.silhouettes else None
        con.execute(
            RUN_INSERT,
            [CLUSTER_MODEL, result.model_version or None, "kmeans", result.status, result.reason or None,
             as_of, as_of, None, None, None, None, len(result.members), len(result.members), None, None, None,
             None, json.dumps({**parameters, "k": result.k, "silhouette": best}, sort_keys=True), as_of],
        )  # fmt: skip
        for k, score in sorted(result.silhouettes.items()):
            con.execute(
                EVALUATION_INSERT,
                [CLUSTER_MODEL, result.model_version, "silhouette", k, None, score, None, None, as_of],
            )
        if result.status == "trained":
            clusters = result.clusters.assign(model_version=result.model_version, as_of_date=as_of)
            con.register("clusters_frame", clusters)
            con.execute(
                f"insert into {CLUSTERS} select cluster_id, cluster_name, persons, "
                "name_kept, centroid, model_version, as_of_date from clusters_frame"
            )
            members = result.members.assign(model_version=result.model_version, as_of_date=as_of)
            con.register("members_frame", members)
            con.execute(
                f"insert into {MEMBERS} "
                "select person_id, cluster_id, model_version, as_of_date from members_frame"
            )
        con.execute("commit")
    finally:
        con.close()


# tags_model.<tag>_unavailable_reason: why a person's model tag is null on the as-of date.
NOT_SCORED = "not_scored"  # the model ran; the person has no scoring snapshot (dormant, churned, no contact)
NOT_CLUSTERED = "not_clustered"  # the clusters ran; no purchase in rfm_window_days nor activity in 90 days
NOT_RUN = "not_run"  # the model has not run for this as-of date
UNAVAILABLE_COLUMNS = {"churn_propensity": "churn_unavailable_reason",
                       "behaviour_cluster": "cluster_unavailable_reason"}  # fmt: skip


# The model behind each value tag of tags_model.
MODEL_OF_TAG = {
    "churn_propensity": CHURN_MODEL,
    "churn_risk_band": CHURN_MODEL,
    "behaviour_cluster": CLUSTER_MODEL,
}


def unavailable_tags(tags: set[str], unavailable: dict[str, str]) -> dict[str, str]:
    """Of the tag codes ``tags`` (those a segment names), each model tag whose model is unavailable ->
    why (``unavailable`` as from :func:`unavailable_models`)."""
    return {tag: unavailable[MODEL_OF_TAG[tag]] for tag in sorted(tags)
            if MODEL_OF_TAG.get(tag) in unavailable}  # fmt: skip


def previous_run(warehouse_db: Path, model: str, as_of: date) -> dict | None:
    """The model's latest run before ``as_of`` as a dict of model_runs columns (None if there is none)."""
    con = connect(warehouse_db)
    try:
        cursor = con.execute(
            f"select * from {RUNS} where model_name = ? and as_of_date < ? order by as_of_date desc limit 1",
            [model, as_of],
        )
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
    finally:
        con.close()


def unavailable_models(warehouse_db: Path, as_of: date) -> dict[str, str]:
    """Model name -> why it gives no tags as of ``as_of`` (``status: reason``), for each of the churn
    model and the clusters that did not train for that date (``not_run`` when it has not run)."""
    con = connect(warehouse_db)
    try:
        rows = con.execute(
            f"select model_name, status, reason from {RUNS} where as_of_date = ?", [as_of]
        ).fetchall()
        runs = {model: (status, reason) for model, status, reason in rows}
    finally:
        con.close()
    problems = {}
    for model in (CHURN_MODEL, CLUSTER_MODEL):
        status, reason = runs.get(model, (NOT_RUN, f"{model} has not run as of {as_of}"))
        if status != "trained":
            problems[model] = f"{status}: {reason}" if reason else status
    return problems


def write_tag_table(warehouse_db: Path, as_of: date) -> dict[str, int]:
    """ml.tags_model: every person of ``persons`` with this date's churn score and cluster (null
    where there is none, and then ``churn_unavailable_reason`` / ``cluster_unavailable_reason`` say why:
    the model's status when it did not train (``insufficient_history``, ``missing_source``,
    ``insufficient_data``), ``not_run``, or ``not_scored`` / ``not_clustered`` for a person the trained
    model does not cover). Returns persons and persons with a value per tag."""
    con = connect(warehouse_db)
    try:
        con.execute(
            f"""
            create or replace table {TAGS} as
            with runs as (
                select model_name, max(status) as status
                from {RUNS}
                where as_of_date = cast(? as date)
                group by model_name
            )
            select
                persons.person_id,
                scores.churn_propensity,
                scores.churn_risk_band,
                clusters.cluster_name as behaviour_cluster,
                case
                    when scores.churn_propensity is not null then null
                    when churn_run.status is null then '{NOT_RUN}'
                    when churn_run.status <> 'trained' then churn_run.status
                    else '{NOT_SCORED}'
                end as churn_unavailable_reason,
                case
                    when clusters.cluster_name is not null then null
                    when cluster_run.status is null then '{NOT_RUN}'
                    when cluster_run.status <> 'trained' then cluster_run.status
                    else '{NOT_CLUSTERED}'
                end as cluster_unavailable_reason,
                cast(? as date) as as_of_date
            from {model_relation("persons").quoted} as persons
            left join {SCORES} as scores
                on scores.person_id = persons.person_id and scores.as_of_date = cast(? as date)
            left join {MEMBERS} as members
                on members.person_id = persons.person_id and members.as_of_date = cast(? as date)
            left join {CLUSTERS} as clusters
                on clusters.cluster_id = members.cluster_id and clusters.as_of_date = cast(? as date)
            left join runs as churn_run on churn_run.model_name = '{CHURN_MODEL}'
            left join runs as cluster_run on cluster_run.model_name = '{CLUSTER_MODEL}'
            order by persons.person_id
            """,
            [as_of, as_of, as_of, as_of, as_of],
        )
        persons, churn, band, cluster = con.execute(
            "select count(*), count(churn_propensity), count(churn_risk_band), count(behaviour_cluster) "
            f"from {TAGS}"
        ).fetchone()
    finally:
        con.close()
    return {
        "persons": persons,
        "churn_propensity": churn,
        "churn_risk_band": band,
        "behaviour_cluster": cluster,
    }
