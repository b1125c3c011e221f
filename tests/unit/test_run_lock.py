"""The data-directory run lock (orchestration/lib/run_lock.py) and dbt's launcher
(orchestration/defs/transform/dbt_child.py, orchestration/bin/dbt-child), without Dagster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.lib import run_lock
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.run_lock import RunLockTimeout, hold_run_lock, lock_path, read_holder

LAUNCHER = PROJECT_ROOT / "orchestration" / "bin" / "dbt-child"


def start_holder(data_dir: Path, run: str) -> subprocess.Popen:
    """Another process holding the lock of ``data_dir`` (until killed), once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.run_lock_worker", "hold", str(data_dir), run],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def gone(pid: int, patience: float = 20.0) -> bool:
    """True once process ``pid`` no longer exists (or is a zombie), polling up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_nested_acquisition_in_one_process_does_not_block_and_names_the_inner_run(tmp_path):
    with hold_run_lock(tmp_path, run="cli day 2026-07-01", timeout=0) as outer:
        assert not outer.nested and outer.path == lock_path(tmp_path).absolute()
        assert read_holder(outer.path)["run"] == "cli day 2026-07-01"
        with hold_run_lock(tmp_path, run="run-1", timeout=0) as inner:
            assert inner.nested and inner.waited_seconds == 0
            holder = read_holder(outer.path)
            assert (holder["run"], holder["pid"]) == ("run-1", os.getpid())
        assert read_holder(outer.path)["run"] == "cli day 2026-07-01"
    assert read_holder(lock_path(tmp_path)) is None  # released: nobody named
    assert oct(lock_path(tmp_path).stat().st_mode & 0o777) == "0o600"


def test_a_second_process_waits_names_the_holder_and_times_out(tmp_path):
    holder = start_holder(tmp_path, "run-held-elsewhere")
    try:
        lines: list[str] = []
        with pytest.raises(RunLockTimeout) as timeout:
            with hold_run_lock(tmp_path, run="mine", timeout=1.2, log=lines.append):
                pass
        message = str(timeout.value)
        assert f"waiting for run run-held-elsewhere (pid {holder.pid} on " in lines[0]
        assert f"holding {lock_path(tmp_path).absolute()} since 20" in lines[0]
        assert "FUNDCDP_RUN_LOCK_TIMEOUT=1.2" in message and f"pid {holder.pid}" in message
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    holder = start_holder(tmp_path, "doomed")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with hold_run_lock(tmp_path, run="next", timeout=0) as grant:
        assert not grant.nested
        assert read_holder(grant.path)["run"] == "next"


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path):
    holder = start_holder(tmp_path, "first")
    lines: list[str] = []

    def end_holder_while_waiting(seconds: float) -> None:
        if holder.poll() is None:
            holder.terminate()
            holder.wait()
        time.sleep(seconds)

    with hold_run_lock(tmp_path, run="second", timeout=60, log=lines.append, sleep=end_holder_while_waiting):
        assert read_holder(lock_path(tmp_path))["run"] == "second"
    assert len(lines) == 2 and lines[0].startswith("waiting for run first (pid ")
    assert lines[1].startswith(f"run lock {lock_path(tmp_path).absolute()} acquired after waiting ")


@pytest.mark.parametrize("value", ["six hours", "-5", "nan"])
def test_a_bad_timeout_setting_is_an_error_naming_it(monkeypatch, value):
    monkeypatch.setenv("FUNDCDP_RUN_LOCK_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"FUNDCDP_RUN_LOCK_TIMEOUT={value!r} is not a number"):
        run_lock.run_lock_timeout_seconds()
    monkeypatch.setenv("FUNDCDP_RUN_LOCK_TIMEOUT", "90")
    assert run_lock.run_lock_timeout_seconds() == 90.0
    monkeypatch.delenv("FUNDCDP_RUN_LOCK_TIMEOUT")
    assert run_lock.run_lock_timeout_seconds() == 6 * 3600


def test_a_forked_child_does_not_inherit_the_lock(tmp_path):
    with hold_run_lock(tmp_path, run="parent", timeout=0):
        pid = os.fork()
        if pid == 0:  # the child: it must wait like any other process
            try:
                with hold_run_lock(tmp_path, run="child", timeout=0.3, log=lambda _: None):
                    os._exit(1)
            except RunLockTimeout:
                os._exit(0)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


PARENT = """
import os, subprocess, sys, time
env = {**os.environ, "FUNDCDP_DBT_PYTHON": sys.executable, "FUNDCDP_DBT_EXECUTABLE": "/bin/sleep",
       "FUNDCDP_DBT_PARENT_PID": str(os.getpid())}
