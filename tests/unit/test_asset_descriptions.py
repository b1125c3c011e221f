"""Every asset of the assembled definitions says what it is (issue 33): the raw tables, the privacy step, the
dbt models (their yml descriptions), the models, segments and analytics, and the external private source."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs


def _descriptions() -> dict[dg.AssetKey, str | None]:
    graph = defs().resolve_asset_graph()
    return {key: graph.get(key).description for key in graph.get_all_asset_keys()}


def test_every_asset_of_the_assembled_definitions_has_a_description():
    descriptions = _descriptions()
    undescribed = sorted(k.to_user_string() for k, text in descriptions.items() if not (text or "").strip())
    assert undescribed == []
    # the assembly is the whole graph, not a part of it: raw, dbt, models, publish and the private source
    for key in (
        ["crm", "customers"],
        ["marts", "person_profile"],
        ["models", "churn_propensity"],
        ["analytics"],
        ["private", "pii_crm__customers"],
    ):
        assert dg.AssetKey(key) in descriptions


def test_the_private_source_is_described_by_its_dbt_yml_in_the_group_of_the_load_that_writes_it():
    graph = defs().resolve_asset_graph()
    node = graph.get(dg.AssetKey(["private", "pii_crm__customers"]))
    assert node.description.startswith("Clear name, mobile, ID number and e-mail of each delivered CRM")
    assert node.group_name == "raw_crm"
    assert not node.is_materializable
