"""Dashboard board files: the shipped ones are valid, a broken one is refused with its file, path and reason,
a board's SQL cannot leave the published tables, and the Vega-Lite spec carries the labels in the chosen
language (orchestration/defs/publish/boards.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.defs.publish.boards import (
    BUILTIN_DIR,
    BoardError,
    BoardSQLRefused,
    Glossary,
    Panel,
    PanelData,
    board_connection,
    check_board_sql,
    format_value,
    load_board,
    load_boards,
    metric,
    run_panel,
    vega_lite,
)
from orchestration.lib.paths import PROJECT_ROOT

BOARD = """
id: {id}
title: {{en: Test board, zh: 测试看板}}
panels:
  - id: per_stage
    title: {{en: Persons per stage, zh: 各阶段人数}}
    sql: {sql}
    chart: {chart}
"""
SQL = "select lifecycle_stage, count(*) as persons from person_profile group by 1"
CHART = "{kind: bar, x: lifecycle_stage, y: persons}"


def write(tmp_path: Path, name: str = "test_board", sql: str = SQL, chart: str = CHART, **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    text = BOARD.format(id=fields.get("id", name), sql=sql, chart=chart)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_boards_and_the_example_are_valid():
    boards, problems = load_boards([BUILTIN_DIR, PROJECT_ROOT / "dashboards"])
    assert problems == []
    ids = [found.board.id for found in boards]
    assert set(ids) >= {
        "data_health", "acquisition_funnel", "channel_quality", "lifecycle_value", "rfm", "retention",
        "segments", "identity", "experiments", "high_net_worth_by_age_band",
    }  # fmt: skip
    assert ids[0] == "data_health"  # by position: the health board first
    example = next(found for found in boards if found.board.id == "high_net_worth_by_age_band")
    assert not example.builtin and example.path.parent == PROJECT_ROOT / "dashboards"


@pytest.mark.parametrize(
    ("sql", "chart", "path", "reason"),
    [
        ("select 1 as persons; select 2", CHART, "panels.0.sql", "2 statements, not exactly one SELECT"),
        ("delete from person_profile", CHART, "panels.0.sql", "not a SELECT but DELETE"),
        ("attach '/tmp/x.duckdb' as x", CHART, "panels.0.sql", "not a SELECT but ATTACH"),
        ("select * from read_csv('/etc/passwd')", CHART, "panels.0.sql", "a board reads published tables"),
        ("select * from warehouse.main.persons", CHART, "panels.0.sql", "only the main schema is published"),
        ("select * from int_identity_links", CHART, "panels.0.sql", "analytics.duckdb does not publish"),
        ("select getenv('HOME') as persons", CHART, "panels.0.sql", "calls getenv()"),
        (SQL, "{kind: bar, x: stage, y: persons}", "panels.0.chart", "names stage, which the query"),
        (SQL, "{kind: heatmap, x: lifecycle_stage, y: persons}", "panels.0.chart", "needs value"),
        (SQL, "{kind: pie, x: lifecycle_stage, y: persons}", "panels.0.chart.kind", "Input should be"),
    ],
)
def test_a_broken_board_is_refused_with_its_file_path_and_reason(tmp_path, sql, chart, path, reason):
    file = write(tmp_path, sql=f'"{sql}"', chart=chart)
    with pytest.raises(BoardError) as refused:
        load_board(file)
    assert refused.value.file == str(file)
    assert refused.value.path == path
    assert reason in refused.value.reason


def test_one_broken_file_stops_only_itself_and_ids_follow_file_names(tmp_path):
    write(tmp_path, "good_one")
    write(tmp_path, "bad_one", sql='"drop table persons"')
    write(tmp_path, "named_wrong", id="something_else")
    (tmp_path / "_notes.yaml").write_text("not: a board\n", encoding="utf-8")  # "_" files are not boards
    boards, problems = load_boards([tmp_path])
    assert [found.board.id for found in boards] == ["good_one"]
    assert sorted((Path(p.file).name, p.path) for p in problems) == [
        ("bad_one.yaml", "panels.0.sql"),
        ("named_wrong.yaml", "id"),
    ]


def test_a_query_with_ctes_windows_and_unions_over_published_tables_passes():
    sql = (
        "with s as (select lifecycle_stage, count(*) as n from person_profile group by 1) "
        "select lifecycle_stage, n, n / sum(n) over () as share from s "
        "union all select 'all', count(*), 1.0 from tags_value"
    )
    assert check_board_sql(sql) is None  # a set operation: its columns are left to the database
    assert check_board_sql("select a.x as y, count(*) as n from funnel_daily as a group by 1") == ["y", "n"]
    with pytest.raises(BoardSQLRefused, match="does not publish"):
        check_board_sql("with s as (select * from person_identifiers) select * from s")


def test_a_query_the_checks_missed_still_cannot_read_files(tmp_path):
    """The second line: the boards' connection is read-only with external access disabled."""
    db = tmp_path / "analytics.duckdb"
    duckdb.connect(str(db)).execute(
        "create table person_profile as select 'growth' as lifecycle_stage"
    ).close()
    con = board_connection(db)
    try:
        with pytest.raises(duckdb.Error, match="Permission"):
            con.execute("select * from read_csv('/etc/passwd')")
        with pytest.raises(duckdb.Error):
            con.execute("create table x as select 1")
        panel = Panel.model_validate(
            {
                "id": "p",
                "title": "p",
                "sql": SQL,
                "chart": {"kind": "bar", "x": "lifecycle_stage", "y": "persons"},
            }
        )
        assert run_panel(con, panel) == PanelData(["lifecycle_stage", "persons"], [("growth", 1)])
        missing = Panel.model_validate({**panel.model_dump(), "sql": "select * from tags_value"})
        assert "tags_value" in run_panel(con, missing).error  # shown in place of the chart, not raised
    finally:
        con.close()


