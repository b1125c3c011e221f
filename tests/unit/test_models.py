"""The churn model and the behaviour clusters on synthetic inputs built for them (tests/model_data.py)."""

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.defs.ml import store
from orchestration.defs.ml.churn import (
    INSUFFICIENT_HISTORY,
    MISSING_SOURCE,
    NO_TRACKING_REASON,
    ChurnSettings,
    calibration_table,
    precision_at_top,
    time_split,
    train_and_score,
)
from orchestration.defs.ml.clusters import ClusterSettings, fit_clusters, trait_name
from orchestration.defs.ml.store import unavailable_tags
from orchestration.lib.relations import model_relation
from orchestration.lib.sql import quote_identifier
from tests.model_data import behaviour_features, churn_snapshots

AS_OF = date(2026, 6, 30)
SETTINGS = ChurnSettings(seed=11)
CLUSTERS = ClusterSettings(seed=11)


@pytest.fixture(scope="module")
def trained():
    return train_and_score(churn_snapshots(), AS_OF, SETTINGS)


def test_the_later_time_split_trains_only_on_labels_known_before_the_evaluation_starts():
    frame = churn_snapshots()
    split = time_split(frame, SETTINGS)
    test_days = sorted(set(split.test.snapshot_date.dt.date))
    train_days = sorted(set(split.train.snapshot_date.dt.date))
    # the last labelled Sunday is 2026-05-31 (its horizon ends on the as-of date); three weeks are tested
    assert test_days == [date(2026, 5, 17), date(2026, 5, 24), date(2026, 5, 31)]
    assert max(train_days) + timedelta(days=SETTINGS.horizon_days) <= min(test_days)
    assert max(train_days) == date(2026, 4, 12)
    # snapshots within 60 days of the first one have truncated features: never trained or tested on
    first = frame.snapshot_date.dt.date.min()
    assert min(train_days) == first + timedelta(weeks=9)
    assert set(split.scoring.snapshot_date.dt.date) == {AS_OF}


def test_the_model_learns_the_planted_decay_and_beats_the_recency_baseline(trained):
    assert trained.status == "trained"
    assert trained.metrics["auc"] > 0.75
    assert trained.metrics["baseline_auc"] < 0.6
    assert trained.metrics["auc"] > trained.metrics["baseline_auc"] + 0.15
    assert trained.metrics["precision_top_decile"] > trained.metrics["base_rate"] * 2
    assert trained.passes(SETTINGS.min_auc)
    # a falling activity trend raises the propensity
    assert trained.coefficients["activity_trend"] < 0
    assert trained.evaluated_training_window == ("2026-02-08", "2026-04-12")
    assert trained.evaluation_window == ("2026-05-17", "2026-05-31")
    assert trained.training_window == ("2026-02-08", "2026-05-31")
    scores = trained.scores
    assert len(scores) == 300 and scores.person_id.is_unique
    assert scores.churn_propensity.between(0, 1).all()
    bands = np.where(
        scores.churn_propensity >= 0.5, "high", np.where(scores.churn_propensity >= 0.2, "medium", "low")
    )
    assert (scores.churn_risk_band.to_numpy() == bands).all()


def test_training_is_deterministic_for_a_fixed_seed(trained):
    again = train_and_score(churn_snapshots(), AS_OF, SETTINGS)
    assert again.model_version == trained.model_version
    assert again.coefficients == trained.coefficients
    assert again.metrics == trained.metrics
    pd.testing.assert_frame_equal(again.scores, trained.scores)
    # other training rows give another version
    other = train_and_score(churn_snapshots(seed=8), AS_OF, SETTINGS)
    assert other.model_version != trained.model_version


def test_a_model_on_noise_is_trained_but_fails_the_auc_floor():
    bad = train_and_score(churn_snapshots(signal=False), AS_OF, SETTINGS)
    assert bad.status == "trained"
    assert bad.metrics["auc"] < 0.6
    assert not bad.passes(SETTINGS.min_auc)


def test_too_little_history_gives_no_model_and_says_why():
    short = train_and_score(churn_snapshots(weeks=12), AS_OF, SETTINGS)
    assert short.status == "insufficient_history"
    assert short.reason.startswith("0 training rows (< 200)")
    assert short.scores.empty and not short.passes(0.0)


def test_precision_at_the_top_decile_and_the_calibration_table():
    labels = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1] * 2)
    scores = np.arange(20, dtype=float) / 20  # the two highest scores: positions 18 (label 0) and 19 (1)
    assert precision_at_top(labels, scores) == 0.5
    table = calibration_table(labels, scores, bins=4)
    assert [row["rows"] for row in table] == [5, 5, 5, 5]
    assert [row["observed_rate"] for row in table] == [0.4, 0.2, 0.4, 0.2]
    assert table[0]["mean_predicted"] == pytest.approx(0.1)
    assert table[3]["mean_predicted"] == pytest.approx(0.85)


