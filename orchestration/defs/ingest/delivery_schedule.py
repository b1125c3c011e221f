"""When each source system is due to deliver (``vars: fundcdp: deliveries: schedule:``).

A source is *due* on a day when its schedule says so: ``daily`` every day, a list of weekdays
(``[mon]``: a weekly CRM export) on those weekdays, ``none`` never (the company does not have the
source). The loads, the delivery sensor and the daily schedule ask this one question: a due source that
did not deliver holds the day back (and fails its load); a source not due that did not deliver loads
nothing and holds nothing back; a source that delivered is loaded whether it was due or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from orchestration.lib.layout import SOURCES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@dataclass(frozen=True)
class DeliverySchedule:
    """Weekdays (0 = Monday) on which each source system is due; a source absent is due every day."""

    due_weekdays: dict[str, frozenset[int]]

    @classmethod
    def daily(cls) -> DeliverySchedule:
        """Every source due every day (the default, the demo's)."""
        return cls({source: frozenset(range(7)) for source in SOURCES})

    @classmethod
    def from_rules(cls, rules: dict[str, Any]) -> DeliverySchedule:
        """The schedule of ``deliveries: schedule:`` in the business rules; a source not listed is daily.
        Raises ValueError naming the setting for an unknown source, weekday or value."""
        schedule = (rules.get("deliveries") or {}).get("schedule") or {}
        unknown = sorted(set(schedule) - set(SOURCES))
        if unknown:
            raise ValueError(
                f"vars fundcdp.deliveries.schedule: unknown source system(s) {', '.join(unknown)}; "
                f"expected {', '.join(SOURCES)}"
            )
        due = {source: _parse_due(source, schedule.get(source, "daily")) for source in SOURCES}
        return cls(due)

    def is_due(self, source: str, day: str) -> bool:
        """Is ``source`` due to deliver for ``day`` (YYYY-MM-DD)?"""
        return date.fromisoformat(day).weekday() in self.due_weekdays.get(source, frozenset(range(7)))

    def due_sources(self, day: str) -> list[str]:
        """The sources due for ``day``, in the order of SOURCES."""
        return [source for source in SOURCES if self.is_due(source, day)]

    def describe(self, source: str) -> str:
        """The source's schedule as the rules spell it: ``daily``, ``none`` or ``mon, thu``."""
        weekdays = self.due_weekdays.get(source, frozenset(range(7)))
        if len(weekdays) == 7:
            return "daily"
        if not weekdays:
            return "none"
        return ", ".join(WEEKDAYS[n] for n in sorted(weekdays))


def _parse_due(source: str, value: Any) -> frozenset[int]:
    where = f"vars fundcdp.deliveries.schedule.{source}"
    if value == "daily":
        return frozenset(range(7))
    if value == "none":
        return frozenset()
    if isinstance(value, list) and value:
        days = [str(item).strip().lower() for item in value]
        wrong = [str(item) for item, day in zip(value, days, strict=True) if day not in WEEKDAYS]
        if wrong:
            raise ValueError(
                f"{where}: {', '.join(wrong)} is no weekday; expected some of {', '.join(WEEKDAYS)}"
            )
        return frozenset(WEEKDAYS.index(day) for day in days)
    raise ValueError(
        f"{where}: {value!r} is not 'daily', 'none' or a non-empty list of weekdays (e.g. [mon, thu])"
    )
