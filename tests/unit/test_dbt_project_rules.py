"""dbt-project-evaluator's main rules, checked over the manifest `dbt parse` writes (docs/dbt_models.md).

The layers are the folders under dbt_project/models: staging (the only readers of sources), intermediate,
marts, restricted and macro_checks (fixtures). Each rule returns its offenders, so a failure names them;
the hand-built manifests at the end show that every rule can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

Manifest = Mapping[str, dict]

# Models allowed to read a source although they are not staging models, each with the reason.
SOURCE_READERS_OUTSIDE_STAGING = {
    # private.duckdb is attached read-only only while this model builds (its pre-hook) and detached after
    # it: a staging view over the clear personal data would outlive the attachment and put the clear
    # values one select away from the warehouse's readers.
    "contact_list_masked": "reads private.pii_crm__customers inside its own attachment",
}

PRIMARY_KEY_COMBINATION = "fundcdp_unique_combination"
# Views whose key follows from the keys of the models they join, each with those models: a row of the
# first joined on the second's unique (identifier_type, identifier_hash), inner, so the view's key is
# unique and not null when theirs are (a test of the view repeated the join: 139 s at SF10).
KEY_IMPLIED_BY = {
    "int_person_daily_activity": ("int_daily_login_activity", "int_identity_persons"),
    "int_person_daily_events": ("int_daily_login_events", "int_identity_persons"),
    "int_person_daily_trades": ("int_daily_account_trades", "int_identity_persons"),
}


@pytest.fixture(scope="session")
def manifest(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The project's manifest, parsed into a temporary target (nothing written into the checkout)."""
    project_dir = pytestconfig.rootpath / "dbt_project"
    scratch = tmp_path_factory.mktemp("dbt_rules")
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(scratch / "data"),
        "DBT_PROFILES_DIR": str(project_dir),
        "FUNDCDP_DBT_TARGET": "duckdb",
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--quiet",
         "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
        cwd=project_dir, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((scratch / "target" / "manifest.json").read_text(encoding="utf-8"))


