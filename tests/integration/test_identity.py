"""ID-Mapping on purpose-made scenarios, each with its own truth, asserting exact pair precision/recall.

One landing zone holds every scenario (disjoint identifiers); it is loaded and built as of day 1, then
day 2 is delivered and built, then the same raw layer is rebuilt from scratch in a fresh warehouse.
The identity-over-time scenarios (docs/identity.md) start earlier: CRM records created on JAN10 and
changed on FEB20 (released on FEB20 + 90 days = 2026-05-21, before day 1) or on MAY10 (released on
2026-08-08, after day 2: still in transition); these deliveries are loaded before day 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.land import land_table_day
from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.rules import JunkRules, load_business_rules
from orchestration.lib.sources import ALL_TABLES
from orchestration.lib.tombstones import load_tombstones
from tests.landing_builder import event, write_delivery

pytestmark = pytest.mark.integration

KEY = b"identity-scenario-key"
DAY1, DAY2 = "2026-06-01", "2026-06-02"
JAN10, FEB20, MAY10 = "2026-01-10", "2026-02-20", "2026-05-10"


def id_number(sequence: int, birth: str = "19800101") -> str:
    first17 = f"110105{birth}{sequence:03d}"
    return first17 + pii.id_check_char(first17)


def phone(n: int) -> str:
    return f"139{n:08d}"


def customer(no: str, mobile: str, id_no: str, updated_at: str, name: str = "客户", email: str = "") -> dict:
    return {
        "customer_no": no, "name": name, "gender": "M", "birth_date": "1980-01-01", "id_type": "ID_CARD",
        "id_number": id_no, "mobile": mobile, "email": email, "province": "北京", "city": "北京",
        "risk_level": "C3", "risk_assessed_date": "2026-01-01", "kyc_status": "verified",
        "open_date": "2020-01-01", "open_channel": "app", "updated_at": updated_at,
    }  # fmt: skip


def account(fund_account_id: str, customer_no: str, updated_at: str) -> dict:
    return {
        "fund_account_id": fund_account_id, "customer_no": customer_no, "open_date": "2020-01-01",
        "open_channel": "app", "account_status": "normal", "updated_at": updated_at,
    }  # fmt: skip


# Truth: (identifier_type, clear value) -> real person label, per scenario.
TRUTH: dict[str, dict[tuple[str, str], str]] = {}


def truth(scenario: str, person: str, *identifiers: tuple[str, str]) -> None:
    for identifier in identifiers:
        TRUTH.setdefault(scenario, {})[identifier] = f"{scenario}:{person}"


def day1_rows() -> dict[str, list[dict]]:
    customers, accounts, events = [], [], []
    # star: one customer, three fund accounts, a login registered with the customer's phone
    customers.append(
        customer("C0101", phone(101), id_number(101), "2026-06-01 09:00:00", email="star@qq.com")
    )
    accounts += [account(f"FA010{i}", "C0101", "2026-06-01 09:00:00") for i in range(1, 4)]
    events.append(event("e0101", "sign_up", "2026-06-01 10:00:00", "dev-0101", "L0101", phone=phone(101)))
    truth("star", "a", ("customer_no", "C0101"), ("phone", phone(101)), ("id_number", id_number(101)),
          ("email", "star@qq.com"), ("login_id", "L0101"),
          *[("fund_account_id", f"FA010{i}") for i in range(1, 4)])  # fmt: skip
    # two people sharing one device at different times
    events += [
        event("e0201", "app_start", "2026-06-01 07:50:00", "dev-0201", None),
        event("e0202", "login", "2026-06-01 08:00:00", "dev-0201", "L0201", phone=phone(201)),
        event("e0203", "page_view", "2026-06-01 08:10:00", "dev-0201", None),
        event("e0204", "login", "2026-06-01 20:00:00", "dev-0201", "L0202", phone=phone(202)),
        event("e0205", "page_view", "2026-06-01 20:05:00", "dev-0201", None),
    ]
    truth("shared_device", "a", ("login_id", "L0201"), ("phone", phone(201)))
    truth("shared_device", "b", ("login_id", "L0202"), ("phone", phone(202)))
    # a QA device used by 200 test logins: its events are excluded and it glues nobody together; five
    # of the accounts are also used on their owners' own phones, where they are five people
    for i in range(200):
        at = f"2026-06-01 {8 + i // 60:02d}:{i % 60:02d}:00"  # one login a minute: a tester, not a bot
        events.append(event(f"eqa{i:03d}", "login", at, "dev-qa", f"LQA{i:03d}"))
    for i in range(5):
        events.append(
            event(
                f"eqb{i}", "login", "2026-06-01 12:00:00", f"dev-qb{i}", f"LQA{i:03d}", phone=phone(3000 + i)
            )
        )
        truth("test_device", str(i), ("login_id", f"LQA{i:03d}"), ("phone", phone(3000 + i)))
    # junk identifiers: two customers typed with the test number 13800138000 and the same junk e-mail
    customers.append(customer("C0401", "13800138000", id_number(401), "2026-06-01 09:00:00"))
    customers.append(customer("C0402", "+86 138 0013 8000", id_number(402), "2026-06-01 09:00:00"))
    events.append(event("e0401", "login", "2026-06-01 09:30:00", "dev-0401", "null", phone="00000000000"))
    events.append(event("e0402", "login", "2026-06-01 09:31:00", "dev-0402", "null", phone="00000000000"))
    truth("junk", "a", ("customer_no", "C0401"), ("id_number", id_number(401)))
    truth("junk", "b", ("customer_no", "C0402"), ("id_number", id_number(402)))
    # one person under two CRM numbers (name typo), joined by the same phone; each record has its own
    # e-mail, which the two records do not share
    customers.append(
        customer("C0501", phone(501), "", "2026-06-01 09:00:00", name="王小明", email="xm1@qq.com")
    )
    customers.append(
        customer("C0502", f"+86-{phone(501)}", "", "2026-06-01 09:05:00", name="王晓明", email="xm2@qq.com")
    )
    truth("crm_duplicate", "a", ("customer_no", "C0501"), ("customer_no", "C0502"), ("phone", phone(501)),
          ("email", "xm1@qq.com"), ("email", "xm2@qq.com"))  # fmt: skip
    # two people joined only through a shared phone, with different ID numbers: must be split
    customers.append(customer("C0601", phone(601), id_number(601), "2026-06-01 09:00:00"))
    customers.append(customer("C0602", phone(601), id_number(602), "2026-06-01 09:30:00"))
    truth("split", "a", ("customer_no", "C0601"), ("id_number", id_number(601)))
    truth("split", "b", ("customer_no", "C0602"), ("id_number", id_number(602)))
    # a branch phone typed into seven customer records: a hub, never linking them
    for i in range(7):
        customers.append(customer(f"C07{i:02d}", phone(700), id_number(700 + i), "2026-06-01 09:00:00"))
        truth("hub", str(i), ("customer_no", f"C07{i:02d}"), ("id_number", id_number(700 + i)))
    # a person who gains an identifier later (day 2) whose hash sorts first
    customers.append(customer("C0801", phone(801), id_number(801), "2026-06-01 09:00:00"))
    # merge between runs: a customer (older) and an app login (newer) linked only on day 2
    customers.append(customer("C0901", phone(901), id_number(901), "2026-06-01 08:00:00"))
    events.append(event("e0901", "page_view", "2026-06-01 15:00:00", "dev-0901", "L0901"))
    truth("merge", "a", ("customer_no", "C0901"), ("phone", phone(901)), ("login_id", "L0901"))
    # identity over time, day 1: a stranger signs up with the number C1001 gave up on FEB20 (released
    # on 05-21); a new CRM record without ID number carries the number C1101 gave up on FEB20; someone
    # signs up with the number C1201 gave up on MAY10 (in transition until 08-08: still C1201's)
    events.append(event("e1001", "sign_up", "2026-06-01 10:00:00", "dev-1001", "L1001", phone=phone(1001)))
    truth("recycled_phone", "stranger", ("login_id", "L1001"), ("phone", phone(1001)))
    customers.append(customer("C1102", phone(1101), "", "2026-06-01 09:00:00"))
    truth("recycled_phone_crm", "new", ("customer_no", "C1102"), ("phone", phone(1101)))
    events.append(event("e1201", "sign_up", "2026-06-01 10:00:00", "dev-1201", "L1201", phone=phone(1201)))
    return {"customers": customers, "fund_accounts": accounts, "events": events}


def jan10_rows() -> dict[str, list[dict]]:
    """Identity over time: the CRM records as first delivered, and the old holder's own app login."""
    events = [event("e1000", "sign_up", "2026-01-10 12:00:00", "dev-1000", "LA1001", phone=phone(1001))]
    return {
        "customers": [
            customer("C1001", phone(1001), id_number(910), "2026-01-10 09:00:00"),
            customer("C1101", phone(1101), id_number(920), "2026-01-10 09:00:00"),
            customer("C1201", phone(1201), id_number(930), "2026-01-10 09:00:00"),
            customer("C1301", phone(1301), id_number(940), "2026-01-10 09:00:00"),
        ],
        "events": events,
    }


