"""The completeness ledger (orchestration/defs/ingest/completeness.py) on a small purpose-made company: a
weekly
tracking feed (Mondays), a CRM day whose control file lists a file that never came, a CRM day with no folder
at all, and days delivered but not loaded yet. The raw assets run through Dagster (no dbt): they record the
failed day; the ledger, the publish hold and the waivers are checked on what they left."""

from __future__ import annotations

import copy
import json
import shutil

import dagster as dg
import pytest

from orchestration.defs.ingest.completeness import (
    build_ledger,
    held_days,
    load_failures,
    waive,
    withdraw_waiver,
)
from orchestration.defs.ingest.delivery_schedule import DeliverySchedule
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import business_rules_overridden, load_business_rules
from tests.conftest import pipeline_environment, temp_instance
from tests.landing_builder import write_delivery

pytestmark = pytest.mark.integration

MON, TUE, WED, THU = "2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04"
FIRST_PARTITION_DAY = "2026-01-01"  # the test process's calendar (tests/conftest.py): before any delivery


def company_rules() -> dict:
    rules = copy.deepcopy(load_business_rules())
    rules["deliveries"]["schedule"] = {"trade": "daily", "crm": "daily", "tracking": ["mon"]}
    return rules


def schedule() -> DeliverySchedule:
    return DeliverySchedule.from_rules(company_rules())


def load(layout: DataLayout, days: list[str]) -> dg.ExecuteInProcessResult:
    with pipeline_environment(layout), business_rules_overridden(company_rules()):
        from orchestration.runner import load_raw

        return load_raw(temp_instance(layout.dagster_home), days)


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> DataLayout:
    """Mon: everything. Tue: trade, and CRM without its customers file (listed in the control file);
    tracking not due, not delivered. Wed: trade only (CRM due, no folder). Thu: everything, not loaded.
    Monday and Tuesday are loaded (one run); Wednesday and Thursday are not."""
    layout = DataLayout.at(tmp_path_factory.mktemp("completeness") / "data")
    layout.ensure()
    for day in (MON, TUE, WED, THU):
        write_delivery(layout, day, {})
    for day in (TUE, WED):
        shutil.rmtree(layout.landing_day("tracking", day))
    (layout.landing_day("crm", TUE) / "customers_20260602.csv").unlink()
    shutil.rmtree(layout.landing_day("crm", WED))
    result = load(layout, [MON, TUE])
    assert not result.success  # the CRM's Tuesday failed
    return layout


def copy_of(company: DataLayout, tmp_path) -> DataLayout:
    shutil.copytree(company.root, tmp_path / "data", ignore=shutil.ignore_patterns("dagster_home"))
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    return layout


def statuses(layout: DataLayout, as_of: str = THU) -> dict[tuple[str, str], str]:
    return {(e.source, e.day): e.status for e in build_ledger(layout, FIRST_PARTITION_DAY, as_of, schedule())}


def test_ledger_statuses(company):
    assert statuses(company) == {
        ("trade", MON): "loaded", ("trade", TUE): "loaded", ("trade", WED): "delivered",
        ("trade", THU): "delivered",
        ("crm", MON): "loaded", ("crm", TUE): "failed", ("crm", WED): "missing", ("crm", THU): "delivered",
        ("tracking", MON): "loaded", ("tracking", TUE): "not_due", ("tracking", WED): "not_due",
        ("tracking", THU): "delivered",  # not due on a Thursday, but delivered: it must be loaded
    }  # fmt: skip
    # the failure is recorded per table, with the loader's message naming the missing file
    failures = load_failures(company)
    assert set(failures) == {("crm", TUE)}
    assert set(failures[("crm", TUE)]) == {
        "customers",
        "bank_cards",
        "marketing_consents",
    }
    assert all(
        "incomplete delivery" in message and "customers_20260602.csv" in message
        for message in failures[("crm", TUE)].values()
    )
    ledger = build_ledger(company, FIRST_PARTITION_DAY, TUE, schedule())
    (crm_tuesday,) = [e for e in ledger if e.status not in ("loaded", "not_due")]
    assert crm_tuesday.describe().startswith(
        "crm 2026-06-02 failed (bank_cards, customers, marketing_consents: "
    )


def test_the_ledger_starts_at_the_first_delivery_and_ends_at_the_as_of_day(company):
    ledger = build_ledger(company, FIRST_PARTITION_DAY, TUE, schedule())
    assert sorted({e.day for e in ledger}) == [MON, TUE]
    # a calendar starting after the first delivery starts the ledger there
    assert sorted({e.day for e in build_ledger(company, TUE, WED, schedule())}) == [TUE, WED]


def test_a_later_successful_load_supersedes_the_failure(company, tmp_path):
    layout = copy_of(company, tmp_path)
    (layout.landing_day("crm", TUE) / "customers_20260602.csv").write_text(
        (company.landing_day("crm", MON) / "customers_20260601.csv").read_text(encoding="utf-8"),
        encoding="utf-8",
    )  # the header-only file, re-delivered
    assert load(layout, [TUE]).success
    assert load_failures(layout) == {}
    assert statuses(layout, TUE)[("crm", TUE)] == "loaded"


def held_alerts(layout: DataLayout) -> list[dict]:
    if not layout.alerts_log.exists():
        return []
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    return [alert for alert in alerts if alert["kind"] == "publish_held"]


