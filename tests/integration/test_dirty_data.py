"""Dirty deliveries: every line accounted for, every injected defect handled as documented.

The demo generator records each defect it injects in demo_truth/defects.csv (file, line, kind); these
tests compare what the pipeline did with that truth, exactly.
"""

import csv
import gzip
import shutil

import duckdb
import pytest

from orchestration.defs.ingest.land import land_table_day
from orchestration.defs.ingest.loader import parse_file, read_file
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import TABLES_BY_KEY

pytestmark = pytest.mark.integration

UNPARSEABLE = {"malformed_json", "wrong_column_count", "unterminated_quote", "bad_number", "bad_date"}
FLAGGED = {"duplicate_event", "retired_tracking_point", "retired_sdk", "bot", "test_device", "clock_skew"}


def truth_defects(layout: DataLayout) -> list[dict]:
    with open(layout.demo_truth / "defects.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def incomplete_days(layout: DataLayout) -> set[tuple[str, str]]:
    """(source, day) of deliveries the generator left incomplete on purpose."""
    return {tuple(d["file"].split("/")[:2]) for d in truth_defects(layout) if d["kind"] == "incomplete_day"}


def warehouse(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(layout.warehouse_db), read_only=True)


def test_quarantine_equals_the_truths_unparseable_lines(built_warehouse):
    layout = built_warehouse.layout
    skipped = incomplete_days(layout)
    expected = {
        (d["file"], int(d["line"]), d["kind"])
        for d in truth_defects(layout)
        if d["kind"] in UNPARSEABLE and tuple(d["file"].split("/")[:2]) not in skipped
    }
    con = warehouse(layout)
    actual = set(
        con.execute(
            "select source_system || '/' || cast(arrival_date as varchar) || '/' || file_name, "
            "line_number, quarantine_reason from main_staging.stg_ingest__quarantined_lines"
        ).fetchall()
    )
    con.close()
    assert len(expected) >= 10
    assert actual == expected


def test_flagged_exclusions_equal_the_truths_flagged_defects_per_kind(built_warehouse):
    layout = built_warehouse.layout
    expected = {(d["file"], int(d["line"]), d["kind"]) for d in truth_defects(layout) if d["kind"] in FLAGGED}
    con = warehouse(layout)
    actual = set(
        con.execute(
            "select 'tracking/' || cast(arrival_date as varchar) || '/' || source_file, source_line, "
            "exclusion_reason from main_staging.stg_tracking__events where exclusion_reason is not null"
        ).fetchall()
    )
    (valid,) = con.execute("select count(*) from main_intermediate.int_events_valid").fetchone()
    (staged,) = con.execute("select count(*) from main_staging.stg_tracking__events").fetchone()
    con.close()
    assert {kind for _, _, kind in expected} == FLAGGED
    for kind in sorted(FLAGGED):
        assert {e for e in actual if e[2] == kind} == {e for e in expected if e[2] == kind}, kind
    assert valid == staged - len(expected)


def physical_data_lines(path) -> int:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data).count(b"\n")
    return data.count(b"\n") - 1  # header


def test_every_delivered_line_is_loaded_or_quarantined(built_warehouse):
    layout = built_warehouse.layout
    con = warehouse(layout)
    files = con.execute(
        "select source_system, cast(arrival_date as varchar), file_name, lines_read, rows_loaded, "
        "rows_quarantined from main_staging.stg_ingest__load_manifests where load_status <> 'duplicate'"
    ).fetchall()
    con.close()
    assert len(files) > 100
    for source, day, name, read, loaded, quarantined in files:
        assert read == loaded + quarantined, name
        assert read == physical_data_lines(layout.landing_day(source, day) / name), name


def test_a_file_delivered_twice_under_another_name_is_loaded_once(built_warehouse):
    layout = built_warehouse.layout
    resent = [d for d in truth_defects(layout) if d["kind"] == "duplicate_file"]
    assert resent
    con = warehouse(layout)
    for defect in resent:
        source, day, name = defect["file"].split("/")
        status, duplicate_of = con.execute(
            "select load_status, duplicate_of from main_staging.stg_ingest__load_manifests "
            "where source_system = ? and arrival_date = ? and file_name = ?",
            [source, day, name],
        ).fetchone()
        original = name.replace("_resend", "")
        assert (status, duplicate_of) == ("duplicate", original)
        raw_files = {p.name for p in (layout.raw / source).glob(f"*/arrival_date={day}/*.parquet")}
        assert original.replace(".csv", ".parquet") in raw_files
        assert name.replace(".csv", ".parquet") not in raw_files
    con.close()


