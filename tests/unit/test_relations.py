"""Python names dbt relations through dbt's manifest (orchestration/lib/relations.py), the metric queries
are qualified through a syntax tree, the tables Python writes live in a schema of their own, and no Python
file under orchestration/ writes a dbt schema name (issue 32)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ml import store
from orchestration.defs.quality.suites import qualified_metric_sql
from orchestration.lib import relations
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.relations import ModelRelation, UnknownModelError, model_relation, relation


def small_manifest() -> dict:
    """Two models, a seed, a test and another package's model, as `dbt parse` writes them."""

    def node(kind: str, name: str, schema: str, custom: str | None, alias: str | None = None, package="shop"):
        return {
            "resource_type": kind, "name": name, "package_name": package, "schema": schema,
            "alias": alias or name, "config": {"schema": custom},
        }  # fmt: skip

    nodes = [
        node("model", "orders", "main_marts", "marts"),
        node("model", "stg_shop__orders", "main_staging", "staging", alias='odd "alias"'),
        node("seed", "countries", "main_marts", "marts"),
        node("test", "unique_orders_order_id", "main_dbt_test__audit", None),
        node("model", "orders", "main_elsewhere", None, package="other_package"),
    ]
    return {
        "metadata": {"adapter_type": "duckdb", "project_name": "shop"},
        "nodes": {f"{n['resource_type']}.{n['package_name']}.{n['name']}": n for n in nodes},
    }


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(small_manifest()), encoding="utf-8")
    return path


def test_a_known_model_gives_its_quoted_relation_from_the_manifest(manifest_file):
    assert relation("orders", manifest_file) == '"main_marts"."orders"'
    assert model_relation("orders", manifest_file) == ModelRelation("orders", "main_marts", "orders", "marts")
    # the alias is the identifier, quoted whatever it holds; seeds are relations too
    assert relation("stg_shop__orders", manifest_file) == '"main_staging"."odd ""alias"""'
    assert relation("countries", manifest_file) == '"main_marts"."countries"'
    assert (
        model_relation("orders", manifest_file).in_catalog("warehouse") == '"warehouse"."main_marts"."orders"'
    )
    assert model_relation("orders", manifest_file).table("o").sql("duckdb") == '"main_marts"."orders" AS o'


def test_an_unknown_model_is_an_error_naming_it_and_the_manifest(manifest_file):
    with pytest.raises(UnknownModelError, match=r"dbt model 'customers' is not in .*manifest\.json"):
        relation("customers", manifest_file)
    with pytest.raises(UnknownModelError, match="unique_orders_order_id"):  # a test is no relation
        relation("unique_orders_order_id", manifest_file)


def test_a_manifest_parsed_for_spark_or_missing_is_refused_with_the_way_out(tmp_path):
    spark = small_manifest() | {"metadata": {"adapter_type": "spark", "project_name": "shop"}}
    with pytest.raises(ValueError, match="parsed for the spark target.*dbt parse"):
        relations.relations_of_manifest(spark)
    with pytest.raises(FileNotFoundError, match="parse the dbt project first"):
        relation("orders", tmp_path / "absent.json")


def test_the_projects_manifest_places_the_models_python_reads():
    assert relation("person_profile") == '"main_marts"."person_profile"'
    assert relation("stg_tracking__events") == '"main_staging"."stg_tracking__events"'
    assert relation("int_identity_clusters") == '"main_intermediate"."int_identity_clusters"'
    assert model_relation("person_profile").custom_schema == "marts"