def feb20_rows() -> dict[str, list[dict]]:
    """C1001 and C1101 change their mobile; C1301's ID number typo is corrected."""
    truth("recycled_phone", "old_holder", ("customer_no", "C1001"), ("id_number", id_number(910)),
          ("phone", phone(1002)), ("login_id", "LA1001"))  # fmt: skip
    truth("recycled_phone_crm", "old_holder", ("customer_no", "C1101"), ("id_number", id_number(920)),
          ("phone", phone(1102)))  # fmt: skip
    truth("corrected_id", "a", ("customer_no", "C1301"), ("phone", phone(1301)),
          ("id_number", id_number(940)), ("id_number", id_number(941)))  # fmt: skip
    return {
        "customers": [
            customer("C1001", phone(1002), id_number(910), "2026-02-20 09:00:00"),
            customer("C1101", phone(1102), id_number(920), "2026-02-20 09:00:00"),
            customer("C1301", phone(1301), id_number(941), "2026-02-20 09:00:00"),
        ]
    }


def may10_rows() -> dict[str, list[dict]]:
    """C1201 changes its mobile 22 days before day 1."""
    truth("phone_in_transition", "a", ("customer_no", "C1201"), ("id_number", id_number(930)),
          ("phone", phone(1201)), ("phone", phone(1202)), ("login_id", "L1201"))  # fmt: skip
    return {"customers": [customer("C1201", phone(1202), id_number(930), "2026-05-10 09:00:00")]}


