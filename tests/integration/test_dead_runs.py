"""A run whose process dies is noticed whoever launched it, and a command giving up on the run lock
alerts (issue 31).

- Every run is tagged with the pid and host of the process that holds it (the settings resource), also
  a run not started by ``orchestration.runner`` (a run worker's path: a reconstructable job, as the
  daemon launches it, which carries no tags of its own).
- ``dead_run_reaper`` (a sensor, on by default) marks such a run failed and alerts ``run_crashed`` once
  after its process was killed with ``kill -9``.
- A command that gives up waiting for the run lock alerts ``run_failed`` naming itself, the holder and
  the wait.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import dagster as dg
import pytest

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.run_lock import lock_path, read_holder
from orchestration.lib.settings import HOST_TAG, PID_RUN_TAG, PID_TAG, FundcdpSettings
from tests.conftest import pipeline_environment, temp_instance
from tests.integration.test_concurrent_runs import wait_for
from tests.unit.test_run_lock import gone, start_holder


@pytest.fixture
def layout(tmp_path, monkeypatch) -> DataLayout:
    for name in [n for n in os.environ if n.startswith("FUNDCDP_ALERT_")]:
        monkeypatch.delenv(name)  # the alert log only
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def alerts(layout: DataLayout) -> list[dict]:
    if not layout.alerts_log.exists():
        return []
    lines = layout.alerts_log.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["alert"] for line in lines]


@dg.asset
def tagged_step(settings: FundcdpSettings) -> None:
    pass


def test_the_settings_resource_tags_each_run_with_the_process_that_holds_it(layout):
    instance = temp_instance(layout.dagster_home)
    with pipeline_environment(layout):
        plain = dg.materialize([tagged_step], instance=instance, resources={"settings": FundcdpSettings()})
        # a retried run carries its dead parent's tags until its own process replaces them
        retried = dg.materialize(
            [tagged_step], instance=instance, resources={"settings": FundcdpSettings()},
            tags={PID_TAG: "999999999", HOST_TAG: "old-host"},
        )  # fmt: skip
    for result in (plain, retried):
        tags = instance.get_run_by_id(result.run_id).tags
        assert (tags[PID_TAG], tags[HOST_TAG], tags[PID_RUN_TAG]) == (
            str(os.getpid()),
            socket.gethostname(),
            result.run_id,
        )


def test_a_run_worker_killed_with_kill_9_is_reaped_by_the_sensor_and_alerted_once(layout, tmp_path):
    from orchestration.defs.automation.jobs import dead_run_reaper

    home, record, release = tmp_path / "instance", tmp_path / "record.jsonl", tmp_path / "release"
    home.mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.run_lock_worker", str(layout.root), str(record), "execute_job"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RUN_LOCK_RELEASE": str(release), "RUN_LOCK_INSTANCE": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: record.exists() and record.read_text(), "the run's first step to start", 120)
        run_id = json.loads(record.read_text().splitlines()[0])["run_id"]
        instance = temp_instance(home)
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.STARTED
        assert (run.tags[PID_TAG], run.tags[HOST_TAG]) == (str(worker.pid), socket.gethostname())
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert gone(worker.pid)
    with pipeline_environment(layout), dg.build_sensor_context(instance=instance) as context:
        first = dead_run_reaper(context)
        again = dead_run_reaper(context)
    assert first.skip_message == f"reaped 1 dead run(s): {run_id}"
    assert again.skip_message == "no dead run"
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    [alert] = alerts(layout)
    assert (alert["kind"], alert["run_id"]) == ("run_crashed", run_id)
    assert alert["details"]["pid"] == str(worker.pid)
    assert alert["details"]["steps_in_progress"] == ["first_step"]
    assert read_holder(lock_path(layout.root)) is not None  # killed: its text stays, the lock is free
    with dg.build_sensor_context(instance=instance) as context:
        assert dead_run_reaper(context).skip_message == "no dead run"


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_retry_is_not_judged_by_the_pid_copied_from_its_dead_parent(layout):
    from orchestration.defs.automation.jobs import dead_run_reaper

    instance = temp_instance(layout.dagster_home)
    parent_pid, own_pid = dead_pid(), dead_pid()
    retry = instance.add_run(
        dg.DagsterRun(
            job_name="fundcdp_daily",
            status=dg.DagsterRunStatus.STARTING,  # its run worker still loading the code
            tags={
                "dagster/parent_run_id": "parent-run",
                PID_TAG: str(parent_pid),
                HOST_TAG: socket.gethostname(),
            },
        )
    )
    with pipeline_environment(layout), dg.build_sensor_context(instance=instance) as context:
        assert dead_run_reaper(context).skip_message == "no dead run"
        assert instance.get_run_by_id(retry.run_id).status == dg.DagsterRunStatus.STARTING
        # its own process tagged it (the settings resource), then died
        instance.add_run_tags(retry.run_id, {PID_TAG: str(own_pid), PID_RUN_TAG: retry.run_id})
        assert dead_run_reaper(context).skip_message == f"reaped 1 dead run(s): {retry.run_id}"
    assert [(a["kind"], a["details"]["pid"]) for a in alerts(layout)] == [("run_crashed", str(own_pid))]


def test_a_command_giving_up_on_the_run_lock_alerts_run_failed(layout, monkeypatch, capsys):
    from orchestration import cli

    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(layout.root))
    monkeypatch.setenv("FUNDCDP_RUN_LOCK_TIMEOUT", "1")
    holder = start_holder(layout.root, "cli backfill 2026-06-01 2026-06-30")
    try:
        assert cli._holding_run_lock("day 2026-07-01", lambda: pytest.fail("ran without the lock")) == 1
    finally:
        holder.kill()
        holder.wait()
    assert "not run: gave up after 1 s" in capsys.readouterr().err
    [alert] = alerts(layout)
    assert alert["kind"] == "run_failed"
    assert alert["summary"].startswith(
        f"cli day 2026-07-01 not run: gave up after 1 s (FUNDCDP_RUN_LOCK_TIMEOUT=1) waiting for run cli "
        f"backfill 2026-06-01 2026-06-30 (pid {holder.pid} on {socket.gethostname()})"
    )
    details = alert["details"]
    assert (details["command"], details["holder"]["run"], details["holder"]["pid"]) == (
        "cli day 2026-07-01",
        "cli backfill 2026-06-01 2026-06-30",
        holder.pid,
    )
    assert 1.0 <= details["waited_seconds"] < 30
    assert details["lock"] == str(lock_path(layout.root).absolute())


def test_a_lock_timeout_is_alerted_once_per_command_and_start(layout):
    from orchestration.lib.run_lock import RunLockTimeout, alert_lock_timeout

    problem = RunLockTimeout("gave up", {"run": "r1", "pid": 7}, 3.04, lock_path(layout.root))
    started = 1_780_000_000.0  # 2026-05-28T20:26:40+00:00
    assert alert_lock_timeout(layout.alerts_log, "cli day 2026-07-01", problem, started)
    assert not alert_lock_timeout(layout.alerts_log, "cli day 2026-07-01", problem, started)
    assert alert_lock_timeout(layout.alerts_log, "cli day 2026-07-02", problem, started)
    assert alert_lock_timeout(layout.alerts_log, "cli day 2026-07-01", problem, started + 60)
    sent = alerts(layout)
    assert [(a["summary"], a["details"]["started"]) for a in sent] == [
        ("cli day 2026-07-01 not run: gave up", "2026-05-28T20:26:40+00:00"),
        ("cli day 2026-07-02 not run: gave up", "2026-05-28T20:26:40+00:00"),
        ("cli day 2026-07-01 not run: gave up", "2026-05-28T20:27:40+00:00"),
    ]
    assert sent[0]["details"]["waited_seconds"] == 3.0
