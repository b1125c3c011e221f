"""A failed day fails only its own partition (issue 33): the Dagster partition status of the raw assets
after a range run and after a history import over three days whose middle CRM delivery is incomplete, and
of the dbt models after a range whose build fails on its middle day.

The raw assets run through Dagster (no dbt). Every day delivers every table: two CRM customers on the first
day, one on the others, header-only files elsewhere; on the middle day the customers file listed in the CRM
control file never came."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.lib.layout import DataLayout
from tests.conftest import pipeline_environment, temp_instance
from tests.landing_builder import CUSTOMER, write_delivery

pytestmark = pytest.mark.integration

MON, TUE, WED = "2026-06-01", "2026-06-02", "2026-06-03"
CUSTOMERS = dg.AssetKey(["crm", "customers"])
BANK_CARDS = dg.AssetKey(["crm", "bank_cards"])
NAV = dg.AssetKey(["trade", "nav"])
MATERIALIZED = dg.AssetPartitionStatus.MATERIALIZED
FAILED = dg.AssetPartitionStatus.FAILED


def _company(root) -> DataLayout:
    layout = DataLayout.at(root / "data")
    layout.ensure()
    for number, day in enumerate((MON, TUE, WED), start=1):
        customers = [{**CUSTOMER, "customer_no": f"C00000000{number}", "updated_at": f"{day} 09:00:00"}]
        # Monday delivers two customers: the row counts differ by day.
        if day == MON:
            customers.append({**CUSTOMER, "customer_no": "C000000009", "updated_at": f"{day} 09:30:00"})
        write_delivery(layout, day, {"customers": customers})
    (layout.landing_day("crm", TUE) / "customers_20260602.csv").unlink()
    return layout


def _status(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, dg.AssetPartitionStatus | None]:
    from orchestration.lib.partitions import days

    return dict(instance.get_status_by_partition(key, [MON, TUE, WED], days))


def _materialization(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> dg.AssetMaterialization:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    assert records, f"no materialization of {key.to_user_string()} for {day}"
    return records[0].asset_materialization


@pytest.fixture(scope="module")
def range_run(tmp_path_factory):
    layout = _company(tmp_path_factory.mktemp("range"))
    with pipeline_environment(layout):
        from orchestration.runner import load_raw

        instance = temp_instance(layout.dagster_home)
        result = load_raw(instance, [MON, TUE, WED])
    return instance, result


def test_a_range_run_fails_only_the_incomplete_day_of_the_crm_tables(range_run):
    instance, result = range_run
    assert not result.success  # the run fails: Tuesday's CRM did not load
    for key in (CUSTOMERS, BANK_CARDS):
        assert _status(instance, key) == {MON: MATERIALIZED, TUE: FAILED, WED: MATERIALIZED}
    assert _status(instance, NAV) == {MON: MATERIALIZED, TUE: MATERIALIZED, WED: MATERIALIZED}
    materialized = instance.get_materialized_partitions(CUSTOMERS)
    assert materialized == {MON, WED}


def test_each_day_of_a_range_records_its_own_row_count_and_day(range_run):
    instance, _ = range_run
    monday = _materialization(instance, CUSTOMERS, MON).metadata
    wednesday = _materialization(instance, CUSTOMERS, WED).metadata
    assert (monday["dagster/row_count"].value, monday["as_of_date"].value) == (2, MON)
    assert (wednesday["dagster/row_count"].value, wednesday["as_of_date"].value) == (1, WED)
    # a table of a source that delivered every day: the run succeeded for it, one count per day
    nav = {day: _materialization(instance, NAV, day).metadata for day in (MON, TUE, WED)}
    assert {day: (m["dagster/row_count"].value, m["as_of_date"].value) for day, m in nav.items()} == {
        MON: (0, MON),
        TUE: (0, TUE),
        WED: (0, WED),
    }


def test_a_history_import_records_its_day_materialized_when_an_earlier_day_failed(tmp_path):
    layout = _company(tmp_path)
    with pipeline_environment(layout):
        from orchestration.runner import load_history

        instance = temp_instance(layout.dagster_home)
        result = load_history(instance, MON, WED)
    assert not result.success
    # One partition per asset is planned (the import's day): it loaded, so it is materialized; the days
    # before it are not partitions of the run (the load manifest and the completeness ledger hold them).
    assert _status(instance, CUSTOMERS) == {MON: None, TUE: None, WED: MATERIALIZED}
    metadata = _materialization(instance, CUSTOMERS, WED).metadata
    assert (metadata["dagster/row_count"].value, metadata["as_of_date"].value, metadata["days"].value) == (
        3,
        WED,
        2,
    )


def test_a_range_whose_dbt_build_fails_on_its_second_day_fails_that_day_and_the_next(tmp_path, monkeypatch):
    """The dbt asset builds the days of a range in date order: Monday's build is recorded materialized,
    Tuesday's (made to fail: dbt refuses an unknown option) and Wednesday's (never built) failed."""
    from orchestration.defs.transform import dbt as transform

    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    for day in (MON, TUE, WED):
        write_delivery(layout, day, {"customers": [{**CUSTOMER, "updated_at": f"{day} 09:00:00"}]})
    build = transform._dbt_build

    def failing_on_tuesday(context, dbt, settings, day):
        if day == TUE:
            return dbt.cli(["build", "--no-such-option"], context=context, raise_on_error=False)
        return build(context, dbt, settings, day)

    monkeypatch.setattr(transform, "_dbt_build", failing_on_tuesday)
    with pipeline_environment(layout):
        from orchestration.definitions import defs
        from orchestration.runner import load_raw

        instance = temp_instance(layout.dagster_home)
        assert load_raw(instance, [MON, TUE, WED]).success
        result = dg.materialize(
            [transform.fundcdp_dbt_models],
            instance=instance,
            resources=defs().resources,
            tags={"dagster/asset_partition_range_start": MON, "dagster/asset_partition_range_end": WED},
            raise_on_error=False,
        )
    assert not result.success
    for key in (dg.AssetKey(["staging", "stg_crm__customers"]), dg.AssetKey(["marts", "person_profile"])):
        assert _status(instance, key) == {MON: MATERIALIZED, TUE: FAILED, WED: FAILED}
        assert _materialization(instance, key, MON).metadata["as_of_date"].value == MON
