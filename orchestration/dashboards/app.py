"""The dashboard app: ``make dashboards`` (``python -m orchestration.cli dashboards serve``) runs it with
Streamlit on http://127.0.0.1:8501 (``FUNDCDP_DASHBOARDS_PORT``).

Every board of ``dashboards/builtin/`` and ``dashboards/`` (:mod:`orchestration.defs.publish.boards`) is
a page, chosen in the sidebar or by ``?board=<id>``; ``?lang=zh`` or ``?lang=en`` picks the language.
The app reads ``analytics.duckdb`` of ``FUNDCDP_DATA_DIR`` on a read-only connection opened for one
page and closed after it, so it never blocks the pipeline: publishing swaps a new file in and the next
page reads it. Charts are drawn by Streamlit's bundled Vega: nothing is loaded from the network.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

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
from orchestration.lib.layout import DataLayout

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
UI = {
    "title": {"en": "fundcdp dashboards", "zh": "fundcdp 数据看板"},
    "as_of": {
        "en": "Data as of {as_of}, published {published}",
        "zh": "数据日期 {as_of}，发布于 {published}",
    },
    "missing": {
        "en": "No analytics.duckdb at {path}: run the pipeline first (make run).",
        "zh": "{path} 下没有 analytics.duckdb：请先运行数据流水线（make run）。",
    },
    "invalid": {"en": "Board files with problems", "zh": "有问题的看板文件"},
    "rows": {"en": "{rows} rows · {ms} ms", "zh": "{rows} 行 · {ms} 毫秒"},
    "truncated": {"en": "only the first {rows} rows are shown", "zh": "仅显示前 {rows} 行"},
    "failed": {"en": "This panel's query failed: {error}", "zh": "该面板的查询失败：{error}"},
    "empty": {"en": "No rows.", "zh": "没有数据。"},
    "change": {"en": "vs previous", "zh": "较前值"},
}


def ui(key: str, language: str, **values) -> str:
    return UI[key][language].format(**values)


def analytics_db() -> Path:
    return DataLayout.at(os.environ.get("FUNDCDP_DATA_DIR") or "data").analytics_db


def _table(panel: Panel, data: PanelData, glossary: Glossary, language: str) -> None:
    records = translated(panel, data, glossary, language)
    frame = pd.DataFrame.from_records(records, columns=data.columns)
    for column in data.columns:
        percent = column in panel.chart.percent
        frame[column] = [format_value(v, percent) for v in frame[column]]
    frame.columns = [glossary.column(panel, c, language) for c in data.columns]
    st.table(frame, hide_index=True)


def render_panel(panel: Panel, data: PanelData, glossary: Glossary, language: str, ms: int) -> None:
    """The panel's title, note and chart (or table, or metric), then its caption "<rows> rows · <ms> ms",
    also for an empty or failed panel: the page is drawn when every panel has one (drawn.py)."""
    st.subheader(panel.title(language))
    if panel.note:
        st.caption(panel.note(language))
    kind = panel.chart.kind
    if data.error:
        st.warning(ui("failed", language, error=data.error))
    elif not data.rows:
        st.info(ui("empty", language))
    elif kind == "metric":
        value, change = metric(panel, data)
        percent = panel.chart.value in panel.chart.percent
        st.metric(
            glossary.column(panel, panel.chart.value, language),
            format_value(value, percent),
            None if change is None else f"{format_value(change, percent)} {ui('change', language)}",
        )
    elif kind == "table":
        _table(panel, data, glossary, language)
    else:
        st.vega_lite_chart(vega_lite(panel, data, glossary, language, width="container"), width="stretch")
    note = ui("rows", language, rows=len(data.rows), ms=ms)
    if data.truncated:
        note += " · " + ui("truncated", language, rows=len(data.rows))
    st.caption(note)


def render_board(board: Board, path: Path, language: str) -> None:
    con = board_connection(path)
    try:
        glossary = Glossary.load(con)
        as_of = con.execute("select max(as_of_date) from person_profile").fetchone()[0]
        st.title(board.title(language))
        published = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        st.caption(ui("as_of", language, as_of=as_of, published=published))
        if board.description:
            st.write(board.description(language))
        for panel in board.panels:
            started = time.perf_counter()
            data = run_panel(con, panel)
            render_panel(panel, data, glossary, language, round((time.perf_counter() - started) * 1000))
    finally:
        con.close()


def main() -> None:
    st.set_page_config(page_title="fundcdp", layout="wide")
    params = st.query_params
    language = params.get("lang", "zh")
    language = language if language in LANGUAGE_NAMES else "zh"
    boards, problems = load_boards()
    with st.sidebar:
        language = st.radio(
            "语言 / Language",
            list(LANGUAGE_NAMES),
            index=list(LANGUAGE_NAMES).index(language),
            format_func=LANGUAGE_NAMES.get,
            horizontal=True,
        )
        ids = [f.board.id for f in boards]
        if not ids:
            st.error(ui("invalid", language) + "\n\n" + "\n\n".join(str(p) for p in problems))
            return
        chosen = params.get("board", ids[0] if ids else None)
        chosen = chosen if chosen in ids else (ids[0] if ids else None)
        titles = {f.board.id: f.board.title(language) for f in boards}
        chosen = st.radio(ui("title", language), ids, index=ids.index(chosen) if chosen else 0,
                          format_func=titles.get)  # fmt: skip
        if problems:
            st.error(ui("invalid", language) + "\n\n" + "\n\n".join(str(p) for p in problems))
    params["lang"], params["board"] = language, chosen
    path = analytics_db()
    if not path.exists():
        st.warning(ui("missing", language, path=path.parent))
        return
    board = next(f.board for f in boards if f.board.id == chosen)
    render_board(board, path, language)


if __name__ == "__main__":  # `streamlit run` runs the file as __main__
    main()