def email_sorting_first(existing: list[str]) -> str:
    """An e-mail whose keyed hash sorts before every existing identifier hash of the person."""
    for n in range(10_000):
        candidate = f"late{n}@example.cn"
        if pii.keyed_hash(KEY, candidate) < min(existing):
            return candidate
    raise AssertionError("no e-mail found")  # pragma: no cover


def day2_rows() -> dict[str, list[dict]]:
    existing = [
        pii.keyed_hash(KEY, phone(801)),
        pii.keyed_hash(KEY, id_number(801)),
        hashlib.sha256(b"customer_no:C0801").hexdigest(),
    ]
    late_email = email_sorting_first(existing)
    truth("late_identifier", "a", ("customer_no", "C0801"), ("phone", phone(801)),
          ("id_number", id_number(801)), ("email", late_email))  # fmt: skip
    return {
        "customers": [customer("C0801", phone(801), id_number(801), "2026-06-02 09:00:00", email=late_email)],
        "events": [event("e0902", "login", "2026-06-02 09:00:00", "dev-0901", "L0901", phone=phone(901))],
    }


def land_day(layout: DataLayout, day: str) -> None:
    junk = JunkRules.from_rules(load_business_rules())
    for spec in ALL_TABLES:
        land_table_day(layout, spec, day, KEY, junk, 0.05, 10)


def dbt_build(layout: DataLayout, as_of: str) -> None:
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(layout.root),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--exclude-resource-type", "unit_test",
         "--vars", f'{{"as_of_date": "{as_of}"}}',
         "--target-path", str(layout.dbt_target), "--log-path", str(layout.logs / "dbt")],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]


