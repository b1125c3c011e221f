"""Business rules, read from ``vars: fundcdp:`` in ``dbt_project/dbt_project.yml``.

dbt owns these rules; Python (ingestion, quality checks, segments) reads the same file so that a
threshold is changed in exactly one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from orchestration.lib.paths import DBT_PROJECT_FILE

# Rules set in-process by :func:`business_rules_overridden` (tests of companies configured unlike the
# demo); None: the project file's.
_overridden: dict[str, Any] | None = None


def load_business_rules(project_file: Path = DBT_PROJECT_FILE) -> dict[str, Any]:
    """The ``vars: fundcdp:`` block of the dbt project as a dict (read once per file)."""
    if _overridden is not None and project_file == DBT_PROJECT_FILE:
        return _overridden
    return _read_business_rules(project_file)


@contextmanager
def business_rules_overridden(rules: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Within the block, :func:`load_business_rules` of this process returns ``rules`` (a complete
    ``vars: fundcdp:`` block, e.g. a deep copy of the project's with one setting changed) instead of the
    project file's. For tests of a company configured unlike the demo: Python readers of the rules (loads,
    sensor, gates) see it; dbt, a separate process, still reads dbt_project.yml unless given ``--vars``."""
    global _overridden
    previous, _overridden = _overridden, rules
    try:
        yield rules
    finally:
        _overridden = previous


@lru_cache(maxsize=4)
def _read_business_rules(project_file: Path) -> dict[str, Any]:
    with open(project_file, encoding="utf-8") as handle:
        project = yaml.safe_load(handle)
    try:
        return project["vars"]["fundcdp"]
    except KeyError as missing:
        raise KeyError(f"{project_file} has no vars: fundcdp: block ({missing} missing)") from None


def local_time_zone_name(rules: dict[str, Any] | None = None) -> str:
    """The company's time zone (``vars: fundcdp: time_zone``, e.g. ``Asia/Shanghai``): its days are the
    daily partitions, the delivery days and deadlines, the schedule's clock and the local times dbt derives
    from epoch milliseconds."""
    return str((rules if rules is not None else load_business_rules())["time_zone"])


def local_zone(rules: dict[str, Any] | None = None) -> ZoneInfo:
    """:func:`local_time_zone_name` as a ``ZoneInfo``: ``datetime.now(local_zone())`` is the local clock."""
    return ZoneInfo(local_time_zone_name(rules))


def fixed_utc_offset_minutes(rules: dict[str, Any] | None = None) -> int | None:
    """The local time zone's offset from UTC in minutes when it keeps one offset all year (no daylight
    saving this century: Asia/Shanghai, +480), else None. A fixed offset lets SQL turn an instant into a
    local day by adding minutes, several times faster than a time-zone conversion."""
    zone = local_zone(rules)
    offsets = {zone.utcoffset(datetime(year, month, 1)) for year in range(2000, 2040) for month in (1, 7)}
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds() // 60) if offset is not None else None


@dataclass(frozen=True)
class JunkRules:
    """Identifier values that must never link two records (``vars: fundcdp: identity:``)."""

    values: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    test_phone_numbers: frozenset[str]
    repeated_character_min_length: int

    @classmethod
    def from_rules(cls, rules: dict[str, Any]) -> JunkRules:
        identity = rules["identity"]
        return cls(
            values=frozenset(str(v).lower() for v in identity["junk_values"]),
            patterns=tuple(re.compile(p) for p in identity["junk_patterns"]),
            test_phone_numbers=frozenset(str(v) for v in identity["test_phone_numbers"]),
            repeated_character_min_length=int(identity["junk_repeated_character_min_length"]),
        )

    def is_junk(self, normalised_value: str | None) -> bool:
        """True for a value that is empty, on the junk list, a test number, one repeated character or
        matching a junk pattern."""
        if normalised_value is None:
            return True
        value = normalised_value.strip()
        if value.lower() in self.values or value in self.test_phone_numbers:
            return True
        if len(value) >= self.repeated_character_min_length and len(set(value)) == 1:
            return True
        return any(pattern.search(value) for pattern in self.patterns)
