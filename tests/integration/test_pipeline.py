"""The whole pipeline on small generated demo data, built once per session (see conftest)."""

import duckdb
import pytest

from orchestration.lib.sources import ALL_TABLES
from tests.conftest import TEST_HASH_KEY

pytestmark = pytest.mark.integration


def test_definitions_load_with_raw_keys_equal_to_dbt_source_keys():
    from orchestration.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for spec in ALL_TABLES:
        assert f"{spec.source}/{spec.name}" in keys
    staging = graph.get(
        next(k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_trade__trade_orders")
    )
    assert {k.to_user_string() for k in staging.parent_keys} == {"trade/trade_orders"}


def test_everything_materialises(built_warehouse):
    assert built_warehouse.build_result.success


def raw_count(layout, source, table):
    pattern = layout.raw_table(source, table) / "*" / "*.parquet"
    return duckdb.sql(f"select count(*) from read_parquet('{pattern}')").fetchall()[0][0]


def test_staging_holds_every_loaded_row(built_warehouse):
    layout = built_warehouse.layout
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    pairs = {
        ("trade", "trade_orders"): "stg_trade__trade_orders",
        ("trade", "nav"): "stg_trade__navs",
        ("crm", "customers"): "stg_crm__customers",
        ("tracking", "events"): "stg_tracking__events",
    }
    for (source, table), model in pairs.items():
        loaded = raw_count(layout, source, table)
        assert loaded > 0, f"{source}.{table} is empty"
        (staged,) = con.execute(f"select count(*) from main_staging.{model}").fetchone()
        assert staged == loaded, model
    con.close()


def test_identity_partition_matches_the_demo_truth(built_warehouse):
    from orchestration.defs.quality.identity_quality import pair_quality

    layout = built_warehouse.layout
    quality = pair_quality(layout.demo_truth / "identities.csv", layout.warehouse_db, TEST_HASH_KEY.encode())
    assert quality.true_pairs > 2000
    assert quality.precision == 1.0
    # 300 customers over 35 days; at the demo size (2,000 over 90 days) make run measures >= 0.99.
    assert quality.recall >= 0.97


def test_reloading_a_partition_through_dagster_leaves_raw_identical(built_warehouse):
    import dagster as dg

    from orchestration.defs.ingest.assets import raw_assets
    from orchestration.lib.settings import FundcdpSettings

    layout = built_warehouse.layout
    day = layout.landing_days("trade")[3]
    before = {p: p.read_bytes() for p in layout.raw.rglob("*.parquet")}
    result = dg.materialize(
        raw_assets,
        partition_key=day,
        resources={"settings": FundcdpSettings(data_dir=str(layout.root), hash_key=TEST_HASH_KEY)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    after = {p: p.read_bytes() for p in layout.raw.rglob("*.parquet")}
    assert after == before
    assert any(f"arrival_date={day}" in str(p) for p in after)