def test_publishing_is_held_with_one_alert_then_released_by_waivers(company, tmp_path, monkeypatch):
    import orchestration.defs.publish.assets as publish_module
    from orchestration.defs.publish.assets import analytics, hold_for_completeness
    from orchestration.defs.segments.assets import segments
    from orchestration.lib.settings import FundcdpSettings

    layout = copy_of(company, tmp_path)
    # Everything but the ledger would let it publish: the gates pass, and a publish writes a new file over
    # the previous version. Only the hold keeps the previous version's bytes.
    monkeypatch.setattr(publish_module, "publish_problems", lambda layout, as_of: [])

    def publish(warehouse_db, analytics_db, *args, **kwargs):
        analytics_db.write_bytes(b"a new version")
        return {}

    monkeypatch.setattr(publish_module, "publish_analytics", publish)
    layout.analytics_db.write_bytes(b"the previous version")
    # the analytics asset for Wednesday: its completeness check fails naming the days, nothing published
    with pipeline_environment(layout), business_rules_overridden(company_rules()):
        for _ in range(2):
            result = dg.materialize(
                [analytics],
                instance=temp_instance(layout.dagster_home),
                partition_key=WED,
                resources={"settings": FundcdpSettings()},
                raise_on_error=False,
            )
            assert not result.success
            (check,) = result.get_asset_check_evaluations()
            assert (check.check_name, check.passed) == ("completeness", False)
            assert check.metadata["held"].value == [
                "trade 2026-06-03 delivered",
                "crm 2026-06-02 failed (bank_cards, customers, marketing_consents: "  # one message: once
                + next(iter(set(load_failures(layout)[("crm", TUE)].values())))
                + ")",
                "crm 2026-06-03 missing",
            ]
            assert "| crm | 1 | 0 | 0 | 1 | 0 | 1 |" in check.metadata["ledger"].value
            assert result.get_asset_materialization_events() == []
            (failure,) = [e for e in result.all_events if e.is_step_failure]
            assert "held: trade 2026-06-03 delivered, crm 2026-06-02 failed (" in (
                failure.step_failure_data.error.message
            )
            assert layout.analytics_db.read_bytes() == b"the previous version"
        assert layout.analytics_db.read_bytes() == b"the previous version"
        # the segments asset on its own: held the same way, no version
        result = dg.materialize(
            [segments],
            instance=temp_instance(layout.dagster_home),
            partition_key=WED,
            resources={"settings": FundcdpSettings()},
            raise_on_error=False,
        )
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        assert "held: trade 2026-06-03 delivered, crm 2026-06-02 failed (" in (
            failure.step_failure_data.error.message
        )
        assert not layout.segments_db.exists()
        # three runs held by the same days: one alert
        (alert,) = held_alerts(layout)
        assert alert["summary"].startswith("held: trade 2026-06-03 delivered, crm 2026-06-02 failed (")
        assert (alert["asset"], alert["partition"], alert["details"]["days_held"]) == ("analytics", WED, 3)

        # waivers release it day by day; a withdrawn waiver holds it again, as a new held set (a new alert)
        waive(layout, "crm", TUE, "re-delivery refused by the CRM team, ticket 42", who="engineer")
        waive(layout, "crm", WED, "CRM outage, nothing exported", who="engineer")
        _, held = hold_for_completeness(layout, WED, "analytics", None)
        assert [e.describe() for e in held] == ["trade 2026-06-03 delivered"]
        waive(layout, "trade", WED, "to be loaded tomorrow", who="engineer")
        ledger, held = hold_for_completeness(layout, WED, "analytics", None)
        assert held == [] and held_days(ledger) == []
        assert {(e.source, e.day): e.status for e in ledger if e.status == "waived"} == {
            ("crm", TUE): "waived", ("crm", WED): "waived", ("trade", WED): "waived",
        }  # fmt: skip
        withdraw_waiver(layout, "crm", WED, who="engineer")
        _, held = hold_for_completeness(layout, WED, "analytics", None)
        assert [e.describe() for e in held] == ["crm 2026-06-03 missing"]
        assert len(held_alerts(layout)) == 3


def test_a_crashed_load_keeps_the_failures_before_it_and_leaves_its_days_unfinished(
    company, tmp_path, monkeypatch
):
    """A CRM load crashing on Thursday (an unexpected error, not a LoadError): Tuesday's LoadError earlier
    in the same run is still recorded, and Monday, loaded before but re-loaded in the crashed run (its
    files not known to be written), is no longer `loaded` on its old manifests."""
    import duckdb

    import orchestration.defs.ingest.assets as raw_module
    from orchestration.defs.ingest.completeness import UNFINISHED, state_file

    layout = copy_of(company, tmp_path)
    state_file(layout).unlink()  # nothing recorded yet: only this run's facts count
    real = raw_module.land_table_day

    def crashing(**kwargs):
        if kwargs["spec"].source == "crm" and kwargs["day"] == THU:
            raise duckdb.Error("simulated crash of the loader")
        return real(**kwargs)

    monkeypatch.setattr(raw_module, "land_table_day", crashing)
    assert not load(layout, [MON, THU]).success
    failures = load_failures(layout)
    # Wednesday (no folder) was reached before the crash too, its outcome not yet known to be final
    assert set(failures) == {("crm", MON), ("crm", TUE), ("crm", WED), ("crm", THU)}
    assert "customers_20260602.csv" in failures[("crm", TUE)]["customers"]
    assert (
        failures[("crm", THU)]
        == failures[("crm", MON)]
        == dict.fromkeys(("customers", "bank_cards", "marketing_consents"), UNFINISHED)
    )
    ledger = {(e.source, e.day): e for e in build_ledger(layout, FIRST_PARTITION_DAY, THU, schedule())}
    assert ledger[("crm", MON)].describe() == (
        "crm 2026-06-01 failed (bank_cards, customers, marketing_consents: load did not finish (crashed?))"
    )
    assert ledger[("trade", THU)].status == "loaded"  # the other sources' steps finished
