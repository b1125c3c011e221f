"""Operations: daily runs of the daily job, incremental row counts, a late event, a backfill equal to daily
runs, and crash-and-rerun at every failpoint equal to a clean run.

On the operations dataset (tests/operations_dataset.py, the session fixture ``ops``).
"""

from __future__ import annotations

import json

import duckdb

from orchestration.lib.layout import DataLayout
from tests.conftest import pipeline_environment, temp_instance
from tests.operations_dataset import (
    DAY1,
    DAY2,
    assert_same_state,
    copy_data,
    login_day_events,
    rows_written,
    run_cli,
    state,
)


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


def test_a_late_event_is_picked_up_by_the_next_run(ops):
    """The planted event of DAY1, delivered with DAY2, counts in its login's DAY1 activity after DAY2."""
    assert login_day_events(ops["daily"], ops["late_login"], DAY1) == ops["late_before"] + 1
    assert DAY1 in rows_written(ops["day2"], "int_daily_login_activity")


def test_a_backfill_of_both_days_in_one_run_equals_the_daily_runs(ops, tmp_path):
    """One run over DAY1 .. DAY2 (what a backfill from the UI or `cli backfill` launches) leaves the raw
    layer, the warehouse and the analytics tables exactly as the two daily runs did."""

    from orchestration.runner import run_days

    layout = copy_data(ops["base"], tmp_path / "backfill")
    with pipeline_environment(layout):
        instance = temp_instance(layout.dagster_home)
        result = run_days(instance, [DAY1, DAY2])
    assert result.success
    daily = {part: tables for part, tables in ops["day2_state"].items() if part != "segments"}
    expected = {**daily, "analytics": state(ops["daily"], segments=False)["analytics"]}
    actual = state(layout, segments=False)
    # The models train once per run, as of its last day (docs/predictive_tags.md): the daily runs' DAY1
    # model history has no counterpart in the backfill, and their DAY2 clusters were matched to DAY1's.
    models = {part: model_history(snapshot) for part, snapshot in (("daily", expected), ("backfill", actual))}
    assert_same_state(actual, expected)
    for part in ("warehouse", "analytics"):
        daily_runs, backfill_runs = models["daily"][part], models["backfill"][part]
        daily_days = {row[-1].isoformat() for row in daily_runs}
        backfill_days = {row[-1].isoformat() for row in backfill_runs}
        assert daily_days - backfill_days == {DAY1}
        assert DAY2 in backfill_days
        # The churn model has no memory: its DAY2 run is the daily run's.
        churn = {
            name: [row for row in runs if row[0] == "churn_propensity" and row[-1].isoformat() == DAY2]
            for name, runs in (("daily", daily_runs), ("backfill", backfill_runs))
        }
        assert len(churn["daily"]) == 1
        assert churn["backfill"] == churn["daily"]


MODEL_HISTORY = ("model_runs", "model_evaluations", "behaviour_clusters", "cluster_members")


def model_history(snapshot: dict[str, dict[str, list[tuple]]]) -> dict[str, list[tuple]]:
    """Take the model history tables out of ``snapshot`` (warehouse and analytics); returns each part's
    model_runs rows."""
    runs = {}
    for part in ("warehouse", "analytics"):
        tables = snapshot[part] = dict(snapshot[part])  # a copy: the session fixture's stays whole
        runs[part] = next(rows for name, rows in tables.items() if name.endswith(".model_runs"))
        for name in [name for name in tables if name.rsplit(".", 1)[-1] in MODEL_HISTORY]:
            del tables[name]
    return runs


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


# The incremental event tables and each one's bookkeeping column (which build wrote the row), left out
# when they are compared with a full rebuild.
EVENT_TABLES = {
    "main_staging.stg_tracking__events": "staged_as_of_date",
    "main_intermediate.int_events_attributed": "built_as_of_date",
    "main_intermediate.int_session_events": "built_as_of_date",
    "main_marts.sessions": "built_as_of_date",
    "main_intermediate.int_segment_events": "built_as_of_date",
    "main_intermediate.int_page_paths_by_person": "built_as_of_date",
    "main_intermediate.int_page_transitions_by_person": "built_as_of_date",
    "main_marts.page_paths": None,
    "main_marts.page_transitions": None,
    "main_intermediate.int_churn_feature_snapshots": "built_as_of_date",
}
EVENT_MODELS = [relation.split(".")[1] for relation in EVENT_TABLES]


