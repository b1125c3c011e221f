"""The daily HTML report: the e-mailable summary of the published analytics, rendered from the same board
definitions as the dashboard app (:mod:`orchestration.defs.publish.boards`, the boards marked
``report: true``), in English and in Chinese.

Self-contained: inline CSS, charts as inline SVG rendered by vl-convert from the boards' Vega-Lite specs,
no script, no CDN; it opens offline and in a mail client. Every value from the data (a utm source typed
by a web visitor, a segment name) is escaped: in tables by :func:`_cell`, in the charts by Vega's SVG
renderer. A panel whose query fails on this file shows the database's message instead of its chart.
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

from orchestration.defs.publish.boards import (
    Board,
    Glossary,
    Panel,
    PanelData,
    board_connection,
    format_value,
    load_boards,
    metric,
    run_panel,
    translated,
    vega_lite,
)
from orchestration.lib.layout import analyst_dir_mode, analyst_file_mode

CHART_WIDTH = 820  # px of a chart's plot; the page is at most 1,200 px wide (fits 1,600 px screens)
CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;margin:24px auto;
max-width:1200px;color:#1f2933;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 4px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #d9e2ec;padding:4px 8px;text-align:right}th{background:#f0f4f8}
td.l,th.l{text-align:left}.note{color:#627d98;font-size:12px}.metric{font-size:26px;margin:4px 0}
.up{color:#1b7f3b;font-size:14px}.down{color:#c62828;font-size:14px}.error{color:#c62828}
.chart{overflow-x:auto;max-width:100%}
"""
TEXT = {
    "title": {"en": "fundcdp report, as of {as_of}", "zh": "fundcdp 日报，数据日期 {as_of}"},
    "intro": {
        "en": "{persons:,} persons. Built from analytics.duckdb, the same boards as the dashboard app "
        "(make dashboards); every figure is as of the date above.",
        "zh": "共 {persons:,} 人。由 analytics.duckdb 生成，与数据看板（make dashboards）同一套看板定义；"
        "所有数字均以上述数据日期为准。",
    },
    "other": {"en": "中文版", "zh": "English"},
    "failed": {"en": "query failed: {error}", "zh": "查询失败：{error}"},
    "empty": {"en": "No rows.", "zh": "没有数据。"},
    "previous": {"en": "vs previous", "zh": "较前值"},
    "truncated": {"en": "first {rows} rows", "zh": "前 {rows} 行"},
}


class Markup(str):
    """HTML built by this module from values it formatted itself (numbers, its own labels): inserted as
    is. Every other value — a utm source typed by a web visitor, a segment name — is text, escaped."""


def _cell(value) -> str:
    """A table cell's content: :class:`Markup` as is, anything else escaped (``<``, ``>``, ``&``, quotes)."""
    return value if isinstance(value, Markup) else html.escape(str(value))


