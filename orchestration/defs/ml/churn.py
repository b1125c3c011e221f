"""Churn propensity: a logistic regression on point-in-time features (dbt model
``int_churn_feature_snapshots``), evaluated on a later time split against the single-feature baseline
"days since last activity", then refit on every labelled snapshot and used to score the as-of date.

Deterministic: the same feature rows and settings give the same model version, coefficients and scores.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

MODEL_NAME = "churn_propensity"
ALGORITHM = "logistic_regression"
# The columns of int_churn_feature_snapshots the model reads.
RAW_FEATURES = (
    "days_since_last_activity",
    "active_days_7d",
    "active_days_30d",
    "active_days_prior_30d",
    "events_7d",
    "events_30d",
    "purchases_30d",
    "purchases_60d",
)
BASELINE_FEATURE = "days_since_last_activity"
RISK_BANDS = ("low", "medium", "high")
# Statuses of a run that gives no scores (churn_propensity is then unavailable: null in tags_model, with
# the status in tags_model.churn_unavailable_reason and the reason in model_runs).
INSUFFICIENT_HISTORY = "insufficient_history"
MISSING_SOURCE = "missing_source"
NO_TRACKING_REASON = (
    "no tracking events: the feature windows cannot be dated from a first day of tracking data "
    "(has_full_history is null), so there is nothing to train on"
)
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class ChurnSettings:
    """vars fundcdp.models.churn (and tags.dormant_after_days)."""

    horizon_days: int = 30
    evaluation_weeks: int = 3
    min_training_rows: int = 200
    min_evaluation_positives: int = 20
    min_auc: float = 0.70
    high_risk_from: float = 0.5
    medium_risk_from: float = 0.2
    seed: int = 0

    @classmethod
    def from_rules(cls, rules: dict) -> ChurnSettings:
        churn = rules["models"]["churn"]
        return cls(**{name: churn[name] for name in cls.__dataclass_fields__})


def feature_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs from the snapshot columns: counts on a log scale, recency, and the trend of
    activity (the last 30 days against the 30 before, the last 7 against the last 30)."""
    f = frame[list(RAW_FEATURES)].astype(float)
    return pd.DataFrame(
        {
            "days_since_last_activity": f.days_since_last_activity,
            "log_days_since_last_activity": np.log1p(f.days_since_last_activity),
            "active_days_7d": f.active_days_7d,
            "active_days_30d": f.active_days_30d,
            "active_days_prior_30d": f.active_days_prior_30d,
            "log_events_7d": np.log1p(f.events_7d),
            "log_events_30d": np.log1p(f.events_30d),
            "log_events_per_active_day": np.log1p(f.events_30d / (f.active_days_30d + 1)),
            "activity_trend": (f.active_days_30d - f.active_days_prior_30d)
            / (f.active_days_30d + f.active_days_prior_30d + 1),
            "recent_share": f.active_days_7d / (f.active_days_30d + 1),
            "purchases_30d": f.purchases_30d,
            "purchases_60d": f.purchases_60d,
            "never_bought_60d": (f.purchases_60d == 0).astype(float),
        },
        index=frame.index,
    )


def _model(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000, random_state=seed))


@dataclass(frozen=True)
class Split:
    """The later time split: the labelled snapshots of the last ``evaluation_weeks`` weeks are the test set;
    training uses the snapshots whose label was known by the first of them."""

    train: pd.DataFrame
    test: pd.DataFrame
    labelled: pd.DataFrame
    scoring: pd.DataFrame


def flag(values: pd.Series) -> pd.Series:
    """A boolean column where null counts as false (a nullable BOOLEAN read from DuckDB cannot be cast
    to bool while it holds a null: without tracking, has_full_history is null on every row)."""
    return values.astype("boolean").fillna(False).astype(bool)


def time_split(frame: pd.DataFrame, settings: ChurnSettings) -> Split:
    # snapshots whose feature windows reach back before the data begins are left out (has_full_history;
    # null when there is no tracking data to date them: left out too)
    labelled = frame[frame.became_dormant.notna() & flag(frame.has_full_history)]
    scoring = frame[flag(frame.is_scoring_snapshot)]
    days = sorted(pd.to_datetime(labelled.snapshot_date).dt.date.unique())
    if not days:
        empty = frame.iloc[0:0]
        return Split(empty, empty, labelled, scoring)
    last = days[-1]
    test_from = last - timedelta(weeks=settings.evaluation_weeks - 1)
    snapshot = pd.to_datetime(labelled.snapshot_date).dt.date
    test = labelled[snapshot >= test_from]
    first_test = min(pd.to_datetime(test.snapshot_date).dt.date)
    train = labelled[snapshot + timedelta(days=settings.horizon_days) <= first_test]
    return Split(train, test, labelled, scoring)


@dataclass
class ChurnResult:
    """One training run: ``status`` is ``trained``, or ``insufficient_history`` / ``missing_source``
    (then no scores and ``reason`` says why)."""

    status: str
    as_of: date
    reason: str = ""
    model_version: str = ""
    training_window: tuple[str, str] | None = None
    evaluated_training_window: tuple[str, str] | None = None
    evaluation_window: tuple[str, str] | None = None
    training_rows: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    calibration: list[dict] = field(default_factory=list)
    coefficients: dict[str, float] = field(default_factory=dict)
    scores: pd.DataFrame = field(default_factory=lambda: empty_scores())

    def passes(self, min_auc: float) -> bool:
        """Usable for publishing: trained, and its AUC on the later split is at least ``min_auc``."""
        return self.status == "trained" and self.metrics["auc"] >= min_auc


def empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series([], dtype=str),
            "churn_propensity": pd.Series([], dtype=float),
            "churn_risk_band": pd.Series([], dtype=str),
        }
    )


