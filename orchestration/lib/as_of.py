"""The as-of date of a run, derived from the data, never from the wall clock."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.lib.layout import SOURCES, DataLayout
from orchestration.lib.relations import relation
from orchestration.lib.settings import FundcdpSettings


def latest_arrival_date(layout: DataLayout) -> date | None:
    """The latest ``arrival_date=`` partition present in ``raw/`` across the sources."""
    days: list[str] = []
    for source in SOURCES:
        for table_dir in (layout.raw / source).glob("*"):
            days.extend(p.name.split("=", 1)[1] for p in table_dir.glob("arrival_date=*"))
    return date.fromisoformat(max(days)) if days else None


def built_as_of_date(warehouse_db: Path) -> date | None:
    """The as-of date the warehouse's tags were last built for (None before the first build)."""
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        (as_of,) = con.execute(f"select max(as_of_date) from {relation('person_profile')}").fetchone()
    finally:
        con.close()
    return as_of


def resolve_as_of_date(settings: FundcdpSettings, as_of: date | None = None) -> date:
    """``as_of`` (the run's day) if given, else FUNDCDP_AS_OF_DATE, else the latest arrival date in raw/
    (never the wall clock)."""
    if as_of is not None:
        return as_of
    override = settings.as_of_override()
    if override is not None:
        return override
    latest = latest_arrival_date(settings.layout())
    if latest is None:
        raise dg.Failure("nothing loaded into raw/ yet: load the sources before building the warehouse")
    return latest
