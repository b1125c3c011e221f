"""The data directory is the owner's only: folders 0700, files 0600, whatever umask the pipeline inherits.

The shared build (tests/conftest.py) runs in this process, which starts with the common umask 0o022 (set
below at import, before any fixture runs, so that the test means the same on any machine): the pipeline's
entry points must restrict it themselves. ``FUNDCDP_ANALYTICS_GROUP_READABLE`` opens exactly
``analytics.duckdb`` and ``reports/`` to the owner's group (0640 in 0750 folders).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT

INHERITED_UMASK = 0o022
os.umask(INHERITED_UMASK)  # what the shared build inherits, whatever the machine's default


def modes(root: Path) -> dict[str, int]:
    """Permission bits of the root and everything under it (symlinks not followed), by relative path."""
    found = {".": stat.S_IMODE(root.lstat().st_mode)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _wrong(found: dict[str, int], root: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o700 if (root / name).is_dir() and not (root / name).is_symlink() else 0o600)
    }


@pytest.mark.integration
def test_after_a_pipeline_run_every_folder_is_0700_and_every_file_0600(built_warehouse, monkeypatch) -> None:
    monkeypatch.delenv("FUNDCDP_ANALYTICS_GROUP_READABLE", raising=False)
    root = built_warehouse.layout.root
    found = modes(root)
    # the run wrote every kind of file: landing, raw Parquet, the four databases, Dagster's storage, dbt
    for expected in (
        "landing",
        "raw",
        "warehouse.duckdb",
        "private.duckdb",
        "analytics.duckdb",
        "dagster_home",
    ):
        assert expected in found
    assert len(found) > 100
    assert _wrong(found, root) == {}


@pytest.mark.integration
def test_group_readable_analytics_is_0640_in_0750(built_warehouse, tmp_path: Path, monkeypatch) -> None:
    from orchestration.defs.publish.analytics import publish_analytics
    from orchestration.defs.publish.report import write_report

    monkeypatch.setenv("FUNDCDP_ANALYTICS_GROUP_READABLE", "true")
    source = built_warehouse.layout
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    publish_analytics(
        source.warehouse_db,
        layout.analytics_db,
        source.quality_db,
        segments_db=source.segments_db,
        private_db=source.private_db,
    )
    write_report(source.analytics_db, layout.reports)  # the shared build's file, complete with segments
    found = modes(layout.root)
    assert found["analytics.duckdb"] == 0o640
    assert found["."] == 0o750  # the group reaches analytics.duckdb and reports/, nothing else
    assert found["reports"] == 0o750
    assert {mode for name, mode in found.items() if name.startswith("reports/")} == {0o640}
    others = {name: mode for name, mode in found.items() if name not in (".", "analytics.duckdb", "reports")}
    assert (
        others
        and _wrong({n: m for n, m in others.items() if not n.startswith("reports/")}, layout.root) == {}
    )

    # switched off again: the next ensure() and publish make them owner-only
    monkeypatch.setenv("FUNDCDP_ANALYTICS_GROUP_READABLE", "false")
    layout.ensure()
    publish_analytics(
        source.warehouse_db,
        layout.analytics_db,
        source.quality_db,
        segments_db=source.segments_db,
        private_db=source.private_db,
    )
    assert _wrong(modes(layout.root), layout.root) == {}


def test_a_cli_command_started_with_umask_022_creates_an_owner_only_directory(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    env = {**os.environ, "FUNDCDP_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
    env.pop("FUNDCDP_NEW_HASH_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "rotate-key"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(INHERITED_UMASK),
        check=False,
    )
    assert result.returncode == 2  # no new key: nothing rotated, but the data directory was prepared
    found = modes(data)
    assert {"landing", "raw", "dagster_home", "logs", "dagster_home/dagster.yaml"} <= set(found)
    assert _wrong(found, data) == {}
