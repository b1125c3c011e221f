"""Behaviour clusters: k-means on the standardised behaviour features (dbt model
``behaviour_features``), k chosen by silhouette, each cluster named by its dominant traits.

Stable across runs: a fixed seed, a deterministic order of the clusters, and a cluster whose centroid is
within ``keep_name_max_distance`` (standard deviations) of a cluster of the previous run keeps that
cluster's id and name (one-to-one, nearest pairs first by an optimal assignment).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MODEL_NAME = "behaviour_clusters"
ALGORITHM = "kmeans"
# Feature -> (trait when high, trait when low), in naming priority order for ties.
TRAITS: dict[str, tuple[str, str]] = {
    "share_money_market_purchases": ("money-market buyers", "few money-market purchases"),
    "share_bond_purchases": ("bond buyers", "few bond purchases"),
    "share_equity_purchases": ("equity and index buyers", "few equity purchases"),
    "share_hybrid_purchases": ("hybrid-fund buyers", "few hybrid purchases"),
    "share_sip_purchases": ("SIP investors", "no SIP"),
    "log_purchases_365d": ("frequent buyers", "rare buyers"),
    "log_active_days_90d": ("highly active", "rarely active"),
    "share_fund_market_events": ("fund browsers", "little fund browsing"),
    "share_my_assets_events": ("portfolio watchers", "little portfolio checking"),
    "share_sip_events": ("SIP-page users", "no SIP pages"),
    "share_news_events": ("news readers", "no news reading"),
    "share_activity_events": ("campaign-page visitors", "no campaign pages"),
    "share_app_events": ("app-first", "little app use"),
    "share_web_events": ("web and H5 users", "little web use"),
    "share_wechat_events": ("WeChat mini-program users", "little WeChat use"),
}
FEATURES = tuple(TRAITS)
INSUFFICIENT_DATA = "insufficient_data"
# Traits weaker than this (standard deviations) do not name a cluster.
MIN_TRAIT_Z = 0.25


@dataclass(frozen=True)
class ClusterSettings:
    """vars fundcdp.models.clusters."""

    k_min: int = 3
    k_max: int = 7
    seed: int = 0
    silhouette_sample: int = 5000
    keep_name_max_distance: float = 0.75

    @classmethod
    def from_rules(cls, rules: dict) -> ClusterSettings:
        clusters = rules["models"]["clusters"]
        return cls(**{name: clusters[name] for name in cls.__dataclass_fields__})


def feature_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The clustering inputs from behaviour_features: shares as they are, counts on a log scale.
    A null (a share of no events or no purchases, e.g. a company without tracking) counts as 0."""
    out = pd.DataFrame(index=frame.index)
    for name in FEATURES:
        if name.startswith("log_"):
            out[name] = np.log1p(frame[name[4:]].astype(float).fillna(0.0))
        else:
            out[name] = frame[name].astype(float).fillna(0.0)
    return out


@dataclass
class ClusterResult:
    """``status`` is ``trained`` or ``insufficient_data``; ``clusters`` has one row per cluster (id, name,
    persons, centroid in feature units as JSON, whether the name was kept), ``members`` one per person."""

    status: str
    reason: str = ""
    model_version: str = ""
    k: int = 0
    silhouettes: dict[int, float] = field(default_factory=dict)
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["person_id", "cluster_id"]))


def trait_name(z_centroid: np.ndarray, max_traits: int = 2) -> str:
    """The cluster's name: its strongest traits (largest |z|, ties in TRAITS order), high or low."""
    order = sorted(range(len(FEATURES)), key=lambda i: (-round(abs(float(z_centroid[i])), 6), i))
    traits = [
        TRAITS[FEATURES[i]][0 if z_centroid[i] > 0 else 1] for i in order if abs(z_centroid[i]) >= MIN_TRAIT_Z
    ][:max_traits]
    return " · ".join(traits) if traits else "average behaviour"


def _unique_names(z_centroids: np.ndarray, taken: set[str]) -> list[str]:
    """A name per cluster, distinct from each other and from ``taken`` (one more trait, then a number)."""
    names: list[str] = []
    for z in z_centroids:
        name = trait_name(z)
        traits = 3
        while (name in names or name in taken) and traits <= 4:
            name = trait_name(z, traits)
            traits += 1
        base, number = name, 2
        while name in names or name in taken:
            name = f"{base} ({number})"
            number += 1
        names.append(name)
    return names


