"""The persons quarantined by a per-person quality rule (dbt's ``person_quarantine``) and their alert.

A person failing a per-person rule (an identity component above
``quality.persons.max_identifiers_per_person``, two values of a unique identifier type) is quarantined by
dbt: left out of every segment, listed for the stewards, and announced by one warning alert per validation
of the persons gate naming the count and the reasons. The gate itself judges the persons not quarantined,
and fails for the whole table only when the quarantine exceeds its caps (``max_quarantined_persons``,
``max_quarantined_share``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.alerts import Alert
from orchestration.lib.relations import relation

QUARANTINE_MODEL = "person_quarantine"
ALERT_KIND = "persons_quarantined"


@dataclass(frozen=True)
class QuarantineSummary:
    """How many persons are quarantined, and how many per reason (a person may have several reasons)."""

    persons: int
    by_reason: dict[str, int] = field(default_factory=dict)


def quarantine_summary(warehouse_db: Path) -> QuarantineSummary:
    """The quarantined persons of the warehouse's ``person_quarantine`` (read-only). A warehouse without
    the table (built before it existed) has none."""
    quarantine = relation(QUARANTINE_MODEL)
    con = duckdb.connect(str(warehouse_db), read_only=True)
    try:
        try:
            (persons,) = con.execute(f"select count(distinct person_id) from {quarantine}").fetchone()
            rows = con.execute(
                f"select quarantine_reason, count(distinct person_id) from {quarantine} group by 1 order by 1"
            ).fetchall()
        except duckdb.CatalogException:
            return QuarantineSummary(0, {})
    finally:
        con.close()
    return QuarantineSummary(int(persons), {str(reason): int(count) for reason, count in rows})


def quarantine_alert(
    summary: QuarantineSummary, asset: str, partition: str | None, run_id: str | None
) -> Alert | None:
    """The warning sent when persons are quarantined (None when nobody is): the count and the reasons.
    Person ids are not named (stewards read them in ``person_quarantine``)."""
    if summary.persons == 0:
        return None
    reasons = ", ".join(f"{reason} ({count})" for reason, count in summary.by_reason.items())
    noun = "person" if summary.persons == 1 else "persons"
    return Alert(
        kind=ALERT_KIND,
        summary=f"{summary.persons} {noun} quarantined ({reasons}): left out of every segment, "
        f"listed in person_quarantine; the others publish",
        asset=asset,
        partition=partition,
        run_id=run_id,
        details={"quarantined_persons": summary.persons, "reasons": summary.by_reason},
    )
