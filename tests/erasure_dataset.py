"""The erasure dataset: a copy of the operations dataset where one person (a customer with trades, a bank
card and app logins) asks to be deleted, by phone number, while the hash key is rotated and retention is
due; the daily job then re-runs 2026-07-02 with the new key. Built once per session (the ``erased`` fixture
in conftest) for tests/integration/test_erasure_and_retention.py and tests/security/test_erasure_leftovers.py.

Before the request, the person is also planted where no raw row points at them: a malformed tracking line
carrying their login id and phone in a day's delivery (loaded, so quarantined, its text in
``private.duckdb``) and a CRM delivery of a later day that never loaded (its control file lists a file that
is missing) holding their customer row next to another customer's.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration.defs.privacy import erasure
from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.rules import load_business_rules
from tests.conftest import TEST_HASH_KEY, environment, pipeline_environment, temp_instance
from tests.operations_dataset import DAY2, copy_data
from tests.privacy_scan import files_holding

NEW_KEY = "fundcdp-rotated-test-key-2b9d-must-never-appear-in-any-file"
TRACKING_EVENT_DAYS = 10  # as of 2026-07-02: arrival days up to 2026-06-22 are purged
QUARANTINE_DAYS = 10
CUTOFF = "2026-06-22"
NEVER_LOADED_DAY = "2026-07-04"
MALFORMED_EVENT_ID = "erasure-malformed-0001"


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def pick_person(layout: DataLayout) -> str:
    """A person with a customer number, a phone, a fund account with trades, a bank card and app logins."""
    [(person_id,)] = query(
        layout.warehouse_db,
        """
        select p.person_id from main_marts.persons p
        where p.customer_no_count = 1 and p.phone_count >= 1 and p.login_id_count >= 1
            and p.fund_account_id_count >= 1
            and p.person_id in (select person_id from main_intermediate.int_trade_orders_attributed)
        order by p.identifier_count desc, p.person_id limit 1
        """,
    )
    return person_id


def everything_of(layout: DataLayout, person_id: str) -> dict[str, set[str]]:
    """The person's values in the clear and as hashes: what must be found nowhere after the deletion."""
    identifiers = query(
        layout.warehouse_db,
        "select identifier_type, identifier_hash from main_marts.person_identifiers where person_id = ?",
        [person_id],
    )
    hashes = {h for _, h in identifiers}
    system: dict[str, set[str]] = {}
    con = duckdb.connect()
    for column, table in (("customer_no", "crm/customers"), ("login_id", "tracking/events"),
                          ("fund_account_id", "trade/fund_accounts")):  # fmt: skip
        system[column] = {
            value
            for (value,) in con.execute(
                f"select distinct {column} from read_parquet('{layout.raw}/{table}/*/*.parquet') "
                f"where sha256('{column}:' || {column}) in (select unnest(?))",
                [sorted(hashes)],
            ).fetchall()
        }
    [customer_no] = system["customer_no"]
    card_hashes = {
        h
        for (h,) in con.execute(
            f"select distinct card_number_hash from read_parquet('{layout.raw}/crm/bank_cards/*/*.parquet') "
            "where customer_no = ?",
            [customer_no],
        ).fetchall()
    }
    con.close()
    private = duckdb.connect(str(layout.private_db), read_only=True)
    # Not the name: names are shared by many people (the name scan of test_privacy uses a unique canary).
    [(phone, id_number, email, email_hash)] = private.execute(
        "select distinct phone, id_number, email, email_hash from pii_crm__customers "
        "where id_number_hash in (select unnest(?))",
        [sorted(hashes)],
    ).fetchall()
    cards = {c for (c,) in private.execute(
        "select distinct card_number from pii_crm__bank_cards where card_number_hash in (select unnest(?))",
        [sorted(card_hashes)],
    ).fetchall()}  # fmt: skip
    private.close()
    return {
        "clear": {phone, id_number, email, *cards, *(v for values in system.values() for v in values)},
        "hashes": hashes | card_hashes | {email_hash},
        # with the id analysts see for them (analytics.duckdb publishes no warehouse id)
        "person_id": {person_id, *published_person_id(layout, person_id)},
        "phone": {phone},
        "customer_no": {customer_no},
        "login_id": system["login_id"],
        "fund_account_id": system["fund_account_id"],
        "card_number": cards,
        # the parts of "hashes": their identifiers in the identity graph, their cards, their e-mail
        "identity_hashes": hashes,
        "card_hashes": card_hashes,
        "email_hash": {email_hash},
    }


