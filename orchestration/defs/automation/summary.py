"""The short report ``make run`` prints (at most :data:`MAX_LINES` lines): the outcome (gates, publish,
segments), the problems with what to do, what was loaded, quarantined and built, the completeness ledger,
the demo's planted defects, and where the full log is."""

from __future__ import annotations

import csv
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    if transitions:
        moves = ", ".join(f"{day} {before} -> {after} {count}" for day, before, after, count in transitions)
        lines += _wrapped(f"  lifecycle_transitions (latest): {moves}", limit=2)
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


MAX_LINES = 40
WIDTH = 110  # a wrapped line's width
PROBLEMS_SHOWN = 6
LEDGER_LINES_SHOWN = 6
KEY_MARTS = ("persons", "person_profile", "person_tags", "sessions", "segment_persons")


@dataclass
class BuildOutcome:
    """What the last build run decided: each quality gate (passed or not), whether analytics.duckdb was
    published (None: the run had no publish step), the report, the segments published and blocked, and
    ID-Mapping's quality against the demo truth when there is one."""

    gates: dict[str, bool] = field(default_factory=dict)
    published: bool | None = None
    report: str | None = None
    segments_published: Any = None
    segments_blocked: str | None = None
    # segment files skipped as invalid (alert segment_invalid), and whether a blocked one can be approved
    segments_invalid: str | None = None
    segments_approvable: bool = False
    identity_quality: str | None = None

    @classmethod
    def from_result(cls, result: Any) -> BuildOutcome:
        """From a run's result (a Dagster ``ExecuteInProcessResult``)."""
        gates = {
            evaluation.check_name: evaluation.passed
            for evaluation in result.get_asset_check_evaluations()
            if evaluation.check_name.startswith("gx_")
        }
        materialized = {
            event.asset_key.to_user_string(): event.materialization.metadata
            for event in result.get_asset_materialization_events()
        }
        analytics = materialized.get("analytics")
        outcome = cls(gates=gates, published=analytics is not None if gates else None)
        if analytics is not None and "report" in analytics:
            outcome.report = str(analytics["report"].value)
        if (segments := materialized.get("segments")) is not None:
            outcome.segments_published = segments["published"].value if "published" in segments else None
            if "blocked" in segments:
                outcome.segments_blocked = _names(segments["blocked"].value)
            if "invalid" in segments and segments["invalid"].value:
                outcome.segments_invalid = _names(segments["invalid"].value)
            if "segments" in segments:
                outcome.segments_approvable = any(
                    item.get("pending_version") is not None
                    and item.get("reason") != "the data's quality gates did not pass"
                    for item in (segments["segments"].value or {}).values()
                )
        return outcome


def _names(blocked: Any) -> str:
    """The blocked segments' names (their reasons are in segments.duckdb segment_versions and the UI)."""
    if isinstance(blocked, dict):
        blocked = list(blocked)
    if isinstance(blocked, list | tuple | set):
        return ", ".join(str(name) for name in blocked) or "none"
    return str(blocked or "none")


def planted_defects(truth_dir: Path) -> list[tuple[str, int]]:
    """The demo generator's planted defects per kind (its answer key ``defects.csv``), most frequent
    first; none without an answer key (not the demo)."""
    path = truth_dir / "defects.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        counts = Counter(row.get("kind") or "?" for row in csv.DictReader(handle))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _wrapped(text: str, limit: int = 3) -> list[str]:
    lines = textwrap.wrap(text, width=WIDTH, subsequent_indent="    ", break_on_hyphens=False)
    return lines if len(lines) <= limit else [*lines[: limit - 1], lines[limit - 1][: WIDTH - 4] + " ..."]


def _capped(lines: list[str], limit: int, what: str) -> list[str]:
    return (
        lines
        if len(lines) <= limit
        else [*lines[:limit], f"  ... and {len(lines) - limit} more {what}".rstrip()]
    )


def _outcome_lines(layout: DataLayout, outcome: BuildOutcome | None) -> list[str]:
    if outcome is None:
        return []
    lines = []
    if outcome.gates:
        failed = sorted(name for name, passed in outcome.gates.items() if not passed)
        lines.append(
            f"Quality gates (Great Expectations): {len(outcome.gates) - len(failed)} of {len(outcome.gates)} "
            "passed"
            + (
                f"; FAILED: {', '.join(failed)} (quality.duckdb dq_results, logs/alerts.log)"
                if failed
                else ""
            )
        )
    if outcome.published is not None:
        state = "published" if outcome.published else "NOT published (previous version kept)"
        lines.append(f"analytics.duckdb: {state} at {layout.analytics_db}")
    if outcome.segments_published is not None:
        blocked = outcome.segments_blocked or "none"
        why = "" if blocked == "none" else " (why: segment_versions in segments.duckdb)"
        lines += _wrapped(
            f"Segments: {outcome.segments_published} published, blocked: {blocked}{why}", limit=2
        )
        if outcome.segments_approvable:
            lines.append(
                '  to publish a blocked one: python -m orchestration.cli segments approve NAME --reason "..."'
            )
        if outcome.segments_invalid:
            lines += _wrapped(
                f"  INVALID segment file(s) skipped: {outcome.segments_invalid} (alert segment_invalid; "
                "`python -m orchestration.cli segments validate` lists every problem)",
                limit=2,
            )
    if outcome.published is not None:
        lines.append(f"Report: {outcome.report or 'not written (quality gates did not pass)'}")
    if outcome.identity_quality:
        lines.append(outcome.identity_quality)
    return lines


