"""Blast radius of the persons gate (docs/quality.md): persons failing a per-person rule are quarantined
(person_quarantine), left out of every segment, listed under published ids and alerted; the others publish;
a failure of the whole table (beyond the caps, an empty graph) still blocks.

Cheap tests run on a copy of the shared demo build with person_quarantine rebuilt through dbt ``--vars``
at a lower identifier limit; one test loads a company with a real chain of 3,003 identifiers (1,500 logins
and 1,501 phones linked by login events, plus a CRM record) through the whole pipeline."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.quality.checks import run_quality_check
from orchestration.defs.resources import FundcdpSettings
from orchestration.lib import pii
from orchestration.lib.layout import DataLayout
from orchestration.lib.quality.gx_runner import validate_frame
from orchestration.lib.quality.results import latest_suite_results
from orchestration.lib.quality.suites import discover_suites, metric_frame
from orchestration.lib.rules import load_business_rules
from orchestration.paths import DBT_PROJECT_DIR
from tests.conftest import (
    DEMO_END_DATE,
    generate_demo,
    pipeline_environment,
    temp_instance,
)
from tests.landing_builder import event
from tests.security.test_reidentification import ordered_by_published_ids

pytestmark = pytest.mark.integration

AS_OF = DEMO_END_DATE
PERSONS_SUITE = next(suite for suite in discover_suites() if suite.name == "persons")
# The lowered limit of the cheap tests: the demo's persons have at most about ten identifiers, and those
# above 7 include members of the starter segments.
LOW_LIMIT = 7


def rules_with(**persons) -> dict:
    """The project's business rules with ``quality.persons`` keys replaced."""
    rules = copy.deepcopy(load_business_rules())
    rules["quality"]["persons"].update(persons)
    return rules


