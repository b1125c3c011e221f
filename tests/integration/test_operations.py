"""Operations: daily runs of the daily job, incremental row counts, a late event, a backfill equal to daily
runs, and crash-and-rerun at every failpoint equal to a clean run.

One small generated company (150 customers, 14 days to 2026-07-02, no dirt): the warehouse is built as of
2026-06-30, then the daily job runs 2026-07-01 and 2026-07-02. 2026-07-02's delivery carries one planted late
event of 2026-07-01.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.layout import DataLayout
from orchestration.paths import PROJECT_ROOT
from tests.conftest import environment, pipeline_environment, temp_instance

BASE_DAY, DAY1, DAY2 = "2026-06-30", "2026-07-01", "2026-07-02"
LATE_LOGIN_EVENT_ID = "ops-late-event-0001"
# Columns that record when or by which run something was written, not what: ignored in comparisons.
RUN_COLUMNS = {"loaded_at", "published_at", "run_id", "validated_at"}
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
        relation = f"read_parquet('{table_dir}/*/*.parquet', hive_partitioning = true, union_by_name = true)"
        columns = [row[0] for row in con.execute(f"describe select * from {relation}").fetchall()]
        selected = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS)
        rows = con.execute(f"select {selected} from {relation}").fetchall()
        snapshot[str(table_dir.relative_to(layout.raw))] = sorted(rows, key=repr)
    con.close()
    return snapshot


def state(layout: DataLayout, segments: bool = True) -> dict[str, dict[str, list[tuple]]]:
    """What a run leaves behind, for comparing two runs; without the segment versions if not ``segments``
    (a backfill publishes segments for its last day only: marketing never gets lists for past days)."""
    from orchestration.lib.publish import SEGMENT_TABLES

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
    """The per-day row counts the run's materialization of an incremental model recorded."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.path[-1] == table:
            return event.materialization.metadata["fundcdp/days_written"].value
    raise AssertionError(f"{table} not materialised")