def assert_event_tables_equal(incremental: DataLayout, full: DataLayout) -> None:
    """Each incremental event table holds the same rows in both data directories."""
    built, rebuilt = (
        duckdb.connect(str(layout.warehouse_db), read_only=True) for layout in (incremental, full)
    )
    try:
        for relation, bookkeeping in EVENT_TABLES.items():
            columns = f"* exclude ({bookkeeping})" if bookkeeping else "*"
            query = f"select {columns} from {relation} order by all"
            assert built.execute(query).fetchall() == rebuilt.execute(query).fetchall(), relation
    finally:
        built.close()
        rebuilt.close()


def dbt_run(layout: DataLayout, models: list[str], variables: str, *flags: str) -> None:
    """`dbt run` of ``models`` on a copied data directory, with ``variables`` (JSON)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from orchestration.lib.paths import DBT_PROJECT_DIR

    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", *flags, "--select", *models,
         "--vars", variables, "--target-path", str(layout.root / "target"),
         "--log-path", str(layout.root / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(layout.root), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]


def test_incremental_staged_events_reclassify_earlier_rows_and_equal_a_full_rebuild(ops, tmp_path):
    """A delivery that makes a device a bot, re-sends an old event received earlier than its first
    copy, tops up a second device's busiest collector minute of an earlier day past the bot limit (late
    events: only the minute's deliveries of both days together cross it), and gives a third device its
    20th distinct login: the incremental build flags the devices' earlier events, demotes the first copy
    to a duplicate, and the staged, attributed and session events then equal a full rebuild."""

    daily = copy_data(ops["daily"], tmp_path / "incremental")
    con = duckdb.connect(str(daily.warehouse_db))
    device, device_events = con.execute(
        "select anonymous_id, count(*) from main_staging.stg_tracking__events"
        " where exclusion_reason is null and anonymous_id is not null group by 1 order by 2 desc, 1 limit 1"
    ).fetchone()
    resent, resent_file, resent_line = con.execute(
        "select event_id, source_file, source_line from main_staging.stg_tracking__events"
        " where exclusion_reason is null and arrival_date = ? and anonymous_id is distinct from ?"
        " order by event_id limit 1",
        [DAY1, device],
    ).fetchone()
    # the busiest collector minute of another valid device, and one of its events in that minute
    late_device, minute_events, minute_file, minute_line = con.execute(
        "select anonymous_id, count(*), min(source_file), arg_min(source_line, source_file)"
        " from main_staging.stg_tracking__events"
        " where anonymous_id is not null and anonymous_id <> ? and anonymous_id not in ("
        "     select anonymous_id from main_staging.stg_tracking__events"
        "     where exclusion_reason is not null and anonymous_id is not null)"
        " group by anonymous_id, floor(receive_time_ms / 60000) order by 2 desc, 1 limit 1",
        [device],
    ).fetchone()
    # a third valid device, its real logins so far and one of its events
    qa_device, qa_logins, qa_file, qa_line = con.execute(
        "select anonymous_id, count(distinct login_id), min(source_file), arg_min(source_line, source_file)"
        " from main_staging.stg_tracking__events"
        " where anonymous_id is not null and anonymous_id not in (?, ?) and anonymous_id not in ("
        "     select anonymous_id from main_staging.stg_tracking__events"
        "     where exclusion_reason is not null and anonymous_id is not null)"
        " group by anonymous_id having count(distinct login_id) > 0 order by 2 desc, 1 limit 1",
        [device, late_device],
    ).fetchone()
    late_valid, qa_valid = (
        con.execute(
            "select count(*) from main_staging.stg_tracking__events where anonymous_id = ?", [d]
        ).fetchone()[0]
        for d in (late_device, qa_device)
    )
    con.close()
    assert minute_events <= 30 and qa_logins < 20
    day = "2026-07-03"
    # 31 events of the device within one collector minute (2026-07-03 10:00 local; the bot threshold is
    # 30 a minute), and the re-sent event, stamped one second before its first copy's collector time
    deliver_tracking_day(
        daily,
        day,
        """
        select * exclude (n) replace (
            'burst-' || cast(n as varchar) as event_id,
            cast(1783044000000 + n as bigint) as client_time_ms,
            cast(1783044000000 + n as bigint) as receive_time_ms,
            'events_20260703.jsonl.gz' as _source_file,
            cast(n + 1 as bigint) as _source_line
        )
        from (select * from events where anonymous_id = ? order by _source_file, _source_line limit 1),
            range(31) as r(n)
        union all
        select * replace (
            receive_time_ms - 1000 as receive_time_ms,
            'events_20260703.jsonl.gz' as _source_file,
            cast(32 as bigint) as _source_line
        )
        from events where event_id = ? and _source_file = ? and _source_line = ?
        union all
        -- copies of the second device's event, in its minute: 31 events in it with the earlier ones
        select * exclude (n) replace (
            'late-' || cast(n as varchar) as event_id,
            'events_20260703.jsonl.gz' as _source_file,
            cast(100 + n as bigint) as _source_line
        )
        from (select * from events where _source_file = ? and _source_line = ?), range(31 - ?) as r(n)
        union all
        -- the third device's event under new logins, a minute apart: 20 distinct real logins in all
        select * exclude (n) replace (
            'qa-' || cast(n as varchar) as event_id,
            'qa-tester-' || cast(n as varchar) as login_id,
            receive_time_ms + n * 60000 as receive_time_ms,
            'events_20260703.jsonl.gz' as _source_file,
            cast(200 + n as bigint) as _source_line
        )
        from (select * from events where _source_file = ? and _source_line = ?), range(20 - ?) as r(n)
        """,
        [device, resent, resent_file, resent_line, minute_file, minute_line, minute_events,
         qa_file, qa_line, qa_logins],
    )  # fmt: skip
    full = copy_data(daily, tmp_path / "full")

    variables = json.dumps({"as_of_date": day})
    dbt_run(daily, EVENT_MODELS, variables)
    dbt_run(full, EVENT_MODELS, variables, "--full-refresh")
    incremental_db = duckdb.connect(str(daily.warehouse_db), read_only=True)
    flagged = incremental_db.execute(
        "select exclusion_reason, count(*) from main_staging.stg_tracking__events"
        " where anonymous_id = ? and arrival_date < ? group by 1",
        [device, day],
    ).fetchall()
    # every event of the device that counted before is a bot's now (rows excluded for an earlier reason
    # in the documented order keep it)
    assert dict(flagged).get("bot") == device_events
    for flagged_device, reason, valid in (
        (late_device, "bot", late_valid),
        (qa_device, "test_device", qa_valid),
    ):
        earlier = incremental_db.execute(
            "select exclusion_reason, count(*) from main_staging.stg_tracking__events"
            " where anonymous_id = ? and arrival_date < ? group by 1",
            [flagged_device, day],
        ).fetchall()
        assert earlier == [(reason, valid)], flagged_device
    copies = incremental_db.execute(
        "select cast(arrival_date as varchar), exclusion_reason from main_staging.stg_tracking__events"
        " where event_id = ? order by arrival_date",
        [resent],
    ).fetchall()
    assert copies == [(DAY1, "duplicate_event"), (day, None)]
    (rewritten,) = incremental_db.execute(
        "select count(*) from main_intermediate.int_events_attributed where built_as_of_date = ?", [day]
    ).fetchone()
    (attributed,) = incremental_db.execute(
        "select count(*) from main_intermediate.int_events_attributed"
    ).fetchone()
    assert 0 < rewritten < attributed
    incremental_db.close()
    assert_event_tables_equal(daily, full)


def deliver_tracking_day(layout: DataLayout, day: str, select: str, params: list) -> None:
    """Write raw/ tracking events arriving on ``day`` (YYYY-MM-DD) as that day's one Parquet file (a
    delivery, or a corrected re-delivery replacing it): the rows of ``select``, a query in which the view
    ``events`` holds every event delivered on the other days."""
    raw_day = layout.raw / "tracking" / "events" / f"arrival_date={day}"
    raw_day.mkdir(parents=True, exist_ok=True)
    files = f"{layout.raw}/tracking/events/*/*.parquet"
    delivery = duckdb.connect()
    delivery.execute(
        f"create view events as select * exclude (filename) from read_parquet('{files}',"
        f" hive_partitioning = false, filename = true) where filename not like '%arrival_date={day}%'"
    )
    delivery.execute(
        f"copy ({select}) to '{raw_day}/events_{day.replace('-', '')}.parquet' (format parquet)", params
    )
    delivery.close()


def write_burst(layout: DataLayout, device: str, day: str, burst: int) -> None:
    """raw/ for ``day`` (YYYY-MM-DD, in July 2026): ``burst`` events of ``device`` within one collector
    minute (10:00 local that day; the bot threshold is 30 a minute), copies of the device's first event."""
    start_ms = 1783044000000 + (int(day[-2:]) - 3) * 86_400_000  # 2026-07-03 10:00 +08:00
    stamp = day.replace("-", "")
    deliver_tracking_day(
        layout,
        day,
        f"""
        select * exclude (n) replace (
            'burst-{stamp}-' || cast(n as varchar) as event_id,
            cast({start_ms} + n as bigint) as client_time_ms,
            cast({start_ms} + n as bigint) as receive_time_ms,
            'events_{stamp}.jsonl.gz' as _source_file,
            cast(n + 1 as bigint) as _source_line
        )
        from (
            select * from events where anonymous_id = ? order by _source_file, _source_line limit 1
        ), range({burst}) as r(n)
        """,
        [device],
    )