def dbt_run_quarantine(layout: DataLayout, rules: dict) -> None:
    """Rebuild person_quarantine in ``layout``'s warehouse with ``rules`` as the vars fundcdp block."""
    variables = json.dumps({"as_of_date": AS_OF, "fundcdp": rules})
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", "person_quarantine",
         "--vars", variables, "--target-path", str(layout.root / "target"),
         "--log-path", str(layout.root / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "FUNDCDP_DATA_DIR": str(layout.root), "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]


def copy_data(source: DataLayout, target: Path) -> DataLayout:
    shutil.copytree(source.root, target, ignore=shutil.ignore_patterns("dagster_home"))
    layout = DataLayout.at(target)
    layout.ensure()
    return layout


def query(path: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, parameters).fetchall()
    finally:
        con.close()


def current_members(segments_db: Path) -> dict[str, set[str]]:
    """Each segment's members in its latest published version."""
    rows = query(
        segments_db,
        "select m.segment, m.person_id from segment_members m join (select segment, max(version) as version"
        " from segment_versions where status = 'published' group by 1) c using (segment, version)",
    )
    members: dict[str, set[str]] = {segment: set() for segment in latest_versions(segments_db)}
    for segment, person in rows:
        members.setdefault(segment, set()).add(person)
    return members


def latest_versions(segments_db: Path) -> dict[str, tuple]:
    """Each segment's latest published version: (version, size, excluded_quarantined)."""
    rows = query(
        segments_db,
        "select segment, version, size, excluded_quarantined from segment_versions where status = 'published'"
        " qualify row_number() over (partition by segment order by version desc) = 1",
    )
    return {segment: (version, size, quarantined) for segment, version, size, quarantined in rows}


def alert_lines(layout: DataLayout, kind: str) -> list[dict]:
    if not layout.alerts_log.exists():
        return []
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    return [alert for alert in alerts if alert["kind"] == kind]


def published_id(layout: DataLayout, person_id: str) -> str:
    (row,) = query(layout.private_db, "select published_id from published_person_ids where person_id = ?",
                   [person_id])  # fmt: skip
    return row[0]


@pytest.fixture(scope="module")
def lowered(built_warehouse, tmp_path_factory) -> dict:
    """A copy of the demo build whose person_quarantine was rebuilt with the identifier limit lowered to
    LOW_LIMIT (and the share cap raised to 1.0), before its segments were evaluated again."""
    layout = copy_data(built_warehouse.layout, tmp_path_factory.mktemp("quarantine") / "data")
    before = current_members(layout.segments_db)
    rules = rules_with(max_identifiers_per_person=LOW_LIMIT, max_quarantined_share=1.0)
    dbt_run_quarantine(layout, rules)
    expected = dict(
        query(
            layout.warehouse_db,
            "select person_id, identifier_count from main_marts.persons where identifier_count > ?",
            [LOW_LIMIT],
        )  # fmt: skip
    )
    return {"layout": layout, "rules": rules, "before": before, "expected": expected}


def test_persons_above_the_lowered_limit_are_quarantined_with_their_reason(lowered):
    layout, expected = lowered["layout"], lowered["expected"]
    rows = query(
        layout.warehouse_db,
        "select person_id, quarantine_reason, identifier_count, detail, as_of_date"
        " from main_marts.person_quarantine order by person_id",
    )
    assert 1 <= len(expected) < 100  # the demo: a few persons above 7 identifiers
    assert rows == [
        (
            person,
            "oversized_identity",
            count,
            f"{count} identifiers in one person; at most {LOW_LIMIT} "
            "(quality.persons.max_identifiers_per_person)",
            date.fromisoformat(AS_OF),
        )
        for person, count in sorted(expected.items())
    ]
    # the default limit (50) quarantines nobody in the demo build
    assert (
        query(lowered["layout"].warehouse_db, "select max(identifier_count) from main_marts.persons")[0][0]
        <= load_business_rules()["quality"]["persons"]["max_identifiers_per_person"]
    )


def test_the_gate_passes_alerts_once_and_the_rest_publishes_without_them_in_any_segment(lowered, tmp_path):
    from orchestration.defs.publish.assets import analytics
    from orchestration.defs.segments.assets import segments

    layout, rules, expected, before = (lowered[k] for k in ("layout", "rules", "expected", "before"))
    settings = FundcdpSettings(data_dir=str(layout.root), as_of_date=AS_OF)
    result = run_quality_check(
        PERSONS_SUITE, settings, "run-quarantine", as_of_date=date.fromisoformat(AS_OF), rules=rules
    )
    assert result.passed
    assert result.metadata["quarantined_persons"].value == len(expected)
    assert result.metadata["quarantine_reasons"].value == {"oversized_identity": len(expected)}
    (warning,) = alert_lines(layout, "persons_quarantined")
    noun = "person" if len(expected) == 1 else "persons"
    assert warning["summary"] == (
        f"{len(expected)} {noun} quarantined (oversized_identity ({len(expected)})): left out of every "
        "segment, listed in person_quarantine; the others publish"
    )
    assert warning["details"] == {
        "quarantined_persons": len(expected),
        "reasons": {"oversized_identity": len(expected)},
    }
    assert (warning["asset"], warning["partition"], warning["run_id"]) == (
        "marts/persons", AS_OF, "run-quarantine"
    )  # fmt: skip
    assert latest_suite_results(layout.quality_db, AS_OF)["persons"] is True

    outcome = dg.materialize(
        [analytics, segments], partition_key=AS_OF, resources={"settings": settings}, raise_on_error=False
    )
    assert outcome.success
    # stewards and analysts: the quarantined persons under their published ids, no warehouse id
    published = query(
        layout.analytics_db,
        "select person_id, quarantine_reason, identifier_count from person_quarantine order by 1",
    )
    assert published == sorted(
        (published_id(layout, person), "oversized_identity", count) for person, count in expected.items()
    )
    assert not {row[0] for row in published} & set(expected)
    con = duckdb.connect(str(layout.analytics_db), read_only=True)
    try:
        stored, ordered = ordered_by_published_ids(con, "person_quarantine")
    finally:
        con.close()
    assert stored == ordered and len(stored) == len(expected)  # row order says nothing of warehouse ids
    # the others publish: everyone else stays where they were, the quarantined are in no segment
    after = current_members(layout.segments_db)
    assert set(after) == set(before)
    for segment, members in after.items():
        assert members == before[segment] - set(expected), segment
    versions = latest_versions(layout.segments_db)
    excluded = {segment: versions[segment][2] for segment in versions}
    assert excluded == {segment: len(before[segment] & set(expected)) for segment in versions}
    assert sum(excluded.values()) > 0  # some quarantined persons were members before
    manifest = json.loads(
        next(
            (
                layout.outbox / "segments" / segment / f"v{versions[segment][0]:04d}" / "manifest.json"
            ).read_text()
            for segment in versions
            if excluded[segment]
        )
    )
    assert manifest["excluded"]["quarantined"] == excluded[manifest["segment"]]


def test_beyond_either_cap_the_gate_fails_and_publishing_is_blocked(lowered, tmp_path):
    from orchestration.defs.publish.assets import analytics

    source, expected = lowered["layout"], lowered["expected"]
    layout = copy_data(source, tmp_path / "data")
    quarantined = len(expected)
    (persons,) = query(layout.warehouse_db, "select count(*) from main_marts.persons")[0]

    def failing(rules: dict) -> dict:
        frame = metric_frame(layout.warehouse_db, PERSONS_SUITE, AS_OF, rules)
        outcome = validate_frame(PERSONS_SUITE.path, frame, parameters=rules)
        return {item.column: item.unexpected_count for item in outcome.expectations if not item.success}

    base = {"max_identifiers_per_person": LOW_LIMIT, "max_quarantined_share": 1.0}
    assert failing(rules_with(**base, max_quarantined_persons=quarantined)) == {}
    assert failing(rules_with(**base, max_quarantined_persons=quarantined - 1)) == {"quarantined_persons": 1}
    # the share is judged only beyond the free count of quarantined persons
    share = {**base, "max_quarantined_share": (quarantined - 1) / persons}
    assert failing(rules_with(**share, max_quarantined_free_persons=quarantined - 1)) == {
        "judged_quarantined_share": 1
    }
    assert failing(rules_with(**share, max_quarantined_free_persons=quarantined)) == {}

    # through the check and the publish step: the failure alert, and the old analytics file stays
    (before,) = query(layout.analytics_db, "select count(*) from person_quarantine")[0]
    settings = FundcdpSettings(data_dir=str(layout.root), as_of_date=AS_OF)
    result = run_quality_check(
        PERSONS_SUITE, settings, "run-cap", as_of_date=date.fromisoformat(AS_OF),
        rules=rules_with(**base, max_quarantined_persons=quarantined - 1),
    )  # fmt: skip
    assert not result.passed
    assert [line for line in alert_lines(layout, "persons_quarantined") if line["run_id"] == "run-cap"] == []
    (failure,) = [line for line in alert_lines(layout, "check_failed") if line["run_id"] == "run-cap"]
    assert failure["details"]["quarantined_persons"] == quarantined
    assert failure["details"]["reasons"] == {"oversized_identity": quarantined}
    blocked = dg.materialize(
        [analytics], partition_key=AS_OF, resources={"settings": settings}, raise_on_error=False
    )
    assert not blocked.success
    assert query(layout.analytics_db, "select count(*) from person_quarantine")[0][0] == before
    assert "gx_persons: failed" in layout.alerts_log.read_text().splitlines()[-1]


def test_an_empty_identity_graph_fails_the_whole_table(built_warehouse, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse.layout.warehouse_db, path)
    con = duckdb.connect(str(path))
    for table in ("person_quarantine", "person_identifiers", "persons", "identity_conflicts"):
        con.execute(f"delete from main_marts.{table}")
    con.close()
    frame = metric_frame(path, PERSONS_SUITE, AS_OF)
    outcome = validate_frame(PERSONS_SUITE.path, frame)
    assert {item.column: item.unexpected_count for item in outcome.expectations if not item.success} == {
        "persons": 1
    }


def test_a_quarantined_person_is_excluded_before_any_other_reason_and_gets_no_group(tmp_path):
    """On the purpose-made warehouse of test_segments (no dbt): P1 (consented, exportable) and P6 (no
    customer number) are quarantined, P1 twice (two reasons): both are matches excluded as `quarantined`,
    in no experiment group, and a published version has neither among its members."""
    from orchestration.lib.segments.publish import evaluate, publish_segment
    from tests.integration.test_segments import CATALOG, segment, tiny_warehouse

    path = tiny_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(path))
    con.execute(
        "insert into main_marts.person_quarantine values ('P1', 'oversized_identity'),"
        " ('P1', 'conflicting_unique_identifiers'), ('P6', 'oversized_identity')"
    )
    con.close()
    everyone = {"tag": "lifecycle_stage", "op": "is not null"}
    definition = segment(everyone, purpose="marketing", channel="sms", split={"test": 0.5, "control": 0.5})
    evaluation = evaluate(path, definition, CATALOG, date.fromisoformat(AS_OF))
    assert sorted((row[0], row[5], row[6]) for row in evaluation.rows if row[5]) == [
        ("P1", "quarantined", None),
        ("P6", "quarantined", None),
    ]
    assert [row[0] for row in evaluation.members] == ["P2", "P3", "P4", "P5"]
    assert evaluation.excluded() == {
        "quarantined": 2,
        "no_consent": 0,
        "unsuitable": 0,
        "no_customer_number": 0,
    }
    outcome = publish_segment(tmp_path / "segments.duckdb", tmp_path / "outbox", evaluation)
    assert (outcome.status, outcome.size) == ("published", 4)
    assert query(tmp_path / "segments.duckdb", "select excluded_quarantined, excluded_no_customer_number"
                 " from segment_versions") == [(2, 0)]  # fmt: skip
    assert set(current_members(tmp_path / "segments.duckdb")["probe"]) == {"P2", "P3", "P4", "P5"}


