"""The command line's runs are runs of named jobs (orchestration/runner.py): the daily job and its two
halves, each selecting what the runner's loads and builds need, with the progress plan per stage."""

from pathlib import Path

from orchestration.definitions import defs
from orchestration.defs.automation.jobs import BUILD, BUILD_JOB, DAILY_JOB, LOAD, LOAD_JOB
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sources import ALL_TABLES
from orchestration.runner import _plan


def test_the_load_and_build_jobs_select_the_runners_halves_of_the_daily_job():
    assembled = defs()
    graph = assembled.resolve_asset_graph()
    daily = assembled.resolve_job_def(DAILY_JOB)
    load = assembled.resolve_job_def(LOAD_JOB)
    build = assembled.resolve_job_def(BUILD_JOB)
    assert (load.name, build.name) == ("fundcdp_load", "fundcdp_build")
    assert load.partitions_def == build.partitions_def == daily.partitions_def
    assert LOAD.resolve(graph) & BUILD.resolve(graph) == set()
    assert {"privacy", "deletion_requests"} <= {part for key in LOAD.resolve(graph) for part in key.path}


def test_each_runs_plan_counts_its_stages():
    suites = len(list((Path(PROJECT_ROOT) / "expectations").glob("*.json")))
    load = _plan(LOAD_JOB)
    assert load.job_name == "fundcdp_load"
    assert load.totals() == {"privacy": 2, "load": len(ALL_TABLES)}
    build = _plan(BUILD_JOB).totals()
    assert {stage: build[stage] for stage in ("gates", "ml", "segments", "publish")} == {
        "gates": suites,
        "ml": 3,
        "segments": 1,
        "publish": 1,
    }
    graph = defs().resolve_asset_graph()
    dbt_models = [key for key in graph.get_all_asset_keys() if "dbt" in graph.get(key).kinds]
    assert build["dbt"] == len(dbt_models) > 50
    assert _plan(DAILY_JOB).totals() == {**load.totals(), **build}


def test_runs_carry_the_code_locations_label_so_the_jobs_page_lists_them(monkeypatch):
    """The UI's job page lists the runs labelled with the code location (a run launched from the UI gets
    the label from its origin; an in-process run is given it by the runner)."""
    import orchestration.runner as runner

    seen = {}

    class Job:
        def execute_in_process(self, **kwargs):
            seen.update(kwargs)
            return "result"

    class Assembled:
        def resolve_job_def(self, name):
            seen["job"] = name
            return Job()

    monkeypatch.setattr(runner, "defs", lambda: Assembled())
    assert runner.execute("instance", DAILY_JOB, partition_key="2026-06-30", tags={"a": "b"}) == "result"
    assert seen["job"] == "fundcdp_daily"
    assert seen["tags"] == {".dagster/repository": "__repository__@fundcdp", "a": "b"}
    assert seen["partition_key"] == "2026-06-30"
