"""The persons gate's whole-table rules after the per-person quarantine (docs/quality.md): the share of
quarantined persons is judged only beyond a free count (a small company's single anomaly does not block
everyone), and one quarantined person holding many CRM customer numbers (an over-merge that swallowed
part of the population) fails the whole table, while a legitimate long chain on one customer number is
only quarantined.

Each case is a tiny purpose-made warehouse holding only the four marts the metric query reads, run
through the committed metric query and suite with the project's rules (or rules changed for the case)."""

from __future__ import annotations

import copy

import duckdb

from orchestration.defs.quality.gx_runner import validate_frame
from orchestration.defs.quality.suites import discover_suites, metric_frame
from orchestration.lib.rules import load_business_rules

SUITE = {suite.name: suite for suite in discover_suites()}["persons"]
AS_OF = "2026-06-30"


def build_warehouse(path, persons: int, quarantined: dict[str, tuple[int, int]]) -> None:
    """``persons`` persons P0001.. with one customer number and two identifiers each; the persons named
    in ``quarantined`` are in person_quarantine with (customer numbers, identifiers) of their own."""
    con = duckdb.connect(str(path))
    con.execute("create schema main_marts")
    con.execute(
        "create table main_marts.persons as select 'P' || lpad(cast(i as varchar), 4, '0') as person_id,"
        " 1 as customer_no_count, 2 as identifier_count from range(1, $persons + 1) as r (i)",
        {"persons": persons},
    )
    con.execute(
        "create table main_marts.person_identifiers as"
        " select person_id, t.identifier_type, sha256(person_id || t.identifier_type) as identifier_hash,"
        " false as is_corrected from main_marts.persons,"
        " (values ('customer_no'), ('login_id')) as t (identifier_type)"
    )
    con.execute("create table main_marts.person_quarantine (person_id varchar, quarantine_reason varchar)")
    for person, (customer_numbers, identifiers) in quarantined.items():
        con.execute(
            "update main_marts.persons set customer_no_count = ?, identifier_count = ? where person_id = ?",
            [customer_numbers, identifiers, person],
        )
        con.execute("delete from main_marts.person_identifiers where person_id = ?", [person])
        con.execute(
            "insert into main_marts.person_identifiers select ?,"
            " case when i <= ? then 'customer_no' else 'login_id' end, sha256(? || cast(i as varchar)), false"
            " from range(1, ? + 1) as r (i)",
            [person, customer_numbers, person, identifiers],
        )
        con.execute("insert into main_marts.person_quarantine values (?, 'oversized_identity')", [person])
    con.execute(
        "create table main_marts.identity_conflicts (conflict_reason varchar, identifier_hash varchar)"
    )
    con.close()


def rules_with(**persons) -> dict:
    rules = copy.deepcopy(load_business_rules())
    rules["quality"]["persons"].update(persons)
    return rules


def judge(path, rules: dict | None = None) -> tuple[dict, dict]:
    """(the metric row, {failed column: unexpected count})."""
    rules = rules or load_business_rules()
    frame = metric_frame(path, SUITE, AS_OF, rules)
    outcome = validate_frame(SUITE.path, frame, parameters=rules)
    failed = {item.column: item.unexpected_count for item in outcome.expectations if not item.success}
    return frame.iloc[0].to_dict(), failed


def test_the_defaults_are_the_documented_ones():
    persons = load_business_rules()["quality"]["persons"]
    assert persons["max_quarantined_free_persons"] == 3
    assert persons["max_customer_numbers_per_quarantined_person"] == 10
    assert persons["max_quarantined_share"] == 0.05


def test_one_quarantined_person_among_19_publishes_the_others(tmp_path):
    # 1 of 19 is 5.3 % (above 0.05) but within the free count of 3: the gate passes
    build_warehouse(tmp_path / "w.duckdb", 19, {"P0007": (1, 60)})
    metrics, failed = judge(tmp_path / "w.duckdb")
    assert failed == {}
    assert metrics["quarantined_persons"] == 1
    assert round(metrics["quarantined_share"], 4) == round(1 / 19, 4)
    assert metrics["judged_quarantined_share"] == 0.0
    assert metrics["max_customer_numbers_per_quarantined_person"] == 1


def test_beyond_the_free_count_the_share_fails_a_small_company(tmp_path):
    three = {f"P000{i}": (1, 60) for i in (1, 2, 3)}
    build_warehouse(tmp_path / "three.duckdb", 19, three)
    metrics, failed = judge(tmp_path / "three.duckdb")
    assert (failed, metrics["judged_quarantined_share"]) == ({}, 0.0)  # 3 of 19 (15.8 %): still free
    four = {**three, "P0004": (1, 60)}
    build_warehouse(tmp_path / "four.duckdb", 19, four)
    metrics, failed = judge(tmp_path / "four.duckdb")
    assert failed == {"judged_quarantined_share": 1}  # 4 of 19 (21 %) > 0.05 and 4 > 3
    assert round(metrics["judged_quarantined_share"], 4) == round(4 / 19, 4)
    # the same 4 among 200 persons are 2 %: within the share
    build_warehouse(tmp_path / "large.duckdb", 200, four)
    assert judge(tmp_path / "large.duckdb")[1] == {}
    # with no free count, one anomaly among 19 blocks again (the rule before the free count)
    build_warehouse(tmp_path / "one.duckdb", 19, {"P0007": (1, 60)})
    assert judge(tmp_path / "one.duckdb", rules_with(max_quarantined_free_persons=0))[1] == {
        "judged_quarantined_share": 1
    }


def test_the_absolute_count_cap_still_applies(tmp_path):
    quarantined = {f"P{i:04d}": (1, 60) for i in range(1, 6)}
    build_warehouse(tmp_path / "w.duckdb", 1000, quarantined)
    assert judge(tmp_path / "w.duckdb", rules_with(max_quarantined_persons=5))[1] == {}
    assert judge(tmp_path / "w.duckdb", rules_with(max_quarantined_persons=4))[1] == {
        "quarantined_persons": 1
    }


def test_one_quarantined_person_holding_many_customer_numbers_fails_the_whole_table(tmp_path):
    # a single over-merged person swallowed 400 of 1,000 customers: 1 quarantined person, within every
    # count and share cap, but the gate must block
    build_warehouse(tmp_path / "w.duckdb", 601, {"P0001": (400, 450)})
    metrics, failed = judge(tmp_path / "w.duckdb")
    assert metrics["quarantined_persons"] == 1
    assert metrics["judged_quarantined_share"] == 0.0
    assert metrics["max_customer_numbers_per_quarantined_person"] == 400
    assert failed == {"max_customer_numbers_per_quarantined_person": 1}
    # exactly at the limit passes, one over fails
    build_warehouse(tmp_path / "ten.duckdb", 100, {"P0001": (10, 60)})
    assert judge(tmp_path / "ten.duckdb")[1] == {}
    build_warehouse(tmp_path / "eleven.duckdb", 100, {"P0001": (11, 60)})
    assert judge(tmp_path / "eleven.duckdb")[1] == {"max_customer_numbers_per_quarantined_person": 1}


def test_a_legitimate_chain_of_50001_identifiers_on_one_customer_number_is_only_quarantined(tmp_path):
    build_warehouse(tmp_path / "w.duckdb", 40, {"P0001": (1, 50_001)})
    metrics, failed = judge(tmp_path / "w.duckdb")
    assert failed == {}
    assert metrics["quarantined_persons"] == 1
    assert metrics["max_customer_numbers_per_quarantined_person"] == 1
    assert metrics["max_identifiers_per_person"] == 2  # the others: the chain is not judged among them
