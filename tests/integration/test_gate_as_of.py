"""Each gate checks that the warehouse it validates is as of its run's day (issue 31: two interleaved runs
recorded every gate as passed for 07-02 while the warehouse was as of 07-01). On tiny warehouses holding
only the build's as-of stamps: a gate that finds another day fails before its suite is evaluated."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from orchestration.defs.quality.checks import WAREHOUSE_AS_OF_EXPECTATION, run_quality_check
from orchestration.defs.quality.gx_runner import SuiteOutcome
from orchestration.defs.quality.results import latest_suite_results, record_results
from orchestration.defs.quality.suites import discover_suites
from orchestration.defs.quality.warehouse_as_of import warehouse_as_of_dates, warehouse_as_of_problem
from orchestration.lib.layout import DataLayout
from orchestration.lib.settings import FundcdpSettings

pytestmark = pytest.mark.integration

SUITES = {suite.name: suite for suite in discover_suites()}
RUN_DAY = "2026-07-02"


def stamped_layout(tmp_path, coverage: list[str], profile: list[str]) -> DataLayout:
    """A data directory whose warehouse holds the as-of stamps only: tag_coverage and person_profile rows
    with the given dates (unlike the demo: three tags, two persons, a July build)."""
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_marts")
    con.execute("create table main_marts.tag_coverage (tag_code varchar, as_of_date date)")
    con.executemany(
        "insert into main_marts.tag_coverage values (?, cast(? as date))",
        [(tag, day) for tag, day in zip(("age", "value_tier", "lifecycle_stage"), coverage, strict=False)],
    )
    con.execute("create table main_marts.person_profile (person_id varchar, as_of_date date)")
    for i, day in enumerate(profile):
        con.execute("insert into main_marts.person_profile values (?, cast(? as date))", [f"P{i}", day])
    con.close()
    return layout


def test_the_stamps_of_a_build_of_the_run_day_pass(tmp_path):
    layout = stamped_layout(tmp_path, [RUN_DAY] * 3, [RUN_DAY] * 2)
    assert warehouse_as_of_dates(layout.warehouse_db) == [date(2026, 7, 2)]
    assert warehouse_as_of_problem(layout.warehouse_db, RUN_DAY) is None
    # no persons at all (an empty company): the tag_coverage rows still date the build
    empty = stamped_layout(tmp_path / "empty", [RUN_DAY] * 3, [])
    assert warehouse_as_of_problem(empty.warehouse_db, date(2026, 7, 2)) is None


@pytest.mark.parametrize("suite", ["persons", "freshness_and_volume", "stg_trade__trade_orders"])
def test_a_gate_on_a_warehouse_of_another_day_fails_naming_both_dates(tmp_path, suite):
    layout = stamped_layout(tmp_path, ["2026-07-01"] * 3, ["2026-07-01"] * 2)
    settings = FundcdpSettings(data_dir=str(layout.root))
    # the run's gates had passed earlier for its day; the warehouse was rebuilt for 07-01 since
    passed = SuiteOutcome(suite, True, ())
    record_results(layout.quality_db, "run-earlier", "x", RUN_DAY, suite, passed)
    result = run_quality_check(SUITES[suite], settings, "run-0702", as_of_date=date.fromisoformat(RUN_DAY))
    problem = (
        "the warehouse is as of 2026-07-01, not the run's day 2026-07-02: another run rebuilt it since this "
        "run's dbt build (or the build did not finish); not validated, re-run the day"
    )
    assert not result.passed
    assert result.check_name == f"gx_{suite}"
    assert result.description == problem
    assert result.metadata["warehouse_as_of"].value == ["2026-07-01"]
    assert result.metadata["evaluated"].value == 0
    # recorded as failed for 07-02 (the latest result: the publish step holds back), nothing for 07-01
    assert latest_suite_results(layout.quality_db, RUN_DAY) == {suite: False}
    assert latest_suite_results(layout.quality_db, "2026-07-01") == {}
    con = duckdb.connect(str(layout.quality_db), read_only=True)
    rows = con.execute(
        "select expectation, success, observed_value from dq_results where run_id = 'run-0702'"
    ).fetchall()
    con.close()
    assert rows == [(WAREHOUSE_AS_OF_EXPECTATION, False, '["2026-07-01"]')]
    (line,) = [json.loads(text)["alert"] for text in layout.alerts_log.read_text().splitlines()]
    assert (line["kind"], line["partition"], line["run_id"]) == ("check_failed", RUN_DAY, "run-0702")
    assert line["summary"] == f"quality gate gx_{suite} failed: {problem}"
    assert line["details"] == {"run_day": RUN_DAY, "warehouse_as_of": ["2026-07-01"]}


def test_a_half_rebuilt_or_unbuilt_warehouse_fails_too(tmp_path):
    # tag_coverage rebuilt for 07-02, person_profile still 07-01 (a build that stopped between them)
    mixed = stamped_layout(tmp_path / "mixed", [RUN_DAY] * 3, ["2026-07-01"])
    assert warehouse_as_of_problem(mixed.warehouse_db, RUN_DAY) == (
        "the warehouse is as of 2026-07-01 and 2026-07-02, not the run's day 2026-07-02: another run rebuilt "
        "it since this run's dbt build (or the build did not finish); not validated, re-run the day"
    )
    unbuilt = DataLayout.at(tmp_path / "unbuilt")
    unbuilt.ensure()
    duckdb.connect(str(unbuilt.warehouse_db)).close()
    assert warehouse_as_of_problem(unbuilt.warehouse_db, RUN_DAY).startswith(
        "the warehouse records no as-of date (no rows in tag_coverage or "
        "person_profile), not the run's day 2026-07-02"
    )
