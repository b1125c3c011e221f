"""``python -m orchestration.cli run|day|backfill|import-history|waive|segments|erase|rotate-key|ui``: what
``make run`` and ``make ui`` call, and the operator's commands."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

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


def _generate_demo_data(layout: DataLayout) -> None:
    # A subprocess, not an import: the pipeline never imports the demo generator.
    print(f"landing/ is empty: generating demo source data into {layout.landing}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(layout.root)], check=True
    )


def _waive_planted_demo_days(layout: DataLayout) -> None:
    """The demo plants one incomplete day on purpose (its truth says which): waived once, so that it does
    not hold publishing back; one line says so."""
    from orchestration.defs.ingest.completeness import waive_planted_demo_days

    for waiver in waive_planted_demo_days(layout):
        print(
            f"waived {waiver.source} {waiver.day} ({waiver.reason}); "
            f"`python -m orchestration.cli waive --withdraw --source {waiver.source} --day {waiver.day}` "
            "withdraws it",
            flush=True,
        )


def _hash_key_refused(announce_demo_key: bool = True) -> bool:
    """Without FUNDCDP_HASH_KEY only the demo sources load: True, with why not printed (one line). With the
    demo key on the demo sources, one line says so (``run`` says it in its summary instead)."""
    from orchestration.lib.settings import DEMO_KEY_NOTICE, FundcdpSettings

    settings = FundcdpSettings()
    refusal = settings.demo_key_refusal()
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return True
    if announce_demo_key and settings.uses_demo_key():
        print(DEMO_KEY_NOTICE, file=sys.stderr, flush=True)
    return False


def _failure_messages(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            first_line = event.step_failure_data.error.message.strip().splitlines()[0]
            messages.append(first_line.removeprefix("dagster._core.definitions.events.Failure: "))
    return messages


def run_pipeline(history_days: int = 14) -> int:
    """Generate demo data if needed, load every delivered day, build the warehouse, print a summary.

    The warehouse is built as of FUNDCDP_AS_OF_DATE, else the latest delivery; with history_days > 0 it is
    first built as of that many days before, so that tag_history and lifecycle_transitions show changes."""
    layout = _prepare_environment()
    if _landing_is_empty(layout):
        _generate_demo_data(layout)
    demo_landing = layout.is_demo_landing()
    if _hash_key_refused(announce_demo_key=False):
        return 2
    import dagster as dg

    from orchestration.defs.automation.dead_runs import reap_dead_runs
    from orchestration.defs.automation.summary import format_summary
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.lib.settings import FundcdpSettings
    from orchestration.runner import build_warehouse, load_history

    days = delivery_days(layout)
    instance = dg.DagsterInstance.get()
    for run_id in reap_dead_runs(instance):
        print(f"run {run_id} was killed or crashed: marked failed, its pool slots freed", flush=True)
    started = time.monotonic()
    print(f"loading {len(days)} delivery days {days[0]} .. {days[-1]} into raw/", flush=True)
    load = load_history(instance, days[0], days[-1])  # one run of the last day, as cli import-history
    failures = _failure_messages(load)
    if demo_landing:
        # after the load: a waiver answers the failures recorded before it, not those after it
        _waive_planted_demo_days(layout)
    print(
        f"raw layer loaded in {time.monotonic() - started:.1f} s; building the warehouse with dbt", flush=True
    )
    latest = os.environ.get("FUNDCDP_AS_OF_DATE") or days[-1]
    earlier = date.fromisoformat(latest) - timedelta(days=history_days)
    if history_days > 0 and earlier.isoformat() >= days[0]:
        print(f"building the warehouse as of {earlier} first (tag history)", flush=True)
        failures += _failure_messages(build_warehouse(instance, earlier.isoformat()))
    print(f"building the warehouse as of {latest}", flush=True)
    build = build_warehouse(instance, latest)
    failures += _failure_messages(build)
    print(f"done in {time.monotonic() - started:.1f} s\n", flush=True)
    from orchestration.defs.quality.publish_gate import completeness_ledger

    print(
        format_summary(
            layout,
            failures,
            demo_key=FundcdpSettings().uses_demo_key(),
            ledger=completeness_ledger(layout, latest),
        )
    )
    gates = {
        evaluation.check_name: evaluation.passed
        for evaluation in build.get_asset_check_evaluations()
        if evaluation.check_name.startswith("gx_")
    }
    if gates:
        failed_gates = sorted(name for name, passed in gates.items() if not passed)
        print(
            f"\nQuality gates (Great Expectations): {len(gates) - len(failed_gates)} of {len(gates)} passed"
        )
        for name in failed_gates:
            print(f"  FAILED {name} (details: quality.duckdb dq_results, logs/alerts.log, gx/ Data Docs)")
        materialized = {
            event.asset_key: event.materialization.metadata
            for event in build.get_asset_materialization_events()
        }
        published = materialized.get(dg.AssetKey("analytics"))
        print(
            f"analytics.duckdb: {'published' if published else 'NOT published (previous version kept)'} "
            f"at {layout.analytics_db}"
        )
        if (metadata := materialized.get(dg.AssetKey("segments"))) is not None:
            blocked = metadata["blocked"].value or "none"
            print(f"segments: {metadata['published'].value} published, blocked: {blocked}")
            # written with analytics.duckdb, after the segments
            report = published["report"].value if published else "not written (quality gates did not pass)"
            print(f"report: {report}")
    truth = layout.demo_truth / "identities.csv"
    if build.success and truth.exists():
        from orchestration.defs.quality.identity_quality import pair_quality

        quality = pair_quality(truth, layout.warehouse_db, FundcdpSettings().hash_key_bytes())
        print(
            f"\nID-Mapping against the demo truth ({truth.parent}): pair precision "
            f"{quality.precision:.4f}, recall {quality.recall:.4f} "
            f"({quality.identifiers_compared} identifiers, {quality.true_pairs} true pairs)"
        )
    return 0 if build.success else 1


def run_range(first: str, last: str) -> int:
    """The daily job for ``first .. last`` as one in-process run (``last`` = ``first``: one day)."""
    layout = _prepare_environment()
    import dagster as dg

    from orchestration.defs.automation.dead_runs import reap_dead_runs
    from orchestration.lib.partitions import days as partitions
    from orchestration.runner import run_days

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
    instance = dg.DagsterInstance.get()
    for run_id in reap_dead_runs(instance):
        print(f"run {run_id} was killed or crashed: marked failed, its pool slots freed", flush=True)
    print(
        f"running the daily job for {first} .. {last} ({len(covered)} day(s)) into {layout.root}", flush=True
    )
    started = time.monotonic()
    result = run_days(instance, covered)
    for message in _failure_messages(result):
        print(f"FAILED {message}", file=sys.stderr)
    outcome = "succeeded" if result.success else "FAILED"
    print(f"{outcome} in {time.monotonic() - started:.1f} s (run {result.run_id})")
    return 0 if result.success else 1


def run_import_history(first: str | None, last: str | None, history_days: int) -> int:
    """Load every delivered day from ``first`` to ``last`` (default: the first and last delivery) in one
    pass and build the warehouse once, as of ``last`` (with ``history_days`` > 0, first as of that many
    days before, so that tag_history holds two dates). See docs/history_import.md."""
    layout = _prepare_environment()
    if _hash_key_refused():
        return 2
    import dagster as dg

    from orchestration.defs.automation.dead_runs import reap_dead_runs
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.lib.partitions import days as partitions
    from orchestration.runner import import_history

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
    instance = dg.DagsterInstance.get()
    for run_id in reap_dead_runs(instance):
        print(f"run {run_id} was killed or crashed: marked failed, its pool slots freed", flush=True)
    imported = [day for day in delivered if first <= day <= last]
    print(
        f"importing {len(imported)} delivery day(s) {first} .. {last} into {layout.root}: one load, then "
        f"the warehouse built as of {' and '.join(steps[1:])}",
        flush=True,
    )
    started = time.monotonic()
    success = True
    # Each step is one run of one day: it loads the days after the previous step's and builds as of its day.
    for index, day in enumerate(steps[1:]):
        from_day = (
            steps[0] if index == 0 else (date.fromisoformat(steps[index]) + timedelta(days=1)).isoformat()
        )
        result = import_history(instance, from_day, day)
        for message in _failure_messages(result):
            print(f"FAILED {message}", file=sys.stderr)
        print(
            f"{from_day} .. {day}: {'succeeded' if result.success else 'FAILED'} (run {result.run_id})",
            flush=True,
        )
        success = success and result.success
    print(f"{'succeeded' if success else 'FAILED'} in {time.monotonic() - started:.1f} s")
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
    # Started without a shell so that SIGINT reaches dagster dev and stops it cleanly.
    process = subprocess.Popen(command, cwd=PROJECT_ROOT)
    # A SIGTERM (e.g. from a supervisor or `timeout`) stops the UI the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGINT))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


def run_segments(action: str, name: str | None, dialect: str) -> int:
    """Validate every definition, print their JSON Schema, or preview / compile one against the built
    warehouse (a compiled segment is printed or run only after the guard passed it)."""
    import json

    from orchestration.defs.segments.compiler import DIALECTS, compile_segment
    from orchestration.defs.segments.definition import Catalog, json_schema, load_segments, validate_all
    from orchestration.defs.segments.guard import SegmentSQLRefused, check_segment_sql

    catalog = Catalog.load()
    if action == "schema":
        print(json.dumps(json_schema(catalog), indent=2, ensure_ascii=False))
        return 0
    if action == "validate":
        problems = validate_all(catalog=catalog)
        for problem in problems:
            print(f"INVALID {problem}")
        if not problems:
            print(f"{len(load_segments(catalog=catalog))} segment definitions valid")
        return 1 if problems else 0
    definitions = {segment.name: segment for segment in load_segments(catalog=catalog)}
    if name not in definitions:
        print(f"unknown segment {name!r}; known: {', '.join(sorted(definitions))}")
        return 2
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
    print(json.dumps(preview, indent=2, ensure_ascii=False))
    return 0


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
    segments = commands.add_parser(
        "segments", help="validate all segment definitions, preview or compile one, print their JSON Schema"
    )
    segments.add_argument("action", choices=["validate", "preview", "compile", "schema"])
    segments.add_argument("name", nargs="?", help="the segment (preview, compile)")
    segments.add_argument("--dialect", choices=["duckdb", "spark"], default="duckdb")
    day = commands.add_parser(
        "day", help="run the daily job for one day (load, build, gates, publish, segments)"
    )
    day.add_argument("day", help="YYYY-MM-DD")
    backfill = commands.add_parser(
        "backfill", help="run the daily job for a range of days as one run, days in date order"
    )
    backfill.add_argument("first", help="YYYY-MM-DD")
    backfill.add_argument("last", help="YYYY-MM-DD")
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
    ui = commands.add_parser("ui", help="start the Dagster UI")
    ui.add_argument("--port", type=int, default=int(os.environ.get("FUNDCDP_UI_PORT", "3000")))
    args = parser.parse_args(argv)
    if args.command == "run":
        return _holding_run_lock("run", lambda: run_pipeline(args.history_days))
    if args.command == "segments":
        return run_segments(args.action, args.name, args.dialect)
    if args.command == "day":
        return _holding_run_lock(f"day {args.day}", lambda: run_range(args.day, args.day))
    if args.command == "backfill":
        return _holding_run_lock(
            f"backfill {args.first} {args.last}", lambda: run_range(args.first, args.last)
        )
    if args.command == "import-history":
        return _holding_run_lock(
            "import-history", lambda: run_import_history(args.first, args.last, args.history_days)
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
    if args.command == "rotate-key":
        return _holding_run_lock("rotate-key", run_rotate_key)
    return run_ui(args.port)


if __name__ == "__main__":
    sys.exit(main())
