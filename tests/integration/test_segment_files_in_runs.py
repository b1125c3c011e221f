"""The segments asset on the shared demo build (issue 33): an invalid segment file is skipped with an
alert of its own kind while every valid segment publishes (here: stays unchanged), the asset's metadata
carries the row count and the as-of date, and fund_products reaches analytics.duckdb and the segment rules
(an event filtered on its fund's type selects exactly the persons a hand-written query finds)."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import duckdb
import pytest

from orchestration.lib.paths import SEGMENTS_DIR
from tests.conftest import DEMO_END_DATE

pytestmark = pytest.mark.integration

BROKEN = (
    "name: broken\nowner: t\ndescription: t\npurpose: marketing\nchannel: sms\nrule: {tag: lifecycle_stag}\n"
)


def test_an_invalid_file_is_skipped_and_alerted_while_the_others_publish(
    built_warehouse, tmp_path, monkeypatch
):
    import dagster as dg

    from orchestration.defs.segments import definition
    from orchestration.defs.segments.assets import segments
    from orchestration.lib.settings import FundcdpSettings
    from tests.operations_dataset import copy_data

    layout = copy_data(built_warehouse.layout, tmp_path / "data")
    folder = tmp_path / "segments"
    shutil.copytree(SEGMENTS_DIR, folder)
    (folder / "broken.yml").write_text(BROKEN)
    monkeypatch.setattr(definition, "SEGMENTS_DIR", folder)
    starters = sorted(path.stem for path in SEGMENTS_DIR.glob("*.yml"))
    result = dg.materialize(
        [segments],
        partition_key=DEMO_END_DATE,
        resources={"settings": FundcdpSettings(data_dir=str(layout.root))},
    )
    (materialization,) = result.asset_materializations_for_node("segments")
    metadata = materialization.metadata
    problems = [
        "rule.tag: unknown tag 'lifecycle_stag' (see the tag catalog); did you mean 'lifecycle_stage'?",
        "rule.op: required: one of =, !=, >=, <=, between, in, not in, is null, is not null",
    ]
    assert metadata["invalid"].value == {"broken": problems}
    # every valid segment was evaluated (as of the build, identical to the versions it published)
    assert sorted(metadata["segments"].value) == starters
    assert metadata["unchanged"].value == starters
    assert metadata["as_of_date"].value == DEMO_END_DATE
    con = duckdb.connect(str(layout.segments_db), read_only=True)
    (members,) = con.execute(
        "select count(*) from segment_members m join (select segment, max(version) as version "
        "from segment_versions where status = 'published' group by 1) using (segment, version)"
    ).fetchone()
    con.close()
    assert metadata["dagster/row_count"].value == members > 0
    alerts = [json.loads(line)["alert"] for line in layout.alerts_log.read_text().splitlines()]
    (invalid,) = [alert for alert in alerts if alert["kind"] == "segment_invalid"]
    assert invalid["summary"] == (
        f"segment file broken.yml is invalid and was skipped ({len(problems)} problem(s)); the other "
        "segments publish"
    )
    assert invalid["details"]["problems"] == problems
    assert "approve_segment" in segments.descriptions_by_key[segments.key]


def test_fund_products_reach_analysts_and_segment_rules(built_warehouse):
    from orchestration.defs.segments.definition import Catalog, parse_segment
    from orchestration.defs.segments.versions import evaluate

    layout = built_warehouse.layout
    con = duckdb.connect(str(layout.analytics_db), read_only=True)
    published = con.execute("select fund_type, count(*) from fund_products group by 1 order by 1").fetchall()
    columns = [row[0] for row in con.execute("describe fund_products").fetchall()]
    con.close()
    warehouse = duckdb.connect(str(layout.warehouse_db), read_only=True)
    assert (
        published
        == warehouse.execute(
            "select fund_type, count(*) from main_marts.fund_products group by 1 order by 1"
        ).fetchall()
    )
    assert {"fund_code", "fund_type", "fund_risk_rating"} <= set(columns)
    assert not {"person_id", "customer_no"} & set(columns)
    as_of = date.fromisoformat(DEMO_END_DATE)
    since = as_of - timedelta(days=14)
    expected = sorted(
        row[0]
        for row in warehouse.execute(
            "select distinct e.person_id from main_intermediate.int_events_attributed e "
            "join main_marts.fund_products p on p.fund_code = e.fund_code "
            "where e.person_id is not null and e.event_name = 'page_view' and p.fund_type = 'equity' "
            "and p.fund_risk_rating in ('R4', 'R5') and e.event_date > ? and e.event_date <= ?",
            [since, as_of],
        ).fetchall()
    )
    warehouse.close()
    document = {
        "name": "browsed_risky_equity", "owner": "t", "description": "t", "purpose": "compliance",
        "rule": {"event": "page_view", "last_days": 14,
                 "where": {"fund_type": "equity", "fund_risk_rating": ["R4", "R5"]}},
    }  # fmt: skip
    segment = parse_segment(document, Catalog.load())
    matched = sorted(row[0] for row in evaluate(layout.warehouse_db, segment, Catalog.load(), as_of).rows)
    assert matched == expected and len(expected) > 0
