"""Shared fixtures. The expensive one — a warehouse built end to end from small generated demo data —
is built once per test session and shared by every integration test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR

# pytest-xdist workers run under `python -c`, so their __main__ has neither __spec__ nor __file__.
# pyspark.sql.connect, which great_expectations imports when pyspark is installed (after
# `make test-spark`), takes that for a doctest run and calls sys.exit(0) in the middle of a quality
# gate. A worker's __main__ gets a name so that the gates run as they do outside xdist.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

# The partitions' days are read from the data directory when orchestration.lib.partitions is first
# imported (lib/partition_calendar.py); the tests deliver days anywhere in 2026 into data directories of
# their own, so the test process keeps a fixed calendar (2026-01-01 to the wall clock), whatever landing/
# FUNDCDP_DATA_DIR holds. tests/*/test_history_import.py test the calendar from the data itself.
os.environ.setdefault("FUNDCDP_FIRST_DAY", "2026-01-01")
os.environ.setdefault("FUNDCDP_LAST_DAY", "today")

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
    # after the earlier build: the churn feature snapshots and each person's login / fund account hashes
    earlier_features: list[tuple]
    earlier_identities: dict[str, frozenset[str]]


# The churn model's features per person and snapshot (not the label: that one is the future by design).
FEATURES_SQL = (
    "select person_id, snapshot_date, days_since_last_activity, active_days_7d, active_days_30d, "
    "active_days_prior_30d, events_7d, events_30d, purchases_30d, purchases_60d, has_full_history "
    "from main_intermediate.int_churn_feature_snapshots order by snapshot_date, person_id"
)


def person_identities(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    """Each person's login and fund account identifier hashes (what their features are read through)."""
    rows = con.execute(
        "select person_id, identifier_hash from main_intermediate.int_identity_persons "
        "where identifier_type in ('login_id', 'fund_account_id')"
    ).fetchall()
    identities: dict[str, set[str]] = {}
    for person, identifier in rows:
        identities.setdefault(person, set()).add(identifier)
    return {person: frozenset(values) for person, values in identities.items()}


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


def environment(layout: DataLayout) -> dict[str, str]:
    """The environment variables a pipeline run on ``layout`` reads (dbt runs as a subprocess)."""
    return {
        "FUNDCDP_DATA_DIR": str(layout.root),
        "FUNDCDP_HASH_KEY": TEST_HASH_KEY,
        "DAGSTER_HOME": str(layout.dagster_home),
        "DBT_LOG_PATH": str(layout.logs / "dbt"),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "FUNDCDP_RETRY_WAIT_SECONDS": "1",
    }


@contextmanager
def pipeline_environment(layout: DataLayout) -> Iterator[None]:
    """Set :func:`environment` for a block, restoring the previous values afterwards."""
    values = environment(layout)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def temp_instance(home: Path):
    """A Dagster instance in ``home`` with telemetry off. Not entered as a context manager: Dagster 1.13's
    instance ``__exit__`` leaves its defs-state storage set process-wide after disposing it, which breaks
    every later definitions load in the process."""
    import dagster as dg

    return dg.DagsterInstance.local_temp(tempdir=str(home), overrides={"telemetry": {"enabled": False}})


# The two session-wide builds, by the fixture that holds them: `make test` runs the suite on two workers
# (pytest-xdist, --dist loadgroup) and every test of a group goes to the same worker, so that each build
# is made once. An integration module using neither stays on one worker too (its module fixtures).
SHARED_BUILDS = ("ops", "built_warehouse")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((name for name in SHARED_BUILDS if name in names), None)
        if group is None and ("integration" in item.path.parts or "security" in item.path.parts):
            group = item.path.stem
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)  # after xdist has named each item's group
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under ``--dist loadgroup`` a grouped test's node id ends in ``@<group>``; if a pytest / pytest-xdist
    pair stops doing that, every worker would build the shared fixtures again: fail loudly instead."""
    if not (hasattr(session.config, "workerinput") and session.config.getvalue("dist") == "loadgroup"):
        return
    ungrouped = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rsplit("]", 1)[-1]
    ]
    if ungrouped:
        raise pytest.UsageError(
            f"pytest-xdist did not apply the xdist_group marks (e.g. {ungrouped[0]}): this pytest and "
            "pytest-xdist pair does not work together (see pyproject.toml)"
        )


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouse:
    """Generate small demo data, load every day, build every dbt model, in-process through Dagster."""

    data_dir = tmp_path_factory.mktemp("fundcdp") / "data"
    layout = DataLayout.at(data_dir)
    layout.ensure()
    generate_demo(data_dir)
    plant_canary(layout)
    with pipeline_environment(layout):
        from orchestration.defs.ingest.completeness import waive_planted_demo_days
        from orchestration.defs.ingest.deliveries import delivery_days
        from orchestration.runner import build_warehouse, load_raw

        instance = temp_instance(layout.dagster_home)
        load = load_raw(instance, delivery_days(layout))
        # as `make run` does, after the load (a waiver answers the failures recorded before it): the day
        # the generator left incomplete on purpose does not hold publishing back
        waive_planted_demo_days(layout)
        earlier = build_warehouse(instance, EARLIER_AS_OF)
        con = duckdb.connect(str(layout.warehouse_db), read_only=True)
        earlier_stages = dict(
            con.execute("select person_id, lifecycle_stage from main_marts.tags_activity").fetchall()
        )
        earlier_features = con.execute(FEATURES_SQL).fetchall()
        earlier_identities = person_identities(con)
        con.close()
        build = build_warehouse(instance, DEMO_END_DATE)
        yield BuiltWarehouse(
            layout, load, build, earlier, earlier_stages, earlier_features, earlier_identities
        )


@pytest.fixture(scope="session")
def ops(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The operations dataset after its daily runs (see tests/operations_dataset.py); tests use copies."""
    from tests.operations_dataset import build_ops

    return build_ops(tmp_path_factory)


@pytest.fixture(scope="session")
def erased(ops, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the operations dataset after one person's erasure, a key rotation and retention (see
    tests/erasure_dataset.py); shared by the erasure tests of integration/ and security/."""
    from tests.erasure_dataset import build_erased

    return build_erased(ops, tmp_path_factory)
