"""Blocked segment versions and their approval (issue 33), on the tiny warehouses of test_segments.py:
the change floor, approving from the command line and from a Dagster job (who, when, why recorded), the
export as for any version, a re-run after approval or of a blocked day recording nothing new, an older
segments.duckdb migrated, product attributes in `where:`, and `segments preview` beside an invalid file."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.segments.versions import (
    ApprovalError,
    approve_segment,
    current_members,
    evaluate,
    pending_attempt,
    publish_segment,
)
from orchestration.lib.layout import DataLayout
from orchestration.lib.rules import local_zone
from tests.integration.test_segments import AS_OF, CATALOG, segment, tiny_warehouse

pytestmark = pytest.mark.integration

DORMANT = {"tag": "lifecycle_stage", "op": "=", "value": "dormant"}  # P1, P2
EVERYONE = {"tag": "lifecycle_stage", "op": "is not null"}  # P1..P5 (P6: no customer number, excluded)


def rows(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def folders(outbox: Path, name: str = "s") -> list[str]:
    return sorted(p.name for p in (outbox / "segments" / name).iterdir())


@pytest.fixture
def blocked(tmp_path):
    """Segment ``s``: version 1 = P1, P2; then everyone (3 entered: 150 % > max_change 50 %) is blocked."""
    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    warehouse = tiny_warehouse(layout.warehouse_db)
    store, outbox = layout.segments_db, layout.outbox
    first = publish_segment(store, outbox, evaluate(warehouse, segment(DORMANT, name="s"), CATALOG, AS_OF))
    assert (first.status, first.version) == ("published", 1)
    grown = evaluate(warehouse, segment(EVERYONE, name="s", max_change=0.5), CATALOG, AS_OF)
    outcome = publish_segment(store, outbox, grown)
    assert (outcome.status, outcome.version, outcome.pending_version) == ("blocked", 1, 2)
    assert outcome.reason == (
        "3 entered and 0 exited: a change of 150% of the previous version's 2 members exceeds max_change 50%"
    )
    return layout, grown


def test_a_floor_lets_a_small_change_publish_and_still_blocks_a_large_one(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    warehouse = tiny_warehouse(tmp_path / "w.duckdb")
    publish_segment(store, outbox, evaluate(warehouse, segment(DORMANT, name="s"), CATALOG, AS_OF))
    floored = segment(EVERYONE, name="s", max_change=0.5, min_changed_persons=4)
    outcome = publish_segment(store, outbox, evaluate(warehouse, floored, CATALOG, AS_OF))
    assert (outcome.status, outcome.version, outcome.entered) == ("published", 2, 3)  # 3 persons < 4
    back = segment(DORMANT, name="s", max_change=0.5, min_changed_persons=3)
    outcome = publish_segment(store, outbox, evaluate(warehouse, back, CATALOG, AS_OF))
    assert (outcome.status, outcome.exited) == ("blocked", 3)
    assert outcome.reason.endswith("exceeds max_change 50% and reaches min_changed_persons 3")


def test_approving_publishes_the_blocked_version_and_records_who_when_and_why(blocked):
    layout, _ = blocked
    store, outbox = layout.segments_db, layout.outbox
    assert folders(outbox) == ["v0001"]
    outcome = approve_segment(
        store, outbox, "s", "  campaign list checked by phone team ", "alice", version=2
    )
    assert (outcome.status, outcome.version, outcome.size, outcome.entered, outcome.exited) == (
        "published", 2, 5, 3, 0,
    )  # fmt: skip
    (row,) = rows(store, "select version, status, blocked_reason, size, entered, approved_by, "
                         "approval_reason, approved_at is not null, approved_at = published_at "
                         "from segment_versions where version = 2")  # fmt: skip
    assert row == (
        2, "published",
        "3 entered and 0 exited: a change of 150% of the previous version's 2 members exceeds max_change 50%",
        5, 3, "alice", "campaign list checked by phone team", True, True,
    )  # fmt: skip
    # the version is what a run publishes: members, diffs, the export
    assert current_members(store, "s") == (2, {f"P{i}": f"C{i}" for i in range(1, 6)})
    assert rows(store, "select person_id, change from segment_diffs where version = 2 order by 1") == [
        ("P3", "entered"), ("P4", "entered"), ("P5", "entered"),
    ]  # fmt: skip
    assert folders(outbox) == ["v0001", "v0002"]
    with open(outbox / "segments" / "s" / "v0002" / "members.csv", newline="") as handle:
        assert [row["customer_no"] for row in csv.DictReader(handle)] == ["C1", "C2", "C3", "C4", "C5"]
    manifest = json.loads((outbox / "segments" / "s" / "v0002" / "manifest.json").read_text())
    assert (manifest["version"], manifest["size"], manifest["purpose"], manifest["as_of_date"]) == (
        2, 5, "compliance", "2026-06-30",
    )  # fmt: skip
    assert manifest["excluded"]["no_customer_number"] == 1
    assert rows(store, "select count(*) from segment_candidates") == [(0,)]
    assert pending_attempt(store, "s") is None
    with pytest.raises(ApprovalError, match="has no blocked version waiting for approval"):
        approve_segment(store, outbox, "s", "again", "alice")


def test_a_rerun_after_the_approval_publishes_nothing(blocked):
    layout, grown = blocked
    approve_segment(layout.segments_db, layout.outbox, "s", "ok", "alice")
    again = publish_segment(layout.segments_db, layout.outbox, grown)
    assert (again.status, again.version) == ("unchanged", 2)
    assert folders(layout.outbox) == ["v0001", "v0002"]
    assert rows(layout.segments_db, "select count(*) from segment_versions") == [(2,)]


def test_a_rerun_of_a_blocked_day_records_the_attempt_once(blocked):
    layout, grown = blocked
    again = publish_segment(layout.segments_db, layout.outbox, grown)
    assert (again.status, again.pending_version) == ("blocked", 2)
    counts = "select status, count(*) from segment_versions group by 1 order by 1"
    assert rows(layout.segments_db, counts) == [("blocked", 1), ("published", 1)]
    assert rows(layout.segments_db, "select count(*) from segment_candidates") == [(5,)]


@pytest.mark.parametrize(
    ("version", "reason", "message"),
    [
        (3, "ok", "the blocked version as of 2026-06-30 would be version 2, not 3; nothing approved"),
        (None, "  ", "an approval needs a reason"),
        (None, "two\nlines", "the reason is one line"),
    ],
)
def test_a_wrong_approval_publishes_nothing(blocked, version, reason, message):
    layout, _ = blocked
    with pytest.raises(ApprovalError, match=message):
        approve_segment(layout.segments_db, layout.outbox, "s", reason, "alice", version)
    assert folders(layout.outbox) == ["v0001"]
    assert pending_attempt(layout.segments_db, "s").members.keys() == {"P1", "P2", "P3", "P4", "P5"}


def test_a_version_blocked_by_failed_quality_gates_cannot_be_approved(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    warehouse = tiny_warehouse(tmp_path / "w.duckdb")
    gated = publish_segment(
        store, outbox, evaluate(warehouse, segment(DORMANT, name="s"), CATALOG, AS_OF), checks_passed=False
    )
    assert gated.status == "blocked"
    with pytest.raises(ApprovalError, match="quality gates did not pass; that cannot be approved"):
        approve_segment(store, outbox, "s", "ok", "alice")


def test_the_command_line_approves_as_the_user_of_the_environment(blocked, monkeypatch, capsys):
    from orchestration import cli

    layout, _ = blocked
    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(layout.root))
    monkeypatch.setenv("FUNDCDP_USER", "bob")
    assert cli.main(["segments", "approve", "s", "--version", "3", "--reason", "ok"]) == 1
    assert "would be version 2, not 3" in capsys.readouterr().err
    assert cli.main(["segments", "approve", "s", "--version", "2", "--reason", "list reviewed"]) == 0
    assert capsys.readouterr().out.startswith(
        "segment s: version 2 published (5 members, 3 entered, 0 exited), approved by bob; export "
    )
    assert rows(layout.segments_db, "select approved_by, approval_reason from segment_versions "
                                    "where version = 2") == [("bob", "list reviewed")]  # fmt: skip


def test_the_dagster_job_approves_through_run_config(blocked):
    from orchestration.defs.segments.approval import approve_segment_job
    from orchestration.lib.settings import FundcdpSettings

    layout, _ = blocked
    config = {"segment": "s", "reason": "approved in the UI", "version": 2, "approved_by": "carol"}
    result = approve_segment_job.execute_in_process(
        run_config={"ops": {"approve_blocked_segment": {"config": config}}},
        resources={"settings": FundcdpSettings(data_dir=str(layout.root))},
    )
    assert result.success
    (observation,) = [e.asset_observation_data.asset_observation for e in result.all_events
                      if e.event_type_value == "ASSET_OBSERVATION"]  # fmt: skip
    assert (observation.metadata["version"].value, observation.metadata["dagster/row_count"].value) == (2, 5)
    assert rows(layout.segments_db, "select approved_by, approval_reason from segment_versions "
                                    "where version = 2") == [("carol", "approved in the UI")]  # fmt: skip
    failed = approve_segment_job.execute_in_process(
        run_config={"ops": {"approve_blocked_segment": {"config": config}}},
        resources={"settings": FundcdpSettings(data_dir=str(layout.root))},
        raise_on_error=False,
    )
    assert not failed.success  # nothing is waiting any more


def test_an_older_segments_store_is_migrated(tmp_path):
    """A segments.duckdb from before approvals: its columns are added, its old blocked row (no members
    kept) asks for a re-run, and a new attempt can be approved."""
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    con = duckdb.connect(str(store))
    con.execute(
        "create table segment_versions (segment varchar, version integer, as_of_date date, status varchar, "
        "blocked_reason varchar, size bigint, excluded_no_consent bigint, excluded_unsuitable bigint, "
        "excluded_no_customer_number bigint, entered bigint, exited bigint, checks_passed boolean, "
        "split_counts varchar, compiled_sql_sha256 varchar, published_at timestamp)"
    )
    con.execute(
        "insert into segment_versions values ('s', null, date '2026-06-29', 'blocked', 'size', 9, 0, 0, 0, "
        "9, 0, true, '{}', 'x', timestamp '2026-06-29 08:00:00')"
    )
    con.close()
    with pytest.raises(ApprovalError, match="recorded before approvals kept its members; run the day again"):
        approve_segment(store, outbox, "s", "ok", "alice")
    columns = {row[0] for row in rows(store, "describe segment_versions")}
    assert {"approved_by", "approved_at", "approval_reason", "attempt_id", "definition_json"} <= columns
    warehouse = tiny_warehouse(tmp_path / "w.duckdb")
    small = segment(DORMANT, name="s", size_max=1)
    assert publish_segment(store, outbox, evaluate(warehouse, small, CATALOG, AS_OF)).status == "blocked"
    assert approve_segment(store, outbox, "s", "two are fine", "alice").version == 1


def test_events_filter_on_the_attributes_of_their_fund(tmp_path):
    warehouse = tiny_warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create table main_marts.fund_products"
        " (fund_code varchar, fund_type varchar, fund_risk_rating varchar)"
    )
    con.execute("insert into main_marts.fund_products values ('000001', 'equity', 'R4'), "
                "('000002', 'bond', 'R2'), ('000003', 'equity', 'R3')")  # fmt: skip
    con.close()

    def matched(where: dict) -> list[str]:
        rule = {"event": "purchase", "last_days": 30, "where": where}
        return [row[0] for row in evaluate(warehouse, segment(rule), CATALOG, AS_OF).rows]

    # purchases in the 30 days: P1 000001 and 000002, P3 and P4 000001, P6 000003 (P2's is older)
    assert matched({"fund_type": "equity"}) == ["P1", "P3", "P4", "P6"]
    assert matched({"fund_type": "bond"}) == ["P1"]
    assert matched({"fund_type": "equity", "fund_risk_rating": ["R3"]}) == ["P6"]
    assert matched({"fund_risk_rating": "R5"}) == []
    assert matched({"fund_type": "equity", "fund_code": "000003"}) == ["P6"]
    sequence = {"sequence": ["sign_up", "purchase"], "within_days": 7, "last_days": 60,
                "where": {"fund_type": "equity"}}  # fmt: skip
    # `where` filters the first event: sign_up has no fund
    assert [row[0] for row in evaluate(warehouse, segment(sequence), CATALOG, AS_OF).rows] == []


def test_preview_works_beside_an_invalid_file_and_warns_when_empty(tmp_path, monkeypatch, capsys):
    from orchestration import cli
    from orchestration.defs.segments import definition

    layout = DataLayout.at(tmp_path / "data")
    layout.ensure()
    tiny_warehouse(layout.warehouse_db)
    folder = tmp_path / "segments"
    folder.mkdir()
    (folder / "broken.yml").write_text("name: broken\nowner: t\nrule: {tag: shoe_size}\n")
    head = "owner: t\ndescription: t\npurpose: compliance\n"
    (folder / "dormant.yml").write_text(f"name: dormant\n{head}rule: {{tag: lifecycle_stage, op: '=', "
                                        "value: dormant}\n")  # fmt: skip
    (folder / "nobody.yml").write_text(
        f"name: nobody\n{head}rule: {{tag: aum_cny, op: '>=', value: 1000000000}}\n"
    )
    monkeypatch.setattr(definition, "SEGMENTS_DIR", folder)
    monkeypatch.setenv("FUNDCDP_DATA_DIR", str(layout.root))
    monkeypatch.setenv("FUNDCDP_AS_OF_DATE", "2026-06-30")
    assert cli.main(["segments", "preview", "dormant"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["size"] == 2
    assert captured.err == "note: skipped invalid segment file(s): broken\n"
    assert cli.main(["segments", "preview", "nobody"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["warnings"] == [
        "rule: 0 members as of the build: the rule matches no one"
    ]
    assert "WARNING " in captured.err and "Traceback" not in captured.err
    assert cli.main(["segments", "preview", "broken"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line.split(": ", 2)[1] for line in err.splitlines() if line.startswith("INVALID")] == [
        "description", "purpose", "rule.tag", "rule.op",
    ]  # fmt: skip


def test_an_erased_person_leaves_the_blocked_candidates_too(blocked):
    """The members a blocked attempt keeps for its approval are personal data: the erasure's purge of
    segments.duckdb (every table keyed on person_id) removes them, and the approval publishes without them."""
    from orchestration.defs.privacy.erasure.purge import purge_database
    from orchestration.defs.privacy.erasure.scope import ErasureScope

    layout, _ = blocked
    removed = purge_database(layout.segments_db, ErasureScope(person_ids={"P3"}))
    assert removed == 1  # P3 was only a candidate
    assert rows(layout.segments_db, "select count(*) from segment_candidates where person_id = 'P3'") == [
        (0,)
    ]
    outcome = approve_segment(layout.segments_db, layout.outbox, "s", "ok", "alice")
    assert (outcome.version, outcome.size) == (2, 4)
    recorded = "select size, entered from segment_versions where version = 2"
    assert rows(layout.segments_db, recorded) == [(4, 2)]
    assert current_members(layout.segments_db, "s")[1] == {"P1": "C1", "P2": "C2", "P4": "C4", "P5": "C5"}


def test_an_approved_version_keeps_each_members_experiment_group(tmp_path):
    store, outbox = tmp_path / "segments.duckdb", tmp_path / "outbox"
    warehouse = tiny_warehouse(tmp_path / "w.duckdb")
    split = {"test": 0.5, "control": 0.5}
    evaluation = evaluate(warehouse, segment(EVERYONE, name="s", split=split, size_max=4), CATALOG, AS_OF)
    groups = {row[0]: row[6] for row in evaluation.members}
    assert publish_segment(store, outbox, evaluation).status == "blocked"  # 5 members > 4
    approve_segment(store, outbox, "s", "five is fine", "alice", version=1)
    kept = rows(store, "select person_id, split_group from segment_members where version = 1 order by 1")
    assert kept == sorted(groups.items())
    manifest = json.loads((outbox / "segments" / "s" / "v0001" / "manifest.json").read_text())
    expected = {group: list(groups.values()).count(group) for group in set(groups.values())}
    assert manifest["split"] == dict(sorted(expected.items())) and sum(manifest["split"].values()) == 5


def test_a_blocked_version_older_than_the_warehouse_or_the_current_version_is_refused(blocked):
    """Its members were checked for consent as of its own day: once the warehouse is built for a later
    day (a person may have withdrawn since), the day must be run again before an approval."""
    layout, grown = blocked
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("update main_marts.person_profile set as_of_date = date '2026-07-01'")
    con.close()
    with pytest.raises(ApprovalError, match=r"as of 2026-06-30, but the warehouse is as of 2026-07-01"):
        approve_segment(
            layout.segments_db, layout.outbox, "s", "ok", "alice", warehouse_db=layout.warehouse_db
        )
    assert rows(layout.segments_db, "select version, status from segment_versions order by 1 nulls last") == [
        (1, "published"),
        (None, "blocked"),
    ]
    assert folders(layout.outbox) == ["v0001"]
    # the warehouse as of the blocked day: approved, at a local time of the company's zone
    con = duckdb.connect(str(layout.warehouse_db))
    con.execute("update main_marts.person_profile set as_of_date = date '2026-06-30'")
    con.close()
    outcome = approve_segment(
        layout.segments_db, layout.outbox, "s", "ok", "alice", warehouse_db=layout.warehouse_db
    )
    assert outcome.version == 2
    (approved_at,) = rows(layout.segments_db, "select approved_at from segment_versions where version = 2")[0]
    local_now = datetime.now(local_zone()).replace(tzinfo=None)
    assert abs((local_now - approved_at).total_seconds()) < 600
