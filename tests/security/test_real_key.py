"""A real key is required for real data: without ``FUNDCDP_HASH_KEY`` only the demo sources load.

A tiny demo delivery (landing/ marked by the generator with ``landing/DEMO_SOURCES.json``, which lists
every file it wrote with its SHA-256) loads with the public demo key, and the run says so (the raw
assets' ``hash_key`` metadata in the UI, the summary). The same delivery without the marker — any other
delivery — stops the raw loads and ``cli day`` / ``cli run`` with one line naming FUNDCDP_HASH_KEY, before
anything is written to raw/. A file copied into a marked landing afterwards, or a listed file whose content
changed, is refused the same way (its table's day, naming the file), while the generated files load; an
erasure rewriting demo files keeps the marker current.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.lib.layout import DEMO_MARKER, DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.settings import DEMO_KEY_NOTICE, HASH_KEY_METADATA
from orchestration.lib.sources import ALL_TABLES
from tests.conftest import temp_instance
from tests.privacy_scan import files_holding

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
    from orchestration.defs.automation.summary import DEMO_KEY_SUMMARY, format_summary
    from orchestration.defs.ingest.assets import raw_assets
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.lib.settings import FundcdpSettings
    from orchestration.runner import load_raw

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
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.runner import load_raw

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
    assert len(failures) == len(ALL_TABLES)  # one load step per table of the source specs, each refused
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


def copy_demo_landing(demo: DataLayout, root: Path) -> DataLayout:
    """A data directory whose landing/ is a copy of the demo's, marker included."""
    layout = DataLayout.at(root)
    layout.ensure()
    shutil.copytree(demo.landing, layout.landing, dirs_exist_ok=True)
    return layout


def landing_hashes(layout: DataLayout) -> dict[str, str]:
    return {
        p.relative_to(layout.landing).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(layout.landing.rglob("*"))
        if p.is_file() and p.name != DEMO_MARKER and "deletion_requests" not in p.parts
    }


def marker_files(layout: DataLayout) -> dict[str, str]:
    return json.loads((layout.landing / DEMO_MARKER).read_text(encoding="utf-8"))["files"]


def test_without_a_key_a_file_the_generator_did_not_write_is_refused_and_the_generated_ones_load(
    demo_landing: DataLayout, no_key, tmp_path: Path
) -> None:
    from orchestration.defs.ingest.assets import raw_assets
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.runner import load_raw

    layout = copy_demo_landing(demo_landing, tmp_path / "data")
    days = delivery_days(layout)
    assert marker_files(layout) == landing_hashes(layout)  # the marker lists every generated file
    # A real delivery's customers file copied over a generated one (same name, other content) ...
    changed_day, added_day = days[-1], days[0]
    customers = layout.landing_day("crm", changed_day) / f"customers_{changed_day.replace('-', '')}.csv"
    header, first, *rest = customers.read_text(encoding="utf-8-sig").splitlines()
    real = ",".join(["C99000001", "王芳", *first.split(",")[2:]])
    customers.write_bytes("\n".join([header, real, *rest]).encode("utf-8-sig") + b"\n")
    # ... and a real trade file copied beside the generated ones (a name the table accepts, not listed).
    generated = layout.landing_day("trade", added_day) / f"trade_orders_{added_day.replace('-', '')}.csv"
    added = generated.with_name(f"trade_orders_{added_day.replace('-', '')}_real.csv")
    added.write_bytes(generated.read_bytes())
    no_key(layout)

    result = load_raw(temp_instance(layout.dagster_home), days)

    assert not result.success
    failures = sorted(e.step_failure_data.error.message for e in result.all_events if e.is_step_failure)
    refusal = (
        "refusing to load landing/{}: FUNDCDP_HASH_KEY is not set and this file is not the demo generator's "
        "({}); set FUNDCDP_HASH_KEY to a secret key before loading real data"
    )
    expected = [
        f"crm.customers: 1 day(s) not loaded: {changed_day}: "
        + refusal.format(f"crm/{changed_day}/{customers.name}", f"its content differs from what "
                         f"landing/{DEMO_MARKER} lists"),
        f"trade.trade_orders: 1 day(s) not loaded: {added_day}: "
        + refusal.format(f"trade/{added_day}/{added.name}", f"not listed in landing/{DEMO_MARKER}"),
    ]  # fmt: skip
    assert len(failures) == len(expected)
    for message, line in zip(failures, expected, strict=True):
        assert line in message and line.count("\n") == 0
    # Every other table loads every day; the two refused tables every other day, none of the refused ones.
    raw_keys = {key for asset in raw_assets for key in asset.keys}
    loaded = [e for e in result.get_asset_materialization_events() if e.asset_key in raw_keys]
    assert len(loaded) == (len(raw_keys) - len(expected)) * len(days) + len(expected) * (len(days) - 1)
    materialized = {(e.asset_key.to_user_string(), e.partition) for e in loaded}
    assert ("crm/customers", changed_day) not in materialized  # a refused day's partition stays failed
    assert ("trade/trade_orders", added_day) not in materialized
    assert ("crm/customers", added_day) in materialized
    for (source, table), refused_day in (
        (("crm", "customers"), changed_day),
        (("trade", "trade_orders"), added_day),
    ):
        written = sorted(p.name for p in layout.raw_table(source, table).glob("arrival_date=*"))
        assert written == [f"arrival_date={day}" for day in days if day != refused_day], (source, table)
    assert not list(layout.raw.rglob("*C99000001*"))


def test_an_erasure_under_the_demo_key_keeps_the_marker_current_and_the_demo_loadable(
    demo_landing: DataLayout, no_key, tmp_path: Path
) -> None:
    from orchestration.defs.ingest.deliveries import delivery_days
    from orchestration.defs.privacy import erasure
    from orchestration.runner import load_raw

    layout = copy_demo_landing(demo_landing, tmp_path / "data")
    no_key(layout)
    days = delivery_days(layout)
    assert load_raw(temp_instance(layout.dagster_home), days).success
    before = landing_hashes(layout)
    first = layout.landing_day("crm", days[0]) / f"customers_{days[0].replace('-', '')}.csv"
    customer_no = first.read_text(encoding="utf-8-sig").splitlines()[1].split(",")[0]
    erasure.submit_request(layout, "customer_no", customer_no, "DR-DEMO-1")

    result = load_raw(temp_instance(layout.dagster_home), days)

    assert result.success, [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    after = landing_hashes(layout)
    assert marker_files(layout) == after  # the marker still describes landing/ exactly
    changed = {name for name in before if after.get(name) != before[name]}
    [log] = erasure.read_log(layout)
    rewritten = {name for name in changed if not name.rsplit("/", 1)[-1].startswith("_control_")}
    assert len(rewritten) == log["landing_files_rewritten"] > 0
    assert f"crm/{days[0]}/{first.name}" in rewritten
    assert files_holding(layout.landing, [customer_no]) == []
