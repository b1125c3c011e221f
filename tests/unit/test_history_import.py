"""History import, pure parts: the partitions' days follow the deliveries (or the settings), the sensor's
and schedule's run request for a day past the partitions, the batched CSV parse equal to file-by-file."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg
import pytest

from orchestration.defs.automation.jobs import run_request_for
from orchestration.defs.ingest.loader import parse_csv_files, parse_file, read_file
from orchestration.lib.layout import DataLayout
from orchestration.lib.partition_calendar import PartitionBounds, partition_bounds
from orchestration.lib.partitions import (
    HISTORY_FROM_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    daily_partitions,
    import_days_of_run,
)
from orchestration.lib.rules import local_zone
from orchestration.lib.sources import ALL_TABLES

CALENDAR = {
    "first_partition_date": "auto",
    "first_partition_date_fallback": "2026-01-01",
    "last_partition_date": "latest",
}
TRADE_ORDERS = next(spec for spec in ALL_TABLES if spec.name == "trade_orders")


@pytest.fixture
def layout(tmp_path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    # Deliveries shaped unlike the demo: 2023, sources on different days, a gap.
    for source, day in [("trade", "2023-03-05"), ("crm", "2023-03-02"), ("trade", "2023-03-09")]:
        layout.landing_day(source, day).mkdir(parents=True)
    return layout


def test_auto_first_day_is_the_earliest_delivery_of_any_source_and_the_last_the_latest(layout):
    assert partition_bounds(layout, CALENDAR, environ={}) == PartitionBounds(
        date(2023, 3, 2), date(2023, 3, 9)
    )


def test_a_load_manifest_day_counts_as_delivered_when_its_landing_folder_is_gone(layout):
    (layout.raw / "ingest" / "load_manifest" / "arrival_date=2023-02-27").mkdir(parents=True)
    assert partition_bounds(layout, CALENDAR, environ={}).first_day == date(2023, 2, 27)


def test_the_environment_overrides_the_project_and_the_fallback_applies_to_an_empty_landing(tmp_path, layout):
    environ = {"FUNDCDP_FIRST_DAY": "2022-12-31", "FUNDCDP_LAST_DAY": "2023-03-31"}
    assert partition_bounds(layout, CALENDAR, environ) == PartitionBounds(
        date(2022, 12, 31), date(2023, 3, 31)
    )
    assert partition_bounds(layout, CALENDAR, {"FUNDCDP_LAST_DAY": "today"}).last_day is None
    fixed = {**CALENDAR, "first_partition_date": "2023-03-04"}
    assert partition_bounds(layout, fixed, environ={}).first_day == date(2023, 3, 4)
    empty = DataLayout.at(tmp_path / "empty")
    # Nothing delivered yet: the fallback first day, partitions up to the wall clock.
    assert partition_bounds(empty, CALENDAR, environ={}) == PartitionBounds(date(2026, 1, 1), None)


def test_a_setting_that_is_not_a_date_is_named(layout):
    with pytest.raises(ValueError, match="FUNDCDP_FIRST_DAY='2023/03/01' is not a date in YYYY-MM-DD form"):
        partition_bounds(layout, CALENDAR, {"FUNDCDP_FIRST_DAY": "2023/03/01"})
    bad_rule = {**CALENDAR, "last_partition_date": "end of March"}
    with pytest.raises(ValueError, match="vars fundcdp.calendar.last_partition_date='end of March'"):
        partition_bounds(layout, bad_rule, environ={})


def test_deliveries_all_before_a_fixed_first_day_leave_one_partition(layout):
    bounds = partition_bounds(layout, {**CALENDAR, "first_partition_date": "2023-06-01"}, environ={})
    assert bounds == PartitionBounds(date(2023, 6, 1), date(2023, 6, 1))


def test_the_partitions_run_from_the_first_to_the_last_delivery_day_inclusive(layout):
    days = daily_partitions(partition_bounds(layout, CALENDAR, environ={}))
    keys = days.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2023-03-02", "2023-03-09", 8)
    assert not days.has_partition_key("2023-03-10")


def test_a_day_past_the_partitions_is_requested_by_range_tags_a_known_day_by_its_key():
    # The test process's partitions run from 2026-01-01 to yesterday (tests/conftest.py).
    future = (datetime.now(local_zone()).date() + timedelta(days=3)).isoformat()
    new = run_request_for([future], {future: "f1"}, "complete delivery")
    assert new.partition_key is None
    assert (new.tags[RANGE_START_TAG], new.tags[RANGE_END_TAG]) == (future, future)
    known = run_request_for(["2026-07-03"], {"2026-07-03": "f2"}, "complete delivery")
    assert known.partition_key == "2026-07-03" and RANGE_START_TAG not in known.tags


def test_an_import_run_covers_the_delivered_days_of_its_source_from_the_tag_to_its_day(layout):
    tags = {PARTITION_TAG: "2023-03-09", HISTORY_FROM_TAG: "2023-03-01"}
    assert import_days_of_run(tags, layout, "trade") == ["2023-03-05", "2023-03-09"]
    assert import_days_of_run(tags, layout, "crm") == ["2023-03-02"]
    assert import_days_of_run({PARTITION_TAG: "2023-03-09"}, layout, "trade") == []
    with pytest.raises(dg.Failure, match="fundcdp/history_from=2023-03-10 is after the run's day 2023-03-09"):
        import_days_of_run({**tags, HISTORY_FROM_TAG: "2023-03-10"}, layout, "trade")
    # forms fromisoformat also takes would select no day (compared as text): refused, not an empty import
    for form in ("20230301", "2023-W09-3"):
        with pytest.raises(dg.Failure, match=f"fundcdp/history_from='{form}' is not a date in YYYY-MM-DD"):
            import_days_of_run({**tags, HISTORY_FROM_TAG: form}, layout, "trade")


ORDER = (
    "{n},A1,000001,purchase,2023-03-0{d} 10:00:00,2023-03-0{d},confirmed,{amount},100.0000,1.0000,0.00,,,app"
)


def test_many_files_typed_together_give_each_file_what_parsing_it_alone_gives(tmp_path):
    header = ",".join(TRADE_ORDERS.column_names)
    files = {
        "trade_orders_20230301.csv": [ORDER.format(n="O1", d=1, amount="10.00")],
        "trade_orders_20230302.csv": [],  # a quiet day: header only
        "trade_orders_20230303.csv": [
            ORDER.format(n="O2", d=3, amount="abc"),  # bad_number
            ORDER.format(n="O3", d=3, amount="30.00"),
            'O4,"A1,000001',  # unterminated quote
            ORDER.format(n="", d=3, amount="5.00"),  # missing_key
            ORDER.format(n="O5", d=3, amount="50.00") + ",extra",  # wrong_column_count
            ORDER.format(n="O6", d=3, amount="60.00"),
        ],
    }
    contents = []
    for name, lines in files.items():
        path = tmp_path / name
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        contents.append(read_file(path, TRADE_ORDERS))
    together = parse_csv_files(contents, TRADE_ORDERS)
    alone = [parse_file(content, TRADE_ORDERS, content.path.name) for content in contents]
    for batched, single in zip(together, alone, strict=True):
        assert batched.rows.equals(single.rows)
        assert batched.quarantine.equals(single.quarantine)
    third = together[2]
    assert third.rows.column("order_id").to_pylist() == ["O3", "O6"]
    assert third.quarantine.select(["line_number", "reason"]).to_pylist() == [
        {"line_number": 2, "reason": "bad_number"},
        {"line_number": 4, "reason": "unterminated_quote"},
        {"line_number": 5, "reason": "missing_key"},
        {"line_number": 6, "reason": "wrong_column_count"},
    ]
    assert [(p.lines_read, p.rows_loaded, p.rows_quarantined) for p in together] == [
        (1, 1, 0),
        (0, 0, 0),
        (6, 2, 4),
    ]


def test_the_bench_report_shows_the_history_import_ratio_against_its_target(tmp_path):
    import json
    import sys

    from orchestration.lib.paths import PROJECT_ROOT

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    import report

    def variant(seconds: float, ingest: float, dbt: float, success: bool = True) -> dict:
        return {"seconds": seconds, "success": success, "stages_seconds": {"ingest": ingest, "dbt": dbt}}

    result = {
        "customers": 23000,
        "orders": 200000,
        "variants": {"daily": variant(90.0, 30.0, 40.0), "one_delivery": variant(60.0, 5.0, 40.0, False)},
    }
    (tmp_path / "2026-12-07-history-546d.json").write_text(json.dumps(result))
    found = report.load_results(tmp_path)
    assert report.history_table(found["history"])[2] == (
        "| 546 | 23,000 | 200,000 | 2026-12-07 | 90.0 (30.0 / 40.0) | 60.0 (5.0 / 40.0, failed) | 1.50 "
        "| ratio: met |"
    )
