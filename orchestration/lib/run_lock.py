"""The data-directory run lock: one run at a time over one data directory, whatever started it.

Dagster's pool and run queue serialise only the runs Dagster itself queues; two ``cli day`` runs (each an
in-process run) or a command-line run beside a run launched from the UI do not go through the queue. So
every run holds an exclusive ``fcntl.flock`` on ``<data dir>/state/run.lock`` from its first step to its
end, and a second run waits for it.

- The lock belongs to the open file, so a holder that dies (even ``kill -9``) frees it at once; the file
  itself stays and only shows who holds it (pid, host, run, since when), for the waiting run's log line.
- Re-entrant within one thread: ``cli run`` holds it for the whole command while each of its in-process
  runs takes it again. (flock on a second open file of the same path in the same process would block on
  itself, so a nested acquisition reuses the first one's descriptor.) Another thread of the same process
  opens its own file and waits like another process: two runs in two threads never interleave.
- A waiting run polls, logs who it waits for, and gives up after ``FUNDCDP_RUN_LOCK_TIMEOUT`` seconds
  (default 6 h) with a message naming the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestration.lib.alerts import Alert, send_alert, was_skipped

RUN_LOCK_TIMEOUT_ENV = "FUNDCDP_RUN_LOCK_TIMEOUT"
# Long enough for the longest run seen (a history import of years of days), short enough that a stuck
# holder is noticed the same working day.
DEFAULT_TIMEOUT_SECONDS = 6 * 3600.0
POLL_SECONDS = 0.5
# How often a waiting run repeats its log line (it always logs when the holder changes).
REPORT_EVERY_SECONDS = 60.0


class RunLockTimeout(RuntimeError):
    """Another run held the data directory for longer than the configured timeout: ``holder`` as it wrote
    itself (or None), ``waited_seconds``, the lock file ``path``."""

    def __init__(self, message: str, holder: dict | None, waited_seconds: float, path: Path) -> None:
        super().__init__(message)
        self.holder = holder
        self.waited_seconds = waited_seconds
        self.path = path


def lock_path(data_dir: Path | str) -> Path:
    """Where the run lock of the data directory ``data_dir`` lives."""
    return Path(data_dir) / "state" / "run.lock"


def run_lock_timeout_seconds() -> float:
    """``FUNDCDP_RUN_LOCK_TIMEOUT`` in seconds (default 6 h); a value that is not a number >= 0 is an error
    naming the setting."""
    value = os.environ.get(RUN_LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise ValueError(f"{RUN_LOCK_TIMEOUT_ENV}={value!r} is not a number of seconds >= 0")
    return seconds


def read_holder(path: Path) -> dict | None:
    """Who holds the lock at ``path`` as its holder wrote it (pid, host, run, started), or None if nobody
    wrote (or the text is being rewritten just now)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict | None, path: Path) -> str:
    """``run X (pid N on host H) holding <path> since <started>`` (or an unknown holder)."""
    if not holder:
        return f"another run (holder not recorded) holding {path}"
    return (
        f"run {holder.get('run', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}) "
        f"holding {path} since {holder.get('started', '?')}"
    )


@dataclass
class RunLockGrant:
    """What an acquisition got: the lock file, the seconds spent waiting, whether it had to wait for
    another holder, and whether this process already held the lock (a nested acquisition, no waiting)."""

    path: Path
    waited_seconds: float
    nested: bool
    contended: bool = False


@dataclass
class _Held:
    fd: int
    depth: int = 0
    holders: list[dict] = field(default_factory=list)


# Locks this process holds, by lock file path and holding thread; guarded by _GUARD.
_HELD: dict[tuple[str, int], _Held] = {}
_GUARD = threading.Lock()


