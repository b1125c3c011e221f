"""Is the warehouse a gate reads as of the gate's own day?

Each dbt build stamps the dbt var ``as_of_date`` on every row of ``tag_coverage`` (one row per
catalogued tag, so never empty, whoever the persons are) and of ``person_profile``; both are built
near the end of the build, from every tag table. A gate that finds another date there (or several) validates a
warehouse some other run rebuilt since this run's build (issue 31: two interleaved runs), so it must fail
rather than record a pass for its day. Read-only; no value becomes SQL text.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.lib.relations import relation

# dbt models (their relations come from the manifest)
AS_OF_MODELS = ("tag_coverage", "person_profile")


def warehouse_as_of_dates(warehouse_db: Path) -> list[date]:
    """The distinct as-of dates stamped on the build's marker tables, sorted (empty: none recorded)."""
    if not warehouse_db.exists():
        return []
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        found: set[date] = set()
        for model in AS_OF_MODELS:
            try:
                rows = con.execute(
                    f"select distinct as_of_date from {relation(model)} where as_of_date is not null"
                ).fetchall()
            except duckdb.CatalogException:
                continue
            found.update(row[0] for row in rows)
    finally:
        con.close()
    return sorted(found)


def warehouse_as_of_problem(warehouse_db: Path, run_day: date | str) -> str | None:
    """None when the warehouse is as of ``run_day`` (and of no other date); else why not, naming both."""
    day = date.fromisoformat(run_day) if isinstance(run_day, str) else run_day
    dates = warehouse_as_of_dates(warehouse_db)
    if dates == [day]:
        return None
    if not dates:
        built = "records no as-of date (no rows in " + " or ".join(AS_OF_MODELS) + ")"
    else:
        built = "is as of " + " and ".join(d.isoformat() for d in dates)
    return (
        f"the warehouse {built}, not the run's day {day.isoformat()}: another run rebuilt it since this "
        "run's dbt build (or the build did not finish); not validated, re-run the day"
    )