def test_earlier_events_valid_again_after_a_correction_bring_the_attribution_back(ops, tmp_path):
    """A delivery makes a device a bot; a corrected re-delivery of that day withdraws the burst. The
    device's earlier events count again: the next day's incremental build restores them in the attributed
    and session events, which then equal a full rebuild (only the rows staged since the attribution's
    last build are checked for this)."""

    daily = copy_data(ops["daily"], tmp_path / "incremental")
    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    device, device_events = con.execute(
        "select anonymous_id, count(*) from main_intermediate.int_events_attributed"
        " where anonymous_id is not null and person_id is not null group by 1 order by 2 desc, 1 limit 1"
    ).fetchone()
    con.close()
    burst_day, next_day = "2026-07-03", "2026-07-04"
    write_burst(daily, device, burst_day, 31)
    dbt_run(daily, EVENT_MODELS, json.dumps({"as_of_date": burst_day}))
    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    (attributed_bot,) = con.execute(
        "select count(*) from main_intermediate.int_events_attributed where anonymous_id = ?", [device]
    ).fetchone()
    con.close()
    assert attributed_bot == 0
    # the correction: the day delivered again with 5 of the 31 events (under the threshold)
    write_burst(daily, device, burst_day, 5)
    full = copy_data(daily, tmp_path / "full")
    variables = json.dumps({"as_of_date": next_day})
    dbt_run(daily, EVENT_MODELS, variables)
    dbt_run(full, EVENT_MODELS, variables, "--full-refresh")
    incremental_db = duckdb.connect(str(daily.warehouse_db), read_only=True)
    (restored,) = incremental_db.execute(
        "select count(*) from main_intermediate.int_events_attributed"
        " where anonymous_id = ? and arrival_date < ?",
        [device, burst_day],
    ).fetchone()
    assert restored == device_events
    incremental_db.close()
    assert_event_tables_equal(daily, full)