def _table(headers: list[str], rows: list[list], left: int = 1) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{_cell(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _svg(spec: dict) -> str:
    """The chart as SVG; without tooltips and ARIA labels per mark, which a static page cannot show and
    which would make up most of its bytes."""
    import vl_convert

    spec = {**spec, "config": {**spec.get("config", {}), "aria": False}}
    spec.get("encoding", {}).pop("tooltip", None)
    return vl_convert.vegalite_to_svg(spec)


def _panel(panel: Panel, data: PanelData, glossary: Glossary, language: str) -> str:
    parts = [f"<h3>{html.escape(panel.title(language))}</h3>"]
    if panel.note:
        parts.append(f'<p class="note">{html.escape(panel.note(language))}</p>')
    if data.error:
        error = TEXT["failed"][language].format(error=data.error)
        return "".join(parts) + f'<p class="error">{html.escape(error)}</p>'
    if not data.rows:
        return "".join(parts) + f'<p class="note">{TEXT["empty"][language]}</p>'
    chart = panel.chart
    if chart.kind == "metric":
        value, change = metric(panel, data)
        percent = chart.value in chart.percent
        shown = html.escape(format_value(value, percent))
        if change is not None:
            arrow, css = ("▲", "up") if change > 0 else ("▼", "down") if change < 0 else ("=", "note")
            delta = html.escape(f"{format_value(change, percent)} {TEXT['previous'][language]}")
            shown += f' <span class="{css}">{arrow} {delta}</span>'
        label = html.escape(glossary.column(panel, chart.value, language))
        parts.append(f'<p class="note">{label}</p><p class="metric">{shown}</p>')
    elif chart.kind == "table":
        headers = [glossary.column(panel, c, language) for c in data.columns]
        rows = [
            [format_value(record[c], c in chart.percent) for c in data.columns]
            for record in translated(panel, data, glossary, language)
        ]
        parts.append(_table(headers, rows, left=1))
    else:
        spec = vega_lite(panel, data, glossary, language, CHART_WIDTH)
        parts.append(f'<div class="chart">{_svg(spec)}</div>')
    if data.truncated:
        parts.append(f'<p class="note">{TEXT["truncated"][language].format(rows=len(data.rows))}</p>')
    return "".join(parts)


def _safe_panel(panel: Panel, data: PanelData, glossary: Glossary, language: str) -> str:
    """:func:`_panel`, or the panel with its error when drawing it fails: one odd board never stops the
    report (nor the publish step around it)."""
    try:
        return _panel(panel, data, glossary, language)
    except Exception as problem:  # a chart the renderer refuses, a value it cannot take
        failed = PanelData([], [], error=f"{type(problem).__name__}: {str(problem).splitlines()[0][:200]}")
        return _panel(panel, failed, glossary, language)


def render_report(analytics_db: Path, boards: list[Board], language: str, other_href: str) -> tuple[str, str]:
    """The report's HTML in ``language`` and its as-of date."""
    con = board_connection(analytics_db)
    try:
        glossary = Glossary.load(con)
        try:
            as_of, persons = con.execute("select max(as_of_date), count(*) from person_profile").fetchone()
        except duckdb.Error:
            as_of, persons = None, 0
        as_of = as_of or "unknown"
        sections = []
        for board in boards:
            section = [f"<h2>{html.escape(board.title(language))}</h2>"]
            if board.description:
                section.append(f'<p class="note">{html.escape(board.description(language))}</p>')
            for panel in board.panels:
                section.append(_safe_panel(panel, run_panel(con, panel), glossary, language))
            sections.append("".join(section))
    finally:
        con.close()
    title = TEXT["title"][language].format(as_of=as_of)
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="note">{html.escape(TEXT["intro"][language].format(persons=persons))}'
        f' · <a href="{html.escape(other_href)}">{TEXT["other"][language]}</a></p>' + "".join(sections)
    )
    lang = "zh-CN" if language == "zh" else "en"
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )
    return document, str(as_of)


def write_report(analytics_db: Path, directory: Path) -> Path:
    """Render the report of the boards marked ``report: true`` from ``analytics.duckdb`` into
    ``directory``, in English (``fundcdp_report_<as-of>.html``, ``latest.html``) and Chinese
    (``….zh.html``); returns the English file."""
    boards = [found.board for found in load_boards()[0] if found.board.report]
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    english = None
    for language, suffix, other in (("en", ".html", ".zh.html"), ("zh", ".zh.html", ".html")):
        document, as_of = render_report(analytics_db, boards, language, f"latest{other}")
        dated = directory / f"fundcdp_report_{as_of}{suffix}"
        latest = directory / f"latest{suffix}"
        for path in (dated, latest):
            path.write_text(document, encoding="utf-8")
            written.append(path)
        english = english or dated
    # What an analyst reads: 0600 in 0700, or 0640 in 0750 with FUNDCDP_ANALYTICS_GROUP_READABLE.
    directory.chmod(analyst_dir_mode())
    for path in written:
        path.chmod(analyst_file_mode())
    return english
