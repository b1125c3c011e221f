"""The tag tables against the tag catalog, on the shared demo build."""

import json

import duckdb
import pytest

from orchestration.defs.ml.store import ML_SCHEMA, TAG_TABLE
from orchestration.lib.relations import model_relation

pytestmark = pytest.mark.integration

KEYS = {"person_id", "as_of_date"}


def test_tag_tables_and_catalog_agree_in_both_directions(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    catalog = con.execute("select tag_table, tag_code from main_marts.tag_catalog").fetchall()
    tables = sorted({table for table, _ in catalog})
    # the dbt tag tables in dbt's marts schema; tags_model, written by the model assets, in theirs
    schemas = {table: ML_SCHEMA if table == TAG_TABLE else model_relation(table).schema for table in tables}
    columns = {
        (table, name)
        for table in tables
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schemas[table], table],
        ).fetchall()
        if name not in KEYS
    }
    con.close()
    assert tables == [
        "tags_account",
        "tags_activity",
        "tags_basic",
        "tags_business",
        "tags_model",
        "tags_value",
    ]
    assert set(catalog) == columns


def test_every_tag_value_is_in_its_allowed_set(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    enums = con.execute(
        "select tag_table, tag_code, allowed_values from main_marts.tag_catalog "
        "where allowed_values is not null and tag_table <> 'tags_model'"
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
    (catalogued,) = con.execute(
        "select count(*) from main_marts.tag_catalog where tag_table <> 'tags_model'"
    ).fetchone()
    (persons,) = con.execute("select count(*) from main_marts.persons").fetchone()
    con.close()
    assert len(rows) == catalogued
    assert {total for _, _, total in rows} == {persons}
    assert [code for code, with_value, _ in rows if with_value == 0] == []


def test_person_profile_has_every_catalogued_tag_once_per_person(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    codes = {
        code
        for (code,) in con.execute(
            "select tag_code from main_marts.tag_catalog where tag_table <> 'tags_model'"
        ).fetchall()
    }
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'main_marts' "
            "and table_name = 'person_profile' order by ordinal_position"
        ).fetchall()
    ]
    rows, persons = con.execute(
        "select count(*), count(distinct person_id) from main_marts.person_profile"
    ).fetchone()
    (resolved,) = con.execute("select count(*) from main_marts.persons").fetchone()
    stages_agree = con.execute(
        "select count(*) from main_marts.person_profile join main_marts.tags_activity using (person_id) "
        "where person_profile.lifecycle_stage = tags_activity.lifecycle_stage"
    ).fetchone()[0]
    con.close()
    assert columns[0] == "person_id" and columns[-1] == "as_of_date"
    assert sorted(columns[1:-1]) == sorted(codes)
    assert rows == persons == resolved == stages_agree


def test_person_tags_hold_every_non_null_tag_value_as_text(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    (expected,) = con.execute("select sum(persons_with_value) from main_marts.tag_coverage").fetchone()
    (rows,) = con.execute("select count(*) from main_marts.person_tags").fetchone()
    mismatches = con.execute(
        "select count(*) from main_marts.tags_value as v join main_marts.person_tags as t "
        "on t.person_id = v.person_id and t.tag_code = 'is_high_net_worth' "
        "where t.tag_value <> cast(v.is_high_net_worth as varchar)"
    ).fetchone()[0]
    (hnw_text,) = con.execute(
        "select count(*) from main_marts.person_tags "
        "where tag_code = 'is_high_net_worth' and tag_value = 'true'"
    ).fetchone()
    (hnw,) = con.execute("select count(*) from main_marts.tags_value where is_high_net_worth").fetchone()
    con.close()
    assert rows == expected > 0
    assert mismatches == 0
    assert hnw_text == hnw > 0


def test_lifecycle_transitions_are_the_stage_changes_between_the_two_builds(built_warehouse):
    from tests.conftest import EARLIER_AS_OF

    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    (final_as_of,) = con.execute("select distinct as_of_date from main_marts.tags_activity").fetchone()
    now = dict(con.execute("select person_id, lifecycle_stage from main_marts.tags_activity").fetchall())
    transitions = set(
        con.execute(
            "select person_id, from_stage, to_stage, cast(transition_date as varchar) "
            "from main_marts.lifecycle_transitions"
        ).fetchall()
    )
    history_dates = con.execute(
        "select cast(as_of_date as varchar), count(*) from main_marts.tag_history "
        "where tag_code = 'lifecycle_stage' group by 1 order by 1"
    ).fetchall()
    con.close()
    before = built_warehouse.earlier_stages
    expected = {
        (person, before[person], stage, str(final_as_of))
        for person, stage in now.items()
        if person in before and before[person] != stage
    }
    new_persons = len(set(now) - set(before))
    assert len(expected) >= 5  # two weeks move some demo persons between stages
    assert transitions == expected
    # the first build records everyone; the second the changes and the persons new since
    assert history_dates == [(EARLIER_AS_OF, len(before)), (str(final_as_of), len(expected) + new_persons)]


def test_incremental_daily_aggregates_equal_a_full_rebuild(built_warehouse, tmp_path):
    """The final shared build restated only recent days; rebuilding everything gives the same rows."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from orchestration.lib.paths import DBT_PROJECT_DIR

    layout = built_warehouse.layout
    copy = tmp_path / "data"
    copy.mkdir()
    shutil.copy(layout.warehouse_db, copy / "warehouse.duckdb")
    (copy / "raw").symlink_to(layout.raw)
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (as_of,) = con.execute(
        "select cast(max(built_as_of_date) as varchar) from main_intermediate.int_daily_login_activity"
    ).fetchone()
    # Trades restate from the earliest day touched by new arrivals (tracking adds the 30-day
    # anonymous-attribution window, longer than this small demo): the final build was incremental.
    (restated_from,) = con.execute(
        "select min(confirm_date) from main_intermediate.int_daily_account_trades where built_as_of_date = ?",
        [as_of],
    ).fetchone()
    (first_day,) = con.execute(
        "select min(confirm_date) from main_intermediate.int_daily_account_trades"
    ).fetchone()
    assert first_day < restated_from
    # The staged, attributed and session events are incremental too: the final build rewrote only what
    # changed.
    (rewritten,) = con.execute(
        "select count(*) from main_intermediate.int_events_attributed where built_as_of_date = ?", [as_of]
    ).fetchone()
    (attributed,) = con.execute("select count(*) from main_intermediate.int_events_attributed").fetchone()
    assert 0 < rewritten < attributed
    (sessions_rewritten,) = con.execute(
        "select count(*) from main_marts.sessions where built_as_of_date = ?", [as_of]
    ).fetchone()
    (sessions,) = con.execute("select count(*) from main_marts.sessions").fetchone()
    assert 0 < sessions_rewritten < sessions
    (segment_rewritten,) = con.execute(
        "select count(*) from main_intermediate.int_segment_events where built_as_of_date = ?", [as_of]
    ).fetchone()
    (segment_events,) = con.execute("select count(*) from main_intermediate.int_segment_events").fetchone()
    assert 0 < segment_rewritten < segment_events
    con.close()
    models = [
        "stg_tracking__events", "int_events_attributed", "int_session_events", "sessions",
        "int_segment_events",
        "int_daily_login_activity", "int_daily_login_events", "int_daily_account_trades",
    ]  # fmt: skip
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--full-refresh", "--select", *models,
         "--vars", f'{{"as_of_date": "{as_of}"}}', "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(copy), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    incremental = duckdb.connect(str(layout.warehouse_db), read_only=True)
    full = duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True)
    for model in models:
        schema = {"stg": "main_staging", "int": "main_intermediate"}.get(model.split("_")[0], "main_marts")
        built = " exclude (staged_as_of_date)" if model.startswith("stg_") else " exclude (built_as_of_date)"
        query = f"select *{built} from {schema}.{model} order by all"
        assert incremental.execute(query).fetchall() == full.execute(query).fetchall(), model
    incremental.close()
    full.close()


TAG_MODELS = ["tags_basic", "tags_account", "tags_business", "tags_activity", "tags_value", "person_tags"]


def tag_rows(layout, skip_person: str | None = None) -> dict[str, list[tuple]]:
    """Every row of the tag tables and person_tags (without ``skip_person``'s), sorted."""
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        return {
            model: con.execute(
                f"select * from main_marts.{model} where person_id is distinct from ? order by all",
                [skip_person],
            ).fetchall()
            for model in TAG_MODELS
        }
    finally:
        con.close()


def scratch_tables(layout) -> list[str]:
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        return [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where table_name like '\\_\\_%' escape '\\'"
            ).fetchall()
        ]
    finally:
        con.close()


def test_daily_incremental_tags_equal_a_full_rebuild(ops, tmp_path):
    """The daily runs of DAY1 and DAY2 build tags_activity and person_tags incrementally (new data,
    identity changes, the days crossing a window); rebuilding the tag tables in full as of DAY2 gives the
    same rows, and no scratch or previous-rows table is left behind."""
    from tests.integration.test_operations import dbt_run
    from tests.operations_dataset import DAY2, copy_data

    full = copy_data(ops["daily"], tmp_path / "full")
    dbt_run(full, TAG_MODELS, json.dumps({"as_of_date": DAY2}), "--full-refresh")
    incremental = tag_rows(ops["daily"])
    assert len(incremental["person_tags"]) > len(incremental["tags_activity"]) > 0
    assert incremental == tag_rows(full)
    assert scratch_tables(ops["daily"]) == []


def test_a_tag_that_changes_with_the_day_only_is_recomputed_by_the_incremental_build(ops, tmp_path):
    """The day after DAY2, with no new data: a person active on the day that leaves the 7-day window
    has one active day less in the incremental build of tags_activity and person_tags, exactly as in a
    full rebuild; a person with no activity at all is not recomputed (a value planted in their row
    stays) and only takes the new as-of date."""
    from tests.integration.test_operations import dbt_run
    from tests.operations_dataset import copy_data

    day = "2026-07-03"
    leaving = "2026-06-26"  # 7 days before `day`: in DAY2's 7-day window, not in `day`'s
    incremental = copy_data(ops["daily"], tmp_path / "incremental")
    full = copy_data(ops["daily"], tmp_path / "full")
    con = duckdb.connect(str(incremental.warehouse_db))
    person, days_7d = con.execute(
        "select person_id, active_days_7d from main_marts.tags_activity where person_id in"
        " (select person_id from main_intermediate.int_person_daily_activity where activity_date = ?)"
        " order by person_id limit 1",
        [leaving],
    ).fetchone()
    (expected_7d,) = con.execute(
        "select count(distinct activity_date) from main_intermediate.int_person_daily_activity"
        " where person_id = ? and activity_date > ? and activity_date <= ?",
        [person, leaving, day],
    ).fetchone()
    (idle,) = con.execute(
        "select min(person_id) from main_marts.tags_activity where last_active_at is null"
        " and person_id not in (select person_id from main_intermediate.int_person_daily_trades)"
    ).fetchone()
    con.execute("update main_marts.tags_activity set preferred_event = 'planted' where person_id = ?", [idle])
    con.close()
    assert expected_7d == days_7d - 1
    variables = json.dumps({"as_of_date": day})
    dbt_run(incremental, TAG_MODELS, variables)
    dbt_run(full, TAG_MODELS, variables, "--full-refresh")
    con = duckdb.connect(str(incremental.warehouse_db), read_only=True)
    assert con.execute(
        "select active_days_7d, cast(as_of_date as varchar) from main_marts.tags_activity"
        " where person_id = ?",
        [person],
    ).fetchone() == (expected_7d, day)
    assert con.execute(
        "select tag_value from main_marts.person_tags where person_id = ? and tag_code = 'active_days_7d'",
        [person],
    ).fetchone() == (str(expected_7d),)
    assert con.execute(
        "select preferred_event, cast(as_of_date as varchar) from main_marts.tags_activity"
        " where person_id = ?",
        [idle],
    ).fetchone() == ("planted", day)
    con.close()
    assert tag_rows(incremental, skip_person=idle) == tag_rows(full, skip_person=idle)
