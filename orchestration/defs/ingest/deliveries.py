"""Is a day's delivery in ``landing/`` complete, and which days should run? (The delivery sensor's logic.)

A day is *ready* when, for every source due that day (``vars: fundcdp: deliveries: schedule:``,
:mod:`orchestration.defs.ingest.delivery_schedule`) and every other source that delivered anyway, its control
file
is there and readable, the loader's reconciliation finds nothing wrong
(:func:`orchestration.defs.ingest.reconcile.reconcile_delivery`: every listed file present and read by a
table, no
file of another day, no unlisted file that is not a re-send), every listed file has exactly the listed
number of data lines, and no file of the day changed for the settle period (a file still being copied is
not loaded half-way). A source not due that delivered nothing is not waited for. A day on which no source
is due and none delivered is ready as it is. A day that is not ready holds back the days after it: they run
once it is ready, so days are always built in date order.

Each day's *fingerprint* (names, sizes and modification times of its files) is remembered once the day was
launched; a ready day whose fingerprint changed since (a corrected re-delivery) is launched again together
with every later launched day, which were built from its old data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.defs.ingest.loader import LoadError, read_file
from orchestration.defs.ingest.reconcile import reconcile_delivery
from orchestration.lib.layout import SOURCES, DataLayout
from orchestration.lib.rules import local_zone
from orchestration.lib.sources import tables_of


@dataclass
class DayDelivery:
    """What has arrived for one day, over all sources."""

    day: str
    fingerprint: str
    newest_change: float  # epoch seconds of the most recent modification of any file of the day
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass
class SensorState:
    """What the sensor remembers between ticks (its cursor)."""

    launched: dict[str, str] = field(default_factory=dict)  # day -> fingerprint it was launched with
    alerted: dict[str, str] = field(default_factory=dict)  # day -> fingerprint it was alerted for
    line_counts: dict[str, list[int]] = field(default_factory=dict)  # path -> [size, mtime_ns, lines]

    @classmethod
    def from_cursor(cls, cursor: str | None) -> SensorState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("launched", {}), data.get("alerted", {}), data.get("line_counts", {}))

    def to_cursor(self) -> str:
        return json.dumps(
            {"launched": self.launched, "alerted": self.alerted, "line_counts": self.line_counts},
            sort_keys=True,
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one tick: a range of days to (re-)run, if any, and what holds the rest back."""

    run_days: list[str]
    reason: str
    waiting: dict[str, list[str]]  # day -> why it does not run yet
    overdue: list[str]  # days past their delivery deadline and not ready, not alerted before


# The fingerprint of a day on which no source was due and nothing was delivered.
NOTHING_DUE = "nothing-due"


def delivery_days(layout: DataLayout) -> list[str]:
    """Every day with a folder in landing/ for any source, sorted."""
    return sorted({day for source in SOURCES for day in layout.landing_days(source)})


def nothing_due_days(deliveries: list[DayDelivery], schedule: DeliverySchedule) -> list[str]:
    """Days between the first and the last delivery with no delivery at all and no source due."""
    delivered = {delivery.day for delivery in deliveries}
    if not delivered:
        return []
    first, last = date.fromisoformat(min(delivered)), date.fromisoformat(max(delivered))
    span = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return [day for day in span if day not in delivered and not schedule.due_sources(day)]


def _line_count(path: Path, spec, cache: dict[str, list[int]]) -> int:
    stat = path.stat()
    cached = cache.get(str(path))
    if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
        return cached[2]
    lines = read_file(path, spec).line_count
    cache[str(path)] = [stat.st_size, stat.st_mtime_ns, lines]
    return lines