def person_map(layout: DataLayout) -> dict[tuple[str, str], str]:
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        rows = con.execute(
            "select identifier_type, identifier_hash, person_id from main_marts.person_identifiers"
        )
        return {(t, h): p for t, h, p in rows.fetchall()}
    finally:
        con.close()


def tag_rows(layout: DataLayout) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    try:
        return {
            table: con.execute(f"select * from main_marts.{table} order by person_id").fetchall()
            for table in ("tags_basic", "tags_account", "tags_business", "tags_activity", "tags_value")
        }
    finally:
        con.close()


def hashed(identifier_type: str, value: str) -> tuple[str, str]:
    if identifier_type in ("phone", "id_number", "email"):
        normalise = {
            "phone": pii.normalise_phone,
            "id_number": pii.normalise_id_number,
            "email": pii.normalise_email,
        }
        return identifier_type, pii.keyed_hash(KEY, normalise[identifier_type](value))
    return identifier_type, hashlib.sha256(f"{identifier_type}:{value}".encode()).hexdigest()


def precision_recall(mapping: dict, scenario: str) -> tuple[float, float]:
    """Exact pair precision and recall of one scenario's identifiers."""
    items = [(hashed(*identifier), person) for identifier, person in TRUTH[scenario].items()]
    missing = [key for key, _ in items if key not in mapping]
    assert not missing, f"{scenario}: {len(missing)} identifiers without a person, e.g. {missing[:3]}"

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    true_pairs = pairs(Counter(person for _, person in items))
    predicted = pairs(Counter(mapping[key] for key, _ in items))
    correct = pairs(Counter((person, mapping[key]) for key, person in items))
    return (correct / predicted if predicted else 1.0, correct / true_pairs if true_pairs else 1.0)


@pytest.fixture(scope="module")
def identity_runs(tmp_path_factory):
    layout = DataLayout.at(tmp_path_factory.mktemp("identity") / "data")
    layout.ensure()
    for day, rows in ((JAN10, jan10_rows()), (FEB20, feb20_rows()), (MAY10, may10_rows())):
        write_delivery(layout, day, rows)
        land_day(layout, day)
    write_delivery(layout, DAY1, day1_rows())
    land_day(layout, DAY1)
    dbt_build(layout, DAY1)
    day1 = person_map(layout)
    tags_day1 = tag_rows(layout)
    write_delivery(layout, DAY2, day2_rows())
    land_day(layout, DAY2)
    dbt_build(layout, DAY2)
    day2 = person_map(layout)
    rebuild = DataLayout.at(tmp_path_factory.mktemp("rebuild") / "data")
    rebuild.ensure()
    shutil.copytree(layout.raw, rebuild.raw, dirs_exist_ok=True)
    dbt_build(rebuild, DAY2)
    rebuilt = person_map(rebuild)
    # Day 2's data has arrived: tags recomputed as of day 1 must be exactly what day 1 gave.
    dbt_build(layout, DAY1)
    return {
        "layout": layout,
        "day1": day1,
        "day2": day2,
        "rebuilt": rebuilt,
        "tags_day1": tags_day1,
        "tags_day1_again": tag_rows(layout),
    }


@pytest.mark.parametrize(
    "scenario",
    ["star", "shared_device", "test_device", "junk", "crm_duplicate", "split", "hub", "merge",
     "recycled_phone", "recycled_phone_crm", "phone_in_transition", "corrected_id"],
)  # fmt: skip
def test_scenario_partition_is_exact(identity_runs, scenario):
    assert precision_recall(identity_runs["day2"], scenario) == (1.0, 1.0)


def test_identifier_added_later_with_first_sorting_hash_keeps_the_person_id(identity_runs):
    day1, day2 = identity_runs["day1"], identity_runs["day2"]
    assert precision_recall(day2, "late_identifier") == (1.0, 1.0)
    customer_key = hashed("customer_no", "C0801")
    assert day2[customer_key] == day1[customer_key]