def published_person_id(layout: DataLayout, person_id: str) -> set[str]:
    from orchestration.defs.privacy.pseudonyms import published_ids

    published = published_ids(layout.private_db).get(person_id)
    return {published} if published else set()


def rotation_maps(layout: DataLayout) -> tuple[dict[str, str], dict[str, str]]:
    """What a rotation to NEW_KEY must do, derived independently: each keyed hash -> the new key's hash of
    its clear value (private.duckdb), and each person id anchored on one -> the id of the re-hashed anchor
    ('P' + the first 16 hex digits of sha256(anchor type ':' anchor hash), upper case)."""
    private = duckdb.connect(str(layout.private_db), read_only=True)
    hashes = {}
    for (table,) in private.execute(
        "select table_name from information_schema.tables where table_name like 'pii_%'"
    ).fetchall():
        columns = [r[0] for r in private.execute(f"describe {table}").fetchall()]
        for column in (c for c in columns if c.endswith("_hash") and c.removesuffix("_hash") in columns):
            clear = column.removesuffix("_hash")
            pairs = private.execute(
                f'select distinct "{column}", "{clear}" from {table} where "{clear}" is not null'
            )
            hashes |= {h: pii.keyed_hash(NEW_KEY.encode(), v) for h, v in pairs.fetchall()}
    private.close()
    anchors = query(
        layout.warehouse_db,
        "select distinct person_id, anchor_type, anchor_hash from main_intermediate.int_identity_persons",
    )
    persons = {
        person_id: "P" + hashlib.sha256(f"{kind}:{hashes[anchor]}".encode()).hexdigest()[:16].upper()
        for person_id, kind, anchor in anchors
        if anchor in hashes
    }
    return hashes, persons


def plant_malformed_line(layout: DataLayout, login_id: str, phone: str) -> tuple[str, str]:
    """Append a malformed (cut short) tracking line carrying the person's login id and phone to the
    delivery of the latest day after the retention cutoff on which they have no event, and reload that
    file so that the line is quarantined. Returns (day, file name)."""
    from orchestration.defs.ingest.land import ingest_limits, land_table_day
    from orchestration.lib.rules import JunkRules
    from orchestration.lib.sources import TABLES_BY_KEY

    events = layout.raw_table("tracking", "events") / "*" / "*.parquet"
    busy = {
        day
        for (day,) in duckdb.execute(
            "select distinct cast(arrival_date as varchar) from read_parquet(?, hive_partitioning = true) "
            "where login_id = ?",
            [str(events), login_id],
        ).fetchall()
    }
    days = [d for d in layout.landing_days("tracking") if d > CUTOFF]
    day = max((d for d in days if d not in busy), default=DAY2)
    ymd = day.replace("-", "")
    folder = layout.landing_day("tracking", day)
    path = folder / f"events_{ymd}.jsonl.gz"
    line = json.dumps(
        {"event_id": MALFORMED_EVENT_ID, "event": "page_view", "login_id": login_id,
         "properties": {"phone": phone, "platform": "android"}}
    )[:-20]  # fmt: skip
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + line.encode() + b"\n", mtime=0))
    control = folder / f"_control_{ymd}.csv"
    rows = list(csv.reader(control.read_text(encoding="utf-8").splitlines()))
    rows = [[n, str(int(c) + 1), a] if n == path.name else [n, c, a] for n, c, a in rows]
    control.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    rules = load_business_rules()
    outcome = land_table_day(
        layout, TABLES_BY_KEY[("tracking", "events")], day, TEST_HASH_KEY.encode(),
        JunkRules.from_rules(rules), **ingest_limits(rules), reload_files=frozenset({path.name}),
    )  # fmt: skip
    assert [f.rows_quarantined for f in outcome.files] == [1], outcome
    return day, path.name


def plant_never_loaded_delivery(layout: DataLayout, header: str, person_line: str, other_line: str) -> Path:
    """A CRM delivery that never loads: its control file lists a bank cards file that is missing."""
    ymd = NEVER_LOADED_DAY.replace("-", "")
    folder = layout.landing_day("crm", NEVER_LOADED_DAY)
    folder.mkdir(parents=True)
    path = folder / f"customers_{ymd}.csv"
    path.write_bytes("\n".join([header, person_line, other_line]).encode("utf-8-sig") + b"\n")
    (folder / f"_control_{ymd}.csv").write_text(
        f"file_name,row_count,amount_total\n{path.name},2,\nbank_cards_{ymd}.csv,0,\n", encoding="utf-8"
    )
    return path


