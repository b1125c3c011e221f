"""The delivery sensor's decisions (which days run, which wait and why), failpoints and transient errors."""

from __future__ import annotations

import functools
import os
from datetime import datetime, time

import pytest

from orchestration.defs.ingest.deliveries import DayDelivery, SensorState, decide, inspect_day
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import LoadError
from orchestration.lib.failpoints import armed
from orchestration.lib.layout import DataLayout
from orchestration.lib.retries import is_transient_error
from orchestration.lib.rules import JunkRules, load_business_rules, local_zone
from orchestration.lib.sources import TABLES_BY_KEY
from tests.foreign_data import write_source_day

NOW = datetime(2026, 7, 5, 12, 0, tzinfo=local_zone())
SETTLED = NOW.timestamp() - 3600
DEADLINE = time(9, 0)


def ready(day: str, fingerprint: str = "f") -> DayDelivery:
    return DayDelivery(day, f"{fingerprint}-{day}", SETTLED)


def test_new_complete_days_run_as_one_range_in_date_order():
    decision = decide([ready("2026-07-02"), ready("2026-07-01")], SensorState(), NOW, 300, DEADLINE)
    assert decision.run_days == ["2026-07-01", "2026-07-02"]
    assert decision.reason == "complete delivery: running 2026-07-01 .. 2026-07-02"


def test_days_already_launched_unchanged_do_not_run_again():
    state = SensorState(launched={"2026-07-01": "f-2026-07-01"})
    decision = decide([ready("2026-07-01"), ready("2026-07-02")], state, NOW, 300, DEADLINE)
    assert decision.run_days == ["2026-07-02"]
    assert decide([ready("2026-07-01")], state, NOW, 300, DEADLINE).run_days == []


def test_an_incomplete_day_waits_with_its_problems_and_holds_back_the_days_after_it():
    incomplete = DayDelivery("2026-07-02", "x", SETTLED, ["trade: trade_orders_20260702.csv not arrived"])
    deliveries = [ready("2026-07-01"), incomplete, ready("2026-07-03")]
    decision = decide(deliveries, SensorState(), NOW, 300, DEADLINE)
    assert decision.run_days == ["2026-07-01"]
    assert decision.waiting == {
        "2026-07-02": ["trade: trade_orders_20260702.csv not arrived"],
        "2026-07-03": ["waits for 2026-07-02 (days are built in date order)"],
    }


def test_a_day_missing_between_delivered_days_waits():
    decision = decide([ready("2026-07-01"), ready("2026-07-03")], SensorState(), NOW, 300, DEADLINE)
    assert decision.run_days == ["2026-07-01"]
    assert decision.waiting["2026-07-02"] == ["nothing delivered for this day (due: trade, crm, tracking)"]


def test_files_still_changing_wait_for_the_settle_period():
    fresh = DayDelivery("2026-07-01", "f", NOW.timestamp() - 60)
    decision = decide([fresh], SensorState(), NOW, 300, DEADLINE)
    assert decision.run_days == []
    assert decision.waiting == {"2026-07-01": ["files changed 60 s ago; settling"]}
    assert decide([fresh], SensorState(), NOW, 30, DEADLINE).run_days == ["2026-07-01"]


def test_a_corrected_redelivery_reruns_that_day_and_every_later_day():
    state = SensorState(launched={f"2026-07-0{n}": f"f-2026-07-0{n}" for n in (1, 2, 3)})
    deliveries = [ready("2026-07-01"), ready("2026-07-02", "corrected"), ready("2026-07-03")]
    decision = decide(deliveries, state, NOW, 300, DEADLINE)
    assert decision.run_days == ["2026-07-02", "2026-07-03"]
    assert decision.reason == "corrected re-delivery of 2026-07-02: re-running 2026-07-02 .. 2026-07-03"


def test_an_incomplete_day_is_overdue_after_its_deadline_once_per_version():
    incomplete = DayDelivery(
        "2026-07-04", "x", SETTLED, ["crm: control file _control_20260704.csv not arrived"]
    )
    before = datetime(2026, 7, 5, 8, 59, tzinfo=local_zone())
    assert decide([incomplete], SensorState(), before, 300, DEADLINE).overdue == []
    assert decide([incomplete], SensorState(), NOW, 300, DEADLINE).overdue == ["2026-07-04"]
    alerted = SensorState(alerted={"2026-07-04": "x"})
    assert decide([incomplete], alerted, NOW, 300, DEADLINE).overdue == []


# --- the delivery schedule (vars fundcdp.deliveries.schedule): a weekly CRM, no tracking ------------------