def test_clean_rebuild_reproduces_every_person_id(identity_runs):
    assert identity_runs["rebuilt"] == identity_runs["day2"]


def test_merge_between_runs_is_logged_with_the_older_id_surviving(identity_runs):
    day1, day2, layout = identity_runs["day1"], identity_runs["day2"], identity_runs["layout"]
    customer_id = day1[hashed("customer_no", "C0901")]
    login_id = day1[hashed("login_id", "L0901")]
    assert customer_id != login_id
    assert day2[hashed("login_id", "L0901")] == customer_id  # the customer was seen first
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    changes = con.execute(
        "select old_person_id, new_person_id, change_reason, cast(as_of_date as varchar) "
        "from main_marts.identity_changes"
    ).fetchall()
    con.close()
    assert changes == [(login_id, customer_id, "merged", DAY2)]


def test_conflicts_report_hub_split_and_junk(identity_runs):
    con = duckdb.connect(str(identity_runs["layout"].warehouse_db), read_only=True)
    rows = con.execute(
        "select conflict_reason, identifier_type, identifier_hash, other_identifier_type, "
        "other_identifier_hash from main_marts.identity_conflicts"
    ).fetchall()
    con.close()
    reasons = {(r, t, h) for r, t, h, _, _ in rows}
    assert ("hub", *hashed("phone", phone(700))) in reasons
    assert ("junk_value", *hashed("phone", "13800138000")) in reasons
    assert ("junk_value", *hashed("login_id", "null")) in reasons
    # C0601's older link to the shared phone would join ID numbers 601 and 602: it is the one dropped
    splits = [(t, h, ot, oh) for r, t, h, ot, oh in rows if r == "unique_type_split"]
    assert splits == [(*hashed("customer_no", "C0601"), *hashed("phone", phone(601)))]


def test_crm_duplicates_list_both_customer_numbers(identity_runs):
    con = duckdb.connect(str(identity_runs["layout"].warehouse_db), read_only=True)
    rows = con.execute(
        "select customer_no, customer_numbers_of_person, is_surviving_record, shared_identifier_types "
        "from main_marts.crm_duplicates order by customer_no"
    ).fetchall()
    con.close()
    # each record has an e-mail of its own: only the phone is shared
    assert rows == [("C0501", 2, True, "phone"), ("C0502", 2, False, "phone")]


def person_id_of(anchor_type: str, anchor_hash: str, epoch: int = 0) -> str:
    suffix = f"#{epoch}" if epoch else ""
    return "P" + hashlib.sha256(f"{anchor_type}:{anchor_hash}{suffix}".encode()).hexdigest()[:16].upper()


def test_a_recycled_phone_starts_a_new_person_and_the_old_holder_keeps_its_id(identity_runs):
    day2 = identity_runs["day2"]
    old_holder = person_id_of(*hashed("id_number", id_number(910)))
    # the old holder: its ID number anchors it, its own login of January (linked only through the old
    # number) stays with it
    assert day2[hashed("customer_no", "C1001")] == old_holder
    assert day2[hashed("login_id", "LA1001")] == old_holder
    # the stranger is anchored on the number's second epoch (the phone sorts before the login at the
    # same time), so never on the old holder's id
    stranger = person_id_of(*hashed("phone", phone(1001)), epoch=1)
    assert day2[hashed("login_id", "L1001")] == stranger
    assert day2[hashed("phone", phone(1001))] == stranger
    assert day2[hashed("customer_no", "C1102")] != day2[hashed("customer_no", "C1101")]


def test_a_corrected_id_number_stays_with_its_customer_and_is_not_counted_twice(identity_runs):
    layout, day2 = identity_runs["layout"], identity_runs["day2"]
    person = day2[hashed("customer_no", "C1301")]
    # the January version's ID number anchors the person: the correction did not change its id
    assert person == person_id_of(*hashed("id_number", id_number(940)))
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    flags = dict(
        con.execute(
            "select identifier_hash, is_corrected from main_marts.person_identifiers "
            "where person_id = ? and identifier_type = 'id_number'",
            [person],
        ).fetchall()
    )
    counts = con.execute(
        "select id_number_count, identifier_count from main_marts.persons where person_id = ?", [person]
    ).fetchone()
    con.close()
    assert flags == {
        hashed("id_number", id_number(940))[1]: True,
        hashed("id_number", id_number(941))[1]: False,
    }
    assert counts == (1, 4)