def _forget_in_child() -> None:
    # A forked child shares the parent's open lock file: it must neither think it holds the lock nor keep
    # it alive after the parent ends (closing its copy leaves the parent's lock in place). _GUARD is made
    # anew: a fork while another thread held it would leave it locked for ever in the child.
    global _GUARD
    _GUARD = threading.Lock()
    for held in _HELD.values():
        with contextlib.suppress(OSError):
            os.close(held.fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _write_holder(fd: int, holder: dict) -> None:
    data = json.dumps(holder, sort_keys=True).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _open_lock_file(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_CLOEXEC (Python's default): dbt and other children never inherit the lock.
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _wait_for_lock(
    fd: int, path: Path, timeout: float, log: Callable[[str], None], sleep: Callable[[float], None]
) -> float | None:
    """Block until ``fd`` holds the exclusive flock; returns the seconds waited, None if it was free."""
    started = time.monotonic()
    last_report, last_holder = None, None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None if last_report is None else time.monotonic() - started
        except BlockingIOError:
            pass
        now = time.monotonic()
        holder = read_holder(path)
        if now - started >= timeout:
            raise RunLockTimeout(
                f"gave up after {now - started:.0f} s ({RUN_LOCK_TIMEOUT_ENV}={timeout:g}) waiting for "
                f"{describe_holder(holder, path)}; if that run is stuck, stop it (the lock is freed when its "
                "process ends)",
                holder,
                now - started,
                path,
            )
        if last_report is None or holder != last_holder or now - last_report >= REPORT_EVERY_SECONDS:
            log(f"waiting for {describe_holder(holder, path)} (waited {now - started:.0f} s)")
            last_report, last_holder = now, holder
        sleep(POLL_SECONDS)


@contextlib.contextmanager
def hold_run_lock(
    data_dir: Path | str,
    run: str,
    *,
    timeout: float | None = None,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[RunLockGrant]:
    """Hold the run lock of ``data_dir`` for the ``with`` block, waiting for another holder up to
    ``timeout`` seconds (default ``FUNDCDP_RUN_LOCK_TIMEOUT``); ``run`` names this run in the holder info.
    Re-entrant within the thread: a nested acquisition returns at once and records its run as the holder
    until it ends; another thread waits like another process. ``log`` gets the waiting lines and, after
    a wait, how long it took. Raises :class:`RunLockTimeout` (naming the holder) when the wait times out."""
    path = lock_path(data_dir).absolute()
    key = (str(path), threading.get_ident())
    limit = run_lock_timeout_seconds() if timeout is None else timeout
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "run": run,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            _write_holder(held.fd, holder)  # first: if it fails, the outer acquisition is left as it was
            held.depth += 1
            held.holders.append(holder)
    if held is not None:
        try:
            yield RunLockGrant(path, 0.0, nested=True)
        finally:
            with _GUARD:
                held.depth -= 1
                held.holders.pop()
                _write_holder(held.fd, held.holders[-1])
        return

    fd = _open_lock_file(path)
    try:
        waited = _wait_for_lock(fd, path, limit, log, sleep)
    except BaseException:
        os.close(fd)
        raise
    held = _Held(fd=fd, depth=1, holders=[holder])
    # Registered inside the try: whatever fails from here on (writing the holder, the log) unlocks and
    # forgets the lock, so no later acquisition in this thread takes itself for a nested one.
    try:
        with _GUARD:
            _HELD[key] = held
            _write_holder(fd, holder)
        if waited is not None:
            log(f"run lock {path} acquired after waiting {waited:.1f} s")
        yield RunLockGrant(path, waited or 0.0, nested=False, contended=waited is not None)
    finally:
        with _GUARD:
            # A forked child that inherited this block finds its copy forgotten (and closed) already.
            if _HELD.get(key) is held:
                del _HELD[key]
                # Cleared before unlocking: a waiting run never reads a finished holder as the current one.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def alert_lock_timeout(alerts_log: Path, command: str, problem: RunLockTimeout, started: float) -> bool:
    """Alert ``run_failed`` for ``command`` (e.g. ``cli day 2026-07-01``) that gave up waiting for the run
    lock (``problem``) after starting to wait at ``started`` (epoch seconds): the command, the holder and
    the wait. Once per command and start (``lock-timeout:<command>:<start>``). True if sent now."""
    start = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    alert = Alert(
        kind="run_failed",
        summary=f"{command} not run: {problem}"[:500],
        details={
            "command": command,
            "holder": problem.holder,
            "waited_seconds": round(problem.waited_seconds, 1),
            "lock": str(problem.path),
            "started": start,
        },
    )
    return not was_skipped(send_alert(alert, alerts_log, once_key=f"lock-timeout:{command}:{start}"))
