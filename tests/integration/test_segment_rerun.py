"""Idempotent segment publishing (issue 31): re-running a day whose segment evaluates exactly as its current
version of that date publishes nothing (no version, no export); a changed member, group, exclusion or
definition, or another as-of date, does. On the tiny purpose-built warehouses of test_segments.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.segments.versions import content_sha256, current_members, evaluate, publish_segment
from tests.integration.test_segments import AS_OF, CATALOG, PERSONS, segment, tiny_warehouse

pytestmark = pytest.mark.integration

DORMANT = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}


def versions(store: Path) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(
            "select version, status, cast(as_of_date as varchar), size from segment_versions order by all"
        ).fetchall()
    finally:
        con.close()


def folders(outbox: Path, name: str) -> list[str]:
    return sorted(p.name for p in (outbox / "segments" / name).iterdir())


@pytest.fixture
def published(tmp_path):
    """Version 1 of segment ``s`` (dormant: P1, P2) as of AS_OF."""
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    path = tiny_warehouse(tmp_path / "w.duckdb")
    first = publish_segment(store, outbox, evaluate(path, segment(DORMANT, name="s"), CATALOG, AS_OF))
    assert (first.status, first.version, first.size) == ("published", 1, 2)
    return store, outbox, path


def test_a_rerun_with_unchanged_data_publishes_nothing(published):
    store, outbox, path = published
    export = (outbox / "segments" / "s" / "v0001" / "manifest.json").read_bytes()
    # the same warehouse, and a fresh rebuild of it (another file with the same rows), twice
    rebuilt = tiny_warehouse(path.with_name("rebuilt.duckdb"))
    for warehouse in (path, rebuilt, rebuilt):
        again = publish_segment(
            store, outbox, evaluate(warehouse, segment(DORMANT, name="s"), CATALOG, AS_OF)
        )
        assert (again.status, again.version, again.size, again.entered, again.exited) == (
            "unchanged", 1, 2, 0, 0,
        )  # fmt: skip
        assert again.reason == "identical to version 1 as of 2026-06-30: nothing published"
        assert again.export_dir == outbox / "segments" / "s" / "v0001"
    assert versions(store) == [(1, "published", "2026-06-30", 2)]
    assert folders(outbox, "s") == ["v0001"]
    assert (outbox / "segments" / "s" / "v0001" / "manifest.json").read_bytes() == export


def test_a_changed_member_publishes_a_new_version(published, tmp_path):
    store, outbox, _ = published
    # P5 turns dormant: one member more
    persons = [(*row[:1], "dormant", *row[2:]) if row[0] == "P5" else row for row in PERSONS]
    changed = tiny_warehouse(tmp_path / "changed.duckdb", persons=persons)
    outcome = publish_segment(store, outbox, evaluate(changed, segment(DORMANT, name="s"), CATALOG, AS_OF))
    assert (outcome.status, outcome.version, outcome.size, outcome.entered, outcome.exited) == (
        "published", 2, 3, 1, 0,
    )  # fmt: skip
    assert versions(store) == [(1, "published", "2026-06-30", 2), (2, "published", "2026-06-30", 3)]
    assert folders(outbox, "s") == ["v0001", "v0002"]
    assert current_members(store, "s") == (2, {"P1": "C1", "P2": "C2", "P5": "C5"})


def test_a_changed_exclusion_publishes_even_with_the_same_members(tmp_path):
    """P6 (no customer number, excluded) turns dormant: the members stay P1 and P2, the exclusion count
    changes from 0 to 1, so the version's recorded counts would be wrong: a new version."""
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    path = tiny_warehouse(tmp_path / "w.duckdb")
    publish_segment(store, outbox, evaluate(path, segment(DORMANT, name="s"), CATALOG, AS_OF))
    persons = [(*row[:1], "dormant", *row[2:]) if row[0] == "P6" else row for row in PERSONS]
    changed = evaluate(tiny_warehouse(tmp_path / "c.duckdb", persons=persons), segment(DORMANT, name="s"),
                       CATALOG, AS_OF)  # fmt: skip
    assert [row[0] for row in changed.members] == ["P1", "P2"]
    outcome = publish_segment(store, outbox, changed)
    assert (outcome.status, outcome.version, outcome.excluded["no_customer_number"]) == ("published", 2, 1)
    assert folders(outbox, "s") == ["v0001", "v0002"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"split": {"test": 0.5, "control": 0.5}}, "groups"),
        ({"size_max": 10}, "a bound"),
        ({"description": "dormant persons, reviewed"}, "the description"),
    ],
)
def test_a_changed_definition_publishes_with_the_same_members(published, fields, reason):
    store, outbox, path = published
    outcome = publish_segment(
        store, outbox, evaluate(path, segment(DORMANT, name="s", **fields), CATALOG, AS_OF)
    )
    assert (outcome.status, outcome.version, outcome.entered, outcome.exited) == ("published", 2, 0, 0), (
        reason
    )
    assert folders(outbox, "s") == ["v0001", "v0002"]


