"""``python -m orchestration.cli <command>`` (run, day, backfill, import-history, waive, segments,
dashboards, erase, rotate-key, ui):
what ``make run``, ``make ui`` and ``make dashboards`` call, and the operator's commands."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.lib.console import RunConsole, problem_lines, run_console
from orchestration.lib.layout import SOURCES, DataLayout, restrict_umask
from orchestration.lib.paths import PROJECT_ROOT, WORKSPACE_FILE


def _prepare_environment() -> DataLayout:
    layout = DataLayout.at(os.environ.get("FUNDCDP_DATA_DIR") or "data")
    layout.ensure()
    os.environ["FUNDCDP_DATA_DIR"] = str(layout.root)
    os.environ.setdefault("DAGSTER_HOME", str(layout.dagster_home))
    from orchestration.lib.instance import ensure_instance_config

    ensure_instance_config(Path(os.environ["DAGSTER_HOME"]))
    os.environ.setdefault("DBT_LOG_PATH", str(layout.logs / "dbt"))
    return layout


def _landing_is_empty(layout: DataLayout) -> bool:
    return not any(layout.landing_days(source) for source in SOURCES)


def _generate_demo_data(layout: DataLayout, console: RunConsole) -> None:
    # A subprocess, not an import: the pipeline never imports the demo generator. Its report goes to the
    # log file (the subprocess inherits it); the console gets one line.
    console.line(f"landing/ is empty: generating the demo company's source data into {layout.landing}")
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(layout.root)], check=True
    )


def _waive_planted_demo_days(layout: DataLayout, console: RunConsole) -> set[tuple[str, str]]:
    """The demo plants one incomplete day on purpose (its truth says which): waived once, so that it does
    not hold publishing back; one line says so. Returns every planted (source, day), waived now or before."""
    from orchestration.defs.ingest.completeness import planted_demo_days, waive_planted_demo_days

    for waiver in waive_planted_demo_days(layout):
        console.line(
            f"waived {waiver.source} {waiver.day} ({waiver.reason}); "
            f"`python -m orchestration.cli waive --withdraw --source {waiver.source} --day {waiver.day}` "
            "withdraws it"
        )
    return {(source, day) for source, day, _ in planted_demo_days(layout)}


def _hash_key_refused(announce_demo_key: bool = True, console: RunConsole | None = None) -> bool:
    """Without FUNDCDP_HASH_KEY only the demo sources load: True, with why not printed (one line). With the
    demo key on the demo sources, one line says so (``run`` says it in its summary instead)."""
    from orchestration.lib.settings import DEMO_KEY_NOTICE, FundcdpSettings

    settings = FundcdpSettings()
    refusal = settings.demo_key_refusal()
    say = console.line if console is not None else lambda text: print(text, file=sys.stderr, flush=True)
    if refusal is not None:
        say(refusal)
        return True
    if announce_demo_key and settings.uses_demo_key():
        say(DEMO_KEY_NOTICE)
    return False


def _verbose_default() -> bool:
    """``VERBOSE=1 make run``: the make target passes its environment on."""
    return os.environ.get("VERBOSE", "").strip().lower() not in ("", "0", "false", "no")


def _reap(instance, console: RunConsole) -> None:
    from orchestration.defs.automation.dead_runs import reap_dead_runs

    for run_id in reap_dead_runs(instance):
        console.line(f"run {run_id} was killed or crashed: marked failed, its pool slots freed")


def run_pipeline(history_days: int = 14, verbose: bool = False) -> int:
    """Generate demo data if needed, load every delivered day, build the warehouse, print a summary.

    The warehouse is built as of FUNDCDP_AS_OF_DATE, else the latest delivery; with history_days > 0 it is
    first built as of that many days before, so that tag_history and lifecycle_transitions show changes.
    The console shows a progress display per run and the summary; everything else goes to a log file under
    logs/ (``verbose``: to the console, as Dagster and dbt write it)."""
    layout = _prepare_environment()
    # a refusal is one line on stderr, before anything starts (the demo it would generate is always loadable)
    if not _landing_is_empty(layout) and _hash_key_refused(announce_demo_key=False):
        return 2
    with run_console(layout.logs, "run", verbose) as console:
        return _run_pipeline(layout, history_days, console)


def _run_pipeline(layout: DataLayout, history_days: int, console: RunConsole) -> int:
    if _landing_is_empty(layout):
        _generate_demo_data(layout, console)
    demo_landing = layout.is_demo_landing()
    if _hash_key_refused(announce_demo_key=False, console=console):
        return 2
    import dagster as dg

    from orchestration.defs.automation.summary import BuildOutcome, format_summary, planted_defects
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.defs.quality.publish_gate import completeness_ledger
    from orchestration.lib.settings import FundcdpSettings
    from orchestration.runner import build_warehouse, load_history

    days = delivery_days(layout)
    instance = dg.DagsterInstance.get()
    _reap(instance, console)
    started = time.monotonic()
    # one run of the last day, as cli import-history
    loading = console.progress(f"loading {len(days)} delivery days {days[0]} .. {days[-1]} into raw/")
    load_history(instance, days[0], days[-1], progress=loading)
    failures = list(loading.failures)
    planted: set[tuple[str, str]] = set()
    if demo_landing:
        # after the load: a waiver answers the failures recorded before it, not those after it
        planted = _waive_planted_demo_days(layout, console)
    latest = os.environ.get("FUNDCDP_AS_OF_DATE") or days[-1]
    earlier = date.fromisoformat(latest) - timedelta(days=history_days)
    if history_days > 0 and earlier.isoformat() >= days[0]:
        first_build = console.progress(f"building the warehouse as of {earlier} first (tag history)")
        build_warehouse(instance, earlier.isoformat(), progress=first_build)
        failures += first_build.failures
    building = console.progress(f"building the warehouse as of {latest}")
    build = build_warehouse(instance, latest, progress=building)
    failures += building.failures
    console.line(f"done in {time.monotonic() - started:.0f} s\n")
    outcome = BuildOutcome.from_result(build)
    truth = layout.demo_truth / "identities.csv"
    if build.success and truth.exists():
        from orchestration.defs.quality.identity_quality import pair_quality

        quality = pair_quality(truth, layout.warehouse_db, FundcdpSettings().hash_key_bytes())
        outcome.identity_quality = (
            f"ID-Mapping against the demo truth: pair precision {quality.precision:.4f}, recall "
            f"{quality.recall:.4f} ({quality.identifiers_compared} identifiers, "
            f"{quality.true_pairs} true pairs)"
        )
    summary = format_summary(
        layout,
        problem_lines(failures, layout.root, planted, console.log_path),
        demo_key=FundcdpSettings().uses_demo_key(),
        ledger=completeness_ledger(layout, latest),
        outcome=outcome,
        log_path=console.log_path,
        demo_defects=planted_defects(layout.demo_truth) if demo_landing else None,
    )
    for line in summary.splitlines():
        console.line(line)
    return 0 if build.success else 1


def run_range(first: str, last: str, verbose: bool = False) -> int:
    """The daily job for ``first .. last`` as one in-process run (``last`` = ``first``: one day)."""
    layout = _prepare_environment()
    import dagster as dg

    from orchestration.lib.partitions import days as partitions

    try:
        covered = partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    except Exception as problem:  # an unknown day or a reversed range: say which
        print(f"cannot run {first} .. {last}: {problem}", file=sys.stderr)
        return 2
    if not covered or covered[0] != first or covered[-1] != last:
        print(
            f"cannot run {first} .. {last}: not a range of days from {partitions.start:%Y-%m-%d}",
            file=sys.stderr,
        )
        return 2
    if _hash_key_refused():
        return 2
    command = "day" if first == last else "backfill"
    with run_console(layout.logs, command, verbose) as console:
        return _run_range(layout, covered, console)


def _run_range(layout: DataLayout, covered: list[str], console: RunConsole) -> int:
    import dagster as dg

    from orchestration.runner import run_days

    instance = dg.DagsterInstance.get()
    _reap(instance, console)
    progress = console.progress(
        f"running the daily job for {covered[0]} .. {covered[-1]} ({len(covered)} day(s)) into {layout.root}"
    )
    result = run_days(instance, covered, progress=progress)
    for line in problem_lines(progress.failures, layout.root, log_path=console.log_path):
        console.line(line)
    if console.log_path is not None:
        console.line(f"full log: {console.log_path}")
    console.line(f"{'succeeded' if result.success else 'FAILED'} (run {result.run_id})")
    return 0 if result.success else 1


def run_import_history(first: str | None, last: str | None, history_days: int, verbose: bool = False) -> int:
    """Load every delivered day from ``first`` to ``last`` (default: the first and last delivery) in one
    pass and build the warehouse once, as of ``last`` (with ``history_days`` > 0, first as of that many
    days before, so that tag_history holds two dates). See docs/history_import.md."""
    layout = _prepare_environment()
    if _hash_key_refused():
        return 2
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.lib.partitions import days as partitions

    delivered = delivery_days(layout)
    if not delivered:
        print(f"nothing delivered in {layout.landing}: no history to import", file=sys.stderr)
        return 2
    first, last = first or delivered[0], last or delivered[-1]
    try:
        steps = [first, last]
        if history_days > 0:
            earlier = (date.fromisoformat(last) - timedelta(days=history_days)).isoformat()
            if first <= earlier:
                steps = [first, earlier, last]
        for day in steps:
            # canonical YYYY-MM-DD only: the days are compared as text (20230301 would select none)
            if date.fromisoformat(day).isoformat() != day:
                raise ValueError(f"{day!r} is not a date in YYYY-MM-DD form")
    except ValueError as problem:
        print(f"cannot import {first} .. {last}: {problem}", file=sys.stderr)
        return 2
    start = partitions.start.strftime("%Y-%m-%d")
    if first > last or first < start or not partitions.has_partition_key(last):
        print(
            f"cannot import {first} .. {last}: the days must lie in the partitions {start} .. "
            f"{partitions.get_last_partition_key()} (the first day is FUNDCDP_FIRST_DAY, else vars "
            "fundcdp.calendar.first_partition_date; a day still in progress has no partition yet)",
            file=sys.stderr,
        )
        return 2
    imported = [day for day in delivered if first <= day <= last]
    with run_console(layout.logs, "import-history", verbose) as console:
        return _run_import_history(layout, imported, steps, console)


def _run_import_history(
    layout: DataLayout, imported: list[str], steps: list[str], console: RunConsole
) -> int:
    import dagster as dg

    from orchestration.runner import import_history

    instance = dg.DagsterInstance.get()
    _reap(instance, console)
    console.line(
        f"importing {len(imported)} delivery day(s) {steps[0]} .. {steps[-1]} into {layout.root}: one load, "
        f"then the warehouse built as of {' and '.join(steps[1:])}"
    )
    started = time.monotonic()
    success = True
    # Each step is one run of one day: it loads the days after the previous step's and builds as of its day.
    for index, day in enumerate(steps[1:]):
        from_day = (
            steps[0] if index == 0 else (date.fromisoformat(steps[index]) + timedelta(days=1)).isoformat()
        )
        progress = console.progress(
            f"{from_day} .. {day}: the daily job for {day}, loading every day from {from_day}"
        )
        result = import_history(instance, from_day, day, progress=progress)
        for line in problem_lines(progress.failures, layout.root, log_path=console.log_path):
            console.line(line)
        success = success and result.success
    if console.log_path is not None:
        console.line(f"full log: {console.log_path}")
    console.line(f"{'succeeded' if success else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if success else 1


def run_waive(
    source: str | None,
    day: str | None,
    reason: str | None,
    withdraw: bool,
    list_all: bool,
    to: str | None = None,
) -> int:
    """Waive a source's day, or each day of ``day .. to`` (it no longer holds publishing back), withdraw
    waivers, or list them."""
    layout = _prepare_environment()
    from orchestration.defs.ingest import completeness

    if list_all:
        listed = completeness.waivers(layout, include_withdrawn=True)
        for w in listed:
            state = f"withdrawn by {w.withdrawn_by} at {w.withdrawn_at}" if w.withdrawn_at else "active"
            print(f"{w.source} {w.day}: {w.reason} (waived by {w.waived_by} at {w.waived_at}; {state})")
        if not listed:
            print(f"no waivers in {completeness.state_file(layout)}")
        return 0
    try:
        days = completeness.waiver_days(source or "", day or "", to)
        if withdraw:
            # a range withdraws the waivers it holds (one transaction); one day without a waiver is an error
            if len(days) > 1:
                withdrawn = completeness.withdraw_waivers(layout, source or "", days)
            else:
                withdrawn = [completeness.withdraw_waiver(layout, source or "", days[0])]
            for waiver in withdrawn:
                print(f"withdrew the waiver of {waiver.source} {waiver.day} ({waiver.reason})")
            return 0
        if len(days) > 1:
            # the whole range in one transaction: all waived, or (an error) none
            fresh = [new for _, new in completeness.waive_days(layout, source or "", days, reason or "")]
            print(
                f"waived {source} {days[0]} .. {days[-1]}: {sum(fresh)} new waiver(s), "
                f"{len(days) - sum(fresh)} day(s) already waived (kept); reason: {reason.strip()}"
            )
            return 0
        waiver, new = completeness.waive(layout, source or "", day or "", reason or "")
    except completeness.WaiverError as problem:
        print(f"nothing waived: {problem}", file=sys.stderr)
        return 2
    if new:
        print(f"waived {waiver.source} {waiver.day}: {waiver.reason}")
        print(f"(by {waiver.waived_by} at {waiver.waived_at}; stored in {completeness.state_file(layout)})")
    else:
        print(
            f"{waiver.source} {waiver.day} already waived by {waiver.waived_by} at {waiver.waived_at}: "
            f"{waiver.reason} (unchanged; --withdraw first to give another reason)"
        )
    return 0


def run_ui(port: int) -> int:
    """Start ``dagster dev`` on 127.0.0.1 from workspace.yaml; Ctrl-C stops it."""
    _prepare_environment()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(WORKSPACE_FILE), "-h", "127.0.0.1", "-p", str(port)]
    print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    return _serve(command)


def _serve(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run a server until it ends; Ctrl-C or SIGTERM stops it."""
    # Started without a shell so that SIGINT reaches the server and stops it cleanly.
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    # A SIGTERM (e.g. from a supervisor or `timeout`) stops it the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGINT))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


