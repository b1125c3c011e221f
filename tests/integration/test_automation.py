"""The delivery sensor and the daily schedule, evaluated on a real landing zone (no runs launched), the
instance settings (pools, run queue), and the pool on every asset and check that touches a DuckDB file."""

from __future__ import annotations

import copy
import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime

import dagster as dg
import pytest

from orchestration.defs.automation.jobs import daily_schedule, landing_delivery_sensor
from orchestration.lib.layout import DataLayout
from orchestration.lib.partitions import DUCKDB_WRITER_POOL, RANGE_END_TAG, RANGE_START_TAG
from orchestration.lib.rules import business_rules_overridden, load_business_rules, local_zone
from orchestration.lib.settings import FundcdpSettings
from tests.conftest import temp_instance
from tests.landing_builder import event, write_delivery

DAYS = ["2026-07-01", "2026-07-02", "2026-07-03"]


def deliver(layout: DataLayout, day: str, events: int = 2) -> None:
    rows = [
        event(f"{day}-e{n}", "page_view", f"{day} 10:00:0{n}", f"dev-{n}", f"L{n}") for n in range(events)
    ]
    write_delivery(layout, day, {"events": rows})


def settle(layout: DataLayout, seconds_ago: float = 3600, day: str = "*") -> None:
    """Backdate the landing files (of ``day``), as if they arrived ``seconds_ago``."""
    stamp = datetime.now().timestamp() - seconds_ago
    for path in layout.landing.glob(f"*/{day}/*"):
        if path.is_file():
            os.utime(path, (stamp, stamp))


@pytest.fixture
def landing(tmp_path, monkeypatch) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    for day in DAYS:
        deliver(layout, day)
    settle(layout)
    monkeypatch.setenv("FUNDCDP_DELIVERY_SETTLE_SECONDS", "300")
    monkeypatch.setenv("FUNDCDP_DELIVERY_DEADLINE", "09:00")
    for name in [n for n in os.environ if n.startswith("FUNDCDP_ALERT_")]:
        monkeypatch.delenv(name)
    return layout


@pytest.fixture
def instance(tmp_path) -> dg.DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    return temp_instance(home)


def tick(layout: DataLayout, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    # FundcdpSettings holds a run's lock (a generator resource): its context is opened as a context manager
    with dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"settings": FundcdpSettings(data_dir=str(layout.root))}
    ) as context:
        return landing_delivery_sensor(context)


def opened(context):
    """A sensor or schedule context with its resources open (FundcdpSettings is a generator resource: it
    holds a run's lock), for a test to evaluate several times."""
    return context.__enter__()


def remove_listed_file(layout: DataLayout, day: str) -> str:
    name = f"trade_orders_{day.replace('-', '')}.csv"
    (layout.landing_day("trade", day) / name).unlink()
    return name


def test_a_tick_launches_the_complete_days_and_reports_the_incomplete_one(landing, instance):
    missing = remove_listed_file(landing, "2026-07-03")
    first = tick(landing, instance)
    assert [
        (r.partition_key, r.tags.get(RANGE_START_TAG), r.tags.get(RANGE_END_TAG)) for r in first.run_requests
    ] == [(None, "2026-07-01", "2026-07-02")]
    second = tick(landing, instance, first.cursor)
    assert second.run_requests == []
    assert second.skip_reason.skip_message == (
        f"no new or changed complete delivery; waiting:\n2026-07-03: trade: {missing} not arrived"
    )


def test_a_file_with_fewer_rows_than_its_control_file_says_is_not_loaded(landing, instance):
    path = landing.landing_day("tracking", "2026-07-01") / "events_20260701.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(lines[:1]) + "\n").encode(), mtime=0))
    settle(landing)
    result = tick(landing, instance)
    assert result.run_requests == []
    assert "2026-07-01: tracking: events_20260701.jsonl.gz has 1 of 2 rows" in result.skip_reason.skip_message
    assert (
        "2026-07-02: waits for 2026-07-01 (days are built in date order)" in result.skip_reason.skip_message
    )


def test_files_still_arriving_wait_for_the_settle_period(landing, instance):
    deliver(landing, "2026-07-04")  # just written
    result = tick(landing, instance)
    [request] = result.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2026-07-01", "2026-07-03")
    assert "2026-07-04: files changed" in tick(landing, instance, result.cursor).skip_reason.skip_message


def test_an_incomplete_day_past_its_deadline_is_alerted_once(landing, instance):
    remove_listed_file(landing, "2026-07-03")
    first = tick(landing, instance)  # now is long past 2026-07-04 09:00
    tick(landing, instance, first.cursor)
    alerts = [json.loads(line)["alert"] for line in landing.alerts_log.read_text().splitlines()]
    assert [(a["kind"], a["partition"], a["details"]["problems"]) for a in alerts] == [
        ("delivery_missing", "2026-07-03", ["trade: trade_orders_20260703.csv not arrived"])
    ]