child = subprocess.Popen([sys.argv[1], "300"], env=env)
print(child.pid, flush=True)
time.sleep(300)
"""


def test_dbt_started_through_the_launcher_dies_with_a_killed_parent_and_leads_its_group(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(LAUNCHER)], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 20
    while Path(f"/proc/{child}/comm").read_text().strip() != "sleep" and time.monotonic() < deadline:
        time.sleep(0.05)  # until the launcher has become the "dbt" (here: sleep)
    stat = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[2]) == child  # process group: its own
    assert int(stat[1]) == parent.pid  # parent: the run
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert gone(child), f"the dbt stand-in {child} outlived its killed parent"


def test_the_launcher_refuses_to_start_dbt_for_a_parent_already_gone():
    result = subprocess.run(
        [str(LAUNCHER), "300"],
        env={**os.environ, "FUNDCDP_DBT_PYTHON": sys.executable, "FUNDCDP_DBT_EXECUTABLE": "/bin/sleep",
             "FUNDCDP_DBT_PARENT_PID": "1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 70
    assert "the run (pid 1) is gone before dbt started; not starting dbt" in result.stderr


def test_a_failure_after_taking_the_lock_releases_it(tmp_path, monkeypatch):
    def refuse(fd: int, holder: dict) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_lock, "_write_holder", refuse)
    with pytest.raises(OSError, match="No space left"):
        with hold_run_lock(tmp_path, run="run-1", timeout=0):
            pytest.fail("the run must not start without its holder recorded")
    assert run_lock._HELD == {}
    monkeypatch.undo()
    # not a nested acquisition of a lock left locked: another process gets it at once
    holder = start_holder(tmp_path, "other process")
    holder.kill()
    holder.wait()
    with hold_run_lock(tmp_path, run="run-2", timeout=0) as grant:
        assert (grant.nested, grant.contended) == (False, False)


def test_another_thread_waits_like_another_process(tmp_path):
    import threading

    held, release = threading.Event(), threading.Event()

    def first_run() -> None:
        with hold_run_lock(tmp_path, run="thread run", timeout=0):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert held.wait(10)
    lines: list[str] = []
    try:
        with pytest.raises(RunLockTimeout, match=r"waiting for run thread run \(pid") as timeout:
            with hold_run_lock(tmp_path, run="main run", timeout=0.3, log=lines.append, sleep=lambda _: None):
                pytest.fail("two threads held the run lock at once")
        assert timeout.value.holder["run"] == "thread run"
        assert lines[0].startswith("waiting for run thread run (pid")
    finally:
        release.set()
        thread.join(10)
    with hold_run_lock(tmp_path, run="main run", timeout=0) as grant:
        assert not grant.nested
        with hold_run_lock(tmp_path, run="nested", timeout=0) as inner:  # same thread: still re-entrant
            assert inner.nested


def test_a_fork_while_another_thread_holds_the_guard_does_not_hang_the_child(tmp_path):
    import threading

    guard_taken, release = threading.Event(), threading.Event()

    def hold_guard() -> None:
        with run_lock._GUARD:
            guard_taken.set()
            release.wait(10)

    thread = threading.Thread(target=hold_guard)
    thread.start()
    assert guard_taken.wait(10)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                with hold_run_lock(tmp_path, run="child", timeout=0, log=lambda _: None):
                    os._exit(0)
            finally:
                os._exit(3)
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the run lock's guard")
        assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        release.set()
        thread.join(10)
