"""The transform stage's definitions: every dbt model (but the macro checks' fixtures) as a partitioned
asset, in the Dagster group its folder names in dbt_project.yml (``+meta: {dagster: {group: …}}``)."""

import dagster as dg

from orchestration.defs.transform.dbt import fundcdp_dbt_models

defs = dg.Definitions(assets=[fundcdp_dbt_models])
