"""Experiment results for segments published with a test / control split.

For each published version with both groups: members per group, how many converted (a confirmed purchase,
subscription or SIP deduction within ``conversion_days`` after the version's as-of date, as far as the
warehouse has data), conversion rates, lift (test / control - 1), the difference with its 95 % confidence
interval (Wald) and a two-sided two-proportion z-test (pooled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.as_of import built_as_of_date
from orchestration.lib.relations import model_relation
from orchestration.lib.rules import load_business_rules


@dataclass(frozen=True)
class ProportionTest:
    rate_test: float
    rate_control: float
    lift: float | None
    difference: float
    ci_low: float
    ci_high: float
    z: float | None
    p_value: float | None


def two_proportion_test(test_n: int, test_x: int, control_n: int, control_x: int) -> ProportionTest:
    """Rates, lift, difference with a 95 % Wald interval, and the pooled two-sided z-test."""
    p1, p2 = test_x / test_n, control_x / control_n
    difference = p1 - p2
    se = math.sqrt(p1 * (1 - p1) / test_n + p2 * (1 - p2) / control_n)
    pooled = (test_x + control_x) / (test_n + control_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / test_n + 1 / control_n))
    z = difference / se_pooled if se_pooled > 0 else None
    p_value = math.erfc(abs(z) / math.sqrt(2)) if z is not None else None
    return ProportionTest(
        rate_test=p1,
        rate_control=p2,
        lift=(p1 / p2 - 1) if p2 > 0 else None,
        difference=difference,
        ci_low=difference - 1.959963984540054 * se,
        ci_high=difference + 1.959963984540054 * se,
        z=z,
        p_value=p_value,
    )


COLUMNS = (
    "segment", "version", "as_of_date", "conversion_days", "observed_days", "test_persons", "test_converted",
    "control_persons", "control_converted", "rate_test", "rate_control", "lift", "difference", "ci_low",
    "ci_high", "z", "p_value",
)  # fmt: skip


def experiment_results(segments_db: Path, warehouse_db: Path) -> list[tuple]:
    """One row per published segment version with test and control members (see COLUMNS)."""
    rules = load_business_rules()
    conversion_days = rules["analytics"]["experiment_conversion_days"]
    purchase_types = rules["tags"]["purchase_trade_types"]
    latest = built_as_of_date(warehouse_db)
    con = duckdb.connect()
    try:
        con.execute("attach ? as segments (read_only)", [str(segments_db)])
        con.execute("attach ? as warehouse (read_only)", [str(warehouse_db)])
        rows = con.execute(
            f"""
            with versions as (
                select segment, version, as_of_date from segments.segment_versions where status = 'published'
            ),
            members as (
                select m.segment, m.version, v.as_of_date, m.person_id, m.split_group
                from segments.segment_members as m
                join versions as v on v.segment = m.segment and v.version = m.version
                where m.split_group in ('test', 'control')
            ),
            purchases as (
                select distinct person_id, confirm_date
                from {model_relation("int_person_daily_trades").in_catalog("warehouse")}
                where list_contains(?, trade_type)
            ),
            converted as (
                select distinct members.segment, members.version, members.person_id
                from members join purchases on purchases.person_id = members.person_id
                where purchases.confirm_date > members.as_of_date
                    and purchases.confirm_date <= members.as_of_date + cast(? as integer)
            )
            select
                members.segment, members.version, members.as_of_date,
                count(*) filter (where split_group = 'test'),
                count(converted.person_id) filter (where split_group = 'test'),
                count(*) filter (where split_group = 'control'),
                count(converted.person_id) filter (where split_group = 'control')
            from members
            left join converted
                on converted.segment = members.segment and converted.version = members.version
                and converted.person_id = members.person_id
            group by all
            order by 1, 2
            """,
            [purchase_types, conversion_days],
        ).fetchall()
    finally:
        con.close()
    results = []
    for segment, version, as_of, test_n, test_x, control_n, control_x in rows:
        if test_n == 0 or control_n == 0:
            continue
        stats = two_proportion_test(test_n, test_x, control_n, control_x)
        observed = max(0, min(conversion_days, (latest - as_of).days)) if latest else 0
        results.append(
            (
                segment,
                version,
                as_of,
                conversion_days,
                observed,
                test_n,
                test_x,
                control_n,
                control_x,
                stats.rate_test,
                stats.rate_control,
                stats.lift,
                stats.difference,
                stats.ci_low,
                stats.ci_high,
                stats.z,
                stats.p_value,
            )  # fmt: skip
        )
    return results
