"""The one partitioning of the pipeline: a day (Asia/Shanghai).

For the raw assets the day is the arrival day of a delivery (``landing/<source>/<day>/``); for everything
built from them it is the as-of date: the day's run loads that day's delivery and builds the warehouse,
the gates, the publish step and the segments as of that day. A run over a range of days (a backfill, a
re-run after a corrected re-delivery) is one run (``BackfillPolicy.single_run``): the raw assets load every
day of the range, the dbt asset builds the days one after the other in date order (history tables such as
tag_history need each day), and the gates, publish and segments run as of the range's last day.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from orchestration.lib.rules import load_business_rules

# Pool shared by everything that writes (or reads while others may write) a DuckDB file of the data
# directory: one step at a time, whatever the executor. Its limit (1) is set in the instance's
# dagster.yaml (orchestration.lib.instance), and runs are queued one at a time as well.
DUCKDB_WRITER_POOL = "duckdb_writer"

days = dg.DailyPartitionsDefinition(
    start_date=load_business_rules()["calendar"]["first_partition_date"],
    timezone="Asia/Shanghai",
    fmt="%Y-%m-%d",
)

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def days_of_run(tags: dict[str, str]) -> list[str]:
    """The days a run covers, in date order, from its partition tags (empty for an unpartitioned run)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return days.get_partition_keys_in_range(
            dg.PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        )
    return []


def run_as_of_date(tags: dict[str, str]) -> date | None:
    """The as-of date of a run's gates, publish and segments: its (last) day, None if unpartitioned."""
    covered = days_of_run(tags)
    return date.fromisoformat(covered[-1]) if covered else None
