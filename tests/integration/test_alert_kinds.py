"""Every failure alerts, once per cause (issue 31): a failed load, a failed run (in-process and through the
run-failure sensor), a crashed run (reaped, or failed by Dagster's run monitoring) and a delivery missing
past its deadline (sensor and schedule), each received by a local webhook and a local SMTP server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import datetime

import dagster as dg
import pytest

from orchestration.lib.layout import DataLayout
from tests import alert_servers
from tests.alert_servers import mail_text, received_mails, smtp_env, webhook_bodies
from tests.conftest import pipeline_environment, temp_instance
from tests.landing_builder import write_delivery

http_server, smtp_server, no_proxy = (
    alert_servers.http_server,
    alert_servers.smtp_server,
    alert_servers.no_proxy,
)

DAY = "2026-07-01"
HEADER = (
    "order_id,fund_account_id,fund_code,trade_type,order_at,confirm_date,order_status,amount,shares,nav,fee,"
    "target_fund_code,sip_agreement_id,channel\n"
)


@pytest.fixture
def channels(monkeypatch, no_proxy, http_server, smtp_server):
    """The generic webhook and e-mail configured in the environment (what a run reads)."""
    for name in [n for n in os.environ if n.startswith("FUNDCDP_ALERT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FUNDCDP_ALERT_WEBHOOK_URL", f"{http_server.base}/hook")
    for name, value in smtp_env(smtp_server).items():
        monkeypatch.setenv(name, value)
    return http_server, smtp_server


@pytest.fixture
def layout(tmp_path) -> DataLayout:
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def received(channels) -> list[tuple[dict, str, str]]:
    """(webhook body, mail subject, mail body) of each alert received, checking both servers agree."""
    http, smtp = channels
    bodies, mails = webhook_bodies(http), received_mails(smtp)
    assert len(bodies) == len(mails)
    # a long subject is folded on the wire; unfolded, it may keep two spaces where it was cut
    return [
        (body, " ".join(mail["Subject"].split()), mail_text(mail))
        for body, mail in zip(bodies, mails, strict=True)
    ]


def break_trade_orders(layout: DataLayout, line: int) -> str:
    """trade_orders of DAY with bytes that are not UTF-8 on ``line``; returns the file's path."""
    path = layout.landing_day("trade", DAY) / f"trade_orders_{DAY.replace('-', '')}.csv"
    filler = b"".join(b"x\n" for _ in range(line - 2))
    path.write_bytes(HEADER.encode() + filler + b"\xff\xfe broken\n")
    return str(path)


