"""The dbt seeds load on every engine: dbt-spark writes seed values into an INSERT statement without
escaping single quotes, so a value holding one breaks the Spark build (it did, for a catalogue row)."""

from __future__ import annotations

import csv

from orchestration.lib.paths import DBT_PROJECT_DIR


def test_no_seed_value_holds_a_single_quote():
    offending = []
    seeds = sorted((DBT_PROJECT_DIR / "seeds").glob("*.csv"))
    assert seeds
    for path in seeds:
        with path.open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                offending += [f"{path.name}:{line}: {value[:60]}" for value in row if "'" in value]
    assert offending == []