def run_dashboards(action: str, port: int) -> int:
    """``dashboards validate``: check every board file (format, query, chart columns), then run each
    query once on ``analytics.duckdb`` when there is one; ``dashboards serve``: the app (Streamlit) on
    127.0.0.1:``port``, Ctrl-C stops it."""
    from orchestration.defs.publish.boards import board_connection, load_boards, run_panel

    layout = DataLayout.at(os.environ.get("FUNDCDP_DATA_DIR") or "data")
    if action == "validate":
        boards, problems = load_boards()
        if layout.analytics_db.exists():
            con = board_connection(layout.analytics_db)
            try:
                for found in boards:
                    for index, panel in enumerate(found.board.panels):
                        data = run_panel(con, panel)
                        if data.error:
                            problems.append(f"{found.path}: panels.{index}.sql: {data.error}")
                        elif missing := [c for c in panel.chart.columns() if c not in data.columns]:
                            problems.append(
                                f"{found.path}: panels.{index}.chart: names {', '.join(missing)}, "
                                f"which the query does not return ({', '.join(data.columns)})"
                            )
            finally:
                con.close()
        for problem in problems:
            print(problem, file=sys.stderr)
        checked = (
            "queries run on " + str(layout.analytics_db)
            if layout.analytics_db.exists()
            else ("queries not run: no analytics.duckdb yet")
        )
        print(f"{len(boards)} board file(s) read, {len(problems)} problem(s); {checked}")
        return 1 if problems else 0
    app = PROJECT_ROOT / "orchestration" / "dashboards" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false", "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    print(f"dashboards on http://127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    return _serve(command, {**os.environ, "FUNDCDP_DATA_DIR": str(layout.root)})


def run_segments(
    action: str,
    name: str | None,
    dialect: str,
    version: int | None = None,
    reason: str | None = None,
    approved_by: str | None = None,
) -> int:
    """Validate every definition, print their JSON Schema, preview / compile one against the built
    warehouse (a compiled segment is printed or run only after the guard passed it), or approve one's
    blocked version. An invalid file is reported and stops only itself: the other segments preview."""
    import json

    from orchestration.defs.segments.compiler import DIALECTS, compile_segment
    from orchestration.defs.segments.contradictions import empty_preview_warning, rule_warnings
    from orchestration.defs.segments.definition import Catalog, json_schema, load_valid_segments
    from orchestration.defs.segments.guard import SegmentSQLRefused, check_segment_sql

    if action == "approve":
        return _approve_segment(name, version, reason, approved_by)
    catalog = Catalog.load()
    if action == "schema":
        print(json.dumps(json_schema(catalog), indent=2, ensure_ascii=False))
        return 0
    files = load_valid_segments(catalog=catalog)
    if action == "validate":
        for problem in files.problems():
            print(f"INVALID {problem}")
        for segment in files.valid:
            for warning in rule_warnings(segment, catalog):
                print(f"WARNING {warning}")
        if not files.invalid:
            print(f"{len(files.valid)} segment definitions valid")
        return 1 if files.invalid else 0
    definitions = {segment.name: segment for segment in files.valid}
    if name in files.invalid:
        for problem in files.invalid[name]:
            print(f"INVALID {problem}", file=sys.stderr)
        return 1
    if name not in definitions:
        print(f"unknown segment {name!r}; known: {', '.join(sorted(definitions))}")
        return 2
    if files.invalid:  # one line, no traceback: the others still preview
        print(f"note: skipped invalid segment file(s): {', '.join(sorted(files.invalid))}", file=sys.stderr)
    layout = _prepare_environment()
    as_of = _built_as_of(layout)
    from orchestration.defs.segments.versions import preview_segment

    started = time.monotonic()
    try:
        if action == "compile":
            sql = compile_segment(definitions[name], catalog, DIALECTS[dialect], as_of)
            check_segment_sql(sql, dialect, name)
            print(sql)
            return 0
        preview = preview_segment(layout.warehouse_db, definitions[name], catalog, as_of)
    except SegmentSQLRefused as refused:
        print(refused, file=sys.stderr)
        return 1
    preview["seconds"] = round(time.monotonic() - started, 3)
    warnings = rule_warnings(definitions[name], catalog)
    if (empty := empty_preview_warning(definitions[name], preview["size"], preview["matched"])) is not None:
        warnings.append(empty)
    if warnings:
        preview["warnings"] = [f"{warning.path}: {warning.reason}" for warning in warnings]
    for warning in warnings:
        print(f"WARNING {warning}", file=sys.stderr)
    print(json.dumps(preview, indent=2, ensure_ascii=False))
    return 0


def _approve_segment(
    name: str | None, version: int | None, reason: str | None, approved_by: str | None
) -> int:
    """``segments approve NAME [--version N] --reason "..."``: publish the blocked version, holding the run
    lock (segments.duckdb has one writer)."""
    from orchestration.defs.segments.approval import current_user
    from orchestration.defs.segments.versions import ApprovalError, approve_segment

    if not name:
        print("segments approve needs the segment's name", file=sys.stderr)
        return 2
    layout = _prepare_environment()
    who = approved_by or current_user()

    def approve() -> int:
        try:
            outcome = approve_segment(
                layout.segments_db, layout.outbox, name, reason or "", who, version, layout.warehouse_db
            )
        except ApprovalError as problem:
            print(f"not approved: {problem}", file=sys.stderr)
            return 1
        print(
            f"segment {name}: version {outcome.version} published ({outcome.size} members, "
            f"{outcome.entered} entered, {outcome.exited} exited), approved by {who}; "
            f"export {outcome.export_dir}"
        )
        return 0

    return _holding_run_lock(f"segments approve {name}", approve)


def run_erase(identifier_type: str, value: str, request_id: str | None, now: bool) -> int:
    """File a deletion request (the next run honours it), or with ``now`` honour it at once."""
    layout = _prepare_environment()
    from orchestration.defs.privacy import erasure
    from orchestration.defs.privacy.step import honour_pending_requests
    from orchestration.lib.rules import load_business_rules
    from orchestration.lib.settings import FundcdpSettings

    request = erasure.submit_request(layout, identifier_type, value, request_id)
    # Never print the identifier: the request id is what the log and the user refer to.
    print(f"deletion request {request.request_id} filed in {request.path.parent}", flush=True)
    if not now:
        print("the next run of the daily job honours it (or run again with --now)")
        return 0
    for row in honour_pending_requests(layout, FundcdpSettings().hash_key_bytes(), load_business_rules()):
        if row["status"] == erasure.HELD:
            print(f"held {row['request_id']}, nobody erased: {row['status_reason']}")
            continue
        print(
            f"honoured {row['request_id']}: {row['persons_found']} person(s); raw rows removed "
            f"{row['raw_rows_removed_by_table']}; {row['landing_files_rewritten']} landing files rewritten; "
            f"derived rows removed {row['derived_rows_removed_by_store']}; "
            f"{row['export_rows_removed']} export rows removed; {row['tombstones_written']} tombstones"
        )
    print("the next run rebuilds the warehouse and analytics.duckdb without them")
    return 0


def run_rotate_key() -> int:
    """Re-hash everything from FUNDCDP_HASH_KEY to FUNDCDP_NEW_HASH_KEY (see defs/privacy/key_rotation.py)."""
    layout = _prepare_environment()
    from orchestration.defs.privacy.key_rotation import RotationError, rotate

    old, new = os.environ.get("FUNDCDP_HASH_KEY"), os.environ.get("FUNDCDP_NEW_HASH_KEY")
    if not old or not new:
        print(
            "set FUNDCDP_HASH_KEY (the current key) and FUNDCDP_NEW_HASH_KEY (the new one)", file=sys.stderr
        )
        return 2
    try:
        counts = rotate(layout, old.encode(), new.encode())
    except RotationError as problem:
        print(f"key not rotated: {problem}", file=sys.stderr)
        return 1
    print(
        f"rotated {counts['hashes_rotated']} hashes; {counts['person_ids_changed']} person ids changed; "
        f"{counts['raw_files_rewritten']} raw files and {counts['tables_rewritten']} tables rewritten. "
        "Now set FUNDCDP_HASH_KEY to the new key and unset FUNDCDP_NEW_HASH_KEY before the next run."
    )
    return 0


def _built_as_of(layout: DataLayout) -> date:
    """FUNDCDP_AS_OF_DATE, else the as-of date the warehouse's tags were built for."""
    if os.environ.get("FUNDCDP_AS_OF_DATE"):
        return date.fromisoformat(os.environ["FUNDCDP_AS_OF_DATE"])
    from orchestration.lib.as_of import built_as_of_date

    if not layout.warehouse_db.exists():
        raise SystemExit(f"no warehouse at {layout.warehouse_db}: run `make run` first")
    return built_as_of_date(layout.warehouse_db)


def _holding_run_lock(command: str, run) -> int:
    """``run()`` holding the data directory's run lock (orchestration/lib/run_lock.py) for the whole
    command: another run over the same data directory waits, and this command's in-process runs take the
    lock again without waiting. 1 if the lock could not be had in FUNDCDP_RUN_LOCK_TIMEOUT, alerted
    ``run_failed`` (the command, the holder, the wait; once per command and start)."""
    from orchestration.lib.run_lock import RunLockTimeout, alert_lock_timeout, hold_run_lock

    layout = DataLayout.at(os.environ.get("FUNDCDP_DATA_DIR") or "data")
    started = time.time()
    try:
        with hold_run_lock(
            layout.root, run=f"cli {command}", log=lambda line: print(line, file=sys.stderr, flush=True)
        ):
            return run()
    except RunLockTimeout as problem:
        print(f"not run: {problem}", file=sys.stderr)
        alert_lock_timeout(layout.alerts_log, f"cli {command}", problem, started)
        return 1


def _verbose_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--verbose",
        action="store_true",
        default=_verbose_default(),
        help="Dagster's and dbt's full log on the console (default: a progress display, the log in logs/; "
        "also VERBOSE=1)",
    )


