"""Outside text (file names, paths, catalogue names) never becomes SQL.

Each function that puts a path or a name into a DuckDB statement runs here in a data directory whose path
holds a quote and a semicolon, on a delivery named with a quote (``customers_20260630_it's.csv``), and on
tables and columns named with quotes: it must do its job and read back exactly what was planted. The last
test runs ``cli rotate-key`` on a copy of the shared build with such a delivery in raw/ and its manifests
(before: ``ParserException: unterminated string literal``).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.sql import quote_identifier, quote_qualified

HOSTILE = "it's; drop table x; --"
QUOTED_FILE = "customers_20260630_it's"
OLD_KEY, NEW_KEY = b"old-key-for-the-outside-text-tests", b"new-key-for-the-outside-text-tests"


@pytest.fixture()
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout.at(tmp_path / HOSTILE / "data'x")
    layout.ensure()
    return layout


def _write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


# --------------------------------------------------------------------------------------- key rotation


def test_rotation_in_a_hostile_directory_on_a_file_named_with_a_quote(layout: DataLayout) -> None:
    from orchestration.defs.privacy.key_rotation import rotate

    phones = ["13800000001", "13800000002"]
    old = [pii.keyed_hash(OLD_KEY, p) for p in phones]
    new = [pii.keyed_hash(NEW_KEY, p) for p in phones]
    con = duckdb.connect(str(layout.private_db))
    con.execute("create table pii_crm__customers (mobile varchar, mobile_hash varchar)")
    con.executemany("insert into pii_crm__customers values (?, ?)", list(zip(phones, old, strict=True)))
    con.close()
    raw = _write_parquet(
        layout.raw_partition("crm", "customers", "2026-06-30") / f"{QUOTED_FILE}.parquet",
        pa.table({"customer_no": ["C1", "C2"], "mobile_hash": old}),
    )
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_intermediate")
    con.execute("create schema main_marts")
    con.execute(
        "create table main_intermediate.int_identity_persons as "
        "select 'P-OLD-1' as person_id, 'phone' as anchor_type, ? as anchor_hash, 0 as anchor_epoch",
        [old[0]],
    )
    # a table and a column named with quotes are rewritten too
    con.execute(
        f"create table main_marts.{quote_identifier(HOSTILE)} (person_id varchar, mobile_hash varchar)"
    )
    con.execute(
        f"insert into main_marts.{quote_identifier(HOSTILE)} values ('P-OLD-1', ?), ('P-KEPT', ?)", old
    )
    con.close()

    counts = rotate(layout, OLD_KEY, NEW_KEY)

    assert counts == {
        "hashes_rotated": 2,
        "person_ids_changed": 1,
        "raw_files_rewritten": 2,  # the delivery and the (empty) identity-link archive DataLayout.ensure made
        "tables_rewritten": 2,
    }
    assert pq.read_table(raw, partitioning=None).to_pydict() == {
        "customer_no": ["C1", "C2"],
        "mobile_hash": new,
    }
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (person,) = con.execute("select person_id from main_intermediate.int_identity_persons").fetchone()
    rows = con.execute(
        f"select * from main_marts.{quote_identifier(HOSTILE)} order by mobile_hash"
    ).fetchall()
    con.close()
    assert person != "P-OLD-1"
    assert sorted(rows) == sorted([(person, new[0]), ("P-KEPT", new[1])])
    assert sorted(p.name for p in raw.parent.iterdir()) == [f"{QUOTED_FILE}.parquet"]


# ------------------------------------------------------------------------------- retention (privacy)


def test_retention_helpers_in_a_hostile_directory(layout: DataLayout) -> None:
    from orchestration.defs.privacy import step as privacy
    from orchestration.lib import privacy_records

    privacy.ensure_archive(layout)
    empty = privacy.archive_dir(layout) / "empty.parquet"
    assert pq.read_table(empty).schema == privacy.ARCHIVE_SCHEMA

    manifest = layout.raw / "ingest" / "load_manifest" / "arrival_date=2026-06-30"
    _write_parquet(
        manifest / f"crm__customers__{QUOTED_FILE}.parquet",
        pa.table({"source": ["crm"], "table_name": ["customers"], "file_name": [f"{QUOTED_FILE}.csv"]}),
    )
    _write_parquet(
        manifest / "tracking__events__events_20260630.parquet",
        pa.table({"source": ["tracking"], "table_name": ["events"], "file_name": ["events_20260630.jsonl"]}),
    )
    assert privacy._manifest_files(layout, ["2026-06-30"]) == [
        ("crm", "customers", f"{QUOTED_FILE}.csv"),
        ("tracking", "events", "events_20260630.jsonl"),
    ]
    assert privacy._manifest_files(layout, ["2026-06-30"], "crm") == [
        ("crm", "customers", f"{QUOTED_FILE}.csv")
    ]

    log = layout.raw / "ingest" / "retention_log"
    for day in ("2026-06-29", "2026-06-30"):
        _write_parquet(log / f"{day}.parquet", pa.table({"applied_at": [day], "event_days_purged": [day]}))
    assert privacy_records.purged_tracking_days(layout) == {"2026-06-29", "2026-06-30"}

    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_intermediate")
    columns = ", ".join(
        f"cast(null as {'varchar' if field.type == pa.string() else 'boolean'}) "
        f"as {quote_identifier(field.name)}"
        for field in privacy.ARCHIVE_SCHEMA
        if field.name not in ("event_id", "event_at", "event_date", "arrival_date", "login_id", "event_name")
    )
    con.execute(
        "create table main_intermediate.int_events_valid as select 'E' || i as event_id, "
        "'view' as event_name, timestamp '2026-06-01 08:00:00' + to_minutes(i) as event_at, "
        "date '2026-06-01' as event_date, date '2026-06-01' + cast(i % 2 as integer) as arrival_date, "
        f"'L' || (i % 3) as login_id, {columns} from range(12) t(i)"
    )
    con.close()
    # the logins of arrival day 2026-06-01 (i even: L0, L1, L2), a first and a last event each
    assert privacy._archive_links(layout, ["2026-06-01"]) == 6
    archived = privacy.archive_dir(layout) / "purged_2026-06-01_2026-06-01.parquet"
    assert sorted(pq.read_table(archived)["event_id"].to_pylist()) == ["E0", "E10", "E2", "E4", "E6", "E8"]
    assert privacy._count_rows([str(archived)]) == 6


# -------------------------------------------------------------------------------------- experiments


def test_experiment_results_in_a_hostile_directory(layout: DataLayout) -> None:
    from orchestration.defs.segments.experiments import experiment_results

    con = duckdb.connect(str(layout.segments_db))
    con.execute(
        "create table segment_versions as select 'seg' as segment, 1 as version, "
        "date '2026-06-01' as as_of_date, 'published' as status"
    )
    con.execute(
        "create table segment_members as select 'seg' as segment, 1 as version, 'P' || i as person_id, "
        "case when i < 10 then 'test' else 'control' end as split_group from range(20) t(i)"
    )
    con.close()
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_intermediate")
    con.execute("create schema main_marts")
    con.execute("create table main_marts.person_profile as select date '2026-06-30' as as_of_date")
    # 4 test and 1 control persons buy after the version's date; P5 bought before it (not a conversion)
    con.execute(
        "create table main_intermediate.int_person_daily_trades as "
        "select * from (values ('P0', date '2026-06-03', 'purchase'), ('P1', date '2026-06-04', 'purchase'), "
        "('P2', date '2026-06-05', 'subscription'), ('P3', date '2026-06-06', 'purchase'), "
        "('P5', date '2026-05-20', 'purchase'), ('P12', date '2026-06-07', 'purchase')) "
        "t(person_id, confirm_date, trade_type)"
    )
    con.close()
    [row] = experiment_results(layout.segments_db, layout.warehouse_db)
    assert row[:9] == ("seg", 1, date(2026, 6, 1), row[3], row[4], 10, 4, 10, 1)


# ------------------------------------------------------------------------------------------ summary


def test_summary_in_a_hostile_directory(layout: DataLayout) -> None:
    from orchestration.defs.automation import summary

    manifest = layout.raw / "ingest" / "load_manifest" / "arrival_date=2026-06-30"
    _write_parquet(
        manifest / f"crm__customers__{QUOTED_FILE}.parquet",
        pa.table(
            {
                "source": ["crm"],
                "table_name": ["customers"],
                "status": ["loaded"],
                "lines_read": [5],
                "rows_loaded": [4],
                "rows_quarantined": [1],
            }
        ),
    )
    assert summary.load_summary(layout) == [("crm", "customers", 1, 5, 4, 1, 0)]
    _write_parquet(
        layout.raw / "ingest" / "quarantine" / "arrival_date=2026-06-30" / f"{QUOTED_FILE}.parquet",
        pa.table({"source": ["crm", "crm"], "reason": ["bad_date", "bad_date"]}),
    )
    assert summary.quarantine_by_reason(layout) == [("crm", "bad_date", 2)]
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_staging")
    con.execute(f"create table {quote_qualified('main_staging', HOSTILE)} as select * from range(3)")
    con.close()
    assert summary.warehouse_counts(layout) == [(HOSTILE, 3)]


# ------------------------------------------------------------------------- model store, dbt row counts


def test_model_store_and_dbt_counts_quote_catalogue_names(layout: DataLayout) -> None:
    from orchestration.defs.ml.store import read_frame
    from orchestration.defs.transform.dbt import rows_written
    from orchestration.lib.relations import ModelRelation

    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("create schema main_intermediate")
    con.execute(
        f"create table {quote_qualified('main_intermediate', HOSTILE)} as select "
        f"date '2026-06-01' + cast(i % 2 as integer) as {quote_identifier(HOSTILE)}, "
        "date '2026-06-30' as built_as_of_date "
        "from range(5) t(i)"
    )
    con.close()
    hostile_model = ModelRelation(HOSTILE, "main_intermediate", HOSTILE, "intermediate")
    assert len(read_frame(layout.warehouse_db, hostile_model)) == 5
    model = (quote_qualified("main_intermediate", HOSTILE), quote_identifier(HOSTILE))
    assert rows_written(layout.warehouse_db, "2026-06-30", {"model.x": model}) == {
        "model.x": {"2026-06-01": 3, "2026-06-02": 2}
    }


# ------------------------------------------------------------------------------ cli rotate-key, end to end


@pytest.mark.integration
def test_rotate_key_completes_with_a_delivery_named_with_a_quote(
    built_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import cli
    from tests.conftest import TEST_HASH_KEY

    source = built_warehouse.layout
    layout = DataLayout.at(tmp_path / "data")
    shutil.copytree(
        source.root, layout.root, ignore=shutil.ignore_patterns("dagster_home", "gx", "logs", "dbt_target")
    )
    # the first CRM customers delivery, renamed as a delivery named with a quote, in raw/ and its manifest
    day = source.landing_days("crm")[0]
    ymd = day.replace("-", "")
    raw = layout.raw_partition("crm", "customers", day)
    renamed = raw / f"customers_{ymd}_it's.parquet"
    (raw / f"customers_{ymd}.parquet").rename(renamed)
    manifest_dir = layout.raw / "ingest" / "load_manifest" / f"arrival_date={day}"
    manifest = manifest_dir / f"crm__customers__customers_{ymd}.parquet"
    rows = pq.read_table(manifest).to_pylist()
    for row in rows:
        row["file_name"] = f"customers_{ymd}_it's.csv"
    _write_parquet(manifest_dir / f"crm__customers__customers_{ymd}_it's.parquet", pa.Table.from_pylist(rows))
    manifest.unlink()
    before = pq.read_table(renamed)

    for name, value in {
        "FUNDCDP_DATA_DIR": str(layout.root),
        "FUNDCDP_HASH_KEY": TEST_HASH_KEY,
        "FUNDCDP_NEW_HASH_KEY": "a-new-key-for-the-quoted-delivery-test",
        "DAGSTER_HOME": str(layout.dagster_home),
        "DBT_LOG_PATH": str(layout.logs / "dbt"),
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["rotate-key"]) == 0

    after = pq.read_table(renamed)
    assert after.num_rows == before.num_rows > 0
    con = duckdb.connect(str(layout.private_db), read_only=True)
    hashes = {
        value
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_name like 'pii_%'"
        ).fetchall()
        for (column,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_name = ? and column_name like '%_hash'",
            [table],
        ).fetchall()
        for (value,) in con.execute(
            f"select {quote_identifier(column)} from {quote_identifier(table)}"
        ).fetchall()
    }
    con.close()
    hash_columns = [name for name in after.column_names if name.endswith("_hash")]
    assert hash_columns
    for name in hash_columns:
        old_values = {v for v in before[name].to_pylist() if v is not None}
        new_values = {v for v in after[name].to_pylist() if v is not None}
        assert new_values and new_values <= hashes, name  # every hash is one of the new key's
        assert not (old_values & new_values), name
