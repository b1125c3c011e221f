"""Where the model assets write, in ``warehouse.duckdb`` (one writer at a time: the writer pool).

Analyst-facing, published to ``analytics.duckdb``: ``main_marts.tags_model`` (the sixth tag table),
``main_marts.model_runs``, ``main_marts.model_evaluations`` and ``main_marts.behaviour_clusters`` (one set
of rows per model and as-of date; a re-run of the date replaces them). Internal: ``main_models.churn_scores``
and ``main_models.cluster_members`` (the latest run of each model only).
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
from orchestration.lib.sql import quote_qualified

TAG_TABLE = "tags_model"
PUBLISHED = ("tags_model", "model_runs", "model_evaluations", "behaviour_clusters")
RUN_INSERT = f"insert into main_marts.model_runs values ({', '.join(['?'] * 19)})"
EVALUATION_INSERT = f"insert into main_marts.model_evaluations values ({', '.join(['?'] * 9)})"

DDL = """
create schema if not exists main_marts;
create schema if not exists main_models;
create table if not exists main_marts.model_runs (
    model_name varchar, model_version varchar, algorithm varchar, status varchar, reason varchar,
    training_from date, training_to date, evaluated_training_from date, evaluated_training_to date,
    evaluation_from date, evaluation_to date, training_rows bigint, scored_persons bigint,
    auc double, baseline_auc double, min_auc double, passed_floor boolean, parameters varchar,
    as_of_date date
);
create table if not exists main_marts.model_evaluations (
    model_name varchar, model_version varchar, metric varchar, calibration_bin integer, rows bigint,
    value double, baseline_value double, observed_rate double, as_of_date date
);
create table if not exists main_marts.behaviour_clusters (
    cluster_id integer, cluster_name varchar, persons bigint, name_kept boolean, centroid varchar,
    model_version varchar, as_of_date date
);
create table if not exists main_models.churn_scores (
    person_id varchar, churn_propensity double, churn_risk_band varchar, model_version varchar,
    as_of_date date
);
create table if not exists main_models.cluster_members (
    person_id varchar, cluster_id integer, model_version varchar, as_of_date date
);
"""


def connect(warehouse_db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse_db))
    con.execute(DDL)
    return con


def read_frame(warehouse_db: Path, relation: str) -> pd.DataFrame:
    """Every row of ``relation`` (``schema.table``), read-only."""
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        return con.execute(f"select * from {quote_qualified(*relation.split('.'))}").df()
    finally:
        con.close()


def _replace_run(con: duckdb.DuckDBPyConnection, model: str, as_of: date) -> None:
    for table in ("model_runs", "model_evaluations"):
        con.execute(
            f"delete from {quote_qualified('main_marts', table)} where model_name = ? and as_of_date = ?",
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
        con.execute("delete from main_models.churn_scores")
        con.register("scores_frame", scores)
        con.execute(
            "insert into main_models.churn_scores select person_id, churn_propensity, churn_risk_band, "
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
            "select count(*) from information_schema.tables "
            "where table_schema = 'main_marts' and table_name = 'model_runs'"
        ).fetchone()[0]
        if not exists:
            return None
        cursor = con.execute(
            "select * from main_marts.model_runs where model_name = ? and as_of_date = ?", [model, as_of]
        )
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
    finally:
        con.close()


def previous_clusters(warehouse_db: Path, as_of: date) -> pd.DataFrame | None:
    """The clusters of the latest run before ``as_of`` (None if there is none)."""
    con = connect(warehouse_db)
    try:
        frame = con.execute(
            "select cluster_id, cluster_name, centroid from main_marts.behaviour_clusters "
            "where as_of_date = "
            "(select max(as_of_date) from main_marts.behaviour_clusters where as_of_date < ?) "
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
        con.execute("delete from main_marts.behaviour_clusters where as_of_date = ?", [as_of])
        con.execute("delete from main_models.cluster_members")
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
                "insert into main_marts.behaviour_clusters select cluster_id, cluster_name, persons, "
                "name_kept, centroid, model_version, as_of_date from clusters_frame"
            )
            members = result.members.assign(model_version=result.model_version, as_of_date=as_of)
            con.register("members_frame", members)
            con.execute(
                "insert into main_models.cluster_members "
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
            "select * from main_marts.model_runs where model_name = ? and as_of_date < ? "
            "order by as_of_date desc limit 1",
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
            "select model_name, status, reason from main_marts.model_runs where as_of_date = ?", [as_of]
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
    """main_marts.tags_model: every person of ``persons`` with this date's churn score and cluster (null
    where there is none, and then ``churn_unavailable_reason`` / ``cluster_unavailable_reason`` say why:
    the model's status when it did not train (``insufficient_history``, ``missing_source``,
    ``insufficient_data``), ``not_run``, or ``not_scored`` / ``not_clustered`` for a person the trained
    model does not cover). Returns persons and persons with a value per tag."""
    con = connect(warehouse_db)
    try:
        con.execute(
            f"""
            create or replace table {quote_qualified("main_marts", TAG_TABLE)} as
            with runs as (
                select model_name, max(status) as status
                from main_marts.model_runs
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
            from main_marts.persons as persons
            left join main_models.churn_scores as scores
                on scores.person_id = persons.person_id and scores.as_of_date = cast(? as date)
            left join main_models.cluster_members as members
                on members.person_id = persons.person_id and members.as_of_date = cast(? as date)
            left join main_marts.behaviour_clusters as clusters
                on clusters.cluster_id = members.cluster_id and clusters.as_of_date = cast(? as date)
            left join runs as churn_run on churn_run.model_name = '{CHURN_MODEL}'
            left join runs as cluster_run on cluster_run.model_name = '{CLUSTER_MODEL}'
            order by persons.person_id
            """,
            [as_of, as_of, as_of, as_of, as_of],
        )
        persons, churn, band, cluster = con.execute(
            "select count(*), count(churn_propensity), count(churn_risk_band), count(behaviour_cluster) "
            f"from {quote_qualified('main_marts', TAG_TABLE)}"
        ).fetchone()
    finally:
        con.close()
    return {
        "persons": persons,
        "churn_propensity": churn,
        "churn_risk_band": band,
        "behaviour_cluster": cluster,
    }
