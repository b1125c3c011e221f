"""dbt models as Dagster assets. Source keys equal the raw asset keys, so lineage joins up."""

import json
import os
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.ingest.assets import DUCKDB_WRITER_POOL
from orchestration.defs.resources import FundcdpSettings
from orchestration.lib.as_of import latest_arrival_date
from orchestration.paths import DBT_PARSE_TARGET_DIR, DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=DBT_PARSE_TARGET_DIR)


def resolve_as_of_date(settings: FundcdpSettings) -> date:
    """FUNDCDP_AS_OF_DATE if set, else the latest arrival date in raw/ (never the wall clock)."""
    override = settings.as_of_override()
    if override is not None:
        return override
    latest = latest_arrival_date(settings.layout())
    if latest is None:
        raise dg.Failure("nothing loaded into raw/ yet: load the sources before building the warehouse")
    return latest


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool=DUCKDB_WRITER_POOL)
def fundcdp_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: FundcdpSettings):
    """Build (run + test) the dbt models for the as-of date."""
    as_of = resolve_as_of_date(settings)
    # dbt runs as a subprocess that inherits this process's environment.
    os.environ.update(settings.dbt_environment())
    context.log.info(f"dbt build as of {as_of.isoformat()}")
    dbt_vars = json.dumps({"as_of_date": as_of.isoformat()})
    invocation = dbt.cli(
        ["build", "--vars", dbt_vars], context=context, target_path=settings.layout().dbt_target
    )
    completed = False
    try:
        yield from invocation.stream()
        completed = True
    finally:
        # The dbt process must be gone (and its DuckDB lock released) before anything else opens the
        # warehouse, also when the stream failed half-way.
        if not completed and invocation.process.poll() is None:
            invocation.process.terminate()
        invocation.process.wait()
    stats = identity_stats(settings.layout().warehouse_db)
    if stats:
        context.log.info(f"ID-Mapping as of {as_of}: {stats}")
        yield dg.AssetObservation(
            asset_key=dg.AssetKey(["intermediate", "int_identity_components"]),
            metadata={name: dg.MetadataValue.int(value) for name, value in stats.items()},
        )


def identity_stats(warehouse_db: Path) -> dict[str, int]:
    """Connected-components passes and graph size of the latest build (empty if not built)."""
    try:
        con = duckdb.connect(str(warehouse_db), read_only=True)
    except duckdb.Error:
        return {}
    try:
        passes, identifiers, persons = con.execute(
            "select max(passes), count(*), count(distinct cluster_node_id) "
            "from main_intermediate.int_identity_clusters"
        ).fetchone()
        (links,) = con.execute("select count(*) from main_intermediate.int_identity_links").fetchone()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {"cc_passes": passes or 0, "identifiers": identifiers, "links": links, "persons": persons}


def dbt_resource() -> DbtCliResource:
    """dbt from the same virtual environment as Dagster, whatever the caller's PATH holds."""
    venv_dbt = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(venv_dbt) if venv_dbt.exists() else "dbt",
    )
