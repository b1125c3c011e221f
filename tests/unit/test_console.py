"""The command line's console (orchestration/lib/console.py): the progress per stage fed by a real run's
events, the problem lines, and the routing of everything else to the log file."""

import io
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from orchestration.lib.console import (
    RunConsole,
    RunPlan,
    StepFailure,
    log_file_path,
    problem_lines,
    stage_of,
)
from orchestration.lib.paths import PROJECT_ROOT


def test_each_asset_has_its_stage_by_group_and_kind():
    assert stage_of("staging", {"dbt", "duckdb"}) == "dbt"
    assert stage_of("raw_crm", {"parquet"}) == "load"
    assert stage_of("privacy", {"parquet"}) == "privacy"
    assert stage_of("ml", {"python"}) == "ml"
    assert stage_of("segments", set()) == "segments"
    assert stage_of("publish", {"duckdb"}) == "publish"
    assert stage_of("default", set()) == "other"
    plan = RunPlan({"a": "load", "b": "load", "c": "dbt", "d": "other"}, gate_total=2)
    assert plan.totals() == {"load": 2, "dbt": 1, "gates": 2}


# A small run of real Dagster events: two raw tables (one refuses a day), two dbt-kind models, a gate
# that passes and one that fails, the publish step.
@dg.asset(key=["crm", "customers"], group_name="raw_crm")
def crm_customers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": 3})


@dg.asset(key=["crm", "bank_cards"], group_name="raw_crm")
def crm_bank_cards():
    # as the raw loads do: the days that loaded are recorded as materialized before the step fails
    yield dg.AssetMaterialization(asset_key=["crm", "bank_cards"], metadata={"days": 2})
    raise dg.Failure(
        description="crm.bank_cards: 1 day(s) not loaded: 2026-05-31: /data/landing/crm/2026-05-31: "
        "incomplete delivery, listed in the control file but missing: consents_20260531.csv",
        metadata={
            "days": 2,
            "failed_days": dg.MetadataValue.json(
                {
                    "2026-05-31": "/data/landing/crm/2026-05-31: incomplete delivery, listed in the control "
                    "file but missing: consents_20260531.csv"
                }
            ),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["staging", "stg_a"], kinds={"dbt"}, group_name="staging", deps=[crm_customers]),
        dg.AssetSpec(["marts", "persons"], kinds={"dbt"}, group_name="analytics"),
    ],
    check_specs=[
        dg.AssetCheckSpec("gx_persons", asset=["marts", "persons"]),
        dg.AssetCheckSpec("gx_stg_a", asset=["staging", "stg_a"]),
        dg.AssetCheckSpec("not_null_persons_id", asset=["marts", "persons"]),
    ],
)
def dbt_models():
    yield dg.MaterializeResult(asset_key=["staging", "stg_a"])
    yield dg.MaterializeResult(asset_key=["marts", "persons"])
    yield dg.AssetCheckResult(asset_key=["marts", "persons"], check_name="gx_persons", passed=True)
    yield dg.AssetCheckResult(asset_key=["staging", "stg_a"], check_name="gx_stg_a", passed=False)
    yield dg.AssetCheckResult(asset_key=["marts", "persons"], check_name="not_null_persons_id", passed=True)


@dg.asset(key="analytics", group_name="publish", deps=[["marts", "persons"]])
def analytics() -> None:
    return None


def _run_small_job(console: RunConsole):
    from orchestration.lib.console import is_gate

    definitions = dg.Definitions(
        assets=[crm_customers, crm_bank_cards, dbt_models, analytics],
        jobs=[dg.define_asset_job("small_daily", selection=dg.AssetSelection.all())],
    )
    job = definitions.resolve_job_def("small_daily")
    graph = definitions.resolve_asset_graph()
    plan = RunPlan(
        {
            key: stage_of(graph.get(key).group_name, graph.get(key).kinds)
            for key in graph.get_all_asset_keys()
        },
        gate_total=sum(is_gate(check.name) for check in graph.asset_check_keys),
        job_name="small_daily",
    )
    progress = console.progress("a small run")
    run_id = "0f0e0d0c-0000-4000-8000-000000000001"
    with dg.instance_for_test() as instance:
        progress.begin(plan, run_id)
        instance.add_event_listener(run_id, progress.handle)
        result = job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
        progress.end(result.success)
    return progress, result


