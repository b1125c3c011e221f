"""How well ID-Mapping recovered the real persons: pair precision and recall against a truth file.

The truth (the demo generator's ``demo_truth/identities.csv``) lists which identifiers belong to which
real person. Two identifiers form a *pair* when they belong to the same person; precision is the share
of pairs the warehouse put together that are real, recall the share of real pairs it put together.
Only identifiers the warehouse saw and the truth assigns to a person are compared.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib import pii
from orchestration.lib.identity_keys import identity_hash
from orchestration.lib.relations import relation

PERSONAL_TYPES = {"phone", "id_number", "email", "wx_openid", "wx_unionid"}
SYSTEM_TYPES = {"login_id", "customer_no", "fund_account_id"}


@dataclass(frozen=True)
class PairQuality:
    """Pair precision and recall, with the counts behind them."""

    identifiers_compared: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def identifier_hash(identifier_type: str, value: str, key: bytes) -> str | None:
    """The hash the warehouse stores for an identifier value (keyed for personal ones)."""
    if identifier_type in PERSONAL_TYPES:
        normalisers = {
            "phone": pii.normalise_phone,
            "id_number": pii.normalise_id_number,
            "email": pii.normalise_email,
        }
        normalised = normalisers.get(identifier_type, lambda v: pii.fold_width(v).strip() or None)(value)
        return pii.keyed_hash(key, normalised)
    if identifier_type in SYSTEM_TYPES:
        return identity_hash(identifier_type, value)
    return None


def _pairs(group_sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in group_sizes.values())


def pair_quality(truth_file: Path, warehouse_db: Path, key: bytes) -> PairQuality:
    """Compare ``person_identifiers`` in the warehouse with the truth file."""
    truth: dict[tuple[str, str], str] = {}
    with open(truth_file, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["person_key"] or row["is_junk"] == "true":
                continue
            hashed = identifier_hash(row["identifier_type"], row["identifier_value"], key)
            if hashed is not None:
                truth[(row["identifier_type"], hashed)] = row["person_key"]
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        predicted = {
            (t, h): p
            for t, h, p in con.execute(
                f"select identifier_type, identifier_hash, person_id from {relation('person_identifiers')}"
            ).fetchall()
        }
    finally:
        con.close()
    compared = [k for k in truth if k in predicted]
    true_groups = Counter(truth[k] for k in compared)
    predicted_groups = Counter(predicted[k] for k in compared)
    both = Counter((truth[k], predicted[k]) for k in compared)
    return PairQuality(len(compared), _pairs(true_groups), _pairs(predicted_groups), _pairs(both))
