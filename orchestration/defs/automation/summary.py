"""The short report ``make run`` prints: what was loaded, quarantined and built."""

from __future__ import annotations

import duckdb

from orchestration.defs.ingest.completeness import LedgerDay, ledger_lines
from orchestration.defs.ml import store as ml_store
from orchestration.lib.layout import DataLayout
from orchestration.lib.relations import relation
from orchestration.lib.sql import quote_qualified

DEMO_KEY_SUMMARY = (
    "Hash key: the PUBLIC DEMO KEY (FUNDCDP_HASH_KEY not set): demo sources only, never real data"
)


def load_summary(layout: DataLayout) -> list[tuple]:
    """Per source and raw table: files, lines read, rows loaded, rows quarantined, duplicates skipped."""
    files = sorted(str(path) for path in layout.raw.glob("ingest/load_manifest/*/*.parquet"))
    if not files:
        return []
    return duckdb.sql(
        """
        select source, table_name,
               count(*) filter (where status <> 'duplicate') as files,
               sum(lines_read) filter (where status <> 'duplicate') as lines_read,
               sum(rows_loaded) as rows_loaded,
               sum(rows_quarantined) as rows_quarantined,
               count(*) filter (where status = 'duplicate') as duplicate_files
        from read_parquet(?, hive_partitioning = true)
        group by all order by all
        """,
        params=[files],
    ).fetchall()


def quarantine_by_reason(layout: DataLayout) -> list[tuple]:
    """Quarantined lines per source and reason."""
    files = sorted(str(path) for path in layout.raw.glob("ingest/quarantine/*/*.parquet"))
    if not files:
        return []
    return duckdb.sql(
        "select source, reason, count(*) from read_parquet(?, hive_partitioning = true) "
        "group by all order by all",
        params=[files],
    ).fetchall()


def warehouse_counts(layout: DataLayout, schema_suffix: str = "staging") -> list[tuple[str, int]]:
    """Row counts of the warehouse relations in schemas ending with ``schema_suffix``."""
    if not layout.warehouse_db.exists():
        return []
    try:
        con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    except duckdb.IOException as busy:  # e.g. a dbt run still holding the file
        return [(f"(warehouse not readable: {busy})", 0)]
    try:
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like ? order by 1, 2",
            [f"%{schema_suffix}"],
        ).fetchall()
        return [
            (name, con.execute(f"select count(*) from {quote_qualified(schema, name)}").fetchone()[0])
            for schema, name in relations
        ]
    finally:
        con.close()


