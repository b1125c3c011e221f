"""The delivery sensor's decisions (which days run, which wait and why), failpoints and transient errors."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from orchestration.lib.deliveries import SHANGHAI, DayDelivery, SensorState, decide
from orchestration.lib.failpoints import armed
from orchestration.lib.retries import is_transient_error

NOW = datetime(2026, 7, 5, 12, 0, tzinfo=SHANGHAI)
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
    assert decision.waiting["2026-07-02"] == ["nothing delivered for this day"]


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
    before = datetime(2026, 7, 5, 8, 59, tzinfo=SHANGHAI)
    assert decide([incomplete], SensorState(), before, 300, DEADLINE).overdue == []
    assert decide([incomplete], SensorState(), NOW, 300, DEADLINE).overdue == ["2026-07-04"]
    alerted = SensorState(alerted={"2026-07-04": "x"})
    assert decide([incomplete], alerted, NOW, 300, DEADLINE).overdue == []


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
