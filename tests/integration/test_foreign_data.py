"""Foreign data (issue 30): companies shaped unlike the demo, each run through the daily job end to end,
which must publish (analytics.duckdb written, every gate passed, every segment evaluated).

Two module-scoped builds (tests/foreign_data.py writes their deliveries), each one history import
(orchestration/runner.py import_history: the daily job for the last day, loading every day
delivered since the first):

* the history company: three years of daily trade deliveries, a CRM delivering on Mondays only, no
  tracking source at all, holiday weeks delivered empty and days with nothing delivered, 90 % churned;
  the run's day is a Sunday (an empty trade folder, no CRM folder, no tracking folder). A copy then loads
  the next Tuesday's trade-only delivery through the daily job's loads;
* the tracked company: one person whose 50,001 identifiers chain through 25,000 logins and phones (the
  persons gate quarantines that person, everyone else publishes) and a recycled phone number (a stranger
  signing up with customer A's former number after identity.phone_reassignment_days is not A); the run's
  day is the stranger's sign-up day.

Each trait has its own test; every expected value comes from what the generator wrote.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import duckdb
import pytest

from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.rules import business_rules_overridden, load_business_rules
from orchestration.lib.sources import ALL_TABLES
from tests.conftest import TEST_HASH_KEY, pipeline_environment, temp_instance
from tests.foreign_data import (
    CHURNED_EVERY,
    HISTORY_CUSTOMERS,
    HISTORY_NEXT_DAY,
    RECYCLED_CUSTOMER,
    STRANGER_LOGIN,
    HistoryCompany,
    TrackedCompany,
    history_company_rules,
    write_history_company,
    write_history_next_day,
    write_tracked_company,
)

pytestmark = pytest.mark.integration

SEGMENT_NAMES = sorted(path.stem for path in (PROJECT_ROOT / "segments").glob("*.yml"))
# tag_catalog.source_tables of these is tracking.events and nothing else (tests/integration/test_quality.py)
TRACKING_ONLY_TAGS = [
    "active_days_30d", "active_days_7d", "active_days_90d", "device_type", "has_churn_warning",
    "last_active_at", "main_platform", "most_visited_section", "preferred_event", "registration_channel",
    "sessions_30d",
]  # fmt: skip


class Manifest(NamedTuple):
    source: str
    table: str
    day: str
    lines_read: int
    rows_loaded: int
    rows_quarantined: int


@dataclass
class Build:
    """A company after its run of the daily job (a history import)."""

    layout: DataLayout
    run: object  # the run's ExecuteInProcessResult
    seconds: float

    def failures(self) -> dict[str, str]:
        """Each failed step of the run with what it said (a dbt failure: the end of dbt's error)."""
        failed = {}
        for event in self.run.all_events:
            if event.event_type_value != "STEP_FAILURE":
                continue
            data = event.event_specific_data
            detail = data.error.message.strip() if data.error else ""
            user = getattr(data, "user_failure_data", None)
            if user is not None and "error" in user.metadata:
                detail += ": " + str(user.metadata["error"].value)[-400:]
            failed[event.step_key] = detail
        return failed

    @cached_property
    def manifests(self) -> list[Manifest]:
        """Every load manifest row (one per delivered file), read once: a view over thousands of files."""
        return [
            Manifest(*row)
            for row in self.warehouse(
                "select source_system, table_name, cast(arrival_date as varchar), lines_read, rows_loaded,"
                " rows_quarantined from main_staging.stg_ingest__load_manifests"
            )
        ]

    def manifest_days(self, source: str) -> list[str]:
        return sorted({m.day for m in self.manifests if m.source == source})

    @property
    def checks(self) -> dict[str, bool]:
        """Every asset check of the daily run (gates and dbt tests) by name: passed or not."""
        return {e.check_name: e.passed for e in self.run.get_asset_check_evaluations()}

    def warehouse(self, sql: str, params: list | None = None) -> list[tuple]:
        return _query(self.layout.warehouse_db, sql, params)


def _query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def waive_missing(layout: DataLayout, first: str, last: str, rules: dict) -> None:
    """Waive the days from ``first`` to ``last`` on which a source due by ``rules`` delivered nothing."""
    from orchestration.defs.ingest.completeness import waive_missing_days
    from orchestration.defs.ingest.delivery_schedule import DeliverySchedule

    schedule = DeliverySchedule.from_rules(rules)
    waive_missing_days(layout, first, last, schedule, "the company delivered nothing that day", "test")


def build(layout: DataLayout, first: str, last: str, rules: dict | None = None) -> Build:
    """The daily job for ``last`` as a history import (orchestration/runner.py import_history):
    loading every day delivered since ``first``, then building, gating and publishing as of ``last``; with
    the company's business ``rules`` where given (else the project's)."""
    with pipeline_environment(layout), business_rules_overridden(rules or load_business_rules()):
        from orchestration.runner import import_history

        started = time.perf_counter()
        result = import_history(temp_instance(layout.dagster_home), first, last)
        outcome = Build(layout, result, time.perf_counter() - started)
    print(f"{layout.root}: the daily job importing {first} .. {last}: {outcome.seconds:.1f} s")
    return outcome


def system_hash(identifier_type: str, value: str) -> str:
    return hashlib.sha256(f"{identifier_type}:{value}".encode()).hexdigest()


def phone_hash(phone: str) -> str:
    return pii.keyed_hash(TEST_HASH_KEY.encode(), pii.normalise_phone(phone))


def person_of(outcome: Build, identifier_type: str, identifier_hash: str) -> str:
    rows = outcome.warehouse(
        "select person_id from main_marts.person_identifiers"
        " where identifier_type = ? and identifier_hash = ?",
        [identifier_type, identifier_hash],
    )
    assert len(rows) == 1, f"{identifier_type} {identifier_hash[:12]}: {len(rows)} persons"
    return rows[0][0]


def assert_published(outcome: Build, as_of: str) -> None:
    """The run succeeded, every gate passed, analytics.duckdb holds every person, every segment has a
    version as of ``as_of``."""
    assert outcome.failures() == {} and outcome.run.success
    failing = sorted(name for name, passed in outcome.checks.items() if not passed)
    assert failing == []
    gates = sorted(name for name in outcome.checks if name.startswith("gx_"))
    assert len(gates) == 10
    assert outcome.layout.analytics_db.exists()
    (persons,) = outcome.warehouse("select count(*) from main_marts.persons")[0]
    assert _query(outcome.layout.analytics_db, "select count(*) from persons") == [(persons,)]
    versions = _query(
        outcome.layout.segments_db,
        "select segment from segment_versions where as_of_date = cast(? as date) order by segment",
        [as_of],
    )
    assert [segment for (segment,) in versions] == SEGMENT_NAMES


# --- the history company ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[HistoryCompany, Build]:
    layout = DataLayout.at(tmp_path_factory.mktemp("foreign_history") / "data")
    layout.ensure()
    truth = write_history_company(layout)
    # the days its trade system delivered no folder: waived by the engineer importing the history, or the
    # completeness ledger holds publishing back (orchestration/defs/ingest/completeness.py)
    waive_missing(layout, truth.first_day, truth.last_day, history_company_rules())
    # one run: the daily job for the last day (a Sunday: an empty trade folder, no CRM, no tracking),
    # importing the three years before it
    return truth, build(layout, truth.first_day, truth.last_day, history_company_rules())


def test_daily_load_of_a_day_without_crm_or_tracking(history, tmp_path):
    """The next daily run's loads (the raw half of the daily job: pipeline.load_raw) on a Tuesday with a
    trade delivery only: the CRM delivers on Mondays, the company has no tracking (its
    deliveries.schedule: crm [mon], tracking none). Nothing due is missing, so nothing fails; the CRM and
    tracking tables load nothing, as "not due". (The rest of the daily job on this company's data is the
    history import's run.)"""
    truth, outcome = history
    # what the loads read: landing/, raw/ and the private store (not the warehouse and what is built on it)
    shutil.copytree(
        outcome.layout.root,
        tmp_path / "data",
        ignore=shutil.ignore_patterns(
            "dagster_home", "warehouse.duckdb*", "analytics.duckdb*", "segments.duckdb*", "quality.duckdb*",
            "dbt_target", "gx", "reports", "outbox",
        ),
    )  # fmt: skip
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    delivered = write_history_next_day(layout)
    day = HISTORY_NEXT_DAY.isoformat()
    with pipeline_environment(layout), business_rules_overridden(history_company_rules()):
        from orchestration.runner import load_raw

        result = load_raw(temp_instance(layout.dagster_home), [day])
    failed = sorted(e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (failed, result.success) == ([], True)
    not_due = {
        "/".join(event.asset_key.path): event.materialization.metadata["days_not_due"].value
        for event in result.get_asset_materialization_events()
        if "days_not_due" in event.materialization.metadata
    }
    # the CRM and tracking tables: "not due" that day; the trade tables loaded
    assert not_due == {
        f"{spec.source}/{spec.name}": [day] if spec.source in ("crm", "tracking") else []
        for spec in ALL_TABLES
    }
    # the day's load manifests: one row per delivered file, none for the sources not delivered
    manifests = duckdb.execute(
        "select source || '.' || table_name, rows_loaded from read_parquet(?)",
        [str(layout.raw / "ingest" / "load_manifest" / f"arrival_date={day}" / "*.parquet")],
    ).fetchall()
    manifests = dict(manifests)
    empty = dict.fromkeys(["trade.fund_accounts", "trade.holdings", "trade.sip_agreements"], 0)
    assert manifests == {**empty, **{f"trade.{table}": rows for table, rows in delivered.items()}}


def test_history_company_publishes(history):
    truth, outcome = history
    assert outcome.failures() == {}
    assert_published(outcome, truth.last_day)
    assert outcome.warehouse("select count(*) from main_marts.persons") == [(HISTORY_CUSTOMERS,)]


def test_three_years_of_daily_deliveries_are_loaded(history):
    truth, outcome = history
    assert outcome.failures() == {}
    assert len(truth.trade_days) == 1092 and truth.first_day == "2023-06-30"
    assert outcome.manifest_days("trade") == truth.trade_days
    orders = outcome.warehouse("select count(*), sum(amount_cny) from main_staging.stg_trade__trade_orders")
    assert orders == [(truth.orders, pytest.approx(truth.order_amount_total))]
    # rows read = loaded + quarantined for every file, and nothing quarantined in this clean history
    assert [m for m in outcome.manifests if m.lines_read != m.rows_loaded + m.rows_quarantined] == []
    assert sum(m.rows_quarantined for m in outcome.manifests) == 0
    loaded: Counter[str] = Counter()
    for m in outcome.manifests:
        loaded[f"{m.source}.{m.table}"] += m.rows_loaded
    assert {table: rows for table, rows in loaded.items() if rows} == truth.rows_by_table


def test_company_without_tracking_publishes_without_tracking_tags(history):
    truth, outcome = history
    assert outcome.failures() == {}
    assert outcome.checks["gx_tag_coverage"]
    assert outcome.manifest_days("tracking") == []
    assert not (outcome.layout.landing / "tracking").exists()
    coverage = dict(outcome.warehouse("select tag_code, persons_with_value from main_marts.tag_coverage"))
    assert {tag: coverage[tag] for tag in ["main_platform", "device_type", "last_active_at"]} == {
        "main_platform": 0,
        "device_type": 0,
        "last_active_at": 0,
    }
    assert set(TRACKING_ONLY_TAGS) <= set(coverage)


def test_weekly_crm_passes_on_a_day_without_crm(history):
    truth, outcome = history
    assert outcome.failures() == {}
    assert len(truth.crm_days) == 156
    assert {date.fromisoformat(day).isoweekday() for day in truth.crm_days} == {1}
    assert outcome.manifest_days("crm") == truth.crm_days
    assert truth.last_day not in truth.crm_days
    assert outcome.checks["gx_stg_crm__customers"]
    # every customer's CRM attributes arrived through the weekly deliveries
    assert outcome.warehouse("select count(*) from main_marts.person_profile where gender is not null") == [
        (HISTORY_CUSTOMERS,)
    ]


def test_days_with_nothing_delivered(history):
    truth, outcome = history
    assert outcome.failures() == {}
    # Spring Festival weeks and the as-of Sunday: every trade file header-only
    assert len(truth.empty_trade_days) == 22 and truth.last_day in truth.empty_trade_days
    empty = {day: [] for day in truth.empty_trade_days}
    for m in outcome.manifests:
        if m.day in empty and m.source == "trade":
            empty[m.day].append((m.source, m.lines_read, m.rows_loaded))
    # six trade files of no line each
    assert {day: sorted(files) for day, files in empty.items()} == {
        day: [("trade", 0, 0)] * 6 for day in truth.empty_trade_days
    }
    # no folder at all on these days: nothing loaded, nothing failed
    assert [m for m in outcome.manifests if m.day in truth.missing_days] == []
    assert outcome.checks["gx_freshness_and_volume"]


def test_every_board_runs_and_the_report_names_the_waived_days(history):
    """The dashboards on three years, no tracking source and waived days: every panel's query runs (a
    tracking-only panel is empty, not broken), the report has no failed panel, and the data health board
    shows each day without a trade delivery as waived, not as loaded."""
    from orchestration.defs.publish.boards import board_connection, load_boards, run_panel

    truth, outcome = history
    layout = outcome.layout
    con = board_connection(layout.analytics_db)
    try:
        results = {
            (found.board.id, panel.id): run_panel(con, panel)
            for found in load_boards()[0]
            for panel in found.board.panels
        }
        trade = con.execute(
            "select cast(day as varchar), status from source_deliveries where source = 'trade' order by day"
        ).fetchall()
    finally:
        con.close()
    assert {key: data.error for key, data in results.items() if data.error} == {}
    assert results[("rfm", "grid")].rows and results[("data_health", "deliveries")].rows
    # the ledger's days (from the first partition day to the as-of date): each day the trade system
    # delivered no folder is waived, every other day loaded
    first = trade[0][0]
    span = (date.fromisoformat(truth.last_day) - date.fromisoformat(first)).days + 1
    missing = sorted(day for day in truth.missing_days if day >= first)
    assert len(trade) == span and missing
    assert [day for day, status in trade if status == "waived"] == missing
    assert {status for day, status in trade if day not in missing} == {"loaded"}
    report = (layout.reports / "latest.html").read_text(encoding="utf-8")
    assert 'class="error"' not in report and "Data health" in report


def test_ninety_percent_churned(history):
    truth, outcome = history
    assert outcome.failures() == {}
    stages = dict(
        outcome.warehouse(
            "select customers.customer_no, profile.lifecycle_stage"
            " from main_marts.person_profile as profile"
            " inner join main_intermediate.int_person_primary_customers as customers using (person_id)"
        )
    )
    assert stages == truth.lifecycle
    assert truth.churned_customers == HISTORY_CUSTOMERS - HISTORY_CUSTOMERS // CHURNED_EVERY == 270
    counts = dict(
        outcome.warehouse("select lifecycle_stage, count(*) from main_marts.person_profile group by 1")
    )
    assert counts == {"churned": 270, "mature": 30}
    assert outcome.checks["gx_person_profile"]


# --- the tracked company ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> tuple[TrackedCompany, Build]:
    layout = DataLayout.at(tmp_path_factory.mktemp("foreign_tracked") / "data")
    layout.ensure()
    reassignment_days = int(load_business_rules()["identity"]["phone_reassignment_days"])
    truth = write_tracked_company(layout, reassignment_days)
    waive_missing(layout, truth.delivery_days[0], truth.as_of, load_business_rules())  # the weeks between
    # one run: the daily job for the stranger's sign-up day, importing every delivery since the first
    return truth, build(layout, truth.delivery_days[0], truth.as_of)


def test_tracked_company_publishes(tracked):
    truth, outcome = tracked
    assert outcome.failures() == {}
    assert_published(outcome, truth.as_of)
    # 30 customers, the chain and the stranger
    assert outcome.warehouse("select count(*) from main_marts.persons") == [(truth.customers + 2,)]


def test_chain_person_is_quarantined_and_everyone_else_published(tracked):
    truth, outcome = tracked
    assert outcome.failures() == {}
    chain = person_of(outcome, "login_id", system_hash("login_id", "L00000"))
    assert person_of(outcome, "login_id", system_hash("login_id", f"L{truth.chain_logins - 1:05d}")) == chain
    assert outcome.warehouse(
        "select person_id, quarantine_reason, identifier_count from main_marts.person_quarantine"
    ) == [(chain, "oversized_identity", truth.chain_identifiers)]
    assert truth.chain_identifiers == 50_001
    assert outcome.checks["gx_persons"]
    # left out of every segment; every other person is published
    members = {p for (p,) in _query(outcome.layout.segments_db, "select person_id from segment_members")}
    assert chain not in members
    assert _query(outcome.layout.analytics_db, "select count(*) from person_quarantine") == [(1,)]
    (others,) = outcome.warehouse("select count(*) from main_marts.persons where person_id <> ?", [chain])[0]
    assert others == truth.customers + 1


def test_recycled_phone_does_not_merge_a_stranger_into_its_former_holder(tracked):
    truth, outcome = tracked
    assert outcome.failures() == {}
    former_holder = person_of(outcome, "customer_no", system_hash("customer_no", RECYCLED_CUSTOMER))
    stranger = person_of(outcome, "login_id", system_hash("login_id", STRANGER_LOGIN))
    assert stranger != former_holder
    # A keeps its login and its new number
    assert person_of(outcome, "login_id", system_hash("login_id", "U000001")) == former_holder
    assert person_of(outcome, "phone", phone_hash(truth.new_phone)) == former_holder
    assert (
        date.fromisoformat(truth.stranger_signs_up_on) - date.fromisoformat(truth.phone_moved_on)
    ).days > truth.reassignment_days
