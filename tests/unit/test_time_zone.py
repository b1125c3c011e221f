"""The company's time zone is one setting (``vars: fundcdp: time_zone``) that every Python reader follows."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import duckdb

from orchestration.defs.ingest.deliveries import delivery_deadline
from orchestration.defs.ingest.loader import _local_day_of_epoch_ms
from orchestration.lib.rules import (
    business_rules_overridden,
    fixed_utc_offset_minutes,
    load_business_rules,
    local_time_zone_name,
    local_zone,
)

# 2026-07-04 16:30 UTC: already 07-05 in Shanghai (+8), still 07-04 in Berlin (+2 in summer) and New York.
INSTANT_MS = int(datetime(2026, 7, 4, 16, 30, tzinfo=UTC).timestamp() * 1000)


def rules_with_zone(zone: str) -> dict:
    rules = copy.deepcopy(load_business_rules())
    rules["time_zone"] = zone
    return rules


def local_day_in_sql() -> str:
    con = duckdb.connect()
    try:
        return str(
            con.execute(
                f"select {_local_day_of_epoch_ms('ms')} from (select ? as ms)", [INSTANT_MS]
            ).fetchone()[0]
        )
    finally:
        con.close()


def test_the_project_zone_is_read_from_the_dbt_vars():
    assert local_time_zone_name() == "Asia/Shanghai"
    assert fixed_utc_offset_minutes() == 480
    assert local_day_in_sql() == "2026-07-05"
    assert delivery_deadline("2026-07-04", datetime(2026, 1, 1, 9, 0).time()).isoformat() == (
        "2026-07-05T09:00:00+08:00"
    )


def test_another_zone_moves_every_reader():
    with business_rules_overridden(rules_with_zone("Europe/Berlin")):
        assert local_zone().key == "Europe/Berlin"
        assert fixed_utc_offset_minutes() is None  # daylight saving: converted, not offset
        assert local_day_in_sql() == "2026-07-04"
        assert delivery_deadline("2026-07-04", datetime(2026, 1, 1, 9, 0).time()).isoformat() == (
            "2026-07-05T09:00:00+02:00"
        )
    with business_rules_overridden(rules_with_zone("Asia/Kolkata")):
        assert fixed_utc_offset_minutes() == 330
        assert local_day_in_sql() == "2026-07-04"  # 22:00 local
