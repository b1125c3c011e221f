"""Data tests of the incremental models check what the build wrote; the full sweep checks whole tables.

On copies of the operations dataset (tests/operations_dataset.py, the session fixture ``ops``): after
DAY2's daily run, bad rows are planted in partitions an earlier build wrote and one in DAY2's; ``dbt test``
as of DAY2 reports only DAY2's, ``dbt test`` with the full-sweep var reports all of them
(docs/quality.md, "Data tests on the written partitions").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from tests.operations_dataset import BASE_DAY, DAY2, copy_data

DBT = str(Path(sys.executable).with_name("dbt"))
MODELS = ["stg_tracking__events", "int_daily_login_activity", "int_events_attributed"]
# The tests the planted rows break, by the name dbt gives them.
NOT_NULL_EVENT_ID = "not_null_stg_tracking__events_event_id"
EXCLUSION_REASON = (
    "accepted_values_stg_tracking__events_exclusion_reason__duplicate_event__retired_tracking_point__retired_sdk"
    "__bot__test_device__clock_skew"
)
DAILY_KEY = "fundcdp_unique_combination_int_daily_login_activity_login_key__activity_date"
ATTRIBUTED_KEY = "unique_int_events_attributed_event_id"


def dbt_test(layout: DataLayout, variables: dict) -> dict[str, tuple[str, int, str]]:
    """`dbt test` of MODELS' data tests with ``variables``: each test's status, failing rows and the SQL it
    ran, by name."""
    result = subprocess.run(
        [DBT, "test", "--select", *MODELS, "--vars", json.dumps(variables),
         "--target-path", str(layout.root / "target"), "--log-path", str(layout.root / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(layout.root), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )  # fmt: skip
    results = json.loads((layout.root / "target" / "run_results.json").read_text(encoding="utf-8"))
    outcome = {
        r["unique_id"].split(".")[2]: (r["status"], r["failures"], r["compiled_code"])
        for r in results["results"]
    }
    assert outcome, result.stdout[-3000:]
    return outcome


def plant_bad_rows(layout: DataLayout) -> dict[str, int]:
    """Break each test once in a partition written before DAY2 (a null event id, an unknown exclusion
    reason, a repeated daily key) and the attribution's key across partitions: a copy of a row DAY2's
    build wrote, stamped as written earlier. Returns the rows each build wrote, per table."""
    con = duckdb.connect(str(layout.warehouse_db))
    try:
        staged = "main_staging.stg_tracking__events"
        old_rows = con.execute(
            f"select source_file, source_line from {staged} where staged_as_of_date < ? "
            "and exclusion_reason is null order by source_file, source_line limit 2",
            [DAY2],
        ).fetchall()
        assert len(old_rows) == 2
        con.execute(
            f"update {staged} set event_id = null where source_file = ? and source_line = ?",
            list(old_rows[0]),
        )
        con.execute(
            f"update {staged} set exclusion_reason = 'planted' where source_file = ? and source_line = ?",
            list(old_rows[1]),
        )
        daily = "main_intermediate.int_daily_login_activity"
        (copied,) = con.execute(
            f"insert into {daily} select * from {daily} where built_as_of_date < ? "
            "order by activity_date, login_key limit 1",
            [DAY2],
        ).fetchone()
        assert copied == 1
        attributed = "main_intermediate.int_events_attributed"
        (copied,) = con.execute(
            f"insert into {attributed} select * replace (cast(? as date) as built_as_of_date)"
            f" from {attributed} "
            "where built_as_of_date = ? order by event_id limit 1",
            [BASE_DAY, DAY2],
        ).fetchone()
        assert copied == 1
        written = {}
        for table, stamp in ((staged, "staged_as_of_date"), (daily, "built_as_of_date"),
                             (attributed, "built_as_of_date")):  # fmt: skip
            written[table] = con.execute(
                f"select count(*) filter (where {stamp} = ?), count(*) from {table}", [DAY2]
            ).fetchone()
        return written
    finally:
        con.close()


def test_a_daily_build_tests_the_written_partition_and_the_full_sweep_everything(ops, tmp_path):
    layout = copy_data(ops["daily"], tmp_path / "planted")
    written = plant_bad_rows(layout)
    # DAY2's build wrote part of each table only (else there would be nothing to restrict).
    assert all(0 < new < total for new, total in written.values()), written

    daily = dbt_test(layout, {"as_of_date": DAY2})
    status = {name: (state, failures) for name, (state, failures, _) in daily.items()}
    # The rows planted in earlier partitions are not looked at; the copy of a row DAY2 wrote is found,
    # although the copy itself is stamped as written earlier: a key test restricts its probe side only.
    assert status[NOT_NULL_EVENT_ID] == ("pass", 0)
    assert status[EXCLUSION_REASON] == ("pass", 0)
    assert status[DAILY_KEY] == ("pass", 0)
    assert status[ATTRIBUTED_KEY] == ("fail", 1)
    assert f"where staged_as_of_date = cast('{DAY2}' as date)) dbt_subquery" in daily[NOT_NULL_EVENT_ID][2]
    assert "written_keys" in daily[ATTRIBUTED_KEY][2]
    # Every other test of these models passes on the written partition, restricted.
    assert sorted(name for name, (state, _) in status.items() if state != "pass") == [ATTRIBUTED_KEY]
    assert all("dbt_subquery" in sql for _, _, sql in daily.values())

    sweep = dbt_test(layout, {"as_of_date": DAY2, "full_test_sweep": True})
    for name in (NOT_NULL_EVENT_ID, EXCLUSION_REASON, DAILY_KEY, ATTRIBUTED_KEY):
        assert sweep[name][:2] == ("fail", 1), name
    assert sorted(name for name, (state, *_) in sweep.items() if state != "pass") == sorted(
        [NOT_NULL_EVENT_ID, EXCLUSION_REASON, DAILY_KEY, ATTRIBUTED_KEY]
    )
    for name, (_, _, sql) in sweep.items():
        assert "dbt_subquery" not in sql and "as_of_date" not in sql, (name, sql)


def test_the_tests_of_a_full_build_are_not_restricted(ops, tmp_path):
    """The base warehouse was built in full as of BASE_DAY: every row carries that day, so its tests as of
    that day compile to the whole-table tests, without the full-sweep var."""
    layout = copy_data(ops["base"], tmp_path / "full")
    outcome = dbt_test(layout, {"as_of_date": BASE_DAY})
    assert len(outcome) == 11  # 5 + 3 + 3 data tests
    for name, (state, failures, sql) in outcome.items():
        assert (state, failures) == ("pass", 0), name
        assert "dbt_subquery" not in sql and "as_of_date" not in sql, (name, sql)