# --- one real chain of a few thousand identifiers, through the whole pipeline -------------------------

CHAIN_LOGINS = 1500  # logins L0..L1499 and phones P0..P1500: login Li signs in with Pi and with Pi+1
CHAIN_CUSTOMER = "C88888888"
CHAIN_IDENTIFIERS = CHAIN_LOGINS + (CHAIN_LOGINS + 1) + 2  # + the CRM record's customer_no and ID number


def chain_phone(index: int) -> str:
    return f"1995{index:07d}"


def chain_id_number() -> str:
    body = "11010519800101123"
    return body + pii.id_check_char(body)


def plant_chain(layout: DataLayout) -> None:
    """Append the chain's login events, spread evenly over every delivered tracking day (so that no day's
    volume jumps), and its CRM record to the first CRM delivery; control files counted."""
    days = layout.landing_days("tracking")
    added: dict[str, list[dict]] = {day: [] for day in days}
    for j in range(2 * CHAIN_LOGINS):
        login, phone = j // 2, j // 2 + j % 2
        day = days[j % len(days)]
        at = f"{day} 10:{(j // 60) % 60:02d}:{j % 60:02d}"
        added[day].append(
            event(f"chain-{j}", "login", at, f"chain-device-{login}", f"chain-L{login}",
                  phone=chain_phone(phone))
        )  # fmt: skip
    for day, events in added.items():
        folder = layout.landing_day("tracking", day)
        (events_file,) = folder.glob("events_*.jsonl.gz")
        text = gzip.decompress(events_file.read_bytes()).decode("utf-8")
        text += "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in events)
        events_file.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
        bump_control(folder, events_file.name, len(events))
    day = layout.landing_days("crm")[0]
    folder = layout.landing_day("crm", day)
    customers = folder / f"customers_{day.replace('-', '')}.csv"
    with open(customers, "a", encoding="utf-8") as handle:
        handle.write(
            f"{CHAIN_CUSTOMER},链条测试,M,1980-01-01,ID_CARD,{chain_id_number()},{chain_phone(0)},,上海,上海,"
            f"C3,2026-01-05,verified,{day},app,{day} 08:00:00\n"
        )
    bump_control(folder, customers.name, 1)


