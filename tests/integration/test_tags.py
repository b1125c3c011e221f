"""The tag tables against the tag catalog, on the shared demo build."""

import duckdb
import pytest

pytestmark = pytest.mark.integration

KEYS = {"person_id", "as_of_date"}


def test_tag_tables_and_catalog_agree_in_both_directions(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    catalog = con.execute("select tag_table, tag_code from main_marts.tag_catalog").fetchall()
    tables = sorted({table for table, _ in catalog})
    columns = {
        (table, name)
        for table in tables
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'main_marts' "
            "and table_name = ?",
            [table],
        ).fetchall()
        if name not in KEYS
    }
    con.close()
    assert tables == ["tags_account", "tags_activity", "tags_basic", "tags_business", "tags_value"]
    assert set(catalog) == columns


def test_every_tag_value_is_in_its_allowed_set(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    enums = con.execute(
        "select tag_table, tag_code, allowed_values from main_marts.tag_catalog "
        "where allowed_values is not null"
    ).fetchall()
    assert len(enums) >= 8
    for table, code, allowed in enums:
        values = {
            str(v).lower() if isinstance(v, bool) else str(v)
            for (v,) in con.execute(
                f"select distinct {code} from main_marts.{table} where {code} is not null"
            ).fetchall()
        }
        assert values, f"{table}.{code} is never populated"
        assert values <= set(allowed.split("|")), (table, code, values - set(allowed.split("|")))
    con.close()


def test_value_tags_on_demo_data_are_plausible(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    persons, purchasers, hnw, hnw_by_aum = con.execute(
        "select count(*), count(*) filter (where frequency > 0), count(*) filter (where is_high_net_worth), "
        "count(*) filter (where aum_cny >= 1000000) from main_marts.tags_value"
    ).fetchone()
    (tagged,) = con.execute("select count(*) from main_marts.tags_basic").fetchone()
    (resolved,) = con.execute("select count(*) from main_marts.persons").fetchone()
    con.close()
    assert persons == tagged == resolved
    assert 0 < purchasers < persons
    assert hnw == hnw_by_aum > 0


def test_every_catalogued_tag_is_populated_and_covered(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    rows = con.execute("select tag_code, persons_with_value, persons from main_marts.tag_coverage").fetchall()
    (catalogued,) = con.execute("select count(*) from main_marts.tag_catalog").fetchone()
    (persons,) = con.execute("select count(*) from main_marts.persons").fetchone()
    con.close()
    assert len(rows) == catalogued
    assert {total for _, _, total in rows} == {persons}
    assert [code for code, with_value, _ in rows if with_value == 0] == []
