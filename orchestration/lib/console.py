"""What the command line shows while it runs the pipeline (``make run``, ``cli day|backfill|import-history``).

- A progress display per stage of each run (privacy step, raw tables and days loaded, dbt models done out of
  the total, quality gates, ML models, segments, publish), driven by the run's own events as Dagster writes
  them to its event log (:class:`RunProgress`, fed by an event listener on the run's id in
  orchestration/runner.py). On a terminal it is a live ``rich`` display; when stdout is not a terminal
  (tests, CI, a pipe) it is a few plain lines: a stage's line once it is done, the others at the run's end.
- Everything else, Dagster's and dbt's logs, Python warnings (BetaWarning …) and stack traces, goes to one
  log file per command under ``$FUNDCDP_DATA_DIR/logs/`` (:func:`run_console`), whose path the summary
  prints; ``--verbose`` (``VERBOSE=1 make run``) leaves today's full stream on the console instead.
- A step that failed on an expected condition (a delivery the loader refused) is one warning line naming
  what is wrong and what to do (:func:`problem_lines`), never a stack trace.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

# The stages of a run in the order it reaches them, and how the display names each.
STAGES: dict[str, str] = {
    "privacy": "privacy step",
    "load": "raw tables",
    "dbt": "dbt models",
    "gates": "quality gates",
    "ml": "ML models",
    "segments": "segments",
    "publish": "publish",
}
OTHER = "other"  # an asset of no stage above: counted nowhere on the display
GATE_PREFIX = "gx_"  # the Great Expectations suites' checks (defs/quality): the publish gates
FAILURE_PREFIX = "dagster._core.definitions.events.Failure: "


def stage_of(group: str | None, kinds: set[str] | frozenset[str]) -> str:
    """The display stage of an asset, from its Dagster group and kinds (dbt models: kind ``dbt``)."""
    if "dbt" in kinds:
        return "dbt"
    if group is None:
        return OTHER
    if group.startswith("raw_"):
        return "load"
    return group if group in ("privacy", "ml", "segments", "publish") else OTHER


def is_gate(check_name: str) -> bool:
    """Whether an asset check is one of the quality gates (a Great Expectations suite)."""
    return check_name.startswith(GATE_PREFIX)


@dataclass(frozen=True)
class RunPlan:
    """What one run materialises: each asset's stage (keyed by its asset key), and how many gates it runs."""

    stage_of_asset: dict[Any, str]
    gate_total: int = 0
    job_name: str = ""

    def totals(self) -> dict[str, int]:
        counts = {stage: 0 for stage in STAGES}
        for stage in self.stage_of_asset.values():
            if stage in counts:
                counts[stage] += 1
        counts["gates"] = self.gate_total
        return {stage: total for stage, total in counts.items() if total}


@dataclass
class StepFailure:
    """A failed step: its key, the first line of its error, and the days it could not load (a raw load's
    ``failed_days`` metadata: day -> why) when it was a refused delivery."""

    step_key: str
    message: str
    failed_days: dict[str, str] = field(default_factory=dict)


@dataclass
class StageCount:
    total: int
    done: int = 0
    failed: int = 0
    announced: bool = False

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total


