"""The freshness gate counts trading days for the trade system and calendar days for tracking.

Each case is a tiny purpose-made warehouse (only the three staging relations the metric query reads) with
the latest trade and the latest tracking event on chosen days, run through the committed metric query
and suite with the project's rules (the 2026 exchange closures) or rules changed for the case."""

from __future__ import annotations

import copy
from datetime import date

import duckdb
import pandas as pd
import pytest

from orchestration.defs.quality.gx_runner import validate_frame
from orchestration.defs.quality.suites import (
    discover_suites,
    metric_frame,
    metric_parameters,
    non_trading_days,
)
from orchestration.lib.rules import load_business_rules

SUITE = {suite.name: suite for suite in discover_suites()}["freshness_and_volume"]
TRADE = "trade.trade_orders"
TRACKING = "tracking.events"


def build_warehouse(path, last_trade: str, last_event: str, as_of: str) -> None:
    """Trades confirmed up to ``last_trade``, events up to ``last_event``; on the as-of date the trade
    system delivers header-only files (0 rows) and a trade dated after the as-of date is already in a
    later delivery (never evidence of fresh data)."""
    con = duckdb.connect(str(path))
    con.execute("create schema main_staging")
    con.execute(
        "create table main_staging.stg_trade__trade_orders as"
        " select cast(order_date as date) as order_date, cast(confirm_date as date) as confirm_date,"
        " cast(arrival_date as date) as arrival_date from (values"
        # confirmed the next day; the latest one placed and confirmed on last_trade; one still pending
        " (date '2026-01-05', date '2026-01-06', date '2026-01-06'),"
        " (cast($last_trade as date) - 1, cast($last_trade as date), cast($last_trade as date)),"
        " (cast($last_trade as date) - 3, null, cast($last_trade as date) - 3),"
        " (cast($as_of as date) + 1, cast($as_of as date) + 2, cast($as_of as date) + 2)"
        ") as orders (order_date, confirm_date, arrival_date)",
        {"last_trade": last_trade, "as_of": as_of},
    )
    con.execute(
        "create table main_staging.stg_tracking__events as"
        " select cast(event_date as date) as event_date, cast(arrival_date as date) as arrival_date"
        " from (values (cast($last_event as date), cast($last_event as date)),"
        " (cast($as_of as date) + 1, cast($as_of as date) + 1)) as events (event_date, arrival_date)",
        {"last_event": last_event, "as_of": as_of},
    )
    con.execute(
        "create table main_staging.stg_ingest__load_manifests as"
        " select source_system, table_name, 'loaded' as load_status,"
        " cast(arrival_date as date) as arrival_date,"
        " cast(rows_loaded as bigint) as rows_loaded from (values"
        " ('trade', 'trade_orders', date '2026-01-06', 40),"
        " ('trade', 'trade_orders', cast($last_trade as date), 12),"
        " ('trade', 'trade_orders', cast($as_of as date), 0),"
        " ('tracking', 'events', date '2026-01-06', 900),"
        " ('tracking', 'events', cast($last_event as date), 300)"
        ") as manifests (source_system, table_name, arrival_date, rows_loaded)",
        {"last_trade": last_trade, "last_event": last_event, "as_of": as_of},
    )
    con.close()


def rules_with_closures(closures: list[str]) -> dict:
    rules = copy.deepcopy(load_business_rules())
    rules["quality"]["freshness_and_volume"]["non_trading_days"] = closures
    return rules


def judge(tmp_path, last_trade: str, as_of: str, last_event: str | None = None, rules: dict | None = None):
    """(metric frame indexed by source table, {failing column: unexpected count}) for the case."""
    last_event = last_event or as_of
    path = tmp_path / f"warehouse-{last_trade}-{last_event}-{as_of}.duckdb"
    if not path.exists():  # the same case judged under other rules
        build_warehouse(path, last_trade, last_event, as_of)
    frame = metric_frame(path, SUITE, as_of, rules)
    outcome = validate_frame(SUITE.path, frame, parameters=rules)
    failing = {item.column: item.unexpected_count for item in outcome.expectations if not item.success}
    assert outcome.success == (not failing)
    return frame.set_index("source_table"), failing


def freshness(frame) -> dict[str, tuple]:
    """source table -> (latest record date, calendar days, trading days); None where not judged."""
    return {
        table: (
            row.latest_record_date.date().isoformat(),
            None if pd.isna(row.days_since_latest_record) else int(row.days_since_latest_record),
            None
            if pd.isna(row.trading_days_since_latest_record)
            else int(row.trading_days_since_latest_record),
        )
        for table, row in frame.iterrows()
    }


def test_the_day_after_the_spring_festival_closure_passes(tmp_path):
    # The 2026 Spring Festival holiday runs Sun 15 - Mon 23 Feb (9 days); Sat 14 Feb is a make-up
    # working day on which the exchanges stay closed, so Fri 13 Feb is the last trade before it. On Tue
    # 24 Feb the trade feed has been silent for 11 calendar days, yet 1 trading day (the 24th itself).
    # The app was used throughout the holiday: tracking is judged in calendar days.
    frame, failing = judge(tmp_path, last_trade="2026-02-13", as_of="2026-02-24", last_event="2026-02-23")
    assert freshness(frame) == {TRACKING: ("2026-02-23", 1, None), TRADE: ("2026-02-13", None, 1)}
    assert failing == {}
    # on the holiday's last day nothing has been missed yet
    frame, failing = judge(tmp_path, last_trade="2026-02-13", as_of="2026-02-23")
    assert freshness(frame)[TRADE] == ("2026-02-13", None, 0)
    assert failing == {}