def test_an_incomplete_day_fails_naming_the_missing_file(built_warehouse):
    layout = built_warehouse.layout
    (missing,) = [d["file"] for d in truth_defects(layout) if d["kind"] == "incomplete_day"]
    source, day, name = missing.split("/")
    messages = [
        event.step_failure_data.error.message
        for event in built_warehouse.load_result.all_events
        if event.is_step_failure
    ]
    assert any(f"{day}:" in m and "incomplete delivery" in m and name in m for m in messages)
    loaded_days = {p.name for p in (layout.raw / source).glob("*/arrival_date=*")}
    assert f"arrival_date={day}" not in loaded_days


def test_a_corrected_redelivery_replaces_exactly_that_files_rows(built_warehouse, tmp_path):
    truth_layout = built_warehouse.layout
    (correction, *_) = [d for d in truth_defects(truth_layout) if d["kind"] == "corrected_redelivery"]
    source, day, name = correction["file"].split("/")
    spec = next(s for s in TABLES_BY_KEY.values() if s.source == source and s.matches_file(name, day))
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    junk = JunkRules.from_rules(load_business_rules())
    landing_day = layout.landing_day(source, day)
    landing_day.mkdir(parents=True)

    def deliver(path):
        shutil.copy(path, landing_day / name)
        parsed = parse_file(read_file(landing_day / name, spec), spec, name)
        amount = sum(r for r in parsed.rows.column(spec.amount_column).to_pylist() if r is not None)
        (landing_day / f"_control_{day.replace('-', '')}.csv").write_text(
            f"file_name,row_count,amount_total\n{name},{parsed.lines_read},{amount:.2f}\n"
        )
        return {row["order_id"] for row in parsed.rows.to_pylist()}

    first_ids = deliver(truth_layout.demo_truth / "superseded" / source / day / name)
    first = land_table_day(layout, spec, day, b"k", junk, 0.05, 10)
    corrected_ids = deliver(truth_layout.landing_day(source, day) / name)
    second = land_table_day(layout, spec, day, b"k", junk, 0.05, 10)
    loaded = {
        r[0]
        for r in duckdb.sql(
            f"select order_id from read_parquet('{layout.raw_table(source, spec.name)}/*/*.parquet')"
        ).fetchall()
    }
    assert [f.status for f in first.files] == ["loaded"]
    assert [f.status for f in second.files] == ["corrected"]
    assert first_ids != corrected_ids
    assert loaded == corrected_ids


def test_personal_identifier_defects_are_flagged_not_lost(built_warehouse):
    layout = built_warehouse.layout
    skipped = incomplete_days(layout)
    defects = [
        d
        for d in truth_defects(layout)
        if d["file"].startswith("crm/")
        and "customers_" in d["file"]
        and tuple(d["file"].split("/")[:2]) not in skipped
    ]
    con = warehouse(layout)

    def customer_row(defect, columns):
        source, day, name = defect["file"].split("/")
        return con.execute(
            f"select {columns} from main_staging.stg_crm__customers "
            "where arrival_date = ? and source_file = ? and source_line = ?",
            [day, name, int(defect["line"])],
        ).fetchone()

    noisy = [d for d in defects if d["kind"] == "phone_noise"]
    bad_ids = [d for d in defects if d["kind"] == "bad_id_check_digit"]
    junk_phones = [d for d in defects if d["kind"] == "junk_identifier" and d["detail"].startswith("mobile")]
    assert noisy and bad_ids
    assert all(customer_row(d, "is_phone_valid, is_phone_junk") == (True, False) for d in noisy)
    assert all(customer_row(d, "is_id_number_valid, id_birth_date") == (False, None) for d in bad_ids)
    assert all(customer_row(d, "is_phone_junk") == (True,) for d in junk_phones)
    con.close()
