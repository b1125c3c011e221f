"""The dbt unit tests on DuckDB. They check SQL (tag rules, engine-dispatched macros), not data, so the
daily build leaves them out (and the fixture models they read); they run here once, and on Spark in
tests/spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from orchestration.lib.paths import DBT_PROJECT_DIR
from tests.conftest import DEMO_END_DATE
from tests.operations_dataset import copy_data


def declared_unit_tests() -> set[str]:
    """Every unit test named in the project's YAML files (read independently of dbt)."""
    names = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names |= {f"{test['model']}.{test['name']}" for test in document.get("unit_tests", [])}
    return names


def test_every_dbt_unit_test_passes_on_duckdb(built_warehouse, tmp_path):
    # A copy: the unit tests read the built relations' column types and must not touch the shared build.
    layout = copy_data(built_warehouse.layout, tmp_path / "data")
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(layout.root),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }

    def dbt(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), *arguments,
             "--vars", json.dumps({"as_of_date": DEMO_END_DATE}),
             "--target-path", str(layout.dbt_target), "--log-path", str(layout.logs / "dbt")],
            cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True,
        )  # fmt: skip

    # The fixture models (tag fixture: the macro checks' empty input) are left out of the daily build:
    # built here, in the copy, first (the unit tests read their columns). One `dbt build` selecting both
    # would run only the unit tests of the models it builds.
    fixtures = dbt("run", "--select", "tag:fixture")
    assert fixtures.returncode == 0, fixtures.stdout[-3000:]
    result = dbt("test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]
    results = json.loads((layout.dbt_target / "run_results.json").read_text(encoding="utf-8"))["results"]
    ran = {
        ".".join(r["unique_id"].split(".")[-2:]): r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }
    declared = declared_unit_tests()
    assert len(declared) >= 20  # the reader found the project's unit tests
    assert ran == {name: "pass" for name in declared}
