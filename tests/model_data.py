"""Synthetic inputs for the model tests: feature snapshots (the columns of int_churn_feature_snapshots)
with a planted churn signal or pure noise, and behaviour features with planted groups."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from orchestration.defs.ml.clusters import FEATURES as CLUSTER_FEATURES


def churn_snapshots(
    persons: int = 300,
    weeks: int = 30,
    as_of: date = date(2026, 6, 30),
    seed: int = 7,
    signal: bool = True,
    horizon_days: int = 30,
    person_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Weekly snapshots (Sundays) up to ``as_of`` plus ``as_of`` itself. With ``signal``, a person whose
    activity fell (fewer active days than in the 30 days before) is far more likely to become dormant,
    and recency alone explains little; without it, the label is a coin toss at a 20 % rate."""
    rng = np.random.default_rng(seed)
    ids = person_ids or [f"p{index:05d}" for index in range(persons)]
    last_sunday = as_of - timedelta(days=(as_of.weekday() + 1) % 7)
    days = [last_sunday - timedelta(weeks=week) for week in range(weeks)][::-1]
    if as_of != last_sunday:
        days.append(as_of)
    rows = []
    for day in days:
        n = len(ids)
        prior = rng.poisson(8, n)
        decay = rng.random(n) < 0.3
        recent = np.where(decay, rng.binomial(prior, 0.3), rng.poisson(8, n))
        recent = np.maximum(recent, 1)
        week = np.minimum(recent, rng.poisson(2, n))
        since = rng.integers(0, 20, n)
        if signal:
            logit = -2.2 + 2.8 * decay + 0.02 * since - 0.05 * recent
            became = rng.random(n) < 1 / (1 + np.exp(-logit))
        else:
            became = rng.random(n) < 0.2
        labelled = day + timedelta(days=horizon_days) <= as_of
        rows.append(
            pd.DataFrame(
                {
                    "person_id": ids,
                    "days_since_last_activity": since,
                    "active_days_7d": week,
                    "active_days_30d": recent,
                    "active_days_prior_30d": prior,
                    "events_7d": week * 6,
                    "events_30d": recent * 6,
                    "purchases_30d": rng.poisson(0.3, n),
                    "purchases_60d": rng.poisson(0.6, n),
                    "became_dormant": pd.array(became if labelled else [None] * n, dtype="boolean"),
                    "has_full_history": day >= days[0] + timedelta(days=60),
                    "is_scoring_snapshot": day == as_of,
                    "snapshot_date": pd.Timestamp(day),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# Three planted groups: (feature -> value) on top of a low background.
GROUPS = {
    "money": {"share_money_market_purchases": 0.9, "share_app_events": 0.9, "share_my_assets_events": 0.5},
    "equity_web": {"share_equity_purchases": 0.9, "share_web_events": 0.9, "share_fund_market_events": 0.6},
    "sip_news": {"share_sip_purchases": 0.9, "share_bond_purchases": 0.7, "share_news_events": 0.6},
}


def behaviour_features(per_group: int = 60, seed: int = 3, shift: dict[str, dict[str, float]] | None = None):
    """behaviour_features rows in three groups (GROUPS), with a little noise; ``shift`` moves a
    group's values (feature -> added value)."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, values in GROUPS.items():
        data = {}
        for feature in CLUSTER_FEATURES:
            column = feature[4:] if feature.startswith("log_") else feature
            base = values.get(feature, 0.05)
            base += (shift or {}).get(name, {}).get(feature, 0.0)
            noise = rng.normal(0, 0.04, per_group)
            data[column] = (
                np.clip(base + noise, 0, None)
                if not feature.startswith("log_")
                else rng.poisson(3, per_group)
            )
        frame = pd.DataFrame(data)
        frame.insert(0, "person_id", [f"{name}-{index:03d}" for index in range(per_group)])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
