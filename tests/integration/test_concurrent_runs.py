"""Runs that cannot interleave and a killed run that leaves no orphan (issue 31).

- Two runs over one data directory, one in-process (the command line's path) and one through a
  reconstructable job under the code location's executor (a run worker's path, as the daemon launches
  it): the second waits for the first, naming it, and their steps never interleave.
- Sensors, schedules and direct calls take no lock.
- The privacy step retries a DuckDB lock held by another process.
- On the operations dataset: two real ``cli day`` runs started together run one after the other and end
  exactly as two daily runs; a ``kill -9`` of a run while dbt builds leaves no dbt process, and the re-run
  ends as a clean run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.privacy import assets as privacy_assets
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.run_lock import lock_path, read_holder
from orchestration.lib.settings import FundcdpSettings
from tests.conftest import environment, temp_instance
from tests.operations_dataset import DAY1, DAY2, assert_same_state, copy_data, state
from tests.unit.test_run_lock import gone, start_holder


def wait_for(predicate, what: str, patience: float = 600.0, every: float = 0.05):
    """Poll ``predicate`` until it returns something true; fail naming ``what`` after ``patience`` s."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


def test_two_runs_over_one_data_directory_never_interleave(tmp_path):
    data_dir, record, release = tmp_path / "data", tmp_path / "record.jsonl", tmp_path / "release"
    worker = [sys.executable, "-m", "tests.run_lock_worker", str(data_dir), str(record)]
    env = {**os.environ, "FUNDCDP_RUN_LOCK_TIMEOUT": "300"}
    first = subprocess.Popen(
        [*worker, "materialize"], cwd=PROJECT_ROOT, env={**env, "RUN_LOCK_RELEASE": str(release)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    holder = wait_for(lambda: read_holder(lock_path(data_dir)), "the first run to take the lock", 120)
    assert holder["pid"] == first.pid
    second = subprocess.Popen(
        [*worker, "execute_job"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    seen = []
    for line in second.stderr:  # until the second run says it waits; then the first may finish
        seen.append(line)
        if "waiting for run " in line:
            break
    release.touch()
    first_out, _ = first.communicate(timeout=300)
    second_out, second_rest = second.communicate(timeout=300)
    second_err = "".join(seen) + second_rest
    assert first.returncode == 0 and second.returncode == 0, second_err[-3000:]
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    runs = list(dict.fromkeys(line["run_id"] for line in lines))
    assert len(runs) == 2 and f"run {runs[0]} " in first_out and f"run {runs[1]} " in second_out
    # All of the first run's steps, then all of the second's: never interleaved.
    assert [(line["run_id"], line["step"], line["event"]) for line in lines] == [
        (run, step, event)
        for run in runs
        for step in ("first_step", "second_step")
        for event in ("start", "end")
    ]
    for run in runs:
        steps = [line for line in lines if line["run_id"] == run]
        # One acquisition held for the whole run (the resource is set up once per run in-process), with
        # the run named as the holder, and the steps on the main thread (the thread that starts dbt).
        assert len({line["acquisition"] for line in steps}) == 1 and steps[0]["acquisition"] is not None
        assert {line["holder"]["run"] for line in steps} == {run}
        assert all(line["main_thread"] for line in steps)
    assert f"waiting for run {runs[0]} (pid {first.pid} on " in second_err
    assert "run lock " in second_err and " acquired after waiting " in second_err
    assert read_holder(lock_path(data_dir)) is None


def test_sensors_schedules_and_direct_calls_take_no_lock(tmp_path):
    holder = start_holder(tmp_path, "a-long-run")
    try:
        started = time.monotonic()
        with dg.build_resources({"settings": FundcdpSettings(data_dir=str(tmp_path))}) as resources:
            assert resources.settings.layout().root == tmp_path.resolve()
        # Not a timing claim: with the lock taken this would wait FUNDCDP_RUN_LOCK_TIMEOUT (6 h).
        assert time.monotonic() - started < 60
        assert read_holder(lock_path(tmp_path))["run"] == "a-long-run"
    finally:
        holder.kill()
        holder.wait()


HOLD_DUCKDB = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(600)"
)


def test_the_privacy_step_retries_a_duckdb_lock_held_elsewhere(tmp_path, monkeypatch):
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    duckdb.connect(str(layout.private_db)).close()
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_DUCKDB, str(layout.private_db)], stdout=subprocess.PIPE, text=True
    )
    assert other.stdout.readline().strip() == "held"
    attempts: list[str] = []

    def retention_opening_private_db(layout, as_of, rules):
        try:
            duckdb.connect(str(layout.private_db)).close()
        except duckdb.Error as error:
            attempts.append(str(error))
            other.kill()  # the analyst's session ends: the retry finds the file free
            other.wait()
            raise
        attempts.append("opened")
        return None

    monkeypatch.setattr(privacy_assets, "apply_retention", retention_opening_private_db)
    monkeypatch.setenv("FUNDCDP_RETRY_WAIT_SECONDS", "0")
    result = dg.materialize(
        [privacy_assets.privacy],
        instance=temp_instance(layout.dagster_home),
        resources={"settings": FundcdpSettings(data_dir=str(layout.root), as_of_date=DAY1)},
        partition_key=DAY1,
        raise_on_error=False,
    )
    assert result.success
    assert len(attempts) == 2 and "Could not set lock on file" in attempts[0] and attempts[1] == "opened"
    retries = [event for event in result.all_events if event.event_type_value == "STEP_RESTARTED"]
    assert len(retries) == 1


def cli(layout: DataLayout, *args: str, failpoint: str | None = None) -> subprocess.Popen:
    env = {**os.environ, **environment(layout), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("FUNDCDP_FAILPOINT", None)
    if failpoint:
        env["FUNDCDP_FAILPOINT"] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def two_day_runs_started_together(base: DataLayout) -> tuple[subprocess.Popen, subprocess.Popen, str, str]:
    """``cli day DAY1``, and ``cli day DAY2`` started once DAY1 holds the lock; both outputs."""
    first = cli(base, "day", DAY1)
    wait_for(
        lambda: (read_holder(lock_path(base.root)) or {}).get("pid") == first.pid, "DAY1 to hold the lock"
    )
    second = cli(base, "day", DAY2)
    _, first_err = first.communicate(timeout=900)
    _, second_err = second.communicate(timeout=900)
    return first, second, first_err, second_err


def dbt_processes_of(pid: int) -> list[int]:
    """Processes started by dbt's launcher for the run process ``pid`` (its marker in their environment)."""
    marker = f"FUNDCDP_DBT_PARENT_PID={pid}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return [child for child in found if not gone(child, patience=0)]


def launched(pid: int) -> bool:
    """Whether the process ``pid`` found by the launcher's marker is dbt itself, no longer the launcher."""
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    return b"dbt_child" not in command and b"dbt-child" not in command


def test_two_cli_days_started_together_run_in_turn_and_end_as_daily_runs(ops, tmp_path):
    layout = copy_data(ops["base"], tmp_path / "pair")
    first, second, first_err, second_err = two_day_runs_started_together(layout)
    assert first.returncode == 0, first_err[-3000:]
    assert second.returncode == 0, second_err[-3000:]
    assert f"(pid {first.pid} on " in second_err and "waiting for " in second_err
    assert "waiting for " not in first_err
    assert_same_state(state(layout), ops["day2_state"])


def test_a_run_killed_while_dbt_builds_leaves_no_dbt_and_the_rerun_is_clean(ops, tmp_path):
    layout = copy_data(ops["after_day1"], tmp_path / "killed")
    run = cli(layout, "day", DAY2)
    # dbt itself, once the launcher (found by the same marker) has set its process group and exec'd it
    dbt = wait_for(
        lambda: [p for p in dbt_processes_of(run.pid) if launched(p)], "dbt to start under the run"
    )
    assert os.getpgid(dbt[0]) == dbt[0]  # dbt leads its own process group
    run.send_signal(signal.SIGKILL)  # a plain kill -9 of the run, not of dbt
    run.communicate(timeout=60)
    assert run.returncode == -9
    assert all(gone(pid) for pid in dbt), f"dbt outlived the killed run: {dbt_processes_of(run.pid)}"
    assert dbt_processes_of(run.pid) == []
    rerun = cli(layout, "day", DAY2)
    _, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err[-3000:]
    assert_same_state(state(layout), ops["day2_state"])


def test_every_step_of_the_code_location_takes_the_run_lock():
    """The lock is held by the settings resource: every executable asset and check must require it, or a
    run of only that step would run unlocked."""
    from orchestration.definitions import defs

    executable = [assets for assets in defs().resolve_asset_graph().assets_defs if assets.is_executable]
    assert len(executable) > 20
    unlocked = [
        sorted(key.to_user_string() for key in assets.keys) or sorted(str(key) for key in assets.check_keys)
        for assets in executable
        if "settings" not in assets.required_resource_keys
    ]
    assert unlocked == []


def test_a_run_inside_a_command_holding_the_lock_takes_it_nested_without_waiting(tmp_path, monkeypatch):
    # The lock is re-entrant per thread: the command's thread is the one that sets up the run's resources.
    from orchestration.lib.run_lock import hold_run_lock

    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FUNDCDP_RUN_LOCK_TIMEOUT", "0")  # waiting at all would fail the run
    seen = []

    @dg.asset
    def holder_seen(settings: FundcdpSettings) -> None:
        seen.append(read_holder(lock_path(tmp_path / "data"))["run"])

    with hold_run_lock(tmp_path / "data", run="cli day 2026-07-01", timeout=0):
        (tmp_path / "home").mkdir()
        instance = temp_instance(tmp_path / "home")
        result = dg.materialize([holder_seen], instance=instance, resources={"settings": FundcdpSettings()})
        assert read_holder(lock_path(tmp_path / "data"))["run"] == "cli day 2026-07-01"
    assert result.success and seen == [result.run_id]