def _warehouse_rows(layout: DataLayout, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the warehouse, read-only; none when it is missing, busy, or lacks the table."""
    if not layout.warehouse_db.exists():
        return []
    try:
        con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    except duckdb.IOException:
        return []
    try:
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def exclusions_by_reason(layout: DataLayout) -> list[tuple[str, int]]:
    """Staged events per exclusion reason (events that parse but must not count)."""
    return _warehouse_rows(
        layout,
        "select coalesce(exclusion_reason, '(valid)'), count(*) "
        f"from {relation('stg_tracking__events')} group by all order by 1",
    )


def lifecycle_summary(layout: DataLayout) -> list[str]:
    """Persons per lifecycle stage as of the build, and the stage transitions recorded per date."""
    order = ["introduction", "growth", "mature", "dormant", "churned"]
    stages = sorted(
        _warehouse_rows(
            layout,
            f"select as_of_date, lifecycle_stage, count(*) from {relation('tags_activity')} group by all",
        ),
        key=lambda row: order.index(row[1]) if row[1] in order else len(order),
    )
    transitions = _warehouse_rows(
        layout,
        "select transition_date, from_stage, to_stage, count(*) "
        f"from {relation('lifecycle_transitions')} group by all order by 1 desc, 4 desc, 2, 3 limit 8",
    )
    if not stages:
        return []
    lines = [f"Lifecycle stages as of {stages[0][0]}: " + ", ".join(f"{s} {n}" for _, s, n in stages)]
    lines += [
        f"  lifecycle_transitions {day}: {from_stage} -> {to_stage}: {count}"
        for day, from_stage, to_stage, count in transitions
    ]
    return lines


def model_summary(layout: DataLayout) -> list[str]:
    """The latest run of each model: the churn model's AUC against its baseline, the clusters' names."""
    runs = _warehouse_rows(
        layout,
        "select model_name, status, reason, auc, baseline_auc, passed_floor, evaluation_from, evaluation_to, "
        f"as_of_date from {ml_store.RUNS} qualify row_number() over (partition by model_name "
        "order by as_of_date desc) = 1 order by 1",
    )
    lines = []
    for model, status, reason, auc, baseline, passed, first, last, as_of in runs:
        if model == "churn_propensity" and status == "trained":
            verdict = "passed its floor" if passed else "BELOW its AUC floor: not published"
            lines.append(
                f"Churn model as of {as_of}: AUC {auc:.4f} vs {baseline:.4f} for days since last activity "
                f"(evaluated on {first} .. {last}), {verdict}"
            )
        elif model == "churn_propensity":
            lines.append(f"Churn model as of {as_of}: not trained ({reason})")
    clusters = _warehouse_rows(
        layout,
        f"select cluster_name, persons from {ml_store.CLUSTERS} where as_of_date = "
        f"(select max(as_of_date) from {ml_store.CLUSTERS}) order by persons desc, cluster_name",
    )
    if clusters:
        lines.append("Behaviour clusters: " + "; ".join(f"{name} {persons}" for name, persons in clusters))
    return lines


def format_summary(
    layout: DataLayout, failures: list[str], demo_key: bool = False, ledger: list[LedgerDay] | None = None
) -> str:
    """The text printed at the end of ``make run``; ``demo_key``: the run hashed with the public demo key;
    ``ledger``: the completeness ledger as of the build (defs/ingest/completeness.py), shown when given."""
    lines = [f"fundcdp — data directory {layout.root}"]
    if demo_key:
        lines.append(DEMO_KEY_SUMMARY)
    lines += ["", "Raw layer (per source and table):"]
    lines.append(
        f"  {'source':<9}{'table':<20}{'files':>6}{'lines':>10}{'loaded':>10}{'quarant.':>9}{'dup.':>5}"
    )
    for source, table, files, read, loaded, quarantined, duplicates in load_summary(layout):
        lines.append(
            f"  {source:<9}{table:<20}{files:>6}{read or 0:>10}{loaded or 0:>10}"
            f"{quarantined or 0:>9}{duplicates:>5}"
        )
    reasons = quarantine_by_reason(layout)
    if reasons:
        lines += ["", "Quarantined lines by reason:"]
        lines += [f"  {source:<9}{reason:<22}{count:>8}" for source, reason, count in reasons]
    exclusions = exclusions_by_reason(layout)
    if exclusions:
        lines += ["", "Tracking events by exclusion reason (stg_tracking__events):"]
        lines += [f"  {reason:<31}{count:>8}" for reason, count in exclusions]
    counts = warehouse_counts(layout) + warehouse_counts(layout, "marts")
    if counts:
        lines += ["", "Staging models and marts (warehouse.duckdb):"]
        lines += [f"  {name:<36}{count:>10}" for name, count in counts]
    lifecycle = lifecycle_summary(layout)
    if lifecycle:
        lines += ["", *lifecycle]
    models = model_summary(layout)
    if models:
        lines += ["", *models]
    if ledger is not None:
        lines += ["", "Completeness (per source: days loaded / not due / waived; every other day named):"]
        lines += [f"  {line}" for line in ledger_lines(ledger)]
    if failures:
        lines += ["", "NOT LOADED / FAILED (fix or re-deliver, then run again):"]
        lines += [f"  {failure}" for failure in failures]
    return "\n".join(lines)