def test_a_claim_restates_the_earlier_days_of_the_claiming_login(ops, tmp_path):
    """A login delivered late on a device that had only anonymous events takes those events over. The
    daily login aggregates restate the claimed day only for that login, which already had activity there
    from another device, and equal a full rebuild."""

    daily = copy_data(ops["daily"], tmp_path / "incremental")
    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    # a device never logged in, with anonymous events on one day of the last week (the lateness limit)
    # and none on another day
    device, day, last_ms, anonymous = con.execute(
        """
        select anonymous_id, min(event_date), max(client_time_ms), count(*)
        from main_staging.stg_tracking__events
        where exclusion_reason is null and anonymous_id is not null
            and anonymous_id not in (
                select anonymous_id from main_staging.stg_tracking__events
                where login_id is not null and anonymous_id is not null
            )
        group by anonymous_id
        having min(event_date) = max(event_date)
            and min(event_date) between date '2026-06-28' and date '2026-07-01'
        order by count(*) desc, anonymous_id
        limit 1
        """
    ).fetchone()
    # a login with activity that day (from its own devices)
    (login,) = con.execute(
        """
        select staged.login_id
        from main_staging.stg_tracking__events as staged
        inner join main_intermediate.int_daily_login_activity as activity
            on activity.login_key = sha256('login_id:' || staged.login_id)
            and activity.activity_date = staged.event_date
        where staged.event_date = ? and staged.exclusion_reason is null
        group by 1
        order by 1
        limit 1
        """,
        [day],
    ).fetchone()
    con.close()
    before = login_day_events(daily, login, str(day))
    # the login on the device a day after its last anonymous event, received on 2026-07-03 10:00 +08:00
    deliver_tracking_day(
        daily,
        "2026-07-03",
        """
        select * replace (
            'claim-login-0001' as event_id,
            ? as login_id,
            cast(client_time_ms + 86400000 as bigint) as client_time_ms,
            cast(1783044000000 as bigint) as receive_time_ms,
            'events_20260703.jsonl.gz' as _source_file,
            cast(1 as bigint) as _source_line
        )
        from events where anonymous_id = ? and client_time_ms = ?
        limit 1
        """,
        [login, device, last_ms],
    )
    full = copy_data(daily, tmp_path / "full")
    aggregates = ["int_daily_login_activity", "int_daily_login_events"]
    variables = json.dumps({"as_of_date": "2026-07-03"})
    dbt_run(daily, [*EVENT_MODELS, *aggregates], variables)
    dbt_run(full, [*EVENT_MODELS, *aggregates], variables, "--full-refresh")
    assert login_day_events(daily, login, str(day)) == before + anonymous
    assert_event_tables_equal(daily, full)
    built, rebuilt = (duckdb.connect(str(layout.warehouse_db), read_only=True) for layout in (daily, full))
    for model in aggregates:
        query = f"select * exclude (built_as_of_date) from main_intermediate.{model} order by all"
        assert built.execute(query).fetchall() == rebuilt.execute(query).fetchall(), model
    built.close()
    rebuilt.close()