def test_events_on_a_shared_device_go_to_the_person_logged_in_at_the_time(identity_runs):
    layout, day2 = identity_runs["layout"], identity_runs["day2"]
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    attributed = dict(
        con.execute(
            "select event_id, person_id from main_intermediate.int_events_attributed "
            "where anonymous_id = 'dev-0201'"
        ).fetchall()
    )
    excluded = con.execute(
        "select count(*) from main_staging.stg_tracking__events where anonymous_id = 'dev-qa' "
        "and exclusion_reason = 'test_device'"
    ).fetchone()[0]
    con.close()
    first, second = day2[hashed("login_id", "L0201")], day2[hashed("login_id", "L0202")]
    assert attributed == {"e0201": first, "e0202": first, "e0203": first, "e0204": second, "e0205": second}
    assert excluded == 200


def test_a_chain_of_ten_thousand_links_is_one_component_in_few_passes(tmp_path):
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    con = duckdb.connect(str(layout.warehouse_db))
    # a path over shuffled node ids, plus a separate pair
    con.execute("create table chain_nodes as select range as node from range(0, 10003)")
    con.execute(
        "create table chain_order as select range as position, "
        "row_number() over (order by hash(range * 7919)) - 1 as node from range(0, 10001)"
    )
    con.execute(
        "create table chain_edges as select a.node as a, b.node as b from chain_order as a "
        "join chain_order as b on b.position = a.position + 1 union all select 10001, 10002"
    )
    con.close()
    environment = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(layout.root),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run-operation", "cc_of_tables", "--args",
         "{nodes: chain_nodes, edges: chain_edges, output: chain_components}",
         "--target-path", str(layout.dbt_target), "--log-path", str(layout.logs / "dbt")],
        cwd=DBT_PROJECT_DIR, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    passes = int(result.stdout.split("connected components: ")[1].split(" passes")[0])
    assert 1 <= passes <= 30
    con = duckdb.connect(str(layout.warehouse_db), read_only=True)
    sizes = sorted(
        n for (n,) in con.execute("select count(*) from chain_components group by component").fetchall()
    )
    (logged_passes,) = con.execute("select distinct passes from chain_components").fetchone()
    con.close()
    assert sizes == [2, 10001]
    assert logged_passes == passes


def test_tags_as_of_a_day_do_not_change_when_later_data_arrives(identity_runs):
    before, after = identity_runs["tags_day1"], identity_runs["tags_day1_again"]
    persons_on_day1 = len(set(identity_runs["day1"].values()))
    assert [len(rows) for rows in before.values()] == [persons_on_day1] * 5
    assert after == before


def raw_rows(layout: DataLayout, source: str, table: str, column: str, value: str) -> int:
    """Rows of a raw table whose ``column`` is ``value``."""
    files = str(layout.raw_table(source, table) / "*" / "*.parquet")
    con = duckdb.connect()
    try:
        return con.execute(
            f"select count(*) from read_parquet(?, hive_partitioning = true, union_by_name = true) "
            f"where {column} = ?",
            [files, value],
        ).fetchone()[0]
    finally:
        con.close()


