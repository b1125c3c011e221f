"""The summary ``make run`` prints (orchestration/defs/automation/summary.py format_summary): at most 40
lines, on a data directory built for it: the outcome, the problems, the loads, the warehouse, the
completeness ledger, the demo's planted defects and the log file's path."""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.defs.automation.summary import (
    MAX_LINES,
    BuildOutcome,
    _fit,
    _names,
    format_summary,
    planted_defects,
)
from orchestration.defs.ingest.completeness import LedgerDay
from orchestration.lib.layout import DataLayout


def _parquet(path: Path, columns: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def built_data_dir(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    manifest = layout.raw / "ingest" / "load_manifest" / "arrival_date=2026-06-30"
    _parquet(
        manifest / "all.parquet",
        {
            "source": ["crm", "crm", "crm", "trade"],
            "table_name": ["customers", "bank_cards", "customers", "nav"],
            "status": ["loaded", "loaded", "duplicate", "loaded"],
            "lines_read": [1200, 300, 1200, 40],
            "rows_loaded": [1195, 300, 0, 38],
            "rows_quarantined": [5, 0, 0, 2],
        },
    )
    _parquet(
        layout.raw / "ingest" / "quarantine" / "arrival_date=2026-06-30" / "q.parquet",
        {
            "source": ["crm"] * 3 + ["trade"] * 2,
            "reason": ["bad_date"] * 2 + ["wrong_column_count"] + ["bad_number"] * 2,
        },
    )
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_staging")
    con.execute("create schema main_marts")
    con.execute(
        "create table main_staging.stg_tracking__events as select * from (values (null), (null), (null), "
        "('bot'), ('duplicate_event'), ('duplicate_event')) t(exclusion_reason)"
    )
    con.execute("create table main_staging.stg_crm__customers as select * from range(1195)")
    con.execute("create table main_marts.persons as select * from range(1100)")
    con.execute("create table main_marts.person_profile as select * from range(1100)")
    con.execute(
        "create table main_marts.tags_activity as select date '2026-06-30' as as_of_date, stage as "
        "lifecycle_stage from (values ('mature'), ('mature'), ('growth'), ('churned')) t(stage)"
    )
    con.execute(
        "create table main_marts.lifecycle_transitions as select date '2026-06-30' as transition_date, * "
        "from (values ('growth', 'mature'), ('growth', 'mature'), ('mature', 'dormant'), "
        "('dormant', 'churned'), "
        "('introduction', 'growth')) t(from_stage, to_stage)"
    )
    con.close()
    layout.demo_truth.mkdir(parents=True)
    (layout.demo_truth / "defects.csv").write_text(
        "file,line,kind,detail\n"
        + "crm/2026-01-02/a.csv,2,bad_date,x\n" * 3
        + "crm/2026-05-31/marketing_consents_20260531.csv,,incomplete_day,missing\n"
        + "tracking/2026-01-03/e.jsonl.gz,5,bot,\n" * 2
    )
    return layout


def test_the_summary_fits_in_40_lines_and_says_what_happened(tmp_path):
    layout = built_data_dir(tmp_path)
    log = layout.logs / "run-20261207T070809Z.log"
    problems = [
        f"WARNING trade 2026-06-{day:02d}: landing/trade/x: bad (nav not loaded)" for day in range(1, 9)
    ]
    outcome = BuildOutcome(
        gates={"gx_persons": True, "gx_tag_coverage": False},
        published=False,
        segments_published=7,
        segments_blocked=_names({"dormant_high_value": "a change of 67% exceeds max_change 50%"}),
    )
    ledger = [LedgerDay("crm", f"2026-06-{day:02d}", "loaded") for day in range(1, 31)]
    ledger[4] = LedgerDay("crm", "2026-06-05", "waived", "planted by the demo generator")
    summary = format_summary(
        layout,
        problems,
        demo_key=True,
        ledger=ledger,
        outcome=outcome,
        log_path=log,
        demo_defects=planted_defects(layout.demo_truth),
    )
    lines = summary.splitlines()
    assert len(lines) <= MAX_LINES
    assert lines[0] == f"fundcdp — data directory {layout.root}"
    assert lines[2] == f"Full log (Dagster, dbt, warnings, stack traces): {log}"
    assert (
        "Quality gates (Great Expectations): 1 of 2 passed; FAILED: gx_tag_coverage (quality.duckdb "
        "dq_results, logs/alerts.log)"
    ) in lines
    assert f"analytics.duckdb: NOT published (previous version kept) at {layout.analytics_db}" in lines
    assert (
        "Segments: 7 published, blocked: dormant_high_value (why: segment_versions in segments.duckdb)"
        in lines
    )
    assert "Report: not written (quality gates did not pass)" in lines
    # 8 problems: 6 shown, the rest counted
    at = lines.index("Problems (what to do):")
    assert lines[at + 1 : at + 8] == [*(f"  {p}" for p in problems[:6]), "  ... and 2 more"]
    assert (
        "  crm       2 tables     2 files     1,500 lines     1,495 loaded     5 quarantined "
        "1 duplicate files" in lines
    )
    assert "  Quarantined lines by reason: crm bad_date 2, wrong_column_count 1; trade bad_number 2" in lines
    assert "  Tracking events: 3 valid; not counted: bot 1, duplicate_event 2" in lines
    assert (
        "Warehouse (warehouse.duckdb): 2 staging models, 4 marts; persons 1,100, person_profile 1,100"
        in lines
    )
    assert "Lifecycle stages as of 2026-06-30: growth 1, mature 2, churned 1" in lines
    at = lines.index("Lifecycle stages as of 2026-06-30: growth 1, mature 2, churned 1")
    assert lines[at + 1 : at + 3] == [
        "  lifecycle_transitions (latest): 2026-06-30 growth -> mature 2, 2026-06-30 dormant -> churned 1, "
        "2026-06-30",
        "    introduction -> growth 1, 2026-06-30 mature -> dormant 1",
    ]
    assert "  crm      2026-06-01 .. 2026-06-30: 29 loaded, 0 not due, 1 waived" in lines
    assert (
        "The demo's planted defects, on purpose (6 in 3 kinds; answer key "
        f"{layout.demo_truth / 'defects.csv'}):"
    ) in lines
    assert "  bad_date 3, bot 2, incomplete_day 1" in lines


def test_a_summary_too_long_leaves_out_its_least_important_sections():
    sections = [(9, ["head", ""]), (2, [f"lifecycle {n}" for n in range(10)]), (5, ["a", "b"]), (7, ["demo"])]
    assert _fit(sections, 6) == [
        "head",
        "",
        "a",
        "b",
        "demo",
        "(1 section(s) left out to stay short: see the log file)",
    ]
    assert _fit(sections, 20) == [line for _, lines in sections for line in lines]