def test_a_failed_load_alerts_per_table_and_day_once_per_cause(layout, channels):
    from orchestration.defs.automation.alerting import alert_on_run_failure
    from orchestration.runner import load_raw

    write_delivery(layout, DAY, {})
    path = break_trade_orders(layout, line=2)
    instance = temp_instance(layout.dagster_home)
    with pipeline_environment(layout):
        first = load_raw(instance, [DAY])
    assert not first.success
    byte = len(HEADER.encode())
    error = f"{path}: unreadable utf-8 at byte {byte} (line 2): invalid start byte"
    (load, load_subject, load_text), (run, run_subject, run_text) = received(channels)
    assert load == {
        "kind": "load_failed",
        "summary": f"trade.trade_orders for {DAY} not loaded: {error}",
        "asset": "trade/trade_orders",
        "partition": DAY,
        "run_id": first.run_id,
        "details": {"source": "trade", "table": "trade_orders", "day": DAY, "file": path, "line": 2,
                    "error": error},
    }  # fmt: skip
    assert load_subject == f"[fundcdp] load_failed: trade.trade_orders for {DAY} not loaded: {error}"
    assert load_text.splitlines()[1:] == [
        "asset: trade/trade_orders", f"partition: {DAY}", f"run id: {first.run_id}", "details:",
        "  source: trade", "  table: trade_orders", f"  day: {DAY}", f"  file: {path}", "  line: 2",
        f"  error: {error}",
    ]  # fmt: skip
    step_error = f"trade.trade_orders: 1 day(s) not loaded: {DAY}: {error}"
    assert (run["kind"], run["run_id"], run["partition"]) == ("run_failed", first.run_id, f"{DAY}")
    # the command line's load is a run of the named job fundcdp_load (it shows in the UI's Overview)
    assert instance.get_run_by_id(first.run_id).job_name == "fundcdp_load"
    assert run["summary"] == f"run of job fundcdp_load for {DAY} failed in step(s) trade__trade_orders"
    assert run["details"]["failed_steps"] == [f"trade__trade_orders: {step_error}"]
    assert run_subject == f"[fundcdp] run_failed: {run['summary']}"
    assert f"    - trade__trade_orders: {step_error}" in run_text.splitlines()

    # the run-failure sensor sees the same run (a daemon running meanwhile): nothing sent twice
    failure = next(event for event in first.all_events if event.is_run_failure)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=failure, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(first.run_id),
    ).for_run_failure()  # fmt: skip
    with pipeline_environment(layout):
        alert_on_run_failure(context)
    assert len(received(channels)) == 2

    # a retry failing the same way: the load is not alerted again; the new run is (once)
    with pipeline_environment(layout):
        retry = load_raw(instance, [DAY])
    assert [(body["kind"], body["run_id"]) for body, _, _ in received(channels)[2:]] == [
        ("run_failed", retry.run_id)
    ]
    # another cause on the same day alerts again, naming its line
    break_trade_orders(layout, line=3)
    with pipeline_environment(layout):
        other = load_raw(instance, [DAY])
    new = [body for body, _, _ in received(channels)[3:]]
    assert [(body["kind"], body["run_id"]) for body in new] == [
        ("load_failed", other.run_id), ("run_failed", other.run_id)
    ]  # fmt: skip
    assert new[0]["details"]["line"] == 3
    assert (
        new[0]["details"]["error"]
        == f"{path}: unreadable utf-8 at byte {byte + 2} (line 3): invalid start byte"
    )
    # the alert log holds what was sent, nothing for the skipped repeats
    assert len(layout.alerts_log.read_text().splitlines()) == 5


def test_an_exception_escaping_an_in_process_run_alerts(layout, channels):
    from orchestration.runner import alerts_on_failure

    def load_something(instance, days):
        raise RuntimeError("the landing zone is not mounted")

    with pipeline_environment(layout), pytest.raises(RuntimeError, match="not mounted"):
        alerts_on_failure(load_something)(temp_instance(layout.dagster_home), ["2026-07-01", "2026-07-02"])
    [(body, subject, _)] = received(channels)
    summary = (
        "load_something for 2026-07-01..2026-07-02 failed before its run started: "
        "RuntimeError: the landing zone is not mounted"
    )
    assert (body["kind"], body["summary"], body["partition"]) == (
        "run_failed",
        summary,
        "2026-07-01..2026-07-02",
    )
    assert subject == f"[fundcdp] run_failed: {summary}"


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def started_run(instance: dg.DagsterInstance, pid: int, step: str) -> dg.DagsterRun:
    """A run record as an in-process run leaves it when its process is killed in ``step``."""
    from orchestration.lib.settings import HOST_TAG, PID_TAG

    run = instance.add_run(
        dg.DagsterRun(
            job_name="fundcdp_daily",
            status=dg.DagsterRunStatus.STARTED,
            tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname(), "dagster/partition": DAY},
        )
    )
    instance.report_dagster_event(
        dg.DagsterEvent(event_type_value="STEP_START", job_name=run.job_name, step_key=step),
        run_id=run.run_id,
    )
    return run