# 2026-06-29 is a Monday
WEEKLY_CRM_NO_TRACKING = DeliverySchedule.from_rules(
    {"deliveries": {"schedule": {"trade": "daily", "crm": ["mon"], "tracking": "none"}}}
)


def test_the_schedule_says_which_sources_are_due_on_which_day():
    assert WEEKLY_CRM_NO_TRACKING.due_sources("2026-06-29") == ["trade", "crm"]
    assert WEEKLY_CRM_NO_TRACKING.due_sources("2026-06-30") == ["trade"]
    assert [WEEKLY_CRM_NO_TRACKING.describe(s) for s in ("trade", "crm", "tracking")] == [
        "daily",
        "mon",
        "none",
    ]
    # not listed: daily (the project's default for all three)
    assert DeliverySchedule.from_rules({}).due_sources("2026-07-04") == ["trade", "crm", "tracking"]
    weekdays = DeliverySchedule.from_rules({"deliveries": {"schedule": {"trade": ["Fri", "mon", "thu"]}}})
    assert weekdays.describe("trade") == "mon, thu, fri"
    assert [weekdays.is_due("trade", f"2026-07-0{n}") for n in range(1, 7)] == [
        False, True, True, False, False, True
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"crm": "weekly"}, "crm: 'weekly' is not 'daily', 'none' or a non-empty list of weekdays"),
        ({"crm": []}, "crm: [] is not 'daily', 'none' or a non-empty list"),
        ({"crm": ["monday"]}, "crm: monday is no weekday; expected some of mon, tue"),
        ({"erp": "daily"}, "unknown source system(s) erp; expected trade, crm, tracking"),
    ],
)
def test_a_wrong_schedule_is_refused_naming_the_setting(schedule, message):
    with pytest.raises(ValueError, match=r"vars fundcdp\.deliveries\.schedule") as error:
        DeliverySchedule.from_rules({"deliveries": {"schedule": schedule}})
    assert message in str(error.value)


@pytest.fixture
def landing(tmp_path) -> DataLayout:
    """Trade on Mon 06-29 and Tue 06-30, CRM on Mon 06-29 only, no tracking ever; Wed 07-01 trade and a
    CRM folder delivered anyway (not due) without its control file."""
    layout = DataLayout.at(tmp_path / "data")
    for day in ("2026-06-29", "2026-06-30", "2026-07-01"):
        write_source_day(layout, "trade", day, {})
    write_source_day(layout, "crm", "2026-06-29", {})
    layout.landing_day("crm", "2026-07-01").mkdir(parents=True)
    for path in layout.landing.rglob("*"):
        os.utime(path, (SETTLED, SETTLED))  # delivered an hour before NOW: settled
    return layout


def test_a_day_is_complete_when_every_due_source_delivered(landing):
    schedule = WEEKLY_CRM_NO_TRACKING
    assert inspect_day(landing, "2026-06-29", {}, schedule=schedule).problems == []
    assert inspect_day(landing, "2026-06-30", {}, schedule=schedule).problems == []
    # a source delivered anyway is checked like a due one
    assert inspect_day(landing, "2026-07-01", {}, schedule=schedule).problems == [
        "crm: control file _control_20260701.csv not arrived"
    ]
    # every source daily (the default): the Tuesday misses CRM and tracking
    assert inspect_day(landing, "2026-06-30", {}).problems == [
        "crm: nothing delivered (due: daily)",
        "tracking: nothing delivered (due: daily)",
    ]
    # the next Monday without its CRM export
    write_source_day(landing, "trade", "2026-07-06", {})
    assert inspect_day(landing, "2026-07-06", {}, schedule=schedule).problems == [
        "crm: nothing delivered (due: mon)"
    ]


def test_sensor_runs_days_without_a_source_not_due_and_alerts_only_for_a_due_one(landing):
    schedule = WEEKLY_CRM_NO_TRACKING
    deliveries = [inspect_day(landing, day, {}, schedule=schedule) for day in ("2026-06-29", "2026-06-30")]
    decision = decide(deliveries, SensorState(), NOW, 300, DEADLINE, schedule)
    assert decision.run_days == ["2026-06-29", "2026-06-30"]
    assert (decision.waiting, decision.overdue) == ({}, [])
    # the same deliveries with every source daily: both days wait and are overdue
    daily = [inspect_day(landing, day, {}) for day in ("2026-06-29", "2026-06-30")]
    decision = decide(daily, SensorState(), NOW, 300, DEADLINE)
    assert decision.run_days == []
    assert decision.waiting == {
        "2026-06-29": ["tracking: nothing delivered (due: daily)"],
        "2026-06-30": ["crm: nothing delivered (due: daily)", "tracking: nothing delivered (due: daily)"],
    }
    assert decision.overdue == ["2026-06-29", "2026-06-30"]
    # a Monday without its CRM export waits, is overdue after its deadline, and holds back the Tuesday
    monday = DayDelivery("2026-07-06", "m", SETTLED, ["crm: nothing delivered (due: mon)"])
    later = datetime(2026, 7, 8, 12, 0, tzinfo=local_zone())
    decision = decide([monday, ready("2026-07-07")], SensorState(), later, 300, DEADLINE, schedule)
    assert (decision.run_days, decision.overdue) == ([], ["2026-07-06"])
    assert decision.waiting["2026-07-07"] == ["waits for 2026-07-06 (days are built in date order)"]