def test_the_progress_counts_each_stage_from_the_runs_events_in_plain_lines():
    stream = io.StringIO()
    progress, result = _run_small_job(RunConsole(stream))
    assert not result.success
    lines = stream.getvalue().splitlines()
    assert lines[0] == "a small run (job small_daily, run 0f0e0d0c)"
    # not a terminal: a stage's line when it is done (the gates' checks are not blocking: publish runs)
    assert sorted(lines[1:-1]) == sorted(
        [
            "  raw tables       2/2    3 days, 1 failed",
            "  dbt models       2/2",
            "  quality gates    2/2    1 failed",
            "  publish          1/1",
        ]
    )
    assert lines[-1].startswith("  FAILED in ") and lines[-1].endswith(" s: 1 step(s) failed")
    assert {stage: (c.done, c.failed) for stage, c in progress.stages.items()} == {
        "load": (1, 1),
        "dbt": (2, 0),
        "gates": (1, 1),
        "publish": (1, 0),
    }
    [failure] = progress.failures
    assert failure.step_key == "crm__bank_cards"
    assert failure.failed_days == {
        "2026-05-31": "/data/landing/crm/2026-05-31: incomplete delivery, listed in the control file but "
        "missing: consents_20260531.csv"
    }


def test_on_a_terminal_the_progress_is_a_live_display_ending_with_every_stage():
    stream = io.StringIO()
    console = RunConsole(stream, live=True)
    console._rich = __import__("rich.console").console.Console(file=stream, force_terminal=True, width=100)
    progress, _ = _run_small_job(console)
    shown = stream.getvalue()
    for label in ("raw tables", "dbt models", "quality gates", "publish"):
        assert label in shown
    assert "3 days, 1 failed" in shown
    assert progress.stages["dbt"].done == 2


def test_a_refused_delivery_is_one_line_per_source_day_and_reason_with_what_to_do():
    why = "/data/landing/crm/2026-05-31: incomplete delivery, listed in the control file but missing: c.csv"
    failures = [
        StepFailure("crm__bank_cards", "crm.bank_cards: 1 day(s) not loaded: ...", {"2026-05-31": why}),
        StepFailure("crm__customers", "crm.customers: 1 day(s) not loaded: ...", {"2026-05-31": why}),
        StepFailure("trade__nav", "trade.nav: 1 day(s) not loaded", {"2026-06-01": "/data/landing/x: bad"}),
        StepFailure("fundcdp_dbt_models", "DagsterExecutionStepExecutionError: boom"),
        StepFailure("fundcdp_dbt_models", "DagsterExecutionStepExecutionError: boom"),
    ]
    lines = problem_lines(failures, Path("/data"), {("crm", "2026-05-31")}, Path("/data/logs/run-x.log"))
    assert lines == [
        "WARNING crm 2026-05-31: landing/crm/2026-05-31: incomplete delivery, listed in the control file but "
        "missing: c.csv (bank_cards, customers not loaded for that day); the demo's planted incomplete "
        "delivery: waived, so publishing goes on",
        "WARNING trade 2026-06-01: landing/x: bad (nav not loaded for that day); re-deliver it, then "
        "`python -m orchestration.cli day 2026-06-01` (or waive the day: `python -m orchestration.cli waive "
        "--source trade --day 2026-06-01 --reason ...`)",
        "FAILED fundcdp_dbt_models: DagsterExecutionStepExecutionError: boom (details and stack trace: "
        "/data/logs/run-x.log)",
    ]


def test_one_log_file_per_command_run(tmp_path):
    now = datetime(2026, 12, 7, 7, 8, 9, tzinfo=UTC)
    first = log_file_path(tmp_path, "run", now)
    assert first == tmp_path / "run-20261207T070809Z.log"
    first.touch()
    assert log_file_path(tmp_path, "run", now) == tmp_path / f"run-20261207T070809Z-{os.getpid()}.log"


ROUTED = textwrap.dedent(
    """
    import logging, subprocess, sys, warnings
    from pathlib import Path
    from orchestration.lib.console import run_console

    with run_console(Path(sys.argv[1]), "run", verbose=sys.argv[2] == "1") as console:
        console.line("for the reader")
        print("DEBUG a dagster line")
        warnings.warn("BetaWarning stand-in")
        logging.getLogger("x").error("Stack Trace: a traceback")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('dbt child line\\\\n')"])
    print("after the command")
    if len(sys.argv) > 3:
        with run_console(Path(sys.argv[1]), "day", verbose=False) as console:
            raise RuntimeError("an unexpected error\\nwith a second line")
    """
)