def run_cli(layout: DataLayout, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment(layout), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("FUNDCDP_FAILPOINT", None)
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


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """The base warehouse (as of BASE_DAY), then DAY1 and DAY2 by the daily job; states after each."""

    from orchestration.defs.pipeline import build_warehouse, load_raw, run_days
    from orchestration.lib.deliveries import delivery_days

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


def test_daily_runs_build_load_gate_publish_and_segments(ops):
    for result in (ops["day1"], ops["day2"]):
        assert result.success
        materialised = {
            event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
        }
        assert {"trade/trade_orders", "tracking/events", "marts/person_profile", "analytics", "segments"} <= (
            materialised
        )
    con = duckdb.connect(str(ops["daily"].analytics_db), read_only=True)
    (as_of,) = con.execute("select cast(max(as_of_date) as varchar) from person_profile").fetchone()
    con.close()
    assert as_of == DAY2


def confirmed_trade_groups(layout: DataLayout, day: str) -> int:
    """Confirmed (account, fund, trade type) groups confirmed on ``day`` in the landing files up to it."""
    con = duckdb.connect()
    (groups,) = con.execute(
        f"select count(distinct (fund_account_id, fund_code, trade_type)) from read_csv("
        f"'{layout.landing}/trade/*/trade_orders_*.csv', all_varchar = true, filename = true) "
        "where order_status = 'confirmed' and confirm_date = ? and filename <= ?",
        [day, str(layout.landing / "trade" / day / "~")],
    ).fetchone()
    con.close()
    return groups


def test_a_daily_run_writes_only_the_new_days_trades(ops):
    """The trade aggregate of a daily run holds only the new day: its rows are the day's confirmed groups."""
    for day, result in ((DAY1, ops["day1"]), (DAY2, ops["day2"])):
        expected = confirmed_trade_groups(ops["base"], day)
        assert expected > 0
        assert rows_written(result, "int_daily_account_trades") == {day: expected}


def test_a_daily_run_restates_only_days_its_delivery_touched(ops):
    """Tracking aggregates restate the new day, the planted late event's day, and the days of anonymous
    events that a login delivered that day takes over (a device's first login) — nothing else."""
    layout = ops["base"]
    con = duckdb.connect()
    events = f"read_parquet('{layout.raw}/tracking/events/*/*.parquet', hive_partitioning = true)"
    # Devices whose first login arrived with DAY2's delivery; their anonymous events of the 30 days before.
    (claimed_from,) = con.execute(
        f"""
        with logins as (
            select anonymous_id, min(client_time_ms) as first_login_ms,
                min(cast(arrival_date as varchar)) as first_login_arrival
            from {events} where login_id is not null and anonymous_id is not null group by anonymous_id
        )
        select cast(min(to_timestamp(e.client_time_ms / 1000) at time zone 'Asia/Shanghai') as date)
        from {events} e join logins l using (anonymous_id)
        where l.first_login_arrival = ? and e.login_id is null and e.client_time_ms < l.first_login_ms
            and e.client_time_ms >= l.first_login_ms - 30 * 86400000
        """,
        [DAY2],
    ).fetchone()
    con.close()
    written = rows_written(ops["day2"], "int_daily_login_activity")
    earliest = min(DAY1, str(claimed_from)) if claimed_from else DAY1
    assert min(written) == earliest
    assert max(written) == DAY2


def login_day_events(layout: DataLayout, login_id: str, day: str) -> int:
    """Events of one login on one day in the daily activity aggregate."""
    import hashlib

    login_key = hashlib.sha256(f"login_id:{login_id}".encode()).hexdigest()
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (events,) = con.execute(
        "select events from main_intermediate.int_daily_login_activity "
        "where login_key = ? and activity_date = cast(? as date)",
        [login_key, day],
    ).fetchone()
    con.close()
    return events


def test_a_late_event_is_picked_up_by_the_next_run(ops):
    """The planted event of DAY1, delivered with DAY2, counts in its login's DAY1 activity after DAY2."""
    assert login_day_events(ops["daily"], ops["late_login"], DAY1) == ops["late_before"] + 1
    assert DAY1 in rows_written(ops["day2"], "int_daily_login_activity")


def test_a_backfill_of_both_days_in_one_run_equals_the_daily_runs(ops, tmp_path):
    """One run over DAY1 .. DAY2 (what a backfill from the UI or `cli backfill` launches) leaves the raw
    layer, the warehouse and the analytics tables exactly as the two daily runs did."""

    from orchestration.defs.pipeline import run_days

    layout = copy_data(ops["base"], tmp_path / "backfill")
    with pipeline_environment(layout):
        instance = temp_instance(layout.dagster_home)
        result = run_days(instance, [DAY1, DAY2])
    assert result.success
    daily = {part: tables for part, tables in ops["day2_state"].items() if part != "segments"}
    expected_analytics = state(ops["daily"], segments=False)["analytics"]
    assert_same_state(state(layout, segments=False), {**daily, "analytics": expected_analytics})


def test_crash_at_every_failpoint_then_rerun_equals_a_clean_run(ops, tmp_path):
    """DAY2 killed (SIGKILL) while writing a raw partition, then in the middle of dbt, then during the
    analytics swap — each re-run recovering the previous crash — and a last clean re-run: the same tables
    as DAY2's clean run."""
    layout = copy_data(ops["after_day1"], tmp_path / "crash")
    crashed = run_cli(layout, "day", DAY2, failpoint="raw_partition_write")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert "FUNDCDP_FAILPOINT=raw_partition_write" in crashed.stderr
    # Half-written: one data file of the day is there, its manifest row is not.
    written = {
        f"{p.parents[2].name}__{p.parents[1].name}__{p.stem}"
        for p in layout.raw.glob(f"*/*/arrival_date={DAY2}/*.parquet")
        if p.parents[2].name != "ingest"
    }
    manifests = {p.stem for p in layout.raw.glob(f"ingest/load_manifest/arrival_date={DAY2}/*.parquet")}
    assert len(written - manifests) == 1

    crashed = run_cli(layout, "day", DAY2, failpoint="dbt_build")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert "FUNDCDP_FAILPOINT=dbt_build" in crashed.stderr

    crashed = run_cli(layout, "day", DAY2, failpoint="analytics_swap")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert list(layout.root.glob(".analytics.duckdb.*.tmp")), "the fresh file was left half-swapped"
    con = duckdb.connect(str(layout.analytics_db), read_only=True)
    (as_of,) = con.execute("select cast(max(as_of_date) as varchar) from person_profile").fetchone()
    con.close()
    assert as_of == DAY1  # the previous analytics file is still the published one

    clean = run_cli(layout, "day", DAY2)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]
    assert not list(layout.root.glob(".analytics.duckdb.*"))
    assert_same_state(state(layout), ops["day2_state"])