def test_a_killed_run_alerts_run_crashed_once(layout, channels):
    from orchestration.defs.automation.alerting import alert_on_run_failure
    from orchestration.defs.automation.dead_runs import reap_dead_runs

    instance = temp_instance(layout.dagster_home)
    pid = dead_pid()
    run = started_run(instance, pid, "fundcdp_dbt_models")
    with pipeline_environment(layout):
        assert reap_dead_runs(instance) == [run.run_id]
        assert reap_dead_runs(instance) == []
    [(body, subject, text)] = received(channels)
    summary = (
        f"run of job fundcdp_daily for {DAY} crashed in step(s) fundcdp_dbt_models: its process "
        f"(pid {pid}) died"
    )
    assert body == {
        "kind": "run_crashed",
        "summary": summary,
        "asset": None,
        "partition": DAY,
        "run_id": run.run_id,
        "details": {
            "pid": str(pid),
            "steps_in_progress": ["fundcdp_dbt_models"],
            "error": f"the process of run {run.run_id} (pid {pid}) is gone: killed or crashed",
        },
    }
    assert subject == f"[fundcdp] run_crashed: {summary}"
    assert f"  pid: {pid}" in text.splitlines()
    # the run-failure sensor sees the reaped run fail: the run is alerted once
    reaped = instance.get_run_by_id(run.run_id)
    assert reaped.status == dg.DagsterRunStatus.FAILURE
    failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=failure[0].event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=reaped,
    ).for_run_failure()  # fmt: skip
    with pipeline_environment(layout):
        alert_on_run_failure(context)
    assert len(received(channels)) == 1


def test_a_run_whose_worker_died_under_the_daemon_alerts_run_crashed(layout, channels):
    from orchestration.defs.automation.alerting import alert_on_run_failure

    instance = temp_instance(layout.dagster_home)
    run = started_run(instance, os.getpid(), "trade__trade_orders")
    message = f"Detected run worker status WorkerStatus.FAILED. Marking run {run.run_id} as failed."
    instance.report_run_failed(run, message)  # what Dagster's run monitoring does
    [record] = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=instance.get_run_by_id(run.run_id),
    ).for_run_failure()  # fmt: skip
    with pipeline_environment(layout):
        alert_on_run_failure(context)
        alert_on_run_failure(context)
    [(body, _, _)] = received(channels)
    assert (body["kind"], body["run_id"]) == ("run_crashed", run.run_id)
    assert body["summary"] == (
        f"run of job fundcdp_daily for {DAY} crashed in step(s) trade__trade_orders: its process "
        f"(pid {os.getpid()}) died"
    )
    assert body["details"]["error"] == message


@pytest.fixture
def late_landing(layout, monkeypatch) -> DataLayout:
    """Deliveries of 07-01 .. 07-03, settled; 07-03 lacks its CRM and one trade file."""
    for day in ("2026-07-01", "2026-07-02", "2026-07-03"):
        write_delivery(layout, day, {})
    for path in layout.landing_day("crm", "2026-07-03").iterdir():
        path.unlink()
    layout.landing_day("crm", "2026-07-03").rmdir()
    (layout.landing_day("trade", "2026-07-03") / "nav_20260703.csv").unlink()
    stamp = datetime.now().timestamp() - 3600
    for path in layout.landing.glob("*/*/*"):
        os.utime(path, (stamp, stamp))
    monkeypatch.setenv("FUNDCDP_DELIVERY_SETTLE_SECONDS", "300")
    monkeypatch.setenv("FUNDCDP_DELIVERY_DEADLINE", "09:00")
    return layout


EXPECTED_MISSING = {
    "crm": ["crm: nothing delivered (due: daily)"],
    "trade": ["trade: nav_20260703.csv not arrived"],
}


def assert_missing_alerts(channels) -> None:
    alerts = received(channels)
    assert [(body["kind"], body["asset"], body["partition"]) for body, _, _ in alerts] == [
        ("delivery_missing", "landing/crm", "2026-07-03"),
        ("delivery_missing", "landing/trade", "2026-07-03"),
    ]
    for (body, subject, _), source in zip(alerts, ("crm", "trade"), strict=True):
        summary = (
            f"{source} delivery for 2026-07-03 still incomplete after its deadline; the day is not loaded "
            "(sources incomplete: crm, trade)"
        )
        assert body["summary"] == summary and subject == f"[fundcdp] delivery_missing: {summary}"
        assert body["details"] == {
            "source": source, "sources_incomplete": ["crm", "trade"], "problems": EXPECTED_MISSING[source]
        }  # fmt: skip