class RunProgress:
    """Counts per stage of one run, fed one event of the run's event log at a time (:meth:`handle`), shown
    live on a terminal or as plain lines, plus the run's failed steps (:attr:`failures`)."""

    def __init__(self, console: RunConsole, title: str):
        self.console = console
        self.title = title
        self.stages: dict[str, StageCount] = {}
        self.days_loaded = 0
        self.failures: list[StepFailure] = []
        self.plan = RunPlan({})
        self.run_id = ""
        self._started = 0.0
        self._live: Any = None
        self._tasks: dict[str, Any] = {}
        self._done: dict[str, set] = {}
        self._failed: dict[str, set] = {}
        self._load_partitions: set[str] = set()

    # ------------------------------------------------------------------ the run's life, told by the runner
    def begin(self, plan: RunPlan, run_id: str) -> None:
        self.plan, self.run_id, self._started = plan, run_id, time.monotonic()
        self.stages = {stage: StageCount(total) for stage, total in plan.totals().items()}
        job = f"job {plan.job_name}, " if plan.job_name else ""
        self.console.line(f"{self.title} ({job}run {run_id[:8]})")
        if self.console.live:
            self._start_live()

    def handle(self, entry: Any) -> None:
        """One event log entry of the run (a Dagster ``EventLogEntry``); plain log messages are ignored."""
        event = getattr(entry, "dagster_event", None)
        if event is None:
            return
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION":
            # a run over a range of days records one materialization per asset and day: assets are counted
            stage = self.plan.stage_of_asset.get(event.asset_key, OTHER)
            if stage == "load":
                materialization = event.event_specific_data.materialization
                self._note_days(materialization.metadata, materialization.partition)
            self._count(stage, event.asset_key, failed=False)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if is_gate(evaluation.check_name):
                self._count("gates", evaluation.check_name, failed=not evaluation.passed)
            elif self.plan.stage_of_asset.get(evaluation.asset_key) == "dbt":
                # dbt tests a model right after building it and its results stream while dbt runs, while
                # the models' materializations come once dbt is done (with their row counts): a model
                # whose test ran is built (every model has a primary-key test)
                self._count("dbt", evaluation.asset_key, failed=False)
        elif kind == "STEP_FAILURE":
            self._step_failed(event)

    def end(self, success: bool) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        else:
            for stage, count in self.stages.items():
                if not count.announced:
                    self._announce(stage)
        seconds = f"{time.monotonic() - self._started:.0f} s"
        failed = f": {len(self.failures)} step(s) failed" if self.failures else ""
        self.console.line(f"  succeeded in {seconds}" if success else f"  FAILED in {seconds}{failed}")

    # ------------------------------------------------------------------ counting
    def _note_days(self, metadata: Any, partition: str | None = None) -> None:
        """Days loaded: a raw table's ``days`` (a history import: one partition, every day it loaded), or
        the days materialized (a range of days: one materialization per day)."""
        days = metadata.get("days") if metadata else None
        value = getattr(days, "value", days)
        if partition:
            self._load_partitions.add(partition)
        loaded = value if isinstance(value, int) else 0
        self.days_loaded = max(self.days_loaded, loaded, len(self._load_partitions))

    def _count(self, stage: str, item: Any, failed: bool) -> None:
        """``item`` (an asset, a gate) of ``stage`` done, or failed: a failure is final."""
        count = self.stages.get(stage)
        if count is None:
            return
        done, failures = self._done.setdefault(stage, set()), self._failed.setdefault(stage, set())
        if failed:
            failures.add(item)
            done.discard(item)
        elif item not in failures:
            done.add(item)
        count.done, count.failed = len(done), len(failures)
        self._show(stage)

    def _step_failed(self, event: Any) -> None:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        # Dagster wraps an exception raised in a step: its cause says what happened
        while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
            error = error.cause
        message = (error.message if error else "").strip().splitlines()
        failure = StepFailure(
            event.step_key or "", message[0].removeprefix(FAILURE_PREFIX) if message else ""
        )
        metadata = getattr(getattr(data, "user_failure_data", None), "metadata", None) or {}
        failed_days = metadata.get("failed_days")
        value = getattr(failed_days, "value", failed_days)
        if isinstance(value, dict):
            failure.failed_days = {str(day): str(why) for day, why in value.items()}
            self._note_days(metadata)
        self.failures.append(failure)
        # a step of one asset (a raw table): that asset failed; a step of many (dbt) counts on its events
        key_path = tuple(failure.step_key.split("__"))
        for key, stage in self.plan.stage_of_asset.items():
            if tuple(getattr(key, "path", ())) == key_path:
                self._count(stage, key, failed=True)
                break

    # ------------------------------------------------------------------ showing
    def _note(self, stage: str) -> str:
        count = self.stages[stage]
        parts = []
        if stage == "load" and self.days_loaded:
            parts.append(f"{self.days_loaded} day{'s' if self.days_loaded != 1 else ''}")
        if count.failed:
            parts.append(f"{count.failed} failed")
        return ", ".join(parts)

    def _announce(self, stage: str) -> None:
        count = self.stages[stage]
        count.announced = True
        note = self._note(stage)
        shown = f"  {STAGES[stage]:<14}{count.done + count.failed:>4}/{count.total:<4} {note}"
        self.console.line(shown.rstrip())

    def _show(self, stage: str) -> None:
        count = self.stages[stage]
        if self._live is not None:
            self._live.update(self._tasks[stage], completed=count.done + count.failed, note=self._note(stage))
        elif count.finished and not count.announced:
            self._announce(stage)

    def _start_live(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._live = Progress(
            TextColumn("  {task.description:<14}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console.rich(),
        )
        for stage, count in self.stages.items():
            self._tasks[stage] = self._live.add_task(STAGES[stage], total=count.total, note="")
        self._live.start()


class RunConsole:
    """The console of one command: short lines, one progress display per run, the log file's path."""

    def __init__(self, stream: TextIO, log_path: Path | None = None, live: bool | None = None):
        self.stream = stream
        self.log_path = log_path
        self.live = stream.isatty() if live is None else live
        self._rich: Any = None

    def line(self, text: str) -> None:
        """A line for the reader (also written to the log file, when there is one)."""
        self.stream.write(text + "\n")
        self.stream.flush()
        if self.log_path is not None:
            print(f"[console] {text}", file=sys.stderr, flush=True)

    def progress(self, title: str) -> RunProgress:
        return RunProgress(self, title)

    def rich(self) -> Any:
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(file=self.stream)
        return self._rich


def log_file_path(logs: Path, command: str, now: datetime | None = None) -> Path:
    """``logs/<command>-<UTC timestamp>.log``: one per run of a command, never reused."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = logs / f"{command}-{stamp}.log"
    return path if not path.exists() else logs / f"{command}-{stamp}-{os.getpid()}.log"


@contextlib.contextmanager
def run_console(logs: Path, command: str, verbose: bool = False) -> Iterator[RunConsole]:
    """The console of a command. Unless ``verbose``, file descriptors 1 and 2 (and so this process's
    ``print``, logging, warnings and tracebacks, and every subprocess it starts: dbt) write to a new log
    file under ``logs`` for as long as the command runs; the console gets only what :class:`RunConsole`
    writes, on a copy of the original stdout. ``verbose``: nothing is redirected."""
    if verbose:
        yield RunConsole(sys.stdout, None, live=False)
        return
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = log_file_path(logs, command)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stream = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8", errors="replace")
    console = RunConsole(stream, log_path)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield console
    except Exception as error:  # unexpected: its stack trace in the log, one line on the console
        traceback.print_exc()
        first = (str(error).strip().splitlines() or [""])[0]
        console.line(f"FAILED: {type(error).__name__}: {first} (stack trace: {log_path})")
        raise SystemExit(1) from error
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        stream.close()


def problem_lines(
    failures: list[StepFailure],
    data_dir: Path,
    planted: set[tuple[str, str]] = frozenset(),
    log_path: Path | None = None,
) -> list[str]:
    """One line per problem of the runs' failed steps, saying what to do. A refused delivery (a raw
    table's failed day) is one line per source, day and reason, naming the tables it held back; a day the
    demo planted (``planted``: (source, day)) says so. Any other failure: its first line and where the
    details are."""
    refused: dict[tuple[str, str, str], list[str]] = {}
    others: list[str] = []
    prefix = f"{data_dir}/"
    for failure in failures:
        table = failure.step_key.replace("__", ".")
        for day, why in sorted(failure.failed_days.items()):
            source = table.split(".")[0]
            refused.setdefault((source, day, why.replace(prefix, "")), []).append(table.split(".", 1)[-1])
        if not failure.failed_days:
            others.append(f"{failure.step_key}: {failure.message}")
    lines = []
    for (source, day, why), tables in refused.items():
        held = f"{', '.join(sorted(set(tables)))} not loaded for that day"
        if (source, day) in planted:
            todo = "the demo's planted incomplete delivery: waived, so publishing goes on"
        else:
            todo = (
                f"re-deliver it, then `python -m orchestration.cli day {day}` (or waive the day: "
                f"`python -m orchestration.cli waive --source {source} --day {day} --reason ...`)"
            )
        lines.append(f"WARNING {source} {day}: {why} ({held}); {todo}")
    where = f" (details and stack trace: {log_path})" if log_path else ""
    lines += [f"FAILED {other}{where}" for other in dict.fromkeys(others)]
    return lines
