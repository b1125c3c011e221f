"""Personal data and the hash key never leave ingestion / private.duckdb (issue: foundation)."""

import re
from pathlib import Path

import duckdb
import pytest

from orchestration.lib import pii
from tests.conftest import CANARY, TEST_HASH_KEY

pytestmark = pytest.mark.integration

# Patterns of clear personal data, bounded so that they do not fire inside longer identifiers.
PHONE = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)"
ID_NUMBER = r"(^|[^0-9A-Za-z])[1-8][0-9]{5}(19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx]([^0-9A-Za-z]|$)"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}"
HEX_HASH = r"^[0-9a-f]{64}$"


def scan_relation(con: duckdb.DuckDBPyConnection, relation: str, label: str) -> list[str]:
    """Every hit of a canary value or a personal-data pattern in the VARCHAR columns of a relation."""
    columns = con.execute(f"describe select * from {relation}").fetchall()
    hits = []
    for name, column_type, *_ in columns:
        if column_type != "VARCHAR":
            continue
        quoted = f'"{name}"'
        if name.endswith("_hash"):
            # A hash column may hold nothing but 64-hex hashes (nothing else can hide there).
            (bad,) = con.execute(
                f"select count(*) from {relation} where {quoted} is not null "
                f"and not regexp_matches({quoted}, '{HEX_HASH}')"
            ).fetchone()
            if bad:
                hits.append(f"{label}.{name}: {bad} non-hash values")
            continue
        canaries = " or ".join(
            f"contains({quoted}, '{value}')" for value in CANARY.values() if "C999" not in value
        )
        patterns = " or ".join(f"regexp_matches({quoted}, '{p}')" for p in (PHONE, EMAIL))
        (count,) = con.execute(f"select count(*) from {relation} where {canaries} or {patterns}").fetchone()
        # 18-digit system numbers (order ids) look like ID numbers; only a real one (province, birth
        # date and check character all valid) counts as a leak.
        id_like = con.execute(
            f"select distinct {quoted} from {relation} where regexp_matches({quoted}, '{ID_NUMBER}')"
        ).fetchall()
        count += sum(
            any(pii.is_valid_id_number(token.upper()) for token in re.findall(r"[0-9]{17}[0-9Xx]", value))
            for (value,) in id_like
        )
        if count:
            hits.append(f"{label}.{name}: {count} rows")
    return hits


def scan_database(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_catalog, table_schema, table_name from information_schema.tables"
        ).fetchall()
        return [hit for c, s, t in tables for hit in scan_relation(con, f'"{c}"."{s}"."{t}"', f"{s}.{t}")]
    finally:
        con.close()


def scan_raw_parquet(raw: Path) -> list[str]:
    con = duckdb.connect()
    return [
        hit
        for path in sorted(raw.rglob("*.parquet"))
        for hit in scan_relation(con, f"read_parquet('{path}')", str(path.relative_to(raw)))
    ]


def test_the_scan_finds_the_planted_canary_in_private_duckdb(built_warehouse):
    hits = scan_database(built_warehouse.layout.private_db)
    for column in ("phone", "id_number", "email", "name"):
        assert any(hit.startswith(f"main.pii_crm__customers.{column}: ") for hit in hits), column


def test_no_personal_data_in_the_warehouse_or_raw_layer(built_warehouse):
    layout = built_warehouse.layout
    assert scan_database(layout.warehouse_db) == []
    assert scan_raw_parquet(layout.raw) == []


def test_the_canary_is_loaded_as_hashes_with_derived_facts(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    row = con.execute(
        "select is_phone_valid, is_id_number_valid, id_birth_date::varchar, id_gender, email_domain "
        "from main_staging.stg_crm__customers where customer_no = ?",
        [CANARY["customer_no"]],
    ).fetchone()
    con.close()
    assert row == (True, True, "1949-12-31", "F", "example-canary.cn")


def test_private_duckdb_is_readable_by_its_owner_only(built_warehouse):
    assert built_warehouse.layout.private_db.stat().st_mode & 0o777 == 0o600


def test_hash_key_appears_in_no_file_and_no_dbt_artefact(built_warehouse):
    from orchestration.paths import DBT_PARSE_TARGET_DIR

    key = TEST_HASH_KEY.encode()
    roots = [built_warehouse.layout.root, DBT_PARSE_TARGET_DIR]
    checked = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                checked += 1
                assert key not in path.read_bytes(), path
    assert checked > 50  # the data directory, Dagster's storage and dbt's artefacts were all there


def test_no_model_reads_the_wall_clock(built_warehouse):
    compiled = list((built_warehouse.layout.dbt_target / "compiled").rglob("*.sql"))
    assert len(compiled) > 10
    wall_clock = re.compile(r"\b(current_date|current_timestamp|now\s*\(|getdate|sysdate|today\s*\()", re.I)
    offenders = [str(p) for p in compiled if wall_clock.search(p.read_text())]
    assert offenders == []