def _window(part: pd.DataFrame) -> tuple[str, str]:
    days = pd.to_datetime(part.snapshot_date).dt.date
    return days.min().isoformat(), days.max().isoformat()


def _fingerprint(*parts: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for part in parts:
        ordered = part.sort_values(["snapshot_date", "person_id"]).reset_index(drop=True)
        digest.update(pd.util.hash_pandas_object(ordered, index=False).values.tobytes())
    return digest.hexdigest()


def model_version(settings: ChurnSettings, data_fingerprint: str) -> str:
    """A content hash: algorithm, features, settings and the training rows."""
    spec = json.dumps(
        {"algorithm": ALGORITHM, "features": list(feature_matrix(pd.DataFrame(columns=RAW_FEATURES))),
         "settings": settings.__dict__, "data": data_fingerprint},
        sort_keys=True,
    )  # fmt: skip
    return f"{MODEL_NAME}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def precision_at_top(labels: np.ndarray, scores: np.ndarray, share: float = 0.1) -> float:
    """The share of positives among the ``share`` highest scores (ties broken by position)."""
    top = max(1, int(round(len(scores) * share)))
    order = np.argsort(-scores, kind="stable")[:top]
    return float(labels[order].mean())


def calibration_table(labels: np.ndarray, predicted: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Predicted against observed per bin of equal size by predicted probability (lowest first)."""
    order = np.argsort(predicted, kind="stable")
    rows = []
    for number, index in enumerate(np.array_split(order, bins), start=1):
        if len(index) == 0:
            continue
        rows.append(
            {
                "bin": number,
                "rows": int(len(index)),
                "mean_predicted": float(predicted[index].mean()),
                "observed_rate": float(labels[index].mean()),
            }
        )
    return rows


def risk_band(propensity: pd.Series, settings: ChurnSettings) -> pd.Series:
    return pd.Series(
        np.where(
            propensity >= settings.high_risk_from,
            "high",
            np.where(propensity >= settings.medium_risk_from, "medium", "low"),
        ),
        index=propensity.index,
    )


def train_and_score(frame: pd.DataFrame, as_of: date, settings: ChurnSettings) -> ChurnResult:
    """Evaluate on the later split, refit on every labelled snapshot, score the as-of date's snapshot."""
    from sklearn.metrics import roc_auc_score

    if len(frame) and frame.has_full_history.isna().all():
        return ChurnResult(status=MISSING_SOURCE, as_of=as_of, reason=NO_TRACKING_REASON)
    split = time_split(frame, settings)
    train, test = split.train, split.test
    problems = []
    if frame.empty:
        problems.append("no feature snapshots (no person active within tags.dormant_after_days)")
    if len(train) < settings.min_training_rows:
        problems.append(f"{len(train)} training rows (< {settings.min_training_rows})")
    elif train.became_dormant.astype(bool).nunique() < 2:
        problems.append("the training rows have one label only")
    positives = int(test.became_dormant.astype(bool).sum()) if len(test) else 0
    if positives < settings.min_evaluation_positives or positives == len(test):
        problems.append(f"{positives} of {len(test)} evaluation rows became dormant "
                        f"(need >= {settings.min_evaluation_positives} and some that did not)")  # fmt: skip
    if problems:
        return ChurnResult(
            status=INSUFFICIENT_HISTORY,
            as_of=as_of,
            reason="; ".join(problems),
            training_rows=len(train),
        )
    y_train = train.became_dormant.astype(bool).to_numpy().astype(int)
    y_test = test.became_dormant.astype(bool).to_numpy().astype(int)
    evaluated = _model(settings.seed).fit(feature_matrix(train), y_train)
    predicted = evaluated.predict_proba(feature_matrix(test))[:, 1]
    baseline = test[BASELINE_FEATURE].astype(float).to_numpy()
    metrics = {
        "auc": float(roc_auc_score(y_test, predicted)),
        "baseline_auc": float(roc_auc_score(y_test, baseline)),
        "precision_top_decile": precision_at_top(y_test, predicted),
        "baseline_precision_top_decile": precision_at_top(y_test, baseline),
        "base_rate": float(y_test.mean()),
        "evaluation_rows": float(len(test)),
        "evaluation_positives": float(positives),
    }
    # The model used for scoring: the same procedure on every labelled snapshot.
    labelled = split.labelled
    final = _model(settings.seed).fit(
        feature_matrix(labelled), labelled.became_dormant.astype(bool).to_numpy().astype(int)
    )
    version = model_version(settings, _fingerprint(labelled[["person_id", "snapshot_date", *RAW_FEATURES,
                                                             "became_dormant"]]))  # fmt: skip
    scoring = split.scoring
    propensity = pd.Series(
        final.predict_proba(feature_matrix(scoring))[:, 1] if len(scoring) else [], index=scoring.index,
        dtype=float,
    )  # fmt: skip
    scores = pd.DataFrame(
        {
            "person_id": scoring.person_id.to_numpy(),
            "churn_propensity": propensity.round(6).to_numpy(),
            "churn_risk_band": risk_band(propensity, settings).to_numpy(),
        }
    ).sort_values("person_id", ignore_index=True)
    names = list(feature_matrix(labelled.iloc[0:0]).columns)
    weights = final.named_steps["logisticregression"]
    coefficients = {"intercept": float(weights.intercept_[0])}
    coefficients.update({name: float(value) for name, value in zip(names, weights.coef_[0], strict=True)})
    return ChurnResult(
        status="trained",
        as_of=as_of,
        model_version=version,
        training_window=_window(labelled),
        evaluated_training_window=_window(train),
        evaluation_window=_window(test),
        training_rows=len(labelled),
        metrics=metrics,
        calibration=calibration_table(y_test, predicted),
        coefficients=coefficients,
        scores=scores,
    )
