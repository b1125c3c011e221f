"""The operations dataset: one small generated company (150 customers, 14 days to 2026-07-02, no dirt),
its warehouse built as of 2026-06-30, then the daily job run for 2026-07-01 and 2026-07-02 (2026-07-02's
delivery carries one planted late event of 2026-07-01). Built once per session (the ``ops`` fixture in
conftest) for the operations and the privacy tests, which work on copies."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from tests.conftest import environment, pipeline_environment, temp_instance

BASE_DAY, DAY1, DAY2 = "2026-06-30", "2026-07-01", "2026-07-02"
LATE_LOGIN_EVENT_ID = "ops-late-event-0001"
# Columns that record when or by which run something was written, not what: ignored in comparisons.
# (staged_as_of_date: a backfill stages both days in its one run, the daily runs one day each.)
RUN_COLUMNS = {
    "loaded_at", "published_at", "run_id", "validated_at", "source_loaded_at", "staged_as_of_date",
    "attempt_id",  # a segment version's attempt (random per evaluation: a re-run after a crash is another)
}  # fmt: skip
# Audit logs that keep every attempt (a crashed attempt's validations too): not compared.
AUDIT_TABLES = {"dq_results"}


def plant_late_event(layout: DataLayout) -> str:
    """Append to DAY2's tracking delivery one event that happened on DAY1 (a phone that was offline) of a
    login active on DAY1; returns the login id."""
    day1 = layout.landing_day("tracking", DAY1) / f"events_{DAY1.replace('-', '')}.jsonl.gz"
    events = [json.loads(line) for line in gzip.decompress(day1.read_bytes()).decode().splitlines()]
    template = next(e for e in events if e["login_id"] and e["event"] == "page_view")
    late = {**template, "event_id": LATE_LOGIN_EVENT_ID, "time": template["time"] + 1000}
    late["receive_time"] = late["time"] + 20 * 3600 * 1000  # received on DAY2
    folder = layout.landing_day("tracking", DAY2)
    ymd = DAY2.replace("-", "")
    path = folder / f"events_{ymd}.jsonl.gz"
    text = gzip.decompress(path.read_bytes()).decode() + json.dumps(late, ensure_ascii=False) + "\n"
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    control = folder / f"_control_{ymd}.csv"
    rows = list(csv.reader(control.read_text(encoding="utf-8").splitlines()))
    rows = [[n, str(int(c) + 1), a] if n == path.name else [n, c, a] for n, c, a in rows]
    control.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    return template["login_id"]


def copy_data(source: DataLayout, target: Path) -> DataLayout:
    """A copy of a data directory with a fresh Dagster instance."""
    shutil.copytree(source.root, target, ignore=shutil.ignore_patterns("dagster_home"))
    layout = DataLayout.at(target)
    layout.ensure()
    return layout


def database_tables(path: Path) -> dict[str, list[tuple]]:
    """Every base table of a DuckDB file, rows sorted, run columns left out, doubles rounded."""
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        snapshot = {}
        for schema, table in tables:
            if table in AUDIT_TABLES:
                continue
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            selected = [
                f'round("{name}", 9)' if kind in ("DOUBLE", "FLOAT") else f'"{name}"'
                for name, kind in columns
                if name not in RUN_COLUMNS
            ]
            rows = con.execute(f'select {", ".join(selected)} from "{schema}"."{table}"').fetchall()
            snapshot[f"{schema}.{table}"] = sorted(rows, key=repr)
        return snapshot
    finally:
        con.close()


def raw_tables(layout: DataLayout) -> dict[str, list[tuple]]:
    """Every raw table (all partitions), rows sorted, run columns left out."""
    snapshot = {}
    con = duckdb.connect()
    for table_dir in sorted(p for p in layout.raw.glob("*/*") if p.is_dir()):
        # Partitioned tables (arrival_date=...) and flat ones (the identity-link archive, the logs).
        pattern = (
            f"{table_dir}/*/*.parquet" if any(table_dir.glob("*/*.parquet")) else f"{table_dir}/*.parquet"
        )
        relation = f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        columns = [row[0] for row in con.execute(f"describe select * from {relation}").fetchall()]
        selected = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS)
        rows = con.execute(f"select {selected} from {relation}").fetchall()
        snapshot[str(table_dir.relative_to(layout.raw))] = sorted(rows, key=repr)
    con.close()
    return snapshot


def state(layout: DataLayout, segments: bool = True) -> dict[str, dict[str, list[tuple]]]:
    """What a run leaves behind, for comparing two runs; without the segment versions if not ``segments``
    (a backfill publishes segments for its last day only: marketing never gets lists for past days)."""
    from orchestration.defs.publish.analytics import SEGMENT_TABLES

    analytics = database_tables(layout.analytics_db)
    if not segments:
        segment_tables = {f"main.{name}" for name in [*SEGMENT_TABLES, "experiment_results"]}
        analytics = {name: rows for name, rows in analytics.items() if name not in segment_tables}
    return {
        "raw": raw_tables(layout),
        "warehouse": database_tables(layout.warehouse_db),
        "analytics": analytics,
        **({"segments": database_tables(layout.segments_db)} if segments else {}),
    }


def assert_same_state(actual: dict, expected: dict) -> None:
    for part in expected:
        assert sorted(actual[part]) == sorted(expected[part]), part
        differing = [name for name in expected[part] if actual[part][name] != expected[part][name]]
        assert differing == [], f"{part}: tables differ: {differing}"


def rows_written(result, table: str) -> dict[str, int]:
    """The per-day row counts the run recorded for an incremental model (an observation beside its
    materialization)."""
    materialized = {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}
    assert table in materialized, f"{table} not materialised"
    for event in result.get_asset_observation_events():
        observation = event.asset_observation_data.asset_observation
        if observation.asset_key.path[-1] == table and "fundcdp/days_written" in observation.metadata:
            return observation.metadata["fundcdp/days_written"].value
    raise AssertionError(f"no rows written recorded for {table}")


def run_cli(layout: DataLayout, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment(layout), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("FUNDCDP_FAILPOINT", None)
    env["VERBOSE"] = "1"  # the failpoints' lines on stderr, not in the command's log file
    if failpoint:
        env["FUNDCDP_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def login_day_events(layout: DataLayout, login_id: str, day: str) -> int:
    """Events of one login on one day in the daily activity aggregate."""
    login_key = hashlib.sha256(f"login_id:{login_id}".encode()).hexdigest()
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (events,) = con.execute(
        "select events from main_intermediate.int_daily_login_activity "
        "where login_key = ? and activity_date = cast(? as date)",
        [login_key, day],
    ).fetchone()
    con.close()
    return events


def build_ops(tmp_path_factory) -> dict:
    """The base warehouse (as of BASE_DAY), then DAY1 and DAY2 by the daily job; states after each."""

    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.runner import build_warehouse, load_raw, run_days

    root = tmp_path_factory.mktemp("ops")
    base = DataLayout.at(root / "base")
    base.ensure()
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(base.root), "--customers", "150",
         "--days", "14", "--end-date", DAY2, "--dirt", "none"],
        check=True, capture_output=True,
    )  # fmt: skip
    late_login = plant_late_event(base)
    with pipeline_environment(base):
        instance = temp_instance(base.dagster_home)
        days = [day for day in delivery_days(base) if day <= BASE_DAY]
        assert load_raw(instance, days).success
        assert build_warehouse(instance, BASE_DAY).success
    daily = copy_data(base, root / "daily")
    with pipeline_environment(daily):
        instance = temp_instance(daily.dagster_home)
        day1 = run_days(instance, [DAY1])
        after_day1 = copy_data(daily, root / "after_day1")
        day1_state = state(daily)
        late_before = login_day_events(daily, late_login, DAY1)
        day2 = run_days(instance, [DAY2])
    return {
        "root": root,
        "base": base,
        "daily": daily,
        "after_day1": after_day1,
        "day1": day1,
        "day2": day2,
        "day1_state": day1_state,
        "day2_state": state(daily),
        "late_login": late_login,
        "late_before": late_before,
    }