def test_a_corrected_redelivery_reruns_that_day_and_the_days_after_it(landing, instance):
    first = tick(landing, instance)
    assert first.run_requests[0].tags[RANGE_END_TAG] == "2026-07-03"
    assert tick(landing, instance, first.cursor).run_requests == []
    deliver(landing, "2026-07-02", events=3)  # the corrected file, with its control file
    settle(landing, 600, day="2026-07-02")
    corrected = tick(landing, instance, first.cursor)
    [request] = corrected.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2026-07-02", "2026-07-03")
    assert request.tags["fundcdp/trigger"] == (
        "corrected re-delivery of 2026-07-02: re-running 2026-07-02 .. 2026-07-03"
    )
    assert request.run_key != first.run_requests[0].run_key


def test_the_schedule_runs_yesterday_when_its_delivery_is_complete(landing, instance):
    schedule = daily_schedule("07:30")
    assert schedule.cron_schedule == "30 7 * * *" and schedule.execution_timezone == "Asia/Shanghai"
    settings = FundcdpSettings(data_dir=str(landing.root))
    context = opened(
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 7, 4, 7, 30, tzinfo=local_zone()),
            resources={"settings": settings},
        )
    )
    request = schedule(context)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2026-07-03"
    remove_listed_file(landing, "2026-07-03")
    skipped = schedule(context)
    assert isinstance(skipped, dg.SkipReason)
    assert (
        skipped.skip_message
        == "delivery for 2026-07-03 incomplete: trade: trade_orders_20260703.csv not arrived"
    )
    with pytest.raises(ValueError, match="FUNDCDP_DAILY_RUN_AT='7h30' is not a time of day in HH:MM form"):
        daily_schedule("7h30")


def weekly_crm_without_tracking() -> dict:
    """The project's rules with deliveries.schedule crm [mon] (2026-07-06 is a Monday), tracking none."""
    rules = copy.deepcopy(load_business_rules())
    rules["deliveries"]["schedule"] = {"trade": "daily", "crm": ["mon"], "tracking": "none"}
    return rules


def test_sensor_and_schedule_wait_only_for_the_sources_due(landing, instance):
    # Wed 07-01 .. Fri 07-03: trade only (the CRM exports on Mondays; no tracking at all)
    shutil.rmtree(landing.landing / "tracking")
    for day in DAYS:
        shutil.rmtree(landing.landing_day("crm", day))
    # the project's default (every source daily): nothing runs, every day waits for CRM and tracking
    result = tick(landing, instance)
    assert result.run_requests == []
    assert "2026-07-01: crm: nothing delivered (due: daily); tracking: nothing delivered (due: daily)" in (
        result.skip_reason.skip_message
    )
    settings = FundcdpSettings(data_dir=str(landing.root))
    context = opened(
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 7, 3, 7, 30, tzinfo=local_zone()),
            resources={"settings": settings},
        )
    )
    with business_rules_overridden(weekly_crm_without_tracking()):
        [request] = tick(landing, instance).run_requests
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("2026-07-01", "2026-07-03")
        scheduled = daily_schedule("07:30")(context)
        assert isinstance(scheduled, dg.RunRequest) and scheduled.partition_key == "2026-07-02"
        # Monday 07-06 without its CRM export: waits and is alerted after its deadline, naming CRM only
        deliver(landing, "2026-07-06")
        shutil.rmtree(landing.landing_day("crm", "2026-07-06"))
        shutil.rmtree(landing.landing / "tracking")
        settle(landing)
        result = tick(landing, instance, tick(landing, instance).cursor)
    assert "2026-07-06: crm: nothing delivered (due: mon)" in result.skip_reason.skip_message
    alerts = [json.loads(line)["alert"] for line in landing.alerts_log.read_text().splitlines()]
    assert [(a["partition"], a["details"]["problems"]) for a in alerts if a["partition"] == "2026-07-06"] == [
        ("2026-07-06", ["crm: nothing delivered (due: mon)"])
    ]


def test_the_instance_settings_serialise_warehouse_writers_and_runs(tmp_path):
    """The written dagster.yaml, loaded by Dagster itself (in a separate process: an instance created here
    would linger in Dagster's process-wide state)."""
    from orchestration.lib.instance import ensure_instance_config

    home = tmp_path / "dagster_home"
    ensure_instance_config(home)
    probe = (
        "import dagster as dg; i = dg.DagsterInstance.get(); c = i.get_concurrency_config(); "
        "print(c.pool_config.default_pool_limit, c.run_queue_config.max_concurrent_runs, "
        "i.run_monitoring_enabled, i.run_retries_enabled)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["1", "1", "True", "True"]


def test_every_step_of_the_daily_job_is_in_the_writer_pool():
    """10 raw tables, the dbt build, 10 quality gates, the churn model and its AUC floor, the behaviour
    clusters, tags_model, analytics, segments and the consent check."""
    from orchestration.definitions import defs

    job = defs().resolve_job_def("fundcdp_daily")
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    assert len(pools) == 29
    assert set(pools.values()) == {DUCKDB_WRITER_POOL}, pools
