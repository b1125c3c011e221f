"""The code location is assembled in one place from one ``definitions.py`` per stage, every Python asset sits
in its stage's group, the daily job and the in-process runs select by group, and analytics.duckdb has one
writer, which runs after the segments."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[2]
DEFS = REPO / "orchestration" / "defs"
STAGES = sorted(p.name for p in DEFS.iterdir() if p.is_dir() and (p / "__init__.py").exists())


@pytest.fixture(scope="module")
def assembled() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def _group_of(graph, key: str) -> str:
    return graph.get(dg.AssetKey.from_user_string(key)).group_name


def test_every_stage_exports_its_definitions_and_they_are_all_assembled(assembled):
    import importlib

    assert STAGES == ["automation", "ingest", "ml", "privacy", "publish", "quality", "segments", "transform"]
    merged = {key.to_user_string() for key in assembled.resolve_asset_graph().get_all_asset_keys()}
    for stage in STAGES:
        stage_defs = importlib.import_module(f"orchestration.defs.{stage}.definitions").defs
        assert isinstance(stage_defs, dg.Definitions), stage
        own = {
            key.to_user_string()
            for asset in stage_defs.assets or []
            for key in (asset.keys if isinstance(asset, dg.AssetsDefinition) else [asset.key])
        }
        assert own <= merged, stage


def test_python_assets_are_in_their_stages_group(assembled):
    graph = assembled.resolve_asset_graph()
    groups = {key: _group_of(graph, key) for key in (
        "privacy/deletion_requests", "archive/identity_links", "crm/customers", "trade/trade_orders",
        "tracking/events", "ingest/load_manifest", "models/churn_propensity", "models/behaviour_clusters",
        "marts/tags_model", "segments", "analytics",
    )}  # fmt: skip
    assert groups == {
        "privacy/deletion_requests": "privacy",
        "archive/identity_links": "privacy",
        "crm/customers": "raw_crm",
        "trade/trade_orders": "raw_trade",
        "tracking/events": "raw_tracking",
        "ingest/load_manifest": "raw_ingest",
        "models/churn_propensity": "ml",
        "models/behaviour_clusters": "ml",
        "marts/tags_model": "ml",
        "segments": "segments",
        "analytics": "publish",
    }
    # the dbt models take their layer's group from dbt_project.yml; nothing falls into Dagster's default
    # but the dbt source no raw asset loads
    materializable = [node for node in graph.asset_nodes if node.is_materializable]
    assert [n.key.to_user_string() for n in materializable if n.group_name == "default"] == []
    assert _group_of(graph, "staging/stg_crm__customers") == "staging"
    assert _group_of(graph, "marts/person_profile") == "tags"


def test_the_fixture_models_are_not_assets(assembled):
    keys = {key.path[-1] for key in assembled.resolve_asset_graph().get_all_asset_keys()}
    assert "macro_check_input" not in keys
    assert [name for name in keys if name.startswith("mc_")] == []


def test_the_daily_job_is_load_then_build_and_the_runners_jobs_use_the_same_selections(assembled):
    from orchestration.defs.automation.jobs import BUILD, DAILY_JOB, LOAD

    graph = assembled.resolve_asset_graph()
    load = {key.to_user_string() for key in LOAD.resolve(graph)}
    build = {key.to_user_string() for key in BUILD.resolve(graph)}
    assert load == {
        "privacy/deletion_requests", "archive/identity_links",
        "crm/customers", "crm/bank_cards", "crm/marketing_consents",
        "trade/fund_accounts", "trade/fund_products", "trade/holdings", "trade/nav", "trade/sip_agreements",
        "trade/trade_orders", "tracking/events",
    }  # fmt: skip
    assert {"analytics", "segments", "marts/tags_model", "marts/person_profile"} <= build
    assert load & build == set()
    job = assembled.resolve_job_def(DAILY_JOB)
    in_job = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert in_job == load | build
    assert "the segments, then analytics.duckdb and the report, last" in job.description
    # the runner launches these named jobs (make run, the command line): the same two selections
    from orchestration.defs.automation.jobs import BUILD_JOB, LOAD_JOB

    for name, keys in ((LOAD_JOB, load), (BUILD_JOB, build)):
        named = assembled.resolve_job_def(name)
        assert {key.to_user_string() for key in named.asset_layer.executable_asset_keys} == keys, name


def test_analytics_runs_after_segments_and_is_the_one_writer_of_analytics_duckdb(assembled):
    graph = assembled.resolve_asset_graph()
    analytics = graph.get(dg.AssetKey("analytics"))
    segments = graph.get(dg.AssetKey("segments"))
    assert dg.AssetKey("segments") in analytics.parent_keys
    assert dg.AssetKey("analytics") not in segments.parent_keys
    # publish_analytics and write_report are called only by the analytics asset (outside their own module)
    callers = {}
    for path in (REPO / "orchestration").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("publish_analytics", "write_report"):
                    callers.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert callers == {
        "publish_analytics": {"orchestration/defs/publish/assets.py"},
        "write_report": {"orchestration/defs/publish/assets.py"},
    }
