"""Every materialization says how many rows it holds and the day it is of (issue 33), on the shared build:
the raw loads (one count per arrival day), the dbt models (counted once dbt has finished), the privacy
step, the models and analytics; and the demo's planted incomplete day is the only failed partition of its
source's raw tables (the range load of every day in one run, as the shared build makes it)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.defs.ingest.completeness import planted_demo_days
from orchestration.lib.asset_metadata import AS_OF_DATE, ROW_COUNT
from orchestration.lib.relations import relation
from tests.conftest import DEMO_END_DATE, temp_instance

pytestmark = pytest.mark.integration


def _metadata(result, key: list[str], partition: str = DEMO_END_DATE) -> dict:
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(key) and e.partition == partition
    ]
    assert len(events) == 1, key
    return events[0].materialization.metadata


def _count(built, model: str) -> int:
    con = duckdb.connect(str(built.layout.warehouse_db), read_only=True)
    try:
        return con.execute(f"select count(*) from {relation(model)}").fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("key", "model"),
    [
        (["marts", "person_profile"], "person_profile"),  # a table
        (["intermediate", "int_daily_login_activity"], "int_daily_login_activity"),  # incremental
        (["staging", "stg_trade__navs"], "stg_trade__navs"),  # a view
    ],
)
def test_a_dbt_model_records_its_row_count_and_the_build_as_of_date(built_warehouse, key, model):
    metadata = _metadata(built_warehouse.build_result, key)
    expected = _count(built_warehouse, model)
    assert expected > 0
    assert (metadata[ROW_COUNT].value, metadata[AS_OF_DATE].value) == (expected, DEMO_END_DATE)


def test_the_models_analytics_and_privacy_record_row_count_and_as_of_date(built_warehouse):
    build = built_warehouse.build_result
    tags_model = _metadata(build, ["marts", "tags_model"])
    assert tags_model[ROW_COUNT].value == tags_model["persons"].value == _count(built_warehouse, "persons")
    analytics = _metadata(build, ["analytics"])
    assert analytics[ROW_COUNT].value == sum(analytics["rows"].value.values())
    for key in (["marts", "tags_model"], ["analytics"], ["models", "churn_propensity"]):
        assert _metadata(build, key)[AS_OF_DATE].value == DEMO_END_DATE
    load = built_warehouse.load_result
    assert _metadata(load, ["archive", "identity_links"])[AS_OF_DATE].value == DEMO_END_DATE


def test_each_raw_day_records_the_rows_it_loaded_and_only_the_planted_day_failed(built_warehouse):
    layout = built_warehouse.layout
    planted = [(source, day) for source, day, _ in planted_demo_days(layout)]
    assert len(planted) == 1
    source, bad_day = planted[0]
    instance = temp_instance(layout.dagster_home)
    from orchestration.lib.partitions import days

    loaded_days = [day for day in layout.landing_days(source) if day <= DEMO_END_DATE]
    key = dg.AssetKey([source, "customers" if source == "crm" else "nav"])
    status = instance.get_status_by_partition(key, loaded_days, days)
    failed = sorted(day for day, value in status.items() if value == dg.AssetPartitionStatus.FAILED)
    assert failed == [bad_day]
    assert (
        sum(value == dg.AssetPartitionStatus.MATERIALIZED for value in status.values())
        == len(loaded_days) - 1
    )
    # a good day's count is the rows of that day's raw files
    good_day = next(day for day in loaded_days if day != bad_day)
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[good_day]), limit=1
    ).records[0]
    metadata = record.asset_materialization.metadata
    files = str(layout.raw_partition(key.path[0], key.path[1], good_day) / "*.parquet")
    con = duckdb.connect()
    try:
        [(rows,)] = con.execute("select count(*) from read_parquet(?)", [files]).fetchall()
    finally:
        con.close()
    assert (metadata[ROW_COUNT].value, metadata[AS_OF_DATE].value) == (rows, good_day)
