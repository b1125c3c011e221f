"""GX Data Docs work offline (issue 33): every stylesheet and script is a vendored copy inside the site, and
each validation is listed under its run's name (as-of date and run id), not GX's ``__none__``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest

from orchestration.defs.quality.gx_runner import (
    CDN_ASSETS,
    DATA_DOCS_ASSETS_DIR,
    build_data_docs,
    data_docs_run_name,
    make_data_docs_offline,
    validate_frame,
)

RUNS = {
    # suite -> (as-of date, Dagster run id)
    "offline_orders": ("2026-06-30", "1a2b3c4d-0000-4000-8000-000000000001"),
    "offline_events": ("2026-06-29", "9f8e7d6c-0000-4000-8000-000000000002"),
}
ASSET_REFERENCE = re.compile(r"<(link|script)\b[^>]*?\b(?:href|src)=[\"']([^\"']+)[\"']", re.IGNORECASE)


def write_suite(path: Path) -> Path:
    expectations = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "order_id"}}]
    path.write_text(json.dumps({"name": path.stem, "expectations": expectations}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("data_docs_offline")
    frame = pd.DataFrame({"order_id": ["O1", None, "O3"]})
    for suite, (as_of, run_id) in RUNS.items():
        validate_frame(
            write_suite(workdir / f"{suite}.json"),
            frame,
            workdir / "gx",
            run_name=data_docs_run_name(as_of, run_id),
        )
    return build_data_docs(workdir / "gx")


def stylesheets_and_scripts(page: Path) -> list[str]:
    """The addresses of the page's stylesheets and external scripts."""
    references = []
    for tag, address in ASSET_REFERENCE.findall(page.read_text(encoding="utf-8")):
        if tag.lower() == "link" or address:
            references.append(address)
    return references


def test_the_run_name_is_the_as_of_date_and_the_short_run_id():
    assert data_docs_run_name("2026-06-30", "1a2b3c4d-0000-4000-8000-000000000001") == "2026-06-30_1a2b3c4d"


def test_the_index_loads_no_stylesheet_or_script_from_the_network(index):
    references = stylesheets_and_scripts(index)
    assert len(references) >= len(set(CDN_ASSETS.values())) - 1  # the index lacks only the page-only CSS
    assert [address for address in references if re.match(r"(?i)https?:", address)] == []
    assert "https://" not in "".join(re.findall(r"<(?:link|script|img)\b[^>]*>", index.read_text()))


def test_every_page_references_only_vendored_files_that_exist(index):
    site = index.parent
    pages = sorted(site.glob("validations/**/*.html")) + sorted(site.glob("expectations/**/*.html")) + [index]
    assert len(pages) == 2 * len(RUNS) + 1  # a validation page and a suite page per suite, and the index
    for page in pages:
        references = [address for address in stylesheets_and_scripts(page) if not address.startswith("#")]
        assert references, page
        for address in references:
            assert not re.match(r"(?i)https?:", address), (page, address)
            target = (page.parent / unquote(urlparse(address).path)).resolve()
            assert target.is_file(), (page, address)
            assert target.is_relative_to(site.resolve() / "static")


def test_each_validation_is_listed_under_its_run_name(index):
    html = index.read_text(encoding="utf-8")
    assert "__none__" not in html
    for suite, (as_of, run_id) in RUNS.items():
        run_name = data_docs_run_name(as_of, run_id)
        # bootstrap-table draws the list from the rows embedded in the page: the run's row links its page
        row = re.search(rf"'run_name': '{run_name}'.*?'_table_row_link_path': '([^']+)'", html, re.DOTALL)
        assert row is not None, run_name
        assert row.group(1).startswith(f"validations/{suite}/{run_name}/"), row.group(1)
        assert (index.parent / row.group(1)).is_file()
        pages = list((index.parent / "validations" / suite / run_name).rglob("*.html"))
        assert len(pages) == 1, (suite, pages)


def test_the_vendored_files_are_the_ones_mapped_and_each_package_has_its_licence():
    vendored = {path.relative_to(DATA_DOCS_ASSETS_DIR).as_posix() for path in DATA_DOCS_ASSETS_DIR.rglob("*")}
    assert set(CDN_ASSETS.values()) <= vendored
    packages = {copy.split("/")[0] for copy in CDN_ASSETS.values()}
    assert len(packages) == 11
    for package in packages:
        assert list((DATA_DOCS_ASSETS_DIR / package).glob("LICENSE*")), package


def test_a_cdn_address_left_in_a_page_fails_naming_page_and_address(tmp_path):
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="https://cdn.example.org/new.css"><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    )
    with pytest.raises(RuntimeError, match=r"index.html: https://cdn.example.org/new.css"):
        make_data_docs_offline(tmp_path)
    # the known address was rewritten all the same
    assert 'src="static/vendor/jquery@3.7.1/dist/jquery.min.js"' in (tmp_path / "index.html").read_text()


def test_a_page_whose_only_fault_is_a_wrong_static_path_is_rewritten(tmp_path):
    page = tmp_path / "validations" / "suite" / "run" / "time" / "batch.html"
    page.parent.mkdir(parents=True)
    page.write_text('<link rel="shortcut icon" href="../../../static/images/favicon.ico"/>')
    make_data_docs_offline(tmp_path)
    assert page.read_text() == '<link rel="shortcut icon" href="../../../../static/images/favicon.ico"/>'