def build_erased(ops: dict, tmp_path_factory) -> dict:
    """A copy of the operations dataset, the person planted as described above, the request filed, the key
    rotated and DAY2 re-run; what the tests compare with."""
    layout = copy_data(ops["daily"], tmp_path_factory.mktemp("erasure") / "data")
    person_id = pick_person(layout)
    values = everything_of(layout, person_id)
    hashes, persons = rotation_maps(layout)
    # Everybody else, as they must be after the run: re-hashed, person ids re-derived where anchored on a
    # personal identifier, nothing else changed.
    others = query(
        layout.warehouse_db,
        "select person_id, identifier_type, identifier_hash from main_marts.person_identifiers "
        "where person_id <> ?",
        [person_id],
    )
    expected_others = sorted((persons.get(p, p), t, hashes.get(h, h)) for p, t, h in others)
    changes = query(
        layout.warehouse_db,
        "select old_person_id, new_person_id, change_reason from main_marts.identity_changes "
        "where as_of_date = ? and ? not in (old_person_id, new_person_id)",
        [DAY2, person_id],
    )
    expected_changes = sorted((persons.get(o, o), persons.get(n, n), r) for o, n, r in changes)
    [login_id] = sorted(values["login_id"])[:1]
    [phone] = values["phone"]
    malformed_day, malformed_file = plant_malformed_line(layout, login_id, phone)
    customer_files = sorted(layout.landing.glob("crm/*/customers_*.csv"))
    header = customer_files[0].read_text(encoding="utf-8-sig").splitlines()[0]
    [person_line, other_line] = [
        next(
            line
            for path in customer_files
            for line in path.read_text(encoding="utf-8-sig").splitlines()[1:]
            if (line.split(",")[0] in values["customer_no"]) == mine
        )
        for mine in (True, False)
    ]
    never_loaded = plant_never_loaded_delivery(layout, header, person_line, other_line)
    holding_before = files_holding(
        layout.root, values["clear"] | values["hashes"] | values["person_id"], skip=[layout.demo_truth]
    )
    # The landing files holding one of their clear values, by a plain text search (gzip decompressed).
    landing_before = sorted(
        path.relative_to(layout.root).as_posix()
        for path in layout.landing.rglob("*")
        if path.is_file()
        and any(
            value.encode()
            in (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes())
            for value in values["clear"]
        )
    )
    [(customers_file, customer_line)] = [
        (path, line)
        for path in sorted(layout.landing.glob("crm/*/customers_*.csv"))
        for line in path.read_text(encoding="utf-8-sig").splitlines()
        if line.split(",")[0] in values["customer_no"]
    ][:1]

    erasure.submit_request(layout, "phone", f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", "DR-TEST-1")
    rotation = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "rotate-key"],
        cwd=PROJECT_ROOT, env={**os.environ, **environment(layout), "FUNDCDP_NEW_HASH_KEY": NEW_KEY},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    rules = load_business_rules()
    saved = rules.get("retention")
    rules["retention"] = {"tracking_event_days": TRACKING_EVENT_DAYS, "quarantine_days": QUARANTINE_DAYS}
    try:
        with pipeline_environment(layout):
            os.environ["FUNDCDP_HASH_KEY"] = NEW_KEY
            from orchestration.runner import run_days

            result = run_days(temp_instance(layout.dagster_home), [DAY2])
    finally:
        rules["retention"] = saved
    # The person under the new key too: their re-hashed personal identifiers and re-derived person id.
    values["hashes"] |= {hashes[h] for h in values["hashes"] if h in hashes}
    values["person_id"] |= {persons[p] for p in values["person_id"] if p in persons}
    return {
        "layout": layout,
        "values": values,
        "rotation": rotation,
        "result": result,
        "hashes": hashes,
        "persons": persons,
        "expected_others": expected_others,
        "expected_changes": expected_changes,
        "customer_line": customer_line,
        "customers_file": customers_file,
        "holding_before": holding_before,
        "landing_before": landing_before,
        "malformed": (malformed_day, malformed_file),
        "never_loaded": never_loaded,
        "other_line": other_line,
        "header": header,
    }