def _load_lines(layout: DataLayout) -> list[str]:
    per_source: dict[str, list[int]] = {}
    for source, _table, files, read, loaded, quarantined, duplicates in load_summary(layout):
        totals = per_source.setdefault(source, [0, 0, 0, 0, 0, 0])
        for index, value in enumerate((1, files, read or 0, loaded or 0, quarantined or 0, duplicates)):
            totals[index] += value
    if not per_source:
        return []
    lines = ["Loaded into raw/ (per source):"]
    for source, (tables, files, read, loaded, quarantined, duplicates) in per_source.items():
        lines.append(
            f"  {source:<9}{tables:>2} tables {files:>5} files {read:>9,} lines {loaded:>9,} loaded "
            f"{quarantined:>5,} quarantined {duplicates} duplicate files"
        )
    reasons: dict[str, list[str]] = {}
    for source, reason, count in quarantine_by_reason(layout):
        reasons.setdefault(source, []).append(f"{reason} {count:,}")
    if reasons:
        text = "; ".join(f"{source} {', '.join(items)}" for source, items in reasons.items())
        lines += _wrapped(f"  Quarantined lines by reason: {text}")
    exclusions = dict(exclusions_by_reason(layout))
    if exclusions:
        valid = exclusions.pop("(valid)", 0)
        excluded = ", ".join(f"{reason} {count:,}" for reason, count in exclusions.items()) or "none"
        lines += _wrapped(f"  Tracking events: {valid:,} valid; not counted: {excluded}")
    return lines


def _warehouse_lines(layout: DataLayout) -> list[str]:
    staging = warehouse_counts(layout)
    marts = dict(warehouse_counts(layout, "marts"))
    if not staging and not marts:
        return []
    key = ", ".join(f"{name} {marts[name]:,}" for name in KEY_MARTS if name in marts)
    return _wrapped(
        f"Warehouse (warehouse.duckdb): {len(staging)} staging models, {len(marts)} marts"
        + (f"; {key}" if key else "")
    )


def _demo_lines(defects: list[tuple[str, int]], truth_dir: Path) -> list[str]:
    if not defects:
        return []
    total = sum(count for _, count in defects)
    lines = [
        f"The demo's planted defects, on purpose ({total:,} in {len(defects)} kinds; answer key "
        f"{truth_dir / 'defects.csv'}):"
    ]
    return lines + _wrapped("  " + ", ".join(f"{kind} {count:,}" for kind, count in defects), limit=4)


def _fit(sections: list[tuple[int, list[str]]], limit: int) -> list[str]:
    """The sections (priority, lines) in their order, without trailing blank lines, the least important
    left out (and a note saying so) until they fit in ``limit`` lines."""
    kept = [(priority, lines) for priority, lines in sections if lines]
    left_out = 0

    def render() -> list[str]:
        out = [line for _, lines in kept for line in lines]
        while out and not out[-1]:
            out.pop()
        note = f"({left_out} section(s) left out to stay short: see the log file)"
        return [*out, note] if left_out else out

    while len(render()) > limit and len(kept) > 1:
        lowest = min(range(len(kept)), key=lambda index: kept[index][0])
        left_out += 1
        del kept[lowest]
    return render()[:limit]


def format_summary(
    layout: DataLayout,
    failures: list[str],
    demo_key: bool = False,
    ledger: list[LedgerDay] | None = None,
    *,
    outcome: BuildOutcome | None = None,
    log_path: Path | None = None,
    demo_defects: list[tuple[str, int]] | None = None,
) -> str:
    """The text printed at the end of ``make run``, at most :data:`MAX_LINES` lines. ``failures``: one line
    per problem, saying what to do (orchestration/lib/console.py problem_lines); ``demo_key``: the run
    hashed with the public demo key; ``ledger``: the completeness ledger as of the build
    (defs/ingest/completeness.py); ``outcome``: the last build's gates, publish and segments;
    ``log_path``: the command's full log; ``demo_defects``: :func:`planted_defects`."""
    header = [f"fundcdp — data directory {layout.root}"]
    if demo_key:
        header.append(DEMO_KEY_SUMMARY)
    if log_path is not None:
        header.append(f"Full log (Dagster, dbt, warnings, stack traces): {log_path}")
    lines_of_problems = []
    if failures:
        lines_of_problems = [
            "Problems (what to do):",
            *_capped([f"  {f}" for f in failures], PROBLEMS_SHOWN, ""),
        ]
    lifecycle = lifecycle_summary(layout)
    models = [line for text in model_summary(layout) for line in _wrapped(text, limit=2)]
    completeness = []
    if ledger is not None:
        completeness = ["Completeness (per source: days loaded / not due / waived; every other day named):"]
        completeness += _capped([f"  {line}" for line in ledger_lines(ledger)], LEDGER_LINES_SHOWN, "lines")
    sections = [
        (9, header),
        (8, _outcome_lines(layout, outcome)),
        (9, lines_of_problems),
        (6, _load_lines(layout)),
        (3, _warehouse_lines(layout)),
        (2, lifecycle),
        (4, models),
        (5, completeness),
        (7, _demo_lines(demo_defects or [], layout.demo_truth)),
    ]
    present = [(priority, lines) for priority, lines in sections if lines]
    # A blank line between sections; if that is too long, only between the first ones (header, outcome,
    # problems) and the rest, whose headings set them apart; the least important sections left out last.
    spaced = [(priority, [*lines, ""]) for priority, lines in present]
    text = _fit(spaced, MAX_LINES)
    if len(_fit(spaced, 10**6)) > MAX_LINES:
        first = min(3, len(present))
        compact = [(p, [*lines, ""]) for p, lines in present[:first]] + present[first:]
        text = _fit(compact, MAX_LINES)
    return "\n".join(text)