def test_existing_models_lists_only_those_built(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema main_marts; create table main_marts.persons (person_id varchar)")
    assert relations.existing_models(con, "persons", "identity_changes") == {"persons"}
    con.close()


# ------------------------------------------------------------------------------------- metric queries


def test_a_metric_query_gets_each_models_schema_through_its_syntax_tree():
    sql = (
        "with kept as (select * from persons where x = $as_of_date) "
        "select count(*) from kept join person_quarantine as q on q.person_id = kept.person_id "
        "join main_marts.tag_history on true"
    )
    qualified = qualified_metric_sql(sql, "probe.sql")
    assert '"main_marts"."persons"' in qualified
    assert '"main_marts"."person_quarantine" AS q' in qualified
    assert "main_marts.tag_history" in qualified  # already qualified: left as written
    assert "$as_of_date" in qualified and '"kept"' not in qualified  # the CTE stays a CTE


def test_a_metric_query_naming_an_unknown_model_fails_naming_the_file_and_the_model():
    with pytest.raises(ValueError, match=r"metrics/probe\.sql: table 'no_such_model' is no dbt model"):
        qualified_metric_sql("select * from no_such_model", "expectations/metrics/probe.sql")


def test_every_committed_metric_query_names_only_known_models_and_no_schema():
    for path in sorted((PROJECT_ROOT / "expectations" / "metrics").glob("*.sql")):
        assert not re.search(r"\bmain_\w+\.", path.read_text(encoding="utf-8")), path
        import jinja2

        qualified_metric_sql(jinja2.Template(path.read_text()).render(), path)  # raises on an unknown model


# ------------------------------------------------------------------------- the tables Python writes


def test_the_model_tables_live_in_their_own_schema_and_an_old_warehouses_move_there(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    # a warehouse written before the move: the model tables inside dbt's marts schema and main_models
    con.execute("create schema main_marts; create schema main_models")
    con.execute("create table main_marts.model_runs as select 'churn_propensity' as model_name, 1 as x")
    con.execute("create table main_models.cluster_members as select 'p1' as person_id")
    con.execute("create table main_marts.persons as select 'p1' as person_id")  # dbt's: stays
    con.close()
    store.connect(db).close()
    con = duckdb.connect(str(db), read_only=True)
    tables = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables order by 1"
    ).fetchall()
    assert [name for (name,) in tables] == [
        "main_marts.persons",
        "ml.behaviour_clusters",
        "ml.churn_scores",
        "ml.cluster_members",
        "ml.model_evaluations",
        "ml.model_runs",
    ]
    assert con.execute(f"select * from {store.RUNS}").fetchall() == [("churn_propensity", 1)]
    con.close()
    assert store.relation("tags_model") == '"ml"."tags_model"'
    with pytest.raises(ValueError, match="'persons' is not a table the model assets write"):
        store.relation("persons")


# ------------------------------------------------------------------ no dbt schema written in Python

# Lines allowed to name a dbt DuckDB schema, each with its reason. Nothing else under orchestration/ may.
ALLOWED_SCHEMA_NAMES = {
    # where the model tables lived before they had the ml schema: read once to move them (store.connect)
    ("orchestration/defs/ml/store.py", "LEGACY_SCHEMAS ="),
    ("orchestration/defs/ml/store.py", "written before they moved has them in dbt's marts schema"),
}
DBT_SCHEMA = re.compile(r"\bmain_(marts|staging|intermediate|restricted|models|snapshots|seeds|\w+)\.")


def test_no_python_file_under_orchestration_hard_codes_a_dbt_schema():
    found = []
    for path in sorted((PROJECT_ROOT / "orchestration").rglob("*.py")):
        name = path.relative_to(PROJECT_ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not (DBT_SCHEMA.search(line) or re.search(r"['\"]main_(marts|staging|intermediate)", line)):
                continue
            if any(name == allowed and marker in line for allowed, marker in ALLOWED_SCHEMA_NAMES):
                continue
            found.append(f"{name}:{number}: {line.strip()}")
    assert found == []


def test_the_scan_finds_a_planted_schema_name():
    assert DBT_SCHEMA.search('con.execute("select * from main_marts.persons")')
    assert DBT_SCHEMA.search("from main_intermediate.int_events_valid")
    assert not DBT_SCHEMA.search("main_platform, lifecycle_stage")
