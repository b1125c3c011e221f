"""A real key is required for real data: without ``FUNDCDP_HASH_KEY`` only the demo sources load.

A tiny demo delivery (landing/ marked by the generator with ``landing/DEMO_SOURCES.json``) loads with the
public demo key, and the run says so (the raw assets' ``hash_key`` metadata in the UI, the summary). The
same delivery without the marker — any other delivery — stops the raw loads and ``cli day`` / ``cli run``
with one line naming FUNDCDP_HASH_KEY, before anything is written to raw/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.defs.resources import DEMO_KEY_NOTICE, HASH_KEY_METADATA
from orchestration.lib.layout import DEMO_MARKER, DataLayout
from orchestration.paths import DBT_PROJECT_DIR
from tests.conftest import temp_instance

pytestmark = pytest.mark.integration

DAYS = 7  # the generator's minimum


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """A week of a few demo customers, generated with a permissive umask (0o022) inherited."""
    data = tmp_path_factory.mktemp("real_key") / "data"
    subprocess.run(
        [sys.executable, "-m", "demo_sources.generate", "--data-dir", str(data), "--customers", "20",
         "--days", str(DAYS), "--end-date", "2026-06-30", "--dirt", "none"],
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    return DataLayout.at(data)


@pytest.fixture()
def no_key(monkeypatch: pytest.MonkeyPatch):
    def use(layout: DataLayout) -> None:
        monkeypatch.delenv("FUNDCDP_HASH_KEY", raising=False)
        for name, value in {
            "FUNDCDP_DATA_DIR": str(layout.root),
            "DAGSTER_HOME": str(layout.dagster_home),
            "DBT_LOG_PATH": str(layout.logs / "dbt"),
            "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        }.items():
            monkeypatch.setenv(name, value)

    return use


def test_the_demo_generator_marks_its_landing_and_writes_it_owner_only(demo_landing: DataLayout) -> None:
    assert (demo_landing.landing / DEMO_MARKER).is_file()
    paths = [demo_landing.landing, *demo_landing.landing.rglob("*")]
    assert len(paths) > 10
    assert {oct(p.stat().st_mode & 0o777) for p in paths if p.is_dir()} == {"0o700"}
    assert {oct(p.stat().st_mode & 0o777) for p in paths if p.is_file()} == {"0o600"}


def test_without_a_key_the_demo_sources_load_and_the_run_says_demo_key(
    demo_landing: DataLayout, no_key, tmp_path: Path
) -> None:
    from orchestration.defs.ingest.assets import raw_assets
    from orchestration.defs.pipeline import load_raw
    from orchestration.defs.resources import FundcdpSettings
    from orchestration.lib.deliveries import delivery_days
    from orchestration.lib.summary import DEMO_KEY_SUMMARY, format_summary

    no_key(demo_landing)
    demo_landing.ensure()
    days = delivery_days(demo_landing)
    assert len(days) == DAYS
    result = load_raw(temp_instance(demo_landing.dagster_home), days)
    assert result.success
    events = result.get_asset_materialization_events()
    raw_keys = {key for asset in raw_assets for key in asset.keys}
    raw = [e for e in events if e.asset_key in raw_keys]
    assert len(raw) == len(raw_keys) * DAYS  # one per raw table and day
    assert {e.materialization.metadata[HASH_KEY_METADATA].value for e in raw} == {DEMO_KEY_NOTICE}
    assert list(demo_landing.raw.glob("crm/customers/*/*.parquet"))
    summary = format_summary(demo_landing, [], demo_key=FundcdpSettings().uses_demo_key())
    assert summary.splitlines()[1] == DEMO_KEY_SUMMARY
    assert summary.count("DEMO KEY") == 1


def test_without_a_key_any_other_delivery_is_refused_in_one_line(
    demo_landing: DataLayout, no_key, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from orchestration import cli
    from orchestration.defs.pipeline import load_raw
    from orchestration.lib.deliveries import delivery_days

    # the same files, but not marked as the demo's: a real delivery as far as anyone can tell
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    for day in delivery_days(demo_landing):
        for source in ("trade", "crm", "tracking"):
            target = layout.landing_day(source, day)
            target.mkdir(parents=True)
            for path in demo_landing.landing_day(source, day).iterdir():
                (target / path.name).write_bytes(path.read_bytes())
    assert not (layout.landing / DEMO_MARKER).exists()
    no_key(layout)

    result = load_raw(temp_instance(layout.dagster_home), delivery_days(layout))
    assert not result.success
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert len(failures) >= 7
    expected = (
        "refusing to load: FUNDCDP_HASH_KEY is not set and landing/ is not the demo sources (no "
        f"landing/{DEMO_MARKER}); set FUNDCDP_HASH_KEY to a secret key before loading real data"
    )
    assert all(expected in message for message in failures)
    assert not [p for p in layout.raw.rglob("*.parquet") if "archive" not in p.parts]

    capsys.readouterr()
    assert cli.main(["day", delivery_days(layout)[-1]]) == 2
    assert cli.main(["run"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [expected, expected]
    assert captured.out == ""