def test_a_deletion_request_by_a_reassigned_phone_is_held_and_erases_nobody(identity_runs, tmp_path):
    """C1001 gave up phone 1001 on FEB20, a stranger signed up with it on day 1 (a second epoch). The old
    holder asking to be erased by that number names two persons over time: the request is held with its
    reason and alerted, nobody is erased; filed again (same request id) by customer_no it erases the old
    holder only, and the stranger who holds the number now is untouched."""
    from orchestration.defs.privacy import erasure
    from orchestration.defs.privacy.step import honour_pending_requests

    shutil.copytree(identity_runs["layout"].root, tmp_path / "data")
    layout = DataLayout.at(tmp_path / "data")
    rules = load_business_rules()
    before = person_map(layout)
    old_holder = person_id_of(*hashed("id_number", id_number(910)))
    stranger = person_id_of(*hashed("phone", phone(1001)), epoch=1)
    assert before[hashed("phone", phone(1001))] == stranger  # the number is listed with its current holder
    counts = {
        "C1001": raw_rows(layout, "crm", "customers", "customer_no", "C1001"),
        "LA1001": raw_rows(layout, "tracking", "events", "login_id", "LA1001"),
        "L1001": raw_rows(layout, "tracking", "events", "login_id", "L1001"),
    }
    assert counts == {"C1001": 2, "LA1001": 1, "L1001": 1}

    # a number held by one person only resolves as before: C1001's new number names the old holder
    scope = erasure.resolve(
        layout, KEY, erasure.ErasureRequest("R0", "phone", phone(1002), datetime(2026, 6, 2, 9))
    )
    assert (scope.held_reason, scope.holders_over_time, scope.person_ids) == (None, 1, {old_holder})

    erasure.submit_request(layout, "phone", phone(1001), "DR-1", now=datetime(2026, 6, 2, 9))
    [held] = honour_pending_requests(layout, KEY, rules, now=datetime(2026, 6, 2, 10))
    reason = (
        "the number was reassigned: held by 2 persons over time; file the request with a second "
        "identifier such as customer_no or id_number"
    )
    assert (held["status"], held["status_reason"], held["persons_found"]) == ("held", reason, 2)
    assert (held["tombstones_written"], held["raw_rows_removed"], held["derived_rows_removed"]) == (0, 0, 0)
    assert not list(erasure.requests_dir(layout).glob("*.csv"))  # it held the number in the clear
    [logged] = erasure.read_log(layout)
    assert (logged["request_id"], logged["status"], logged["honoured_at"]) == ("DR-1", "held", None)
    assert logged["held_at"] == datetime(2026, 6, 2, 10)
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    assert [(a["kind"], a["summary"]) for a in alerts] == [
        ("erasure_held", f"deletion request DR-1 held, nobody erased: {reason}")
    ]
    assert phone(1001) not in layout.alerts_log.read_text()
    # nobody erased: every raw row and every person's identifiers as they were, no tombstone
    assert person_map(layout) == before
    assert {name: raw_rows(layout, *where) for name, where in (
        ("C1001", ("crm", "customers", "customer_no", "C1001")),
        ("LA1001", ("tracking", "events", "login_id", "LA1001")),
        ("L1001", ("tracking", "events", "login_id", "L1001")),
    )} == counts  # fmt: skip
    assert not load_tombstones(layout)

    # the same request, filed again by customer number: the old holder only
    erasure.submit_request(layout, "customer_no", "C1001", "DR-1", now=datetime(2026, 6, 2, 11))
    [honoured] = honour_pending_requests(layout, KEY, rules, now=datetime(2026, 6, 2, 12))
    assert (honoured["status"], honoured["persons_found"]) == ("honoured", 1)
    after = person_map(layout)
    assert old_holder not in after.values()
    for identifier in (("customer_no", "C1001"), ("login_id", "LA1001"), ("id_number", id_number(910)),
                       ("phone", phone(1002))):  # fmt: skip
        assert hashed(*identifier) not in after
    assert raw_rows(layout, "crm", "customers", "customer_no", "C1001") == 0
    assert raw_rows(layout, "tracking", "events", "login_id", "LA1001") == 0
    # the stranger: its login, the number and its raw event untouched, under the same person id
    assert after[hashed("login_id", "L1001")] == stranger
    assert after[hashed("phone", phone(1001))] == stranger
    assert raw_rows(layout, "tracking", "events", "login_id", "L1001") == 1
    assert {k: v for k, v in after.items() if v != old_holder} == {
        k: v for k, v in before.items() if v != old_holder
    }
    [logged] = erasure.read_log(layout)
    assert (logged["request_id"], logged["status"], logged["status_reason"]) == ("DR-1", "honoured", None)
