"""The transform stage's definitions: every dbt model (but the macro checks' fixtures) as a partitioned
asset, in the Dagster group its folder names in dbt_project.yml (``+meta: {dagster: {group: …}}``), and the
one dbt source no Dagster asset materializes under its own key: ``private/pii_crm__customers``, written by
the raw crm/customers load into private.duckdb (dagster-dbt allows one source per asset key)."""

import json
from pathlib import Path

import dagster as dg

from orchestration.defs.transform.dbt import dbt_project, fundcdp_dbt_models

PRIVATE_CUSTOMERS = "source.fundcdp.private.pii_crm__customers"


def _source_description(unique_id: str) -> str:
    """A dbt source table's description, as its yml states it (once)."""
    manifest = json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))
    return " ".join(manifest["sources"][unique_id]["description"].split())


private_customers = dg.AssetSpec(
    ["private", "pii_crm__customers"],
    description=_source_description(PRIVATE_CUSTOMERS),
    group_name="raw_crm",
    kinds={"duckdb"},
)

defs = dg.Definitions(assets=[fundcdp_dbt_models, private_customers])
