"""Every column analysts get is described in dbt docs (issue 33), checked over the parsed manifest.

The models published to analytics.duckdb are ``PUBLISHED_TABLES`` (orchestration/defs/publish/analytics.py)
that are dbt nodes. A model's columns are known without a built warehouse:

- a model with an enforced contract: its yml columns (dbt refuses to build it otherwise);
- ``person_profile``: person_id, every tag column of the five tag tables (contracted) in their order, and
  as_of_date, as ``fundcdp.tag_columns()`` generates it;
- any other model: the output columns of its SQL, rendered with stub macros and read with sqlglot;
- a seed: its CSV header.

tests/integration/test_analytics.py checks the published file's actual columns on a built warehouse too.
"""

from __future__ import annotations

import copy
import csv
import json
from functools import cache
from typing import Any

import jinja2
import pytest
import sqlglot
from sqlglot import exp

from orchestration.defs.publish.analytics import PUBLISHED_TABLES
from orchestration.lib.paths import DBT_PARSE_TARGET_DIR, DBT_PROJECT_DIR
from orchestration.lib.rules import load_business_rules

TAG_TABLES = ("tags_basic", "tags_account", "tags_business", "tags_activity", "tags_value")


@cache
def manifest() -> dict:
    return json.loads((DBT_PARSE_TARGET_DIR / "manifest.json").read_text(encoding="utf-8"))


def nodes_by_name(document: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in document["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node["package_name"] == document["metadata"].get("project_name", node["package_name"])
    }


def published_nodes(document: dict) -> dict[str, dict]:
    nodes = nodes_by_name(document)
    return {name: nodes[name] for name in PUBLISHED_TABLES if name in nodes}


class _Stub(jinja2.Undefined):
    """Any macro, adapter or dbt helper the SQL calls: renders as a placeholder identifier."""

    def __str__(self) -> str:
        return "fundcdp_stub"

    def __call__(self, *args: Any, **kwargs: Any) -> _Stub:
        return self

    def __getattr__(self, name: str) -> _Stub:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> _Stub:
        return self

    def __bool__(self) -> bool:
        return True

    def __iter__(self):
        return iter(())


def sql_output_columns(node: dict) -> list[str]:
    """The output columns of a model's SQL: rendered with ref, var and config, any macro a placeholder;
    the outermost select, following ``select * from <cte>`` to the CTE's select."""
    environment = jinja2.Environment(undefined=_Stub, extensions=["jinja2.ext.do"])
    rules = load_business_rules()
    variables = {"fundcdp": rules, "as_of_date": "2026-06-30"}
    sql = environment.from_string(node["raw_code"]).render(
        ref=lambda name, *rest: name,
        source=lambda source_name, table: f"{source_name}__{table}",
        var=lambda name, default=None: variables.get(name, default),
        config=lambda *args, **kwargs: "",
        is_incremental=lambda: False,
    )
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias: cte.this for cte in tree.find_all(exp.CTE)}
    select = tree
    while True:
        names = [projection.alias_or_name for projection in select.expressions]
        if names != ["*"]:
            return names
        source = select.args.get("from") or select.args.get("from_")  # the key differs by sqlglot version
        select = ctes[source.this.name]


def expected_columns(name: str, node: dict, nodes: dict[str, dict]) -> list[str]:
    """The columns a published model or seed has (see the module docstring)."""
    if node["resource_type"] == "seed":
        with (DBT_PROJECT_DIR / node["original_file_path"]).open(encoding="utf-8") as seed:
            return next(csv.reader(seed))
    if name == "person_profile":
        tags = [
            column
            for table in TAG_TABLES
            for column in nodes[table]["columns"]
            if column not in ("person_id", "as_of_date")
        ]
        return ["person_id", *tags, "as_of_date"]
    if node["config"].get("contract", {}).get("enforced"):
        return list(node["columns"])
    return sql_output_columns(node)


def undocumented_columns(document: dict) -> list[str]:
    """``table.column`` of every published column without a description."""
    nodes = nodes_by_name(document)
    missing = []
    for name, node in published_nodes(document).items():
        for column in expected_columns(name, node, nodes):
            if not (node["columns"].get(column, {}).get("description") or "").strip():
                missing.append(f"{name}.{column}")
    return missing


def test_the_published_dbt_tables_are_found_in_the_manifest():
    published = published_nodes(manifest())
    # every published table is a dbt node but those the model assets write (orchestration/defs/ml/store.py)
    assert set(PUBLISHED_TABLES) - set(published) == {
        "tags_model",
        "model_runs",
        "model_evaluations",
        "behaviour_clusters",
    }
    assert {"person_profile", "lifecycle_daily", "tag_catalog", "sessions"} <= set(published)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lifecycle_daily", ["as_of_date", "lifecycle_stage", "value_tier", "persons"]),
        ("page_paths", ["path", "sessions", "persons"]),
        ("funnel_daily", 29),
        ("channel_attribution", 11),
        ("sessions", 13),
    ],
)
def test_the_columns_of_a_model_without_a_contract_are_read_from_its_sql(name, expected):
    columns = sql_output_columns(nodes_by_name(manifest())[name])
    assert columns == expected if isinstance(expected, list) else len(columns) == expected
    assert "fundcdp_stub" not in columns


def test_person_profile_has_every_tag_column_in_order():
    nodes = nodes_by_name(manifest())
    columns = expected_columns("person_profile", nodes["person_profile"], nodes)
    assert columns[:3] == ["person_id", "gender", "age"] and columns[-1] == "as_of_date"
    assert len(columns) == 57  # the 55 tags of the five tag tables
    assert list(nodes["person_profile"]["columns"]) == columns


def test_every_analyst_facing_column_is_described():
    assert undocumented_columns(manifest()) == []


def test_shared_columns_are_described_once_by_doc_blocks():
    nodes = nodes_by_name(manifest())
    person = {nodes[name]["columns"]["person_id"]["description"] for name in (*TAG_TABLES, "person_profile")}
    as_of = {nodes[name]["columns"]["as_of_date"]["description"] for name in (*TAG_TABLES, "person_profile")}
    assert len(person) == 1 and person.pop().startswith("The person: the warehouse's stable person id")
    assert len(as_of) == 1 and as_of.pop().startswith("The as-of date of the build")
    # a tag is described in person_profile as in its tag table
    assert (
        nodes["person_profile"]["columns"]["lifecycle_stage"]["description"]
        == nodes["tags_activity"]["columns"]["lifecycle_stage"]["description"]
    )


def test_an_undescribed_or_unlisted_column_fails():
    document = copy.deepcopy(manifest())
    nodes = nodes_by_name(document)
    nodes["person_profile"]["columns"]["value_tier"]["description"] = ""  # described empty
    del nodes["person_profile"]["columns"]["city"]  # a tag column missing from person_profile's yml
    del nodes["lifecycle_daily"]["columns"]["persons"]  # in the SQL, not in the yml
    nodes["tag_coverage"]["columns"]["coverage_share"]["description"] = " "
    assert sorted(undocumented_columns(document)) == [
        "lifecycle_daily.persons",
        "person_profile.city",
        "person_profile.value_tier",
        "tag_coverage.coverage_share",
    ]
