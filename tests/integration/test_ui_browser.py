"""The Dagster UI in a real browser: Debian's chromium, driven by Playwright (never Playwright's own browser
download), opens the webserver serving the built demo warehouse's instance and checks what a data engineer
looks at first: the asset groups (one per layer), a run of the daily job, and the segments' metadata.

Screenshots go to ``$FUNDCDP_TEST_OUTPUT/browser/`` (default ``test-output/browser/`` in the checkout).
Without chromium the tests are skipped, unless ``FUNDCDP_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which
installs it), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestration.lib.layout import DataLayout
from orchestration.lib.paths import PROJECT_ROOT
from tests.conftest import environment
from tests.integration.test_ui import running_webserver
from tests.operations_dataset import DAY2

pytestmark = pytest.mark.integration

OUTPUT = Path(os.environ.get("FUNDCDP_TEST_OUTPUT", PROJECT_ROOT / "test-output")) / "browser"
# Chromium on a closed network: no background connections (each would be refused), a fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The layers and stages as Dagster groups (dbt folders' meta.dagster.group and the Python stages).
GROUPS = ("staging", "intermediate", "identity", "tags", "analytics", "segments", "quality", "ml", "publish")
LOCATION = "__repository__@fundcdp"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("FUNDCDP_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def ui(ops, tmp_path_factory):
    """The webserver on a copy of the operations dataset after its two daily runs (its Dagster instance
    included: the load and build of the base day, then the daily job's runs; tests/operations_dataset.py)."""
    layout = DataLayout.at(tmp_path_factory.mktemp("browser") / "data")
    shutil.copytree(ops["daily"].root, layout.root)
    env = {**os.environ, **environment(layout)}
    env.pop("FUNDCDP_DAILY_RUN_AT", None)
    with running_webserver(env) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def chromium_page(output: Path) -> Iterator:
    """A page of Debian's chromium (headless, 1,600 × 1,000) driven by Playwright; ``output`` made for its
    screenshots."""
    executable = chromium()
    from playwright.sync_api import sync_playwright

    output.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        yield context.new_page()
        browser.close()


@pytest.fixture(scope="module")
def page():
    with chromium_page(OUTPUT) as opened:
        yield opened


def wait_for_text(page, *texts: str) -> str:
    """Wait until the page shows every one of ``texts``; its text then."""
    page.wait_for_function(
        "texts => texts.every(text => document.body.innerText.includes(text))",
        arg=list(texts),
        timeout=60_000,
    )
    return page.locator("body").inner_text()


def visit(page, url: str, *ready_texts: str) -> str:
    """Open ``url``, wait for ``ready_texts`` and close Dagster's first-visit newsletter dialog: the page's
    text."""
    page.goto(url)
    text = wait_for_text(page, *ready_texts)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()
    return text


def shoot(page, name: str) -> Path:
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_asset_groups_are_the_layers(ui, page):
    tree = visit(page, f"{ui}/asset-groups", "staging", "segments")
    shown = {line.strip() for line in tree.splitlines()}
    assert set(GROUPS) <= shown, sorted(set(GROUPS) - shown)
    assert "default" not in shown  # nothing left in Dagster's default group
    assert "macro_checks" not in shown  # the fixture models are not assets
    assert shoot(page, "asset_groups").stat().st_size > 0


def test_every_run_is_a_named_job(ui, page):
    """The daily runs (the command line's, as the schedule's) are runs of the named daily job, listed in the
    UI's runs; none is Dagster's ephemeral asset job (tests/unit/test_named_jobs.py: the load and build)."""
    text = visit(page, f"{ui}/runs", "fundcdp_daily", DAY2)
    assert "__ephemeral_asset_job__" not in text
    shoot(page, "runs")


def test_a_run_of_the_daily_job_is_listed_on_its_page(ui, page):
    text = visit(page, f"{ui}/locations/{LOCATION}/jobs/fundcdp_daily/runs", "job:fundcdp_daily", "Success")
    assert "No runs found" not in text
    shoot(page, "daily_job_runs")
    # the newest run's page (the run id links to it): its event log ends in the run's success
    href = page.locator("a[href^='/runs/']").first.get_attribute("href")
    page.goto(f"{ui}{href}")
    wait_for_text(page, "fundcdp_daily", "RUN_SUCCESS")
    shoot(page, "daily_job_run")


def test_the_segments_asset_shows_its_metadata(ui, page):
    """The latest materialization of the segments asset for the as-of date, with its summary metadata."""
    text = visit(
        page, f"{ui}/assets/segments?view=events&partition={DAY2}", "as_of_date", "published", "blocked"
    )
    assert DAY2 in text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    published = lines[lines.index("published") + 1]
    assert published.isdigit() and int(published) > 0, published
    shoot(page, "segments_metadata")