def inspect_day(
    layout: DataLayout,
    day: str,
    line_counts: dict[str, list[int]],
    launched_fingerprint: str | None = None,
    schedule: DeliverySchedule | None = None,
) -> DayDelivery:
    """Check one day's delivery against its control files (``line_counts`` caches counted files). A day
    whose files are unchanged since it was launched (``launched_fingerprint``) is not read again. Only a
    source due that day by ``schedule`` (default: every source daily) is missed when it delivered nothing."""
    schedule = schedule or DeliverySchedule.daily()
    entries = []
    newest = 0.0
    for source in SOURCES:
        folder = layout.landing_day(source, day)
        for path in sorted(folder.iterdir()) if folder.is_dir() else ():
            if path.is_file():
                stat = path.stat()
                entries.append(f"{source}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
                newest = max(newest, stat.st_mtime)
    fingerprint = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
    if fingerprint == launched_fingerprint:
        return DayDelivery(day, fingerprint, newest)
    problems: list[str] = []
    for source in SOURCES:
        folder = layout.landing_day(source, day)
        if not folder.is_dir():
            if schedule.is_due(source, day):
                problems.append(f"{source}: nothing delivered (due: {schedule.describe(source)})")
            continue
        # The loader's reconciliation: a day the sensor launches is one the loader reads whole.
        reconciliation = reconcile_delivery(layout, source, day)
        problems.extend(reconciliation.sensor_problems())
        for spec in tables_of(source):
            for name in reconciliation.files_of(spec.name):
                entry = reconciliation.control.get(name)
                if entry is None:
                    continue  # a re-send of a listed or loaded file: not loaded again
                try:
                    lines = _line_count(folder / name, spec, line_counts)
                except LoadError as error:
                    problems.append(f"{source}: {error}")
                    continue
                if lines != entry.row_count:
                    problems.append(f"{source}: {name} has {lines} of {entry.row_count} rows")
    return DayDelivery(day, fingerprint, newest, problems)


def delivery_deadline(day: str, deadline: time) -> datetime:
    """When a day's delivery is due: ``deadline`` (local time, vars fundcdp.time_zone) on the next day."""
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), deadline, tzinfo=local_zone())


def decide(
    deliveries: list[DayDelivery],
    state: SensorState,
    now: datetime,
    settle_seconds: float,
    deadline: time,
    schedule: DeliverySchedule | None = None,
) -> Decision:
    """Which days to launch now (one range, in date order), which wait and why, which are overdue. A day
    between delivered days with no delivery at all waits unless no source is due on it by ``schedule``
    (default: every source daily); then it is ready as it is (a trade system's weekend)."""
    schedule = schedule or DeliverySchedule.daily()
    by_day = {delivery.day: delivery for delivery in deliveries}
    by_day.update({day: DayDelivery(day, NOTHING_DUE, 0.0) for day in nothing_due_days(deliveries, schedule)})
    waiting: dict[str, list[str]] = {}
    overdue: list[str] = []
    ready: list[str] = []
    if deliveries:
        first, last = min(by_day), max(by_day)
        span = (date.fromisoformat(last) - date.fromisoformat(first)).days
        all_days = [(date.fromisoformat(first) + timedelta(days=n)).isoformat() for n in range(span + 1)]
    else:
        all_days = []
    blocked_by: str | None = None
    for day in all_days:
        delivery = by_day.get(day)
        if delivery is None:
            due = ", ".join(schedule.due_sources(day))
            reasons = [f"nothing delivered for this day (due: {due})"]
        elif not delivery.complete:
            reasons = list(delivery.problems)
        elif now.timestamp() - delivery.newest_change < settle_seconds:
            reasons = [f"files changed {now.timestamp() - delivery.newest_change:.0f} s ago; settling"]
        else:
            reasons = []
        fingerprint = delivery.fingerprint if delivery else "missing"
        if reasons:
            waiting[day] = reasons
            if now >= delivery_deadline(day, deadline) and state.alerted.get(day) != fingerprint:
                overdue.append(day)
            blocked_by = blocked_by or day
            continue
        if blocked_by is not None:
            waiting[day] = [f"waits for {blocked_by} (days are built in date order)"]
            continue
        ready.append(day)
    changed = [day for day in ready if state.launched.get(day) != by_day[day].fingerprint]
    if not changed:
        reason = "no new or changed complete delivery"
        return Decision([], reason, waiting, overdue)
    start = changed[0]
    # The earliest new or changed day and every ready day after it: later days were built from its old
    # data (or not at all).
    run = [day for day in ready if day >= start]
    relaunched = [day for day in changed if day in state.launched]
    reason = (
        f"corrected re-delivery of {', '.join(relaunched)}: re-running {run[0]} .. {run[-1]}"
        if relaunched
        else f"complete delivery: running {run[0]} .. {run[-1]}"
    )
    return Decision(run, reason, waiting, overdue)
