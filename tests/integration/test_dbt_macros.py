"""The dbt macros: each one described, in folders by purpose, and none of them writes while a model renders.

Writing statements (the connected-components loop, the incremental restatements' deletes and scratch
tables) run only in the models' pre-hooks, which dbt renders when it runs a model; `dbt compile` and
`dbt docs generate` only render the models. docs/dbt_macros.md explains both. Files are read by path
from the repository root (no orchestration import: its layout is moving)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO_ROOT / "dbt_project"
MACROS = DBT_PROJECT / "macros"
DBT = str(Path(sys.executable).with_name("dbt"))
MAX_MACRO_FILE_LINES = 250
# An as-of date after the ops dataset's last build (2026-07-02): the incremental models render their
# incremental path (which days to restate, the claims of new first logins), where the deletes used to be.
LATER_AS_OF = "2026-07-03"


def run_dbt(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [DBT, *arguments, "--target-path", str(data_dir / "target"), "--log-path", str(data_dir / "logs")],
        cwd=DBT_PROJECT, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(data_dir), "DBT_PROFILES_DIR": str(DBT_PROJECT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return result


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data_dir = tmp_path_factory.mktemp("macros") / "data"
    data_dir.mkdir()
    run_dbt(data_dir, "parse", "--quiet")
    return json.loads((data_dir / "target" / "manifest.json").read_text(encoding="utf-8"))


def project_macros(manifest: dict) -> list[dict]:
    return [macro for macro in manifest["macros"].values() if macro["package_name"] == "fundcdp"]


def test_every_macro_and_argument_is_described(manifest):
    macros = project_macros(manifest)
    assert len(macros) >= 100  # the project's own, dispatched implementations included
    undescribed = sorted(m["name"] for m in macros if not m["description"].strip())
    assert undescribed == []
    missing_arguments = []
    for macro in macros:
        signature = re.search(r"{%-?\s*(?:macro|test)\s+\w+\(([^)]*)\)", macro["macro_sql"])
        declared = [part.split("=")[0].strip() for part in re.split(r",(?![^\[]*\])", signature.group(1))]
        described = {a["name"] for a in macro["arguments"] if a.get("description", "").strip()}
        missing_arguments += [
            f"{macro['name']}({name})" for name in declared if name and name not in described
        ]
    assert missing_arguments == []


def test_the_source_override_says_so(manifest):
    (override,) = [m for m in project_macros(manifest) if m["name"] == "source"]
    assert override["original_file_path"] == "macros/overrides/override_source.sql"
    assert override["description"].startswith("OVERRIDES dbt's built-in source()")
    assert (
        (MACROS / "overrides" / "override_source.sql")
        .read_text(encoding="utf-8")
        .startswith("{#- OVERRIDES dbt's built-in source()")
    )


def test_macro_files_sit_in_folders_by_purpose_and_stay_small():
    assert sorted(p.name for p in MACROS.glob("*.sql")) == []
    sizes = {
        str(path.relative_to(MACROS)): len(path.read_text(encoding="utf-8").splitlines())
        for path in MACROS.rglob("*.sql")
    }
    assert {path for path, lines in sizes.items() if lines > MAX_MACRO_FILE_LINES} == set()
    assert {path.split("/")[0] for path in sizes} == {
        "engine", "history", "identity", "overrides", "per_model", "privacy", "rules", "tags",
    }  # fmt: skip
    # distinct_list is an aggregate, not a hash
    assert "distinct_list" not in (MACROS / "engine" / "hashing.sql").read_text(encoding="utf-8")


def test_the_models_that_write_say_so_in_their_pre_hook(manifest):
    """A model whose build runs statements of its own names them in its config (a pre-hook macro)."""
    pre_hooks = {
        node["name"]: [hook["sql"] for hook in node["config"]["pre-hook"]]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "fundcdp"
    }
    assert pre_hooks["int_identity_components"] == ["{{ fundcdp.build_identity_components() }}"]
    for model, restatement in {
        "stg_tracking__events": "staged_events_restatement(apply=true)",
        "int_events_attributed": "attributed_events_restatement(apply=true)",
        "int_session_events": "session_events_restatement(apply=true)",
        "int_segment_events": "segment_events_restatement(apply=true)",
        "sessions": "sessions_restatement(apply=true)",
        "int_daily_account_trades": "daily_account_trades_restatement(apply=true)",
        "int_daily_login_activity": "tracking_restatement('activity_date', apply=true)",
        "int_daily_login_events": "tracking_restatement('activity_date', apply=true)",
        "int_page_paths_by_person": "page_contributions_restatement(apply=true)",
        "int_page_transitions_by_person": "page_contributions_restatement(apply=true)",
        "int_churn_feature_snapshots": "churn_snapshots_restatement(apply=true)",
    }.items():
        assert pre_hooks[model] == [f"{{% do fundcdp.{restatement} %}}"], model


def warehouse_state(path: Path) -> dict[str, int]:
    """Every table of the warehouse with its row count."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        return {
            f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for schema, table in tables
        }
    finally:
        con.close()


def test_compile_and_docs_generate_change_nothing_in_the_warehouse(ops, tmp_path):
    """dbt compile and dbt docs generate on a built warehouse whose incremental models are behind: no
    scratch table (__cc_result_*, __claims_*, __restate_*) appears and no table's row count changes."""
    data_dir = tmp_path / "data"
    shutil.copytree(
        ops["daily"].root, data_dir, ignore=shutil.ignore_patterns("dagster_home", "target", "logs")
    )
    warehouse = data_dir / "warehouse.duckdb"
    before = warehouse_state(warehouse)
    assert before["main_intermediate.int_identity_components"] > 0
    assert before["main_intermediate.int_events_attributed"] > 0
    assert [table for table in before if table.split(".")[1].startswith("__")] == []

    variables = json.dumps({"as_of_date": LATER_AS_OF})
    run_dbt(data_dir, "compile", "--vars", variables)
    run_dbt(data_dir, "docs", "generate", "--vars", variables)

    after = warehouse_state(warehouse)
    assert [table for table in after if table.split(".")[1].startswith("__")] == []
    assert after == before
    # the compiled components model reads the scratch table its pre-hook would write
    compiled = next((data_dir / "target" / "compiled").rglob("int_identity_components.sql"))
    assert "__cc_result_int_identity_components" in compiled.read_text(encoding="utf-8")
