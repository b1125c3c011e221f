"""The as-of date of a run, derived from the data, never from the wall clock."""

from __future__ import annotations

from datetime import date

from orchestration.lib.layout import SOURCES, DataLayout


def latest_arrival_date(layout: DataLayout) -> date | None:
    """The latest ``arrival_date=`` partition present in ``raw/`` across the sources."""
    days: list[str] = []
    for source in SOURCES:
        for table_dir in (layout.raw / source).glob("*"):
            days.extend(p.name.split("=", 1)[1] for p in table_dir.glob("arrival_date=*"))
    return date.fromisoformat(max(days)) if days else None