def _choose_k(x: np.ndarray, settings: ClusterSettings) -> tuple[int, dict[int, float], object]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    best = None
    silhouettes: dict[int, float] = {}
    for k in range(settings.k_min, min(settings.k_max, len(x) - 1) + 1):
        model = KMeans(n_clusters=k, n_init=10, random_state=settings.seed).fit(x)
        if len(set(model.labels_)) < 2:
            continue
        score = silhouette_score(
            x, model.labels_, sample_size=min(len(x), settings.silhouette_sample), random_state=settings.seed
        )
        silhouettes[k] = round(float(score), 6)
        if best is None or silhouettes[k] > silhouettes[best[0]]:
            best = (k, model)
    if best is None:
        raise ValueError("no k in range gave two clusters")
    return best[0], silhouettes, best[1]


def fit_clusters(
    frame: pd.DataFrame, settings: ClusterSettings, previous: pd.DataFrame | None = None
) -> ClusterResult:
    """Cluster ``frame`` (behaviour_features rows); ``previous`` is the last run's ``clusters``."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.preprocessing import StandardScaler

    needed = max(10 * settings.k_min, settings.k_max + 2)
    if len(frame) < needed:
        return ClusterResult(
            status=INSUFFICIENT_DATA, reason=f"{len(frame)} persons with behaviour (< {needed})"
        )
    ordered = frame.sort_values("person_id", ignore_index=True)
    features = feature_matrix(ordered)
    scaler = StandardScaler().fit(features.to_numpy())
    x = scaler.transform(features.to_numpy())
    distinct = len(np.unique(x.round(9), axis=0))
    if distinct <= settings.k_min:
        return ClusterResult(
            status=INSUFFICIENT_DATA,
            reason=f"{distinct} distinct behaviours among {len(frame)} persons (need more than "
            f"k_min {settings.k_min})",
        )
    try:
        k, silhouettes, model = _choose_k(x, settings)
    except ValueError as problem:  # no k in range separates the persons
        return ClusterResult(status=INSUFFICIENT_DATA, reason=f"{problem} ({len(frame)} persons)")
    z_centroids = model.cluster_centers_
    sizes = np.bincount(model.labels_, minlength=k)
    # a deterministic order: largest first, then by centroid
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(np.round(z_centroids[c], 6))))
    rank = {cluster: position for position, cluster in enumerate(order)}
    z_centroids = z_centroids[order]
    sizes = sizes[order]
    labels = np.array([rank[label] for label in model.labels_])
    centroids = scaler.inverse_transform(z_centroids)

    ids: list[int | None] = [None] * k
    names: list[str | None] = [None] * k
    kept = [False] * k
    if previous is not None and len(previous):
        previous_centroids = np.array(
            [[json.loads(c)[name] for name in FEATURES] for c in previous.centroid], dtype=float
        )
        previous_z = scaler.transform(previous_centroids)
        distance = np.linalg.norm(z_centroids[:, None, :] - previous_z[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(distance)
        for row, col in zip(rows, cols, strict=True):
            if distance[row, col] <= settings.keep_name_max_distance:
                ids[row] = int(previous.cluster_id.iloc[col])
                names[row] = str(previous.cluster_name.iloc[col])
                kept[row] = True
    taken = {name for name in names if name}
    fresh = [i for i in range(k) if names[i] is None]
    for i, name in zip(fresh, _unique_names(z_centroids[fresh], taken), strict=True):
        names[i] = name
    next_id = 1 + max([*(int(v) for v in (previous.cluster_id if previous is not None else [])), 0])
    for i in range(k):
        if ids[i] is None:
            ids[i] = next_id
            next_id += 1
    clusters = pd.DataFrame(
        {
            "cluster_id": ids,
            "cluster_name": names,
            "persons": sizes.astype(int),
            "name_kept": kept,
            "centroid": [
                json.dumps({name: round(float(v), 6) for name, v in zip(FEATURES, c, strict=True)})
                for c in centroids
            ],
        }
    )
    members = pd.DataFrame(
        {"person_id": ordered.person_id.to_numpy(), "cluster_id": [ids[c] for c in labels]}
    )
    spec = json.dumps(
        {
            "algorithm": ALGORITHM,
            "k": k,
            "settings": settings.__dict__,
            "centroids": clusters.centroid.tolist(),
        },
        sort_keys=True,
    )
    version = f"{MODEL_NAME}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    return ClusterResult(
        status="trained",
        model_version=version,
        k=k,
        silhouettes=silhouettes,
        clusters=clusters,
        members=members,
    )
