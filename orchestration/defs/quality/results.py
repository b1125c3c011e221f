"""``dq_results``: every validation result, appended to ``quality.duckdb`` (one row per expectation).

The publish step reads it back: it publishes only when the latest result of every guarding suite for
the partition passed, whatever run produced it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.defs.quality.gx_runner import SuiteOutcome

DDL = """
create table if not exists dq_results (
    run_id varchar,
    asset varchar,
    partition_date date,
    suite varchar,
    suite_success boolean,
    expectation varchar,
    column_name varchar,
    success boolean,
    observed_value varchar,
    unexpected_count bigint,
    element_count bigint,
    validated_at timestamp
)
"""


def record_results(
    quality_db: Path, run_id: str, asset: str, partition_date: str, suite: str, outcome: SuiteOutcome
) -> int:
    """Append one row per expectation of ``outcome`` (one row with expectation null if there were none)."""
    validated_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            run_id, asset, partition_date, suite, outcome.success, item.expectation_type, item.column,
            item.success, item.observed_value, item.unexpected_count, item.element_count, validated_at,
        )
        for item in outcome.expectations
    ] or [(run_id, asset, partition_date, suite, outcome.success, None, None, outcome.success, None, None,
           None, validated_at)]  # fmt: skip
    con = duckdb.connect(str(quality_db))
    try:
        con.execute(DDL)
        con.executemany("insert into dq_results values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    finally:
        con.close()
    return len(rows)


def latest_suite_results(quality_db: Path, partition_date: str) -> dict[str, bool]:
    """For each suite validated for ``partition_date``: did its latest validation pass?"""
    if not quality_db.exists():
        return {}
    con = duckdb.connect(str(quality_db), read_only=True)
    try:
        rows = con.execute(
            "select suite, arg_max(suite_success, validated_at) from dq_results "
            "where partition_date = cast(? as date) group by suite",
            [partition_date],
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()
    return {suite: bool(success) for suite, success in rows}
