"""The analysts' HTML report, rendered from the boards marked ``report: true``: it escapes every value it
did not build itself (a utm source typed by a web visitor, a segment name cannot inject markup or script,
neither in a table nor in a chart's SVG), and a panel whose table is missing shows why instead of failing
the report."""

from __future__ import annotations

import html

import duckdb

from orchestration.defs.publish.report import Markup, _cell, write_report

PAYLOAD = "<script>alert(1)</script>"
TABLES = """
create table person_profile as select date '2026-06-30' as as_of_date;
create table channel_attribution as select ? as utm_source, 'spring' as utm_campaign,
    'first_touch' as attribution_model, 3.0 as new_persons, 2.0 as registrations, 1.0 as accounts_opened,
    1.0 as first_purchases, 1000.0 as aum_cny;
create table segment_versions as select ? as segment, 1 as version, date '2026-06-30' as as_of_date,
    'blocked' as status, 5 as size, 5 as entered, 0 as exited, 'size changed by 400 %' as blocked_reason,
    0 as excluded_no_consent, 0 as excluded_unsuitable, 0 as excluded_no_customer_number,
    0 as excluded_quarantined, timestamp '2026-06-30 09:00' as published_at;
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

    english = write_report(db, tmp_path / "reports")
    document = english.read_text(encoding="utf-8")

    assert english.name == "fundcdp_report_2026-06-30.html"
    assert "<script" not in document
    escaped = html.escape(PAYLOAD)
    # the campaigns table and the segments' latest attempt (with why it was blocked): escaped cells
    assert f'<td class="l">{escaped}</td>' in document
    assert "size changed by 400 %" in document
    # the AUM bar chart's SVG labels the bar with the text, escaped by Vega's SVG renderer
    svgs = document.split("<svg")[1:]
    assert any("&lt;script&gt;" in svg for svg in svgs)
    # the tables this file lacks: the panel says so, the rest of the report is there
    assert document.count('<p class="error">') >= 10 and "funnel_daily" in document
    chinese = (tmp_path / "reports" / "latest.zh.html").read_text(encoding="utf-8")
    assert "<script" not in chinese and "渠道质量" in chinese and 'href="latest.html"' in chinese
