"""The one partitioning of the pipeline: a day in the company's time zone (``vars: fundcdp: time_zone``).

For the raw assets the day is the arrival day of a delivery (``landing/<source>/<day>/``); for everything
built from them it is the as-of date: the day's run loads that day's delivery and builds the warehouse,
the gates, the publish step and the segments as of that day. A run over a range of days (a backfill, a
re-run after a corrected re-delivery) is one run (``BackfillPolicy.single_run``): the raw assets load every
day of the range, the dbt asset builds the days one after the other in date order (history tables such as
tag_history need each day), and the gates, publish and segments run as of the range's last day.

A **history import** (``cli import-history``, or the daily job for one day launched with the tag
``fundcdp/history_from=<first day>``) is a run of its last day only: the raw assets load every delivered
day from the first day to it in one pass, then the warehouse is built once, as of the last day. Dagster
plans and records one partition per asset whatever the number of days (a range run records each day of
each asset, which for years of days costs more than loading them).

A raw load that fails some days of a range run writes the others and records each of them materialized
before its step fails (``defs/ingest/assets.py``): Dagster then marks only the failed days' partitions
failed. In a history import the run's day is materialized when it loaded, whichever earlier day failed.

The partitions run from the first to the last delivery day (``lib/partition_calendar.py``: settings
``vars: fundcdp: calendar:``, ``FUNDCDP_FIRST_DAY``, ``FUNDCDP_LAST_DAY``), read when the code location
loads.
"""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from orchestration.lib.layout import DataLayout
from orchestration.lib.partition_calendar import PartitionBounds, partition_bounds
from orchestration.lib.rules import load_business_rules, local_time_zone_name

# Pool shared by everything that writes (or reads while others may write) a DuckDB file of the data
# directory: one step at a time, whatever the executor. Its limit (1) is set in the instance's
# dagster.yaml (orchestration.lib.instance), and runs are queued one at a time as well.
DUCKDB_WRITER_POOL = "duckdb_writer"

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
# On a run of one day: load every delivered day from this day to the run's day (a history import).
HISTORY_FROM_TAG = "fundcdp/history_from"


def daily_partitions(bounds: PartitionBounds) -> dg.DailyPartitionsDefinition:
    """The day partitions from ``bounds.first_day`` to ``bounds.last_day`` (local days)."""
    return dg.DailyPartitionsDefinition(
        start_date=bounds.first_day.isoformat(),
        end_date=bounds.end_date,
        timezone=local_time_zone_name(),
        fmt="%Y-%m-%d",
    )


def _load_bounds() -> PartitionBounds:
    # Read when the code location loads: the partitions must exist before any run or sensor does.
    layout = DataLayout.at(os.environ.get("FUNDCDP_DATA_DIR") or "data")
    return partition_bounds(layout, load_business_rules()["calendar"])


bounds = _load_bounds()
days = daily_partitions(bounds)


def days_of_run(tags: dict[str, str]) -> list[str]:
    """The days a run covers, in date order, from its partition tags (empty for an unpartitioned run)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return days.get_partition_keys_in_range(
            dg.PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        )
    return []


def is_history_import(tags: dict[str, str]) -> bool:
    """A history import: a run of one day carrying the tag ``fundcdp/history_from``."""
    return bool(tags.get(HISTORY_FROM_TAG)) and PARTITION_TAG in tags


def import_days_of_run(tags: dict[str, str], layout: DataLayout, source: str) -> list[str]:
    """The delivery days of ``source`` a history import loads: every day with a folder in ``landing/``
    from the run's ``fundcdp/history_from`` tag to its day (none for a source the company does not have).
    Empty for any other run (no tag, or a range)."""
    first = tags.get(HISTORY_FROM_TAG)
    if not is_history_import(tags):
        return []
    last = tags[PARTITION_TAG]
    try:
        # The days are compared as text below: a form fromisoformat also takes (20230301, 2023-W09-3)
        # would select no day at all, so only the canonical YYYY-MM-DD is accepted.
        if date.fromisoformat(first).isoformat() != first:
            raise ValueError(first)
        reversed_range = date.fromisoformat(first) > date.fromisoformat(last)
    except ValueError:
        raise dg.Failure(f"{HISTORY_FROM_TAG}={first!r} is not a date in YYYY-MM-DD form") from None
    if reversed_range:
        raise dg.Failure(f"{HISTORY_FROM_TAG}={first} is after the run's day {last}")
    return [day for day in layout.landing_days(source) if first <= day <= last]


def run_as_of_date(tags: dict[str, str]) -> date | None:
    """The as-of date of a run's gates, publish and segments: its (last) day, None if unpartitioned."""
    covered = days_of_run(tags)
    return date.fromisoformat(covered[-1]) if covered else None
