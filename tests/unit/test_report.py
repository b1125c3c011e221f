"""The analysts' HTML report escapes every value it did not build itself: a utm source typed by a web
visitor (or a segment name) cannot inject markup or script."""

from __future__ import annotations

import html

import duckdb

from orchestration.defs.publish.report import STAGES, TIERS, Markup, _cell, write_report

PAYLOAD = "<script>alert(1)</script>"
TABLES = """
create table person_profile as select date '2026-06-30' as as_of_date;
create table funnel_daily as select 1 as landed_persons, 1 as activated_persons, 1 as registered_persons,
    1 as account_opened_persons, 1 as card_bound_persons, 0 as first_purchase_persons,
    0 as repeat_purchase_persons;
create table channel_attribution as select ? as utm_source, 'first_touch' as attribution_model,
    3.0 as new_persons, 2.0 as registrations, 1.0 as accounts_opened, 1.0 as first_purchases,
    1000.0 as aum_cny;
create table lifecycle_daily as select date '2026-06-30' as as_of_date, 'growth' as lifecycle_stage,
    'mass' as value_tier, 1 as persons;
create table tags_value as select 5 as recency_score, 1 as frequency_score;
create table retention_weekly as select date '2026-06-01' as cohort_week, 0 as week_number,
    1 as cohort_persons, 1.0 as active_rate;
create table dq_results as select date '2026-06-30' as partition_date, 'raw' as suite, true as success,
    timestamp '2026-06-30 09:00' as validated_at;
create table segment_versions as select ? as segment, 1 as version, 1 as size, 'published' as status,
    timestamp '2026-06-30 09:00' as published_at;
"""


def test_a_cell_is_escaped_unless_it_is_markup_built_here():
    assert _cell(PAYLOAD) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert _cell('<b onclick="x">') == "&lt;b onclick=&quot;x&quot;&gt;"
    assert _cell(42) == "42"
    assert _cell(Markup("<span>1</span>")) == "<span>1</span>"


def test_a_hostile_utm_source_and_segment_name_come_out_escaped(tmp_path):
    db = tmp_path / "analytics.duckdb"
    con = duckdb.connect(str(db))
    for statement in TABLES.strip().split(";"):
        if statement.strip():
            con.execute(statement, [PAYLOAD] if "?" in statement else [])
    con.close()

    document = write_report(db, tmp_path / "reports").read_text(encoding="utf-8")

    assert "<script" not in document
    assert document.count(html.escape(PAYLOAD)) == 2  # the channel row and the segment row
    # the markup built here still renders: the heat cells and the quality result
    assert '<span class="ok">passed</span>' in document
    # lifecycle stage x tier, the 5 x 5 RFM grid, the one retention cell
    assert document.count(';padding:2px 6px">') == len(STAGES) * len(TIERS) + 5 * 5 + 1