def test_the_spec_speaks_the_chosen_language_and_keeps_the_step_order():
    glossary = Glossary.load()
    glossary.tags["lifecycle_stage"] = glossary.terms["persons"].model_copy(
        update={"en": "Lifecycle stage", "zh": "生命周期阶段"}
    )
    panel = Panel.model_validate(
        {
            "id": "p",
            "title": {"en": "Stages", "zh": "阶段"},
            "sql": SQL,
            "chart": {"kind": "bar", "x": "lifecycle_stage", "y": "persons", "order": ["growth", "mature"]},
        }
    )
    data = PanelData(["lifecycle_stage", "persons"], [("mature", 7), ("growth", 3)])
    zh = vega_lite(panel, data, glossary, "zh")
    assert zh["data"]["values"] == [
        {"lifecycle_stage": "成熟期", "persons": 7},
        {"lifecycle_stage": "成长期", "persons": 3},
    ]
    assert zh["encoding"]["x"]["title"] == "生命周期阶段"  # the tag catalog's name
    assert zh["encoding"]["x"]["sort"] == ["成长期", "成熟期"]
    assert zh["encoding"]["y"] == {**zh["encoding"]["y"], "type": "quantitative", "title": "人数"}
    en = vega_lite(panel, data, glossary, "en")
    assert (
        en["data"]["values"][0]["lifecycle_stage"] == "Mature"
        and en["encoding"]["x"]["title"] == "Lifecycle stage"
    )


def test_a_metric_carries_its_change_against_the_previous_value():
    panel = Panel.model_validate(
        {
            "id": "m",
            "title": "m",
            "sql": "select 1 as n",
            "chart": {"kind": "metric", "value": "n", "previous": "p"},
        }
    )
    assert metric(panel, PanelData(["n", "p"], [(12, 9)])) == (12, 3)
    assert metric(panel, PanelData(["n", "p"], [(12, None)])) == (12, None)
    assert format_value(0.1234, percent=True) == "12.3%"
    assert format_value(98.0) == "98" and format_value(2.5) == "2.50" and format_value(1234567) == "1,234,567"


@pytest.mark.parametrize(
    "sql",
    [
        # a CTE's name does not make the catalog object of that name readable
        "with pg_settings as (select * from pg_settings) select name from pg_settings",
        "select * from (with duckdb_databases as (select 1) select * from duckdb_databases) as x,"
        " duckdb_databases",
        "with a as (select * from sqlite_master), sqlite_master as (select 1) select * from a",
    ],
)
def test_a_cte_cannot_shadow_its_way_to_an_unpublished_table(sql):
    with pytest.raises(BoardSQLRefused, match="does not publish"):
        check_board_sql(sql)


def test_a_runaway_query_is_interrupted_and_odd_types_become_text(tmp_path):
    db = tmp_path / "analytics.duckdb"
    duckdb.connect(str(db)).execute("create table tags_value as select 1 as n").close()
    con = board_connection(db)
    try:
        forever = Panel.model_validate(
            {
                "id": "p",
                "title": "p",
                "sql": "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) as c "
                "from r, tags_value",
                "chart": {"kind": "table"},
            }
        )
        assert run_panel(con, forever, seconds=1).error == "interrupted after 1 s"
        odd = Panel.model_validate(
            {
                "id": "q",
                "title": "q",
                "sql": "select interval 3 day as i, [1, 2] as l, n from tags_value",
                "chart": {"kind": "table"},
            }
        )
        assert run_panel(con, odd).records() == [{"i": "3 days, 0:00:00", "l": "[1, 2]", "n": 1}]
        assert check_board_sql("select count(*), n::int from tags_value") is None  # DuckDB names them
    finally:
        con.close()
    words = Panel.model_validate(
        {
            "id": "m",
            "title": "m",
            "sql": "select 1 as n",
            "chart": {"kind": "metric", "value": "n", "previous": "p"},
        }
    )
    assert metric(words, PanelData(["n", "p"], [("2026-06-30", "2026-06-29")])) == ("2026-06-30", None)
