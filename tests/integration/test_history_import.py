"""History import through Dagster: one run of the last day (tag fundcdp/history_from) loads every delivered
day, with a manifest row per file and every line loaded or quarantined, and leaves raw/ exactly as loading
the days one by one does; in a fresh process the partitions follow the deliveries."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.ingest.assets import raw_assets
from orchestration.defs.ingest.land import ingest_limits, land_table_day, private_store_session
from orchestration.defs.privacy.assets import privacy
from orchestration.lib.layout import DataLayout
from orchestration.lib.partitions import HISTORY_FROM_TAG
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.settings import FundcdpSettings
from orchestration.lib.sources import ALL_TABLES
from tests.conftest import TEST_HASH_KEY, temp_instance

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

from history_data import history_rows, write_day  # noqa: E402

FIRST = date(2026, 3, 1)
QUIET_DAY = "2026-03-03"  # nothing delivered by any source
BAD_DAY = "2026-03-04"  # one order with an amount that is not a number


def deliver_history(layout: DataLayout) -> list[str]:
    """Five days of a one-fund company (12 customers, 20 orders), one day without any delivery, one bad
    order line (counted in the control file, so the day reconciles)."""
    by_day = history_rows(FIRST, days=5, customers=12, orders=20)
    by_day[BAD_DAY]["trade_orders"][0]["amount"] = "12.5O"
    delivered = []
    for day, rows in by_day.items():
        if day != QUIET_DAY:
            write_day(layout, day, rows)
            delivered.append(day)
    return delivered


def rows_of(layout: DataLayout, pattern: str, drop: tuple[str, ...] = ()) -> list[tuple]:
    relation = duckdb.sql(
        "select * from read_parquet(?, hive_partitioning = true, union_by_name = true)",
        params=[str(layout.raw / pattern)],
    )
    columns = [name for name in relation.columns if name not in drop]
    return sorted(relation.select(*columns).fetchall(), key=repr)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[DataLayout, DataLayout, dg.ExecuteInProcessResult, list[str]]:
    root = tmp_path_factory.mktemp("history")
    by_import, by_day = DataLayout.at(root / "import"), DataLayout.at(root / "daily")
    for layout in (by_import, by_day):
        layout.ensure()
        delivered = deliver_history(layout)
    (root / "dagster_home").mkdir()
    instance = temp_instance(root / "dagster_home")
    result = dg.materialize(
        [privacy, *raw_assets],
        instance=instance,
        resources={"settings": FundcdpSettings(data_dir=str(by_import.root), hash_key=TEST_HASH_KEY)},
        partition_key=delivered[-1],
        tags={HISTORY_FROM_TAG: delivered[0]},
        raise_on_error=False,
    )
    # The reference: each day loaded on its own, as a daily run does.
    rules = load_business_rules()
    with private_store_session(by_day.private_db):
        for day in delivered:
            for spec in ALL_TABLES:
                land_table_day(
                    by_day,
                    spec,
                    day,
                    TEST_HASH_KEY.encode(),
                    JunkRules.from_rules(rules),
                    **ingest_limits(rules),
                )
    return by_import, by_day, result, delivered


def test_one_run_of_the_last_day_loads_every_delivered_day_with_one_materialization_per_table(imported):
    layout, _, result, delivered = imported
    assert result.success
    assert delivered == ["2026-03-01", "2026-03-02", "2026-03-04", "2026-03-05"]
    materializations = result.get_asset_materialization_events()
    raw = [event for event in materializations if event.asset_key.path[0] in ("trade", "crm", "tracking")]
    assert len(raw) == len(ALL_TABLES) == 10
    assert {event.partition for event in raw} == {"2026-03-05"}
    orders = next(event for event in raw if event.asset_key.path == ["trade", "trade_orders"])
    metadata = orders.materialization.metadata
    # 4 orders a day over the 4 delivered days, one of them quarantined
    loaded = (metadata["days"].value, metadata["rows_loaded"].value, metadata["rows_quarantined"].value)
    assert loaded == (4, 15, 1)


def test_every_file_has_its_manifest_row_with_lines_read_equal_loaded_plus_quarantined(imported):
    layout, _, _, delivered = imported
    manifest = duckdb.sql(
        "select table_name, cast(arrival_date as varchar), lines_read, rows_loaded, rows_quarantined, status "
        "from read_parquet(?, hive_partitioning = true) where table_name in ('trade_orders', 'customers') "
        "order by 1, 2",
        params=[str(layout.raw / "ingest/load_manifest/*/*.parquet")],
    ).fetchall()
    assert manifest == [
        ("customers", "2026-03-01", 12, 12, 0, "loaded"),
        ("customers", "2026-03-02", 0, 0, 0, "loaded"),
        ("customers", "2026-03-04", 0, 0, 0, "loaded"),
        ("customers", "2026-03-05", 0, 0, 0, "loaded"),
        # 20 orders over 5 days, 4 a day; the quiet day's 4 never delivered; one bad line on BAD_DAY
        ("trade_orders", "2026-03-01", 4, 4, 0, "loaded"),
        ("trade_orders", "2026-03-02", 4, 4, 0, "loaded"),
        ("trade_orders", "2026-03-04", 4, 3, 1, "loaded"),
        ("trade_orders", "2026-03-05", 4, 4, 0, "loaded"),
    ]
    [(files,)] = duckdb.sql(
        "select count(*) from read_parquet(?)", params=[str(layout.raw / "ingest/load_manifest/*/*.parquet")]
    ).fetchall()
    assert files == len(ALL_TABLES) * len(delivered)
    quarantine = rows_of(layout, "ingest/quarantine/*/*.parquet")
    assert [(row[1], row[2], row[3], row[4]) for row in quarantine] == [
        ("trade_orders", "trade_orders_20260304.csv", 2, "bad_number")
    ]


def test_raw_is_the_same_as_loading_the_days_one_by_one(imported):
    by_import, by_day, _, _ = imported
    for spec in ALL_TABLES:
        pattern = f"{spec.source}/{spec.name}/*/*.parquet"
        assert rows_of(by_import, pattern) == rows_of(by_day, pattern), spec.name
    for meta in ("ingest/load_manifest/*/*.parquet", "ingest/quarantine/*/*.parquet"):
        assert rows_of(by_import, meta, drop=("loaded_at",)) == rows_of(by_day, meta, drop=("loaded_at",))


def test_in_a_fresh_process_the_partitions_follow_the_deliveries_or_the_first_day_setting(imported):
    layout, _, _, _ = imported
    probe = (
        "from orchestration.lib.partitions import days; keys = days.get_partition_keys(); "
        "print(keys[0], keys[-1], len(keys))"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("FUNDCDP_FIRST_DAY", "FUNDCDP_LAST_DAY")}
    environment["FUNDCDP_DATA_DIR"] = str(layout.root)

    def partitions(**extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env={**environment, **extra},
            cwd=Path(PROJECT_ROOT),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    assert partitions() == "2026-03-01 2026-03-05 5"
    assert partitions(FUNDCDP_FIRST_DAY="2026-02-27") == "2026-02-27 2026-03-05 7"


def test_the_sensor_switched_on_after_an_import_starts_after_the_days_it_built(tmp_path, monkeypatch):
    from tests.integration.test_automation import deliver, settle, tick

    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    for day in ("2026-07-01", "2026-07-02", "2026-07-03"):
        deliver(layout, day)
    settle(layout)
    monkeypatch.setenv("FUNDCDP_DELIVERY_SETTLE_SECONDS", "300")
    (tmp_path / "dagster_home").mkdir()
    instance = temp_instance(tmp_path / "dagster_home")
    # What an import of 07-01 .. 07-02 records: analytics (its last asset) of its last day.
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="analytics", partition="2026-07-02")
    )
    [request] = tick(layout, instance).run_requests
    assert request.partition_key == "2026-07-03"
