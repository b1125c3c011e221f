"""The dashboard app in a real browser: ``python -m orchestration.cli dashboards serve`` (Streamlit) over the
shared demo build's ``analytics.duckdb``, every board opened in Debian's chromium (driven by Playwright)
in English, and the funnel in Chinese too. Each board must draw every panel from rows: one chart per chart
panel with a drawn canvas or SVG, a metric or table for the others, and no failed query.

Screenshots go to ``$FUNDCDP_TEST_OUTPUT/dashboards/`` (default ``test-output/dashboards/``). Without
chromium the tests are skipped, unless ``FUNDCDP_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestration.dashboards.drawn import chart_panels, wait_until_drawn
from orchestration.defs.publish.boards import load_boards
from orchestration.lib.paths import PROJECT_ROOT
from tests.integration.test_ui import free_port, stop
from tests.integration.test_ui_browser import chromium_page

pytestmark = pytest.mark.integration

OUTPUT = Path(os.environ.get("FUNDCDP_TEST_OUTPUT", PROJECT_ROOT / "test-output")) / "dashboards"
BOARDS = [found.board for found in load_boards()[0]]


@pytest.fixture(scope="module")
def app(built_warehouse):
    """The app on a free port of 127.0.0.1 over the shared build's data directory (read-only)."""
    port = free_port()
    env = {
        **os.environ,
        "FUNDCDP_DATA_DIR": str(built_warehouse.layout.root),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "dashboards", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"the dashboard app did not start: {process.stderr.read().decode()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def page():
    with chromium_page(OUTPUT) as opened:
        yield opened


DRAWN = """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')].map(chart => {
    const drawn = chart.querySelector('canvas, svg.marks');
    return drawn ? drawn.getBoundingClientRect().width * drawn.getBoundingClientRect().height : 0;
})"""


def open_board(page, url: str, board, language: str) -> tuple[str, list[tuple[int, int]]]:
    """The board's page text once every panel is drawn, and its panels' (rows, query ms)."""
    page.goto(f"{url}/?board={board.id}&lang={language}")
    captions = wait_until_drawn(page, board)
    return page.locator("[data-testid=stMain]").first.inner_text(), captions


def shoot(page, name: str) -> None:
    """The whole board: Streamlit scrolls inside its main block, so the window grows to its height first."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": min(max(height, 1000), 12_000)})
    page.wait_for_timeout(500)  # the charts follow the container's width
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1600, "height": 1000})


@pytest.mark.parametrize("board", BOARDS, ids=[b.id for b in BOARDS])
def test_every_board_draws_every_panel_from_rows(app, page, board):
    text, captions = open_board(page, app, board, "en")
    assert board.title("en") in text
    assert len(captions) == len(board.panels) and all(rows > 0 for rows, _ in captions), captions
    areas = page.evaluate(DRAWN)
    assert len(areas) == chart_panels(board) and all(area > 10_000 for area in areas), areas
    assert page.locator("[data-testid=stTable]").count() == sum(p.chart.kind == "table" for p in board.panels)
    assert page.locator("[data-testid=stMetric]").count() == sum(
        p.chart.kind == "metric" for p in board.panels
    )
    assert page.locator("[data-testid=stAlert]").count() == 0  # no failed query, no missing file
    # the page fits a 1,600 px screen
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1600
    shoot(page, f"{board.id}_en")


def test_the_funnel_board_in_chinese_names_steps_and_stages_from_the_glossary(app, page):
    board = next(b for b in BOARDS if b.id == "acquisition_funnel")
    text, captions = open_board(page, app, board, "zh")
    assert len(captions) == len(board.panels)
    assert "获客漏斗" in text and "各步骤人数" in text
    # the metric's label is the glossary's step name, the captions Chinese; no English label left
    assert "落地访问" in text and "Landed" not in text and "rows ·" not in text
    shoot(page, "acquisition_funnel_zh")
