"""The same dbt project on a local Spark session: builds with its data and unit tests, and gives the
same person partition as DuckDB on the same raw layer. Run by `make test-spark` (CI runs it too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import LoadError
from orchestration.lib.layout import SOURCES, DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES

KEY = b"spark-comparison-key"


def dbt_build(layout: DataLayout, target: str, as_of: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(layout.root),
        "FUNDCDP_DBT_TARGET": target,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--vars", f'{{"as_of_date": "{as_of}"}}',
         "--target-path", str(layout.root / f"target_{target}"), "--log-path", str(layout.logs / target)],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory):
    layout = DataLayout.at(tmp_path_factory.mktemp("spark") / "data")
    layout.ensure()
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(layout.root), "--customers", "80",
         "--days", "10", "--end-date", "2026-06-30"],
        check=True, capture_output=True,
    )  # fmt: skip
    junk = JunkRules.from_rules(load_business_rules())
    days = sorted({d for source in SOURCES for d in layout.landing_days(source)})
    for spec in ALL_TABLES:
        for day in days:
            try:
                land_table_day(layout, spec, day, KEY, junk, 0.05, 10)
            except LoadError:
                pass  # the generator's deliberately incomplete day
    duck = dbt_build(layout, "duckdb", days[-1])
    # Spark builds an earlier date first: the final build takes the incremental paths (daily
    # aggregates restated from a date, tag_history reading its own earlier partition).
    earlier = dbt_build(layout, "spark", days[-4])
    assert earlier.returncode == 0, earlier.stdout[-3000:]
    spark = dbt_build(layout, "spark", days[-1])
    return layout, duck, spark


def spark_table(layout: DataLayout, schema: str, table: str) -> str:
    return f"read_parquet('{layout.root}/spark/warehouse/fundcdp_{schema}.db/{table}/**/*.parquet')"


def test_every_model_data_test_and_unit_test_builds_on_duckdb_and_spark(both_engines):
    _, duck, spark = both_engines
    assert duck.returncode == 0, duck.stdout[-3000:]
    assert spark.returncode == 0, spark.stdout[-3000:]
    for output in (duck.stdout, spark.stdout):
        assert " ERROR=0 " in output
        assert "unit_test" in output or "regexes_keep_escapes_and_flags_on_every_engine" in output


def test_spark_gives_the_same_person_partition_and_ids_as_duckdb(both_engines):
    layout, _, _ = both_engines
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    on_duckdb = set(
        con.execute(
            "select identifier_type, identifier_hash, person_id from main_marts.person_identifiers"
        ).fetchall()
    )
    events_duckdb = con.execute(
        "select coalesce(exclusion_reason, 'valid'), count(*) from main_staging.stg_tracking__events "
        "group by all"
    ).fetchall()
    con.close()
    persons_on_spark = spark_table(layout, "marts", "person_identifiers")
    on_spark = set(
        duckdb.sql(f"select identifier_type, identifier_hash, person_id from {persons_on_spark}").fetchall()
    )
    events_spark = duckdb.sql(
        "select coalesce(exclusion_reason, 'valid'), count(*) "
        f"from {spark_table(layout, 'staging', 'stg_tracking__events')} group by all"
    ).fetchall()
    assert len(on_duckdb) > 200
    assert on_spark == on_duckdb
    assert sorted(events_spark) == sorted(events_duckdb)


PROFILE_COLUMNS = (
    "person_id, lifecycle_stage, has_churn_warning, active_days_30d, sessions_30d, most_visited_section, "
    "main_platform, registration_channel, trade_count_90d, preferred_fund_type, recency_score, "
    "frequency_score, monetary_score, rfm_group, value_tier, is_high_net_worth, kyc_status, as_of_date"
)


def test_spark_incremental_tags_equal_duckdb_full_build(both_engines):
    layout, _, _ = both_engines
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    on_duckdb = con.execute(
        f"select {PROFILE_COLUMNS} from main_marts.person_profile order by person_id"
    ).fetchall()
    con.close()
    on_spark = duckdb.sql(
        f"select {PROFILE_COLUMNS} from {spark_table(layout, 'marts', 'person_profile')} order by person_id"
    ).fetchall()
    history = duckdb.sql(
        "select count(distinct as_of_date) from read_parquet("
        f"'{layout.root}/spark/warehouse/fundcdp_marts.db/tag_history/**/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()
    assert len(on_duckdb) > 50
    assert on_spark == on_duckdb
    assert history == [(2,)]


def model_tags_on_both_engines(layout: DataLayout, as_of, spark) -> int:
    """tags_model through the model code on the DuckDB build (the models train in Python on DuckDB only),
    copied into Spark's fundcdp_ml (the schema of the tables Python writes) so that rules naming model tags
    run on both. Returns its rows."""
    from orchestration.defs.ml import store
    from orchestration.defs.ml.assets import BEHAVIOUR, FEATURES
    from orchestration.defs.ml.churn import ChurnSettings, train_and_score
    from orchestration.defs.ml.clusters import ClusterSettings, fit_clusters

    rules = load_business_rules()
    churn = ChurnSettings.from_rules(rules)
    features = store.read_frame(layout.warehouse_db, FEATURES)
    store.write_churn(layout.warehouse_db, train_and_score(features, as_of, churn), churn.min_auc, {})
    clusters = fit_clusters(
        store.read_frame(layout.warehouse_db, BEHAVIOUR), ClusterSettings.from_rules(rules)
    )
    store.write_clusters(layout.warehouse_db, clusters, as_of, {})
    rows = store.write_tag_table(layout.warehouse_db, as_of)["persons"]
    parquet = layout.root / "tags_model.parquet"
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    con.execute(f"copy {store.TAGS} to '{parquet}' (format parquet)")
    con.close()
    spark.sql(f"create database if not exists fundcdp_{store.ML_SCHEMA}")
    spark.read.parquet(str(parquet)).write.mode("overwrite").saveAsTable(
        f"fundcdp_{store.ML_SCHEMA}.tags_model"
    )
    return rows


def test_every_starter_segment_compiles_and_runs_on_spark_with_duckdbs_members(both_engines):
    """The Spark dialect of each starter segment runs on the Spark build and selects exactly the persons
    (with the same exclusions and experiment groups) the DuckDB dialect selects on the DuckDB build."""
    from datetime import date

    from pyspark.sql import SparkSession

    from orchestration.defs.segments.compiler import SPARK, compile_segment
    from orchestration.defs.segments.definition import Catalog, load_segments
    from orchestration.defs.segments.versions import evaluate

    layout, _, _ = both_engines
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (as_of,) = con.execute("select max(as_of_date) from main_marts.person_profile").fetchone()
    con.close()
    assert isinstance(as_of, date)
    catalog = Catalog.load()
    spark_dir = layout.root / "spark"
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true",
        )  # fmt: skip
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={spark_dir}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.ui.enabled", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    try:
        assert model_tags_on_both_engines(layout, as_of, spark) > 50
        compared = 0
        for segment in load_segments(catalog=catalog):
            on_duckdb = sorted(
                (row[0], row[1], row[5], row[6])
                for row in evaluate(layout.warehouse_db, segment, catalog, as_of).rows
            )
            sql = compile_segment(segment, catalog, SPARK, as_of)
            on_spark = sorted(
                (r.person_id, r.customer_no, r.exclusion_reason, r.split_group)
                for r in spark.sql(sql).collect()
            )
            assert on_spark == on_duckdb, segment.name
            compared += len(on_duckdb)
        assert compared > 0
    finally:
        spark.stop()
