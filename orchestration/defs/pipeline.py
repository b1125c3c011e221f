"""Run the whole pipeline in-process: every delivered day into raw/ in one ranged run, then dbt, the
quality gates and the publish step.

Used by ``make run`` and by the test suite's shared build, so both exercise the same path.
"""

import dagster as dg

from orchestration.defs.ingest.assets import raw_assets
from orchestration.defs.publish.assets import analytics
from orchestration.defs.quality.checks import quality_checks
from orchestration.defs.resources import FundcdpSettings
from orchestration.defs.segments.assets import segment_members_have_consent, segments
from orchestration.defs.transform.dbt import dbt_resource, fundcdp_dbt_models
from orchestration.lib.layout import SOURCES, DataLayout


def delivered_days(layout: DataLayout) -> list[str]:
    """Every delivery day present in landing/, over all sources, sorted."""
    return sorted({day for source in SOURCES for day in layout.landing_days(source)})


def load_raw(instance: dg.DagsterInstance, days: list[str]) -> dg.ExecuteInProcessResult:
    """Materialise every raw asset for the arrival days ``days[0] .. days[-1]`` in one run."""
    return dg.materialize(
        raw_assets,
        instance=instance,
        resources={"settings": FundcdpSettings()},
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
        raise_on_error=False,
    )


def build_warehouse(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Build (run + test) every dbt model as of the resolved as-of date, run the quality gates, and
    publish analytics.duckdb if they passed."""
    return dg.materialize(
        [fundcdp_dbt_models, *quality_checks, analytics, segments, segment_members_have_consent],
        instance=instance,
        resources={"settings": FundcdpSettings(), "dbt": dbt_resource()},
        raise_on_error=False,
    )
