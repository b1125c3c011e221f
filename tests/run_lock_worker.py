"""A tiny two-step run over a data directory, for the run-lock tests (tests/integration/test_run_lock.py).

``python -m tests.run_lock_worker <data dir> <record file> materialize|execute_job``: runs two assets that
require fundcdp's settings resource, one after the other, each appending its start and end (with the run
id, the lock holder read from the lock file, and which acquisition of the lock it runs under) to the
record file, one JSON object per line. ``materialize`` is the command line's path (``dg.materialize``,
in-process); ``execute_job`` runs a reconstructable job with the code location's executor, as a run worker
launched by the daemon does. With ``RUN_LOCK_RELEASE`` set, the first step waits until that file exists;
with ``RUN_LOCK_INSTANCE``, the run is recorded in the Dagster instance in that directory.
``hold <data dir> <run name>``: hold the lock until killed.
"""

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg

from orchestration.lib import run_lock
from orchestration.lib.settings import FundcdpSettings

STEP_SECONDS = 1.0


def _record(context: dg.AssetExecutionContext, step: str, event: str) -> None:
    data_dir = Path(os.environ["FUNDCDP_DATA_DIR"])
    held = run_lock._HELD.get((str(run_lock.lock_path(data_dir).absolute()), threading.get_ident()))
    line = {
        "run_id": context.run_id,
        "step": step,
        "event": event,
        "at": time.time(),
        "pid": os.getpid(),
        "holder": run_lock.read_holder(run_lock.lock_path(data_dir)),
        "acquisition": id(held) if held else None,
        # dbt is started from the step's thread: its parent-death signal fires when that thread ends
        "main_thread": threading.current_thread() is threading.main_thread(),
    }
    with open(os.environ["RUN_LOCK_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


@dg.asset
def first_step(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> None:
    _record(context, "first_step", "start")
    release = os.environ.get("RUN_LOCK_RELEASE")
    if release:  # hold the run open until the test has seen the other run waiting
        deadline = time.monotonic() + 300
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(STEP_SECONDS)
    _record(context, "first_step", "end")


@dg.asset(deps=[first_step])
def second_step(context: dg.AssetExecutionContext, settings: FundcdpSettings) -> None:
    _record(context, "second_step", "start")
    time.sleep(STEP_SECONDS)
    _record(context, "second_step", "end")


def lock_job() -> dg.JobDefinition:
    """The two steps as a job under the code location's executor (in-process)."""
    defs = dg.Definitions(
        assets=[first_step, second_step],
        jobs=[dg.define_asset_job("lock_job", selection=[first_step, second_step])],
        resources={"settings": FundcdpSettings()},
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("lock_job")


def main(argv: list[str]) -> int:
    if argv[0] == "hold":
        with run_lock.hold_run_lock(argv[1], run=argv[2]):
            print("held", flush=True)
            time.sleep(3600)
        return 0
    data_dir, record, mode = argv
    os.environ["FUNDCDP_DATA_DIR"] = data_dir
    os.environ["RUN_LOCK_RECORD"] = record
    # RUN_LOCK_INSTANCE: an instance directory the test reads afterwards (default: a throwaway one)
    with tempfile.TemporaryDirectory() as home:
        instance = dg.DagsterInstance.local_temp(os.environ.get("RUN_LOCK_INSTANCE") or home)
        if mode == "materialize":
            result = dg.materialize(
                [first_step, second_step], instance=instance, resources={"settings": FundcdpSettings()}
            )
        else:
            result = dg.execute_job(dg.reconstructable(lock_job), instance=instance)
        print(f"run {result.run_id} success={result.success}", flush=True)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
