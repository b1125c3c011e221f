"""Shared fixtures. The expensive one — a warehouse built end to end from small generated demo data —
is built once per test session and shared by every integration test."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.layout import DataLayout

# A recognisable key: the privacy tests look for it in every file the pipeline wrote.
TEST_HASH_KEY = "fundcdp-test-key-7f3a9c1e-must-never-appear-in-any-file"
DEMO_CUSTOMERS = 300
DEMO_DAYS = 35
DEMO_END_DATE = "2026-06-30"
# The shared build runs as of this earlier date first, so the final build takes the incremental path
# of the daily aggregates and tag_history holds two dates.
EARLIER_AS_OF = "2026-06-16"


# A person whose personal data must never be found outside private.duckdb.
CANARY = {
    "customer_no": "C99999999",
    "name": "金丝雀测试",
    "id_number": "11010519491231002X",
    "mobile": "13912345678",
    "email": "canary.person@example-canary.cn",
}


def plant_canary(layout: DataLayout) -> None:
    """Append the canary customer to the first CRM customers delivery and count it in the control file."""
    day = layout.landing_days("crm")[0]
    folder = layout.landing_day("crm", day)
    ymd = day.replace("-", "")
    customers = folder / f"customers_{ymd}.csv"
    row = (
        f"{CANARY['customer_no']},{CANARY['name']},F,1949-12-31,ID_CARD,{CANARY['id_number']},"
        f"{CANARY['mobile']},{CANARY['email']},北京,北京,C3,2026-01-05,verified,2020-03-01,app,"
        f"{day} 08:00:00\n"
    )
    with open(customers, "a", encoding="utf-8") as handle:
        handle.write(row)
    control = folder / f"_control_{ymd}.csv"
    lines = control.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        name, count, amount = line.split(",")
        if name == customers.name:
            lines[index] = f"{name},{int(count) + 1},{amount}"
    control.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class BuiltWarehouse:
    layout: DataLayout
    load_result: object
    build_result: object
    earlier_build_result: object
    earlier_stages: dict[str, str]


def generate_demo(data_dir: Path, *extra: str) -> None:
    """Run the demo generator as the pipeline's users do: a separate program writing landing/."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "demo_sources.generate",
            "--data-dir",
            str(data_dir),
            "--customers",
            str(DEMO_CUSTOMERS),
            "--days",
            str(DEMO_DAYS),
            "--end-date",
            DEMO_END_DATE,
            *extra,
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """Generate small demo data, load every day, build every dbt model, in-process through Dagster."""
    import dagster as dg

    data_dir = tmp_path_factory.mktemp("fundcdp") / "data"
    layout = DataLayout.at(data_dir)
    layout.ensure()
    generate_demo(data_dir)
    plant_canary(layout)
    environment = {
        "FUNDCDP_DATA_DIR": str(layout.root),
        "FUNDCDP_HASH_KEY": TEST_HASH_KEY,
        "DAGSTER_HOME": str(layout.dagster_home),
        "DBT_LOG_PATH": str(layout.logs / "dbt"),
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        from orchestration.defs.pipeline import build_warehouse, delivered_days, load_raw

        instance = dg.DagsterInstance.local_temp(
            tempdir=str(layout.dagster_home), overrides={"telemetry": {"enabled": False}}
        )
        load = load_raw(instance, delivered_days(layout))
        earlier = build_warehouse(instance, EARLIER_AS_OF)
        con = duckdb.connect(str(layout.warehouse_db), read_only=True)
        earlier_stages = dict(
            con.execute("select person_id, lifecycle_stage from main_marts.tags_activity").fetchall()
        )
        con.close()
        build = build_warehouse(instance, DEMO_END_DATE)
        yield BuiltWarehouse(layout, load, build, earlier, earlier_stages)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
