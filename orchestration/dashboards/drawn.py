"""When a page of the dashboard app is drawn, as a browser sees it: what the browser test and the render
benchmark wait for (bench/dashboard_bench.py, tests/integration/test_dashboards_browser.py).

The app ends every panel with a caption "<rows> rows · <ms> ms" ("<rows> 行 · <ms> 毫秒" in Chinese), and
draws each chart panel into a Vega-Lite element holding a canvas or an SVG of marks.
"""

from __future__ import annotations

import re

CAPTION = re.compile(r"^(\d[\d,]*) (?:rows|行) · (\d+) (?:ms|毫秒)")
_CAPTIONS = (
    "n => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
    ".filter(e => / (rows|行) · /.test(e.innerText)).length >= n"
)
_CHARTS = (
    "n => document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, "
    "[data-testid=stVegaLiteChart] svg.marks').length >= n"
)


def chart_panels(board) -> int:
    return sum(panel.chart.kind not in ("table", "metric") for panel in board.panels)


def wait_until_drawn(page, board, timeout_ms: int = 90_000) -> list[tuple[int, int]]:
    """Wait until every panel of ``board`` has its caption and every chart panel with rows its canvas; the
    captions' (rows, query ms), in panel order."""
    page.wait_for_function(_CAPTIONS, arg=len(board.panels), timeout=timeout_ms)
    texts = page.locator("[data-testid=stCaptionContainer]").all_inner_texts()
    found = [CAPTION.match(text.strip()) for text in texts]
    captions = [(int(m.group(1).replace(",", "")), int(m.group(2))) for m in found if m]
    drawn = sum(
        1
        for panel, (rows, _) in zip(board.panels, captions, strict=False)
        if rows and panel.chart.kind not in ("table", "metric")
    )
    page.wait_for_function(_CHARTS, arg=drawn, timeout=timeout_ms)
    return captions