def test_a_day_with_no_source_due_and_nothing_delivered_runs_between_delivered_days():
    weekdays = DeliverySchedule.from_rules(
        {"deliveries": {"schedule": {"trade": ["mon", "tue", "wed", "thu", "fri"], "crm": ["mon"],
                                     "tracking": "none"}}}
    )  # fmt: skip
    # Friday 07-03 and Monday 07-06 delivered; the weekend has nothing due
    deliveries = [ready("2026-07-03"), ready("2026-07-06")]
    later = datetime(2026, 7, 8, 12, 0, tzinfo=local_zone())
    decision = decide(deliveries, SensorState(), later, 300, DEADLINE, weekdays)
    assert decision.run_days == ["2026-07-03", "2026-07-04", "2026-07-05", "2026-07-06"]
    assert (decision.waiting, decision.overdue) == ({}, [])
    # launched once, the weekend is not run again
    launched = SensorState(launched={day: "nothing-due" for day in ("2026-07-04", "2026-07-05")})
    launched.launched.update({d.day: d.fingerprint for d in deliveries})
    assert decide(deliveries, launched, later, 300, DEADLINE, weekdays).run_days == []
    # with trade daily the weekend waits: trade was due
    decision = decide(deliveries, SensorState(), later, 300, DEADLINE, WEEKLY_CRM_NO_TRACKING)
    assert decision.run_days == ["2026-07-03"]
    assert decision.waiting["2026-07-04"] == ["nothing delivered for this day (due: trade)"]


def test_a_load_of_a_source_not_due_and_not_delivered_loads_nothing_and_a_due_one_fails(landing):
    customers = TABLES_BY_KEY[("crm", "customers")]
    junk = JunkRules.from_rules(load_business_rules())
    load = functools.partial(land_table_day, landing, customers, "2026-06-30", b"key", junk, 0.05)
    outcome = load(due=False)
    assert (outcome.not_due, outcome.files, outcome.rows_loaded) == (True, [], 0)
    folder = landing.landing_day("crm", "2026-06-30")
    with pytest.raises(LoadError) as error:
        load(due=True)
    assert str(error.value) == (
        f"{folder}: no delivery for crm on 2026-06-30, which was due (vars fundcdp.deliveries.schedule)"
    )
    # delivered though not due: loaded as any delivery
    delivered = land_table_day(landing, customers, "2026-06-29", b"key", junk, 0.05, due=False)
    assert (delivered.not_due, [f.status for f in delivered.files]) == (False, ["loaded"])


def test_sensor_state_round_trips_through_the_cursor():
    state = SensorState({"2026-07-01": "a"}, {"2026-07-02": "b"}, {"/x": [1, 2, 3]})
    assert SensorState.from_cursor(state.to_cursor()) == state
    assert SensorState.from_cursor(None) == SensorState()


def test_failpoints_fire_only_for_their_name_and_reject_unknown_names(monkeypatch):
    monkeypatch.setenv("FUNDCDP_FAILPOINT", "dbt_build")
    assert armed("dbt_build") and not armed("analytics_swap")
    monkeypatch.setenv("FUNDCDP_FAILPOINT", "dbt-build")
    with pytest.raises(ValueError, match="not one of raw_partition_write, dbt_build, analytics_swap"):
        armed("dbt_build")
    monkeypatch.delenv("FUNDCDP_FAILPOINT")
    assert not armed("raw_partition_write")


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ('IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held', True),
        ("OSError: [Errno 11] Resource temporarily unavailable", True),
        ("Binder Error: Referenced column tag_value not found", False),
        ("quality gate gx_tag_coverage failed: 2 of 3 expectations", False),
    ],
)
def test_only_lock_and_io_hiccups_are_transient(message, transient):
    assert is_transient_error(message) is transient
