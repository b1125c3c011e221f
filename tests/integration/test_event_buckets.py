"""A full build of the event tables on DuckDB runs per bucket of persons or devices (FUNDCDP_BUCKET_ROWS
rows a bucket: the model writes bucket 0, its post-hook the others): split into several buckets, it gives
the same rows as the daily builds of the same days."""

from __future__ import annotations

import json

import duckdb

from tests.integration.test_operations import EVENT_MODELS, assert_event_tables_equal, dbt_run
from tests.operations_dataset import DAY2, copy_data

LOGIN_AGGREGATES = ("int_daily_login_activity", "int_daily_login_events")


def test_a_full_build_in_buckets_equals_the_daily_builds(ops, tmp_path, monkeypatch):
    daily = ops["daily"]
    con = duckdb.connect(str(daily.warehouse_db), read_only=True)
    (events,) = con.execute("select count(*) from main_intermediate.int_events_attributed").fetchone()
    con.close()
    # four buckets of the attributed events (session numbering, by person), five of the staged ones
    monkeypatch.setenv("FUNDCDP_BUCKET_ROWS", str(events // 4 + 1))
    bucketed = copy_data(daily, tmp_path / "bucketed")
    dbt_run(
        bucketed, EVENT_MODELS + list(LOGIN_AGGREGATES), json.dumps({"as_of_date": DAY2}), "--full-refresh"
    )

    compiled = bucketed.root / "target" / "run" / "fundcdp" / "models" / "intermediate"
    # the model's own statement numbers bucket 0 of 4 (by person); its post-hook inserted buckets 1-3
    assert "% 4, 0) = 0" in (compiled / "int_session_events.sql").read_text()
    # the daily login aggregates, per bucket of logins (4 too: they count the attributed events)
    assert "% 4, 0) = 0" in (compiled / "daily" / "int_daily_login_activity.sql").read_text()
    con = duckdb.connect(str(bucketed.warehouse_db), read_only=True)
    leftovers = con.execute(
        "select table_name from information_schema.tables"
        " where table_name like '\\_\\_buckets\\_%' escape '\\'"
    ).fetchall()
    con.close()
    assert leftovers == []  # each model's post-hook dropped its marker table
    assert_event_tables_equal(daily, bucketed)
    built, rebuilt = (
        duckdb.connect(str(layout.warehouse_db), read_only=True) for layout in (daily, bucketed)
    )
    for table in LOGIN_AGGREGATES:
        query = f"select * exclude (built_as_of_date) from main_intermediate.{table} order by all"
        rows = rebuilt.execute(query).fetchall()
        assert rows and built.execute(query).fetchall() == rows, table
    built.close()
    rebuilt.close()
