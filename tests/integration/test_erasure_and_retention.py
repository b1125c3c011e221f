"""Deletion, retention and key rotation, on a copy of the operations dataset, in one run of the daily job.

One person of the operations dataset (a customer with trades, a bank card and app logins) asks to be
deleted, by phone number; retention is set so that the oldest tracking days and quarantine rows are past
it; and the hash key is rotated (`cli rotate-key`) while the request is pending. The daily job then re-runs
2026-07-02 with the new key. Afterwards none of the person's identifiers, clear values or hashes (under
either key) is in any file of the data directory (DuckDB and Parquet through SQL, gzip decompressed, every
other file by bytes); everybody else is exactly who they were — the same identifiers, re-hashed, under the
same person ids (re-derived where anchored on a personal identifier), with no merge or split; the purged
days are gone from raw/, landing/ and private.duckdb; and a re-sent delivery of the person is cut at
ingestion.
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

from orchestration.defs.privacy import erasure
from orchestration.lib import pii
from orchestration.lib.rules import load_business_rules
from orchestration.lib.tombstones import load_tombstones
from tests.conftest import TEST_HASH_KEY
from tests.erasure_dataset import CUTOFF, NEW_KEY, query
from tests.operations_dataset import DAY2
from tests.privacy_scan import files_holding

pytestmark = pytest.mark.integration


def test_the_daily_job_honours_the_request_and_logs_counts_only(erased):
    assert erased["rotation"].returncode == 0, erased["rotation"].stderr[-3000:]
    assert erased["result"].success
    layout = erased["layout"]
    assert not list(erasure.requests_dir(layout).glob("*.csv"))  # the request file held the phone
    [log] = erasure.read_log(layout)
    assert (log["request_id"], log["identifier_type"], log["persons_found"]) == ("DR-TEST-1", "phone", 1)
    removed = json.loads(log["raw_rows_removed_by_table"])
    tables = {
        "crm.customers",
        "crm.bank_cards",
        "trade.fund_accounts",
        "trade.trade_orders",
        "tracking.events",
    }
    assert tables <= set(removed)
    assert log["tombstones_written"] >= 5 and log["landing_files_rewritten"] >= 5
    assert log["derived_rows_removed"] > 0


def test_the_person_is_in_no_file_afterwards(erased):
    layout = erased["layout"]
    values = erased["values"]
    needles = values["clear"] | values["hashes"] | values["person_id"]
    assert len(needles) >= 10
    # The same scan found them everywhere before: the landing files, raw/, private.duckdb, the warehouse,
    # analytics. (The demo generator's answer key stands for the source systems' own records.)
    before = erased["holding_before"]
    for place in ("landing/crm/", "landing/tracking/", "raw/crm/customers/", "raw/tracking/events/",
                  "private.duckdb:main.pii_crm__customers", "warehouse.duckdb:main_marts.person_identifiers",
                  "analytics.duckdb:main.persons"):  # fmt: skip
        assert any(hit.startswith(place) for hit in before), place
    assert files_holding(layout.root, needles, skip=[layout.demo_truth]) == []


def test_nobody_else_is_changed_merged_or_split_by_the_deletion_or_the_rotation(erased):
    layout = erased["layout"]
    after = query(
        layout.warehouse_db,
        "select person_id, identifier_type, identifier_hash from main_marts.person_identifiers order by all",
    )
    assert after == erased["expected_others"]
    changes = query(
        layout.warehouse_db,
        "select old_person_id, new_person_id, change_reason from main_marts.identity_changes "
        "where as_of_date = ? order by all",
        [DAY2],
    )
    assert changes == erased["expected_changes"]
    persons = erased["persons"]
    assert 0 < len(persons) < len({p for p, _, _ in after})  # some ids re-derived, most kept


def test_the_key_rotation_left_no_old_hash_and_no_key_anywhere(erased):
    layout = erased["layout"]
    assert "rotated" in erased["rotation"].stdout
    phone, phone_hash = query(layout.private_db, "select phone, phone_hash from pii_crm__customers limit 1")[
        0
    ]
    assert phone_hash == pii.keyed_hash(NEW_KEY.encode(), phone)
    old_hashes = sorted(erased["hashes"])[:40]  # a sample: each needle is searched in every file
    assert files_holding(layout.root, old_hashes, skip=[layout.demo_truth]) == []
    for path in (p for p in layout.root.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert NEW_KEY.encode() not in content and TEST_HASH_KEY.encode() not in content, path


def test_retention_purged_old_events_and_quarantine_but_kept_their_identity_links(erased):
    layout = erased["layout"]
    partitions = sorted(p.name[-10:] for p in layout.raw_table("tracking", "events").glob("arrival_date=*"))
    assert partitions and min(partitions) > CUTOFF
    assert min(layout.landing_days("tracking")) > CUTOFF
    quarantine = sorted(p.name[-10:] for p in (layout.raw / "ingest" / "quarantine").glob("arrival_date=*"))
    assert min(quarantine) > CUTOFF
    [(archived, oldest_arrival, newest_arrival)] = duckdb.sql(
        f"select count(*), min(arrival_date)::varchar, max(arrival_date)::varchar "
        f"from read_parquet('{layout.raw}/archive/identity_links/*.parquet')"
    ).fetchall()
    assert archived > 0 and newest_arrival <= CUTOFF
    purged_files = [f"events_{d.replace('-', '')}.jsonl.gz" for d in ("2026-06-19", "2026-06-20", CUTOFF)]
    left = "select count(*) from pii_tracking__events where _source_file in (select unnest(?))"
    assert query(layout.private_db, left, [purged_files]) == [(0,)]
    assert layout.private_db.stat().st_mode & 0o777 == 0o600


def test_a_re_sent_delivery_cannot_bring_the_person_back(erased):
    """The person's old CRM line, re-delivered after the key rotation: cut at ingestion (tombstones do not
    depend on the key), and the landing file rewritten without it."""
    from orchestration.defs.ingest.land import land_table_day
    from orchestration.lib.rules import JunkRules
    from orchestration.lib.sources import TABLES_BY_KEY

    layout = erased["layout"]
    day = "2026-07-03"
    folder = layout.landing_day("crm", day)
    folder.mkdir(parents=True)
    header = erased["customers_file"].read_text(encoding="utf-8-sig").splitlines()[0]
    (folder / "customers_20260703.csv").write_bytes(
        "\n".join([header, erased["customer_line"]]).encode("utf-8-sig") + b"\n"
    )
    (folder / "_control_20260703.csv").write_text(
        "file_name,row_count,amount_total\ncustomers_20260703.csv,1,\n"
    )
    outcome = land_table_day(
        layout, TABLES_BY_KEY[("crm", "customers")], day, NEW_KEY.encode(),
        JunkRules.from_rules(load_business_rules()), 0.05, 10, tombstones=load_tombstones(layout),
    )  # fmt: skip
    assert (outcome.rows_loaded, outcome.rows_erased) == (0, 1)
    assert (folder / "customers_20260703.csv").read_text(encoding="utf-8-sig") == header + "\n"
    assert (folder / "_control_20260703.csv").read_text().splitlines()[1] == "customers_20260703.csv,0,"


def test_every_export_manifest_still_matches_its_files(erased):
    """Exports rewritten without the person keep a true manifest: member count and checksums."""
    amended = 0
    for manifest_path in sorted(erased["layout"].outbox.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        folder = manifest_path.parent
        [(rows,)] = duckdb.sql(
            f"select count(*) from read_parquet('{folder / 'members.parquet'}')"
        ).fetchall()
        assert manifest["size"] == rows, folder
        for name, checksum in manifest["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == checksum, folder / name
        amended += manifest.get("rows_removed_by_deletion_requests", 0)
    assert amended > 0