def _routed(tmp_path: Path, verbose: bool, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ROUTED, str(tmp_path), "1" if verbose else "0", *more],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_everything_but_the_console_lines_goes_to_the_log_file(tmp_path):
    done = _routed(tmp_path, verbose=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "for the reader\nafter the command\n"
    assert done.stderr == ""
    [log] = tmp_path.glob("run-*.log")
    text = log.read_text()
    for line in ("[console] for the reader", "DEBUG a dagster line", "BetaWarning stand-in", "a traceback"):
        assert line in text
    assert "dbt child line" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_verbose_leaves_the_full_stream_on_the_console(tmp_path):
    done = _routed(tmp_path, verbose=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "for the reader\nDEBUG a dagster line\nafter the command\n"
    assert "BetaWarning stand-in" in done.stderr and "dbt child line" in done.stderr
    assert not list(tmp_path.glob("run-*.log"))


def test_an_unexpected_error_is_one_line_and_its_stack_trace_is_in_the_log(tmp_path):
    done = _routed(tmp_path, False, "raise")
    assert done.returncode == 1
    [log] = tmp_path.glob("day-*.log")
    assert done.stdout.splitlines()[-1] == (f"FAILED: RuntimeError: an unexpected error (stack trace: {log})")
    assert done.stderr == ""
    assert "Traceback (most recent call last)" in log.read_text()


THREE_DAYS = dg.DailyPartitionsDefinition(start_date="2026-06-01", end_date="2026-06-04")


@dg.asset(
    key=["trade", "nav"],
    group_name="raw_trade",
    partitions_def=THREE_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def trade_nav(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset(
    key=["staging", "stg_trade__navs"],
    kinds={"dbt"},
    group_name="staging",
    deps=[trade_nav],
    partitions_def=THREE_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def stg_navs() -> None:
    return None


def test_a_range_of_days_counts_each_asset_once_and_every_day_loaded():
    definitions = dg.Definitions(
        assets=[trade_nav, stg_navs],
        jobs=[dg.define_asset_job("range_daily", partitions_def=THREE_DAYS)],
    )
    job = definitions.resolve_job_def("range_daily")
    stream = io.StringIO()
    progress = RunConsole(stream).progress("a backfill")
    plan = RunPlan({trade_nav.key: "load", stg_navs.key: "dbt"}, job_name="range_daily")
    run_id = "0f0e0d0c-0000-4000-8000-000000000002"
    range_tags = {
        "dagster/asset_partition_range_start": "2026-06-01",
        "dagster/asset_partition_range_end": "2026-06-03",
    }
    with dg.instance_for_test() as instance:
        progress.begin(plan, run_id)
        instance.add_event_listener(run_id, progress.handle)
        result = job.execute_in_process(instance=instance, run_id=run_id, tags=range_tags)
        progress.end(result.success)
        # Dagster recorded one materialization per asset and day: 6, shown as 2 assets
        assert len(result.get_asset_materialization_events()) == 6
    lines = stream.getvalue().splitlines()
    assert lines[1:3] == ["  raw tables       1/1    3 days", "  dbt models       1/1"]
    assert lines[3].startswith("  succeeded in ")


def test_a_dbt_model_counts_as_built_once_its_tests_ran_before_its_materialization_arrives():
    from types import SimpleNamespace

    stream = io.StringIO()
    progress = RunConsole(stream).progress("a build")
    models = [dg.AssetKey(["staging", "stg_a"]), dg.AssetKey(["marts", "persons"])]
    progress.begin(RunPlan({key: "dbt" for key in models}, gate_total=1), "run-1")

    def check(key: dg.AssetKey, name: str, passed: bool = True) -> SimpleNamespace:
        evaluation = SimpleNamespace(asset_key=key, check_name=name, passed=passed)
        return SimpleNamespace(
            dagster_event=SimpleNamespace(
                event_type_value="ASSET_CHECK_EVALUATION", event_specific_data=evaluation
            )
        )

    progress.handle(check(models[0], "not_null_stg_a_id"))
    progress.handle(check(models[0], "unique_stg_a_id", passed=False))  # a failed dbt test: still built
    assert (progress.stages["dbt"].done, progress.stages["dbt"].failed) == (1, 0)
    progress.handle(check(models[1], "gx_persons"))  # a gate, not a dbt test
    assert progress.stages["dbt"].done == 1 and progress.stages["gates"].done == 1
    progress.handle(check(models[1], "not_null_persons_person_id"))
    assert stream.getvalue().splitlines()[1:] == ["  quality gates    1/1", "  dbt models       2/2"]


@dg.asset(key=["marts", "broken"], kinds={"dbt"}, group_name="analytics")
def broken_model() -> None:
    raise ValueError("Expecting value: line 1 column 527035\nsecond line")


def test_a_step_that_raised_is_named_by_its_own_exception_not_dagsters_wrapper():
    job = dg.Definitions(assets=[broken_model], jobs=[dg.define_asset_job("broken")]).resolve_job_def(
        "broken"
    )
    progress = RunConsole(io.StringIO()).progress("a build")
    run_id = "0f0e0d0c-0000-4000-8000-000000000003"
    with dg.instance_for_test() as instance:
        progress.begin(RunPlan({broken_model.key: "dbt"}), run_id)
        instance.add_event_listener(run_id, progress.handle)
        job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    [failure] = progress.failures
    assert (failure.step_key, failure.message) == (
        "marts__broken",
        "ValueError: Expecting value: line 1 column 527035",
    )
    assert progress.stages["dbt"].failed == 1
