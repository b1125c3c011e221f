"""Data tests on the written partitions and the weekly full sweep, pure parts: which runs sweep, the vars
dbt gets, and which data tests of the incremental models are restricted (docs/quality.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.defs.automation.jobs import full_test_sweep_tags, run_request_for
from orchestration.defs.transform.dbt import FULL_TEST_SWEEP_TAG, dbt_variables, is_full_test_sweep

SATURDAY, SUNDAY = "2026-07-04", "2026-07-05"
RESTRICTABLE = {"not_null", "accepted_values", "unique", "fundcdp_unique_combination"}
WRITTEN = re.compile(r"\s*written_partition\(\s*(\w+)\s*\)\s*")
# Tests of incremental models (or of views over one) that check whole tables, each with the reason.
WHOLE_TABLE = {
    # no bookkeeping column: the view leaves stg_tracking__events' staged_as_of_date out
    ("int_events_valid", "not_null", "event_id"): "no bookkeeping column",
    ("int_events_valid", "unique", "event_id"): "no bookkeeping column",
    ("int_events_valid", "accepted_values", "platform"): "no bookkeeping column",
    # incremental per person, but every row carries the build's as_of_date (the persons not recomputed
    # are restamped): a restriction would select every row
    **{
        ("tags_activity", test, column): "every row restamped"
        for test, column in [
            ("unique", "person_id"),
            ("not_null", "person_id"),
            ("not_null", "lifecycle_stage"),
            ("accepted_values", "lifecycle_stage"),
        ]
    },
    ("person_tags", "not_null", "person_id"): "every row restamped",
    ("person_tags", "fundcdp_unique_combination", None): "every row restamped",
}


def test_the_run_of_a_saturday_sweeps_and_the_others_do_not():
    assert full_test_sweep_tags([SATURDAY]) == {FULL_TEST_SWEEP_TAG: "true"}
    assert full_test_sweep_tags([SUNDAY]) == {}
    # a range: its last day decides (the sweep runs once, after the last day's build)
    assert full_test_sweep_tags(["2026-07-01", SATURDAY]) == {FULL_TEST_SWEEP_TAG: "true"}
    assert full_test_sweep_tags([SATURDAY, SUNDAY]) == {}
    request = run_request_for([SATURDAY], {SATURDAY: "f1"}, "complete delivery")
    assert request.tags[FULL_TEST_SWEEP_TAG] == "true"
    assert FULL_TEST_SWEEP_TAG not in run_request_for([SUNDAY], {SUNDAY: "f2"}, "complete delivery").tags


def test_the_sweep_tag_becomes_the_dbt_var():
    assert dbt_variables("2026-07-04") == {"as_of_date": "2026-07-04"}
    assert dbt_variables("2026-07-04", True) == {"as_of_date": "2026-07-04", "full_test_sweep": True}
    assert is_full_test_sweep({FULL_TEST_SWEEP_TAG: "true"})
    assert is_full_test_sweep({FULL_TEST_SWEEP_TAG: " True "})
    assert not is_full_test_sweep({FULL_TEST_SWEEP_TAG: "false"})
    assert not is_full_test_sweep({})


@pytest.fixture(scope="module")
def manifest(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> dict:
    project_dir = pytestconfig.rootpath / "dbt_project"
    scratch = tmp_path_factory.mktemp("sweep")
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--quiet",
         "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
        cwd=project_dir, check=True, capture_output=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(scratch / "data"), "DBT_PROFILES_DIR": str(project_dir)},
    )  # fmt: skip
    return json.loads((scratch / "target" / "manifest.json").read_text(encoding="utf-8"))


def incremental_or_over_one(manifest: dict) -> set[str]:
    """Models materialized incremental, and the views reading one (their rows are its rows)."""
    models = {n["unique_id"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    incremental = {uid for uid, n in models.items() if n["config"]["materialized"] == "incremental"}
    views = {
        uid
        for uid, n in models.items()
        if n["config"]["materialized"] == "view" and incremental & set(n["depends_on"]["nodes"])
    }
    return {models[uid]["name"] for uid in incremental | views}


def test_every_restrictable_test_of_an_incremental_model_checks_the_written_partition(manifest):
    """A not_null, accepted_values or key test of an incremental model (or of a view over one) is
    restricted to the written partition, or named in WHOLE_TABLE with its reason."""
    models = incremental_or_over_one(manifest)
    assert {"stg_tracking__events", "int_events_attributed", "sessions", "int_daily_login_activity",
            "tag_history", "int_person_daily_activity"} <= models  # fmt: skip
    unrestricted, restricted = [], 0
    for node in manifest["nodes"].values():
        metadata = node.get("test_metadata") or {}
        model = (node.get("attached_node") or "").split(".")[-1]
        if node["resource_type"] != "test" or model not in models or metadata.get("name") not in RESTRICTABLE:
            continue
        where = node["config"].get("where") or ""
        if WRITTEN.fullmatch(where):
            restricted += 1
        elif (model, metadata["name"], node.get("column_name")) not in WHOLE_TABLE:
            unrestricted.append((model, metadata["name"], node.get("column_name")))
    assert unrestricted == [], 'add config: {where: "written_partition(<bookkeeping column>)"} or a reason'
    # 33, and the churn snapshots (3) and the per-person page shares (2 + 2); the views of today's person
    # per login or account have no tests of their own (implied by their tables' and the identity map's)
    assert restricted == 40