def test_a_changed_tracking_rule_rebuilds_the_incremental_event_tables_in_full(ops, tmp_path):
    """Lowering the bot threshold (vars fundcdp.tracking) flags devices in every earlier delivery on the
    next incremental build, exactly as a full rebuild with the new rule does."""

    import yaml

    from orchestration.lib.paths import DBT_PROJECT_DIR

    rules = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["fundcdp"]
    rules["tracking"]["bot_max_events_per_minute"] = 3
    variables = json.dumps({"as_of_date": DAY2, "fundcdp": rules})

    incremental = copy_data(ops["daily"], tmp_path / "incremental")
    full = copy_data(ops["daily"], tmp_path / "full")
    dbt_run(incremental, EVENT_MODELS, variables)
    dbt_run(full, EVENT_MODELS, variables, "--full-refresh")
    incremental_db = duckdb.connect(str(incremental.warehouse_db), read_only=True)
    (earlier_bots,) = incremental_db.execute(
        "select count(*) from main_staging.stg_tracking__events where exclusion_reason = 'bot'"
        " and arrival_date < ?",
        [DAY1],
    ).fetchone()
    assert earlier_bots > 0
    incremental_db.close()
    assert_event_tables_equal(incremental, full)


def test_an_incremental_build_stopped_after_its_deletes_is_followed_by_a_full_one(ops, tmp_path):
    """A build killed between the rows an incremental model deleted while rendering and its insert leaves
    the model's scratch table behind: the next build of that model is a full one, so nothing the killed
    build deleted stays lost."""

    stopped = copy_data(ops["daily"], tmp_path / "stopped")
    full = copy_data(ops["daily"], tmp_path / "full")
    # What a killed build of the sessions leaves: its scratch table, and the rows it deleted before
    # inserting again (the staged and attributed events find theirs by comparing with their inputs;
    # the sessions, renumbering only what changed upstream, rely on the scratch table).
    con = duckdb.connect(str(stopped.warehouse_db))
    con.execute("create table main_intermediate.__restate_int_session_events as select 1 as kind")
    con.execute(
        "delete from main_intermediate.int_session_events where event_id in"
        " (select event_id from main_intermediate.int_session_events order by event_id limit 50)"
    )
    con.close()

    variables = json.dumps({"as_of_date": DAY2})
    dbt_run(stopped, EVENT_MODELS, variables)
    dbt_run(full, EVENT_MODELS, variables, "--full-refresh")
    stopped_db = duckdb.connect(str(stopped.warehouse_db), read_only=True)
    (scratch_left,) = stopped_db.execute(
        "select count(*) from duckdb_tables() where starts_with(table_name, '__')"
    ).fetchone()
    assert scratch_left == 0
    stopped_db.close()
    assert_event_tables_equal(stopped, full)


