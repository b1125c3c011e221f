"""The analyst marts on the shared demo build: published in analytics.duckdb, consistent, plausible, under
published person ids and with k-anonymous quasi-identifiers; the HTML report is self-contained;
experiment results exist for split segments."""

import html
import re
import shutil
import subprocess

import duckdb
import pytest

pytestmark = pytest.mark.integration

MARTS = (
    "funnel_persons", "funnel_daily", "channel_attribution", "sessions", "page_transitions", "page_paths",
    "retention_weekly", "lifecycle_daily", "lifecycle_transitions_monthly", "experiment_results",
    "segment_versions", "segment_members", "segment_diffs", "person_profile", "dq_results",
)  # fmt: skip
STEPS = (
    "landed",
    "activated",
    "registered",
    "account_opened",
    "card_bound",
    "first_purchase",
    "repeat_purchase",
)


def test_analytics_holds_every_mart(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    tables = {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}
    sizes = {mart: con.execute(f"select count(*) from {mart}").fetchone()[0] for mart in MARTS}
    con.close()
    assert set(MARTS) <= tables
    assert [mart for mart, rows in sizes.items() if rows == 0] == []


def test_funnel_is_monotone_and_the_daily_cohorts_add_up_to_the_persons(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    per_person = con.execute(
        "select " + ", ".join(f"count({step}_at)" for step in STEPS) + " from funnel_persons"
    ).fetchone()
    daily = con.execute(
        "select " + ", ".join(f"sum({step}_persons)" for step in STEPS) + " from funnel_daily"
    ).fetchone()
    con.close()
    assert tuple(per_person) == tuple(daily)
    assert list(per_person) == sorted(per_person, reverse=True)  # each step a subset of the one before
    assert per_person[0] > 50 and per_person[5] > 0


def test_attribution_models_credit_the_same_persons_in_total(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    totals = dict(
        con.execute(
            "select attribution_model, round(sum(new_persons), 6) from channel_attribution group by 1"
        ).fetchall()
    )
    con.close()
    assert set(totals) == {"first_touch", "last_touch", "linear"}
    assert totals["first_touch"] == totals["last_touch"] == totals["linear"] > 0


def test_sessions_cover_every_valid_attributed_event(built_warehouse):
    warehouse = duckdb.connect(str(built_warehouse.layout.warehouse_db), read_only=True)
    (events,) = warehouse.execute(
        "select count(*) from main_intermediate.int_events_attributed where person_id is not null"
    ).fetchone()
    (in_sessions, sessions) = warehouse.execute(
        "select sum(events), count(*) from main_marts.sessions"
    ).fetchone()
    warehouse.close()
    assert in_sessions == events and sessions > 0


def test_the_health_summaries_agree_with_the_ledger_and_the_quarantine(built_warehouse):
    """source_deliveries: one row per source and ledger day, its rows as the load manifests count them;
    quarantine_summary: the quarantined lines per source, as many as the manifests' rows_quarantined;
    no column of either carries a file name or a loader message."""
    from orchestration.defs.quality.publish_gate import completeness_ledger

    layout = built_warehouse.layout
    con = duckdb.connect(str(layout.analytics_db), read_only=True)
    deliveries = con.execute("select source, cast(day as varchar), status from source_deliveries").fetchall()
    per_source = dict(
        con.execute("select source, sum(rows_quarantined) from source_deliveries group by 1").fetchall()
    )
    quarantined = dict(con.execute("select source, sum(lines) from quarantine_summary group by 1").fetchall())
    columns = {
        table: [c for (c,) in con.execute(f"select column_name from (describe {table})").fetchall()]
        for table in ("source_deliveries", "quarantine_summary", "identity_conflict_summary")
    }
    con.close()
    as_of = max(day for _, day, _ in deliveries)
    ledger = completeness_ledger(layout, as_of)
    assert sorted(deliveries) == sorted((d.source, d.day, d.status) for d in ledger)
    assert {source for source, _, _ in deliveries} == {"trade", "crm", "tracking"}
    assert sum(quarantined.values()) > 0
    assert {s: int(n) for s, n in per_source.items() if n} == {s: int(n) for s, n in quarantined.items()}
    assert columns["quarantine_summary"] == ["arrival_date", "source", "table_name", "reason", "lines"]
    assert columns["source_deliveries"] == [
        "source", "day", "status", "files", "lines_read", "rows_loaded", "rows_quarantined",
    ]  # fmt: skip
    assert columns["identity_conflict_summary"] == [
        "as_of_date",
        "conflict_reason",
        "identifier_type",
        "conflicts",
    ]


def test_experiment_results_exist_for_segments_split_into_test_and_control(built_warehouse):
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    rows = con.execute(
        "select segment, version, test_persons, control_persons, observed_days from experiment_results"
    ).fetchall()
    con.close()
    assert {segment for segment, *_ in rows} >= {"registered_never_invested"}
    # version 1 (as of the earlier build) has been observed for 14 days by the final build
    assert any(version == 1 and observed == 14 for _, version, _, _, observed in rows)
    assert all(test > 0 and control > 0 for _, _, test, control, _ in rows)


def test_the_html_report_is_self_contained_with_every_section(built_warehouse):
    """The report's sections are the boards marked ``report: true``, each panel drawn from rows (no failed
    query), in English and Chinese, with nothing fetched from elsewhere."""
    from orchestration.defs.publish.boards import load_boards

    reports = built_warehouse.layout.reports
    latest = (reports / "latest.html").read_text(encoding="utf-8")
    assert (reports / "fundcdp_report_2026-06-30.html").exists()
    boards = [found.board for found in load_boards()[0] if found.board.report]
    assert {b.id for b in boards} >= {"data_health", "acquisition_funnel", "channel_quality", "segments"}
    for board in boards:
        assert html.escape(board.title("en")) in latest
        for panel in board.panels:
            assert html.escape(panel.title("en")) in latest
    assert 'class="error"' not in latest and "No rows." not in latest
    # nothing fetched from elsewhere: no scripts, stylesheets or images by URL
    assert not re.search(r"<(script|link|img)\b", latest)
    assert not re.search(r"(src|href)=\"https?://", latest)
    charts = sum(p.chart.kind not in ("table", "metric") for b in boards for p in b.panels)
    assert latest.count("<svg") == charts and "<table>" in latest
    chinese = (reports / "latest.zh.html").read_text(encoding="utf-8")
    assert "数据健康" in chinese and chinese.count("<svg") == charts


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_report_renders_in_headless_chromium(built_warehouse, tmp_path):
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}", "--window-size=1100,2600",
         (built_warehouse.layout.reports / "latest.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one


def test_every_published_dbt_column_is_described(built_warehouse):
    """dbt docs (make docs) describe every column analysts get, person_profile's too (issue 33)."""
    import json

    from orchestration.defs.publish.analytics import ADDED_COLUMNS
    from orchestration.lib.paths import DBT_PARSE_TARGET_DIR

    manifest = json.loads((DBT_PARSE_TARGET_DIR / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")}
    con = duckdb.connect(str(built_warehouse.layout.analytics_db), read_only=True)
    tables = [name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()]
    missing = {
        (table, column)
        for table in tables
        if table in nodes
        for (column, *_) in con.execute(f"describe {table}").fetchall()
        if not nodes[table]["columns"].get(column, {}).get("description") and column not in ADDED_COLUMNS
    }
    con.close()
    assert len([t for t in tables if t in nodes]) >= 20
    assert missing == set()


def test_analysts_see_the_warehouse_persons_under_their_published_ids(built_warehouse):
    """The same persons with the same tags, through private.duckdb's mapping (which analysts lack)."""
    from orchestration.defs.privacy.pseudonyms import published_ids

    layout = built_warehouse.layout
    mapping = published_ids(layout.private_db)
    warehouse = duckdb.connect(str(layout.warehouse_db), read_only=True)
    expected = {
        (mapping[person], stage, tier)
        for person, stage, tier in warehouse.execute(
            "select person_id, lifecycle_stage, value_tier from main_marts.person_profile"
        ).fetchall()
    }
    sessions = warehouse.execute(
        "select person_id, session_number, events from main_marts.sessions"
    ).fetchall()
    warehouse.close()
    analytics = duckdb.connect(str(layout.analytics_db), read_only=True)
    published = set(
        analytics.execute("select person_id, lifecycle_stage, value_tier from person_profile").fetchall()
    )
    published_sessions = analytics.execute(
        "select session_id, person_id, session_number, events from sessions"
    ).fetchall()
    analytics.close()
    assert published == expected and len(published) > 300
    assert sorted((p, n, e) for _, p, n, e in published_sessions) == sorted(
        (mapping[p], n, e) for p, n, e in sessions
    )
    assert all(s == f"{p}-{n}" for s, p, n, _ in published_sessions)
    assert not set(mapping) & {p for p, *_ in published}  # no warehouse id among them


def test_quasi_identifiers_are_k_anonymous_and_no_birth_date_is_published(built_warehouse):
    from orchestration.defs.publish.analytics import k_anonymity, privacy_report

    layout = built_warehouse.layout
    k = k_anonymity()
    analytics = duckdb.connect(str(layout.analytics_db), read_only=True)
    columns = {
        c
        for (c,) in analytics.execute(
            "select distinct column_name from information_schema.columns"
        ).fetchall()
    }
    smallest = analytics.execute(
        "select min(n), count(*) filter (where n < ?) from (select count(*) as n from person_profile "
        "where coalesce(gender, province, birth_year_band) is not null or birth_year is not null "
        "group by gender, birth_year, birth_year_band, province, city)",
        [k],
    ).fetchone()
    codes = {c for (c,) in analytics.execute("select distinct tag_code from person_tags").fetchall()}
    analytics.close()
    warehouse = duckdb.connect(str(layout.warehouse_db), read_only=True)
    (before, persons) = warehouse.execute(
        "select min(n), sum(n) from (select count(*) as n from main_marts.person_profile "
        "where coalesce(gender, city) is not null or birth_date is not null "
        "group by gender, year(birth_date), city)"
    ).fetchone()
    warehouse.close()
    assert not columns & {
        "birth_date",
        "age",
        "days_until_birthday",
        "customer_no",
        "anchor_type",
        "login_id",
    }
    assert not codes & {"birth_date", "age", "days_until_birthday"} and "birth_year" in codes
    assert smallest[0] >= k and smallest[1] == 0
    report = privacy_report(layout.analytics_db)
    assert report["k"] == k == 5
    assert report["smallest_group_before"] == before < k  # unique combinations in the demo, before
    assert report["smallest_group_after"] == smallest[0]
    assert report["suppressed"] + report["year_generalised"] + report["city_generalised"] > 0
    assert persons > 200


def test_analysts_get_registration_months_no_account_age_no_experiment_group(built_warehouse):
    """registration_date to the first day of its month, account_age_days and split_group not at all;
    tag_catalog and tag_coverage list exactly the tags analysts get, with the published coverage."""
    from orchestration.defs.privacy.pseudonyms import published_ids

    layout = built_warehouse.layout
    mapping = published_ids(layout.private_db)
    warehouse = duckdb.connect(str(layout.warehouse_db), read_only=True)
    months = {
        mapping[p]: d.replace(day=1) if d else None
        for p, d in warehouse.execute(
            "select person_id, registration_date from main_marts.tags_basic"
        ).fetchall()
    }
    catalog = {c for (c,) in warehouse.execute("select tag_code from main_marts.tag_catalog").fetchall()}
    coverage = {c for (c,) in warehouse.execute("select tag_code from main_marts.tag_coverage").fetchall()}
    warehouse.close()
    given = {"age", "days_until_birthday", "account_age_days", "birth_date"}
    analytics = duckdb.connect(str(layout.analytics_db), read_only=True)
    try:
        columns = {
            c for (c,) in analytics.execute("select column_name from information_schema.columns").fetchall()
        }
        assert not columns & {"account_age_days", "split_group", "birth_date"}
        for table in ("tags_basic", "person_profile"):
            assert (
                dict(analytics.execute(f"select person_id, registration_date from {table}").fetchall())
                == months
            )
        assert dict(
            analytics.execute(
                "select person_id, tag_value::date from person_tags where tag_code = 'registration_date'"
            ).fetchall()
        ) == {p: m for p, m in months.items() if m is not None}
        tags = {c for (c,) in analytics.execute("select distinct tag_code from person_tags").fetchall()}
        published_catalog = {c for (c,) in analytics.execute("select tag_code from tag_catalog").fetchall()}
        assert published_catalog == catalog - given | {"birth_year"} and tags <= published_catalog
        published_coverage = dict(
            analytics.execute("select tag_code, persons_with_value from tag_coverage").fetchall()
        )
        assert set(published_coverage) == coverage - given | {"birth_year"}
        for code in ("gender", "province", "city", "birth_year"):
            (with_value,) = analytics.execute(f"select count({code}) from tags_basic").fetchone()
            assert published_coverage[code] == with_value, code
    finally:
        analytics.close()