def test_clusters_are_found_and_named_by_their_dominant_traits():
    result = fit_clusters(behaviour_features(), CLUSTERS)
    assert result.status == "trained" and result.k == 3
    assert max(result.silhouettes, key=result.silhouettes.get) == 3
    names = set(result.clusters.cluster_name)
    assert names == {
        "app-first · money-market buyers",
        "equity and index buyers · web and H5 users",
        "SIP investors · bond buyers",
    }
    assert sorted(result.clusters.persons) == [60, 60, 60]
    members = result.members.merge(result.clusters, on="cluster_id")
    assert (
        members[members.person_id.str.startswith("money")].cluster_name == "app-first · money-market buyers"
    ).all()


def test_cluster_names_and_ids_are_stable_under_a_small_data_change():
    first = fit_clusters(behaviour_features(), CLUSTERS)
    changed = behaviour_features(seed=4).sample(frac=0.95, random_state=1)
    second = fit_clusters(changed, CLUSTERS, previous=first.clusters)
    assert second.clusters.name_kept.all()
    before = dict(zip(first.clusters.cluster_name, first.clusters.cluster_id, strict=True))
    after = dict(zip(second.clusters.cluster_name, second.clusters.cluster_id, strict=True))
    assert after == before
    # the same data and seed: the same model version
    assert fit_clusters(behaviour_features(), CLUSTERS).model_version == first.model_version


def test_a_cluster_whose_centroid_moved_far_gets_a_new_id_and_a_name_by_the_rule():
    first = fit_clusters(behaviour_features(), CLUSTERS)
    moved = behaviour_features(shift={"money": {"share_news_events": 0.8, "share_app_events": -0.8}})
    second = fit_clusters(moved, CLUSTERS, previous=first.clusters)
    renamed = second.clusters[~second.clusters.name_kept]
    assert list(renamed.cluster_name) == ["money-market buyers · portfolio watchers"]
    assert list(renamed.cluster_id) == [4]  # ids are never reused
    assert second.clusters.name_kept.sum() == 2


def test_trait_names_take_the_strongest_traits_high_or_low_and_ties_in_catalogue_order():
    z = np.zeros(15)
    z[0], z[6] = -1.5, 0.9  # few money-market purchases, highly active
    assert trait_name(z) == "few money-market purchases · highly active"
    z[1] = 1.5  # ties with money market: bond comes after it in TRAITS
    assert trait_name(z) == "few money-market purchases · bond buyers"
    assert trait_name(np.full(15, 0.1)) == "average behaviour"


# Degrading, never crashing (issue 30): purpose-made inputs, each with its documented outcome.


def _as_from_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """has_full_history / is_scoring_snapshot as DuckDB hands them over: nullable booleans."""
    return frame.assign(
        has_full_history=frame.has_full_history.astype("boolean"),
        is_scoring_snapshot=frame.is_scoring_snapshot.astype("boolean"),
    )


def test_no_tracking_source_marks_churn_unavailable_instead_of_crashing():
    # without tracking there is no first day of tracking data: has_full_history is null on every row
    frame = _as_from_duckdb(churn_snapshots(persons=50, weeks=20))
    frame["has_full_history"] = pd.array([None] * len(frame), dtype="boolean")
    result = train_and_score(frame, AS_OF, SETTINGS)
    assert result.status == MISSING_SOURCE == "missing_source"
    assert result.reason == NO_TRACKING_REASON
    assert result.training_rows == 0 and result.scores.empty and result.metrics == {}
    assert not result.passes(0.0)
    # the split leaves the undated snapshots out rather than failing on them
    split = time_split(frame, SETTINGS)
    assert len(split.labelled) == 0 and len(split.scoring) == 50


def test_too_few_persons_gives_insufficient_history_with_exact_counts():
    # 5 persons: 5 per Sunday; the evaluated model's training Sundays are 2026-02-08 .. 04-12 (10 weeks)
    frame = _as_from_duckdb(churn_snapshots(persons=5))
    result = train_and_score(frame, AS_OF, SETTINGS)
    split = time_split(frame, SETTINGS)
    positives = int(split.test.became_dormant.astype(bool).sum())
    assert len(split.train) == 50 and len(split.test) == 15
    assert result.status == INSUFFICIENT_HISTORY == "insufficient_history"
    assert result.reason == (
        f"50 training rows (< 200); {positives} of 15 evaluation rows became dormant "
        "(need >= 20 and some that did not)"
    )
    assert result.training_rows == 50 and result.scores.empty


