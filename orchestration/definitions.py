"""fundcdp's Dagster code location: raw ingestion, the dbt warehouse, quality gates, publishing, and the
daily job with its schedule and delivery sensor."""

import os

import dagster as dg

from orchestration.defs.automation.alerting import alert_on_run_failure
from orchestration.defs.automation.jobs import (
    daily_job,
    daily_schedule,
    dead_run_reaper,
    landing_delivery_sensor,
)
from orchestration.defs.ingest.assets import raw_assets
from orchestration.defs.ml.assets import model_assets, model_checks
from orchestration.defs.privacy.assets import privacy
from orchestration.defs.publish.assets import analytics
from orchestration.defs.quality.checks import quality_checks
from orchestration.defs.segments.assets import segment_members_have_consent, segments
from orchestration.defs.transform.dbt import dbt_resource, fundcdp_dbt_models
from orchestration.lib.layout import restrict_umask
from orchestration.lib.settings import FundcdpSettings

ingest_meta_specs = [
    dg.AssetSpec(
        ["ingest", "load_manifest"],
        group_name="raw_ingest",
        description="Per delivered file: size, content hash, lines read / loaded / quarantined, status. "
        "Written by the raw assets as they load.",
        kinds={"parquet"},
    ),
    dg.AssetSpec(
        ["ingest", "quarantine"],
        group_name="raw_ingest",
        description="Delivered lines that could not be parsed or typed, with the reason. Written by "
        "the raw assets; the offending lines themselves are kept only in private.duckdb.",
        kinds={"parquet"},
    ),
]


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded when the code location loads (not at import): the schedule's time is a deployment setting."""
    # Owner-only files for everything the code location's processes write (run workers, dbt under them).
    restrict_umask()
    return dg.Definitions(
        assets=[
            privacy,
            *raw_assets,
            *ingest_meta_specs,
            fundcdp_dbt_models,
            *model_assets,
            analytics,
            segments,
        ],  # fmt: skip
        asset_checks=[*quality_checks, *model_checks, segment_members_have_consent],
        jobs=[daily_job],
        schedules=[daily_schedule(os.environ.get("FUNDCDP_DAILY_RUN_AT", "07:30"))],
        sensors=[alert_on_run_failure, landing_delivery_sensor, dead_run_reaper],
        resources={"settings": FundcdpSettings(), "dbt": dbt_resource()},
        # One process per run: DuckDB files accept one writer at a time and dbt runs as a subprocess of
        # it. The pool duckdb_writer (limit 1) serialises the writing steps under any other executor too.
        executor=dg.in_process_executor,
    )
