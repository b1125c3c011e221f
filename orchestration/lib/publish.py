"""The publish step: analyst-facing tables copied to a fresh DuckDB file swapped in atomically.

``analytics.duckdb`` is written as a new temporary file next to it and ``os.replace``-d over the old
one: an analyst holding a connection keeps a consistent old view, a new connection sees the new data,
analysts never block the pipeline (they never open the warehouse), and a failure leaves the previous file
untouched. Only tables without clear personal data are published (the marts hold hashes and derived
facts; identifier hashes and engineering tables stay in the warehouse).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from orchestration.lib.failpoints import crash_if_armed

# Tables of the warehouse's main_marts schema published to analysts, in the file's main schema.
PUBLISHED_TABLES = (
    "persons",
    "identity_changes",
    "tags_basic",
    "tags_account",
    "tags_business",
    "tags_activity",
    "tags_value",
    "person_profile",
    "person_tags",
    "tag_catalog",
    "tag_coverage",
    "tag_history",
    "lifecycle_transitions",
    "funnel_persons",
    "funnel_daily",
    "channel_attribution",
    "sessions",
    "page_transitions",
    "page_paths",
    "retention_weekly",
    "lifecycle_daily",
    "lifecycle_transitions_monthly",
    # written by the model assets (orchestration/lib/models/store.py)
    "tags_model",
    "model_runs",
    "model_evaluations",
    "behaviour_clusters",
)


class PublishError(RuntimeError):
    """Publishing failed; the previous analytics file is untouched."""


# Tables of segments.duckdb published to analysts (members without the customer number: exports only).
SEGMENT_TABLES = {
    "segment_versions": "select * from segments.segment_versions",
    "segment_members": "select segment, version, person_id, split_group from segments.segment_members",
    "segment_diffs": "select segment, version, person_id, change from segments.segment_diffs",
}


def publish_analytics(
    warehouse_db: Path,
    analytics_db: Path,
    quality_db: Path | None = None,
    tables=PUBLISHED_TABLES,
    segments_db: Path | None = None,
) -> dict[str, int]:
    """Write ``tables``, ``dq_results`` and the segment tables to a fresh file and swap it in; returns rows
    per table."""
    # Fresh files left by a publish that crashed before its swap (one writer at a time: none is live).
    for leftover in analytics_db.parent.glob(f".{analytics_db.name}.*.tmp*"):
        leftover.unlink(missing_ok=True)
    temporary = analytics_db.with_name(f".{analytics_db.name}.{uuid.uuid4().hex}.tmp")
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(temporary))
        try:
            con.execute(f"attach '{warehouse_db}' as warehouse (read_only)")
            for table in tables:
                con.execute(f"create table main.{table} as select * from warehouse.main_marts.{table}")
                counts[table] = con.execute(f"select count(*) from main.{table}").fetchone()[0]
            con.execute("detach warehouse")
            if quality_db is not None and quality_db.exists():
                con.execute(f"attach '{quality_db}' as quality (read_only)")
                con.execute("create table main.dq_results as select * from quality.dq_results")
                counts["dq_results"] = con.execute("select count(*) from main.dq_results").fetchone()[0]
                con.execute("detach quality")
            if segments_db is not None and segments_db.exists():
                con.execute(f"attach '{segments_db}' as segments (read_only)")
                for table, select in SEGMENT_TABLES.items():
                    con.execute(f"create table main.{table} as {select}")
                    counts[table] = con.execute(f"select count(*) from main.{table}").fetchone()[0]
                con.execute("detach segments")
                from orchestration.lib.experiments import COLUMNS, experiment_results

                results = experiment_results(segments_db, warehouse_db)
                con.execute(
                    "create table main.experiment_results (segment varchar, version integer,"
                    " as_of_date date, conversion_days integer, observed_days integer,"
                    " test_persons bigint, test_converted bigint, control_persons bigint,"
                    " control_converted bigint, rate_test double, rate_control double, lift double,"
                    " difference double, ci_low double, ci_high double, z double, p_value double)"
                )
                if results:
                    placeholders = ", ".join("?" for _ in COLUMNS)
                    con.executemany(f"insert into main.experiment_results values ({placeholders})", results)
                counts["experiment_results"] = len(results)
            con.execute("checkpoint")
        finally:
            con.close()
        crash_if_armed("analytics_swap")
        os.replace(temporary, analytics_db)
    except (duckdb.Error, OSError) as problem:
        raise PublishError(
            f"publishing {analytics_db} failed, the previous file is kept: {problem}"
        ) from problem
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return counts


PREVIEWS = {
    "funnel": "select sum(landed_persons) as landed, sum(activated_persons) as activated, "
    "sum(registered_persons) as registered, sum(account_opened_persons) as accounts, "
    "sum(card_bound_persons) as cards, sum(first_purchase_persons) as buyers, "
    "sum(repeat_purchase_persons) as repeat_buyers from funnel_daily",
    "lifecycle": "select lifecycle_stage, count(*) as persons from person_profile group by 1 order by 2 desc",
    "channels (first touch)": "select utm_source, round(sum(new_persons)) as persons, "
    "round(sum(first_purchases)) as buyers from channel_attribution where attribution_model = 'first_touch' "
    "group by 1 order by 2 desc limit 5",
}


def preview_markdown(analytics_db: Path) -> str:
    """Small markdown previews of key marts (for the Dagster asset's metadata)."""
    parts = []
    con = duckdb.connect(str(analytics_db), read_only=True)
    try:
        for title, sql in PREVIEWS.items():
            try:
                result = con.execute(sql)
            except duckdb.CatalogException:
                continue
            columns = [column[0] for column in result.description]
            rows = result.fetchall()
            parts.append(f"**{title}**\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
            parts.extend("| " + " | ".join(str(value) for value in row) + " |" for row in rows)
            parts.append("")
    finally:
        con.close()
    return "\n".join(parts)
