"""The privacy scanners find what they look for (a scanner that finds nothing proves nothing)."""

import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.privacy_scan import (
    Allowed,
    VendorCopy,
    scan_databases,
    scan_outbox,
    scan_parquet,
    scan_text_files,
)

NAME = "金丝雀测试"
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"  # valid: province 11, 1949-12-31, check character X
EMAIL = "canary.person@example-canary.cn"
HASH = "ab" * 32


def test_databases_report_needles_patterns_and_non_hashes_per_column(tmp_path: Path):
    path = tmp_path / "mart.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table people (note varchar, tags varchar[], phone_hash varchar, order_id varchar)")
    con.execute(
        "insert into people values (?, ?, ?, ?), (?, ?, ?, ?)",
        [f"call {PHONE}", ["vip"], HASH, "202606301234567890",
         "ok", [f"x {ID_NUMBER}"], "not-a-hash", "202606301234567891"],
    )  # fmt: skip
    con.close()
    scan = scan_databases([path], [NAME])
    assert scan.scanned == ["mart.duckdb:main.people"]
    # an order number shaped like an ID number (invalid date and check character) is not a hit
    assert scan.hits == [
        "mart.duckdb:main.people.note: 1 rows",
        "mart.duckdb:main.people.tags: 1 rows",
        "mart.duckdb:main.people.phone_hash: 1 rows",
    ]
    # a hash looked for is found in a hash column (the row holding it, besides the non-hash value)
    assert "mart.duckdb:main.people.phone_hash: 2 rows" in scan_databases([path], [HASH]).hits


def test_parquet_and_outbox_exports_are_read_per_table(tmp_path: Path):
    raw = tmp_path / "raw"
    for day, name in (("2026-06-01", "someone"), ("2026-06-02", NAME)):
        folder = raw / "crm" / "customers" / f"arrival_date={day}"
        folder.mkdir(parents=True)
        duckdb.sql(f"copy (select '{name}' as remark) to '{folder / 'part.parquet'}' (format parquet)")
    scan = scan_parquet(raw, [NAME])
    assert len(scan.scanned) == 2
    assert scan.hits == ["crm/customers.remark: 1 rows"]
    export = tmp_path / "outbox" / "segments" / "s" / "v0001"
    export.mkdir(parents=True)
    (export / "members.csv").write_text(f"customer_no,split_group\nC1,{EMAIL}\n", encoding="utf-8")
    scan = scan_outbox(tmp_path / "outbox")
    assert scan.scanned == ["segments/s/v0001/members.csv"]
    assert scan.hits == ["segments/s/v0001/members.csv.split_group: 1 rows"]


def test_text_files_report_needles_in_json_escapes_and_patterns_not_allowed(tmp_path: Path):
    (tmp_path / "event.json").write_text(json.dumps({"name": NAME}), encoding="utf-8")  # \u91d1...
    (tmp_path / "run.log").write_text(
        f"to {EMAIL}, ID {ID_NUMBER}, call 13800138000 or {PHONE};"
        " order 110105194912310021, run 139123456789, took 30527.14925300097 ms\n",
        encoding="utf-8",
    )
    (tmp_path / "table.parquet").write_bytes(PHONE.encode())  # read through SQL, not as bytes
    scan = scan_text_files([tmp_path], [NAME], Allowed(values=frozenset({"13800138000"})))
    assert sorted(Path(path).name for path in scan.scanned) == ["event.json", "run.log"]
    assert sorted(hit.replace(str(tmp_path), "") for hit in scan.hits) == [
        f"/event.json: {NAME!r}",
        f"/run.log: {ID_NUMBER!r}",
        f"/run.log: {PHONE!r}",
        f"/run.log: {EMAIL!r}",
    ]


def test_a_vendor_copy_is_allowed_only_unchanged_and_never_hides_a_needle(tmp_path: Path):
    vendor = tmp_path / "vendor" / "static"
    site = tmp_path / "site" / "static"
    for folder in (vendor, site):
        folder.mkdir(parents=True)
        (folder / "font.otf").write_bytes(f"designer@fonts.example {NAME}".encode())
    (vendor / "style.css").write_bytes(b"a {}")
    (site / "style.css").write_bytes(b"a {} /* someone@example.org */")
    allow = Allowed(vendor_copies=(VendorCopy(re.compile(r"/site/static/(?P<relative>.+)$"), vendor),))
    scan = scan_text_files([tmp_path / "site"], [NAME], allow)
    assert sorted(hit.replace(str(site), "") for hit in scan.hits) == [
        f"/font.otf: {NAME!r}",
        "/style.css: 'someone@example.org'",
    ]
    with pytest.raises(AssertionError, match="never cover"):
        scan_text_files([tmp_path / "site"], [PHONE], Allowed(values=frozenset({PHONE})))
