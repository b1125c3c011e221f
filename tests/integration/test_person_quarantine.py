"""Blast radius of the persons gate (docs/quality.md): persons failing a per-person rule are quarantined
(person_quarantine), left out of every segment, listed under published ids and alerted; the others publish;
a failure of the whole table (beyond the caps, an empty graph) still blocks.

Cheap tests run on a copy of the shared demo build with person_quarantine rebuilt through dbt ``--vars``
at a lower identifier limit. A real chain of 50,001 identifiers goes through the whole pipeline in
tests/integration/test_foreign_data.py (the tracked company)."""

from __future__ import annotations

import copy
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
from orchestration.defs.quality.gx_runner import validate_frame
from orchestration.defs.quality.results import latest_suite_results
from orchestration.defs.quality.suites import discover_suites, metric_frame
from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.rules import load_business_rules
from orchestration.lib.settings import FundcdpSettings
from tests.conftest import (
    DEMO_END_DATE,
)
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
    from orchestration.defs.segments.versions import evaluate, publish_segment
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
