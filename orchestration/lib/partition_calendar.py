"""The first and last day of the daily partitions, from the delivered data and the settings.

- First day: ``FUNDCDP_FIRST_DAY`` if set, else ``vars: fundcdp: calendar: first_partition_date``; either is
  a date (YYYY-MM-DD) or ``auto``: the earliest delivery day found in ``landing/`` or in the load manifests
  of ``raw/``, or ``first_partition_date_fallback`` when nothing has been delivered yet.
- Last day: ``FUNDCDP_LAST_DAY`` if set, else ``calendar: last_partition_date``: ``latest`` (the latest
  delivery day, so the UI shows no empty days after the data; a fresh installation with nothing delivered
  ends at the wall clock), ``today`` (Dagster's own end: the day before the current local day),
  or a date. A day still in progress never has a partition: its delivery waits for the day to be over.

Both are read when the code location loads (a process start). With ``latest`` or ``today``, a day
delivered later is still run by the delivery sensor and the schedule (see
``orchestration/defs/automation/jobs.py``); the UI lists it after the code location is reloaded. A fixed last
day
freezes the calendar: a day after it has no partition in any process, and a run requested for it fails
(for a reload of a fixed period or a test, not for daily operation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

from orchestration.lib.layout import SOURCES, DataLayout

FIRST_DAY_ENV = "FUNDCDP_FIRST_DAY"
LAST_DAY_ENV = "FUNDCDP_LAST_DAY"
AUTO = "auto"
LATEST = "latest"
TODAY = "today"


@dataclass(frozen=True)
class PartitionBounds:
    """First day and last day (inclusive) of the daily partitions; ``last_day`` None: up to the wall clock."""

    first_day: date
    last_day: date | None

    @property
    def end_date(self) -> str | None:
        """Dagster's ``end_date`` (exclusive): the day after the last day."""
        return None if self.last_day is None else (self.last_day + timedelta(days=1)).isoformat()


def delivered_days(layout: DataLayout) -> list[str]:
    """Every day something was delivered: a day folder in ``landing/`` for any source, or a load manifest
    partition in ``raw/`` (landing files removed after loading still count), sorted."""
    found = {day for source in SOURCES for day in layout.landing_days(source)}
    manifests = layout.raw / "ingest" / "load_manifest"
    if manifests.is_dir():
        for folder in manifests.iterdir():
            day = folder.name.removeprefix("arrival_date=")
            if folder.is_dir() and _is_day(day):
                found.add(day)
    return sorted(found)


def _is_day(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _setting_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from None


def partition_bounds(
    layout: DataLayout, calendar: dict, environ: dict[str, str] | None = None
) -> PartitionBounds:
    """The partitions' first and last day for this data directory, the ``calendar`` rules and the
    environment (``os.environ`` unless given). Raises ValueError naming the setting that is not a date."""
    environ = os.environ if environ is None else environ
    first_setting = str(environ.get(FIRST_DAY_ENV) or calendar.get("first_partition_date") or AUTO).strip()
    last_setting = str(environ.get(LAST_DAY_ENV) or calendar.get("last_partition_date") or LATEST).strip()
    needs_deliveries = first_setting == AUTO or last_setting == LATEST
    delivered = delivered_days(layout) if needs_deliveries else []
    first_name = FIRST_DAY_ENV if environ.get(FIRST_DAY_ENV) else "vars fundcdp.calendar.first_partition_date"
    if first_setting == AUTO:
        fallback = str(calendar.get("first_partition_date_fallback", "2026-01-01"))
        first = date.fromisoformat(delivered[0] if delivered else fallback)
    else:
        first = _setting_day(first_setting, first_name)
    last_name = LAST_DAY_ENV if environ.get(LAST_DAY_ENV) else "vars fundcdp.calendar.last_partition_date"
    if last_setting == TODAY:
        last = None
    elif last_setting == LATEST:
        last = date.fromisoformat(delivered[-1]) if delivered else None
    else:
        last = _setting_day(last_setting, last_name)
    if last is not None and last < first:
        # Deliveries all before a fixed first day: one partition, the first day, rather than none at all.
        last = first
    return PartitionBounds(first, last)