def test_a_restated_earlier_window_rewrites_only_its_persons_churn_snapshots(ops, tmp_path):
    """A delivery makes a device a bot: its events known before the last Sunday no longer count, so that
    Sunday's snapshot of the device's person changes although the Sunday is long past. The incremental
    build rewrites that person's snapshots, the new scored day and nothing else of the kept Sunday, and
    the churn snapshots and page contributions then equal a full rebuild."""

    sunday, day = "2026-06-28", "2026-07-03"
    daily = copy_data(ops["daily"], tmp_path / "incremental")
    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    device, person = con.execute(
        """
        select attributed.anonymous_id, attributed.person_id
        from main_intermediate.int_events_attributed as attributed
        inner join main_intermediate.int_churn_feature_snapshots as snapshots
            on attributed.person_id = snapshots.person_id and snapshots.snapshot_date = ?
        where attributed.anonymous_id is not null and attributed.login_key is not null
            and attributed.attribution is distinct from 'device_first_login'
            and attributed.event_date <= ? and attributed.arrival_date <= ?
        group by 1, 2
        order by count(*) desc, 1
        limit 1
        """,
        [sunday, sunday, sunday],
    ).fetchone()
    snapshot_sql = (
        "select * exclude (built_as_of_date) from main_intermediate.int_churn_feature_snapshots"
        " where person_id = ? and snapshot_date = ?"
    )
    before = con.execute(snapshot_sql, [person, sunday]).fetchall()
    (others,) = con.execute(
        "select count(*) from main_intermediate.int_churn_feature_snapshots"
        " where snapshot_date = ? and person_id != ?",
        [sunday, person],
    ).fetchone()
    con.close()
    assert len(before) == 1 and others > 0
    write_burst(daily, device, day, 31)
    full = copy_data(daily, tmp_path / "full")
    models = [*EVENT_MODELS, "int_login_activity_known", "int_purchases_known"]
    variables = json.dumps({"as_of_date": day})
    dbt_run(daily, models, variables)
    dbt_run(full, models, variables, "--full-refresh")

    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    after = con.execute(snapshot_sql, [person, sunday]).fetchall()
    # the device's events no longer count: fewer events in the Sunday's 30 days (or no longer active)
    assert after != before
    assert not after or after[0][6] < before[0][6]  # events_30d
    written = dict(
        con.execute(
            "select cast(snapshot_date as varchar), count(*) filter (where built_as_of_date = ?)"
            " from main_intermediate.int_churn_feature_snapshots where person_id != ?"
            " group by 1",
            [day, person],
        ).fetchall()
    )
    (scored,) = con.execute(
        "select count(*) from main_intermediate.int_churn_feature_snapshots"
        " where snapshot_date = ? and is_scoring_snapshot",
        [day],
    ).fetchone()
    con.close()
    # the kept Sunday is rewritten only for the restated persons (the device's person, and persons
    # sharing its logins); DAY2 (a Thursday, scored then) is gone; the new day is scored
    assert written[sunday] < others
    assert DAY2 not in written
    assert scored > 0
    assert_event_tables_equal(daily, full)