def test_the_same_members_on_the_next_day_publish_that_day(published):
    store, outbox, path = published
    outcome = publish_segment(
        store, outbox, evaluate(path, segment(DORMANT, name="s"), CATALOG, date(2026, 7, 1))
    )
    assert (outcome.status, outcome.version) == ("published", 2)
    assert versions(store)[-1] == (2, "published", "2026-07-01", 2)


def test_the_content_hash_ignores_match_order_and_breakdowns_only(tmp_path):
    path = tiny_warehouse(tmp_path / "w.duckdb")
    evaluation = evaluate(path, segment(DORMANT, name="s"), CATALOG, AS_OF)
    reordered = type(evaluation)(evaluation.segment, evaluation.as_of, evaluation.sql, evaluation.rows[::-1])
    other_tier = type(evaluation)(
        evaluation.segment, evaluation.as_of, evaluation.sql,
        [(*row[:3], "mass", *row[4:]) for row in evaluation.rows],
    )  # fmt: skip
    other_group = type(evaluation)(
        evaluation.segment, evaluation.as_of, evaluation.sql, [(*row[:6], "test") for row in evaluation.rows]
    )
    assert content_sha256(reordered) == content_sha256(other_tier) == content_sha256(evaluation)
    assert content_sha256(other_group) != content_sha256(evaluation)


def test_rerunning_the_segments_of_the_demo_build_publishes_nothing_new(built_warehouse, tmp_path):
    """The segments asset re-run for the shared build's day (its gates passed, every segment published
    as of that day): every segment is unchanged, no version row, no outbox folder, the same exports."""
    import dagster as dg

    from orchestration.defs.segments.assets import segments
    from orchestration.defs.segments.definition import load_segments
    from orchestration.lib.settings import FundcdpSettings
    from tests.conftest import DEMO_END_DATE
    from tests.operations_dataset import copy_data

    layout = copy_data(built_warehouse.layout, tmp_path / "data")
    names = sorted(definition.name for definition in load_segments())

    def snapshot() -> tuple[list[tuple], dict[str, bytes]]:
        rows = versions(layout.segments_db)
        files = {
            str(path.relative_to(layout.outbox)): path.read_bytes()
            for path in sorted((layout.outbox / "segments").rglob("*"))
            if path.is_file()
        }
        return rows, files

    before = snapshot()
    assert len(before[0]) == 2 * len(names)  # the earlier and the final build published one each
    result = dg.materialize(
        [segments],
        partition_key=DEMO_END_DATE,
        resources={"settings": FundcdpSettings(data_dir=str(layout.root))},
    )
    (materialization,) = result.asset_materializations_for_node("segments")
    metadata = materialization.metadata
    assert metadata["published"].value == 0
    assert metadata["unchanged"].value == names
    assert {item["status"] for item in metadata["segments"].value.values()} == {"unchanged"}
    assert snapshot() == before


def test_segments_of_a_warehouse_rebuilt_for_another_day_are_held_back(built_warehouse, tmp_path):
    """The shared build's day (its gates passed), but another run has since rebuilt the warehouse as of
    2026-06-29 (its stamps rewritten here): no segment publishes and the consent gate fails naming both."""
    import dagster as dg

    from orchestration.defs.segments.assets import segment_members_have_consent, segments
    from orchestration.defs.segments.definition import load_segments
    from orchestration.lib.settings import FundcdpSettings
    from tests.conftest import DEMO_END_DATE
    from tests.operations_dataset import copy_data

    layout = copy_data(built_warehouse.layout, tmp_path / "data")
    con = duckdb.connect(str(layout.warehouse_db))
    for relation in ("main_marts.tag_coverage", "main_marts.person_profile"):
        con.execute(f"update {relation} set as_of_date = date '2026-06-29'")
    con.close()
    before = versions(layout.segments_db)
    result = dg.materialize(
        [segments, segment_members_have_consent],
        partition_key=DEMO_END_DATE,
        resources={"settings": FundcdpSettings(data_dir=str(layout.root))},
        raise_on_error=False,
    )
    problem = (
        "the warehouse is as of 2026-06-29, not the run's day 2026-06-30: another run rebuilt it since this "
        "run's dbt build (or the build did not finish); not validated, re-run the day"
    )
    (materialization,) = result.asset_materializations_for_node("segments")
    summary = materialization.metadata["segments"].value
    assert {name: item["status"] for name, item in summary.items()} == {
        definition.name: "blocked" for definition in load_segments()
    }
    assert {item["reason"] for item in summary.values()} == {"the data's quality gates did not pass"}
    after = versions(layout.segments_db)
    assert [row for row in after if row[1] == "published"] == before
    assert sorted(row[:3] for row in after if row[1] != "published") == [
        (None, "blocked", DEMO_END_DATE)
    ] * len(summary)  # fmt: skip
    (consent,) = result.get_asset_check_evaluations()
    assert (consent.check_name, consent.passed, consent.description) == (
        "segment_members_have_consent", False, problem,
    )  # fmt: skip
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    held = [a for a in alerts if a["asset"] == "segments" and a["partition"] == DEMO_END_DATE]
    assert len(held) == len(summary)
    assert all(problem in a["details"]["gates"] for a in held)
