"""dbt's launcher: makes the dbt process die with the run that started it, then becomes dbt.

dagster-dbt starts dbt with ``subprocess.Popen`` and no way to run code in the child before dbt, so
fundcdp's ``dbt_executable`` is ``orchestration/bin/dbt-child``, which runs this file (standard library
only, no site-packages: ``python -S``). In the child, before dbt starts, it

1. asks Linux to SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``; the "parent" is
   the thread that started it: the run's step thread, which waits for dbt to end), then checks that the
   parent is still the run (``FUNDCDP_DBT_PARENT_PID``): a run killed before the call would otherwise
   leave dbt running on its own;
2. moves into a process group of its own, so a Ctrl-C in the terminal reaches only the run, which then
   stops dbt itself;
3. execs dbt (``FUNDCDP_DBT_EXECUTABLE``, default the ``dbt`` beside this Python); the death signal
   survives exec.

Elsewhere than Linux, step 1 is skipped (the run's ``finally`` still stops dbt, but not after kill -9).
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "FUNDCDP_DBT_PARENT_PID"
EXECUTABLE_ENV = "FUNDCDP_DBT_EXECUTABLE"
PYTHON_ENV = "FUNDCDP_DBT_PYTHON"  # read by orchestration/bin/dbt-child


def die_with_parent(expected_parent: int | None) -> bool:
    """Set SIGKILL as this process's parent-death signal (Linux); returns False if not available. Exits
    at once if the parent is no longer ``expected_parent`` (it died before the signal was set)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # noqa: PLC0415 - only where prctl exists

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    if expected_parent is not None and os.getppid() != expected_parent:
        print(
            f"dbt-child: the run (pid {expected_parent}) is gone before dbt started; not starting dbt",
            file=sys.stderr,
            flush=True,
        )
        os._exit(70)
    return True


def own_process_group() -> None:
    """Lead a new process group (unless already leading one)."""
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)


def dbt_executable() -> str:
    """The dbt to exec: ``FUNDCDP_DBT_EXECUTABLE``, else the ``dbt`` beside this Python."""
    return os.environ.get(EXECUTABLE_ENV) or os.path.join(os.path.dirname(sys.executable), "dbt")


def main(argv: list[str]) -> None:
    """Prepare this process as above, then replace it by dbt with ``argv`` (never returns)."""
    parent = os.environ.get(PARENT_PID_ENV)
    die_with_parent(int(parent) if parent else None)
    own_process_group()
    executable = dbt_executable()
    os.execv(executable, [executable, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
