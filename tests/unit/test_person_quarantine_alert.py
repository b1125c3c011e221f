"""The quarantine summary and its warning alert (orchestration/defs/quality/quarantine.py), on tiny files."""

from __future__ import annotations

import duckdb

from orchestration.defs.quality.quarantine import QuarantineSummary, quarantine_alert, quarantine_summary
from orchestration.lib.alerts import KINDS


def test_summary_counts_persons_once_and_per_reason(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema main_marts")
    con.execute("create table main_marts.person_quarantine (person_id varchar, quarantine_reason varchar)")
    con.execute(
        "insert into main_marts.person_quarantine values ('A', 'oversized_identity'),"
        " ('A', 'conflicting_unique_identifiers'), ('B', 'oversized_identity')"
    )
    con.close()
    assert quarantine_summary(path) == QuarantineSummary(
        2, {"conflicting_unique_identifiers": 1, "oversized_identity": 2}
    )


def test_a_warehouse_without_the_table_has_nobody_quarantined(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    assert quarantine_summary(path) == QuarantineSummary(0, {})


def test_one_warning_names_the_count_and_reasons_and_none_without_quarantine():
    assert quarantine_alert(QuarantineSummary(0, {}), "marts/persons", "2026-06-30", "r") is None
    alert = quarantine_alert(
        QuarantineSummary(2, {"conflicting_unique_identifiers": 1, "oversized_identity": 2}),
        "marts/persons",
        "2026-06-30",
        "run-1",
    )
    assert alert.kind == "persons_quarantined" and alert.kind in KINDS
    assert alert.summary == (
        "2 persons quarantined (conflicting_unique_identifiers (1), oversized_identity (2)): left out of "
        "every segment, listed in person_quarantine; the others publish"
    )
    assert alert.to_json()["details"] == {
        "quarantined_persons": 2,
        "reasons": {"conflicting_unique_identifiers": 1, "oversized_identity": 2},
    }