def test_silence_after_the_closure_still_fails(tmp_path):
    # Tue 24, Wed 25, Thu 26 Feb: three trading days without a trade after the holiday
    frame, failing = judge(tmp_path, last_trade="2026-02-13", as_of="2026-02-26")
    assert freshness(frame)[TRADE] == ("2026-02-13", None, 3)
    assert failing == {"trading_days_since_latest_record": 1}


def test_the_same_silence_on_ordinary_weekdays_fails(tmp_path):
    # Fri 13 Mar to Tue 24 Mar: the same 11 calendar days, 7 of them trading days
    frame, failing = judge(tmp_path, last_trade="2026-03-13", as_of="2026-03-24")
    assert freshness(frame)[TRADE] == ("2026-03-13", None, 7)
    assert failing == {"trading_days_since_latest_record": 1}
    # and the Spring Festival silence fails too when no closures are configured
    frame, failing = judge(
        tmp_path, last_trade="2026-02-13", as_of="2026-02-24", rules=rules_with_closures([])
    )
    assert freshness(frame)[TRADE] == ("2026-02-13", None, 7)
    assert failing == {"trading_days_since_latest_record": 1}


def test_weekend_passes_and_the_limit_is_two_trading_days(tmp_path):
    cases = {
        "2026-03-08": 0,  # Sunday after a Friday trade
        "2026-03-09": 1,  # Monday, its trades not in yet
        "2026-03-10": 2,  # Tuesday: at the limit
        "2026-03-11": 3,  # Wednesday: beyond it
    }
    judged = {}
    for as_of in cases:
        frame, failing = judge(tmp_path, last_trade="2026-03-06", as_of=as_of)
        judged[as_of] = (freshness(frame)[TRADE][2], failing)
    assert judged == {
        "2026-03-08": (0, {}),
        "2026-03-09": (1, {}),
        "2026-03-10": (2, {}),
        "2026-03-11": (3, {"trading_days_since_latest_record": 1}),
    }


def test_a_trade_on_the_as_of_date_is_zero_days(tmp_path):
    frame, failing = judge(tmp_path, last_trade="2026-05-06", as_of="2026-05-06")
    assert freshness(frame) == {TRACKING: ("2026-05-06", 0, None), TRADE: ("2026-05-06", None, 0)}
    assert failing == {}


def test_tracking_silent_over_the_holiday_fails_in_calendar_days(tmp_path):
    # Labour Day 1-5 May 2026: no trading, but an app silent for the whole holiday is a broken feed
    frame, failing = judge(tmp_path, last_trade="2026-04-30", as_of="2026-05-05", last_event="2026-04-30")
    assert freshness(frame) == {TRACKING: ("2026-04-30", 5, None), TRADE: ("2026-04-30", None, 0)}
    assert failing == {"days_since_latest_record": 1}


def test_a_closure_beyond_the_list_counts_until_the_company_adds_it(tmp_path):
    # Thu 31 Dec 2026 -> Tue 5 Jan 2027 with New Year's Day (Fri 1 Jan 2027) not yet in the list: the
    # 1st, 4th and 5th count; listed by the company, the 4th and 5th only
    frame, failing = judge(tmp_path, last_trade="2026-12-31", as_of="2027-01-05")
    assert (freshness(frame)[TRADE][2], failing) == (3, {"trading_days_since_latest_record": 1})
    extended = load_business_rules()["quality"]["freshness_and_volume"]["non_trading_days"] + ["2027-01-01"]
    frame, failing = judge(
        tmp_path, last_trade="2026-12-31", as_of="2027-01-05", rules=rules_with_closures(extended)
    )
    assert (freshness(frame)[TRADE][2], failing) == (2, {})


def test_the_default_closures_are_the_2026_exchange_holidays_on_weekdays():
    closures = metric_parameters()["quality_non_trading_days"]
    assert [day.isoformat() for day in closures] == [
        "2026-01-01", "2026-01-02",
        "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
        "2026-04-06",
        "2026-05-01", "2026-05-04", "2026-05-05",
        "2026-06-19",
        "2026-09-25",
        "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",
    ]  # fmt: skip
    # the list reaches SQL as a bound parameter: the query text names none of its dates
    assert "2026-" not in SUITE.metric_query.read_text()


def test_closures_accept_yaml_dates_sort_and_deduplicate():
    assert non_trading_days([date(2026, 10, 2), "2026-10-01", "2026-10-02"]) == [
        date(2026, 10, 1),
        date(2026, 10, 2),
    ]
    assert non_trading_days([]) == []
    assert non_trading_days(None) == []


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ("2026-10-01", " must be a list of YYYY-MM-DD dates, not '2026-10-01'"),
        (["2026-10-01", "2026-02-30"], ": entry 2 is not a YYYY-MM-DD date: '2026-02-30'"),
        (["2026/10/01"], ": entry 1 is not a YYYY-MM-DD date: '2026/10/01'"),
        (["20261001"], ": entry 1 is not a YYYY-MM-DD date: '20261001'"),
        ([20261001], ": entry 1 is not a YYYY-MM-DD date: 20261001"),
        (["2026-10-01' or true --"], ': entry 1 is not a YYYY-MM-DD date: "2026-10-01\' or true --"'),
    ],
)
def test_a_malformed_closure_is_a_located_error(configured, message):
    with pytest.raises(ValueError) as raised:
        metric_parameters(rules_with_closures(configured))
    assert str(raised.value) == f"vars: fundcdp: quality: freshness_and_volume: non_trading_days{message}"