def bump_control(folder: Path, file_name: str, rows: int) -> None:
    (control,) = folder.glob("_control_*.csv")
    lines = control.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        name, count, amount = line.split(",")
        if name == file_name:
            lines[index] = f"{name},{int(count) + rows},{amount}"
    control.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def chain_build(tmp_path_factory) -> DataLayout:
    data_dir = tmp_path_factory.mktemp("chain") / "data"
    layout = DataLayout.at(data_dir)
    layout.ensure()
    generate_demo(data_dir)
    plant_chain(layout)
    with pipeline_environment(layout):
        from orchestration.defs.pipeline import build_warehouse, load_raw
        from orchestration.lib.deliveries import delivery_days

        instance = temp_instance(layout.dagster_home)
        load_raw(instance, delivery_days(layout))  # the demo's injected incomplete days fail alone
        build_warehouse(instance, AS_OF)
    return layout


def test_a_real_chain_of_3003_identifiers_is_one_quarantined_person_and_everything_publishes(chain_build):
    layout = chain_build
    customer_hash = hashlib.sha256(f"customer_no:{CHAIN_CUSTOMER}".encode()).hexdigest()
    ((person,),) = query(
        layout.warehouse_db,
        "select person_id from main_marts.person_identifiers where identifier_type = 'customer_no'"
        " and identifier_hash = ?",
        [customer_hash],
    )
    assert query(
        layout.warehouse_db,
        "select person_id, quarantine_reason, identifier_count from main_marts.person_quarantine",
    ) == [(person, "oversized_identity", CHAIN_IDENTIFIERS)]
    assert query(
        layout.warehouse_db,
        "select identifier_type, count(*) from main_marts.person_identifiers where person_id = ?"
        " group by 1 order by 1",
        [person],
    ) == [("customer_no", 1), ("id_number", 1), ("login_id", CHAIN_LOGINS), ("phone", CHAIN_LOGINS + 1)]
    # every gate passed, so the analytics file and the segments were published for everyone else
    assert set(latest_suite_results(layout.quality_db, AS_OF).values()) == {True}
    assert query(layout.analytics_db, "select person_id, quarantine_reason from person_quarantine") == [
        (published_id(layout, person), "oversized_identity")
    ]
    (persons,) = query(layout.warehouse_db, "select count(*) from main_marts.persons")[0]
    assert query(layout.analytics_db, "select count(*) from persons")[0][0] == persons
    # the chain's CRM record registered and never invested: it matched that segment and was left out
    versions = latest_versions(layout.segments_db)
    assert {segment: row[2] for segment, row in versions.items() if row[2]} == {
        "registered_never_invested": 1
    }
    assert all(person not in members for members in current_members(layout.segments_db).values())
    (warning,) = alert_lines(layout, "persons_quarantined")
    assert warning["details"] == {"quarantined_persons": 1, "reasons": {"oversized_identity": 1}}


def test_chain_helpers_make_valid_identifiers():
    assert pii.is_valid_id_number(chain_id_number())
    assert [pii.normalise_phone(chain_phone(i)) for i in (0, CHAIN_LOGINS)] == ["19950000000", "19950001500"]