def main(argv: list[str] | None = None) -> int:
    restrict_umask()  # owner-only files whatever the caller's umask; dbt and dagster dev inherit it
    parser = argparse.ArgumentParser(prog="fundcdp")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load, build and summarise the whole pipeline")
    run.add_argument(
        "--history-days",
        type=int,
        default=14,
        help="first build as of this many days before the latest delivery (tag history); 0: no",
    )
    _verbose_option(run)
    segments = commands.add_parser(
        "segments",
        help="validate all segment definitions, preview or compile one, print their JSON Schema, "
        "approve a blocked version",
    )
    segments.add_argument("action", choices=["validate", "preview", "compile", "schema", "approve"])
    segments.add_argument("name", nargs="?", help="the segment (preview, compile, approve)")
    segments.add_argument("--dialect", choices=["duckdb", "spark"], default="duckdb")
    segments.add_argument("--version", type=int, help="approve: the version number the blocked one becomes")
    segments.add_argument("--reason", help="approve: why it may be published (recorded)")
    segments.add_argument(
        "--by", dest="approved_by", help="approve: who approves (default FUNDCDP_USER, else the OS user)"
    )
    day = commands.add_parser(
        "day", help="run the daily job for one day (load, build, gates, publish, segments)"
    )
    day.add_argument("day", help="YYYY-MM-DD")
    _verbose_option(day)
    backfill = commands.add_parser(
        "backfill", help="run the daily job for a range of days as one run, days in date order"
    )
    backfill.add_argument("first", help="YYYY-MM-DD")
    backfill.add_argument("last", help="YYYY-MM-DD")
    _verbose_option(backfill)
    history = commands.add_parser(
        "import-history",
        help="load many days of deliveries in one pass and build the warehouse once, as of the last day",
    )
    history.add_argument("--from", dest="first", help="first delivery day (default: the earliest)")
    history.add_argument("--to", dest="last", help="last delivery day (default: the latest)")
    history.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="also build as of this many days before the last day first (tag_history then holds 2 dates)",
    )
    _verbose_option(history)
    waive = commands.add_parser(
        "waive",
        help="waive a source's day so that it no longer holds publishing back; --withdraw, --list",
    )
    waive.add_argument("--source", help="trade, crm or tracking")
    waive.add_argument("--day", help="YYYY-MM-DD")
    waive.add_argument(
        "--to", help="YYYY-MM-DD: every day from --day to this one (a source that began later)"
    )
    waive.add_argument("--reason", help="why the day may stay incomplete (required to waive)")
    waive_action = waive.add_mutually_exclusive_group()
    waive_action.add_argument("--withdraw", action="store_true", help="withdraw the day's waiver")
    waive_action.add_argument("--list", dest="list_all", action="store_true", help="list every waiver")
    erase = commands.add_parser("erase", help="file a deletion request for a person (PIPL Art. 47)")
    named = erase.add_mutually_exclusive_group(required=True)
    named.add_argument("--customer-no")
    named.add_argument("--phone")
    named.add_argument("--id-number")
    named.add_argument("--email")
    named.add_argument("--login-id")
    erase.add_argument("--request-id", help="your reference (default DR<timestamp>)")
    erase.add_argument("--now", action="store_true", help="honour it now, not at the next run")
    commands.add_parser(
        "rotate-key", help="re-hash all personal identifiers from FUNDCDP_HASH_KEY to FUNDCDP_NEW_HASH_KEY"
    )
    dashboards = commands.add_parser(
        "dashboards", help="validate the dashboard boards (dashboards/), or serve the dashboard app"
    )
    dashboards.add_argument("action", choices=["validate", "serve"])
    dashboards.add_argument(
        "--port", type=int, default=int(os.environ.get("FUNDCDP_DASHBOARDS_PORT", "8501"))
    )
    ui = commands.add_parser("ui", help="start the Dagster UI")
    ui.add_argument("--port", type=int, default=int(os.environ.get("FUNDCDP_UI_PORT", "3000")))
    args = parser.parse_args(argv)
    if args.command == "run":
        return _holding_run_lock("run", lambda: run_pipeline(args.history_days, args.verbose))
    if args.command == "segments":
        return run_segments(args.action, args.name, args.dialect, args.version, args.reason, args.approved_by)
    if args.command == "day":
        return _holding_run_lock(f"day {args.day}", lambda: run_range(args.day, args.day, args.verbose))
    if args.command == "backfill":
        return _holding_run_lock(
            f"backfill {args.first} {args.last}", lambda: run_range(args.first, args.last, args.verbose)
        )
    if args.command == "import-history":
        return _holding_run_lock(
            "import-history",
            lambda: run_import_history(args.first, args.last, args.history_days, args.verbose),
        )
    if args.command == "waive":
        if not args.list_all and (not args.source or not args.day):
            parser.error("waive needs --source and --day (or --list)")
        return run_waive(args.source, args.day, args.reason, args.withdraw, args.list_all, args.to)
    if args.command == "erase":
        kind = next(
            k
            for k in ("customer_no", "phone", "id_number", "email", "login_id")
            if getattr(args, k) is not None
        )
        if not getattr(args, kind).strip():
            parser.error(f"--{kind.replace('_', '-')} needs a value")
        from orchestration.defs.privacy.erasure import request_id_problem

        if args.request_id is not None and (problem := request_id_problem(args.request_id)):
            parser.error(f"--request-id refused, nothing filed: {problem}")
        erase_now = lambda: run_erase(kind, getattr(args, kind), args.request_id, args.now)  # noqa: E731
        return _holding_run_lock("erase --now", erase_now) if args.now else erase_now()
    if args.command == "dashboards":
        return run_dashboards(args.action, args.port)
    if args.command == "rotate-key":
        return _holding_run_lock("rotate-key", run_rotate_key)
    return run_ui(args.port)


if __name__ == "__main__":
    sys.exit(main())