def models(manifest: Manifest) -> dict[str, dict]:
    return {key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def layer(node: dict) -> str:
    """The model's top folder under models/: staging, intermediate, marts, restricted, macro_checks."""
    return Path(node["original_file_path"]).parts[1]


def is_fixture(node: dict) -> bool:
    return "fixture" in node["config"].get("tags", [])


def parents(node: dict, manifest: Manifest) -> list[dict]:
    """The models among the node's parents (sources and seeds are not models)."""
    return [manifest["nodes"][key] for key in node["depends_on"]["nodes"] if key.startswith("model.")]


def source_readers_outside_staging(manifest: Manifest) -> list[str]:
    """Models outside staging that read a source (except SOURCE_READERS_OUTSIDE_STAGING)."""
    return sorted(
        node["name"]
        for node in models(manifest).values()
        if layer(node) != "staging"
        and node["name"] not in SOURCE_READERS_OUTSIDE_STAGING
        and any(key.startswith("source.") for key in node["depends_on"]["nodes"])
    )


def staging_reading_staging(manifest: Manifest) -> list[str]:
    """Staging models that read another model (staging reads its source, nothing else)."""
    return sorted(
        f"{node['name']} <- {parent['name']}"
        for node in models(manifest).values()
        if layer(node) == "staging"
        for parent in parents(node, manifest)
    )


def intermediate_reading_marts(manifest: Manifest) -> list[str]:
    """Intermediate models that read a mart (or a restricted model)."""
    return sorted(
        f"{node['name']} <- {parent['name']}"
        for node in models(manifest).values()
        if layer(node) == "intermediate"
        for parent in parents(node, manifest)
        if layer(parent) in ("marts", "restricted")
    )


def primary_key_tests(manifest: Manifest) -> dict[str, list[str]]:
    """Per model: its primary-key tests, `unique` and `not_null` on one column (`unique(col)`) or a
    fundcdp_unique_combination (`combination(cols)`). A test of severity warn guarantees nothing."""
    column_tests: dict[tuple[str, str], set[str]] = {}
    keys: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        if str(node.get("config", {}).get("severity", "error")).lower() != "error":
            continue
        name = node["test_metadata"]["name"]
        kwargs = node["test_metadata"].get("kwargs", {})
        model = node.get("attached_node") or next(iter(node["depends_on"]["nodes"]), "")
        if name == PRIMARY_KEY_COMBINATION:
            keys.setdefault(model, []).append(f"combination({', '.join(kwargs.get('columns', []))})")
        elif name in ("unique", "not_null") and node.get("column_name"):
            column_tests.setdefault((model, node["column_name"]), set()).add(name)
    for (model, column), tests in column_tests.items():
        if tests == {"unique", "not_null"}:
            keys.setdefault(model, []).append(f"unique({column})")
    return keys


def models_without_primary_key_test(
    manifest: Manifest, implied_by: Mapping[str, tuple[str, ...]] = KEY_IMPLIED_BY
) -> list[str]:
    """Models without a primary-key test, unless ``implied_by`` names models that all have one."""
    keys = primary_key_tests(manifest)
    by_name = {node["name"]: key for key, node in models(manifest).items()}

    def keyed(key: str, node: dict) -> bool:
        implied = implied_by.get(node["name"])
        return key in keys or (implied is not None and all(by_name.get(name) in keys for name in implied))

    return sorted(
        node["name"]
        for key, node in models(manifest).items()
        if not is_fixture(node) and not keyed(key, node)
    )


def models_without_description(manifest: Manifest) -> list[str]:
    return sorted(node["name"] for node in models(manifest).values() if not node["description"].strip())


def models_without_dagster_group(manifest: Manifest) -> list[str]:
    """dagster-dbt 0.29 takes an asset's group from meta.dagster.group (else Dagster's `default`)."""
    return sorted(
        node["name"]
        for node in models(manifest).values()
        if not (node.get("meta") or {}).get("dagster", {}).get("group")
    )


def test_sources_are_read_only_by_staging_models(manifest):
    assert source_readers_outside_staging(manifest) == []


def test_staging_models_never_read_other_models(manifest):
    assert staging_reading_staging(manifest) == []


def test_intermediate_models_never_read_marts(manifest):
    assert intermediate_reading_marts(manifest) == []


def test_every_model_except_the_fixtures_has_a_primary_key_test(manifest):
    assert models_without_primary_key_test(manifest) == []
    # the reader sees the project's keys, of both kinds
    keys = primary_key_tests(manifest)
    assert "unique(person_id)" in keys["model.fundcdp.persons"]
    assert "combination(source_file, source_line)" in keys["model.fundcdp.stg_trade__trade_orders"]


def test_every_model_has_a_description(manifest):
    assert models_without_description(manifest) == []


def test_every_model_has_a_dagster_group_named_after_its_layer(manifest):
    assert models_without_dagster_group(manifest) == []
    groups = {node["name"]: node["meta"]["dagster"]["group"] for node in models(manifest).values()}
    assert (groups["stg_crm__customers"], groups["int_customers_as_of"]) == ("staging", "intermediate")
    assert (groups["int_identity_persons"], groups["persons"]) == ("identity", "identity")
    assert (groups["tags_value"], groups["funnel_daily"], groups["mc_masking"]) == (
        "tags",
        "analytics",
        "macro_checks",
    )


def test_the_fixture_models_are_tagged_so_the_daily_build_can_leave_them_out(manifest):
    fixtures = sorted(node["name"] for node in models(manifest).values() if is_fixture(node))
    assert len(fixtures) == 11
    assert "macro_check_input" in fixtures
    assert all(name.startswith("mc_") for name in fixtures if name != "macro_check_input")


# Each rule can fail: a hand-built manifest with one violation of each.


def model_node(name: str, folder: str, reads: tuple[str, ...] = (), **extra) -> dict:
    return {
        "resource_type": "model",
        "name": name,
        "original_file_path": f"models/{folder}/{name}.sql",
        "depends_on": {"nodes": list(reads)},
        "description": extra.get("description", f"{name}."),
        "config": {"tags": extra.get("tags", [])},
        "meta": extra.get("meta", {"dagster": {"group": folder.split("/")[0]}}),
    }


def data_test_node(
    test: str, model: str, column: str | None = None, severity: str = "ERROR", **kwargs
) -> dict:
    return {
        "resource_type": "test",
        "config": {"severity": severity},
        "test_metadata": {"name": test, "kwargs": kwargs},
        "column_name": column,
        "attached_node": f"model.p.{model}",
        "depends_on": {"nodes": [f"model.p.{model}"]},
    }


@pytest.fixture
def bad_manifest() -> dict:
    nodes = [
        model_node("stg_a__orders", "staging/a", ("source.p.a.orders",)),
        # staging reading staging
        model_node("stg_a__order_history", "staging/a", ("model.p.stg_a__orders",)),
        # a source read outside staging
        model_node(
            "int_orders_joined",
            "intermediate",
            (
                "model.p.stg_a__orders",
                "source.p.a.customers",
            ),
        ),
        model_node("order_facts", "marts", ("model.p.int_orders_joined",)),
        # intermediate reading a mart; no description; no Dagster group
        model_node("int_order_scores", "intermediate", ("model.p.order_facts",), description=" ", meta={}),
        # a fixture without a key is fine
        model_node("mc_check", "macro_checks", tags=["fixture"]),
    ]
    tests = [
        data_test_node("unique", "stg_a__orders", "order_id"),
        data_test_node("not_null", "stg_a__orders", "order_id"),
        data_test_node(PRIMARY_KEY_COMBINATION, "stg_a__order_history", columns=["order_id", "version"]),
        data_test_node(PRIMARY_KEY_COMBINATION, "int_orders_joined", columns=["order_id"]),
        data_test_node("not_null", "int_orders_joined", "order_id"),
        # unique without not_null is no primary-key test, nor is a combination that only warns
        data_test_node("unique", "order_facts", "order_id"),
        data_test_node(PRIMARY_KEY_COMBINATION, "order_facts", severity="warn", columns=["order_id"]),
        data_test_node("unique", "int_order_scores", "order_id"),
        data_test_node("not_null", "int_order_scores", "order_id"),
    ]
    manifest = {"nodes": {f"model.p.{node['name']}": node for node in nodes}}
    manifest["nodes"].update({f"test.p.{i}": node for i, node in enumerate(tests)})
    return manifest


def test_each_rule_reports_its_offender(bad_manifest):
    assert source_readers_outside_staging(bad_manifest) == ["int_orders_joined"]
    assert staging_reading_staging(bad_manifest) == ["stg_a__order_history <- stg_a__orders"]
    assert intermediate_reading_marts(bad_manifest) == ["int_order_scores <- order_facts"]
    assert models_without_primary_key_test(bad_manifest) == ["order_facts"]
    # a key implied by the models a view joins holds only if each of them has one
    assert models_without_primary_key_test(bad_manifest, {"order_facts": ("stg_a__orders",)}) == []
    assert models_without_primary_key_test(
        bad_manifest,
        {"order_facts": ("stg_a__orders", "int_orders_gone")},  # no such model
    ) == ["order_facts"]
    assert models_without_description(bad_manifest) == ["int_order_scores"]
    assert models_without_dagster_group(bad_manifest) == ["int_order_scores"]
    assert primary_key_tests(bad_manifest)["model.p.stg_a__orders"] == ["unique(order_id)"]
