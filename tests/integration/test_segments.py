"""Segments on tiny purpose-built warehouses (no dbt run): operators, event conditions, consent,
suitability, versions and diffs, bounds, experiment split, exports; and the starter library on the demo."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from orchestration.defs.segments.compiler import DUCKDB, RuleCompiler
from orchestration.defs.segments.definition import Catalog, Segment, load_segments
from orchestration.defs.segments.versions import (
    current_members,
    evaluate,
    members_without_consent,
    preview_segment,
    publish_segment,
)
from tests.conftest import DEMO_END_DATE

pytestmark = pytest.mark.integration

CATALOG = Catalog.load()
AS_OF = date(2026, 6, 30)
PERSONS = [
    # person_id, lifecycle, value_tier, platform, aum, age, reg_date, hnw, risk, risk_expires, churn_warning
    ("P1", "dormant", "affluent", "ios", 400000.0, 30, "2026-06-20", False, "C4", "2027-01-01", False),
    ("P2", "dormant", "mass", "android", 1000.0, 45, "2026-01-10", False, "C2", "2027-01-01", True),
    ("P3", "mature", "high_net_worth", "web", 2000000.0, 52, None, True, "C4", "2026-06-29", False),
    ("P4", "growth", "no_holdings", "h5", 0.0, None, "2026-06-01", False, None, None, True),
    ("P5", "churned", "affluent", "ios", 350000.0, 61, "2025-12-31", False, "C5", "2028-01-01", False),
    ("P6", "introduction", "no_holdings", None, 0.0, 24, "2026-06-29", False, "C3", "2027-06-30", False),
]
EVENTS = [
    # person_id, event_name, event_date, client_time_ms, fund_code
    ("P1", "purchase", "2026-06-25", 1_000_000, "000001"),
    ("P1", "purchase", "2026-06-26", 2_000_000, "000002"),
    ("P2", "purchase", "2026-05-01", 3_000_000, "000001"),  # outside a 30-day window
    ("P3", "sign_up", "2026-06-01", 10 * 86_400_000, None),
    ("P3", "purchase", "2026-06-05", 14 * 86_400_000, "000001"),  # 4 days after signing up
    ("P4", "sign_up", "2026-06-01", 10 * 86_400_000, None),
    ("P4", "purchase", "2026-06-20", 29 * 86_400_000, "000001"),  # 19 days after
    ("P6", "purchase", "2026-06-29", 5_000_000, "000003"),
]


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list, suffix: str = "") -> None:
    """Insert many rows in a few multi-row statements (executemany runs one statement per row)."""
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        if not chunk:
            continue
        row = "(" + ", ".join("?" for _ in chunk[0]) + suffix + ")"
        con.execute(
            f"insert into {table} values " + ", ".join(row for _ in chunk),
            [value for values in chunk for value in values],
        )


def tiny_warehouse(path: Path, consents: dict[tuple[str, str], bool] | None = None, persons=PERSONS) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema main_marts; create schema main_intermediate")
    # persons quarantined by the persons gate: none here (tests/integration/test_person_quarantine.py)
    con.execute("create table main_marts.person_quarantine (person_id varchar, quarantine_reason varchar)")
    con.execute(
        "create table main_marts.person_profile (person_id varchar, lifecycle_stage varchar,"
        " value_tier varchar, main_platform varchar, aum_cny decimal(38, 2), age integer,"
        " registration_date date,"
        " is_high_net_worth boolean, risk_level varchar, risk_assessment_expires_on date,"
        " has_churn_warning boolean, as_of_date date)"
    )
    insert_rows(con, "main_marts.person_profile", persons, suffix=", date '2026-06-30'")
    con.execute(
        "create table main_intermediate.int_events_attributed (person_id varchar, event_name varchar,"
        " event_date date, client_time_ms bigint, fund_code varchar)"
    )
    con.executemany("insert into main_intermediate.int_events_attributed values (?, ?, ?, ?, ?)", EVENTS)
    con.execute(
        # person_key: the person's integer key (dbt's macro person_key reads the 16 hex digits of a real
        # person id; these short ids get their number)
        "create table main_intermediate.int_segment_events as select event_name, event_date, person_id,"
        " cast(substr(person_id, 2) as bigint) as person_key,"
        " client_time_ms from main_intermediate.int_events_attributed where person_id is not null"
    )
    con.execute(
        "create table main_intermediate.int_person_primary_customers (person_id varchar, customer_no varchar)"
    )
    insert_rows(
        con,
        "main_intermediate.int_person_primary_customers",
        [(row[0], f"C{row[0][1:]}") for row in persons if row[0] != "P6"],  # P6: app-only, no CRM record
    )
    con.execute(
        "create table main_intermediate.int_person_consents"
        " (person_id varchar, channel varchar, is_consented boolean)"
    )
    everyone = {
        (row[0], channel): True for row in persons for channel in ("sms", "phone", "app_push", "wechat")
    }
    rows = [(p, c, granted) for (p, c), granted in {**everyone, **(consents or {})}.items()]
    insert_rows(con, "main_intermediate.int_person_consents", rows)
    # what segment queries read: the dbt model segment_persons (its unit test pins the same rules)
    channels = CATALOG.consent_channels
    con.execute(
        "create table main_marts.segment_persons as select profile.*,"
        " cast(substr(profile.person_id, 2) as bigint) as person_key, customers.customer_no, "
        + ", ".join(
            f"coalesce(bool_or(consents.channel = '{channel}' and consents.is_consented), false)"
            f" as is_{channel}_consented"
            for channel in channels
        )
        + " from main_marts.person_profile as profile"
        " left join main_intermediate.int_person_primary_customers as customers using (person_id)"
        " left join main_intermediate.int_person_consents as consents using (person_id)"
        " group by all"
    )
    con.close()
    return path


def segment(rule: dict, **fields) -> Segment:
    defaults = dict(
        name="probe", owner="t", description="t", purpose="compliance", channel=None,
        promoted_product_risk=None, refresh="daily", size_min=0, size_max=None, max_change=None,
        split={}, rule=rule,
    )  # fmt: skip
    return Segment(**{**defaults, **fields})


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return tiny_warehouse(tmp_path_factory.mktemp("segments") / "warehouse.duckdb")


def members(warehouse: Path, rule: dict, **fields) -> list[str]:
    """Everyone the rule matches (before the exclusions: P6 has no customer number to export)."""
    return [row[0] for row in evaluate(warehouse, segment(rule, **fields), CATALOG, AS_OF).rows]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"tag": "lifecycle_stage", "op": "=", "value": "dormant"}, ["P1", "P2"]),
        ({"tag": "lifecycle_stage", "op": "!=", "value": "dormant"}, ["P3", "P4", "P5", "P6"]),
        ({"tag": "value_tier", "op": "in", "value": ["affluent", "high_net_worth"]}, ["P1", "P3", "P5"]),
        ({"tag": "value_tier", "op": "not in", "value": ["affluent", "high_net_worth"]}, ["P2", "P4", "P6"]),
        ({"tag": "age", "op": "between", "value": [30, 52]}, ["P1", "P2", "P3"]),
        ({"tag": "aum_cny", "op": ">=", "value": 1000000}, ["P3"]),
        ({"tag": "aum_cny", "op": "<=", "value": 1000}, ["P2", "P4", "P6"]),
        ({"tag": "age", "op": "is null"}, ["P4"]),
        ({"tag": "main_platform", "op": "is not null"}, ["P1", "P2", "P3", "P4", "P5"]),
        ({"tag": "registration_date", "op": ">=", "value": "-10d"}, ["P1", "P6"]),
        ({"tag": "registration_date", "op": "<=", "value": "2026-01-10"}, ["P2", "P5"]),
        ({"tag": "is_high_net_worth", "op": "=", "value": True}, ["P3"]),
        ({"all": [{"tag": "lifecycle_stage", "op": "=", "value": "dormant"},
                  {"tag": "has_churn_warning", "op": "=", "value": True}]}, ["P2"]),
        ({"any": [{"tag": "aum_cny", "op": ">=", "value": 1000000}, {"tag": "age", "op": "is null"}]},
         ["P3", "P4"]),
        # a condition on a missing value is unknown: "not" does not select P4 (age null) as "not over 40"
        ({"not": {"tag": "age", "op": ">=", "value": 40}}, ["P1", "P4", "P6"]),
    ],
)  # fmt: skip
def test_tag_operators(warehouse, rule, expected):
    assert members(warehouse, rule) == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"event": "purchase", "last_days": 30}, ["P1", "P3", "P4", "P6"]),
        ({"event": "purchase", "at_least": 2, "last_days": 30}, ["P1"]),
        ({"event": "purchase", "last_days": 90, "where": {"fund_code": "000001"}}, ["P1", "P2", "P3", "P4"]),
        ({"event": "purchase", "did": False, "last_days": 30}, ["P2", "P5"]),
        ({"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 60}, ["P3"]),
        ({"sequence": ["sign_up", "purchase"], "within_days": 30, "last_days": 60}, ["P3", "P4"]),
        ({"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 60, "did": False},
         ["P1", "P2", "P4", "P5", "P6"]),
    ],
)  # fmt: skip
def test_event_conditions(warehouse, rule, expected):
    assert members(warehouse, rule) == expected


@pytest.mark.parametrize(
    ("rule", "relations"),
    [
        ({"event": "purchase", "last_days": 30}, {"e": "int_segment_events"}),
        ({"event": "purchase", "last_days": 30, "where": {"fund_code": "000001"}},
         {"e": "int_events_attributed"}),
        ({"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 60},
         {"a": "int_segment_events", "b": "int_segment_events"}),
        # `where` filters the first event only: the second still reads the narrow table
        ({"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 60,
          "where": {"platform": "ios"}},
         {"a": "int_events_attributed", "b": "int_segment_events"}),
    ],
)  # fmt: skip
def test_event_rules_read_the_sorted_narrow_events_unless_they_filter_on_properties(rule, relations):
    tree = RuleCompiler(CATALOG, DUCKDB, AS_OF).compile(rule)
    read = {table.alias: table.name for table in tree.find_all(exp.Table)}
    assert read == relations
    assert {table.db for table in tree.find_all(exp.Table)} == {"main_intermediate"}
    # a sequence joins the person's two events on the integer key when both read the narrow table
    join_keys = {column.name for join in tree.find_all(exp.Join) for column in join.find_all(exp.Column)}
    assert join_keys == (
        {"person_key"}
        if relations.get("a") == "int_segment_events"
        else {"person_id"}
        if "a" in relations
        else set()
    )
    # the profile's person is looked up among the events' persons by the same column: the integer key
    # when the first (or only) event reads the narrow table, the person id from int_events_attributed
    (membership,) = (test for test in tree.find_all(exp.In) if test.this.table == "profile")
    first = relations.get("e") or relations["a"]
    key = "person_key" if first == "int_segment_events" else "person_id"
    assert (membership.this.table, membership.this.name) == ("profile", key)
    assert [column.name for column in membership.args["query"].this.expressions] == [key]


def test_marketing_keeps_only_consent_for_its_own_channel(tmp_path):
    path = tiny_warehouse(
        tmp_path / "w.duckdb", consents={("P1", "sms"): False, ("P2", "phone"): False, ("P3", "sms"): None}
    )
    everyone = {"tag": "lifecycle_stage", "op": "is not null"}
    sms = evaluate(path, segment(everyone, purpose="marketing", channel="sms"), CATALOG, AS_OF)
    assert [row[0] for row in sms.members] == ["P2", "P4", "P5"]
    # P1 withdrew sms, P3's sms consent is unknown (null), P6 has no customer number to export
    assert sms.excluded() == {"quarantined": 0, "no_consent": 2, "unsuitable": 0, "no_customer_number": 1}
    phone = evaluate(path, segment(everyone, purpose="marketing", channel="phone"), CATALOG, AS_OF)
    assert [row[0] for row in phone.members] == ["P1", "P3", "P4", "P5"]


def test_suitability_excludes_lower_tolerance_expired_and_unknown(warehouse):
    evaluation = evaluate(
        warehouse, segment({"tag": "lifecycle_stage", "op": "is not null"}, promoted_product_risk="R4"),
        CATALOG, AS_OF,
    )  # fmt: skip
    # P2 is C2, P3's assessment expired yesterday, P4 has none, P6 is C3: only P1 (C4) and P5 (C5) remain
    assert [row[0] for row in evaluation.members] == ["P1", "P5"]
    assert evaluation.excluded()["unsuitable"] == 4


def test_three_versions_record_entered_and_exited_members(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    definition = segment(
        {"tag": "lifecycle_stage", "op": "in", "value": ["dormant", "churned"]}, name="winback"
    )
    outcomes = []
    for stages in (("dormant",), ("dormant", "churned"), ("churned",)):
        rule = {"tag": "lifecycle_stage", "op": "in", "value": list(stages)}
        path = tiny_warehouse(tmp_path / f"{len(outcomes)}.duckdb")
        evaluation = evaluate(path, segment(rule, name="winback"), CATALOG, AS_OF)
        outcomes.append(publish_segment(store, outbox, evaluation))
    assert [(o.version, o.size, o.entered, o.exited) for o in outcomes] == [
        (1, 2, 2, 0),
        (2, 3, 1, 0),
        (3, 1, 0, 2),
    ]
    con = duckdb.connect(str(store), read_only=True)
    diffs = con.execute("select version, person_id, change from segment_diffs order by all").fetchall()
    con.close()
    assert diffs == [(1, "P1", "entered"), (1, "P2", "entered"), (2, "P5", "entered"),
                     (3, "P1", "exited"), (3, "P2", "exited")]  # fmt: skip
    assert current_members(store, definition.name) == (3, {"P5": "C5"})
    assert sorted(p.name for p in (outbox / "segments" / "winback").iterdir()) == ["v0001", "v0002", "v0003"]


def test_size_and_change_bounds_block_and_keep_the_last_good_version(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    path = tiny_warehouse(tmp_path / "w.duckdb")
    dormant = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}
    first = publish_segment(
        store, outbox, evaluate(path, segment(dormant, name="s", max_change=0.5), CATALOG, AS_OF)
    )
    assert (first.status, first.version) == ("published", 1)
    everyone = {"tag": "lifecycle_stage", "op": "is not null"}
    too_big = publish_segment(
        store, outbox, evaluate(path, segment(everyone, name="s", size_max=4), CATALOG, AS_OF)
    )
    too_fast = publish_segment(
        store, outbox, evaluate(path, segment(everyone, name="s", max_change=0.5), CATALOG, AS_OF)
    )
    assert (too_big.status, too_big.reason) == ("blocked", "size 5 outside its bounds [0, 4]")
    assert too_fast.status == "blocked" and "exceeds max_change 50%" in too_fast.reason
    assert current_members(store, "s") == (1, {"P1": "C1", "P2": "C2"})
    assert sorted(p.name for p in (outbox / "segments" / "s").iterdir()) == ["v0001"]
    con = duckdb.connect(str(store), read_only=True)
    statuses = con.execute("select status, version from segment_versions order by published_at").fetchall()
    con.close()
    assert statuses == [("published", 1), ("blocked", None), ("blocked", None)]


def bucket(segment_name: str, person_id: str) -> int:
    return int(hashlib.sha256(f"{segment_name}:{person_id}".encode()).hexdigest()[:8], 16) % 10000


def test_only_members_get_an_experiment_group(tmp_path):
    path = tiny_warehouse(tmp_path / "w.duckdb", consents={("P1", "sms"): False})
    everyone = {"tag": "lifecycle_stage", "op": "is not null"}
    split = {"test": 0.5, "control": 0.5}
    evaluation = evaluate(
        path, segment(everyone, purpose="marketing", channel="sms", split=split), CATALOG, AS_OF
    )
    groups = {row[0]: (row[5], row[6]) for row in evaluation.rows}
    # P1 withdrew sms, P6 has no customer number: matched, excluded, in no group
    assert groups["P1"] == ("no_consent", None) and groups["P6"] == ("no_customer_number", None)
    assert {reason for reason, group in groups.values() if group is not None} == {None}
    assert sum(evaluation.preview()["split"].values()) == 4


def test_experiment_split_is_deterministic_stable_and_proportional(tmp_path):
    persons = [(f"Q{i:05d}", "dormant", "mass", "ios", 1.0, 30, None, False, "C3", "2027-01-01", False)
               for i in range(4000)]  # fmt: skip
    path = tiny_warehouse(tmp_path / "w.duckdb", persons=persons)
    split = {"test": 0.45, "control": 0.45, "holdout": 0.1}
    rule = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}
    first = {
        row[0]: row[6]
        for row in evaluate(path, segment(rule, name="exp", split=split), CATALOG, AS_OF).members
    }
    again = {
        row[0]: row[6]
        for row in evaluate(path, segment(rule, name="exp", split=split), CATALOG, AS_OF).members
    }
    assert first == again
    expected = {
        person: "test"
        if bucket("exp", person) < 4500
        else "control"
        if bucket("exp", person) < 9000
        else "holdout"
        for person in first
    }
    assert first == expected  # the SQL bucket is sha256(segment:person_id)[:8] mod 10000, as in Python
    shares = {group: sum(1 for g in first.values() if g == group) / len(first) for group in split}
    assert abs(shares["test"] - 0.45) < 0.03 and abs(shares["control"] - 0.45) < 0.03
    assert abs(shares["holdout"] - 0.10) < 0.02
    # another segment splits the same persons independently
    other = {
        row[0]: row[6]
        for row in evaluate(path, segment(rule, name="exp2", split=split), CATALOG, AS_OF).members
    }
    assert sum(1 for p in first if first[p] == other[p]) < 0.6 * len(first)


def test_exports_hold_customer_numbers_and_groups_only(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    path = tiny_warehouse(tmp_path / "w.duckdb")
    rule = {"tag": "lifecycle_stage", "op": "is not null"}
    outcome = publish_segment(
        store, outbox, evaluate(path, segment(rule, name="all_people", split={"test": 0.5, "control": 0.5}),
                                CATALOG, AS_OF),
    )  # fmt: skip
    with (outcome.export_dir / "members.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["customer_no", "split_group"]
    assert sorted(row[0] for row in rows[1:]) == ["C1", "C2", "C3", "C4", "C5"]
    parquet = duckdb.sql(f"select * from read_parquet('{outcome.export_dir / 'members.parquet'}')")
    assert parquet.columns == ["customer_no", "split_group"]
    manifest = json.loads((outcome.export_dir / "manifest.json").read_text())
    assert manifest["size"] == 5 and manifest["excluded"]["no_customer_number"] == 1
    assert (
        manifest["files"]["members.csv"]
        == hashlib.sha256((outcome.export_dir / "members.csv").read_bytes()).hexdigest()
    )


PERSONAL = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|(?<!\d)\d{17}[\dXx](?!\d)|[\w.+-]+@[\w-]+\.[\w.]+")


def test_starter_segments_published_on_the_demo_build_with_consent_and_no_personal_data(built_warehouse):
    layout = built_warehouse.layout
    segments = load_segments()
    published = {}
    for definition in segments:
        version, members_ = current_members(layout.segments_db, definition.name)
        assert version == 2, definition.name  # the earlier and the final build each published one
        published[definition.name] = members_
    assert members_without_consent(layout.segments_db, layout.warehouse_db, segments) == 0
    assert sum(len(m) for m in published.values()) > 20
    checks = {e.check_name: e.passed for e in built_warehouse.build_result.get_asset_check_evaluations()}
    assert checks["segment_members_have_consent"] is True
    exports = list((layout.outbox / "segments").rglob("members.csv"))
    assert len(exports) == 2 * len(segments)
    for export in exports:
        text = export.read_text()
        assert text.splitlines()[0] == "customer_no,split_group"
        assert not PERSONAL.search(text), export
    analytics = duckdb.connect(str(layout.analytics_db), read_only=True)
    (versions,) = analytics.execute(
        "select count(*) from segment_versions where status = 'published'"
    ).fetchone()
    columns = [c[0] for c in analytics.execute("describe segment_members").fetchall()]
    analytics.close()
    assert versions == 2 * len(segments)
    assert "customer_no" not in columns


def test_a_rerun_for_an_earlier_date_never_replaces_a_newer_version(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    path = tiny_warehouse(tmp_path / "w.duckdb")
    rule = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}
    assert (
        publish_segment(store, outbox, evaluate(path, segment(rule, name="s"), CATALOG, AS_OF)).version == 1
    )
    earlier = publish_segment(
        store, outbox, evaluate(path, segment(rule, name="s"), CATALOG, date(2026, 6, 20))
    )
    assert (earlier.status, earlier.version) == ("skipped", None)
    assert "later than 2026-06-20" in earlier.reason
    assert current_members(store, "s") == (1, {"P1": "C1", "P2": "C2"})


def test_the_consent_check_counts_current_members_who_no_longer_consent(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    dormant = segment({"tag": "lifecycle_stage", "op": "=", "value": "dormant"}, purpose="marketing",
                      channel="sms", name="s")  # fmt: skip
    published = tiny_warehouse(tmp_path / "published.duckdb")
    assert publish_segment(store, outbox, evaluate(published, dormant, CATALOG, AS_OF)).version == 1
    assert members_without_consent(store, published, [dormant]) == 0
    # the warehouse, rebuilt for the same date, now knows that P1 withdrew sms (P2's phone does not matter)
    withdrawn = tiny_warehouse(
        tmp_path / "withdrawn.duckdb", consents={("P1", "sms"): False, ("P2", "phone"): False}
    )
    assert members_without_consent(store, withdrawn, [dormant]) == 1
    # a compliance segment needs no consent
    review = segment(dormant.rule, name="s")
    assert members_without_consent(store, withdrawn, [review]) == 0


def test_the_grouped_preview_equals_counting_every_fetched_match(built_warehouse):
    """The CLI's preview counts in DuckDB; it must give exactly what fetching the matches gives, split
    groups and breakdown order included, for every starter segment."""
    layout = built_warehouse.layout
    as_of = date.fromisoformat(DEMO_END_DATE)
    nonempty = 0
    for definition in load_segments():
        fetched = evaluate(layout.warehouse_db, definition, CATALOG, as_of).preview()
        grouped = preview_segment(layout.warehouse_db, definition, CATALOG, as_of)
        assert json.dumps(grouped) == json.dumps(fetched), definition.name
        nonempty += fetched["size"] > 0
    assert nonempty >= 5