def test_a_delivery_missing_past_its_deadline_alerts_once_per_source_and_day(late_landing, channels):
    from orchestration.defs.automation.jobs import landing_delivery_sensor
    from orchestration.lib.settings import FundcdpSettings

    instance = temp_instance(late_landing.dagster_home)
    resources = {"settings": FundcdpSettings(data_dir=str(late_landing.root))}
    cursor = None
    for _ in range(2):  # the second tick finds the day still incomplete: nothing new
        with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources) as context:
            cursor = landing_delivery_sensor(context).cursor
    assert_missing_alerts(channels)


def test_the_schedule_alerts_a_missing_delivery_too(late_landing, channels):
    from orchestration.defs.automation.jobs import daily_schedule
    from orchestration.lib.rules import local_zone
    from orchestration.lib.settings import FundcdpSettings

    instance = temp_instance(late_landing.dagster_home)
    schedule = daily_schedule("07:30")
    resources = {"settings": FundcdpSettings(data_dir=str(late_landing.root))}
    # 07-04: before 07-03's deadline (07-04 09:00); 07-05: past it (07-04, not delivered at all, is not
    # past its own deadline yet); 07-05 again: nothing new
    for ticked in (datetime(2026, 7, 4, 7, 30), datetime(2026, 7, 5, 7, 30), datetime(2026, 7, 5, 8, 0)):
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=ticked.replace(tzinfo=local_zone()),
            resources=resources,
        ) as context:
            schedule(context)
        if ticked.day == 4:
            assert received(channels) == []
    assert_missing_alerts(channels)


def test_the_sensor_alerts_a_run_that_has_no_code_location(layout, channels):
    """A run started in-process (no code location origin) failing while the daemon's sensor, which belongs
    to the code location's repository, ticks: the sensor alerts it (it used to skip such runs)."""
    from orchestration.defs.automation.alerting import alert_on_run_failure
    from orchestration.defs.ingest.assets import raw_assets
    from orchestration.lib.settings import FundcdpSettings

    write_delivery(layout, DAY, {})
    path = break_trade_orders(layout, line=2)
    instance = temp_instance(layout.dagster_home)
    [trade_orders] = [a for a in raw_assets if a.key == dg.AssetKey(["trade", "trade_orders"])]
    with pipeline_environment(layout):
        with dg.build_sensor_context(instance=instance, repository_name="fundcdp") as context:
            alert_on_run_failure.evaluate_tick(context)  # the first tick starts the cursor
            cursor = context.cursor
        failed = dg.materialize(
            [trade_orders], instance=instance, resources={"settings": FundcdpSettings()},
            partition_key=DAY, raise_on_error=False,
        )  # fmt: skip
        assert not failed.success and received(channels) == []  # a run outside pipeline.py: no alert yet
        for _ in range(2):  # a second tick: nothing new
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, repository_name="fundcdp"
            ) as context:
                alert_on_run_failure.evaluate_tick(context)
                cursor = context.cursor
    alerts = [body for body, _, _ in received(channels)]
    assert [(a["kind"], a["run_id"]) for a in alerts] == [
        ("load_failed", failed.run_id),
        ("run_failed", failed.run_id),
    ]
    assert alerts[0]["details"]["file"] == path and alerts[0]["details"]["line"] == 2


def test_a_run_failing_many_days_sends_twenty_load_alerts_and_one_for_the_rest(layout, monkeypatch):
    from orchestration.defs.automation import alerting

    failures = [("trade", "nav", f"2026-03-{day:02d}", f"refusing to load day {day}") for day in range(1, 24)]
    monkeypatch.setattr(alerting, "load_failures", lambda instance, run: failures)
    instance = temp_instance(layout.dagster_home)
    run = instance.add_run(dg.DagsterRun(job_name="fundcdp_daily", tags={"dagster/partition": "2026-03-23"}))
    for _ in range(2):  # the same failures again: nothing new
        alerting.alert_failed_run(instance, run, "boom", layout.alerts_log, environ={})
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    assert [(a["kind"], a["partition"]) for a in alerts] == [
        *(("load_failed", f"2026-03-{day:02d}") for day in range(1, 21)),
        ("load_failed", "2026-03-21..2026-03-23"),
        ("run_failed", "2026-03-23"),
    ]
    assert alerts[20]["summary"] == "3 more source table day(s) not loaded, 2026-03-21 .. 2026-03-23"
    assert alerts[20]["details"] == {
        "not_loaded": [f"trade.nav 2026-03-{day}: refusing to load day {day}" for day in (21, 22, 23)]
    }


