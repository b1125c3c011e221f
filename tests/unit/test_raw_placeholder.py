"""The empty raw table written for a source table never delivered has exactly the columns an empty
delivery of that table loads into raw/, and is written once only."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.raw_placeholder import PLACEHOLDER_NAME, ensure_raw_table
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES
from tests.landing_builder import write_delivery

DAY = "2026-06-30"
KEY = b"placeholder-test-key"


@pytest.fixture(scope="module")
def junk() -> JunkRules:
    return JunkRules.from_rules(load_business_rules())


def test_placeholder_has_the_columns_of_an_empty_delivery(tmp_path, junk):
    delivered = DataLayout.at(tmp_path / "delivered")
    delivered.ensure()
    write_delivery(delivered, DAY, {})  # every table header-only
    never = DataLayout.at(tmp_path / "never")
    never.ensure()
    for spec in ALL_TABLES:
        land_table_day(delivered, spec, DAY, KEY, junk, 0.05, 10)
        (loaded,) = delivered.raw_partition(spec.source, spec.name, DAY).glob("*.parquet")
        placeholder = ensure_raw_table(never, spec, DAY, KEY, junk)
        assert placeholder == never.raw_partition(spec.source, spec.name, DAY) / PLACEHOLDER_NAME
        assert pq.read_schema(placeholder).equals(pq.read_schema(loaded)), spec.key
        assert pq.read_table(placeholder).num_rows == 0
        # a table with a file already gets none
        assert ensure_raw_table(delivered, spec, DAY, KEY, junk) is None
        assert ensure_raw_table(never, spec, "2026-07-01", KEY, junk) is None
    assert sorted(p.name for p in never.raw.glob("*/*/*/*.parquet")) == [PLACEHOLDER_NAME] * len(ALL_TABLES)