def test_one_label_only_gives_insufficient_history_not_an_exception():
    frame = _as_from_duckdb(churn_snapshots())
    labelled = frame.became_dormant.notna()
    frame.loc[labelled, "became_dormant"] = False  # nobody ever became dormant
    result = train_and_score(frame, AS_OF, SETTINGS)
    assert result.status == "insufficient_history"
    assert result.reason == (
        "the training rows have one label only; 0 of 900 evaluation rows became dormant "
        "(need >= 20 and some that did not)"
    )
    assert result.training_rows == 3000 and result.scores.empty


def test_no_feature_snapshots_at_all_gives_insufficient_history():
    empty = _as_from_duckdb(churn_snapshots(persons=1).iloc[0:0])
    result = train_and_score(empty, AS_OF, SETTINGS)
    assert result.status == "insufficient_history"
    assert result.reason == (
        "no feature snapshots (no person active within tags.dormant_after_days); 0 training rows (< 200); "
        "0 of 0 evaluation rows became dormant (need >= 20 and some that did not)"
    )


def test_too_few_persons_for_clusters_says_how_many_are_needed():
    result = fit_clusters(behaviour_features(per_group=9), CLUSTERS)  # 27 persons, 30 needed (10 * k_min)
    assert (result.status, result.reason) == ("insufficient_data", "27 persons with behaviour (< 30)")
    assert result.members.empty and result.k == 0


def test_identical_behaviour_gives_insufficient_data_not_an_exception():
    frame = behaviour_features()
    features = [c for c in frame.columns if c != "person_id"]
    frame[features] = frame[features].iloc[0].to_numpy()  # 180 persons, one behaviour
    result = fit_clusters(frame, CLUSTERS)
    assert (result.status, result.reason) == (
        "insufficient_data",
        "1 distinct behaviours among 180 persons (need more than k_min 3)",
    )


def test_clusters_without_tracking_cluster_on_purchases_alone():
    # no events: every event share is null (a share of zero events); they count as 0
    frame = behaviour_features()
    for column in [c for c in frame.columns if c.endswith("_events") or c == "active_days_90d"]:
        frame[column] = np.nan
    result = fit_clusters(frame, CLUSTERS)
    assert result.status == "trained" and result.k == 3
    assert sorted(result.clusters.persons) == [60, 60, 60]


def test_segments_naming_an_unavailable_model_tag_are_told_which_and_why():
    unavailable = {"churn_propensity": "missing_source: no tracking events"}
    assert unavailable_tags({"churn_risk_band", "lifecycle_stage"}, unavailable) == {
        "churn_risk_band": "missing_source: no tracking events"
    }
    assert unavailable_tags({"behaviour_cluster", "churn_unavailable_reason"}, unavailable) == {}


def test_tags_model_rows_say_why_a_model_tag_is_null(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    con = store.connect(db)
    persons = model_relation("persons")
    con.execute(f"create schema {quote_identifier(persons.schema)}")
    con.execute(
        f"create table {persons.quoted} as select * from (values ('p1'), ('p2'), ('p3')) t(person_id)"
    )
    con.close()
    frame = _as_from_duckdb(churn_snapshots(persons=20, weeks=20))
    frame["has_full_history"] = pd.array([None] * len(frame), dtype="boolean")
    churn = train_and_score(frame, AS_OF, SETTINGS)
    store.write_churn(db, churn, SETTINGS.min_auc, {})
    # tags_model before the clusters ran for the date, then after they found too few persons
    store.write_tag_table(db, AS_OF)
    read = duckdb.connect(str(db), read_only=True)
    sql = f"select * exclude (as_of_date) from {store.TAGS} order by person_id"
    assert read.execute(sql).fetchall() == [
        (p, None, None, None, "missing_source", "not_run") for p in ("p1", "p2", "p3")
    ]
    read.close()
    store.write_clusters(db, fit_clusters(behaviour_features(per_group=2), CLUSTERS), AS_OF, {})
    counts = store.write_tag_table(db, AS_OF)
    read = duckdb.connect(str(db), read_only=True)
    assert read.execute(sql).fetchall() == [
        (p, None, None, None, "missing_source", "insufficient_data") for p in ("p1", "p2", "p3")
    ]
    read.close()
    assert counts == {"persons": 3, "churn_propensity": 0, "churn_risk_band": 0, "behaviour_cluster": 0}
    assert store.unavailable_models(db, AS_OF) == {
        "churn_propensity": f"missing_source: {NO_TRACKING_REASON}",
        "behaviour_clusters": "insufficient_data: 6 persons with behaviour (< 30)",
    }
    assert store.previous_run(db, "churn_propensity", AS_OF) is None