def test_a_raw_step_failing_unexpectedly_is_a_load_failure_of_the_runs_days(layout):
    from dagster._core.execution.plan.objects import StepFailureData
    from dagster._utils.error import SerializableErrorInfo

    from orchestration.defs.automation.alerting import failed_steps, load_failures
    from orchestration.lib.partitions import RANGE_END_TAG, RANGE_START_TAG

    instance = temp_instance(layout.dagster_home)
    run = instance.add_run(
        dg.DagsterRun(
            job_name="fundcdp_daily", tags={RANGE_START_TAG: "2026-07-01", RANGE_END_TAG: "2026-07-03"}
        )
    )
    # what Dagster records for an exception escaping a step: its wrapper, caused by the exception
    error = SerializableErrorInfo(
        message='dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op '
        '"tracking__events":\n',
        stack=[], cls_name="DagsterExecutionStepExecutionError",
        cause=SerializableErrorInfo(
            message="OSError: IO Error: could not read events_20260702.jsonl.gz\n", stack=[],
            cls_name="OSError",
        ),
    )  # fmt: skip
    for step, data in (
        ("tracking__events", StepFailureData(error=error, user_failure_data=None)),
        ("fundcdp_dbt_models", StepFailureData(error=error, user_failure_data=None)),  # not a load
    ):
        instance.report_dagster_event(
            dg.DagsterEvent(event_type_value="STEP_FAILURE", job_name=run.job_name, step_key=step,
                            event_specific_data=data),
            run_id=run.run_id,
        )  # fmt: skip
    message = "OSError: IO Error: could not read events_20260702.jsonl.gz"
    assert load_failures(instance, run) == [("tracking", "events", "2026-07-01..2026-07-03", message)]
    assert failed_steps(instance, run.run_id) == {"tracking__events": message, "fundcdp_dbt_models": message}


def test_a_run_failing_before_any_step_alerts_the_users_exception(layout, channels, monkeypatch):
    from orchestration.defs.automation.alerting import run_failure_error
    from orchestration.runner import load_raw
    from tests.unit.test_run_lock import start_holder

    monkeypatch.setenv("FUNDCDP_RUN_LOCK_TIMEOUT", "1")
    instance = temp_instance(layout.dagster_home)
    holder = start_holder(layout.root, "run-held-by-another-process")
    try:
        with pipeline_environment(layout):
            result = load_raw(instance, [DAY])
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    [(body, subject, text)] = received(channels)
    error = body["details"]["error"]
    # the run lock's own words (the lock, the holder), not Dagster's "An exception was thrown"
    assert error.startswith(
        "orchestration.lib.run_lock.RunLockTimeout: gave up after 1 s (FUNDCDP_RUN_LOCK_TIMEOUT=1) waiting "
        f"for run run-held-by-another-process (pid {holder.pid} on "
    )
    assert f"holding {layout.root / 'state' / 'run.lock'} since " in error
    assert "An exception was thrown" not in json.dumps(body)
    assert (body["kind"], body["run_id"]) == ("run_failed", result.run_id)
    one_line = " ".join(error.split())
    shown = one_line if len(one_line) <= 300 else one_line[:299] + "…"
    assert body["summary"] == f"run of job fundcdp_load for {DAY} failed: {shown}"
    assert subject.startswith(f"[fundcdp] run_failed: run of job fundcdp_load for {DAY} failed: ")
    assert f"error: {' '.join(error.split())}" in text
    # the run-failure sensor reads the same failure event the same way
    failure = next(event for event in result.all_events if event.is_run_failure)
    assert run_failure_error(failure) == error
